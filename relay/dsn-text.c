/* The human-readable part of a DSN: what happened, in plain English, one
 * paragraph per recipient quoting what the other side said. */
#include <config.h>

#include <string.h>

#include "lib/received.h"
#include "relay/dsn-private.h"

/* Appends text (one clean line: single spaces, no controls) wrapped at
 * RELAY_DSN_WRAP characters, continuation lines indented by indent
 * spaces; a word too long for any line is broken at RELAY_DSN_LINE_MAX. */
static void
wrap_append(GString *out, const char *text, gsize indent)
{
	gsize col = 0, octets = 0;
	gboolean first = TRUE;
	const char *p = text;

	while (*p != '\0') {
		const char *q;
		gsize wlen;

		while (*p == ' ')
			p++;
		for (q = p; *q != '\0' && *q != ' '; q++)
			;
		if (q == p)
			break;
		wlen = (gsize)(q - p);
		if (!first && col + 1 + (gsize)g_utf8_strlen(p, (gssize)wlen) > RELAY_DSN_WRAP) {
			g_string_append(out, "\r\n");
			for (gsize i = 0; i < indent; i++)
				g_string_append_c(out, ' ');
			col = octets = indent;
			first = TRUE;
		}
		if (!first) {
			g_string_append_c(out, ' ');
			col++;
			octets++;
		}
		while (octets + wlen > RELAY_DSN_LINE_MAX) {
			gsize cut = relay_dsn_utf8_cut(p, RELAY_DSN_LINE_MAX - octets);

			g_string_append_len(out, p, (gssize)cut);
			g_string_append(out, "\r\n");
			for (gsize i = 0; i < indent; i++)
				g_string_append_c(out, ' ');
			col = octets = indent;
			p += cut;
			wlen -= cut;
		}
		g_string_append_len(out, p, (gssize)wlen);
		col += (gsize)g_utf8_strlen(p, (gssize)wlen);
		octets += wlen;
		first = FALSE;
		p = q;
	}
	g_string_append(out, "\r\n");
}

static const char *
opening(RelayNotify kind)
{
	switch (kind) {
	case RELAY_NOTIFY_FAILURE:
		return "Your message could not be delivered to the recipients listed below, "
		       "and the mail system has stopped trying. Each recipient is followed by "
		       "the reason, in the receiving server's own words where it gave any.";
	case RELAY_NOTIFY_DELAY:
		return "Your message has not been delivered yet to the recipients listed below. "
		       "This is only a warning: the mail system is still trying, so you do not "
		       "need to send the message again. Each recipient is followed by the last "
		       "problem met.";
	default:
		return "Your message was delivered to the recipients listed below, as you "
		       "asked to be told.";
	}
}

/* What the third part holds, and why; g_free() it. */
static char *
returned_text(RelayDsnReturn returned, guint64 max_size)
{
	switch (returned) {
	case RELAY_DSN_RETURN_FULL:
		return g_strdup("Your message is attached below.");
	case RELAY_DSN_RETURN_FORCED:
		return g_strdup("Only the header section of your message is attached below: the "
		                "whole message could not be returned, because it has lines too "
		                "long for mail or characters that mail cannot carry.");
	case RELAY_DSN_RETURN_TOO_BIG:
		return g_strdup_printf("Only the header section of your message is attached "
		                       "below: with the whole message, this report would exceed "
		                       "the %" G_GUINT64_FORMAT " octets that the way back to you "
		                       "can carry.",
		                       max_size);
	case RELAY_DSN_RETURN_HEADERS:
		break;
	}
	return g_strdup("The header section of your message is attached below, so that you can "
	                "tell which message this is.");
}

/* What became of a failed or delayed recipient, when neither side left
 * words to quote. */
static void
problem_append(GString *s, const RelayDsnRcpt *r, const char *host)
{
	const char *code = relay_dsn_status_code(r);

	if (r->action == RELAY_DSN_DELAYED && host != NULL)
		g_string_append_printf(s, "delivery through %s has not succeeded yet (status %s).",
		                       host, code);
	else if (r->action == RELAY_DSN_DELAYED)
		g_string_append_printf(s, "not delivered yet (status %s).", code);
	else if (host != NULL)
		g_string_append_printf(s, "delivery through %s failed (status %s).", host, code);
	else
		g_string_append_printf(s, "delivery failed (status %s).", code);
}

static void
success_append(GString *s, const RelayDsnRcpt *r, const char *host, const char *words)
{
	switch (r->action) {
	case RELAY_DSN_RELAYED:
		g_string_append_printf(s,
		                       "passed on to %s, which does not send delivery reports, "
		                       "so you may hear nothing more about this recipient.",
		                       host != NULL ? host : "another mail system");
		return;
	case RELAY_DSN_EXPANDED:
		g_string_append(s, "delivered to an alias or mailing list, which passed the "
		                   "message on to its members.");
		return;
	default:
		break;
	}
	if (host != NULL && words != NULL)
		g_string_append_printf(s, "delivered; the mail server %s answered: %s", host,
		                       words);
	else if (host != NULL)
		g_string_append_printf(s, "delivered to the mail server %s.", host);
	else
		g_string_append(s, "delivered to the mailbox.");
}

static void
recipient_append(GString *out, const RelayDsnRcpt *r)
{
	g_autofree char *addr = relay_dsn_clean(r->address, TRUE);
	g_autofree char *host = r->remote_mta != NULL ? relay_dsn_host(r->remote_mta) : NULL;
	g_autofree char *type = NULL, *words = NULL;
	g_autoptr(GString) s = g_string_new(NULL);

	relay_dsn_diag_split(r->diagnostic, TRUE, &type, &words);
	if (words != NULL && *words == '\0')
		g_clear_pointer(&words, g_free);
	g_string_append_printf(s, "<%s>: ", addr);
	if (relay_dsn_kind(r->action) == RELAY_NOTIFY_SUCCESS)
		success_append(s, r, host, words);
	else if (host != NULL && words != NULL)
		g_string_append_printf(s, "the mail server %s answered: %s", host, words);
	else if (words != NULL)
		g_string_append(s, words);
	else
		problem_append(s, r, host);
	if (r->action == RELAY_DSN_DELAYED && r->will_retry_until != 0) {
		g_string_append(s, " The mail system will keep trying until ");
		hm_rfc5322_date_append(s, r->will_retry_until);
		g_string_append_c(s, '.');
	}
	wrap_append(out, s->str, 4);
}

void
relay_dsn_text_append(GString *out, const RelayDsnParams *p, const RelayDsnRcpt *const *rcpts,
                      gsize n, RelayNotify kind, RelayDsnReturn returned)
{
	g_autofree char *host = relay_dsn_host(p->reporting_mta);
	g_autofree char *hello = g_strdup_printf("This is the mail system at %s.", host);
	g_autofree char *what = returned_text(returned, p->max_size);

	wrap_append(out, hello, 0);
	g_string_append(out, "\r\n");
	wrap_append(out, opening(kind), 0);
	g_string_append(out, "\r\n");
	wrap_append(out, what, 0);
	if (p->postmaster != NULL) {
		g_autofree char *pm = relay_dsn_clean(p->postmaster, TRUE);
		g_autofree char *help = g_strdup_printf("If you need help, write to <%s> and "
		                                        "include this report.",
		                                        pm);

		g_string_append(out, "\r\n");
		wrap_append(out, help, 0);
	}
	for (gsize i = 0; i < n; i++) {
		g_string_append(out, "\r\n");
		recipient_append(out, rcpts[i]);
	}
}
