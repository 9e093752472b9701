/* SASL (RFC 4422): one implementation of the mechanisms for the servers
 * (popd AUTH, relay AUTH) and the clients (fetcher POP3 AUTH and IMAP
 * AUTHENTICATE, smart-host SMTP AUTH). A mechanism is a descriptor in
 * sasl.c (PLAIN RFC 4616, LOGIN draft-murchison-sasl-login); a client
 * protocol is a descriptor of its framing (HmSaslProto, after curl's
 * SASLproto), so a new mechanism (XOAUTH2, OAUTHBEARER) is one new
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

/* The first of our mechanisms, in our order of preference (PLAIN, LOGIN),
 * that offered (any case; NULL-terminated) names; NULL when none is. */
const HmSaslMech *hm_sasl_client_pick(const char *const *offered);

/* Authenticates user with password over proto: sends the initial response
 * with the command when ir_ok and it fits, answers each challenge, and
 * reads the verdict. Returns 0 when the server accepted. -1 with *err:
 * HM_ERROR_AUTH "refused: <server's words>" when it refused; HM_ERROR_PROTOCOL
 * when it sent a challenge the mechanism cannot answer or one that is not
 * base64 (the exchange is cancelled with "*" and its answer read); else
 * what a callback set. */
int hm_sasl_client_run(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech,
                       const char *user, const char *password, gboolean ir_ok, GError **err);

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
