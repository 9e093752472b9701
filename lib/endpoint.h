/* A remote server we log in to (an upstream mailbox, a smart host), and
 * the one policy for connecting to it: TCP with a deadline, implicit TLS
 * or the upgrade after STARTTLS/STLS, verification by chain and name or by
 * a SHA-256 pin, and a password only where it cannot be read on the way.
 * The fetcher and the relay's smart-host client connect through this, and
 * so does `homemail check --live`. */
#ifndef HM_ENDPOINT_H
#define HM_ENDPOINT_H

#include <glib.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "oauth2.h"
#include "secret.h"
#include "tls.h"

typedef enum {
	HM_TLS_MODE_TLS,       /* implicit TLS */
	HM_TLS_MODE_STARTTLS,  /* upgrade in the protocol; never falls back */
	HM_TLS_MODE_NONE,      /* plain text: loopback, or allow_plaintext */
} HmTlsMode;

typedef struct {
	char *host;
	guint16 port;
	HmTlsMode tls;
	gboolean allow_plaintext;  /* tls = "none" to a host that is not loopback */
	char *ca_file;             /* NULL: the system CAs */
	gboolean has_pin;
	guint8 pin[HM_SHA256_LEN]; /* SHA-256 of the server's certificate */
	char *user;                /* NULL: no login */
	HmAuthKind auth;
	HmSecret password;         /* auth = "password" */
	HmOauth2Conf oauth2;       /* auth = "oauth2" */
} HmEndpoint;

/* Frees every field of ep (the secrets wiped) and zeroes it. */
void hm_endpoint_clear(HmEndpoint *ep);

/* The TLS client context for ep (its ca_file, or the system CAs), or NULL
 * without an error for tls = "none": loading the CA store costs
 * milliseconds and megabytes a plain-text connection does not need.
 * NULL with *err when the CAs cannot be loaded. SSL_CTX_free() it. */
SSL_CTX *hm_endpoint_tls_ctx(const HmEndpoint *ep, GError **err);

/* Connects to ep within timeout_ms (which also becomes the connection's
 * timeout for each read and write); for tls = "tls" runs the handshake and
 * verifies the certificate with ctx. Returns the connection, or NULL with
 * *err: HM_ERROR_IO / HM_ERROR_TIMEOUT "connect to HOST port PORT: ...",
 * or HM_ERROR_TLS "TLS: ..." (verification failures name the certificate's
 * fingerprint in the form to paste into the config). */
HmConn *hm_endpoint_connect(const HmEndpoint *ep, SSL_CTX *ctx, int timeout_ms, GError **err);

/* Runs the TLS handshake on conn after the server accepted STARTTLS/STLS
 * and verifies the certificate. Plain text the server sent after its reply
 * and before the handshake is refused (it cannot be trusted). Returns 0,
 * or -1 with *err (HM_ERROR_TLS "TLS: ..."). */
int hm_endpoint_start_tls(const HmEndpoint *ep, SSL_CTX *ctx, HmConn *conn, GError **err);

/* TRUE if a password may travel over conn to ep: the connection is TLS,
 * the host is a loopback address, or ep sets allow_plaintext. */
gboolean hm_endpoint_may_send_password(const HmEndpoint *ep, HmConn *conn);

#endif
