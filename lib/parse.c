#include <config.h>

#include <string.h>

#include "parse.h"

int
hm_parse_uint_n(const char *s, gsize len, guint64 min, guint64 max, guint64 *out)
{
	guint64 v = 0;

	if (s == NULL || len == 0 || len > 20)
		return -1;
	for (gsize i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (G_MAXUINT64 - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
hm_parse_uint(const char *s, guint64 min, guint64 max, guint64 *out)
{
	if (s == NULL)
		return -1;
	return hm_parse_uint_n(s, strlen(s), min, max, out);
}
