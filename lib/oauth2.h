/* OAuth2 sign-in for a remote server (an upstream mailbox, a smart host):
 * what the config says about the identity provider, and the presets that
 * fill it in for Google and Microsoft. Tokens (fetching, storing,
 * refreshing) build on this; the SASL mechanisms that carry them are in
 * sasl.h. */
#ifndef HM_OAUTH2_H
#define HM_OAUTH2_H

#include <glib.h>

#include "secret.h"

typedef enum {
	HM_AUTH_PASSWORD = 0,  /* "password": PLAIN or LOGIN */
	HM_AUTH_OAUTH2,        /* "oauth2": XOAUTH2 or OAUTHBEARER with a token */
} HmAuthKind;

/* An account's or smart host's `oauth2 = { ... }`. After
 * hm_oauth2_conf_complete() every URL the flows need is set. */
typedef struct {
	char *provider;          /* "google", "microsoft" or "custom" */
	char *client_id;
	HmSecret client_secret;  /* client_secret / client_secret_file; none for
	                          * a public client */
	char *authorize_url;     /* code + PKCE (RFC 7636) */
	char *token_url;
	char *device_url;        /* device authorization (RFC 8628); NULL: none */
	char *scope;             /* space-separated */
	char *tenant;            /* Microsoft: "common" (default), "consumers",
	                          * "organizations" or a tenant ID */
	char *ca_file;           /* NULL: the system CAs */
} HmOauth2Conf;

/* The sign-in flow `homemail oauth login` uses for c. */
typedef enum {
	HM_OAUTH2_FLOW_DEVICE,   /* print a URL and a code, poll the token URL */
	HM_OAUTH2_FLOW_CODE,     /* print a URL; the browser comes back with a code */
} HmOauth2Flow;

/* Fills what c's provider presets and the config left unset: URLs and
 * scope for "google" and "microsoft" (its tenant in the URLs); nothing for
 * "custom". Returns NULL, or (c unchanged) the problem in words: an
 * unknown provider, a custom provider without token_url, or without both
 * device_url and authorize_url, a tenant with characters a URL path may
 * not hold. */
const char *hm_oauth2_conf_complete(HmOauth2Conf *c);

/* DEVICE where the provider lets mail scopes use the device grant
 * (Microsoft, a custom provider with device_url), CODE where it does not
 * (Google refuses the mail scope on its device endpoint). */
HmOauth2Flow hm_oauth2_conf_flow(const HmOauth2Conf *c);

/* Frees every field of c (the secret wiped) and zeroes it. NULL-safe. */
void hm_oauth2_conf_clear(HmOauth2Conf *c);

#endif
