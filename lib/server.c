#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "privs.h"
#include "server.h"

/* How long a stopping server waits for its sessions to end. */
#define STOP_WAIT_MS 5000

typedef struct {
	int fd;
	const HmListenSpec *spec;
} Listener;

typedef struct {
	const char *name;
	HmServerHelperFunc fn;
	gpointer data;
	pid_t pid;             /* 0: not running */
	gint64 started;        /* monotonic seconds */
	gint64 restart_at;     /* monotonic seconds; 0: none pending */
} Helper;

struct HmServer {
	HmServerParams p;
	GArray *helpers;       /* Helper */
	GArray *listeners;     /* Listener */
	int sig_fd;
	HmLoginBar *bar;
	GHashTable *children;  /* pid -> peer address (char *) */
	GHashTable *per_ip;    /* peer address -> open sessions (GUINT_TO_POINTER) */
	gboolean stopping;
};

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

HmServer *
hm_server_new(const HmServerParams *params, GError **err)
{
	HmServer *sv = g_new0(HmServer, 1);

	sv->p = *params;
	sv->sig_fd = -1;
	sv->listeners = g_array_new(FALSE, FALSE, sizeof(Listener));
	sv->helpers = g_array_new(FALSE, TRUE, sizeof(Helper));
	sv->children = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
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
	g_hash_table_unref(sv->children);
	g_hash_table_unref(sv->per_ip);
	g_free(sv);
}

static guint
sessions_from(HmServer *sv, const char *ip)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(sv->per_ip, ip));
}

/* In the child: TLS for implicit-TLS listeners, then the session. */
static G_GNUC_NORETURN void
child_main(HmServer *sv, int fd, const Listener *l, const struct sockaddr *addr, const char *ip)
{
	HmConn *conn = hm_conn_new(fd, sv->p.handshake_timeout_ms);
	HmServerPeer peer = { .addr = addr, .ip = ip, .listen = l->spec };
	g_autoptr(GError) err = NULL;
	sigset_t none;
	int rc;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (guint i = 0; i < sv->listeners->len; i++)
		close(g_array_index(sv->listeners, Listener, i).fd);
	close(sv->sig_fd);
	if (l->spec->tls && hm_conn_start_tls_server(conn, sv->p.tls_ctx, &err) < 0) {
		hm_info("%s TLS handshake failed peer=%s: %s", sv->p.name, ip, err->message);
		rc = 1;
	} else {
		rc = sv->p.session(conn, &peer, sv->p.data);
	}
	hm_conn_free(conn);
	_exit(rc);
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

static void
accept_one(HmServer *sv, const Listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	g_autofree char *ip = NULL;
	pid_t pid;

	if (fd < 0)
		return;
	ip = hm_sockaddr_host((struct sockaddr *)&ss);
	if (g_hash_table_size(sv->children) >= sv->p.max_sessions)
		return refuse(sv, fd, l, ip, "connections", sv->p.busy_reply);
	if (sessions_from(sv, ip) >= sv->p.max_sessions_per_ip)
		return refuse(sv, fd, l, ip, "connections from this address", sv->p.busy_reply);
	if (hm_login_bar_barred(sv->bar, ip))
		return refuse(sv, fd, l, ip, "failed logins", sv->p.barred_reply);
	pid = fork();
	if (pid == 0)
		child_main(sv, fd, l, (struct sockaddr *)&ss, ip);
	close(fd);
	if (pid < 0) {
		hm_warn("%s fork: %s", sv->p.name, g_strerror(errno));
		return;
	}
	g_hash_table_insert(sv->per_ip, g_strdup(ip), GUINT_TO_POINTER(sessions_from(sv, ip) + 1));
	g_hash_table_insert(sv->children, GINT_TO_POINTER(pid), g_steal_pointer(&ip));
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
	pid_t pid = fork();

	if (pid == 0) {
		for (guint i = 0; i < sv->listeners->len; i++)
			close(g_array_index(sv->listeners, Listener, i).fd);
		close(sv->sig_fd);
		_exit(h->fn(h->data));
	}
	h->restart_at = 0;
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
	Helper h = { .name = name, .fn = fn, .data = data };

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
		const char *ip = g_hash_table_lookup(sv->children, GINT_TO_POINTER(pid));
		guint n;

		if (ip == NULL) {
			helper_exited(sv, pid, status);
			continue;
		}
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			hm_warn("%s session pid=%d peer=%s died of signal %d", sv->p.name, (int)pid,
			        ip, WTERMSIG(status));
		n = sessions_from(sv, ip);
		if (n <= 1)
			g_hash_table_remove(sv->per_ip, ip);
		else
			g_hash_table_insert(sv->per_ip, g_strdup(ip), GUINT_TO_POINTER(n - 1));
		g_hash_table_remove(sv->children, GINT_TO_POINTER(pid));
	}
}

static void
handle_signals(HmServer *sv)
{
	struct signalfd_siginfo si;

	while (read(sv->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap_children(sv);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			sv->stopping = TRUE;
		else if (si.ssi_signo == SIGHUP && sv->p.reload != NULL)
			sv->p.reload(sv->p.data);
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

/* Ends the remaining sessions: a POP3 session deletes nothing, an SMTP
 * session has answered 250 only for what it queued durably. */
static void
stop_children(HmServer *sv)
{
	GHashTableIter it;
	gpointer pid;

	g_hash_table_iter_init(&it, sv->children);
	while (g_hash_table_iter_next(&it, &pid, NULL))
		kill(GPOINTER_TO_INT(pid), SIGTERM);
	hm_server_signal_helpers(sv, SIGTERM);
	for (int i = 0; i < STOP_WAIT_MS / 100 &&
	                (g_hash_table_size(sv->children) > 0 || helpers_running(sv));
	     i++) {
		g_usleep(100000);
		reap_children(sv);
	}
}

void
hm_server_run(HmServer *sv)
{
	guint nl = sv->listeners->len;
	g_autofree struct pollfd *pfd = g_new0(struct pollfd, nl + 1);

	for (guint i = 0; i < nl; i++)
		pfd[i] = (struct pollfd){ .fd = g_array_index(sv->listeners, Listener, i).fd,
			                  .events = POLLIN };
	pfd[nl] = (struct pollfd){ .fd = sv->sig_fd, .events = POLLIN };
	while (!sv->stopping) {
		if (poll(pfd, nl + 1, restart_helpers(sv)) < 0 && errno != EINTR)
			break;
		if (pfd[nl].revents & POLLIN)
			handle_signals(sv);
		for (guint i = 0; i < nl && !sv->stopping; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(sv, &g_array_index(sv->listeners, Listener, i));
	}
	stop_children(sv);
	hm_info("%s stopped", sv->p.name);
}
