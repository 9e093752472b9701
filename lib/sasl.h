/* SASL (RFC 4422): one implementation of the mechanisms for the servers
 * (popd AUTH, relay AUTH) and the clients (fetcher POP3 AUTH and IMAP
 * AUTHENTICATE, smart-host SMTP AUTH). A mechanism is a descriptor: in
 * sasl.c (PLAIN RFC 4616, LOGIN draft-murchison-sasl-login), or in
 * sasl-oauth.c for the OAuth2 ones only clients use (XOAUTH2, OAUTHBEARER
 * RFC 7628); a client protocol is a descriptor of its framing
 * (HmSaslProto, after curl's SASLproto), so a new mechanism is one new
 * descriptor, not an edit of every protocol. Everything on the wire is
 * base64; credentials are wiped from memory after use. */
#ifndef HM_SASL_H
#define HM_SASL_H

#include <glib.h>

typedef struct HmSaslMech HmSaslMech;

/* The mechanism called name (any case), or NULL when we have none. */
const HmSaslMech *hm_sasl_mech_find(const char *name);

/* Its name as on the wire ("PLAIN"). */
const char *hm_sasl_mech_name(const HmSaslMech *mech);

/* What the servers offer, in the form of a capability list. */
#define HM_SASL_SERVER_MECHS "PLAIN LOGIN"

/* ---- the server side ------------------------------------------------- */

typedef struct HmSaslServer HmSaslServer;

HmSaslServer *hm_sasl_server_new(const HmSaslMech *mech);

/* Wipes the credentials and frees. NULL-safe. */
void hm_sasl_server_free(HmSaslServer *s);

/* What hm_sasl_server_step() and hm_sasl_plain_decode() made of a
 * response, beside 1 (a challenge follows). */
typedef enum {
	HM_SASL_OK = 0,
	HM_SASL_BAD = -1,               /* malformed */
	HM_SASL_PASSWORD_TOO_LONG = -2, /* well formed, but the password is over
	                                  * HM_PASSWORD_MAX octets: it can never
	                                  * be right, and a server may say so */
	HM_SASL_ENDED = -3,             /* hm_sasl_server_exchange(): the
	                                  * exchange ended without credentials
	                                  * (cancelled, connection lost) */
} HmSaslStatus;

/* Takes the client's next response: its initial response (NULL when the
 * command had none, "=" for an empty one) and then each line it sent after
 * a challenge. Returns 1 with *challenge (base64, maybe "") to send in a
 * continuation; HM_SASL_OK when the credentials are complete
 * (hm_sasl_server_user() and _password()); HM_SASL_BAD with *err
 * (HM_ERROR_PROTOCOL) when the response is malformed: bad base64, a
 * missing or extra NUL, an empty identity or password, an identity over
 * HM_SASL_FIELD_MAX octets or not UTF-8; HM_SASL_PASSWORD_TOO_LONG with
 * *err for a password over HM_PASSWORD_MAX. g_free() the challenge. */
int hm_sasl_server_step(HmSaslServer *s, const char *response, char **challenge,
                        GError **err);

/* Sends a challenge (base64) in the protocol's framing and returns the
 * client's next line (g_free()d by the caller with hm_sasl_free_secret()),
 * or NULL when the exchange is over: cancelled ("*"), too long, or the
 * connection lost; the function has answered the client then. */
typedef char *(*HmSaslAskFunc)(const char *challenge, gpointer data);

/* Runs a whole server exchange: takes initial (the command's initial
 * response, or NULL; freed here), steps through the challenges with ask,
 * and returns HM_SASL_OK (the credentials are complete), HM_SASL_BAD,
 * HM_SASL_PASSWORD_TOO_LONG, or HM_SASL_ENDED when ask returned NULL. The
 * servers' one loop, so popd and the relay frame it and nothing more. */
int hm_sasl_server_exchange(HmSaslServer *s, char *initial, HmSaslAskFunc ask, gpointer data);

/* After step returned 0: the identity to log in as, and the password.
 * An authorization identity other than the user itself is refused by
 * step (we do not act for others). */
const char *hm_sasl_server_user(const HmSaslServer *s);
const char *hm_sasl_server_password(const HmSaslServer *s);

/* RFC 4616 section 2: an identity is at most 255 octets (a password at
 * most HM_PASSWORD_MAX, lib/passwd.h: the same 255). */
#define HM_SASL_FIELD_MAX 255

/* ---- the client side ------------------------------------------------- */

typedef enum {
	HM_SASL_CONTINUE,   /* a challenge: the exchange goes on */
	HM_SASL_SUCCESS,    /* authenticated */
	HM_SASL_FAILURE,    /* refused */
} HmSaslVerdict;

/* A protocol's framing of the exchange; io is the protocol's own state.
 * Each callback returns 0, or -1 with *err (the session is then broken). */
typedef struct {
	/* Sends the command that starts the exchange: the protocol's verb
	 * ("AUTH", "A0001 AUTHENTICATE") and args ("PLAIN" or "PLAIN <base64
	 * initial response>"). shown is what a trace may show of args (the
	 * response masked). */
	int (*send_start)(gpointer io, const char *args, const char *shown, GError **err);
	/* Sends one response line (base64, or "*" to cancel); shown is what a
	 * trace may show of it ("********", or "*"). */
	int (*send_line)(gpointer io, const char *line, const char *shown, GError **err);
	/* Reads the server's next reply: a challenge (*text its base64), or
	 * the final verdict (*text the server's words, for messages; may be
	 * NULL). g_free() the text. */
	int (*read_reply)(gpointer io, HmSaslVerdict *verdict, char **text, GError **err);
	/* Longest start command with an initial response, including its
	 * line end ("AUTH " mech " " ir CRLF): POP3 255 (RFC 5034), SMTP 512
	 * (RFC 4954). Longer: the response waits for the server's challenge.
	 * 0: no limit (IMAP with SASL-IR). */
	gsize max_start_line;
} HmSaslProto;

/* The first of our password mechanisms, in our order of preference
 * (PLAIN, LOGIN), that offered (any case; NULL-terminated) names; NULL
 * when none is. Never an OAuth2 mechanism: those take a token, not a
 * password (hm_sasl_client_pick_oauth()). */
const HmSaslMech *hm_sasl_client_pick(const char *const *offered);

/* What a client logs in with. */
typedef struct {
	const char *user;   /* the identity to log in as */
	const char *secret; /* the password, or for XOAUTH2 and OAUTHBEARER
	                     * the OAuth2 access token */
	const char *host;   /* OAUTHBEARER's host= (the server's name as
	                     * configured), or NULL to leave it out */
	guint16 port;       /* OAUTHBEARER's port=, or 0 to leave it out */
} HmSaslCreds;

/* Authenticates user with password over proto, as hm_sasl_client_run_creds()
 * with no host, no port and no refusal wanted. */
int hm_sasl_client_run(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech,
                       const char *user, const char *password, gboolean ir_ok, GError **err);

typedef struct HmSaslOauthError HmSaslOauthError;

/* Authenticates creds over proto with mech (any of ours, the OAuth2 ones
 * included): sends the initial response with the command when ir_ok and
 * "AUTH " mech " " response CRLF fits max_start_line, else when the
 * server asks with an empty challenge; answers each challenge, and reads
 * the verdict. An OAuth2 mechanism's failure challenge (base64 JSON) is
 * decoded into *refusal (when not NULL; zeroed first, so kind stays
 * HM_SASL_OAUTH_NONE when there was none) and answered with the dummy
 * response its mechanism requires, and the server's final refusal read.
 * Returns 0 when the server accepted. -1 with *err: HM_ERROR_AUTH with
 * the server's words when it refused; after an OAuth2 failure challenge,
 * its meaning first: "the access token is invalid or expired
 * (invalid_token; scope https://mail.google.com/); the server said:
 * [AUTHENTICATIONFAILED] ..." (refusal->kind HM_SASL_OAUTH_INVALID_TOKEN is what tells the caller
 * to refresh the token and try once more); HM_ERROR_PROTOCOL when it sent
 * a challenge the mechanism cannot answer or one that is not base64 (the
 * exchange is cancelled with "*" and its answer read); HM_ERROR_FAILED,
 * before anything is sent, when creds cannot be framed by mech (an OAuth2
 * token, user or host with a control character, an empty token); else
 * what a callback set. Traces see every response as "********". */
int hm_sasl_client_run_creds(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech,
                             const HmSaslCreds *creds, gboolean ir_ok, HmSaslOauthError *refusal,
                             GError **err);

/* ---- OAuth2: XOAUTH2 and OAUTHBEARER (lib/sasl-oauth.c) ---------------
 * Client side only; our servers offer HM_SASL_SERVER_MECHS. The file links
 * json-glib (HM_OAUTH2_LIBS in Makefile.am), so only what calls one of the
 * functions below pays for it; hm_sasl_mech_find() does not know these
 * mechanisms, for it is the servers' lookup. */

/* OAUTHBEARER (RFC 7628) when offered (any case; NULL-terminated names),
 * else XOAUTH2 (Google's and Microsoft's), else NULL. */
const HmSaslMech *hm_sasl_client_pick_oauth(const char *const *offered);

/* The OAuth2 mechanism called name (any case), or NULL. */
const HmSaslMech *hm_sasl_oauth_mech_find(const char *name);

/* What a failure challenge says, as far as we act on it. */
typedef enum {
	HM_SASL_OAUTH_NONE = 0,           /* no failure challenge seen */
	HM_SASL_OAUTH_INVALID_TOKEN,      /* "invalid_token" or "401": refresh, retry */
	HM_SASL_OAUTH_INSUFFICIENT_SCOPE, /* "insufficient_scope" or "403" */
	HM_SASL_OAUTH_INVALID_REQUEST,    /* "invalid_request" or "400" */
	HM_SASL_OAUTH_OTHER,              /* another status */
	HM_SASL_OAUTH_UNREADABLE,         /* a challenge that is not the JSON
	                                    * of RFC 7628 section 3.2.2 */
} HmSaslOauthKind;

/* Bounds on the fields kept (octets, without the NUL): a longer one makes
 * the challenge junk. The scope holds a list of URLs. */
#define HM_SASL_OAUTH_STATUS_MAX 64
#define HM_SASL_OAUTH_SCOPE_MAX 1024
#define HM_SASL_OAUTH_SCHEMES_MAX 64

/* A decoded failure challenge. Fields are printable ASCII, "" when
 * absent; no member is owned, so it needs no freeing. */
struct HmSaslOauthError {
	HmSaslOauthKind kind;
	char status[HM_SASL_OAUTH_STATUS_MAX + 1];
	char scope[HM_SASL_OAUTH_SCOPE_MAX + 1];
	char schemes[HM_SASL_OAUTH_SCHEMES_MAX + 1];
};

/* Decodes a failure challenge as the server sent it (b64[0..len), base64
 * of a JSON object, e.g. {"status":"invalid_token","scope":"...",
 * "schemes":"bearer"}): status (a string, or an integer as some servers
 * send) is required, scope and schemes optional (one that is not a string
 * is taken as absent), other members ignored. Returns TRUE and fills
 * *out; FALSE for anything else (bad base64, not a JSON object, over 4096
 * octets decoded, no usable status, a string over its bound or with a
 * byte outside printable ASCII), with *out zeroed but kind
 * HM_SASL_OAUTH_UNREADABLE. */
gboolean hm_sasl_oauth_error_parse(const char *b64, gsize len, HmSaslOauthError *out);

/* The failure in words, for a log line: "the access token is invalid or
 * expired (invalid_token; scope https://mail.google.com/)". g_free() it. */
char *hm_sasl_oauth_error_describe(const HmSaslOauthError *e);

/* Whether a refused OAuth2 login may pass with a refreshed token: the
 * server said the token is invalid or expired, or said nothing we could
 * read (Microsoft often refuses a dead token without a challenge, and
 * Postfix answers the same 535 when its own token check fails). */
gboolean hm_sasl_oauth_may_be_token(const HmSaslOauthError *e);

/* ---- PLAIN by hand (tests, fuzzing) ----------------------------------- */

typedef struct {
	char *authzid;   /* may be empty */
	char *authcid;
	char *password;  /* wiped by hm_sasl_plain_clear() */
} HmSaslPlain;

/* Decodes a base64 PLAIN response ("authzid\0authcid\0passwd") with the
 * checks of hm_sasl_server_step(). Returns HM_SASL_OK and fills *out, or a
 * negative HmSaslStatus with *err (and *out empty). */
HmSaslStatus hm_sasl_plain_decode(const char *b64, gsize len, HmSaslPlain *out, GError **err);

/* Wipes the password and frees the fields. */
void hm_sasl_plain_clear(HmSaslPlain *p);

/* The base64 PLAIN response for authcid/password (empty authzid); the
 * caller wipes and frees it with hm_sasl_free_secret(). */
char *hm_sasl_plain_encode(const char *authcid, const char *password);

/* Overwrites a NUL-terminated secret with zeros and frees it. NULL-safe. */
void hm_sasl_free_secret(char *secret);

#endif
