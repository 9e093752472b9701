/* `homemail up`: the bundle in the foreground, for a machine without
 * systemd and for the demo. One process supervises relay, popd, the
 * fetcher's daemon and the dyndns daemon: restarts a child that dies (with
 * a back-off), passes SIGHUP on, runs the network-up actions on SIGUSR1,
 * and stops them all on SIGTERM or SIGINT. */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin/commands.h"
#include "admin/up.h"
#include "admin/uppid.h"
#include "lib/atomic.h"
#include "lib/log.h"
#include "relay/spool.h"

typedef struct {
	HmUp up;
	const HmConfig *cfg;
	int sig_fd;
	gboolean stopping;
} Supervisor;

/* The network is back: what `homemail network-up` asks for. The relay
 * tries its whole queue now, the fetcher polls and dyndns checks the
 * address. */
static void
network_up(Supervisor *sv)
{
	g_autofree char *queue_dir = g_build_filename(sv->cfg->state_dir, "queue", NULL);
	gint64 now = g_get_monotonic_time();

	hm_info("network up: flushing the queue, polling, checking the address");
	if (sv->up.child[HM_UP_RELAY].pid > 0) {
		g_autoptr(GError) err = NULL;

		switch (relay_spool_poke(queue_dir, 'f', &err)) {
		case RELAY_POKE_SENT:
			break;
		case RELAY_POKE_DOWN:
			hm_warn("network up: the relay's queue runner does not listen yet");
			break;
		case RELAY_POKE_FAILED:
			hm_warn("network up: %s", err->message);
		}
	}
	for (guint c = HM_UP_FETCHER; c <= HM_UP_DYNDNS; c++) {
		const HmUpChild *ch = &sv->up.child[c];

		if (ch->pid > 0 && now - ch->started >= (gint64)HM_UP_YOUNG_S * G_USEC_PER_SEC)
			kill(ch->pid, SIGUSR1);
	}
}

/* SIGHUP: the relay and dyndns re-read the config themselves; popd and
 * the fetcher cannot, so they are started again with it. */
static void
reload(Supervisor *sv)
{
	for (guint c = 0; c < HM_UP_N_CHILDREN; c++) {
		HmUpChild *ch = &sv->up.child[c];

		if (ch->pid <= 0)
			continue;
		if (c == HM_UP_RELAY || c == HM_UP_DYNDNS) {
			kill(ch->pid, SIGHUP);
		} else {
			ch->restart_now = TRUE;
			kill(ch->pid, SIGTERM);
		}
	}
}

static void
reap(Supervisor *sv)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		hm_up_reaped(&sv->up, pid, status, sv->stopping);
}

static void
handle_signals(Supervisor *sv)
{
	struct signalfd_siginfo si;

	while (read(sv->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(sv);
			break;
		case SIGUSR1:
			network_up(sv);
			break;
		case SIGHUP:
			reload(sv);
			break;
		default:
			hm_info("signal %u: stopping", si.ssi_signo);
			sv->stopping = TRUE;
		}
	}
}

static gboolean
any_running(const Supervisor *sv)
{
	for (guint c = 0; c < HM_UP_N_CHILDREN; c++)
		if (sv->up.child[c].pid > 0)
			return TRUE;
	return FALSE;
}

/* SIGTERM to every child, HM_UP_STOP_WAIT_S for them to end, then
 * SIGKILL to the process group of each one left. */
static void
stop_all(Supervisor *sv)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)HM_UP_STOP_WAIT_S * G_USEC_PER_SEC;

	for (guint c = 0; c < HM_UP_N_CHILDREN; c++)
		if (sv->up.child[c].pid > 0)
			kill(sv->up.child[c].pid, SIGTERM);
	reap(sv);
	while (any_running(sv)) {
		struct pollfd p = { .fd = sv->sig_fd, .events = POLLIN };
		gint64 left = deadline - g_get_monotonic_time();

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)MAX(1, left / 1000)) > 0)
			handle_signals(sv);
	}
	for (guint c = 0; c < HM_UP_N_CHILDREN; c++) {
		HmUpChild *ch = &sv->up.child[c];

		if (ch->pid <= 0)
			continue;
		hm_warn("%s: pid=%d did not stop in %d s: killing it", ch->name, (int)ch->pid,
		        HM_UP_STOP_WAIT_S);
		kill(-ch->pid, SIGKILL);
		kill(ch->pid, SIGKILL);
		if (waitpid(ch->pid, NULL, 0) == ch->pid)
			ch->pid = 0;
	}
}

/* The readiness channel of the relay and popd, in sd_notify's protocol
 * (each sends READY=1 once it listens, as under systemd): a datagram
 * socket with an abstract address, so there is no file to make, own or
 * remove in state_dir, which belongs to run_as (the children say READY=1
 * after they dropped to that user, and a path a run_as process could swap
 * for a symlink between bind() and a chown() would let it take any file).
 * Any local process can reach an abstract address; SO_PASSCRED makes the
 * kernel name each sender, and only the child waited for counts. -1 when
 * it cannot be made, or in a build whose programs cannot say it (no
 * libsystemd): the fetcher then starts at once and its first pass may
 * find the relay or popd not yet listening (it tries again). */
static int
open_notify(Supervisor *sv)
{
#ifdef HAVE_LIBSYSTEMD
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	g_autofree char *name =
	        g_strdup_printf("homemail-up-%d-%08x", (int)getpid(), g_random_int());
	int fd, on = 1;

	/* sun_path[0] == '\0': abstract; NOTIFY_SOCKET spells that '@'. */
	memcpy(a.sun_path + 1, name, strlen(name));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0 &&
	    bind(fd, (struct sockaddr *)&a,
	         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) == 0) {
		sv->up.notify_socket = g_strconcat("@", name, NULL);
		return fd;
	}
	hm_warn("readiness socket: %s: not waiting for the relay and popd", g_strerror(errno));
	if (fd >= 0)
		close(fd);
#else
	(void)sv;
#endif
	return -1;
}

/* The pid that sent the datagram msg came with (SO_PASSCRED), or 0. */
static pid_t
sender_pid(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			return cred.pid;
		}
	}
	return 0;
}

/* Whether the datagram text has the line READY=1. */
static gboolean
says_ready(const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	return g_strv_contains((const char *const *)lines, "READY=1");
}

/* Waits for child ch's READY=1, at most HM_UP_READY_WAIT_S. Signals that
 * come meanwhile are handled as in the main loop; the wait ends early
 * only when ch died or `up` is to stop. */
static void
wait_ready(Supervisor *sv, int fd, const HmUpChild *ch)
{
	gint64 until = g_get_monotonic_time() + (gint64)HM_UP_READY_WAIT_S * G_USEC_PER_SEC;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	char buf[256];

	while (ch->pid > 0 && !sv->stopping) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
			               { .fd = sv->sig_fd, .events = POLLIN } };
		gint64 left_ms = (until - g_get_monotonic_time()) / 1000;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr msg = { .msg_iov = &iov,
			              .msg_iovlen = 1,
			              .msg_control = &control,
			              .msg_controllen = sizeof(control) };
		ssize_t n;

		if (left_ms <= 0 || poll(p, 2, (int)left_ms) <= 0) {
			hm_warn("%s: not ready after %d s; starting the others", ch->name,
			        HM_UP_READY_WAIT_S);
			return;
		}
		if (p[1].revents != 0)
			handle_signals(sv);
		if (p[0].revents == 0)
			continue;
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n <= 0 || sender_pid(&msg) != ch->pid)
			continue;
		buf[n] = '\0';
		if (says_ready(buf))
			return;
	}
}

/* Starts every wanted child. The relay and popd come first and, when the
 * fetcher is to run, it waits until they listen: its first pass would
 * otherwise find no relay to deliver into (or, fetching from this box's
 * own popd as the demo does, no popd), leave the mail upstream and try
 * again only after its back-off. The channel is for the first start only:
 * a child started again later is not waited for. */
static void
start_all(Supervisor *sv)
{
	HmUp *up = &sv->up;
	int fd = -1;

	if (up->child[HM_UP_FETCHER].wanted &&
	    (up->child[HM_UP_RELAY].wanted || up->child[HM_UP_POPD].wanted))
		fd = open_notify(sv);
	for (guint c = 0; c < HM_UP_N_CHILDREN && !sv->stopping; c++) {
		if (!up->child[c].wanted)
			continue;
		if (hm_up_start(up, c) < 0)
			up->child[c].restart_at = g_get_monotonic_time();
		else if ((c == HM_UP_RELAY || c == HM_UP_POPD) && fd >= 0)
			wait_ready(sv, fd, &up->child[c]);
	}
	if (fd >= 0) {
		close(fd);
		g_clear_pointer(&up->notify_socket, g_free);
	}
}

static void
supervise(Supervisor *sv)
{
	start_all(sv);
	while (!sv->stopping) {
		struct pollfd p = { .fd = sv->sig_fd, .events = POLLIN };
		int timeout = hm_up_restart_due(&sv->up);

		if (poll(&p, 1, timeout) > 0)
			handle_signals(sv);
	}
	stop_all(sv);
}

/* The state folder the children share: made here when missing, so the
 * pid file has a place, and given to run_as when `up` runs as root. */
static int
make_state_dir(const HmConfig *cfg)
{
	const struct passwd *pw;
	g_autoptr(GError) err = NULL;

	if (g_file_test(cfg->state_dir, G_FILE_TEST_IS_DIR))
		return 0;
	if (g_mkdir_with_parents(cfg->state_dir, 0700) < 0) {
		fprintf(stderr, "homemail up: create %s: %s\n", cfg->state_dir, g_strerror(errno));
		return -1;
	}
	if (cfg->run_as != NULL && geteuid() == 0 && (pw = getpwnam(cfg->run_as)) != NULL &&
	    hm_chown_nofollow(cfg->state_dir, pw->pw_uid, pw->pw_gid, &err) < 0) {
		fprintf(stderr, "homemail up: %s\n", err->message);
		return -1;
	}
	return 0;
}

/* Blocks the signals `up` takes through sig_fd; the old mask goes back to
 * the children. */
static int
take_signals(Supervisor *sv)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &sv->up.old_mask);
	sv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sv->sig_fd < 0)
		fprintf(stderr, "homemail up: signalfd: %s\n", g_strerror(errno));
	return sv->sig_fd < 0 ? -1 : 0;
}

int
hm_cmd_up(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	const GOptionEntry entries[] = { { "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath,
		                           "configuration file", "FILE" },
		                         G_OPTION_ENTRY_NULL };
	g_autoptr(GOptionContext) octx = g_option_context_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	Supervisor sv = { .sig_fd = -1 };
	int pid_fd;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "homemail up: %s\n",
		        err != NULL ? err->message : "no arguments expected");
		return 2;
	}
	if ((cfg = hm_cmd_load_config(cpath, opts, &sv.up.config_path)) == NULL)
		return 1;
	sv.cfg = cfg;
	sv.up.verbosity = opts->verbosity;
	if (hm_up_plan(&sv.up, cfg) == 0) {
		fprintf(stderr,
		        "homemail up: %s gives no program work (no relay, popd, fetcher "
		        "accounts or dyndns records)\n",
		        sv.up.config_path);
		hm_up_clear(&sv.up);
		return 1;
	}
	if (make_state_dir(cfg) < 0 || (pid_fd = hm_uppid_acquire(cfg->state_dir, &err)) < 0) {
		if (err != NULL)
			fprintf(stderr, "homemail up: %s\n", err->message);
		hm_up_clear(&sv.up);
		return 1;
	}
	if (take_signals(&sv) == 0)
		supervise(&sv);
	hm_uppid_release(cfg->state_dir, pid_fd);
	if (sv.sig_fd >= 0)
		close(sv.sig_fd);
	hm_up_clear(&sv.up);
	hm_info("stopped");
	return sv.sig_fd >= 0 ? 0 : 1;
}
