/* What lib/sasl.c (the mechanisms, the server side) and lib/sasl-oauth.c
 * (the OAuth2 mechanisms) share with lib/sasl-client.c (the client
 * exchange). Nothing else includes this. */
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

/* One client exchange, as a mechanism's steps see it. */
typedef struct {
	const HmSaslCreds *creds;
	/* The server asked for the initial response with an empty first
	 * challenge: that challenge is not one of the mechanism's steps. */
	gboolean ir_asked;
	/* What a failure challenge said (OAuth2), for the refusal's message
	 * and the caller; kind HM_SASL_OAUTH_NONE when there was none. */
	HmSaslOauthError refusal;
	/* That in words, put before the server's own (g_free()d). */
	char *why;
} HmSaslClient;

struct HmSaslMech {
	const char *name;
	/* Client: refuses (HM_ERROR_FAILED) credentials the mechanism cannot
	 * frame, before anything is sent. NULL: any will do. */
	int (*client_check)(const HmSaslCreds *creds, GError **err);
	/* Client: the initial response (raw bytes), or NULL for a mechanism
	 * that waits for the server's first challenge. */
	HmSaslSecret *(*client_start)(const HmSaslCreds *creds);
	/* Client: the answer to challenge number step (0-based; the initial
	 * response, when there is one and the server asked for it with an
	 * empty challenge, does not count) whose decoded bytes are chal, or
	 * NULL with *err. NULL for a mechanism with no challenges. */
	HmSaslSecret *(*client_step)(HmSaslClient *c, guint step, const HmSaslSecret *chal,
	                             GError **err);
	/* Server: takes the next response (raw bytes; NULL when the command
	 * had no initial response) as hm_sasl_server_step() says. NULL for a
	 * mechanism only clients use. */
	int (*server_step)(HmSaslServer *s, const HmSaslSecret *resp, HmSaslSecret **challenge,
	                   GError **err);
};

#endif
