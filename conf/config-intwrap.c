/* libconfig 1.5 integer wrap-around detection (see hm_cfg_scan_wrapped). */
#include <config.h>

#include <string.h>

#include "lib/parse.h"
#include "conf/config-private.h"

/* libconfig 1.5 reads an integer literal without an L suffix into an int,
 * so 4294967296 arrives as 0 and 99999999999 as 1215752191: a range check
 * on the value alone would accept them. Its lexer is simple enough to
 * mirror: find every such literal that does not fit in 32 bits and note
 * (file, line, preceding name) so hm_cfg_uint() can refuse it. */
static gboolean
literal_wraps(const char *s, gsize len)
{
	gboolean neg = FALSE;
	guint64 v;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		s++;
		len--;
	}
	if (len > 0 && s[len - 1] == 'L')
		return FALSE;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (gsize i = 2; i < len; i++)
			if (!g_ascii_isxdigit(s[i]))
				return FALSE;
		return len - 2 > 8 || g_ascii_strtoull(s + 2, NULL, 16) > G_MAXINT32;
	}
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isdigit(s[i]))
			return FALSE;  /* a float, or not a number */
	if (hm_parse_uint_n(s, len, 0, G_MAXUINT64, &v) < 0)
		return TRUE;
	return v > (neg ? (guint64)G_MAXINT32 + 1 : (guint64)G_MAXINT32);
}

const char *
hm_cfg_skip_comment_or_string(const char *p, const char *end, guint *line)
{
	if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/')) {
		while (p < end && *p != '\n')
			p++;
		return p;
	}
	if (*p == '/' && p + 1 < end && p[1] == '*') {
		for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
			*line += *p == '\n';
		return p + 2 <= end ? p + 2 : end;
	}
	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		*line += *p == '\n';
	}
	return p < end ? p + 1 : end;
}

static void
scan_wrapped_ints(GHashTable *wrapped, const char *file, const char *text, gsize size)
{
	const char *p = text, *end = text + size;
	g_autofree char *name = g_strdup("");
	guint line = 1;

	while (p < end) {
		const char *start = p;

		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || *p == '"' || (*p == '/' && p + 1 < end && (p[1] == '/' || p[1] == '*'))) {
			p = hm_cfg_skip_comment_or_string(p, end, &line);
		} else if (g_ascii_isalpha(*p) || *p == '*') {
			while (p < end && (g_ascii_isalnum(*p) || strchr("-_*", *p) != NULL) && *p != '\0')
				p++;
			g_free(name);
			name = g_strndup(start, (gsize)(p - start));
		} else if (g_ascii_isdigit(*p) || ((*p == '-' || *p == '+') && p + 1 < end &&
		                                   g_ascii_isdigit(p[1]))) {
			for (p++; p < end && (g_ascii_isalnum(*p) || *p == '.' ||
			                      ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')));
			     p++)
				;
			if (literal_wraps(start, (gsize)(p - start)))
				g_hash_table_add(wrapped, hm_cfg_wrapped_key(file, line, name));
		} else {
			p++;
		}
	}
}

/* Scans every file libconfig read (the main file and its @includes). */
void
hm_cfg_scan_wrapped(HmCfgCtx *ctx)
{
	for (guint i = 0; i < ctx->files->len; i++) {
		const HmCfgFile *f = g_ptr_array_index(ctx->files, i);
		gsize size;
		const char *text = g_bytes_get_data(f->text, &size);

		if (text != NULL)
			scan_wrapped_ints(ctx->wrapped, f->name, text, size);
	}
}
