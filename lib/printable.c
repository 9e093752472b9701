#include <config.h>

#include <string.h>

#include "printable.h"

char *
hm_printable(const char *text, gssize len)
{
	GString *out;
	const char *p, *end;

	if (text == NULL)
		return NULL;
	end = text + (len < 0 ? (gssize)strlen(text) : len);
	out = g_string_sized_new((gsize)(end - text));
	for (p = text; p < end;) {
		gunichar c = g_utf8_get_char_validated(p, end - p);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_c(out, '?');
			p++;
			continue;
		}
		if (g_unichar_iscntrl(c) || c == 0)
			g_string_append_c(out, '?');
		else
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
		p = g_utf8_next_char(p);
	}
	return g_string_free(out, FALSE);
}
