#include <config.h>

#include <string.h>

#include "dotstuff.h"

void
hm_dotstuff_init(HmDotStuffer *s)
{
	s->at_line_start = TRUE;
	s->pending_cr = FALSE;
	s->empty = TRUE;
	s->crlf_only = FALSE;
}

void
hm_dotstuff_init_crlf(HmDotStuffer *s)
{
	hm_dotstuff_init(s);
	s->crlf_only = TRUE;
}

/* The length of the run up to the next CR or LF: bytes copied unchanged.
 * Scanning for runs keeps RETR of a large message at memcpy speed. */
static gsize
plain_run(const char *in, gsize len)
{
	gsize i = 0;

	while (i < len && in[i] != '\r' && in[i] != '\n')
		i++;
	return i;
}

void
hm_dotstuff_feed(HmDotStuffer *s, const char *in, gsize len, GString *out)
{
	gsize i = 0;

	if (len > 0)
		s->empty = FALSE;
	while (i < len) {
		char c = in[i];
		gsize run;

		if (s->pending_cr) {
			s->pending_cr = FALSE;
			if (c == '\n') {
				g_string_append_len(out, "\r\n", 2);
				s->at_line_start = TRUE;
				i++;
				continue;
			}
			/* A bare CR is line content, not a line end. */
			g_string_append_c(out, '\r');
			s->at_line_start = FALSE;
		}
		if (c == '\r') {
			/* Held back: only the next byte tells CRLF from bare CR. */
			s->pending_cr = TRUE;
			i++;
			continue;
		}
		if (c == '\n') {
			g_string_append_len(out, "\r\n", 2);
			s->at_line_start = TRUE;
			i++;
			continue;
		}
		if (c == '.' && s->at_line_start && !s->crlf_only)
			g_string_append_c(out, '.');
		run = plain_run(in + i, len - i);
		g_string_append_len(out, in + i, (gssize)run);
		s->at_line_start = FALSE;
		i += run;
	}
}

void
hm_dotstuff_finish(HmDotStuffer *s, GString *out)
{
	if (s->pending_cr) {
		/* A CR at the very end had no LF after it: it is a bare CR
		 * ending an unterminated line. */
		g_string_append_c(out, '\r');
		s->pending_cr = FALSE;
		s->at_line_start = FALSE;
	}
	if (!s->at_line_start)
		g_string_append_len(out, "\r\n", 2);
	if (!s->crlf_only)
		g_string_append_len(out, ".\r\n", 3);
	s->at_line_start = TRUE;
}

void
hm_crlf_counter_init(HmCrlfCounter *c)
{
	c->size = 0;
	c->pending_cr = FALSE;
	c->at_line_start = TRUE;
	c->empty = TRUE;
}

void
hm_crlf_counter_feed(HmCrlfCounter *c, const char *in, gsize len)
{
	const char *p = in, *end = in + len;

	if (len == 0)
		return;
	c->empty = FALSE;
	/* Every input byte counts once; each LF not preceded by a CR gains
	 * the CR it will be given. */
	c->size += len;
	while (p < end) {
		const char *lf = memchr(p, '\n', (gsize)(end - p));

		if (lf == NULL)
			break;
		if (lf == in ? !c->pending_cr : lf[-1] != '\r')
			c->size++;
		p = lf + 1;
	}
	c->pending_cr = in[len - 1] == '\r';
	c->at_line_start = in[len - 1] == '\n';
}

guint64
hm_crlf_counter_total(const HmCrlfCounter *c)
{
	return c->size + (c->at_line_start ? 0 : 2);
}
