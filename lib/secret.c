#include <config.h>

#include <string.h>

#include "secret.h"

void
hm_secret_clear(HmSecret *s)
{
	if (s->value != NULL) {
		explicit_bzero(s->value, strlen(s->value));
		g_free(s->value);
	}
	g_free(s->file);
	s->value = s->file = NULL;
}
