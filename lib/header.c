#include <config.h>

#include <string.h>

#include "header.h"

void
hm_header_iter_init(HmHeaderIter *it, const char *msg, gsize len)
{
	it->p = msg;
	it->end = msg + len;
	it->done = FALSE;
}

/* The end of the line starting at p: the position of its LF, or end. */
static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (gsize)(end - p));

	return nl != NULL ? nl : end;
}

/* TRUE for an empty line (LF or CRLF alone) at p. */
static gboolean
is_empty_line(const char *p, const char *end)
{
	return p[0] == '\n' || (p[0] == '\r' && end - p >= 2 && p[1] == '\n');
}

/* Field names are printable US-ASCII except ':' (RFC 5322 3.6.8). White
 * space before the colon is the obsolete syntax of 4.5 and is tolerated
 * (not made part of the name), as every MUA reads it. */
static gboolean
parse_name(const char *p, const char *eol, gsize *name_len, const char **colon)
{
	const char *q = p;

	while (q < eol && *q > ' ' && *q < 127 && *q != ':')
		q++;
	*name_len = (gsize)(q - p);
	while (q < eol && (*q == ' ' || *q == '\t'))
		q++;
	if (*name_len == 0 || q == eol || *q != ':')
		return FALSE;
	*colon = q;
	return TRUE;
}

int
hm_header_next(HmHeaderIter *it, HmHeaderField *f)
{
	const char *eol, *colon, *vend;

	if (it->done || it->p >= it->end || is_empty_line(it->p, it->end)) {
		it->done = TRUE;
		return 0;
	}
	eol = line_end(it->p, it->end);
	if (!parse_name(it->p, eol, &f->name_len, &colon)) {
		/* A continuation with nothing to continue lands here too. */
		it->done = TRUE;
		return -1;
	}
	f->name = it->p;
	f->value = colon + 1;
	/* Folded lines: each following line that starts with WSP. */
	while (eol < it->end && eol + 1 < it->end && (eol[1] == ' ' || eol[1] == '\t'))
		eol = line_end(eol + 1, it->end);
	vend = eol;
	if (vend > f->value && vend < it->end && vend[-1] == '\r')
		vend--;
	f->value_len = (gsize)(vend - f->value);
	it->p = eol < it->end ? eol + 1 : it->end;
	return 1;
}

gboolean
hm_header_is(const HmHeaderField *f, const char *name)
{
	return strlen(name) == f->name_len && g_ascii_strncasecmp(f->name, name, f->name_len) == 0;
}

char *
hm_header_value(const HmHeaderField *f)
{
	GString *s = g_string_sized_new(f->value_len);

	for (gsize i = 0; i < f->value_len; i++)
		if (f->value[i] != '\r' && f->value[i] != '\n')
			g_string_append_c(s, f->value[i]);
	return g_strstrip(g_string_free(s, FALSE));
}

gsize
hm_header_section_end(const char *msg, gsize len)
{
	const char *p = msg, *end = msg + len;

	while (p < end) {
		const char *eol;

		if (is_empty_line(p, end))
			return (gsize)(line_end(p, end) + 1 - msg);
		eol = line_end(p, end);
		if (eol == end)
			break;
		p = eol + 1;
	}
	return len;
}

gboolean
hm_has_8bit(const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if ((guchar)s[i] >= 0x80)
			return TRUE;
	return FALSE;
}

char *
hm_header_addr_spec(const char *value)
{
	const char *open = strrchr(value, '<');
	const char *close = open != NULL ? strchr(open, '>') : NULL;

	if (open != NULL && close != NULL)
		return g_strstrip(g_strndup(open + 1, (gsize)(close - open - 1)));
	return g_strstrip(g_strdup(value));
}
