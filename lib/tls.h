/* TLS contexts and certificate verification (OpenSSL). Verification is on by
 * default everywhere: chain + host name against the system CAs or a
 * ca_file, or a SHA-256 pin of the server's whole DER certificate. */
#ifndef HM_TLS_H
#define HM_TLS_H

#include <glib.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "fingerprint.h"

/* A client context: TLS 1.2 minimum, the system CA store, or only ca_file
 * when it is non-empty. Returns NULL with *err set. SSL_CTX_free() it. */
SSL_CTX *hm_tls_client_ctx(const char *ca_file, GError **err);

/* What a server offers its clients, after Mozilla's server-side TLS
 * recommendations (https://wiki.mozilla.org/Security/Server_Side_TLS, 5.7). */
typedef enum {
	/* TLS 1.2 with AEAD suites and forward secrecy only, and TLS 1.3:
	 * every mail client of the last ten years. The default. */
	HM_TLS_PROFILE_INTERMEDIATE,
	/* TLS 1.3 only. */
	HM_TLS_PROFILE_MODERN,
	/* Also TLS 1.0/1.1 and CBC suites, for old clients (Windows 7's
	 * mail programs, old phones); weaker, so only when one needs it. */
	HM_TLS_PROFILE_OLD,
} HmTlsProfile;

/* A certificate chain or key file larger than this is refused. */
#define HM_TLS_PEM_MAX (1024 * 1024)

/* A server context with the certificate chain and key from PEM files,
 * offering what profile says. Returns NULL with *err naming the file that
 * failed. */
SSL_CTX *hm_tls_server_ctx(const char *cert_file, const char *key_file, HmTlsProfile profile,
                           GError **err);

/* The same from PEM text already read; the names are for messages. */
SSL_CTX *hm_tls_server_ctx_pem(GBytes *cert, const char *cert_name, GBytes *key,
                               const char *key_name, HmTlsProfile profile, GError **err);

/* A server context made where it is first used. A daemon's listening
 * process would otherwise hold OpenSSL's algorithms and the key, parsed,
 * for nothing (3 MB resident of 8, bench/bundle): its session processes
 * make the context when a client asks for TLS, from the files read at
 * start (while the daemon may still read what its user may not). */
typedef struct HmTlsServer HmTlsServer;

/* Reads cert_file and key_file and makes sure they make a context, in a
 * child process, so that a bad file still fails the start. NULL with
 * *err naming the file. */
HmTlsServer *hm_tls_server_new(const char *cert_file, const char *key_file,
                               HmTlsProfile profile, GError **err);

/* The context, made at the first call (in this process). NULL with *err
 * when that fails, which hm_tls_server_new() has ruled out but for lack
 * of memory. */
SSL_CTX *hm_tls_server_get(HmTlsServer *ts, GError **err);

/* hm_conn_start_tls_server() with that context. */
int hm_tls_server_start(HmTlsServer *ts, HmConn *conn, GError **err);

/* NULL-safe. */
void hm_tls_server_free(HmTlsServer *ts);

/* SHA-256 of the DER encoding of cert. */
void hm_tls_cert_fingerprint(X509 *cert, guint8 out[HM_SHA256_LEN]);

/* Prepares a client SSL before its handshake: SNI (for names, not IP
 * literals) and, unless a pin is given, the host name or IP address the
 * certificate must match. Returns 0 or -1 with *err set. */
int hm_tls_client_prepare(SSL *ssl, const char *host, const guint8 *pin, GError **err);

/* Called on an SSL whose handshake completed: checks the peer certificate
 * against pin (when not NULL) or against the chain result and host (name or
 * IP literal). Returns 0, or -1 with *err set to a one-line reason such as
 * "certificate not trusted (self-signed; pin sha256:... to trust it)". */
int hm_tls_verify_peer(SSL *ssl, const char *host, const guint8 *pin, GError **err);

/* The certificate's fingerprint that a failure of hm_tls_verify_peer()
 * names ("... pin sha256:AB:... to trust it"), in the form to paste into
 * the config; NULL when err names none. g_free() it. */
char *hm_tls_error_pin(const GError *err);

/* The last OpenSSL error queue entry as text (and clears the queue), for
 * error messages. g_free() it. */
char *hm_tls_error_string(void);

#endif
