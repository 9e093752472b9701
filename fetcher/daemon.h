/* Scheduling the accounts: every account once (--once, the systemd
 * timer), or the daemon that polls every fetcher.interval and keeps an
 * IMAP IDLE session per folder where idle = true. Accounts run
 * concurrently, one thread each (one per folder when idling), so a slow
 * or broken server delays nobody else. */
#ifndef HM_FETCH_DAEMON_H
#define HM_FETCH_DAEMON_H

#include "conf/hmconfig.h"

/* After an error the daemon retries after this long, doubling per
 * consecutive failure up to the maximum. */
#define HM_FETCH_BACKOFF_FIRST_S 5
#define HM_FETCH_BACKOFF_MAX_S (15 * 60)
/* RFC 2177: re-issue IDLE before the 30-minute inactivity logout. */
#define HM_FETCH_IDLE_RENEW_S (29 * 60)

/* Fetches every account (or only the one named only, when not NULL)
 * once, concurrently. Returns the number of accounts that failed; each
 * failure is logged as "ACCOUNT: reason". */
guint hm_fetcher_run_once(const HmConfig *cfg, const char *only);

/* Runs the daemon until SIGTERM or SIGINT (blocked in every thread and
 * taken with sigwait() by the calling thread), then tells every worker to
 * stop, closes their sessions politely and returns. SIGUSR1 makes every
 * worker that sleeps (until the next poll, or after a failure) poll now:
 * `homemail network-up` sends it when the network comes back. Returns the number of
 * accounts that could not even be set up. */
guint hm_fetcher_daemon(const HmConfig *cfg, const char *only);

#endif
