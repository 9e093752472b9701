/* One pass over the records, and the daemon around it (see run.h). */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dyndns/cache.h"
#include "dyndns/detect.h"
#include "dyndns/policy.h"
#include "dyndns/run.h"
#include "lib/log.h"

/* dyndns2 takes several host names per request; a bound keeps the URL
 * short. */
#define BATCH_MAX 20

typedef struct {
	HmDynUpdate u;
	const HmDynProvider *prov;
	char *path;                  /* its cache file */
	char *config;                /* its fingerprint */
	HmDynCache cache;
	HmDurable *store;            /* its next cache file, room reserved */
	gboolean done;
} Pending;

static void
pending_free(gpointer p)
{
	Pending *x = p;

	hm_durable_abort(x->store);
	g_free(x->path);
	g_free(x->config);
	hm_dyn_cache_clear(&x->cache);
	g_free(x);
}

/* Decides for one record and family; returns the pending update to send,
 * or NULL (*failed set when the record counts as failed). */
static Pending *
check_record(const HmConfig *cfg, const HmDnsRecordConf *r, const HmIpAddr *addr,
             const HmDynRunOptions *opt, gint64 now, gboolean *failed)
{
	Pending *p = g_new0(Pending, 1);
	g_autoptr(GError) err = NULL;
	g_autofree char *text = hm_ip_to_string(addr);
	const char *rr = hm_dyn_rrtype(addr);
	HmDynDecision d;

	p->u.rec = r;
	p->u.addr = *addr;
	p->u.secret = hm_dyn_record_secret(r);
	p->prov = hm_dyn_provider(r->provider);
	p->path = hm_dyn_cache_path(cfg->state_dir, r, addr->family);
	*failed = TRUE;
	if (p->u.secret == NULL) {
		hm_err("%s %s: the secret cannot be read; not updated", r->hostname, rr);
		goto skip;
	}
	/* A cache we cannot read could not record the answer either: sending
	 * anyway would repeat the update at every run. */
	if (hm_dyn_cache_load(p->path, &p->cache, &err) < 0) {
		hm_err("%s %s: %s; not updated", r->hostname, rr, err->message);
		goto skip;
	}
	p->config = hm_dyn_config_fingerprint(r, p->u.secret);
	d = hm_dyn_decide(&p->cache, text, p->config, now, cfg->dyndns.refresh_days, opt->force);
	switch (d) {
	case HM_DYN_SEND:
		if (!opt->dry_run && (p->store = hm_dyn_cache_reserve(p->path, &err)) == NULL) {
			hm_err("%s %s: the answer could not be recorded (%s); not updated",
			       r->hostname, rr, err->message);
			goto skip;
		}
		*failed = FALSE;
		return p;
	case HM_DYN_SKIP_SAME:
		*failed = FALSE;
		hm_debug("%s %s: %s unchanged", r->hostname, rr, text);
		break;
	case HM_DYN_SKIP_HELD:
		hm_warn("%s %s: not updated until its config changes: %s", r->hostname, rr,
		        p->cache.text != NULL ? p->cache.text : "refused");
		break;
	case HM_DYN_SKIP_BACKOFF:
		hm_info("%s %s: backing off for another %" G_GINT64_FORMAT " s after: %s",
		        r->hostname, rr, hm_dyn_backoff_left(&p->cache, now),
		        p->cache.text != NULL ? p->cache.text : "an error");
		break;
	}
skip:
	pending_free(p);
	return NULL;
}

static void
log_result(const Pending *p, const HmDynResult *res)
{
	g_autofree char *text = hm_ip_to_string(&p->u.addr);
	const char *rr = hm_dyn_rrtype(&p->u.addr);

	if (res->outcome == HM_DYN_OK)
		hm_info("%s %s: now %s (%s; was %s)", p->u.rec->hostname, rr, text, res->text,
		        p->cache.address != NULL ? p->cache.address : "unknown");
	else if (res->outcome == HM_DYN_HOLD)
		hm_err("%s %s: %s; not updated again until its config or secret changes",
		       p->u.rec->hostname, rr, res->text);
	else
		hm_warn("%s %s: %s (%s)", p->u.rec->hostname, rr, res->text,
		        res->outcome == HM_DYN_BACKOFF ? "backing off" : "retrying at the next run");
}

/* Sends the batch that starts at pending[first]; returns how many failed. */
static guint
send_batch(GPtrArray *pending, guint first, const HmDynRunOptions *opt, gint64 now)
{
	Pending *head = pending->pdata[first];
	Pending *batch[BATCH_MAX];
	HmDynUpdate u[BATCH_MAX] = { { 0 } };
	HmDynResult res[BATCH_MAX];
	guint n = 0, failed = 0;

	for (guint i = first; i < pending->len && n < BATCH_MAX; i++) {
		Pending *p = pending->pdata[i];

		if (p->done || p->prov != head->prov ||
		    (p != head && (head->prov->can_batch == NULL ||
		                   !head->prov->can_batch(&head->u, &p->u))))
			continue;
		p->done = TRUE;
		batch[n] = p;
		u[n++] = p->u;
	}
	if (opt->dry_run) {
		for (guint i = 0; i < n; i++) {
			g_autofree char *what = head->prov->describe(&u[i]);

			printf("would send: %s\n", what);
		}
		fflush(stdout);
		return 0;
	}
	memset(res, 0, sizeof(res));
	head->prov->update(u, n, res);
	for (guint i = 0; i < n; i++) {
		g_autoptr(GError) err = NULL;
		g_autofree char *text = hm_ip_to_string(&batch[i]->u.addr);

		log_result(batch[i], &res[i]);
		hm_dyn_note_result(&batch[i]->cache, text, batch[i]->config, &res[i], now);
		if (hm_dyn_cache_commit(g_steal_pointer(&batch[i]->store), &batch[i]->cache, &err) < 0) {
			hm_err("%s: %s", batch[i]->u.rec->hostname, err->message);
			failed++;
		} else {
			failed += res[i].outcome != HM_DYN_OK;
		}
		hm_dyn_result_clear(&res[i]);
	}
	return failed;
}

guint
hm_dyn_run_once(const HmConfig *cfg, const HmDynRunOptions *opt)
{
	const HmDyndnsConf *d = &cfg->dyndns;
	gint64 now = opt->now != 0 ? opt->now : g_get_real_time() / G_USEC_PER_SEC;
	gboolean need[2] = { FALSE, FALSE }, have[2] = { FALSE, FALSE };
	HmIpAddr addr[2];
	g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func(pending_free);
	guint failed = 0;

	for (gsize i = 0; i < d->n_records; i++) {
		need[0] |= d->records[i].ipv4;
		need[1] |= d->records[i].ipv6;
	}
	for (guint f = 0; f < 2; f++) {
		g_autofree char *source = NULL;
		g_autofree char *text = NULL;

		if (!need[f])
			continue;
		have[f] = hm_dyn_detect(d, f == 0 ? AF_INET : AF_INET6, &addr[f], &source);
		if (!have[f]) {
			hm_err("no %s address detected: its records are not updated",
			       f == 0 ? "IPv4" : "IPv6");
			continue;
		}
		text = hm_ip_to_string(&addr[f]);
		hm_debug("%s address %s (%s)", f == 0 ? "IPv4" : "IPv6", text, source);
	}
	for (gsize i = 0; i < d->n_records; i++)
		for (guint f = 0; f < 2; f++) {
			const HmDnsRecordConf *r = &d->records[i];
			gboolean bad = FALSE;
			Pending *p;

			if (!(f == 0 ? r->ipv4 : r->ipv6))
				continue;
			if (!have[f]) {
				failed++;
				continue;
			}
			p = check_record(cfg, r, &addr[f], opt, now, &bad);
			failed += bad;
			if (p != NULL)
				g_ptr_array_add(pending, p);
		}
	for (guint i = 0; i < pending->len; i++)
		if (!((Pending *)pending->pdata[i])->done)
			failed += send_batch(pending, i, opt, now);
	return failed;
}

/* Waits for the pass pid, meanwhile taking the signals of set: SIGTERM
 * or SIGINT end the pass and are returned; SIGHUP or SIGUSR1 are
 * returned once it has ended, for the daemon to act on; else 0. */
static int
wait_pass(pid_t pid, const sigset_t *set)
{
	int later = 0;

	for (;;) {
		int sig = sigwaitinfo(set, NULL);

		if (sig < 0)
			continue;  /* EINTR: nothing else can fail here */
		if (sig == SIGCHLD) {
			pid_t r = waitpid(pid, NULL, WNOHANG);

			if (r == pid || (r < 0 && errno == ECHILD))
				return later;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			kill(pid, SIGTERM);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			return sig;
		}
		if (sig == SIGHUP || (sig == SIGUSR1 && later == 0))
			later = sig;
	}
}

/* One pass in a child process: what a pass loads (libcurl and the
 * libraries under it, OpenSSL's providers, libldns's state) then goes
 * with the child, and the daemon waits between passes at the size it
 * started with (14 MB against about 5, bench/bundle). Every state a pass
 * keeps is in state_dir already, as the timer's --once needs. Returns
 * what wait_pass() returns. */
static int
pass(const HmConfig *cfg, const HmDynRunOptions *opt, const sigset_t *set)
{
	pid_t pid = fork();

	if (pid < 0) {
		hm_warn("fork: %s; this pass runs in the daemon", g_strerror(errno));
		hm_dyn_run_once(cfg, opt);
		return 0;
	}
	if (pid == 0) {
		sigset_t stop;

		/* SIGTERM ends the pass; SIGHUP and SIGUSR1 are the daemon's. */
		sigemptyset(&stop);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGINT);
		sigprocmask(SIG_UNBLOCK, &stop, NULL);
		_exit(hm_dyn_run_once(cfg, opt) == 0 ? 0 : 1);
	}
	return wait_pass(pid, set);
}

int
hm_dyn_daemon(HmConfig *cfg, const HmDynRunOptions *opt)
{
	HmConfig *current = cfg, *loaded = NULL;
	sigset_t set;
	int status = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* SIGUSR1 (the network is back: `homemail network-up`) ends the wait:
	 * the loop runs again at once. */
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* An ignored SIGCHLD (inherited across exec) would reap the passes
	 * before wait_pass() could. */
	signal(SIGCHLD, SIG_DFL);
	for (;;) {
		struct timespec ts = { .tv_sec = current->dyndns.interval };
		int sig = pass(current, opt, &set);

		/* Until the interval is over (EAGAIN) or a signal that counts. */
		while (sig == 0 || sig == SIGCHLD || (sig < 0 && errno == EINTR))
			sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGUSR1)
			hm_info("signal %d: running now", sig);
		if (sig == SIGHUP) {
			g_autoptr(GError) err = NULL;
			HmConfig *c = hm_config_load_flags(cfg->file, HM_CONFIG_SECRETS_OPTIONAL, NULL,
			                                   NULL, &err);

			if (c == NULL) {
				hm_err("reload: %s; keeping the old config", err->message);
				status = 1;
				continue;
			}
			hm_info("reloaded %s", cfg->file);
			g_clear_pointer(&loaded, hm_config_free);
			current = loaded = c;
		}
	}
	g_clear_pointer(&loaded, hm_config_free);
	return status;
}
