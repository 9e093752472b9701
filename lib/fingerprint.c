#include <config.h>

#include "error.h"
#include "fingerprint.h"

int
hm_tls_fingerprint_parse(const char *text, guint8 out[HM_SHA256_LEN], GError **err)
{
	const char *p = text;
	guint n = 0;

	if (g_ascii_strncasecmp(p, "sha256:", 7) == 0)
		p += 7;
	for (; *p != '\0'; p++) {
		int hi, lo;

		if (*p == ':')
			continue;
		hi = g_ascii_xdigit_value(p[0]);
		lo = p[1] != '\0' ? g_ascii_xdigit_value(p[1]) : -1;
		if (hi < 0 || lo < 0 || n >= HM_SHA256_LEN)
			break;
		out[n++] = (guint8)(hi << 4 | lo);
		p++;
	}
	if (*p != '\0' || n != HM_SHA256_LEN) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "must be a SHA-256 fingerprint: 64 hex digits, colons optional, "
		            "e.g. sha256:AB:CD:...");
		return -1;
	}
	return 0;
}

char *
hm_tls_fingerprint_format(const guint8 fp[HM_SHA256_LEN])
{
	GString *s = g_string_new("sha256:");

	for (int i = 0; i < HM_SHA256_LEN; i++)
		g_string_append_printf(s, i ? ":%02X" : "%02X", fp[i]);
	return g_string_free(s, FALSE);
}
