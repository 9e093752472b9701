/* OpenSSL (libssl and the libcrypto under it) opened with dlopen() at the
 * first call of any of its functions, rather than linked.
 *
 * A linked libcrypto costs every process about 1.9 MB of resident memory
 * from its start, used or not: the loader reads its symbol tables and
 * writes its relocations (a do-nothing program linked with the relay's
 * libraries idles at 4.7 MB; without libssl, libcrypto and libldns at
 * 2.8). The relay's and popd's parents never speak TLS themselves: they
 * accept and hand each connection to a session process, and
 * hm_tls_server_new() tries the certificate in a child. Opened here,
 * OpenSSL is loaded by the processes that use it (sessions that start
 * TLS, the relay's queue runner, the fetcher) and the long-running
 * parents stay small (issue 10's and issue 13's idle-memory budgets).
 *
 * As lib/curl-load.c does for libcurl, this file defines each OpenSSL
 * function the bundle calls under OpenSSL's own name, so that OpenSSL's
 * headers still check the calls and these definitions; each forwards to
 * the function in the library. No program links libssl or libcrypto
 * (Makefile.am: HM_TLS_LIBS), so these are the only definitions, and a
 * call of one not listed here fails the link. */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/dl.h"

/* OpenSSL 3's soname; libcrypto.so.3 comes with it. */
#define LIBSSL_SONAME "libssl.so.3"

/* F(return type, name, (parameters), (arguments)); V for those returning
 * nothing. ERR_clear_error() and EVP_PKEY_Q_keygen() are written out
 * below. */
#define HM_SSL_FUNCS(F, V) \
	F(const char *, SSL_CIPHER_get_name, (const SSL_CIPHER *a), (a)) \
	F(int, SSL_CTX_check_private_key, (const SSL_CTX *a), (a)) \
	F(long, SSL_CTX_ctrl, (SSL_CTX *a, int b, long c, void *d), (a, b, c, d)) \
	V(void, SSL_CTX_free, (SSL_CTX *a), (a)) \
	F(X509_VERIFY_PARAM *, SSL_CTX_get0_param, (SSL_CTX *a), (a)) \
	F(int, SSL_CTX_load_verify_file, (SSL_CTX *a, const char *b), (a, b)) \
	F(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *a), (a)) \
	F(int, SSL_CTX_set_cipher_list, (SSL_CTX *a, const char *b), (a, b)) \
	F(int, SSL_CTX_set_default_verify_paths, (SSL_CTX *a), (a)) \
	F(int, SSL_CTX_load_verify_dir, (SSL_CTX *a, const char *b), (a, b)) \
	F(X509_STORE *, SSL_CTX_get_cert_store, (const SSL_CTX *a), (a)) \
	F(STACK_OF(X509_OBJECT) *, X509_STORE_get0_objects, (const X509_STORE *a), (a)) \
	F(int, OPENSSL_sk_num, (const OPENSSL_STACK *a), (a)) \
	F(uint64_t, SSL_CTX_set_options, (SSL_CTX *a, uint64_t b), (a, b)) \
	V(void, SSL_CTX_set_security_level, (SSL_CTX *a, int b), (a, b)) \
	V(void, SSL_CTX_set_verify, (SSL_CTX *a, int b, SSL_verify_cb c), (a, b, c)) \
	F(int, SSL_CTX_use_PrivateKey, (SSL_CTX *a, EVP_PKEY *b), (a, b)) \
	F(int, SSL_CTX_use_certificate, (SSL_CTX *a, X509 *b), (a, b)) \
	F(int, SSL_accept, (SSL *a), (a)) \
	F(int, SSL_connect, (SSL *a), (a)) \
	F(long, SSL_ctrl, (SSL *a, int b, long c, void *d), (a, b, c, d)) \
	V(void, SSL_free, (SSL *a), (a)) \
	F(X509_VERIFY_PARAM *, SSL_get0_param, (SSL *a), (a)) \
	F(X509 *, SSL_get0_peer_certificate, (const SSL *a), (a)) \
	F(const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *a), (a)) \
	F(int, SSL_get_error, (const SSL *a, int b), (a, b)) \
	F(long, SSL_get_verify_result, (const SSL *a), (a)) \
	F(const char *, SSL_get_version, (const SSL *a), (a)) \
	F(SSL *, SSL_new, (SSL_CTX *a), (a)) \
	F(int, SSL_read_ex, (SSL *a, void *b, size_t c, size_t *d), (a, b, c, d)) \
	F(int, SSL_set_fd, (SSL *a, int b), (a, b)) \
	F(int, SSL_shutdown, (SSL *a), (a)) \
	F(int, SSL_write_ex, (SSL *a, const void *b, size_t c, size_t *d), (a, b, c, d)) \
	F(const SSL_METHOD *, TLS_client_method, (void), ()) \
	F(const SSL_METHOD *, TLS_server_method, (void), ()) \
	F(int, ASN1_TIME_to_tm, (const ASN1_TIME *a, struct tm *b), (a, b)) \
	F(long, BIO_ctrl, (BIO *a, int b, long c, void *d), (a, b, c, d)) \
	F(int, BIO_free, (BIO *a), (a)) \
	F(BIO *, BIO_new, (const BIO_METHOD *a), (a)) \
	F(BIO *, BIO_new_mem_buf, (const void *a, int b), (a, b)) \
	F(const BIO_METHOD *, BIO_s_mem, (void), ()) \
	F(BIGNUM *, BN_bin2bn, (const unsigned char *a, int b, BIGNUM *c), (a, b, c)) \
	V(void, BN_free, (BIGNUM *a), (a)) \
	F(ASN1_INTEGER *, BN_to_ASN1_INTEGER, (const BIGNUM *a, ASN1_INTEGER *b), (a, b)) \
	F(int, CRYPTO_memcmp, (const void *a, const void *b, size_t c), (a, b, c)) \
	F(unsigned long, ERR_peek_last_error, (void), ()) \
	F(const char *, ERR_reason_error_string, (unsigned long a), (a)) \
	V(void, EVP_PKEY_free, (EVP_PKEY *a), (a)) \
	F(const EVP_MD *, EVP_sha256, (void), ()) \
	F(X509 *, PEM_read_X509, (FILE *a, X509 **b, pem_password_cb *c, void *d), (a, b, c, d)) \
	F(EVP_PKEY *, PEM_read_bio_PrivateKey, (BIO *a, EVP_PKEY **b, pem_password_cb *c, void *d), (a, b, c, d)) \
	F(X509 *, PEM_read_bio_X509, (BIO *a, X509 **b, pem_password_cb *c, void *d), (a, b, c, d)) \
	F(X509 *, PEM_read_bio_X509_AUX, (BIO *a, X509 **b, pem_password_cb *c, void *d), (a, b, c, d)) \
	F(int, PEM_write_bio_PrivateKey, (BIO *a, const EVP_PKEY *b, const EVP_CIPHER *c, const unsigned char *d, int e, pem_password_cb *f, void *g), (a, b, c, d, e, f, g)) \
	F(int, PEM_write_bio_X509, (BIO *a, const X509 *b), (a, b)) \
	F(int, RAND_bytes, (unsigned char *a, int b), (a, b)) \
	F(X509_EXTENSION *, X509V3_EXT_conf_nid, (struct lhash_st_CONF_VALUE *a, X509V3_CTX *b, int c, const char *d), (a, b, c, d)) \
	V(void, X509V3_set_ctx, (X509V3_CTX *a, X509 *b, X509 *c, X509_REQ *d, X509_CRL *e, int f), (a, b, c, d, e, f)) \
	V(void, X509_EXTENSION_free, (X509_EXTENSION *a), (a)) \
	F(int, X509_NAME_add_entry_by_txt, (X509_NAME *a, const char *b, int c, const unsigned char *d, int e, int f, int g), (a, b, c, d, e, f, g)) \
	F(int, X509_VERIFY_PARAM_set1_host, (X509_VERIFY_PARAM *a, const char *b, size_t c), (a, b, c)) \
	F(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *a, const char *b), (a, b)) \
	V(void, X509_VERIFY_PARAM_set_hostflags, (X509_VERIFY_PARAM *a, unsigned int b), (a, b)) \
	V(void, X509_VERIFY_PARAM_set_time, (X509_VERIFY_PARAM *a, time_t b), (a, b)) \
	F(int, X509_add_ext, (X509 *a, X509_EXTENSION *b, int c), (a, b, c)) \
	F(int, X509_digest, (const X509 *a, const EVP_MD *b, unsigned char *c, unsigned int *d), (a, b, c, d)) \
	V(void, X509_free, (X509 *a), (a)) \
	F(const ASN1_TIME *, X509_get0_notAfter, (const X509 *a), (a)) \
	F(const ASN1_TIME *, X509_get0_notBefore, (const X509 *a), (a)) \
	F(const char *, X509_get_default_cert_dir_env, (void), ()) \
	F(const char *, X509_get_default_cert_dir, (void), ()) \
	F(const char *, X509_get_default_cert_file_env, (void), ()) \
	F(ASN1_INTEGER *, X509_get_serialNumber, (X509 *a), (a)) \
	F(X509_NAME *, X509_get_subject_name, (const X509 *a), (a)) \
	F(ASN1_TIME *, X509_getm_notAfter, (const X509 *a), (a)) \
	F(ASN1_TIME *, X509_getm_notBefore, (const X509 *a), (a)) \
	F(ASN1_TIME *, X509_gmtime_adj, (ASN1_TIME *a, long b), (a, b)) \
	F(X509 *, X509_new, (void), ()) \
	F(int, X509_set_issuer_name, (X509 *a, const X509_NAME *b), (a, b)) \
	F(int, X509_set_pubkey, (X509 *a, EVP_PKEY *b), (a, b)) \
	F(int, X509_set_version, (X509 *a, long b), (a, b)) \
	F(int, X509_sign, (X509 *a, EVP_PKEY *b, const EVP_MD *c), (a, b, c)) \
	F(const char *, X509_verify_cert_error_string, (long a), (a))

static struct {
	HM_SSL_FUNCS(HM_DL_FIELD, HM_DL_FIELD)
	void (*ERR_clear_error)(void);
	EVP_PKEY *(*EVP_PKEY_Q_keygen)(OSSL_LIB_CTX *, const char *, const char *, ...);
} fn;

static const HmDlSym syms[] = {
	HM_SSL_FUNCS(HM_DL_SYM, HM_DL_SYM)
	HM_DL_SYM(, ERR_clear_error, , )
	HM_DL_SYM(, EVP_PKEY_Q_keygen, , )
};

static GOnce once = G_ONCE_INIT;

static void
load(void)
{
	hm_dl_require(&once, LIBSSL_SONAME, syms, G_N_ELEMENTS(syms), "libssl3");
}

HM_SSL_FUNCS(HM_DL_FORWARD, HM_DL_FORWARD_VOID)

/* Before OpenSSL is loaded its error queue is empty: the server's session
 * process clears it before each session (lib/server-worker.c), TLS or
 * not, and must not load OpenSSL for that. */
void
ERR_clear_error(void)
{
	if (hm_dl_loaded(&once))
		fn.ERR_clear_error();
}

/* The key type says what follows it: a curve name for EC (EVP_EC_gen()),
 * the bits for RSA (EVP_RSA_gen()), nothing for the others. */
EVP_PKEY *
EVP_PKEY_Q_keygen(OSSL_LIB_CTX *libctx, const char *propq, const char *type, ...)
{
	EVP_PKEY *key;
	va_list ap;

	load();
	va_start(ap, type);
	if (strcmp(type, "EC") == 0)
		key = fn.EVP_PKEY_Q_keygen(libctx, propq, type, va_arg(ap, char *));
	else if (strcmp(type, "RSA") == 0)
		key = fn.EVP_PKEY_Q_keygen(libctx, propq, type, va_arg(ap, size_t));
	else
		key = fn.EVP_PKEY_Q_keygen(libctx, propq, type);
	va_end(ap);
	return key;
}
