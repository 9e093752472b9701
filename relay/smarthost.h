/* The smart-host client: what leaves the box goes to the ISP's submission
 * server chosen by the rewritten envelope sender (relay.smarthosts[].
 * senders, the first smart host by default), over TLS or STARTTLS with
 * the certificate verified or pinned (never a fallback to clear text),
 * with AUTH, PIPELINING where offered, and one connection per smart host
 * reused for every message of a queue run and kept open a little after
 * it (RELAY_SMARTHOST_IDLE_S, relay/limits.h). Sender rewriting (envelope and,
 * with relay.rewrite_header_from, From:/Sender:) happens here, on the way
 * out, so the queue keeps what the client sent. */
#ifndef RELAY_SMARTHOST_H
#define RELAY_SMARTHOST_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "relay/queue.h"
#include "relay/rewrite.h"

/* The outcome for one recipient. */
typedef struct {
	guint code;             /* 2xx accepted, 4xx try again, 5xx never; 0: not
	                         * attempted or the session broke (try again) */
	char *reply;            /* the smart host's reply on one line; or our own
	                         * words when code is 0; or, for a refusal of
	                         * ours, "X.Y.Z this relay refused ..." (no reply
	                         * code: relay/bounce.c reads the status) */
	const char *remote_mta; /* the smart host's host name (it points into the
	                         * config: valid as long as that is); NULL when
	                         * none was reached or the refusal is ours */
	gboolean dsn_passed;    /* the smart host took our NOTIFY/ORCPT (DSN):
	                         * success notices are its job from here */
} RelayRcptResult;

void relay_rcpt_result_clear(RelayRcptResult *r);

typedef struct RelaySmarthosts RelaySmarthosts;

/* Connections to the configured smart hosts, opened on first use. */
RelaySmarthosts *relay_smarthosts_new(const HmConfig *cfg, const RelayRewriter *rw);

/* The connection cache's clock, called between queue passes with now
 * from g_get_monotonic_time(): says QUIT on every connection that sat
 * idle for RELAY_SMARTHOST_IDLE_S, or is older than
 * RELAY_SMARTHOST_REUSE_S, or carried RELAY_SMARTHOST_REUSE_MAX
 * messages; frees without a word those the server closed meanwhile.
 * Returns when the next kept connection's idle time runs out (a
 * g_get_monotonic_time() value; G_MAXINT64: none is open), which is when
 * this should be called again: no connection sits idle and logged in at
 * the ISP much longer than that. */
gint64 relay_smarthosts_expire(RelaySmarthosts *sh, gint64 now);

/* Forgets which smart hosts were found down (see relay_smarthosts_send()),
 * so the next call tries them again: for a forced queue run, which
 * `homemail queue flush` and `homemail network-up` ask for because the
 * reason may be gone. */
void relay_smarthosts_forget_down(RelaySmarthosts *sh);

/* The SIZE (RFC 1870) the smart host for rewritten_sender ("" for a
 * notice: the first) announced in its last session: the largest message
 * it takes. 0 when none is known (no session yet) or it set no limit. */
guint64 relay_smarthosts_size_max(const RelaySmarthosts *sh, const char *rewritten_sender);

/* Says QUIT on every open connection and frees. NULL-safe. */
void relay_smarthosts_free(RelaySmarthosts *sh);

/* Sends e's message (msg, as queued) to e's recipients idx[0..n) through
 * the smart host for e's rewritten sender, filling results[i] for idx[i].
 * Never fails as a whole: every outcome is in results. Refusals of our
 * own: no smart host configured (code 0, "no smart host configured
 * (relay.smarthosts)"), a sender that cannot leave the box (553, "5.7.1
 * this relay refused ...", relay_rewrite_refusal()), a message that needs
 * SMTPUTF8 or is larger than the smart host's SIZE (553 5.6.7, 552 5.3.4;
 * RFC 6531 3.7.4 / RFC 1870), a recipient no SMTP command can carry (553
 * 5.1.3, that recipient alone). A smart
 * host that could not be reached, refused TLS, or refused our AUTH (535
 * included: a wrong password must not bounce mail) gives code 0 and the
 * reason, and for RELAY_SMARTHOST_DOWN_MS (relay/limits.h) later calls
 * give the same at once instead of trying again. A session the server
 * closed while idle, or that broke, is replaced by the next call; one
 * found closed only by the MAIL command (EOF, reset or 421: the server
 * holds nothing of the message) is replaced at once and the message
 * sent over the new one, so the close costs it no attempt. */
void relay_smarthosts_send(RelaySmarthosts *sh, const RelayQueueEntry *e, GBytes *msg,
                           const guint *idx, guint n, RelayRcptResult *results);

/* What relay_smarthost_probe() learnt. */
typedef struct {
	char *tls;            /* "TLSv1.3 TLS_AES_256_GCM_SHA384"; NULL: plain text */
	gboolean logged_in;   /* AUTH succeeded (FALSE without a user) */
	gboolean refused;     /* on failure: the server refused the login (a
	                        * wrong user or password, or the token) */
	gboolean needs_login; /* on failure: only `homemail oauth login` helps */
} RelaySmarthostProbe;

void relay_smarthost_probe_clear(RelaySmarthostProbe *p);

/* `homemail check --live`: opens a session to conf exactly as the relay
 * does (connect, EHLO as cfg->hostname, STARTTLS, AUTH; the OAuth2 token
 * taken from the store under cfg->state_dir), then says QUIT without a
 * MAIL command, so nothing is sent. Fills *out (clear it after). Returns
 * 0, or -1 with *err: HM_ERROR_AUTH (out->refused, out->needs_login tell
 * which), HM_ERROR_TLS, HM_ERROR_IO or HM_ERROR_TIMEOUT (the network),
 * HM_SMTP_ERROR (the server refused EHLO or STARTTLS) or
 * HM_ERROR_PROTOCOL. */
int relay_smarthost_probe(const HmConfig *cfg, const HmSmarthostConf *conf,
                          RelaySmarthostProbe *out, GError **err);

#endif
