#include <config.h>

#include <signal.h>
#include <string.h>

#include "fetcher/account.h"
#include "fetcher/daemon.h"
#include "lib/heap.h"
#include "lib/log.h"

/* What every worker of one run shares: the stop flag and a condition to
 * sleep on, so a stop request ends every sleep at once; and the count of
 * "poll now" requests (SIGUSR1: the network is back), which ends every
 * sleep too but not the run. */
typedef struct {
	GMutex lock;
	GCond cond;
	volatile gint stop;
	guint polls;
} Shared;

typedef struct {
	Shared *shared;
	const HmConfig *cfg;
	const HmAccountConf *acct;
	const char *folder;       /* IDLE worker: its folder; NULL: whole account */
	HmFetchLockShare *lock;   /* IDLE worker: the account lock, shared with
	                           * the account's other folders */
	gboolean failed;
	gboolean told_sign_in;    /* the "run homemail oauth login" line is out */
	guint polls_seen;         /* "poll now" requests taken (see nap()) */
} Worker;

static gboolean
stopping(const Shared *sh)
{
	return g_atomic_int_get(&sh->stop) != 0;
}

/* Sleeps up to secs, or not at all once a "poll now" came that *seen
 * (the worker's count of them) has not taken yet, even one that came
 * while the worker was busy; returns early (FALSE) when told to stop. */
static gboolean
nap(Shared *sh, guint secs, guint *seen)
{
	gint64 until = g_get_monotonic_time() + (gint64)secs * G_USEC_PER_SEC;

	hm_heap_give_back();
	g_mutex_lock(&sh->lock);
	while (!stopping(sh) && sh->polls == *seen &&
	       g_cond_wait_until(&sh->cond, &sh->lock, until))
		;
	*seen = sh->polls;
	g_mutex_unlock(&sh->lock);
	return !stopping(sh);
}

static void
log_failure(const HmAccountConf *acct, const GError *err)
{
	hm_err("%s: %s", acct->name, err->message);
}

/* A daemon's failure: as log_failure(), except that a sign-in the provider
 * ended is said once, not at each retry, until the account works again
 * (as fetchmail mails its "authfail" notice once). The retries only read
 * the token store, which remembers the refusal: the provider is not asked.
 * Returns the level for the lines that go with it. */
static HmLogLevel
log_daemon_failure(Worker *w, const GError *err)
{
	gboolean sign_in = g_error_matches(err, HM_FETCH_ERROR, HM_FETCH_ERROR_SIGN_IN);
	HmLogLevel level = sign_in && w->told_sign_in ? HM_LOG_DEBUG : HM_LOG_INFO;

	if (level == HM_LOG_DEBUG)
		hm_debug("%s: still: %s", w->acct->name, err->message);
	else
		log_failure(w->acct, err);
	w->told_sign_in = sign_in;
	return level;
}

static gpointer
once_worker(gpointer data)
{
	Worker *w = data;
	HmAccount a;
	g_autoptr(GError) err = NULL;

	if (hm_account_init(&a, w->cfg, w->acct, &err) < 0 ||
	    hm_account_run(&a, HM_FETCH_LOCK_WAIT_MS, &err) < 0) {
		log_failure(w->acct, err);
		w->failed = TRUE;
	}
	hm_account_clear(&a);
	return NULL;
}

static gboolean
selected(const HmAccountConf *acct, const char *only)
{
	return only == NULL || strcmp(acct->name, only) == 0;
}

static void
lock_share_free(gpointer p)
{
	hm_fetch_lock_share_clear(p);
	g_free(p);
}

/* Starts fn for each selected account (and each folder, for IDLE
 * workers when idle_per_folder), waits for them, returns the failures. */
static guint
run_workers(Shared *sh, const HmConfig *cfg, const char *only, GThreadFunc fn,
            gboolean daemon, void (*wait_fn)(Shared *))
{
	g_autoptr(GPtrArray) workers = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) threads = g_ptr_array_new();
	g_autoptr(GPtrArray) locks = g_ptr_array_new_with_free_func(lock_share_free);
	guint failed = 0;

	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++) {
		const HmAccountConf *acct = &cfg->fetcher.accounts[i];
		gboolean per_folder = daemon && acct->idle && acct->protocol == HM_PROTO_IMAP;
		HmFetchLockShare *lock = NULL;

		if (!selected(acct, only))
			continue;
		if (per_folder) {
			lock = g_new0(HmFetchLockShare, 1);
			hm_fetch_lock_share_init(lock);
			g_ptr_array_add(locks, lock);
		}
		for (char **f = acct->folders; f != NULL && *f != NULL; f++) {
			Worker *w = g_new0(Worker, 1);

			w->shared = sh;
			w->cfg = cfg;
			w->acct = acct;
			w->folder = per_folder ? *f : NULL;
			w->lock = lock;
			g_ptr_array_add(workers, w);
			g_ptr_array_add(threads, g_thread_new(acct->name, fn, w));
			if (!per_folder)
				break;
		}
	}
	if (wait_fn != NULL)
		wait_fn(sh);
	for (guint i = 0; i < threads->len; i++) {
		Worker *w = g_ptr_array_index(workers, i);

		g_thread_join(g_ptr_array_index(threads, i));
		failed += w->failed ? 1 : 0;
	}
	return failed;
}

guint
hm_fetcher_run_once(const HmConfig *cfg, const char *only)
{
	Shared sh = { 0 };
	guint failed;

	g_mutex_init(&sh.lock);
	g_cond_init(&sh.cond);
	failed = run_workers(&sh, cfg, only, once_worker, FALSE, NULL);
	g_cond_clear(&sh.cond);
	g_mutex_clear(&sh.lock);
	return failed;
}

/* --- the daemon ---------------------------------------------------------- */

static guint
backoff(guint failures)
{
	guint secs = HM_FETCH_BACKOFF_FIRST_S;

	for (guint i = 1; i < failures && secs < HM_FETCH_BACKOFF_MAX_S; i++)
		secs *= 2;
	return MIN(secs, HM_FETCH_BACKOFF_MAX_S);
}

/* One IMAP folder kept open with IDLE: fetch, idle until the server
 * reports new mail (or 29 minutes pass), fetch again. On any error the
 * session is dropped and re-opened after an exponential back-off. */
static void
idle_loop(Worker *w, HmAccount *a)
{
	Shared *sh = w->shared;
	guint failures = 0;

	while (!stopping(sh)) {
		g_autoptr(GError) err = NULL;
		HmFetchSession *s = hm_account_open(a, &err);
		int r = s != NULL ? 1 : -1;

		while (r > 0 && !stopping(sh)) {
			r = hm_account_pass_folder(a, s, w->folder, w->lock, HM_FETCH_LOCK_WAIT_MS,
			                           &err);
			if (r < 0)
				break;
			failures = 0;
			w->told_sign_in = FALSE;
			if (!a->backend->can_wait(s)) {
				hm_warn("%s: %s: server has no IDLE: polling every %u s", w->acct->name,
				        w->folder, w->cfg->fetcher.interval);
				r = nap(sh, w->cfg->fetcher.interval, &w->polls_seen) ? 1 : 0;
				continue;
			}
			hm_heap_give_back();
			/* wait() says 1 for mail reported during the pass and for
			 * mail reported as IDLE is renewed (in the reply to DONE),
			 * so every report leads to a pass; 0 is a quiet renewal. */
			do
				r = a->backend->wait(s, HM_FETCH_IDLE_RENEW_S * 1000, &sh->stop, &err);
			while (r == 0 && !stopping(sh));
		}
		if (s != NULL && r >= 0)
			a->backend->close(s, NULL);
		else if (s != NULL)
			a->backend->abort(s);
		if (r >= 0)
			break;
		failures++;
		hm_log(log_daemon_failure(w, err), "%s: %s: retrying in %u s", w->acct->name,
		       w->folder, backoff(failures));
		nap(sh, backoff(failures), &w->polls_seen);
	}
}

/* Polls the whole account every interval (back-off after failures, but
 * never slower than the interval would be). */
static void
poll_loop(Worker *w, HmAccount *a)
{
	Shared *sh = w->shared;
	guint failures = 0;

	while (!stopping(sh)) {
		g_autoptr(GError) err = NULL;
		guint pause = w->cfg->fetcher.interval;

		if (hm_account_run(a, HM_FETCH_LOCK_WAIT_MS, &err) < 0) {
			failures++;
			log_daemon_failure(w, err);
			pause = MIN(pause, backoff(failures));
		} else {
			failures = 0;
			w->told_sign_in = FALSE;
		}
		if (!nap(sh, pause, &w->polls_seen))
			break;
	}
}

static gpointer
daemon_worker(gpointer data)
{
	Worker *w = data;
	HmAccount a;
	g_autoptr(GError) err = NULL;

	if (hm_account_init(&a, w->cfg, w->acct, &err) < 0) {
		log_failure(w->acct, err);
		w->failed = TRUE;
	} else if (w->folder != NULL) {
		idle_loop(w, &a);
	} else {
		poll_loop(w, &a);
	}
	hm_account_clear(&a);
	return NULL;
}

static void
daemon_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
}

/* SIGUSR1 wakes every sleeping worker to poll at once (an IDLE session
 * waiting for the server is not disturbed: it hears of new mail anyway);
 * SIGTERM and SIGINT stop them all. */
static void
wait_for_signal(Shared *sh)
{
	sigset_t set;
	int sig = 0;

	daemon_signals(&set);
	for (;;) {
		sigwait(&set, &sig);
		g_mutex_lock(&sh->lock);
		if (sig == SIGUSR1) {
			hm_info("signal %d: polling every account now", sig);
			sh->polls++;
		} else {
			hm_info("signal %d: stopping", sig);
			g_atomic_int_set(&sh->stop, 1);
		}
		g_cond_broadcast(&sh->cond);
		g_mutex_unlock(&sh->lock);
		if (sig != SIGUSR1)
			return;
	}
}

guint
hm_fetcher_daemon(const HmConfig *cfg, const char *only)
{
	Shared sh = { 0 };
	sigset_t set;
	guint failed;

	/* Blocked before any thread starts, so every thread inherits the mask
	 * and only sigwait() here receives them. */
	daemon_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	hm_heap_one_arena();
	g_mutex_init(&sh.lock);
	g_cond_init(&sh.cond);
	hm_info("fetcher started: %zu account(s), interval %u s", cfg->fetcher.n_accounts,
	        cfg->fetcher.interval);
	failed = run_workers(&sh, cfg, only, daemon_worker, TRUE, wait_for_signal);
	g_cond_clear(&sh.cond);
	g_mutex_clear(&sh.lock);
	return failed;
}
