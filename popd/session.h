/* One POP3 session (RFC 1939, RFC 2449 CAPA, RFC 5034 AUTH, RFC 2595
 * STLS) on an accepted connection. Runs in its own process. */
#ifndef POPD_SESSION_H
#define POPD_SESSION_H

#include <sys/socket.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "conf/hmconfig.h"
#include "lib/conn.h"
#include "lib/loginbar.h"
#include "lib/tls.h"

typedef struct {
	const HmConfig *cfg;
	HmTlsServer *tls;        /* offers STLS when not NULL */
	gboolean plaintext_ok;   /* the peer is in popd.allow_plaintext_from */
	const char *peer;        /* the peer's address, for the log */
	/* The failed-login bar every session of the server shares (each
	 * password check is reserved in it first); NULL: none (tests). */
	HmLoginBar *bar;
	/* See hm_login_check(). */
	const char *dummy_hash;
	/* Delay before a failed login is answered (tests shorten it). */
	guint auth_fail_delay_ms;
} PopdSessionParams;

/* Greets and serves the client until QUIT, a timeout, too many errors, or
 * the connection drops. Returns 0 after an orderly QUIT, -1 otherwise.
 * A session that ends any other way than QUIT deletes nothing. */
int popd_session_run(HmConn *conn, const PopdSessionParams *p);

#endif
