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

#include "lib/cidr.h"
#include "lib/conn.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/privs.h"
#include "lib/tls.h"
#include "popd/limits.h"
#include "popd/server.h"
#include "popd/session.h"

typedef struct {
	int fd;
	gboolean tls;
} Listener;

typedef struct {
	guint fails;
	gint64 window_start;   /* monotonic seconds */
} FailCount;

typedef struct {
	const HmConfig *cfg;
	SSL_CTX *tls_ctx;
	GArray *listeners;     /* Listener */
	int sig_fd;
	int fail_pipe[2];      /* children write their pid after a failed login */
	GHashTable *children;  /* pid -> peer address (char *) */
	GHashTable *per_ip;    /* peer address -> open sessions (GUINT_TO_POINTER) */
	GHashTable *fails;     /* peer address -> FailCount */
	gboolean stopping;
} Server;

static int
open_listeners(Server *sv, GError **err)
{
	sv->listeners = g_array_new(FALSE, FALSE, sizeof(Listener));
	for (gsize i = 0; i < sv->cfg->popd.n_listen; i++) {
		const HmListenSpec *spec = &sv->cfg->popd.listen[i];
		Listener l = { .fd = hm_listen_open(spec, 128, err), .tls = spec->tls };

		if (l.fd < 0)
			return -1;
		g_array_append_val(sv->listeners, l);
		hm_info("popd listening on %s%s%s:%u%s", strchr(spec->host, ':') ? "[" : "",
		        spec->host, strchr(spec->host, ':') ? "]" : "", spec->port,
		        spec->tls ? " (TLS)" : "");
	}
	return 0;
}

static int
setup_signals(Server *sv, GError **err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sv->sig_fd < 0 || pipe2(sv->fail_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		hm_set_error_errno(err, errno, "signalfd/pipe");
		return -1;
	}
	return 0;
}

static guint
sessions_from(Server *sv, const char *ip)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(sv->per_ip, ip));
}

/* TRUE while the address is barred for too many failed logins. */
static gboolean
fail_limited(Server *sv, const char *ip)
{
	FailCount *f = g_hash_table_lookup(sv->fails, ip);
	gint64 now = g_get_monotonic_time() / G_USEC_PER_SEC;

	if (f == NULL)
		return FALSE;
	if (now - f->window_start >= POPD_AUTH_FAIL_WINDOW_S) {
		g_hash_table_remove(sv->fails, ip);
		return FALSE;
	}
	return f->fails >= POPD_MAX_AUTH_FAILS_PER_IP;
}

static void
child_auth_failed(gpointer data)
{
	int fd = GPOINTER_TO_INT(data);
	pid_t pid = getpid();

	/* Fewer than PIPE_BUF bytes: atomic even with many writers. */
	if (write(fd, &pid, sizeof(pid)) < 0)
		hm_debug("cannot report failed login: %s", g_strerror(errno));
}

/* In the child: TLS for implicit-TLS ports, then the session. */
static G_GNUC_NORETURN void
child_main(Server *sv, int fd, gboolean tls, const struct sockaddr *peer, const char *ip)
{
	HmConn *conn = hm_conn_new(fd, POPD_HANDSHAKE_TIMEOUT_MS);
	PopdSessionParams p = {
		.cfg = sv->cfg,
		.tls_ctx = sv->tls_ctx,
		.plaintext_ok = hm_cidr_list_match(sv->cfg->popd.allow_plaintext_from,
		                                   sv->cfg->popd.n_allow_plaintext_from, peer),
		.peer = ip,
		.auth_failed = child_auth_failed,
		.data = GINT_TO_POINTER(sv->fail_pipe[1]),
		.auth_fail_delay_ms = POPD_AUTH_FAIL_DELAY_MS,
	};
	g_autoptr(GError) err = NULL;
	sigset_t none;
	int rc = 0;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (guint i = 0; i < sv->listeners->len; i++)
		close(g_array_index(sv->listeners, Listener, i).fd);
	close(sv->sig_fd);
	close(sv->fail_pipe[0]);
	if (tls && hm_conn_start_tls_server(conn, sv->tls_ctx, &err) < 0) {
		hm_info("popd TLS handshake failed peer=%s: %s", ip, err->message);
		rc = 1;
	} else {
		hm_conn_set_timeout(conn, POPD_IDLE_TIMEOUT_MS);
		rc = popd_session_run(conn, &p) == 0 ? 0 : 1;
	}
	hm_conn_free(conn);
	_exit(rc);
}

/* Says no to a client over the limits, without a process of its own. */
static void
refuse(int fd, gboolean tls, const char *ip, const char *why)
{
	static const char busy[] = "-ERR [SYS/TEMP] Too many connections, try again later.\r\n";
	static const char barred[] = "-ERR [AUTH] Too many failed logins, try again later.\r\n";
	const char *msg = strcmp(why, "failed logins") == 0 ? barred : busy;

	hm_info("popd refused peer=%s: too many %s", ip, why);
	if (!tls && send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		hm_debug("popd refuse: %s", g_strerror(errno));
	close(fd);
}

static void
accept_one(Server *sv, const Listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	g_autofree char *ip = NULL;
	pid_t pid;

	if (fd < 0)
		return;
	ip = hm_sockaddr_host((struct sockaddr *)&ss);
	if (g_hash_table_size(sv->children) >= POPD_MAX_SESSIONS)
		return refuse(fd, l->tls, ip, "connections");
	if (sessions_from(sv, ip) >= POPD_MAX_SESSIONS_PER_IP)
		return refuse(fd, l->tls, ip, "connections from this address");
	if (fail_limited(sv, ip))
		return refuse(fd, l->tls, ip, "failed logins");
	pid = fork();
	if (pid == 0)
		child_main(sv, fd, l->tls, (struct sockaddr *)&ss, ip);
	close(fd);
	if (pid < 0) {
		hm_warn("popd fork: %s", g_strerror(errno));
		return;
	}
	g_hash_table_insert(sv->per_ip, g_strdup(ip), GUINT_TO_POINTER(sessions_from(sv, ip) + 1));
	g_hash_table_insert(sv->children, GINT_TO_POINTER(pid), g_steal_pointer(&ip));
}

static void
reap_children(Server *sv)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		const char *ip = g_hash_table_lookup(sv->children, GINT_TO_POINTER(pid));
		guint n;

		if (ip == NULL)
			continue;
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
			hm_warn("popd session pid=%d peer=%s died of signal %d", (int)pid, ip,
			        WTERMSIG(status));
		n = sessions_from(sv, ip);
		if (n <= 1)
			g_hash_table_remove(sv->per_ip, ip);
		else
			g_hash_table_insert(sv->per_ip, g_strdup(ip), GUINT_TO_POINTER(n - 1));
		g_hash_table_remove(sv->children, GINT_TO_POINTER(pid));
	}
}

static void
read_failures(Server *sv)
{
	pid_t pid;

	while (read(sv->fail_pipe[0], &pid, sizeof(pid)) == (ssize_t)sizeof(pid)) {
		const char *ip = g_hash_table_lookup(sv->children, GINT_TO_POINTER(pid));
		FailCount *f;

		if (ip == NULL)
			continue;
		fail_limited(sv, ip);  /* expires an old window */
		f = g_hash_table_lookup(sv->fails, ip);
		if (f == NULL) {
			f = g_new0(FailCount, 1);
			f->window_start = g_get_monotonic_time() / G_USEC_PER_SEC;
			g_hash_table_insert(sv->fails, g_strdup(ip), f);
		}
		f->fails++;
	}
}

static void
handle_signals(Server *sv)
{
	struct signalfd_siginfo si;

	while (read(sv->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap_children(sv);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			sv->stopping = TRUE;
	}
}

static void
serve(Server *sv)
{
	guint nl = sv->listeners->len;
	g_autofree struct pollfd *pfd = g_new0(struct pollfd, nl + 2);

	for (guint i = 0; i < nl; i++)
		pfd[i] = (struct pollfd){ .fd = g_array_index(sv->listeners, Listener, i).fd, .events = POLLIN };
	pfd[nl] = (struct pollfd){ .fd = sv->sig_fd, .events = POLLIN };
	pfd[nl + 1] = (struct pollfd){ .fd = sv->fail_pipe[0], .events = POLLIN };
	while (!sv->stopping) {
		if (poll(pfd, nl + 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[nl].revents & POLLIN)
			handle_signals(sv);
		if (pfd[nl + 1].revents & POLLIN)
			read_failures(sv);
		for (guint i = 0; i < nl && !sv->stopping; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(sv, &g_array_index(sv->listeners, Listener, i));
	}
}

/* Ends the remaining sessions: they delete nothing, as if dropped. */
static void
stop_children(Server *sv)
{
	GHashTableIter it;
	gpointer pid;

	g_hash_table_iter_init(&it, sv->children);
	while (g_hash_table_iter_next(&it, &pid, NULL))
		kill(GPOINTER_TO_INT(pid), SIGTERM);
	for (int i = 0; i < 50 && g_hash_table_size(sv->children) > 0; i++) {
		g_usleep(100000);
		reap_children(sv);
	}
}

int
popd_server_run(const HmConfig *cfg, GError **err)
{
	Server sv = { .cfg = cfg, .sig_fd = -1, .fail_pipe = { -1, -1 } };
	int rc = -1;

	sv.children = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	sv.per_ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sv.fails = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (cfg->popd.n_listen == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "popd.listen: no address to listen on");
		goto out;
	}
	if (cfg->tls_cert != NULL && cfg->tls_key != NULL &&
	    (sv.tls_ctx = hm_tls_server_ctx(cfg->tls_cert, cfg->tls_key, err)) == NULL)
		goto out;
	if (setup_signals(&sv, err) < 0 || open_listeners(&sv, err) < 0 ||
	    hm_drop_privileges(cfg->run_as, err) < 0)
		goto out;
	serve(&sv);
	stop_children(&sv);
	hm_info("popd stopped");
	rc = 0;
out:
	for (guint i = 0; sv.listeners != NULL && i < sv.listeners->len; i++)
		close(g_array_index(sv.listeners, Listener, i).fd);
	if (sv.listeners != NULL)
		g_array_unref(sv.listeners);
	if (sv.tls_ctx != NULL)
		SSL_CTX_free(sv.tls_ctx);
	g_hash_table_unref(sv.children);
	g_hash_table_unref(sv.per_ip);
	g_hash_table_unref(sv.fails);
	return rc;
}
