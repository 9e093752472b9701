#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
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
	 * short knows an `up` is starting (see hm_uppid_running()). */
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

pid_t
hm_uppid_running(const char *state_dir)
{
	g_autofree char *path = pid_path(state_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	pid_t pid;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		close(fd);
		return 0;
	}
	pid = read_pid(fd);
	close(fd);
	return pid > 0 ? pid : -1;
}
