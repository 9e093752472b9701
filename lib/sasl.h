/* SASL PLAIN (RFC 4616), for the servers (popd AUTH, relay AUTH) and the
 * clients (fetcher, smart-host client). One implementation, used through
 * each protocol's own framing. */
#ifndef HM_SASL_H
#define HM_SASL_H

#include <glib.h>

typedef struct {
	char *authzid;   /* may be empty */
	char *authcid;
	char *password;  /* wiped by hm_sasl_plain_clear() */
} HmSaslPlain;

/* What hm_sasl_plain_decode() made of a response. */
typedef enum {
	HM_SASL_OK = 0,
	HM_SASL_BAD = -1,               /* malformed */
	HM_SASL_PASSWORD_TOO_LONG = -2, /* well formed, but the password is over
	                                  * HM_PASSWORD_MAX octets: it can never
	                                  * be right, and a server may say so */
} HmSaslStatus;

/* Decodes a base64 PLAIN response ("authzid\0authcid\0passwd"). Rejects bad
 * base64, a missing NUL, an extra NUL, an empty authcid or password,
 * identities over 255 octets and a password over HM_PASSWORD_MAX (the
 * same 255). Returns HM_SASL_OK and fills *out, or a negative status with
 * *err set (HM_ERROR_PROTOCOL) and *out empty. */
HmSaslStatus hm_sasl_plain_decode(const char *b64, gsize len, HmSaslPlain *out, GError **err);

/* Wipes the password and frees the fields. */
void hm_sasl_plain_clear(HmSaslPlain *p);

/* The base64 PLAIN response for authcid/password (empty authzid); the
 * caller wipes and frees it with hm_sasl_free_secret(). */
char *hm_sasl_plain_encode(const char *authcid, const char *password);

/* Overwrites a NUL-terminated secret with zeros and frees it. */
void hm_sasl_free_secret(char *secret);

#endif
