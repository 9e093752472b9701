/* The smart-host client's connections (relay/smarthost-conn.c), shared
 * with relay/smarthost.c, which runs the transactions over them. */
#ifndef RELAY_SMARTHOST_PRIVATE_H
#define RELAY_SMARTHOST_PRIVATE_H

#include <glib.h>
#include <openssl/ssl.h>

#include "conf/hmconfig.h"
#include "lib/smtpc.h"

/* One configured smart host and its session. */
typedef struct {
	const HmSmarthostConf *conf;
	const char *helo_name; /* cfg->hostname */
	const char *state_dir; /* cfg->state_dir: the OAuth2 token store */
	HmSmtpClient *smtp;    /* the open session, NULL when there is none */
	SSL_CTX *tls;          /* loaded on the first connect; NULL for tls = "none" */
	gint64 down_until;     /* g_get_monotonic_time(): no new attempt before */
	char *down_reason;     /* why the last attempt failed; NULL when it did not */
	gboolean needs_login;  /* ... because only `homemail oauth login` helps:
	                        * not held down, so that a new sign-in counts at
	                        * the next retry (checking costs no network) */
	gboolean refused;      /* ... because the server refused the login (a
	                        * wrong password, or a token even once refreshed) */
	gint64 opened;         /* g_get_monotonic_time() when smtp was opened */
	gint64 last_used;      /* ... when its last transaction ended */
	guint used;            /* transactions begun on smtp */
	guint64 size_max;      /* the SIZE (RFC 1870) its last session announced;
	                        * 0: none known, or no limit */
} RelaySmarthostConn;

/* The open session to h, after a check that the server did not close it
 * while it sat idle (dropped then, without a word) and that it is not
 * past RELAY_SMARTHOST_REUSE_S or RELAY_SMARTHOST_REUSE_MAX transactions
 * (closed then with QUIT); h->used > 0 says it carried mail before.
 * Without one (or after that), connects within
 * RELAY_SMARTHOST_CONNECT_TIMEOUT_MS, reads the greeting, says EHLO as
 * helo_name, STARTTLS when configured (nothing more is sent when the
 * server does not offer it, invariant 6), and AUTH when h has a user and
 * a password, which goes only over TLS or to loopback or with
 * allow_plaintext. Returns the session, or NULL with *why (g_free() it):
 * "smart host NAME: " and the reason. A failure is remembered for
 * RELAY_SMARTHOST_DOWN_MS, during which calls fail at once with the same
 * reason. */
HmSmtpClient *relay_smarthost_session(RelaySmarthostConn *h, char **why);

/* Ends a transaction on h's session: counts it and notes the time, and
 * drops the session when it is broken (hm_smtpc_broken()), so the next
 * relay_smarthost_session() connects anew. */
void relay_smarthost_release(RelaySmarthostConn *h);

/* Says QUIT on h's session, if any, and closes it; what is known about
 * a failed smart host stays. */
void relay_smarthost_hangup(RelaySmarthostConn *h);

/* Hangs up h's session when it sat idle RELAY_SMARTHOST_IDLE_S by now
 * (g_get_monotonic_time()) or is past its reuse limits (QUIT), or when
 * the server closed it (nothing said). Returns when the kept session's
 * idle time runs out, G_MAXINT64 without one. */
gint64 relay_smarthost_expire(RelaySmarthostConn *h, gint64 now);

/* Says QUIT on h's session, if any, and frees what h holds (not h). */
void relay_smarthost_conn_clear(RelaySmarthostConn *h);

#endif
