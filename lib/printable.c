#include <config.h>

#include <string.h>

#include "printable.h"

/* Besides controls: what ends a line in Unicode (U+2028, U+2029), and
 * the bidirectional controls that make a line read in another order than
 * it is written (Trojan Source, CVE-2021-42574). Other format characters
 * (joiners, soft hyphens) stay: scripts and emoji need them. */
static gboolean
unsafe(gunichar c)
{
	if (c == 0 || g_unichar_iscntrl(c))
		return TRUE;
	switch (g_unichar_type(c)) {
	case G_UNICODE_LINE_SEPARATOR:
	case G_UNICODE_PARAGRAPH_SEPARATOR:
		return TRUE;
	default:
		break;
	}
	return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069);
}

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
		if (unsafe(c))
			g_string_append_c(out, '?');
		else
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
		p = g_utf8_next_char(p);
	}
	return g_string_free(out, FALSE);
}
