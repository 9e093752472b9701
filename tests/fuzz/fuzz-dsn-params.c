/* Fuzzes the DSN parameter values: xtext decoding and encoding
 * (decode(encode(x)) == x for every string; whatever decodes re-encodes
 * to xtext that decodes the same) and NOTIFY lists (what parses formats
 * back to a list that parses the same). */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/envelope.h"
#include "relay/smtp-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const char *s)
{
	g_autoptr(GString) enc = g_string_new(NULL);
	g_autofree char *dec = NULL;

	relay_xtext_encode(s, enc);
	for (const char *p = enc->str; *p != '\0'; p++)
		if (*p < 33 || *p > 126 || *p == '=')
			abort();
	dec = relay_xtext_decode(enc->str, NULL);
	if (dec == NULL || strcmp(dec, s) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *str = g_strndup((const char *)data, size);
	g_autofree char *dec = NULL;
	guint notify = 0, again = 0;

	round_trip(str);
	dec = relay_xtext_decode(str, NULL);
	if (dec != NULL) {
		if (strlen(dec) > strlen(str))
			abort();
		round_trip(dec);
	}
	if (relay_notify_parse(str, &notify) == 0) {
		g_autoptr(GString) fmt = g_string_new(NULL);

		if (notify == 0)
			abort();
		relay_notify_format(notify, fmt);
		if (relay_notify_parse(fmt->str, &again) < 0 || again != notify)
			abort();
	}
	return 0;
}
