#include <config.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "privs.h"
#include "server-private.h"

/* How long a stopping server waits for its sessions to end. */
#define STOP_WAIT_MS 5000

static int
open_listeners(HmServer *sv, GError **err)
{
	for (gsize i = 0; i < sv->p.n_listen; i++) {
		const HmListenSpec *spec = &sv->p.listen[i];
		Listener l = { .fd = hm_listen_open(spec, 128, err), .spec = spec };
		gboolean v6 = strchr(spec->host, ':') != NULL;

		if (l.fd < 0)
			return -1;
		g_array_append_val(sv->listeners, l);
		hm_info("%s listening on %s%s%s:%u%s", sv->p.name, v6 ? "[" : "", spec->host,
		        v6 ? "]" : "", spec->port, spec->tls ? " (TLS)" : "");
	}
	return 0;
}

static int
setup_signals(HmServer *sv, GError **err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sv->sig_fd < 0) {
		hm_set_error_errno(err, errno, "signalfd");
		return -1;
	}
	return 0;
}

static void
worker_free(gpointer p)
{
	Worker *w = p;

	if (w->ctl >= 0)
		close(w->ctl);
	g_free(w->ip);
	g_free(w);
}

HmServer *
hm_server_new(const HmServerParams *params, GError **err)
{
	HmServer *sv = g_new0(HmServer, 1);

	sv->p = *params;
	sv->sig_fd = -1;
	sv->listeners = g_array_new(FALSE, FALSE, sizeof(Listener));
	sv->helpers = g_array_new(FALSE, TRUE, sizeof(Helper));
	sv->workers = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, worker_free);
	sv->idle = g_queue_new();
	sv->per_ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (params->n_listen == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s: no address to listen on",
		            params->name);
		goto fail;
	}
	sv->bar = hm_login_bar_new(params->max_auth_fails, params->auth_fail_window_s, err);
	if (sv->bar == NULL || setup_signals(sv, err) < 0 || open_listeners(sv, err) < 0 ||
	    hm_drop_privileges(params->run_as, err) < 0)
		goto fail;
	return sv;
fail:
	hm_server_free(sv);
	return NULL;
}

HmLoginBar *
hm_server_login_bar(HmServer *sv)
{
	return sv->bar;
}

void
hm_server_free(HmServer *sv)
{
	if (sv == NULL)
		return;
	for (guint i = 0; i < sv->listeners->len; i++)
		close(g_array_index(sv->listeners, Listener, i).fd);
	g_array_unref(sv->listeners);
	g_array_unref(sv->helpers);
	if (sv->sig_fd >= 0)
		close(sv->sig_fd);
	hm_login_bar_free(sv->bar);
	g_queue_free(sv->idle);
	g_hash_table_unref(sv->workers);
	g_hash_table_unref(sv->per_ip);
	g_free(sv);
}

static guint
sessions_from(HmServer *sv, const char *ip)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(sv->per_ip, ip));
}

/* Says no to a client over the limits, without a process of its own. */
static void
refuse(HmServer *sv, int fd, const Listener *l, const char *ip, const char *why,
       const char *reply)
{
	hm_info("%s refused peer=%s: too many %s", sv->p.name, ip, why);
	if (!l->spec->tls && reply != NULL &&
	    send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		hm_debug("%s refuse: %s", sv->p.name, g_strerror(errno));
	close(fd);
}

/* A session for the client at ip begins or ends in w. */
static void
session_begins(HmServer *sv, Worker *w, char *ip)
{
	w->ip = ip;
	w->served++;
	sv->busy++;
	g_hash_table_insert(sv->per_ip, g_strdup(ip), GUINT_TO_POINTER(sessions_from(sv, ip) + 1));
}

static void
session_ends(HmServer *sv, Worker *w)
{
	guint n = sessions_from(sv, w->ip);

	if (n <= 1)
		g_hash_table_remove(sv->per_ip, w->ip);
	else
		g_hash_table_insert(sv->per_ip, g_strdup(w->ip), GUINT_TO_POINTER(n - 1));
	g_clear_pointer(&w->ip, g_free);
	sv->busy--;
}

/* Closes w's control socket: it exits when it next waits for a client
 * (or at once, if it waits now), and is reaped like any other. */
static void
retire(HmServer *sv, Worker *w)
{
	g_queue_remove(sv->idle, w);
	if (w->ctl >= 0)
		close(w->ctl);
	w->ctl = -1;
}

/* Hands fd to an idle session process. FALSE when none is left (one
 * that died meanwhile is retired on the way). */
static gboolean
hand_over(HmServer *sv, int fd, const HmServerHandoff *h, char **ip)
{
	Worker *w;

	while ((w = g_queue_pop_head(sv->idle)) != NULL) {
		if (hm_server_handoff_send(w->ctl, fd, h) == 0) {
			session_begins(sv, w, g_steal_pointer(ip));
			return TRUE;
		}
		retire(sv, w);
	}
	return FALSE;
}

/* In a child just forked: GLib's g_random_*() state was copied from the
 * parent, so without a new seed every session process would draw the
 * numbers its siblings draw (the session IDs in the log, among others). */
static void
reseed_random(void)
{
	guint32 seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (guint32)getpid() ^ (guint32)g_get_monotonic_time();
	g_random_set_seed(seed);
}

/* Forks a session process for fd, with a control socket when it may
 * serve more clients after this one. */
static void
fork_worker(HmServer *sv, int fd, const HmServerHandoff *h, char **ip)
{
	int pair[2] = { -1, -1 };
	Worker *w;
	pid_t pid;

	if (sv->p.max_use > 1 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		hm_warn("%s socketpair: %s", sv->p.name, g_strerror(errno));
	pid = fork();
	if (pid == 0) {
		reseed_random();
		if (pair[0] >= 0)
			close(pair[0]);
		hm_server_worker_main(sv, fd, h, pair[1]);
	}
	if (pair[1] >= 0)
		close(pair[1]);
	if (pid < 0) {
		hm_warn("%s fork: %s", sv->p.name, g_strerror(errno));
		if (pair[0] >= 0)
			close(pair[0]);
		return;
	}
	w = g_new0(Worker, 1);
	w->pid = pid;
	w->ctl = pair[0];
	w->generation = sv->generation;
	g_hash_table_insert(sv->workers, GINT_TO_POINTER(pid), w);
	session_begins(sv, w, g_steal_pointer(ip));
}

static void
accept_one(HmServer *sv, guint li)
{
	const Listener *l = &g_array_index(sv->listeners, Listener, li);
	HmServerHandoff h = { .listener = li };
	socklen_t len = sizeof(h.addr);
	int fd = accept4(l->fd, (struct sockaddr *)&h.addr, &len, SOCK_CLOEXEC);
	g_autofree char *ip = NULL;

	if (fd < 0)
		return;
	ip = hm_sockaddr_host((struct sockaddr *)&h.addr);
	if (sv->busy >= sv->p.max_sessions)
		return refuse(sv, fd, l, ip, "connections", sv->p.busy_reply);
	if (sessions_from(sv, ip) >= sv->p.max_sessions_per_ip)
		return refuse(sv, fd, l, ip, "connections from this address", sv->p.busy_reply);
	if (hm_login_bar_barred(sv->bar, ip))
		return refuse(sv, fd, l, ip, "failed logins", sv->p.barred_reply);
	if (!hand_over(sv, fd, &h, &ip))
		fork_worker(sv, fd, &h, &ip);
	close(fd);
}

/* A session process said it is free for the next client. */
static void
worker_done(HmServer *sv, Worker *w)
{
	char c;

	if (read(w->ctl, &c, 1) != 1 || c != 'd') {
		retire(sv, w);  /* it died or talks nonsense: reaped later */
		return;
	}
	if (w->ip != NULL)
		session_ends(sv, w);
	if (w->generation != sv->generation || sv->stopping) {
		retire(sv, w);
		return;
	}
	w->idle_since = g_get_monotonic_time();
	g_queue_push_head(sv->idle, w);
}

/* Retires the processes idle longer than they may be (max_idle_s, or
 * HM_SERVER_FIRST_IDLE_S after a single client); returns the poll
 * timeout until the next one is due (-1: none is idle). */
static int
expire_idle(HmServer *sv)
{
	gint64 now = g_get_monotonic_time(), next = -1;
	GList *l = sv->idle->head;

	while (l != NULL) {
		Worker *w = l->data;
		guint idle_s = w->served > 1 ? sv->p.max_idle_s
		                             : MIN(sv->p.max_idle_s, HM_SERVER_FIRST_IDLE_S);
		gint64 end = w->idle_since + (gint64)idle_s * G_USEC_PER_SEC;

		l = l->next;
		if (now >= end)
			retire(sv, w);
		else if (next < 0 || end < next)
			next = end;
	}
	return next < 0 ? -1 : (int)((next - now) / 1000) + 1;
}

static gint64
now_s(void)
{
	return g_get_monotonic_time() / G_USEC_PER_SEC;
}

/* Forks helper h. */
static void
spawn(HmServer *sv, Helper *h)
{
	pid_t server = getpid();
	pid_t pid = fork();

	if (pid == 0) {
		/* SIGTERM is blocked here, so it comes through the helper's own
		 * signalfd as a stop would; a server gone before the prctl()
		 * is told the same way. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != server)
			kill(getpid(), SIGTERM);
		reseed_random();
		hm_server_close_inherited(sv, -1);
		_exit(h->fn(h->data));
	}
	h->restart_at = 0;
	h->dormant = FALSE;
	h->started = now_s();
	if (pid < 0) {
		hm_warn("%s %s: fork: %s", sv->p.name, h->name, g_strerror(errno));
		h->pid = 0;
		h->restart_at = h->started + HM_SERVER_HELPER_BACKOFF_S;
		return;
	}
	h->pid = pid;
}

pid_t
hm_server_add_helper(HmServer *sv, const char *name, HmServerHelperFunc fn, gpointer data)
{
	return hm_server_add_helper_on_demand(sv, name, fn, data, -1);
}

pid_t
hm_server_add_helper_on_demand(HmServer *sv, const char *name, HmServerHelperFunc fn,
                               gpointer data, int wake_fd)
{
	Helper h = { .name = name, .fn = fn, .data = data, .wake_fd = wake_fd };

	g_array_append_val(sv->helpers, h);
	spawn(sv, &g_array_index(sv->helpers, Helper, sv->helpers->len - 1));
	return g_array_index(sv->helpers, Helper, sv->helpers->len - 1).pid;
}

void
hm_server_signal_helpers(HmServer *sv, int sig)
{
	for (guint i = 0; i < sv->helpers->len; i++) {
		Helper *h = &g_array_index(sv->helpers, Helper, i);

		if (h->pid > 0)
			kill(h->pid, sig);
	}
}

/* A helper ended: TRUE if pid was one. Started again unless stopping. */
static gboolean
helper_exited(HmServer *sv, pid_t pid, int status)
{
	for (guint i = 0; i < sv->helpers->len; i++) {
		Helper *h = &g_array_index(sv->helpers, Helper, i);

		if (h->pid != pid)
			continue;
		h->pid = 0;
		if (sv->stopping)
			return TRUE;
		if (h->wake_fd >= 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == HM_SERVER_HELPER_IDLE) {
			h->dormant = TRUE;
			return TRUE;
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			hm_warn("%s %s pid=%d died of signal %d", sv->p.name, h->name, (int)pid,
			        WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			hm_warn("%s %s pid=%d exited with status %d", sv->p.name, h->name, (int)pid,
			        WEXITSTATUS(status));
		if (now_s() - h->started < HM_SERVER_HELPER_BACKOFF_S)
			h->restart_at = h->started + HM_SERVER_HELPER_BACKOFF_S;
		else
			spawn(sv, h);
		return TRUE;
	}
	return FALSE;
}

/* Starts the helpers whose back-off ended; returns the poll timeout
 * until the next one (-1: none waits). */
static int
restart_helpers(HmServer *sv)
{
	gint64 next = 0;

	for (guint i = 0; i < sv->helpers->len; i++) {
		Helper *h = &g_array_index(sv->helpers, Helper, i);

		if (h->restart_at != 0 && h->restart_at <= now_s())
			spawn(sv, h);
		if (h->restart_at != 0 && (next == 0 || h->restart_at < next))
			next = h->restart_at;
	}
	return next == 0 ? -1 : (int)MAX(next - now_s(), 0) * 1000 + 100;
}

static void
reap_children(HmServer *sv)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		Worker *w = g_hash_table_lookup(sv->workers, GINT_TO_POINTER(pid));

		if (w == NULL) {
			helper_exited(sv, pid, status);
			continue;
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			hm_warn("%s session pid=%d peer=%s died of signal %d", sv->p.name, (int)pid,
			        w->ip != NULL ? w->ip : "-", WTERMSIG(status));
		if (w->ip != NULL)
			session_ends(sv, w);
		g_queue_remove(sv->idle, w);
		g_hash_table_remove(sv->workers, GINT_TO_POINTER(pid));
	}
}

/* After a reload no session runs with the old settings: the idle
 * processes go now, the busy ones when their session ends. */
static void
retire_all(HmServer *sv)
{
	Worker *w;

	sv->generation++;
	while ((w = g_queue_peek_head(sv->idle)) != NULL)
		retire(sv, w);
}

static void
handle_signals(HmServer *sv)
{
	struct signalfd_siginfo si;

	while (read(sv->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap_children(sv);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			sv->stopping = TRUE;
		} else if (si.ssi_signo == SIGHUP && sv->p.reload != NULL) {
			sv->p.reload(sv->p.data);
			retire_all(sv);
		}
	}
}

static gboolean
helpers_running(const HmServer *sv)
{
	for (guint i = 0; i < sv->helpers->len; i++)
		if (g_array_index(sv->helpers, Helper, i).pid > 0)
			return TRUE;
	return FALSE;
}

/* Kills the helpers that did not stop within their wait, and waits for
 * them: no helper outlives the server. */
static void
kill_helpers(HmServer *sv, int waited_ms)
{
	for (guint i = 0; i < sv->helpers->len; i++) {
		Helper *h = &g_array_index(sv->helpers, Helper, i);

		if (h->pid <= 0)
			continue;
		hm_warn("%s %s pid=%d did not stop within %d s: killed", sv->p.name, h->name,
		        (int)h->pid, waited_ms / 1000);
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
		h->pid = 0;
	}
}

/* Ends the remaining sessions: a POP3 session deletes nothing, an SMTP
 * session has answered 250 only for what it queued durably. The sessions
 * left after STOP_WAIT_MS finish alone; the helpers are waited for as long
 * as helper_stop_wait_ms says, then killed. */
static void
stop_children(HmServer *sv)
{
	int helper_wait = sv->p.helper_stop_wait_ms > 0 ? sv->p.helper_stop_wait_ms : STOP_WAIT_MS;
	gint64 start = g_get_monotonic_time(), ms = 0;
	GHashTableIter it;
	gpointer pid;

	g_hash_table_iter_init(&it, sv->workers);
	while (g_hash_table_iter_next(&it, &pid, NULL))
		kill(GPOINTER_TO_INT(pid), SIGTERM);
	hm_server_signal_helpers(sv, SIGTERM);
	while ((g_hash_table_size(sv->workers) > 0 && ms < STOP_WAIT_MS) ||
	       (helpers_running(sv) && ms < helper_wait)) {
		g_usleep(100000);
		reap_children(sv);
		ms = (g_get_monotonic_time() - start) / 1000;
	}
	kill_helpers(sv, helper_wait);
}

/* The wake fds of the dormant helpers, at the end of pfd. */
static void
poll_wakers(HmServer *sv, GArray *pfd, GArray *wakers)
{
	g_array_set_size(wakers, 0);
	for (guint i = 0; i < sv->helpers->len; i++) {
		const Helper *h = &g_array_index(sv->helpers, Helper, i);

		if (!h->dormant)
			continue;
		g_array_append_val(pfd, ((struct pollfd){ .fd = h->wake_fd, .events = POLLIN }));
		g_array_append_val(wakers, i);
	}
}

/* Starts the dormant helpers whose wake fd (from index first of p on)
 * is readable. */
static void
wake_helpers(HmServer *sv, const struct pollfd *p, guint first, const GArray *wakers)
{
	for (guint i = 0; i < wakers->len; i++) {
		Helper *h = &g_array_index(sv->helpers, Helper, g_array_index(wakers, guint, i));

		if (p[first + i].revents != 0 && h->dormant && !sv->stopping)
			spawn(sv, h);
	}
}

/* The fds to wait on: listeners, signals, the busy session processes'
 * control sockets (their "done"); *workers gets those processes in order. */
static guint
poll_set(HmServer *sv, GArray *pfd, GPtrArray *workers)
{
	GHashTableIter it;
	gpointer w;

	g_array_set_size(pfd, 0);
	g_ptr_array_set_size(workers, 0);
	for (guint i = 0; i < sv->listeners->len; i++) {
		struct pollfd p = { .fd = g_array_index(sv->listeners, Listener, i).fd,
			            .events = POLLIN };
		g_array_append_val(pfd, p);
	}
	g_array_append_val(pfd, ((struct pollfd){ .fd = sv->sig_fd, .events = POLLIN }));
	g_hash_table_iter_init(&it, sv->workers);
	while (g_hash_table_iter_next(&it, NULL, &w)) {
		if (((Worker *)w)->ctl < 0 || ((Worker *)w)->ip == NULL)
			continue;
		g_array_append_val(pfd, ((struct pollfd){ .fd = ((Worker *)w)->ctl, .events = POLLIN }));
		g_ptr_array_add(workers, w);
	}
	return pfd->len;
}

static int
min_timeout(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : MIN(a, b);
}

void
hm_server_run(HmServer *sv)
{
	guint nl = sv->listeners->len;
	g_autoptr(GArray) pfd = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
	g_autoptr(GPtrArray) workers = g_ptr_array_new();
	g_autoptr(GArray) wakers = g_array_new(FALSE, FALSE, sizeof(guint));

	while (!sv->stopping) {
		guint n = poll_set(sv, pfd, workers);
		struct pollfd *p;

		poll_wakers(sv, pfd, wakers);
		p = (struct pollfd *)(void *)pfd->data;
		if (poll(p, pfd->len, min_timeout(restart_helpers(sv), expire_idle(sv))) < 0 &&
		    errno != EINTR)
			break;
		/* "Done" first: a process freed now can take a client accepted now. */
		for (guint i = nl + 1; i < n; i++)
			if (p[i].revents != 0)
				worker_done(sv, workers->pdata[i - nl - 1]);
		wake_helpers(sv, p, n, wakers);
		if (p[nl].revents & POLLIN)
			handle_signals(sv);
		for (guint i = 0; i < nl && !sv->stopping; i++)
			if (p[i].revents & POLLIN)
				accept_one(sv, i);
	}
	stop_children(sv);
	hm_info("%s stopped", sv->p.name);
}
