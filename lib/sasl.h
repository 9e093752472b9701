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

/* Decodes a base64 PLAIN response ("authzid\0authcid\0passwd"). Rejects bad
 * base64, a missing NUL, an extra NUL, an empty authcid or password, and
 * fields over 255 octets. Returns 0 and fills *out, or -1 with *err. */
int hm_sasl_plain_decode(const char *b64, gsize len, HmSaslPlain *out, GError **err);

/* Wipes the password and frees the fields. */
void hm_sasl_plain_clear(HmSaslPlain *p);

/* The base64 PLAIN response for authcid/password (empty authzid); the
 * caller wipes and frees it with hm_sasl_free_secret(). */
char *hm_sasl_plain_encode(const char *authcid, const char *password);

/* Overwrites a NUL-terminated secret with zeros and frees it. */
void hm_sasl_free_secret(char *secret);

#endif
