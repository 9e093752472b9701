/* One SMTP session of homemail-relay (RFC 5321 with PIPELINING, SIZE,
 * 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS, AUTH, SMTPUTF8, DSN and
 * CHUNKING), in a process of its own (lib/server.h). A message is
 * written to the queue as it arrives (or, when it is for local Maildir
 * users only, into their Maildirs: relay/inline.h); its 250 leaves only
 * once the group commit has made it durable (DESIGN.md invariant 2), so
 * pipelined transactions share one flush. */
#ifndef RELAY_SESSION_H
#define RELAY_SESSION_H

#include <sys/socket.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "conf/hmconfig.h"
#include "lib/conn.h"
#include "lib/groupcommit.h"
#include "lib/loginbar.h"
#include "lib/tls.h"
#include "relay/rewrite.h"

typedef struct {
	const HmConfig *cfg;
	const RelayRewriter *rw;
	HmTlsServer *tls;           /* NULL: no STARTTLS */
	const char *peer;           /* numeric client address */
	gboolean trusted;           /* in relay.trusted_networks */
	gboolean plaintext_ok;      /* AUTH allowed without TLS (relay.allow_plaintext_from) */
	gboolean local;             /* a program on this box (homemail-sendmail -bs) */
	const char *queue_dir;
	HmGroupCommit *gc;
	HmGroupCommit *mail_gc;     /* for mail_dir: delivery at once (relay/inline.h); NULL: none */
	HmLoginBar *bar;            /* NULL: none (tests) */
	const char *dummy_hash;     /* see hm_login_check() */
	guint auth_fail_delay_ms;
	int pickup_fd;              /* written to wake the queue runner; -1: none */
	const char *dns_resolver;   /* for the DNSBL check: "HOST:PORT" or NULL */
} RelaySessionParams;

/* Serves the client on conn until QUIT, a fatal error or a timeout.
 * Returns 0 after an orderly end, -1 otherwise. */
int relay_session_run(HmConn *conn, const RelaySessionParams *p);

#endif
