/* The command/response engine under homemail's clients (the fetcher's
 * POP3 and IMAP backends, lib/smtpc), after curl's pingpong: one way to
 * queue and send command lines, read reply lines through the bounded line
 * reader, trace both with credentials masked, and mark the session broken
 * when the replies can no longer be trusted to line up with the commands.
 * Each protocol keeps its own reply parsing and pipelining on top.
 *
 * Errors (HM_ERROR), with what the caller names ("LIST reply"):
 *   HM_ERROR_TIMEOUT  "timed out waiting for WHAT", "timed out sending"
 *   HM_ERROR_PROTOCOL "NOUN line too long (over N octets) in WHAT",
 *                     "NUL byte in WHAT"
 *   HM_ERROR_IO       "connection lost while reading WHAT: ...",
 *                     "connection lost while sending: ..."
 * and every one of them leaves the engine broken. */
#ifndef HM_PINGPONG_H
#define HM_PINGPONG_H

#include <glib.h>

#include "conn.h"

/* Receives each line sent (from_client) or read, without its line end,
 * for the debug log; secrets arrive already masked. */
typedef void (*HmPpTraceFunc)(gboolean from_client, const char *line, gpointer data);

typedef struct {
	HmConn *conn;            /* not owned */
	const char *noun;        /* of a line in errors: "reply" (POP3, SMTP), "response" (IMAP) */
	/* The replies no longer line up with the commands (a cut, a timeout,
	 * a malformed or over-long reply): only dropping the connection is
	 * safe. Set by the engine on every failure, and by the protocol when
	 * it finds the same in a reply it parsed. */
	gboolean broken;
	HmPpTraceFunc trace;     /* may be NULL */
	gpointer trace_data;
} HmPingpong;

void hm_pp_init(HmPingpong *pp, HmConn *conn, const char *noun);

/* Queues line and CRLF (sent by the next flush, or sooner when the queue
 * grows). shown, when not NULL, is what the trace gets instead (a
 * credential masked). Returns 0 or -1 with *err. */
int hm_pp_send(HmPingpong *pp, const char *line, const char *shown, GError **err);

/* Sends everything queued. Returns 0 or -1 with *err. */
int hm_pp_flush(HmPingpong *pp, GError **err);

/* Reads one line of at most max octets (hm_conn_read_line() with flags)
 * and traces it; what names it in errors. Returns 0 or -1 with *err. */
int hm_pp_read(HmPingpong *pp, gsize max, guint flags, const char *what, HmLine *line,
               GError **err);

/* As hm_pp_read() without the trace: message content, which is not
 * protocol and may be megabytes. */
int hm_pp_read_data(HmPingpong *pp, gsize max, guint flags, const char *what, HmLine *line,
                    GError **err);

/* Reads exactly n bytes (an IMAP literal) within the connection's timeout.
 * Returns 0 or -1 with *err as for a line. */
int hm_pp_read_exact(HmPingpong *pp, void *buf, gsize n, const char *what, GError **err);

#endif
