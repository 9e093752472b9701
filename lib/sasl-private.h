/* What lib/sasl.c (the mechanisms, the server side) shares with
 * lib/sasl-client.c (the client exchange). Nothing else includes this. */
#ifndef HM_SASL_PRIVATE_H
#define HM_SASL_PRIVATE_H

#include "sasl.h"

/* Bytes that may hold a credential: wiped when freed. data is
 * NUL-terminated for convenience (len does not count it). */
typedef struct {
	char *data;
	gsize len;
} HmSaslSecret;

HmSaslSecret *hm_sasl_secret_new(const void *data, gsize len);
void hm_sasl_secret_free(HmSaslSecret *s);

/* base64 text -> bytes, "=" being the empty response; refused as "too
 * long" before decoding when it would exceed max bytes. mech names the
 * mechanism in messages. NULL with *err (HM_ERROR_PROTOCOL or base64's
 * HM_ERROR_PARSE). */
HmSaslSecret *hm_sasl_decode(const char *b64, gsize max, const char *mech, GError **err);

struct HmSaslMech {
	const char *name;
	/* Client: the initial response (raw bytes), or NULL for a mechanism
	 * that waits for the server's first challenge. */
	HmSaslSecret *(*client_start)(const char *user, const char *password);
	/* Client: the answer to challenge number step (0-based; the initial
	 * response, when there is one and the server asked for it with an
	 * empty challenge, does not count), or NULL with *err. NULL for a
	 * mechanism with no challenges. */
	HmSaslSecret *(*client_step)(const char *user, const char *password, guint step,
	                             GError **err);
	/* Server: takes the next response (raw bytes; NULL when the command
	 * had no initial response) as hm_sasl_server_step() says. */
	int (*server_step)(HmSaslServer *s, const HmSaslSecret *resp, HmSaslSecret **challenge,
	                   GError **err);
};

#endif
