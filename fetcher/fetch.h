/* The fetch backends (POP3, IMAP): one descriptor per protocol, so the
 * account logic (fetcher/account.c) is written once against this table,
 * as fdm's `struct fetch` does. A backend owns its connection and speaks
 * its protocol; it knows nothing of state files or injection. */
#ifndef HM_FETCH_H
#define HM_FETCH_H

#include <glib.h>
#include <openssl/ssl.h>

#include "conf/hmconfig.h"

#define HM_FETCH_ERROR hm_fetch_error_quark()
GQuark hm_fetch_error_quark(void);

typedef enum {
	HM_FETCH_ERROR_NETWORK,   /* connect failed, timeout, connection cut */
	HM_FETCH_ERROR_TLS,       /* TLS unavailable where configured, handshake or verification failed */
	HM_FETCH_ERROR_AUTH,      /* the server refused our credentials */
	HM_FETCH_ERROR_PROTOCOL,  /* malformed, oversized or out-of-range reply; unexpected BYE */
	HM_FETCH_ERROR_SERVER,    /* a well-formed refusal (-ERR, NO, BAD) of a command we need */
	HM_FETCH_ERROR_LOCAL,     /* the local side failed (injection, state): temporary */
	HM_FETCH_ERROR_TOKEN,     /* the server refused the OAuth2 access token: a
	                           * refreshed one may pass (hm_account_open()) */
	HM_FETCH_ERROR_SIGN_IN,   /* no OAuth2 sign-in, or the provider ended it:
	                           * only `homemail oauth login` helps */
} HmFetchError;

/* Moves an error of another domain (lib/'s HM_ERROR) into HM_FETCH_ERROR
 * with code, keeping its text, so callers can tell TLS trouble from network
 * trouble or a local failure. NULL-safe; HM_FETCH_ERROR errors are kept. */
void hm_fetch_error_recode(GError **err, HmFetchError code);

/* hm_fetch_error_recode() with the code that fits lib/'s: a timeout or
 * a lost connection is the network, a malformed reply the protocol,
 * HM_ERROR_TLS and HM_ERROR_AUTH what they say, the rest local. */
void hm_fetch_error_from_lib(GError **err);

/* rc as it is, and for rc < 0 *err through hm_fetch_error_from_lib(): for
 * "return hm_fetch_lib(hm_pp_send(...), err)" over lib/'s engine. */
int hm_fetch_lib(int rc, GError **err);

/* Hard bound on one message held in memory, whatever max_size says: a
 * larger LIST/RFC822.SIZE is treated as over max_size (left upstream and
 * logged), a larger literal or RETR body is a protocol error. */
#define HM_FETCH_MAX_MESSAGE (256u * 1024 * 1024)

/* One message upstream. */
typedef struct {
	char *uid;          /* POP3 UIDL, or the IMAP UID in decimal; for a POP3
	                     * server without UIDL, NULL */
	guint32 num;        /* POP3 message number; IMAP UID */
	guint64 size;       /* from LIST / RFC822.SIZE (octets, CRLF form) */
	char *message_id;   /* Message-ID with <>, only after identify(); NULL
	                     * when unknown or the message has none */
	gboolean untracked; /* its UID is another message's too (POP3, IMAP), or
	                     * its UIDL line was malformed (POP3), so it cannot
	                     * be told apart from others: it is left upstream,
	                     * never recorded, removed or fetched. select()
	                     * logged why. POP3 gives it no uid (NULL); IMAP
	                     * keeps the UID it shares (num and uid), so a
	                     * state entry of that UID is not dropped for it. */
} HmFetchItem;

void hm_fetch_item_free(HmFetchItem *item);

/* Everything a backend needs to open a session. */
typedef struct {
	const HmAccountConf *acct;
	SSL_CTX *tls_ctx;     /* client context (system CAs or acct->ca_file); NULL for
	                       * tls = "none", which never starts TLS */
	int timeout_ms;       /* deadline for each read and write */
	guint window;         /* most commands pipelined at once (>= 1) */
	const char *token;    /* auth = "oauth2": the access token for this open */
} HmFetchParams;

/* Called for each retrieved message, in order. data is the message as the
 * server sent it (CRLF line ends, POP3 dot-stuffing removed), len octets;
 * it is only valid during the call. data is NULL when the message grew
 * past the account's max_size as it arrived (a listing may understate a
 * size): the backend read the rest and dropped it, so the session stays
 * in step, and len says how many octets arrived. A backend may also pass
 * such a message whole (IMAP, whose literal is announced); the caller
 * checks len either way. Returns 0 to go on, -1 with *err set
 * to stop the retrieval (the backend then stops, drains or drops what is
 * still in flight, and returns -1 with that error). */
typedef int (*HmFetchMessageFunc)(const HmFetchItem *item, const char *data, gsize len,
                                  gpointer user_data, GError **err);

typedef struct HmFetchSession HmFetchSession;

typedef struct {
	const char *name;     /* "pop3", "imap" */

	/* Connects, sets up TLS as acct->tls says (implicit, or STLS/STARTTLS,
	 * which is required and never skipped), reads the greeting, learns the
	 * capabilities and logs in (AUTH PLAIN where offered, else USER/PASS
	 * or LOGIN). A password is only sent over TLS, to a loopback host, or
	 * with allow_plaintext. Returns NULL with *err set (a one-line reason
	 * without the account name: "TLS: certificate not trusted (...)",
	 * "login refused: [AUTH] Authentication failed."). */
	HmFetchSession *(*open)(const HmFetchParams *p, GError **err);

	/* Opens folder (POP3 knows only "INBOX") and lists its messages with
	 * UID >= first_uid (POP3 ignores first_uid and lists all), ascending.
	 * *uidvalidity receives the folder's UIDVALIDITY (POP3: 0). *items
	 * receives a GPtrArray of HmFetchItem (it owns them). POP3 without
	 * UIDL lists with uid NULL; messages whose UIDs cannot be trusted are
	 * listed untracked, with one warning per problem (POP3: the first
	 * time the session lists them; IMAP: each listing). IMAP checks the listing against EXISTS
	 * (fetcher/imap-list.h): a folder that holds mail but lists none
	 * fails (HM_FETCH_ERROR_SERVER), so it is never taken for empty.
	 * Returns 0 or -1 with *err. */
	int (*select)(HmFetchSession *s, const char *folder, guint32 first_uid,
	              guint32 *uidvalidity, GPtrArray **items, GError **err);

	/* FALSE when the last select() found its listing short of the
	 * server's own count (IMAP EXISTS): the listing then says neither
	 * which messages are gone (so no state entry may be dropped for not
	 * being listed) nor that every UID below the highest listed is known
	 * (so no keep = true watermark may pass it). NULL where a listing is
	 * the server's count itself (POP3). */
	gboolean (*listed_all)(HmFetchSession *s);

	/* Fills message_id of each item (IMAP: UID FETCH ... BODY.PEEK[HEADER.
	 * FIELDS (MESSAGE-ID)]), for matching after a UIDVALIDITY change. NULL
	 * in backends that do not need it (POP3). */
	int (*identify)(HmFetchSession *s, GPtrArray *items, GError **err);

	/* Retrieves the n items, sending up to p->window requests ahead of the
	 * replies when the server allows pipelining, and calls fn for each in
	 * order. Nothing is marked read or deleted upstream (IMAP BODY.PEEK).
	 * Returns 0, or -1 with *err (fn's error when fn failed). */
	int (*retrieve)(HmFetchSession *s, HmFetchItem *const *items, guint n,
	                HmFetchMessageFunc fn, gpointer user_data, GError **err);

	/* Removes the n items upstream (keep = false): POP3 DELE (takes effect
	 * at close()), IMAP STORE +FLAGS.SILENT (\Seen \Deleted) then UID
	 * EXPUNGE (UIDPLUS) or EXPUNGE, pipelined. Returns 0 or -1. */
	int (*remove)(HmFetchSession *s, HmFetchItem *const *items, guint n, GError **err);

	/* Makes the removals sent so far take effect now, keeping the session
	 * usable (POP3: QUIT, then a new connection and login); message
	 * numbers change, so select() again before retrieving. NULL where
	 * removals take effect at once (IMAP). Returns 0 or -1 with *err. */
	int (*commit)(HmFetchSession *s, GError **err);

	/* TRUE when the session can wait() (IMAP with IDLE); NULL for POP3. */
	gboolean (*can_wait)(HmFetchSession *s);

	/* IMAP IDLE on the selected folder: returns 1 as soon as the server
	 * reports new mail (EXISTS or RECENT grew), 0 when timeout_ms passed
	 * or *stop became non-zero (checked at least every 500 ms), -1 with
	 * *err. IDLE is ended with DONE before returning either way, so the
	 * session can be used again. New mail reported since the last
	 * select() began its listing counts too, however it came: returns 1
	 * at once, without IDLE, for mail reported during the pass, and 1
	 * for mail reported in the reply to DONE. Each report is returned
	 * once. NULL for POP3. */
	int (*wait)(HmFetchSession *s, int timeout_ms, const volatile gint *stop, GError **err);

	/* Ends the session politely (POP3 QUIT: this is when DELEs take
	 * effect, and the reply is checked; IMAP LOGOUT) and frees it.
	 * Returns 0 or -1 with *err; s is freed either way. */
	int (*close)(HmFetchSession *s, GError **err);

	/* Drops the connection without QUIT/LOGOUT (so POP3 deletes nothing)
	 * and frees s. NULL-safe. */
	void (*abort)(HmFetchSession *s);
} HmFetchBackend;

extern const HmFetchBackend hm_fetch_pop3;
extern const HmFetchBackend hm_fetch_imap;

/* The backend for acct->protocol. */
const HmFetchBackend *hm_fetch_backend(const HmAccountConf *acct);

#endif
