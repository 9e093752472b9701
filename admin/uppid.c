#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin/uppid.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/parse.h"

/* "PID\n" and nothing else: a longer file is not ours. */
#define PIDFILE_MAX 32

static char *
pid_path(const char *state_dir)
{
	return g_build_filename(state_dir, "up.pid", NULL);
}

/* The PID written in fd's file; 0 when there is none (yet). */
static pid_t
read_pid(int fd)
{
	char buf[PIDFILE_MAX];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	guint64 pid;

	if (n <= 1 || buf[n - 1] != '\n')
		return 0;
	buf[n - 1] = '\0';
	return hm_parse_uint(buf, 2, G_MAXINT32, &pid) == 0 ? (pid_t)pid : 0;
}

int
hm_uppid_acquire(const char *state_dir, GError **err)
{
	g_autofree char *path = pid_path(state_dir);
	g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		pid_t other = read_pid(fd);

		close(fd);
		if (e == EWOULDBLOCK)
			g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
			            "homemail up already runs for %s (pid %d)", state_dir,
			            (int)other);
		else
			hm_set_error_errno(err, e, "lock %s", path);
		return -1;
	}
	/* Written in place, under the lock: a reader that finds it empty or
	 * short knows an `up` is starting (see hm_uppid_signal()). */
	if (ftruncate(fd, 0) < 0 || hm_write_all(fd, text, strlen(text)) < 0) {
		hm_set_error_errno(err, errno, "write %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

void
hm_uppid_release(const char *state_dir, int fd)
{
	g_autofree char *path = pid_path(state_dir);

	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}

/* The real uid of process pid, from /proc/PID/status; -1 when it cannot
 * be read (the process is gone). */
static gint64
real_uid(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return -1;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) f = NULL;
		guint64 uid;

		if (!g_str_has_prefix(lines[i], "Uid:"))
			continue;
		f = g_strsplit_set(lines[i] + 4, " \t", -1);
		for (guint k = 0; f[k] != NULL; k++)
			if (*f[k] != '\0')
				return hm_parse_uint(f[k], 0, G_MAXUINT32, &uid) == 0 ? (gint64)uid : -1;
	}
	return -1;
}

/* Whether pid is a `homemail up` that the owner of the pid file started:
 * its real uid is the file's owner, and it runs this very program (the
 * same file as /proc/self/exe). Anyone who may write state_dir may write
 * any PID into up.pid and hold its lock, and network-up runs as root:
 * without this, root would signal whatever process was named. */
static int
check_target(const char *path, const struct stat *file, pid_t pid, GError **err)
{
	g_autofree char *exe = g_strdup_printf("/proc/%d/exe", (int)pid);
	gint64 uid = real_uid(pid);
	struct stat self, other;

	if (uid != (gint64)file->st_uid) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "%s names pid %d, which %s, and the file belongs to uid %u: "
		            "not signalling it",
		            path, (int)pid, uid < 0 ? "does not run" : "runs as another user",
		            (guint)file->st_uid);
		return -1;
	}
	if (stat("/proc/self/exe", &self) < 0 || stat(exe, &other) < 0 ||
	    self.st_dev != other.st_dev || self.st_ino != other.st_ino) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "%s names pid %d, which is not this homemail program (%s): not "
		            "signalling it (an up started before an upgrade needs a restart)",
		            path, (int)pid, exe);
		return -1;
	}
	return 0;
}

/* Sends sig through pidfd with the privileges of uid and gid only: as root,
 * from a child that drops to them first, so that whatever the checks
 * above missed, network-up cannot signal a process that the pid file's
 * owner could not. 0, or -1 with errno. */
static int
send_as(int pidfd, int sig, uid_t uid, gid_t gid)
{
	pid_t child;
	int status;

	if (geteuid() != 0 || uid == 0)
		return pidfd_send_signal(pidfd, sig, NULL, 0);
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(EPERM);
		_exit(pidfd_send_signal(pidfd, sig, NULL, 0) == 0 ? 0 : errno);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
		return -1;
	}
	return 0;
}

/* The checks and the signal go through a pidfd taken first: should pid
 * end and be reused meanwhile, the checks may have looked at another
 * process, but the signal then finds the pidfd's process gone (ESRCH)
 * instead of reaching that one. */
static int
signal_up(const char *path, const struct stat *file, pid_t pid, int sig, GError **err)
{
	int pidfd = pidfd_open(pid, 0);
	int rc = -1;

	if (pidfd < 0 && errno != ESRCH) {
		hm_set_error_errno(err, errno, "pid %d named by %s", (int)pid, path);
		return -1;
	}
	if (check_target(path, file, pid, err) < 0)
		goto out;
	if (pidfd < 0 || send_as(pidfd, sig, file->st_uid, file->st_gid) < 0) {
		hm_set_error_errno(err, pidfd < 0 ? ESRCH : errno, "homemail up (pid %d)",
		                   (int)pid);
		goto out;
	}
	rc = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

int
hm_uppid_signal(const char *state_dir, int sig, pid_t *pid, GError **err)
{
	g_autofree char *path = pid_path(state_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;

	*pid = 0;
	if (fd < 0 && errno == ENOENT)
		return HM_UPPID_NONE;
	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	/* Free: the `up` that wrote it is gone. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return HM_UPPID_NONE;
	}
	if (errno != EWOULDBLOCK) {
		hm_set_error_errno(err, errno, "lock %s", path);
		close(fd);
		return -1;
	}
	*pid = read_pid(fd);
	close(fd);
	if (*pid <= 0)
		return HM_UPPID_STARTING;
	return signal_up(path, &st, *pid, sig, err) == 0 ? HM_UPPID_SIGNALLED : -1;
}
