/* The self-signed certificate `homemail setup` makes when none is given:
 * enough for STARTTLS and POP3S on the LAN, where a client is told to
 * trust it once (or given its fingerprint). */
#include <config.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/error.h"
#include "admin/setup.h"

/* Ten years: nobody renews a certificate on a box at home, and clients
 * that pin or trust it once would have to be told again. */
#define CERT_DAYS 3650

static int
ssl_fail(GError **err, const char *what)
{
	g_set_error(err, HM_ERROR, HM_ERROR_TLS, "making the certificate: %s failed", what);
	return -1;
}

static char *
bio_text(BIO *bio)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	return g_strndup(data, (gsize)len);
}

/* "DNS:name" or "IP:address" for each name, comma-separated. */
static char *
alt_names(const char *const *names)
{
	GString *s = g_string_new(NULL);
	guint8 buf[16];

	for (const char *const *n = names; *n != NULL; n++) {
		gboolean ip = inet_pton(AF_INET, *n, buf) == 1 || inet_pton(AF_INET6, *n, buf) == 1;

		g_string_append_printf(s, "%s%s:%s", s->len > 0 ? "," : "", ip ? "IP" : "DNS", *n);
	}
	return g_string_free(s, FALSE);
}

static int
fill(X509 *x, EVP_PKEY *key, const char *const *names, GError **err)
{
	g_autofree char *san = alt_names(names);
	X509_NAME *subject = X509_get_subject_name(x);
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	guint8 serial[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return ssl_fail(err, "RAND_bytes");
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	if (!ok || X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * CERT_DAYS) == NULL ||
	    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const guchar *)names[0], -1,
	                               -1, 0) != 1 ||
	    X509_set_issuer_name(x, subject) != 1 || X509_set_pubkey(x, key) != 1)
		return ssl_fail(err, "filling in the certificate");
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	if (ext == NULL || X509_add_ext(x, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		return ssl_fail(err, "subjectAltName");
	}
	X509_EXTENSION_free(ext);
	if (X509_sign(x, key, EVP_sha256()) == 0)
		return ssl_fail(err, "signing");
	return 0;
}

int
hm_setup_make_cert(const char *const *names, char **cert_pem, char **key_pem, GError **err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	int r = -1;

	if (key == NULL || x == NULL || cb == NULL || kb == NULL)
		ssl_fail(err, "allocating");
	else if (fill(x, key, names, err) == 0) {
		if (PEM_write_bio_X509(cb, x) != 1 ||
		    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1) {
			ssl_fail(err, "PEM encoding");
		} else {
			*cert_pem = bio_text(cb);
			*key_pem = bio_text(kb);
			r = 0;
		}
	}
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}
