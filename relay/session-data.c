/* DATA and BDAT: the message into the queue. Only <CRLF>.<CRLF> ends
 * DATA; a "." line ended by a bare LF, and every other dot variant, is
 * content (SMTP smuggling, CVE-2023-51764: DESIGN.md's SMTP input rule),
 * stored as data and dot-stuffed again on the way out. A NUL octet is
 * read through (the session stays in step) and the message refused at
 * its end, as homemail-sendmail refuses it (relay/msgwriter.h). */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "lib/error.h"
#include "lib/log.h"
#include "lib/received.h"
#include "relay/limits.h"
#include "relay/session-private.h"

/* RFC 3030: a BDAT chunk is read in pieces of this size. */
#define BDAT_PIECE (64 * 1024)

/* The with-protocol of our Received: field (RFC 3848). */
static const char *
with_protocol(const Session *s)
{
	static const char *const names[] = { "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" };
	gboolean tls = hm_conn_is_tls(s->conn);

	if (!s->esmtp)
		return names[0];
	if (s->auth_user != NULL)
		return tls ? names[4] : names[3];
	return tls ? names[2] : names[1];
}

/* Our Received: field. Mail that leaves the box from a LAN client does
 * not carry the client's name and address unless relay.full_trace says
 * so: they tell the world about the LAN and nothing to the recipient. */
static char *
trace_field(const Session *s, const char *id)
{
	const HmConfig *cfg = s->p->cfg;
	gboolean hide = s->tx_remote && !cfg->relay.full_trace &&
	                (s->p->trusted || s->p->local || s->auth_user != NULL);
	g_autofree char *from = NULL;
	GString *out = g_string_new(NULL);
	HmReceived r = {
		.by = cfg->hostname,
		.comment = "homemail",
		.with = with_protocol(s),
		.id = id,
		.for_addr = s->tx->rcpts->len == 1 ? relay_queue_rcpt(s->tx, 0)->addr : NULL,
	};

	if (!hide && !s->p->local)
		from = g_strdup_printf("%s ([%s])", s->helo != NULL ? s->helo : "unknown", s->p->peer);
	r.from = from;
	hm_received_append(out, &r, time(NULL));
	return g_string_free(out, FALSE);
}

/* The answer when the queue could not take a message: a full disk is
 * 452 4.3.1 (RFC 3463 "mail system full"), anything else 451 4.3.0; both
 * tell the client to try again later. */
static int
queue_trouble(Session *s, const GError *err)
{
	hm_warn("relay[%s] queue: %s", s->id, err->message);
	if (g_error_matches(err, HM_ERROR, HM_ERROR_NOSPACE))
		return session_reply(s, 452, "4.3.1", "Error: insufficient system storage");
	return session_reply(s, 451, "4.3.0", "Error: queue file write error");
}

/* Starts the queue file of the transaction. NULL with *err. */
static RelayMsgWriter *
start_message(Session *s, GError **err)
{
	g_autofree char *trace = NULL;
	RelayMsgParams mp = {
		.max_size = s->p->cfg->relay.max_message_size,
		.add_missing = s->p->trusted || s->p->local || s->auth_user != NULL,
		.hostname = s->p->cfg->hostname,
		/* Only a message that may be delivered at once is held. */
		.hold = s->p->mail_gc != NULL && !s->tx_remote ? RELAY_INLINE_MAX : 0,
	};
	RelayMsgWriter *w;

	/* The ID is only known once the file exists, and the trace names
	 * it: pick it first. */
	g_free(s->tx->id);
	s->tx->id = relay_queue_new_id();
	trace = trace_field(s, s->tx->id);
	mp.trace = trace;
	w = relay_msg_writer_new(s->p->queue_dir, s->tx, &mp, err);
	return w;
}

/* Ends a message: into the Maildirs or the queue (its 250 after the
 * commit), or the error reply. The transaction is over either way. */
static int
finish_message(Session *s, RelayMsgWriter *w)
{
	g_autoptr(GError) err = NULL;
	gboolean too_big = relay_msg_writer_too_big(w);
	gboolean nul = relay_msg_writer_has_nul(w);
	guint64 size = relay_msg_writer_size(w);
	RelayQueueFile *qf = relay_msg_writer_end(w, &err);
	RelayInline *in = NULL;
	gboolean stored = FALSE;
	const char *msg;
	gsize len;
	int rc = 0;

	if (qf != NULL && (msg = relay_queue_file_held(qf, &len)) != NULL &&
	    (in = relay_inline_stage(s->p->cfg, s->p->rw, s->tx, msg, len)) != NULL) {
		relay_queue_file_abort(qf);
		stored = TRUE;
	} else if (qf != NULL) {
		stored = relay_queue_file_commit(qf, &err) == 0;
	}
	if (stored)
		/* The ID the file got: another when its first was taken. */
		session_hold_commit(s, s->tx->id, size, in);
	else if (too_big)
		rc = session_reply(s, 552, "5.3.4", "Error: message file too big");
	else if (nul)
		rc = session_reply(s, 554, "5.6.0", "Error: " RELAY_MSG_NUL);
	else
		rc = queue_trouble(s, err);
	session_reset(s);
	return rc;
}

/* Reads DATA content up to <CRLF>.<CRLF> into w. -1 when the connection
 * failed or timed out (the message is then dropped by the caller). */
static int
read_data(Session *s, RelayMsgWriter *w)
{
	gboolean line_start = TRUE;
	/* The end is <CRLF>.<CRLF>: the line before the dot must have ended
	 * in CRLF too (DATA's own CRLF counts for the first line), or
	 * "<LF>.<CRLF>" would end the message as older servers let it. */
	gboolean after_crlf = TRUE;

	hm_conn_set_timeout(s->conn, RELAY_DATA_TIMEOUT_MS);
	for (;;) {
		g_autoptr(GError) err = NULL;
		HmLine line;
		HmIoStatus st = hm_conn_read_line(s->conn, RELAY_DATA_SEGMENT,
		                                  HM_LINE_SEGMENTS | HM_LINE_ALLOW_NUL, &line, &err);
		const char *data = line.data;
		gsize len = line.len;

		if (st != HM_IO_OK) {
			hm_info("relay[%s] DATA: %s", s->id,
			        st == HM_IO_TIMEOUT ? "timeout" : err != NULL ? err->message : "closed");
			return -1;
		}
		if (line_start && after_crlf && !line.partial && !line.bare_lf && len == 1 &&
		    data[0] == '.')
			break;
		/* RFC 5321 4.5.2: a leading dot of a line was doubled. A lone "."
		 * ended by a bare LF is content, kept as it is. */
		if (line_start && len > 1 && data[0] == '.') {
			data++;
			len--;
		}
		relay_msg_writer_line(w, data, len, line.partial);
		line_start = !line.partial;
		if (line_start)
			after_crlf = !line.bare_lf;
	}
	hm_conn_set_timeout(s->conn, RELAY_COMMAND_TIMEOUT_MS);
	return 0;
}

int
session_cmd_data(Session *s, const char *args)
{
	g_autoptr(GError) err = NULL;
	RelayMsgWriter *w;

	/* Earlier messages of the group are committed before the 354: the
	 * client waits for it, so nothing is gained by holding them. */
	if ((w = start_message(s, &err)) == NULL) {
		session_reset(s);
		return queue_trouble(s, err);
	}
	if (session_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>") < 0 ||
	    session_flush(s) < 0 || read_data(s, w) < 0) {
		relay_msg_writer_abort(w);
		return -1;
	}
	return finish_message(s, w);
}

/* Reads and drops size octets (a chunk whose transaction failed). */
static int
read_chunk(Session *s, guint64 size, RelayMsgWriter *w)
{
	g_autofree char *buf = g_malloc(BDAT_PIECE);

	hm_conn_set_timeout(s->conn, RELAY_DATA_TIMEOUT_MS);
	while (size > 0) {
		g_autoptr(GError) err = NULL;
		gsize n = (gsize)MIN(size, BDAT_PIECE);

		if (hm_conn_read_exact(s->conn, buf, n, &err) != HM_IO_OK) {
			hm_info("relay[%s] BDAT: %s", s->id, err != NULL ? err->message : "timeout");
			return -1;
		}
		if (w != NULL)
			relay_msg_writer_bytes(w, buf, n);
		size -= n;
	}
	hm_conn_set_timeout(s->conn, RELAY_COMMAND_TIMEOUT_MS);
	return 0;
}

/* BDAT (RFC 3030): chunks of exact size, the last one marked LAST. Its
 * data is never scanned for a dot: nothing in it can end the message. */
int
session_cmd_bdat(Session *s, const char *args)
{
	RelayReplyText r;
	guint64 size;
	gboolean last;

	if (relay_parse_bdat(args, &size, &last, &r) < 0) {
		/* The chunk's size is unknown: the stream cannot be followed. */
		session_reply_text(s, &r);
		return -1;
	}
	/* Out of sequence (no recipient accepted, MAIL refused, no HELO):
	 * the chunk is read and dropped, never taken for commands. */
	if (s->state != ST_RCPT) {
		const char *why = s->state == ST_START  ? "send HELO/EHLO first"
		                  : s->state == ST_MAIL ? "need RCPT command"
		                                        : "need MAIL command";

		if (read_chunk(s, size, NULL) < 0)
			return -1;
		if (last)
			session_reset(s);
		return session_reply(s, 503, "5.5.1", "Error: %s", why);
	}
	/* A queue that could not take the message: the chunks of this
	 * transaction are read and dropped, each answered with the error. */
	if (s->bdat == NULL && s->bdat_error == NULL)
		s->bdat = start_message(s, &s->bdat_error);
	if (read_chunk(s, size, s->bdat) < 0)
		return -1;
	if (s->bdat_error != NULL) {
		int rc = queue_trouble(s, s->bdat_error);

		if (last)
			session_reset(s);
		return rc;
	}
	if (!last) {
		if (relay_msg_writer_too_big(s->bdat))
			return session_reply(s, 552, "5.3.4", "Error: message file too big");
		return session_reply(s, 250, "2.0.0", "%" G_GUINT64_FORMAT " octets received", size);
	}
	return finish_message(s, g_steal_pointer(&s->bdat));
}
