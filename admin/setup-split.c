/* The merge (setup-merge.c) keeps or replaces whole lines of the old
 * config; a list element that opens on the line where the one before it
 * closes ("}, {") would go with that line. This pre-pass moves each such
 * element to a line of its own, indented as the line it leaves. Strings
 * and comments are skipped as libconfig's lexer does. */
#include <config.h>

#include <string.h>

#include "admin/setup.h"

char *
hm_setup_split_elements(const char *text)
{
	GString *t = g_string_new(NULL);
	gsize line_start = 0;
	gboolean block = FALSE;

	if (text == NULL)
		return g_string_free(t, FALSE);
	for (gsize i = 0; text[i] != '\0';) {
		char c = text[i];

		if (block) {
			if (c == '\n')
				line_start = t->len + 1;
			block = !(c == '*' && text[i + 1] == '/');
			g_string_append_len(t, text + i, block ? 1 : 2);
			i += block ? 1 : 2;
		} else if (c == '/' && text[i + 1] == '*') {
			block = TRUE;
			g_string_append(t, "/*");
			i += 2;
		} else if (c == '#' || (c == '/' && text[i + 1] == '/')) {
			gsize end = i + strcspn(text + i, "\n");

			g_string_append_len(t, text + i, (gssize)(end - i));
			i = end;
		} else if (c == '"') {
			gsize j = i + 1;

			while (text[j] != '\0' && text[j] != '"')
				j += text[j] == '\\' && text[j + 1] != '\0' ? 2 : 1;
			j += text[j] == '"';
			g_string_append_len(t, text + i, (gssize)(j - i));
			i = j;
		} else if (c == '}') {
			gsize j = i + 1 + strspn(text + i + 1, " \t");

			if (text[j] == ',' && text[j + 1 + strspn(text + j + 1, " \t")] == '{') {
				g_autofree char *indent =
				        g_strndup(t->str + line_start, strspn(t->str + line_start, " \t"));

				g_string_append_len(t, text + i, (gssize)(j + 1 - i));
				g_string_append_c(t, '\n');
				line_start = t->len;
				g_string_append(t, indent);
				i = j + 1 + strspn(text + j + 1, " \t");
			} else {
				g_string_append_c(t, c);
				i++;
			}
		} else {
			if (c == '\n')
				line_start = t->len + 1;
			g_string_append_c(t, c);
			i++;
		}
	}
	return g_string_free(t, FALSE);
}

