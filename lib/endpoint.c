/* The endpoint and its secret as data: what the config loader needs, with
 * no TLS library behind it (endpoint-connect.c is the policy). */
#include <config.h>

#include <string.h>

#include "endpoint.h"

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

void
hm_endpoint_clear(HmEndpoint *ep)
{
	g_free(ep->host);
	g_free(ep->ca_file);
	g_free(ep->user);
	hm_secret_clear(&ep->password);
	memset(ep, 0, sizeof(*ep));
}

