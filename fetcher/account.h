/* One account's fetch: the logic that makes the invariant hold, written
 * once for both protocols against fetcher/fetch.h. For each folder: list
 * what is upstream, compare with the state, fetch what is new, hand each
 * message to the injector, record it in the state only once the local
 * side holds it durably, and only then (keep = false) remove it upstream.
 * A crash at any point loses nothing and duplicates at most the message
 * whose injection was in flight. */
#ifndef HM_FETCH_ACCOUNT_H
#define HM_FETCH_ACCOUNT_H

#include "conf/hmconfig.h"
#include "fetcher/fetch.h"
#include "fetcher/inject.h"
#include "fetcher/lock.h"

/* Pipelined requests kept in flight: at 40 ms round trip and ~2,000
 * messages/s locally, ~80 are needed to keep the link busy. */
#define HM_FETCH_WINDOW 100
/* Read/write deadline on upstream connections. */
#define HM_FETCH_TIMEOUT_MS (120 * 1000)
/* How long a run waits for an account another process is fetching. */
#define HM_FETCH_LOCK_WAIT_MS (30 * 1000)
/* A message the local side refused for good is tried again after a day,
 * or sooner once the configuration file changed: a refusal is mostly a
 * limit or a rule someone has to change, so trying on every poll (as
 * fetchmail does) would download it and log the same error every few
 * minutes, while once a day still picks up a fix made where our
 * configuration does not show it (another MTA's own limit). */
#define HM_FETCH_RETRY_AFTER (24 * 60 * 60)
/* A message that arrives less than half its listed size and more than
 * this many octets short was cut off on the way, not miscounted: listed
 * sizes are estimates on some servers (Gmail's RFC822.SIZE) and servers
 * counting bare LF line ends list less than arrives, never more, so what
 * is seen in practice are differences of a few percent; a cut message
 * loses its body. The slack keeps small messages, where one rewritten
 * header line is a large share, out of it. Such a message is delivered
 * as it arrived but never removed upstream, where the whole stays. */
#define HM_FETCH_SHORT_SLACK 1024

typedef struct {
	const HmConfig *cfg;
	const HmAccountConf *acct;
	const HmFetchBackend *backend;
	HmFetchParams params;
	HmInjector *inj;           /* opened on the first message, then kept */
	char *rcpt;                /* `to` as an address (user@hostname for a bare
	                            * user), for Received: and SMTP/LMTP */
} HmAccount;

typedef struct {
	guint listed, delivered, skipped, refused, removed, recognised;
	guint64 octets;
} HmFetchStats;

/* Prepares acct for fetching (TLS context, backend). Returns 0 or -1 with
 * *err (e.g. an unreadable ca_file, or a password_file that could not be
 * read at start-up). hm_account_clear() releases it. */
int hm_account_init(HmAccount *a, const HmConfig *cfg, const HmAccountConf *acct,
                    GError **err);
void hm_account_clear(HmAccount *a);

/* Opens a session for a with its backend. With auth = "oauth2" it takes
 * the access token from the store (refreshed when due) and, when the
 * server refuses it, refreshes it once and tries again. A sign-in that
 * only `homemail oauth login` can mend (none yet, or the provider refused
 * the refresh token) is HM_FETCH_ERROR_AUTH saying so; a token endpoint
 * out of reach HM_FETCH_ERROR_NETWORK. NULL with *err. */
HmFetchSession *hm_account_open(HmAccount *a, GError **err);

/* Fetches folder on an open session (the account lock held by the
 * caller). A message over max_size is left upstream, logged once, and
 * fetched on a later run once the limit lets it through. A message the
 * local side refuses for good is left upstream, logged, tried again after
 * HM_FETCH_RETRY_AFTER (or once the configuration file changed), and
 * makes the result -1 after the rest of the folder is done; so does a
 * message that arrives empty (not delivered, tried again likewise) or cut
 * short (HM_FETCH_SHORT_SLACK: delivered as it arrived, never removed). A
 * temporary local failure stops at once. Returns 0 or -1 with *err (one
 * line, without the account name). */
int hm_account_fetch_folder(HmAccount *a, HmFetchSession *s, const char *folder,
                            HmFetchStats *stats, GError **err);

/* One folder pass on an open session as the IDLE loop needs it: takes
 * the account lock through lock, which the account's other folders in
 * this process share (waiting up to lock_wait_ms for another process),
 * fetches, releases the lock and the injector's connection, logs a
 * summary. 0 or -1 with *err. */
int hm_account_pass_folder(HmAccount *a, HmFetchSession *s, const char *folder,
                           HmFetchLockShare *lock, int lock_wait_ms, GError **err);

/* A whole pass over the account: lock (waiting up to lock_wait_ms),
 * open, every folder, close. Failures of one folder do not stop the
 * others. Logs a summary. Returns 0 or -1 with *err. */
int hm_account_run(HmAccount *a, int lock_wait_ms, GError **err);

#endif
