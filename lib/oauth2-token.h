/* OAuth2 tokens: what a token endpoint answers (RFC 6749 5.1, 5.2), the
 * store in state_dir/oauth/ (0600 files in a 0700 folder, atomic writes,
 * one lock per token), and the one way a program gets an access token:
 * from the store, refreshed shortly before it expires. The fetcher and the
 * relay may refresh the same token at once; the lock makes the second wait
 * and use what the first saved, so a rotated refresh token is never lost. */
#ifndef HM_OAUTH2_TOKEN_H
#define HM_OAUTH2_TOKEN_H

#include <glib.h>

#include "http.h"
#include "oauth2.h"

#define HM_OAUTH2_ERROR hm_oauth2_error_quark()
GQuark hm_oauth2_error_quark(void);

typedef enum {
	HM_OAUTH2_ERROR_NOT_SIGNED_IN,  /* no token stored, or one without a
	                                 * refresh token that has expired */
	HM_OAUTH2_ERROR_INVALID_GRANT,  /* the provider refused the refresh
	                                 * token (revoked, expired, rotated away):
	                                 * only a new sign-in helps */
	HM_OAUTH2_ERROR_REFUSED,        /* any other error answer (invalid_client,
	                                 * invalid_scope, ...): a config problem */
	HM_OAUTH2_ERROR_TEMPORARY,      /* network, TLS, 5xx, 429: try later */
	HM_OAUTH2_ERROR_PROTOCOL,       /* an answer that is not what RFC 6749
	                                 * describes */
	HM_OAUTH2_ERROR_PENDING,        /* device grant: authorization_pending */
	HM_OAUTH2_ERROR_SLOW_DOWN,      /* device grant: slow_down */
	HM_OAUTH2_ERROR_STATE,          /* a redirect without this sign-in's
	                                 * state: not its answer, to be ignored */
} HmOauth2Error;

/* Refresh this long before the access token expires: a fetch or a smart
 * host session must not start with a token that dies on the way. */
#define HM_OAUTH2_MARGIN_S 120

/* An answer without expires_in (RFC 6749 5.1 makes it optional) lives an
 * hour, what most providers give: counted as expired, it would be
 * refreshed at every use, or fail with no refresh token. */
#define HM_OAUTH2_LIFETIME_DEFAULT_S 3600

/* No access token is believed to live longer than a year: a bogus
 * expires_in must neither overflow nor keep a dead token for centuries. */
#define HM_OAUTH2_LIFETIME_MAX_S (365 * 86400)

typedef struct {
	char *access_token;
	char *refresh_token;  /* NULL: none (the provider gave none) */
	char *scope;          /* as granted; NULL: as asked */
	gint64 expires_at;    /* Unix time; an answer without expires_in
	                       * lives HM_OAUTH2_LIFETIME_DEFAULT_S */
	/* Set when the provider refused the refresh token (invalid_grant): why,
	 * in words, and when (Unix time). The tokens are then NULL: the store
	 * remembers the refusal so that no program asks the provider again
	 * with a dead refresh token at each retry. */
	char *signed_out;
	gint64 signed_out_at;
} HmOauth2Token;

/* "signed out by the provider on DATE (WHY)" for a signed-out t. */
char *hm_oauth2_token_signed_out_words(const HmOauth2Token *t);
/* Wipes the tokens and frees every field. NULL-safe. */
void hm_oauth2_token_clear(HmOauth2Token *t);

/* Reads a token endpoint's answer, given as its HTTP status and JSON body,
 * received at now (Unix time), into *t (cleared first). A missing
 * refresh_token is not an error (the caller keeps the one it had).
 * Returns 0, or -1 with *err: the provider's error answer in words (its
 * "error" code and "error_description"), HM_OAUTH2_ERROR_INVALID_GRANT for
 * "invalid_grant", HM_OAUTH2_ERROR_TEMPORARY for a 5xx or 429 status,
 * HM_OAUTH2_ERROR_PROTOCOL for anything that is not a token (no
 * access_token, a token_type other than Bearer, not JSON). */
int hm_oauth2_token_parse(long status, const char *body, gsize len, gint64 now,
                          HmOauth2Token *t, GError **err);

/* The store's file for user's token at c's provider:
 * state_dir/oauth/USER-HASH.json, where HASH tells apart one user at two
 * providers (token_url, client_id) and USER keeps only [A-Za-z0-9@._-].
 * An account and a smart host of one user and provider share it: one
 * sign-in serves both. */
char *hm_oauth2_token_path(const char *state_dir, const HmOauth2Conf *c, const char *user);

/* Loads the token at path into *t (a signed-out store: t->signed_out set,
 * no tokens). -1 with *err: HM_OAUTH2_ERROR_NOT_SIGNED_IN
 * when there is no such file, HM_ERROR_* when it cannot be read (a FIFO or
 * a link in its place included) or is not a stored token. */
int hm_oauth2_token_load(const char *path, HmOauth2Token *t, GError **err);

/* Saves t at path atomically and durably, mode 0600, creating the folder
 * (0700) when missing and refusing one that is a link. 0, or -1 with *err. */
int hm_oauth2_token_save(const char *path, const HmOauth2Token *t, GError **err);

/* Takes the lock of the token at path (path.lock, waiting for a holder).
 * The fd to pass to hm_oauth2_token_unlock(), or -1 with *err. */
int hm_oauth2_token_lock(const char *path, GError **err);
void hm_oauth2_token_unlock(int fd);

/* Appends name=value, the value form-encoded (RFC 6749 appendix B). */
void hm_oauth2_form_add(GString *form, const char *name, const char *value);

/* Appends c's client_id, and client_secret when it has one. */
void hm_oauth2_form_client(GString *form, const HmOauth2Conf *c);

/* POSTs form (then wiped) to url, trusting c's ca_file; refused over
 * plain http. 0 when the server answered (any status), or -1 with *err
 * (HM_OAUTH2_ERROR_TEMPORARY: network, TLS, timeout). */
int hm_oauth2_post(const HmOauth2Conf *c, const char *url, GString *form, HmHttpResponse *resp,
                   GError **err);

/* Sends form plus the client's part to c's token endpoint and reads the
 * answer into *t (hm_oauth2_token_parse()). 0, or -1 with *err. */
int hm_oauth2_token_request(const HmOauth2Conf *c, GString *form, HmOauth2Token *t,
                            GError **err);

/* Whether e (from hm_oauth2_access_token()) means only a new sign-in
 * (`homemail oauth login`) can help: NOT_SIGNED_IN or INVALID_GRANT. */
gboolean hm_oauth2_error_needs_login(const GError *e);

/* Asks c's token endpoint for a new access token with t's refresh token
 * (grant_type=refresh_token, the client secret when there is one) and
 * replaces *t with the answer, keeping the old refresh token when none
 * came. 0, or -1 with *err as hm_oauth2_token_parse(). */
int hm_oauth2_token_refresh(const HmOauth2Conf *c, HmOauth2Token *t, GError **err);

/* An access token for user at c's provider, from the store of state_dir:
 * the stored one while it lives HM_OAUTH2_MARGIN_S more after now, else
 * (or with force: the server refused the stored one) a refreshed one,
 * saved before it is returned. Under the token's lock. A refresh token the
 * provider refuses (INVALID_GRANT) leaves the store signed out: later
 * calls fail with NOT_SIGNED_IN, the refusal's words and date, and do not
 * ask the provider again until `homemail oauth login` saves a new token. Returns the token
 * (free it with hm_sasl_free_secret() or wipe it), or NULL with *err as
 * above; NOT_SIGNED_IN and INVALID_GRANT mean "sign in again". */
char *hm_oauth2_access_token(const char *state_dir, const HmOauth2Conf *c, const char *user,
                             gint64 now, gboolean force, GError **err);

/* Whether the store of state_dir holds a sign-in for user at c's provider
 * that may yield an access token (a live one, or a refresh token), without
 * asking the provider. FALSE with *err as hm_oauth2_access_token() would
 * fail for it (NOT_SIGNED_IN: no token, signed out, expired without a
 * refresh token; HM_ERROR_*: an unreadable store). */
gboolean hm_oauth2_signed_in(const char *state_dir, const HmOauth2Conf *c, const char *user,
                             gint64 now, GError **err);
#endif
