/* The server skeleton (lib/server.c, lib/server-worker.c): session
 * processes reused up to max_use, retired when idle or after a reload,
 * the per-address cap counted across reuse, and nothing of one session
 * left open in the next. The server runs in a child process, as a daemon
 * would; each session tells its client its pid and how many fds it has. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/server.h"

typedef struct {
	pid_t pid;      /* the server process */
	guint16 port;
} Running;

static guint
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	guint n = 0;

	g_assert_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* Tells the client "PID FDS", then waits until it hangs up. */
static int
session(HmConn *conn, const HmServerPeer *peer, gpointer data)
{
	g_autofree char *line = g_strdup_printf("%d %u\n", (int)getpid(), open_fds());
	struct pollfd p = { .fd = hm_conn_fd(conn), .events = POLLIN };
	char c;

	(void)peer;
	(void)data;
	if (hm_conn_write(conn, line, strlen(line), NULL) < 0 || hm_conn_flush(conn, NULL) < 0)
		return 1;
	/* The connection is non-blocking (lib/conn's deadlines). */
	while (poll(&p, 1, -1) > 0 && read(p.fd, &c, 1) > 0)
		;
	return 0;
}

static void
reload(gpointer data)
{
	(void)data;
}

/* The on-demand helper of start_with_helper(): reads what woke it,
 * reports its pid, and says it has nothing left to do. */
static int helper_wake = -1, helper_report = -1;

static int
idle_helper(gpointer data)
{
	char buf[16];
	pid_t self = getpid();

	(void)data;
	while (read(helper_wake, buf, sizeof(buf)) > 0)
		;
	if (write(helper_report, &self, sizeof(self)) != (ssize_t)sizeof(self))
		return 1;
	return HM_SERVER_HELPER_IDLE;
}

/* How long the helpers below live at most: a failed test must not leave
 * them (holding the test's output open) for good. */
#define HELPER_LIFE_S 10

/* A helper that does not end for SIGTERM (blocked in helpers). */
static int
stubborn_helper(gpointer data)
{
	pid_t self = getpid();

	(void)data;
	if (write(helper_report, &self, sizeof(self)) != (ssize_t)sizeof(self))
		return 1;
	g_usleep(HELPER_LIFE_S * G_USEC_PER_SEC);
	return 1;
}

/* A helper that ends when SIGTERM comes through its signalfd. */
static int
polite_helper(gpointer data)
{
	pid_t self = getpid();
	struct pollfd p = { .events = POLLIN };
	sigset_t set;

	(void)data;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if ((p.fd = signalfd(-1, &set, 0)) < 0 ||
	    write(helper_report, &self, sizeof(self)) != (ssize_t)sizeof(self))
		return 1;
	return poll(&p, 1, HELPER_LIFE_S * 1000) == 1 ? 0 : 1;
}

/* What start_with_helper() runs, and HmServerParams.helper_stop_wait_ms. */
static HmServerHelperFunc helper_body = idle_helper;
static int helper_stop_wait_ms;

static guint16
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
	close(fd);
	return ntohs(a.sin_port);
}

static Running
start_with_helper(guint max_use, guint max_idle_s, guint per_ip, gboolean helper)
{
	Running r = { .port = free_port() };
	int ready[2];
	char c;

	g_assert_cmpint(pipe(ready), ==, 0);
	r.pid = fork();
	g_assert_cmpint(r.pid, >=, 0);
	if (r.pid == 0) {
		HmListenSpec spec = { .host = (char *)"127.0.0.1", .port = r.port };
		HmServerParams p = {
			.name = "test", .listen = &spec, .n_listen = 1,
			.max_sessions = 20, .max_sessions_per_ip = per_ip,
			.max_use = max_use, .max_idle_s = max_idle_s,
			.max_auth_fails = 10, .auth_fail_window_s = 60,
			.handshake_timeout_ms = 5000, .busy_reply = "busy\r\n",
			.session = session, .reload = reload,
			.helper_stop_wait_ms = helper_stop_wait_ms,
		};
		HmServer *sv;

		/* A failed assertion in the test must not leave a server behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sv = hm_server_new(&p, NULL);
		close(ready[0]);
		if (sv == NULL || write(ready[1], "r", 1) != 1)
			_exit(1);
		if (helper)
			hm_server_add_helper_on_demand(sv, "helper", helper_body, NULL, helper_wake);
		close(ready[1]);
		hm_server_run(sv);
		hm_server_free(sv);
		_exit(0);
	}
	close(ready[1]);
	g_assert_cmpint(read(ready[0], &c, 1), ==, 1);
	close(ready[0]);
	return r;
}

static Running
start(guint max_use, guint max_idle_s, guint per_ip)
{
	return start_with_helper(max_use, max_idle_s, per_ip, FALSE);
}

static void
stop(Running *r)
{
	int status;

	kill(r->pid, SIGTERM);
	g_assert_cmpint(waitpid(r->pid, &status, 0), ==, r->pid);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Connects and reads the session's line; the fd stays open (the session
 * runs until it is closed). */
static int
connect_to(const Running *r, pid_t *pid, guint *fds, char *first, gsize first_len)
{
	g_autoptr(GError) err = NULL;
	int fd = hm_connect_tcp("127.0.0.1", r->port, NULL, 5000, &err);
	char buf[64] = "";
	gsize n = 0;

	g_assert_no_error(err);
	while (n < sizeof(buf) - 1 && memchr(buf, '\n', n) == NULL) {
		ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);

		g_assert_cmpint(k, >, 0);
		n += (gsize)k;
	}
	if (first != NULL)
		g_strlcpy(first, buf, first_len);
	*pid = (pid_t)g_ascii_strtoll(buf, NULL, 10);
	*fds = (guint)g_ascii_strtoull(strchr(buf, ' ') != NULL ? strchr(buf, ' ') + 1 : "0", NULL,
	                               10);
	return fd;
}

/* One whole session: connect, read, hang up; then a moment for the
 * process to say it is free again. */
static pid_t
one_session(const Running *r, guint *fds)
{
	pid_t pid;
	int fd = connect_to(r, &pid, fds, NULL, 0);

	close(fd);
	g_usleep(100000);
	return pid;
}

/* A process serves at most max_use clients, does serve several, and
 * has exactly as many fds open in each session. */
static void
test_reuse(void)
{
	Running r = start(3, 30, 10);
	g_autoptr(GHashTable) uses = g_hash_table_new(g_direct_hash, g_direct_equal);
	GHashTableIter it;
	gpointer n;
	guint fds_seen = 0, fds;
	gboolean reused = FALSE;

	for (int i = 0; i < 9; i++) {
		pid_t pid = one_session(&r, &fds);

		g_hash_table_insert(uses, GINT_TO_POINTER(pid),
		                    GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(
		                                             uses, GINT_TO_POINTER(pid))) +
		                                     1));
		if (fds_seen != 0)
			g_assert_cmpuint(fds, ==, fds_seen);
		fds_seen = fds;
	}
	g_hash_table_iter_init(&it, uses);
	while (g_hash_table_iter_next(&it, NULL, &n)) {
		g_assert_cmpuint(GPOINTER_TO_UINT(n), <=, 3);
		reused |= GPOINTER_TO_UINT(n) > 1;
	}
	g_assert_true(reused);
	stop(&r);
}

/* max_use 1: a fresh process for every client. */
static void
test_one_each(void)
{
	Running r = start(1, 30, 10);
	g_autoptr(GHashTable) pids = g_hash_table_new(g_direct_hash, g_direct_equal);
	guint fds;

	for (int i = 0; i < 5; i++)
		g_assert_true(g_hash_table_add(pids, GINT_TO_POINTER(one_session(&r, &fds))));
	stop(&r);
}

static gboolean
gone_within(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return TRUE;
		g_usleep(50000);
	}
	return FALSE;
}

static void
test_idle_exit(void)
{
	Running r = start(100, 1, 10);
	guint fds;
	pid_t pid = one_session(&r, &fds);

	g_assert_true(gone_within(pid, 5000));
	g_assert_cmpint(one_session(&r, &fds), !=, pid);
	stop(&r);
}

/* A reload retires every idle process at once, even while a process
 * forked after it is busy (which must not keep a copy of the other's
 * control socket, or that one would never see it closed), and a busy one
 * when its session ends. */
static void
test_reload_retires(void)
{
	Running r = start(100, 60, 10);
	pid_t a, b;
	guint fds;
	int fa = connect_to(&r, &a, &fds, NULL, 0);
	int fb = connect_to(&r, &b, &fds, NULL, 0);

	g_assert_cmpint(a, !=, b);
	close(fa);
	g_usleep(200000);
	g_assert_cmpint(kill(a, 0), ==, 0);
	/* b is busy and was forked after a: a must go all the same. */
	kill(r.pid, SIGHUP);
	g_assert_true(gone_within(a, 5000));
	g_assert_cmpint(kill(b, 0), ==, 0);
	/* b goes when its session ends, not serving another. */
	close(fb);
	g_assert_true(gone_within(b, 5000));
	g_assert_cmpint(one_session(&r, &fds), !=, a);
	stop(&r);
}

/* The per-address cap counts the sessions of reused processes: two are
 * open, the third is refused; once one ends, a new one is served. */
static void
test_per_ip_cap(void)
{
	Running r = start(100, 60, 2);
	g_autoptr(GError) err = NULL;
	pid_t a, b, c;
	guint fds;
	char line[64];
	int fa = connect_to(&r, &a, &fds, NULL, 0);
	int fb = connect_to(&r, &b, &fds, NULL, 0);
	int fc = hm_connect_tcp("127.0.0.1", r.port, NULL, 5000, &err);
	ssize_t k = read(fc, line, sizeof(line) - 1);

	g_assert_cmpint(k, >, 0);
	line[k] = '\0';
	g_assert_cmpstr(line, ==, "busy\r\n");
	close(fc);
	close(fa);
	g_usleep(200000);
	fc = connect_to(&r, &c, &fds, line, sizeof(line));
	g_assert_cmpint(c, ==, a);  /* the freed process took it */
	close(fb);
	close(fc);
	stop(&r);
}

/* A process that served a single client goes after
 * HM_SERVER_FIRST_IDLE_S although max_idle_s is a minute; one that was
 * reused waits the minute. */
static void
test_first_idle(void)
{
	Running r = start(100, 60, 10);
	guint fds;
	pid_t once = one_session(&r, &fds), twice;
	int fa, fb;

	g_assert_true(gone_within(once, (HM_SERVER_FIRST_IDLE_S + 2) * 1000));
	/* Two clients at once: two processes; the second served again. */
	fa = connect_to(&r, &once, &fds, NULL, 0);
	fb = connect_to(&r, &twice, &fds, NULL, 0);
	close(fb);
	g_usleep(100000);
	g_assert_cmpint(one_session(&r, &fds), ==, twice);
	close(fa);
	g_assert_true(gone_within(once, (HM_SERVER_FIRST_IDLE_S + 2) * 1000));
	g_assert_cmpint(kill(twice, 0), ==, 0);
	stop(&r);
}

static pid_t
helper_started(int report, int ms)
{
	struct pollfd p = { .fd = report, .events = POLLIN };
	pid_t pid;

	if (poll(&p, 1, ms) != 1)
		return 0;
	g_assert_cmpint(read(report, &pid, sizeof(pid)), ==, (ssize_t)sizeof(pid));
	return pid;
}

/* An on-demand helper runs once at the start; having said it is idle, it
 * is started again only when its wake fd is written to, at once then
 * (no restart back-off), and again for the next wake-up. */
static void
test_helper_on_demand(void)
{
	int wake[2], report[2];
	Running r;
	pid_t a, b;

	g_assert_cmpint(pipe2(wake, O_NONBLOCK | O_CLOEXEC), ==, 0);
	g_assert_cmpint(pipe2(report, O_CLOEXEC), ==, 0);
	helper_wake = wake[0];
	helper_report = report[1];
	r = start_with_helper(100, 60, 10, TRUE);
	g_assert_cmpint(a = helper_started(report[0], 5000), >, 0);
	g_assert_true(gone_within(a, 5000));
	g_assert_cmpint(helper_started(report[0], 1500), ==, 0);
	g_assert_cmpint(write(wake[1], "m", 1), ==, 1);
	g_assert_cmpint(b = helper_started(report[0], 2000), >, 0);
	g_assert_cmpint(b, !=, a);
	g_assert_true(gone_within(b, 5000));
	g_assert_cmpint(helper_started(report[0], 500), ==, 0);
	g_assert_cmpint(write(wake[1], "m", 1), ==, 1);
	g_assert_cmpint(helper_started(report[0], 2000), >, 0);
	stop(&r);
	for (int i = 0; i < 2; i++) {
		close(wake[i]);
		close(report[i]);
	}
}

/* Reaps pid, an orphan the test adopted (PR_SET_CHILD_SUBREAPER), once
 * it ended; FALSE if it did not within ms. */
static gboolean
reaped_within(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return TRUE;
		g_usleep(50000);
	}
	return FALSE;
}

/* A helper that does not end on SIGTERM is waited for
 * helper_stop_wait_ms, then killed: the server stops, and takes it with
 * it. A helper whose server dies (kill -9) gets SIGTERM. */
static void
test_helper_stop(void)
{
	int wake[2], report[2];
	gint64 t;
	Running r;
	pid_t a;

	g_assert_cmpint(pipe2(wake, O_NONBLOCK | O_CLOEXEC), ==, 0);
	g_assert_cmpint(pipe2(report, O_CLOEXEC), ==, 0);
	helper_wake = wake[0];
	helper_report = report[1];
	helper_body = stubborn_helper;
	helper_stop_wait_ms = 600;
	r = start_with_helper(100, 60, 10, TRUE);
	g_assert_cmpint(a = helper_started(report[0], 5000), >, 0);
	t = g_get_monotonic_time();
	stop(&r);
	t = (g_get_monotonic_time() - t) / 1000;
	g_assert_cmpint(t, >=, 500);
	g_assert_cmpint(t, <, 3000);
	g_assert_true(gone_within(a, 100));

	/* The helper, orphaned, is then the test's to reap. */
	g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
	helper_body = polite_helper;
	r = start_with_helper(100, 60, 10, TRUE);
	g_assert_cmpint(a = helper_started(report[0], 5000), >, 0);
	g_assert_cmpint(kill(r.pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(r.pid, NULL, 0), ==, r.pid);
	g_assert_true(reaped_within(a, 3000));
	g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 0), ==, 0);
	helper_body = idle_helper;
	helper_stop_wait_ms = 0;
	for (int i = 0; i < 2; i++) {
		close(wake[i]);
		close(report[i]);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_test_add_func("/server/reuse", test_reuse);
	g_test_add_func("/server/one-each", test_one_each);
	g_test_add_func("/server/idle-exit", test_idle_exit);
	g_test_add_func("/server/first-idle", test_first_idle);
	g_test_add_func("/server/helper-on-demand", test_helper_on_demand);
	g_test_add_func("/server/helper-stop", test_helper_stop);
	g_test_add_func("/server/reload-retires", test_reload_retires);
	g_test_add_func("/server/per-ip-cap", test_per_ip_cap);
	return g_test_run();
}
