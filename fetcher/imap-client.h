/* The IMAP command/response engine under the fetch backend (imap.c):
 * tags, a window of pipelined commands in flight, reading up to a tagged
 * reply, and draining what is in flight after a failure. It knows nothing
 * of folders or messages: the backend gives it one hook for what any
 * response may carry (capabilities, EXISTS, BYE) and, per command, a
 * handler for the untagged data that command brings. Internal to the
 * fetcher; every error is HM_FETCH_ERROR. */
#ifndef HM_FETCH_IMAP_CLIENT_H
#define HM_FETCH_IMAP_CLIENT_H

#include "fetcher/fetch.h"
#include "fetcher/imap-parse.h"
#include "lib/conn.h"
#include "lib/pingpong.h"

/* Server text quoted in an error message is cut to this. */
#define HM_IMAP_MAX_QUOTE 200
/* Most messages one folder may list: bounds the listing's memory (about
 * 150 MB at worst) against a server announcing, or listing, billions;
 * the same bound as POP3's (HM_POP3_MAX_MESSAGES). */
#define HM_IMAP_MAX_MESSAGES 1000000
/* Most responses (untagged or continuations), and most octets of them,
 * the server may send before the tagged reply that completes a command:
 * none of ours brings more than one or two per message of the folder (a
 * listing, a UID EXPUNGE of them all) or one message at its bound, so
 * past these the server is only keeping the command from ending. Each
 * read has its deadline; these bound the command as a whole. */
#define HM_IMAP_MAX_UNTAGGED (2u * HM_IMAP_MAX_MESSAGES)
#define HM_IMAP_MAX_UNTAGGED_OCTETS (2 * (guint64)HM_FETCH_MAX_MESSAGE)

/* Looks at one response; returns 0, or -1 with *err to stop. */
typedef int (*HmImapDataFunc)(const HmImapResponse *r, gpointer data, GError **err);

/* Untagged data for the command(s) being run. After fn's first failure
 * (kept in fn_err) fn is not called again and the engine drains what is
 * in flight. */
typedef struct {
	HmImapDataFunc fn;       /* NULL: the data is not wanted */
	gpointer data;
	GError *fn_err;
} HmImapHandler;

/* Commands to run with their tagged replies checked alike. */
typedef struct {
	GPtrArray *cmds;         /* without tags */
	const char *what;        /* for errors: "UID FETCH refused" */
	gboolean tolerate_no;    /* a NO is logged, not an error */
	HmFetchError code;       /* of the error for a NO or BAD */
} HmImapPipeline;

typedef struct {
	const HmFetchParams *p;  /* tracing, window, account name; outlives the client */
	/* The connection (not owned), the trace, and whether the session is
	 * broken (a cut, a timeout, a reply out of step): set by the engine,
	 * and by the backend when it finds the same. */
	HmPingpong pp;
	HmImapReader rd;
	guint next_tag;          /* the number of the next tag, "A0001" first */
	/* Responses read since the last tagged reply, and their octets,
	 * against HM_IMAP_MAX_UNTAGGED and HM_IMAP_MAX_UNTAGGED_OCTETS. */
	guint untagged;
	guint64 untagged_octets;
	/* Called with every untagged response and every tagged reply to our
	 * tag, before any handler; a -1 for an untagged one ends the read. */
	HmImapDataFunc on_response;
	gpointer on_response_data;
} HmImapClient;

/* Sets c up on conn (traced as from p's account, with its timeout and
 * message limit). Nothing is sent. */
void hm_imapc_init(HmImapClient *c, const HmFetchParams *p, HmConn *conn,
                   HmImapDataFunc on_response, gpointer data);

/* Sets *err (unless it is set already) to code with the message; returns
 * -1, for "return hm_imap_fail(...)". */
int hm_imap_fail(GError **err, HmFetchError code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Server text made safe to quote in an error (hm_imap_clean_text() cut at
 * HM_IMAP_MAX_QUOTE). g_free() it. */
char *hm_imap_quote(const char *text);

/* The error "what: text" with code for a tagged NO or BAD r; returns -1. */
int hm_imap_refused(GError **err, HmFetchError code, const char *what, const HmImapResponse *r);

/* Queues "TAG cmd" (not flushed); *tag receives the tag's number.
 * Returns 0, or -1 with *err (the client is then broken). */
int hm_imapc_send(HmImapClient *c, guint *tag, const char *cmd, GError **err);

/* Queues a line without a tag (a literal's rest, an AUTHENTICATE
 * response, IDLE's DONE); shown, when not NULL, is what the trace gets
 * (a credential masked). Returns 0, or -1 with *err as hm_imapc_send(). */
int hm_imapc_send_line(HmImapClient *c, const char *line, const char *shown, GError **err);

/* Sends what is queued. Returns 0, or -1 with *err (HM_FETCH_ERROR_NETWORK
 * "connection lost while sending: ..."; the client is then broken). */
int hm_imapc_flush(HmImapClient *c, GError **err);

/* Reads one response as hm_imap_read() (first_ms: the wait for its first
 * octet, -1 for the connection's timeout); a failure breaks the client.
 * More than HM_IMAP_MAX_UNTAGGED responses, or HM_IMAP_MAX_UNTAGGED_OCTETS
 * of them, since the last tagged reply is HM_FETCH_ERROR_PROTOCOL "server
 * sent more than N responses without completing the command" (or "... N
 * octets of responses ..."). */
int hm_imapc_read(HmImapClient *c, int first_ms, HmImapResponse **r, GError **err);

/* Reads responses until the tagged reply to tag (returns 0 with *tagged)
 * or, with want_continue, a "+" continuation (returns 1 with the
 * continuation in *tagged: its text is a SASL challenge). Untagged data
 * goes to on_response, then to h (may be NULL). A reply with another tag
 * or an unwanted continuation is a protocol error that breaks the client.
 * A handler that fails and breaks the client (pp.broken: what the server
 * sends is beyond repair) stops the read at once, with h->fn_err kept,
 * instead of reading the rest. Returns -1 with *err on failure. *tagged
 * must be NULL on entry. */
int hm_imapc_read_until(HmImapClient *c, guint tag, HmImapHandler *h, gboolean want_continue,
                        HmImapResponse **tagged, GError **err);

/* Runs pl's commands with up to p->window in flight. When h->fn or a
 * command fails, nothing more is sent, the replies in flight are read,
 * and the first failure is returned (fn's before a command's); the client
 * stays usable. h is required (its fn may be NULL). Returns 0 or -1 with
 * *err. */
int hm_imapc_pipeline(HmImapClient *c, const HmImapPipeline *pl, HmImapHandler *h, GError **err);

/* One command whose tagged reply must be OK; NO/BAD fail with code and
 * "what: text". h may be NULL. Returns 0 or -1 with *err. */
int hm_imapc_simple(HmImapClient *c, const char *cmd, const char *what, HmFetchError code,
                    HmImapHandler *h, GError **err);

#endif
