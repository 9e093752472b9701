#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin/up.h"
#include "lib/log.h"

static const struct {
	const char *name;
	const char *dir; /* in the build tree */
} programs[HM_UP_N_CHILDREN] = {
	[HM_UP_RELAY] = { "homemail-relay", "relay" },
	[HM_UP_POPD] = { "homemail-popd", "popd" },
	[HM_UP_FETCHER] = { "homemail-fetcher", "fetcher" },
	[HM_UP_DYNDNS] = { "homemail-dyndns", "dyndns" },
};

/* The relay is needed for its own group, and when the fetcher injects
 * into it (the fetcher's default: its first plain listener). */
static gboolean
relay_wanted(const HmConfig *cfg)
{
	const char *host = NULL;
	const HmListenSpec *l = hm_config_relay_local(&cfg->relay, &host);

	if (cfg->relay.present)
		return TRUE;
	return cfg->fetcher.n_accounts > 0 && cfg->fetcher.deliver_kind == HM_DELIVER_SMTP &&
	       l != NULL && l->port == cfg->fetcher.deliver_port &&
	       g_strcmp0(host, cfg->fetcher.deliver_host) == 0;
}

static char *
program_path(const char *self_dir, HmUpWhich c)
{
	const char *dir = g_getenv("HOMEMAIL_PROGRAM_DIR");
	g_autofree char *built = NULL;

	if (dir != NULL && *dir != '\0')
		return g_build_filename(dir, programs[c].name, NULL);
	built = g_build_filename(self_dir, "..", programs[c].dir, programs[c].name, NULL);
	if (self_dir != NULL && g_str_has_suffix(self_dir, "/admin") && access(built, X_OK) == 0)
		return g_canonicalize_filename(built, NULL);
	return g_build_filename(self_dir != NULL ? self_dir : ".", programs[c].name, NULL);
}

guint
hm_up_plan(HmUp *up, const HmConfig *cfg)
{
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *self_dir = self != NULL ? g_path_get_dirname(self) : NULL;
	guint n = 0;

	up->child[HM_UP_RELAY].wanted = relay_wanted(cfg);
	up->child[HM_UP_POPD].wanted = cfg->popd.present;
	up->child[HM_UP_FETCHER].wanted = cfg->fetcher.n_accounts > 0;
	up->child[HM_UP_DYNDNS].wanted = cfg->dyndns.n_records > 0;
	for (guint c = 0; c < HM_UP_N_CHILDREN; c++) {
		HmUpChild *ch = &up->child[c];

		ch->name = programs[c].name;
		ch->path = program_path(self_dir, c);
		ch->delay = HM_UP_BACKOFF_FIRST_S;
		n += ch->wanted ? 1 : 0;
	}
	return n;
}

/* The environment of child c: this one without NOTIFY_SOCKET, plus the
 * readiness channel for the relay and popd while `up` listens on it. */
static char **
child_env(const HmUp *up, HmUpWhich c)
{
	char **env = g_get_environ();

	env = g_environ_unsetenv(env, "NOTIFY_SOCKET");
	if ((c == HM_UP_RELAY || c == HM_UP_POPD) && up->notify_socket != NULL)
		env = g_environ_setenv(env, "NOTIFY_SOCKET", up->notify_socket, TRUE);
	return env;
}

/* Between fork() and exec(): async-signal-safe calls only. */
static G_GNUC_NORETURN void
exec_child(char **argv, char **envp, pid_t parent, const sigset_t *mask)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);
	/* `up` killed with SIGKILL must not leave its children running. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execve(argv[0], argv, envp);
	_exit(127);
}

int
hm_up_start(HmUp *up, HmUpWhich c)
{
	HmUpChild *ch = &up->child[c];
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) envp = NULL;
	pid_t parent = getpid(), pid;
	sigset_t mask = up->old_mask;

	if (access(ch->path, X_OK) < 0) {
		hm_err("%s: %s: %s", ch->name, ch->path, g_strerror(errno));
		return -1;
	}
	g_ptr_array_add(argv, ch->path);
	g_ptr_array_add(argv, (gpointer) "-c");
	g_ptr_array_add(argv, (gpointer)up->config_path);
	for (int i = 0; i < up->verbosity; i++)
		g_ptr_array_add(argv, (gpointer) "-v");
	g_ptr_array_add(argv, NULL);
	envp = child_env(up, c);
	/* The relay and dyndns take SIGHUP (a reload, which reload() in
	 * up.c passes on) from a blocked set, through signalfd and sigwait:
	 * started with it blocked, one that comes before they are that far
	 * waits for them, pending across exec, where its default action
	 * would have ended them. Deferring it instead would need a guess of
	 * when a child is ready, and a slow start outlasts any guess. */
	if (c == HM_UP_RELAY || c == HM_UP_DYNDNS)
		sigaddset(&mask, SIGHUP);
	pid = fork();
	if (pid < 0) {
		hm_err("%s: fork: %s", ch->name, g_strerror(errno));
		return -1;
	}
	if (pid == 0)
		exec_child((char **)argv->pdata, envp, parent, &mask);
	/* Also here, so a killpg() right after the fork finds the group. */
	setpgid(pid, pid);
	ch->pid = pid;
	ch->started = g_get_monotonic_time();
	ch->restart_at = 0;
	hm_info("%s: started pid=%d", ch->name, (int)pid);
	return 0;
}

static char *
how_it_ended(int status)
{
	if (WIFSIGNALED(status))
		return g_strdup_printf("killed by signal %d (%s)", WTERMSIG(status),
		                       g_strsignal(WTERMSIG(status)));
	return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
}

void
hm_up_reaped(HmUp *up, pid_t pid, int status, gboolean stopping)
{
	gint64 now = g_get_monotonic_time();
	g_autofree char *how = how_it_ended(status);

	for (guint c = 0; c < HM_UP_N_CHILDREN; c++) {
		HmUpChild *ch = &up->child[c];

		if (ch->pid != pid)
			continue;
		ch->pid = 0;
		/* Session processes a crashed relay or popd left behind hold
		 * its listeners: the next start could not bind them. */
		kill(-pid, SIGKILL);
		if (stopping) {
			hm_info("%s: pid=%d %s", ch->name, (int)pid, how);
			return;
		}
		if (ch->restart_now) {
			ch->restart_now = FALSE;
			ch->restart_at = now;
			return;
		}
		if (now - ch->started >= (gint64)HM_UP_STABLE_S * G_USEC_PER_SEC)
			ch->delay = HM_UP_BACKOFF_FIRST_S;
		hm_warn("%s: pid=%d %s; restarting in %u s", ch->name, (int)pid, how, ch->delay);
		ch->restart_at = now + (gint64)ch->delay * G_USEC_PER_SEC;
		ch->delay = MIN(ch->delay * 2, HM_UP_BACKOFF_MAX_S);
		return;
	}
}

int
hm_up_restart_due(HmUp *up)
{
	gint64 now = g_get_monotonic_time(), next = -1;

	for (guint c = 0; c < HM_UP_N_CHILDREN; c++) {
		HmUpChild *ch = &up->child[c];

		if (ch->restart_at == 0)
			continue;
		if (ch->restart_at <= now && hm_up_start(up, c) < 0) {
			ch->restart_at = now + (gint64)ch->delay * G_USEC_PER_SEC;
			ch->delay = MIN(ch->delay * 2, HM_UP_BACKOFF_MAX_S);
		}
		if (ch->restart_at != 0 && (next < 0 || ch->restart_at < next))
			next = ch->restart_at;
	}
	if (next < 0)
		return -1;
	return (int)MAX(0, (next - now + 999) / 1000);
}

void
hm_up_clear(HmUp *up)
{
	for (guint c = 0; c < HM_UP_N_CHILDREN; c++)
		g_clear_pointer(&up->child[c].path, g_free);
	g_clear_pointer(&up->notify_socket, g_free);
}
