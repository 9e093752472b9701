#include <config.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "atomic.h"
#include "error.h"
#include "tls.h"

char *
hm_tls_error_string(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason;

	ERR_clear_error();
	if (e == 0)
		return g_strdup("unknown error");
	/* The reason alone ("certificate verify failed") reads better in a
	 * one-line error than the whole "error:0A000086:SSL routines::..." */
	reason = ERR_reason_error_string(e);
	if (reason != NULL)
		return g_strdup(reason);
	return g_strdup_printf("OpenSSL error %lx", e);
}

static void
common_options(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* A peer that just closes the socket is handled by the line protocols
	 * (they have explicit terminators), so a missing close_notify is EOF. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_NO_COMPRESSION);
}

/* Whether dir holds OpenSSL's hash links (c_rehash, "openssl rehash"):
 * names of 8 hex digits, a dot and a number, as update-ca-certificates
 * keeps in /etc/ssl/certs. */
static gboolean
hashed_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	gboolean found = FALSE;

	if (d == NULL)
		return FALSE;
	while (!found && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		gsize i = 0;

		while (i < 8 && g_ascii_isxdigit(n[i]))
			i++;
		found = i == 8 && n[8] == '.' && g_ascii_isdigit(n[9]);
	}
	closedir(d);
	return found;
}

/* The system CA store. OpenSSL's default reads the whole bundle file
 * (Debian's /etc/ssl/certs/ca-certificates.crt, 140-odd certificates)
 * into every context at once: 1.6 MB and 18 ms here, and kept for the
 * life of the context, which the fetcher's IDLE daemon holds for days.
 * The hashed directory beside it has the same certificates, each read
 * when a chain needs it. So the directory alone, unless SSL_CERT_FILE or
 * SSL_CERT_DIR asks for something else (then OpenSSL's default, as any
 * OpenSSL program does) or the directory has no hash links. */
static int
load_system_cas(SSL_CTX *ctx)
{
	/* The directory is OpenSSL's built-in one: looked at once, not at
	 * every context (each smart-host or upstream connection makes one). */
	static gsize hashed;
	const char *dir = X509_get_default_cert_dir();

	if (g_once_init_enter(&hashed))
		g_once_init_leave(&hashed, hashed_dir(dir) ? 2 : 1);
	if (getenv(X509_get_default_cert_file_env()) == NULL &&
	    getenv(X509_get_default_cert_dir_env()) == NULL && hashed == 2)
		return SSL_CTX_load_verify_dir(ctx, dir);
	return SSL_CTX_set_default_verify_paths(ctx);
}

SSL_CTX *
hm_tls_client_ctx(const char *ca_file, GError **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok;

	if (ctx == NULL) {
		g_autofree char *why = hm_tls_error_string();

		g_set_error(err, HM_ERROR, HM_ERROR_TLS, "TLS: %s", why);
		return NULL;
	}
	common_options(ctx);
	/* Verification runs during the handshake and is enforced right after
	 * it by hm_tls_verify_peer(), before a byte of the protocol is sent;
	 * that way a failure can name the certificate's fingerprint. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (ca_file != NULL && *ca_file != '\0')
		ok = SSL_CTX_load_verify_file(ctx, ca_file);
	else
		ok = load_system_cas(ctx);
	if (ok != 1) {
		g_autofree char *why = hm_tls_error_string();

		g_set_error(err, HM_ERROR, HM_ERROR_TLS, "%s: cannot load CA certificates: %s",
		            ca_file != NULL && *ca_file != '\0' ? ca_file : "system CA store", why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Mozilla's TLS 1.2 suites for the intermediate profile (TLS 1.3 suites
 * are all AEAD with forward secrecy, so OpenSSL's defaults stay). */
#define INTERMEDIATE_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
/* ...and for the old profile: CBC and static-RSA suites too. TLS 1.0 and
 * 1.1 sign with SHA-1, which OpenSSL 3 refuses above security level 0. */
#define OLD_CIPHERS \
	INTERMEDIATE_CIPHERS ":" \
	"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:" \
	"ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:" \
	"ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:" \
	"AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:" \
	"DES-CBC3-SHA:@SECLEVEL=0"

static int
set_profile(SSL_CTX *ctx, HmTlsProfile profile)
{
	/* DHE suites need parameters; OpenSSL picks them by key size. */
	SSL_CTX_set_dh_auto(ctx, 1);
	switch (profile) {
	case HM_TLS_PROFILE_MODERN:
		return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	case HM_TLS_PROFILE_OLD:
		/* Among weak suites the server's order keeps the best. */
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
		return SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) &&
		       SSL_CTX_set_cipher_list(ctx, OLD_CIPHERS);
	case HM_TLS_PROFILE_INTERMEDIATE:
	default:
		/* Every offered suite is strong: the client picks what its
		 * hardware does fastest (Mozilla: "client chooses"). */
		return SSL_CTX_set_cipher_list(ctx, INTERMEDIATE_CIPHERS);
	}
}

/* A read-only BIO over b (which must outlive it). */
static BIO *
bytes_bio(GBytes *b)
{
	gsize len;
	const void *data = g_bytes_get_data(b, &len);

	return BIO_new_mem_buf(data, (int)len);
}

/* The certificate, then its chain, from PEM text (as OpenSSL's
 * SSL_CTX_use_certificate_chain_file() reads a file). 1 or 0. */
static int
use_chain(SSL_CTX *ctx, GBytes *pem)
{
	BIO *bio = bytes_bio(pem);
	X509 *x = bio != NULL ? PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL) : NULL;
	int ok = x != NULL && SSL_CTX_use_certificate(ctx, x) == 1;

	X509_free(x);
	while (ok) {
		X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);

		if (ca == NULL) {
			unsigned long e = ERR_peek_last_error();

			/* Only "no more certificates" ends a good chain. */
			ok = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
			if (ok)
				ERR_clear_error();
			break;
		}
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			ok = 0;
		}
	}
	BIO_free(bio);
	return ok;
}

/* A daemon never asks for a passphrase: an encrypted key fails. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return 0;
}

static int
use_key(SSL_CTX *ctx, GBytes *pem)
{
	BIO *bio = bytes_bio(pem);
	EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	int ok = key != NULL && SSL_CTX_use_PrivateKey(ctx, key) == 1 &&
	         SSL_CTX_check_private_key(ctx) == 1;

	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok;
}

SSL_CTX *
hm_tls_server_ctx_pem(GBytes *cert, const char *cert_name, GBytes *key, const char *key_name,
                      HmTlsProfile profile, GError **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *failed = NULL;

	if (ctx == NULL) {
		failed = "TLS";
	} else {
		common_options(ctx);
		if (set_profile(ctx, profile) != 1)
			failed = "TLS profile";
		else if (use_chain(ctx, cert) != 1)
			failed = cert_name;
		else if (use_key(ctx, key) != 1)
			failed = key_name;
	}
	if (failed != NULL) {
		g_autofree char *why = hm_tls_error_string();

		g_set_error(err, HM_ERROR, HM_ERROR_TLS, "%s: %s", failed, why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
hm_tls_server_ctx(const char *cert_file, const char *key_file, HmTlsProfile profile,
                  GError **err)
{
	g_autoptr(GBytes) cert = hm_read_file(cert_file, HM_TLS_PEM_MAX, err);
	g_autoptr(GBytes) key = cert != NULL ? hm_read_file(key_file, HM_TLS_PEM_MAX, err) : NULL;

	if (key == NULL)
		return NULL;
	return hm_tls_server_ctx_pem(cert, cert_file, key, key_file, profile, err);
}

void
hm_tls_cert_fingerprint(X509 *cert, guint8 out[HM_SHA256_LEN])
{
	unsigned int len = HM_SHA256_LEN;

	X509_digest(cert, EVP_sha256(), out, &len);
}

static gboolean
is_ip_literal(const char *host)
{
	guint8 buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int
hm_tls_client_prepare(SSL *ssl, const char *host, const guint8 *pin, GError **err)
{
	int ok = 1;

	if (!is_ip_literal(host))
		ok = SSL_set_tlsext_host_name(ssl, host);
	if (ok == 1 && pin == NULL) {
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip_literal(host))
			ok = X509_VERIFY_PARAM_set1_ip_asc(param, host);
		else
			ok = X509_VERIFY_PARAM_set1_host(param, host, 0);
	}
	if (ok != 1) {
		g_autofree char *why = hm_tls_error_string();

		g_set_error(err, HM_ERROR, HM_ERROR_TLS, "TLS: %s: %s", host, why);
		return -1;
	}
	return 0;
}

/* notAfter/notBefore as a date in UTC ("2024-05-01"), for error text. */
static char *
cert_date(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm) == 0)
		return g_strdup("an unknown date");
	return g_strdup(buf);
}

/* The chain verdict res in words a user can act on: why it is not
 * trusted. g_free() it. */
static char *
untrusted_words(long res, X509 *cert)
{
	switch (res) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return g_strdup("self-signed");
	case X509_V_ERR_CERT_HAS_EXPIRED: {
		g_autofree char *date = cert_date(X509_get0_notAfter(cert));

		return g_strdup_printf("expired on %s", date);
	}
	case X509_V_ERR_CERT_NOT_YET_VALID: {
		g_autofree char *date = cert_date(X509_get0_notBefore(cert));

		return g_strdup_printf("not valid before %s", date);
	}
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return g_strdup("issued by an unknown certificate authority");
	default:
		return g_strdup(X509_verify_cert_error_string(res));
	}
}

int
hm_tls_verify_peer(SSL *ssl, const char *host, const guint8 *pin, GError **err)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	guint8 fp[HM_SHA256_LEN];
	g_autofree char *fptext = NULL;
	long res;

	if (cert == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_TLS, "TLS: server sent no certificate");
		return -1;
	}
	hm_tls_cert_fingerprint(cert, fp);
	fptext = hm_tls_fingerprint_format(fp);
	if (pin != NULL) {
		if (CRYPTO_memcmp(fp, pin, HM_SHA256_LEN) == 0)
			return 0;
		g_set_error(err, HM_ERROR, HM_ERROR_TLS,
		            "TLS: certificate fingerprint %s does not match the pinned one", fptext);
		return -1;
	}
	res = SSL_get_verify_result(ssl);
	switch (res) {
	case X509_V_OK:
		return 0;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		g_set_error(err, HM_ERROR, HM_ERROR_TLS,
		            "TLS: certificate does not match host name %s (pin %s to trust it)",
		            host, fptext);
		return -1;
	default: {
		g_autofree char *why = untrusted_words(res, cert);

		g_set_error(err, HM_ERROR, HM_ERROR_TLS,
		            "TLS: certificate not trusted (%s; pin %s to trust it)", why, fptext);
		return -1;
	}
	}
}

char *
hm_tls_error_pin(const GError *err)
{
	/* "sha256:" and 32 hex pairs joined by colons, as
	 * hm_tls_fingerprint_format() writes it. */
	const gsize len = 7 + HM_SHA256_LEN * 3 - 1;
	const char *p = err != NULL ? strstr(err->message, "sha256:") : NULL;
	g_autofree char *text = NULL;
	guint8 fp[HM_SHA256_LEN];

	if (p == NULL || strlen(p) < len)
		return NULL;
	text = g_strndup(p, len);
	if (hm_tls_fingerprint_parse(text, fp, NULL) < 0)
		return NULL;
	return g_steal_pointer(&text);
}
