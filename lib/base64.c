#include <config.h>

#include <string.h>

#include "base64.h"
#include "error.h"

char *
hm_base64_encode(const void *data, gsize len)
{
	/* g_base64_encode() wants a non-NULL pointer even for no data. */
	if (len == 0)
		return g_strdup("");
	return g_base64_encode(data, len);
}

/* The value of one alphabet character, or -1. Written out rather than a
 * table so that no signedness or locale question arises. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static GBytes *
b64_fail(GError **err, const char *why)
{
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "invalid base64: %s", why);
	return NULL;
}

GBytes *
hm_base64_decode(const char *text, gsize len, GError **err)
{
	g_autofree guint8 *out = NULL;
	gsize pad = 0, n = 0;

	if (len % 4 != 0)
		return b64_fail(err, "length is not a multiple of 4");
	if (len > 0 && text[len - 1] == '=')
		pad = (len > 1 && text[len - 2] == '=') ? 2 : 1;
	out = g_malloc(len / 4 * 3 + 1);
	for (gsize i = 0; i < len; i += 4) {
		gboolean last = (i + 4 == len);
		gsize data_chars = last ? 4 - pad : 4;
		guint32 v = 0;

		for (gsize j = 0; j < 4; j++) {
			int d = 0;

			if (j < data_chars) {
				d = b64_value(text[i + j]);
				if (d < 0)
					return b64_fail(err, text[i + j] == '=' ?
					                "padding before the end" : "bad character");
			}
			v = (v << 6) | (guint32)d;
		}
		/* Non-zero bits under the padding would let two texts decode
		 * to the same bytes, so they are refused. */
		if ((pad == 1 && last && (v & 0xff) != 0) || (pad == 2 && last && (v & 0xffff) != 0))
			return b64_fail(err, "non-zero bits in the last character");
		out[n++] = (guint8)(v >> 16);
		if (data_chars > 2)
			out[n++] = (guint8)(v >> 8);
		if (data_chars > 3)
			out[n++] = (guint8)v;
	}
	out[n] = '\0';
	/* The NUL beyond the size lets callers read SASL text as a string. */
	return g_bytes_new_take(g_steal_pointer(&out), n);
}
