/* The two ways a person signs in (`homemail oauth login`): the device
 * authorization grant (RFC 8628: a URL and a code to enter in any
 * browser, while we poll) and the authorization code grant with PKCE
 * (RFC 7636: a URL to open; the browser comes back to a redirect URI
 * with a code). Each step is a function here; the admin command drives
 * them and talks to the person. */
#ifndef HM_OAUTH2_FLOW_H
#define HM_OAUTH2_FLOW_H

#include <glib.h>

#include "oauth2-token.h"

/* ---- authorization code + PKCE ---------------------------------------- */

typedef struct {
	char verifier[64];   /* 43..128 unreserved characters; 43 here + NUL */
	char challenge[48];  /* BASE64URL(SHA-256(verifier)), no padding */
	char state[33];      /* against a redirect we did not start (CSRF) */
} HmOauth2Pkce;

/* Fills p from the system's random source. 0, or -1 with *err. */
int hm_oauth2_pkce_new(HmOauth2Pkce *p, GError **err);

/* The S256 challenge of verifier (RFC 7636 4.2) into out (44 bytes+). */
void hm_oauth2_pkce_challenge(const char *verifier, char *out, gsize size);

/* The URL to open in a browser: c's authorize_url with response_type=code,
 * client_id, redirect_uri, scope, state, the S256 challenge, and for
 * Google access_type=offline and prompt=consent (else no refresh token). */
char *hm_oauth2_authorize_url(const HmOauth2Conf *c, const char *redirect_uri,
                              const HmOauth2Pkce *p);

/* Reads what the browser came back with: a whole redirected URL, or its
 * query ("code=...&state=..."). Returns the code, or NULL with *err:
 * HM_OAUTH2_ERROR_STATE when its state is missing or not want_state
 * (checked first: anything on the machine can reach the listener, and
 * an answer that is not this sign-in's must not end it), else the
 * provider's error (error=access_denied and its description, made
 * printable), or no code. */
char *hm_oauth2_redirect_code(const char *text, const char *want_state, GError **err);

/* Exchanges code (with the verifier and the same redirect_uri) at c's
 * token endpoint for tokens into *t. 0, or -1 with *err. */
int hm_oauth2_code_exchange(const HmOauth2Conf *c, const char *code, const char *redirect_uri,
                            const HmOauth2Pkce *p, HmOauth2Token *t, GError **err);

/* ---- device authorization grant --------------------------------------- */

/* The longest a device code is waited on, whatever its expires_in says. */
#define HM_OAUTH2_DEVICE_EXPIRES_MAX_S 3600

typedef struct {
	char *device_code;
	char *user_code;
	char *verification_uri;
	char *verification_uri_complete;  /* or NULL */
	gint64 expires_at;                /* monotonic µs */
	guint interval;                   /* seconds between polls (>= 1) */
} HmOauth2Device;

/* Asks c's device_url for a code. 0 and *d filled, or -1 with *err. */
int hm_oauth2_device_start(const HmOauth2Conf *c, HmOauth2Device *d, GError **err);

typedef enum {
	HM_OAUTH2_POLL_DONE,     /* *t holds the tokens */
	HM_OAUTH2_POLL_PENDING,  /* authorization_pending: poll again */
	HM_OAUTH2_POLL_SLOWER,   /* slow_down: d->interval grew by 5 s */
	HM_OAUTH2_POLL_FAILED,   /* *err: expired_token, access_denied, ... */
} HmOauth2Poll;

/* One poll of c's token endpoint for d's device code. */
HmOauth2Poll hm_oauth2_device_poll(const HmOauth2Conf *c, HmOauth2Device *d, HmOauth2Token *t,
                                   GError **err);

/* Frees d's fields. NULL-safe. */
void hm_oauth2_device_clear(HmOauth2Device *d);

#endif
