/* What the POP3 and IMAP clients share when they set up a connection:
 * TCP with a deadline, implicit TLS or the upgrade after STLS/STARTTLS,
 * and the rule for when a password may be sent. */
#ifndef HM_FETCH_CONNECT_H
#define HM_FETCH_CONNECT_H

#include "fetcher/fetch.h"
#include "lib/conn.h"
#include "lib/sasl.h"

/* Connects to acct->host:port; for tls = "tls" also runs the handshake
 * and verifies the certificate. Returns the connection, or NULL with *err
 * (HM_FETCH_ERROR_NETWORK "connect to HOST port PORT: ...", or
 * HM_FETCH_ERROR_TLS "TLS: ..."). */
HmConn *hm_fetch_connect(const HmFetchParams *p, GError **err);

/* Runs the TLS handshake on conn after the server accepted STLS/STARTTLS
 * and verifies the certificate. Plain text the server sent after its
 * reply and before the handshake is refused (it cannot be trusted).
 * Returns 0 or -1 with *err (HM_FETCH_ERROR_TLS, "TLS: ..."). */
int hm_fetch_starttls(const HmFetchParams *p, HmConn *conn, GError **err);

/* TRUE if a password may travel over conn: it is TLS, the host is a
 * loopback address, or the account sets allow_plaintext. */
gboolean hm_fetch_may_send_password(const HmFetchParams *p, HmConn *conn);

/* Logs one protocol line at debug level as "ACCOUNT: C: ..." / "S: ...",
 * masking secrets (AUTH/PASS/LOGIN arguments). */
void hm_fetch_trace(const HmFetchParams *p, gboolean from_client, const char *line);

/* What the login sends as the secret: the password, or with auth =
 * "oauth2" the access token; NULL when there is none. */
const char *hm_fetch_secret(const HmFetchParams *p);

/* The mechanism for p's login among offered (NULL-terminated): an OAuth2
 * one (OAUTHBEARER, else XOAUTH2) with auth = "oauth2", else what
 * hm_sasl_client_pick() takes. NULL when the server offers none. */
const HmSaslMech *hm_fetch_pick_mech(const HmFetchParams *p, const char *const *offered);

/* The credentials of p's login, for hm_sasl_client_run_creds(). */
HmSaslCreds hm_fetch_creds(const HmFetchParams *p);

/* Sets *err for a refused OAuth2 login: HM_FETCH_ERROR_TOKEN when the
 * token may be what was wrong (the server said so, or said nothing we
 * could read), else HM_FETCH_ERROR_AUTH; the text is "login refused",
 * what the challenge said in words, and words, the server's last reply.
 * Returns -1. */
int hm_fetch_oauth_refused(GError **err, const HmSaslOauthError *r, const char *words);

#endif
