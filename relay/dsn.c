/* Assembles a DSN: picks the recipients that asked for one, decides what
 * of the original goes back, and wraps the three parts in a
 * multipart/report (RFC 6522) under a boundary none of them contains. */
#include <config.h>

#include <string.h>

#include "lib/header.h"
#include "lib/received.h"
#include "relay/dsn-private.h"

/* RFC 2046 5.1.1: a boundary has at most 70 characters; seed and host
 * name take 20 each, the digest 16, which leaves room for a counter. */
#define DSN_BOUNDARY_PART 20
#define DSN_BOUNDARY_DIGEST 16

gboolean
relay_dsn_wanted(guint notify, RelayDsnAction action)
{
	return relay_notify_wants(notify, relay_dsn_kind(action));
}

/* TRUE if data can go back as it is inside message/rfc822: no NUL, no CR
 * but before LF, no line over RELAY_DSN_LINE_MAX octets. */
static gboolean
travels_intact(const char *data, gsize len)
{
	gsize col = 0;

	for (gsize i = 0; i < len; i++) {
		if (data[i] == '\n') {
			col = 0;
			continue;
		}
		if (data[i] == '\0' || (data[i] == '\r' && (i + 1 == len || data[i + 1] != '\n')))
			return FALSE;
		if (data[i] != '\r' && ++col > RELAY_DSN_LINE_MAX)
			return FALSE;
	}
	return TRUE;
}

/* Appends data with CRLF line ends (bare LF made CRLF, a missing last one
 * added). For data that does not travel intact: a NUL or lone CR becomes a
 * space, and a line reaching RELAY_DSN_LINE_MAX is continued on a folded
 * line (CRLF TAB), which keeps a header field one field. */
static void
copy_lines(GString *out, const char *data, gsize len)
{
	gsize col = 0;

	for (gsize i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n' || (c == '\r' && i + 1 < len && data[i + 1] == '\n')) {
			i += c == '\r';
			g_string_append(out, "\r\n");
			col = 0;
			continue;
		}
		if (col == RELAY_DSN_LINE_MAX) {
			g_string_append(out, "\r\n\t");
			col = 1;
		}
		g_string_append_c(out, c == '\0' || c == '\r' ? ' ' : c);
		col++;
	}
	if (col > 0)
		g_string_append(out, "\r\n");
}

static void
original_append(GString *out, const RelayDsnParams *p, RelayDsnReturn returned)
{
	const char *msg = p->original != NULL ? p->original : "";
	gsize len = p->original != NULL ? p->original_len : 0;

	if (returned == RELAY_DSN_RETURN_FULL) {
		copy_lines(out, msg, len);
		return;
	}
	copy_lines(out, msg, hm_header_section_end(msg, len));
	/* The empty line that ended the section is not part of it. */
	if (out->len >= 4 && memcmp(out->str + out->len - 4, "\r\n\r\n", 4) == 0)
		g_string_truncate(out, out->len - 2);
	else if (out->len == 2)
		g_string_truncate(out, 0);
}

/* Appends s with only the characters in keep, at most max of them. */
static void
filtered_append(GString *out, const char *s, const char *keep, gsize max)
{
	gsize n = 0;

	for (; s != NULL && *s != '\0' && n < max; s++)
		if (g_ascii_isalnum(*s) || strchr(keep, *s) != NULL) {
			g_string_append_c(out, *s);
			n++;
		}
}

static gboolean
any_contains(GString *const *parts, gsize n_parts, const char *needle)
{
	for (gsize i = 0; i < n_parts; i++)
		if (memmem(parts[i]->str, parts[i]->len, needle, strlen(needle)) != NULL)
			return TRUE;
	return FALSE;
}

/* A boundary made of the seed, a digest of the returned original and our
 * host name, with a counter added until no part contains it. The digest
 * keeps a sender from planting the boundary (or a thousand variants of it,
 * each costing a scan) in a message it then bounces; a remote's words,
 * capped at RELAY_DSN_TEXT_MAX, can hold only a few. */
static char *
boundary_pick(const RelayDsnParams *p, GString *const *parts, gsize n_parts,
              const GString *original)
{
	g_autoptr(GString) base = g_string_new(NULL);
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	GString *b = g_string_new(NULL);
	guint counter = 0;

	g_checksum_update(sum, (const guchar *)original->str, (gssize)original->len);
	filtered_append(base, p->boundary_seed, "-_.", DSN_BOUNDARY_PART);
	g_string_append_c(base, '.');
	g_string_append_len(base, g_checksum_get_string(sum), DSN_BOUNDARY_DIGEST);
	g_string_append_c(base, '/');
	filtered_append(base, p->reporting_mta, "-.", DSN_BOUNDARY_PART);
	g_string_assign(b, base->str);
	while (any_contains(parts, n_parts, b->str))
		g_string_printf(b, "%s=%u", base->str, ++counter);
	return g_string_free(b, FALSE);
}

static const char *
subject(RelayNotify kind)
{
	switch (kind) {
	case RELAY_NOTIFY_FAILURE:
		return "Undelivered Mail Returned to Sender";
	case RELAY_NOTIFY_DELAY:
		return "Delayed Mail (still being retried)";
	default:
		return "Successful Mail Delivery Report";
	}
}

static void
headers_append(GString *out, const RelayDsnParams *p, RelayNotify kind, const char *boundary,
               gboolean eight_bit)
{
	g_autofree char *host = relay_dsn_host(p->reporting_mta);
	g_autofree char *domain = relay_dsn_host(p->message_id_domain != NULL ? p->message_id_domain
	                                                                      : p->reporting_mta);
	g_autoptr(GString) date = g_string_new(NULL), seed = g_string_new(NULL);
	g_autofree char *sender = relay_dsn_clean(p->sender, p->smtputf8);
	g_autofree char *to = g_strdup_printf("<%s>", sender);
	g_autofree char *mid = NULL;

	filtered_append(seed, p->boundary_seed, "-_", 64);
	hm_rfc5322_date_append(date, p->now);
	mid = g_strdup_printf("<%s.%s.%lld@%s>", seed->len > 0 ? seed->str : "dsn",
	                      kind == RELAY_NOTIFY_FAILURE ? "bounce"
	                      : kind == RELAY_NOTIFY_DELAY ? "delay"
	                                                   : "success",
	                      (long long)p->now, domain);
	relay_dsn_field_append(out, "Date", date->str);
	g_string_append_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", host);
	relay_dsn_field_append(out, "To", to);
	relay_dsn_field_append(out, "Subject", subject(kind));
	relay_dsn_field_append(out, "Message-ID", mid);
	g_string_append(out, "Auto-Submitted: auto-replied\r\n"
	                     "MIME-Version: 1.0\r\n");
	g_string_append_printf(out,
	                       "Content-Type: multipart/report; report-type=%s;\r\n"
	                       "\tboundary=\"%s\"\r\n",
	                       p->smtputf8 ? "global-delivery-status" : "delivery-status",
	                       boundary);
	if (eight_bit)
		g_string_append(out, "Content-Transfer-Encoding: 8bit\r\n");
	g_string_append(out, "\r\nThis is a MIME-encapsulated message.\r\n");
}

static void
part_append(GString *out, const char *boundary, const char *description, const char *type,
            const GString *body)
{
	g_string_append_printf(out, "\r\n--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n",
	                       boundary, description, type);
	if (relay_dsn_is_8bit(body->str, body->len))
		g_string_append(out, "Content-Transfer-Encoding: 8bit\r\n");
	g_string_append(out, "\r\n");
	g_string_append_len(out, body->str, (gssize)body->len);
}

static const char *
original_description(RelayNotify kind, RelayDsnReturn returned)
{
	if (kind == RELAY_NOTIFY_DELAY)
		return "Delayed Message Headers";
	if (kind == RELAY_NOTIFY_SUCCESS)
		return "Delivered Message Headers";
	return returned == RELAY_DSN_RETURN_FULL ? "Undelivered Message"
	                                         : "Undelivered Message Headers";
}

static const char *
original_type(const RelayDsnParams *p, RelayDsnReturn returned)
{
	if (returned == RELAY_DSN_RETURN_FULL)
		return p->smtputf8 ? "message/global" : "message/rfc822";
	return p->smtputf8 ? "message/global-headers" : "text/rfc822-headers";
}

/* Builds the three parts, then the message around them, with returned
 * in the third. */
static void
assemble_as(GString *out, const RelayDsnParams *p, const RelayDsnRcpt *const *in, gsize n,
            RelayNotify kind, RelayDsnReturn returned)
{
	g_autoptr(GString) text = g_string_new(NULL), status = g_string_new(NULL);
	g_autoptr(GString) orig = g_string_new(NULL);
	GString *parts[] = { text, status, orig };
	g_autofree char *boundary = NULL;
	gboolean eight_bit = FALSE;

	relay_dsn_text_append(text, p, in, n, kind, returned);
	relay_dsn_status_append(status, p, in, n, p->smtputf8);
	original_append(orig, p, returned);
	for (gsize i = 0; i < G_N_ELEMENTS(parts); i++)
		eight_bit = eight_bit || relay_dsn_is_8bit(parts[i]->str, parts[i]->len);
	boundary = boundary_pick(p, parts, G_N_ELEMENTS(parts), orig);

	headers_append(out, p, kind, boundary, eight_bit);
	part_append(out, boundary, "Notification",
	            relay_dsn_is_8bit(text->str, text->len) ? "text/plain; charset=utf-8"
	                                                    : "text/plain; charset=us-ascii",
	            text);
	part_append(out, boundary, "Delivery report",
	            p->smtputf8 ? "message/global-delivery-status" : "message/delivery-status",
	            status);
	part_append(out, boundary, original_description(kind, returned), original_type(p, returned),
	            orig);
	g_string_append_printf(out, "\r\n--%s--\r\n", boundary);
}

/* Decides what of the original goes back, and builds the DSN. */
static void
assemble(GString *out, const RelayDsnParams *p, const RelayDsnRcpt *const *in, gsize n,
         RelayNotify kind)
{
	RelayDsnReturn returned = RELAY_DSN_RETURN_HEADERS;
	gsize start = out->len;

	if (kind == RELAY_NOTIFY_FAILURE && p->ret == RELAY_RET_FULL)
		returned = p->original == NULL || travels_intact(p->original, p->original_len)
		                   ? RELAY_DSN_RETURN_FULL
		                   : RELAY_DSN_RETURN_FORCED;
	/* Only the finished DSN knows its size (the boundary depends on what
	 * it holds), and a notice too large for the way back would reach no
	 * one: it is built again with the header section, which is rare and
	 * cheap beside carrying the whole original. */
	if (returned == RELAY_DSN_RETURN_FULL && p->max_size > 0) {
		assemble_as(out, p, in, n, kind, returned);
		if (out->len - start <= p->max_size)
			return;
		g_string_truncate(out, start);
		returned = RELAY_DSN_RETURN_TOO_BIG;
	}
	assemble_as(out, p, in, n, kind, returned);
}

int
relay_dsn_build(const RelayDsnParams *p, const RelayDsnRcpt *rcpts, gsize n_rcpts,
                const guint *notify, GString *out)
{
	g_autofree const RelayDsnRcpt **in = NULL;
	RelayNotify kind;
	gsize n = 0;

	g_return_val_if_fail(p != NULL && p->sender != NULL && out != NULL, 0);
	g_return_val_if_fail(rcpts != NULL || n_rcpts == 0, 0);
	if (*p->sender == '\0' || n_rcpts == 0)
		return 0;
	kind = relay_dsn_kind(rcpts[0].action);
	in = g_new(const RelayDsnRcpt *, n_rcpts);
	for (gsize i = 0; i < n_rcpts; i++) {
		/* One DSN reports one kind: its subject and text say which. */
		g_return_val_if_fail(relay_dsn_kind(rcpts[i].action) == kind, 0);
		if (relay_dsn_wanted(notify != NULL ? notify[i] : 0, rcpts[i].action))
			in[n++] = &rcpts[i];
	}
	if (n == 0)
		return 0;
	assemble(out, p, in, n, kind);
	return (int)n;
}
