#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib.h>

#include "lib/error.h"
#include "lib/parse.h"
#include "fetcher/lock.h"
#include "fetcher/state-private.h"

/* How often a waiting hm_fetch_lock() tries again: short against the
 * seconds an account run takes, long enough not to spin. */
#define LOCK_POLL_MS 25

/* --- the account lock ------------------------------------------------------ */

/* The error for a lock held elsewhere, naming the pid the holder wrote
 * into the lock file (none while it has not written it yet). */
static void
lock_busy(int fd, GError **err)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	const char *nl = n > 0 ? memchr(buf, '\n', (gsize)n) : NULL;
	guint64 pid;

	if (nl != NULL && hm_parse_uint_n(buf, (gsize)(nl - buf), 1, G_MAXINT32, &pid) == 0)
		g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT, "account is being fetched by another "
		            "homemail-fetcher (pid %" G_GUINT64_FORMAT ")", pid);
	else
		g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT,
		            "account is being fetched by another homemail-fetcher");
}

/* Takes the flock on fd, trying again until wait_ms passed. Returns 0, 1
 * when another process holds it, -1 on error. */
static int
lock_wait(int fd, int wait_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)MAX(wait_ms, 0) * 1000;

	for (;;) {
		gint64 left;

		/* flock() is released by the kernel however the holder dies:
		 * no stale locks after kill -9. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -1;
		left = deadline - g_get_monotonic_time();
		if (left <= 0)
			return 1;
		g_usleep((gulong)MIN(left, LOCK_POLL_MS * 1000));
	}
}

int
hm_fetch_lock(const char *state_dir, const char *account, int wait_ms, GError **err)
{
	g_autofree char *dir = NULL, *acct = NULL, *path = NULL, *pid = NULL;
	int fd, rc;

	if ((dir = hm_fetch_dir(state_dir, account, &acct, err)) == NULL)
		return -1;
	path = g_strdup_printf("%s/%s.lock", dir, acct);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", path);
		return -1;
	}
	rc = lock_wait(fd, wait_ms);
	if (rc != 0) {
		if (rc < 0)
			hm_set_error_errno(err, errno, "lock %s", path);
		else
			lock_busy(fd, err);
		close(fd);
		return -1;
	}
	/* Only for the message a waiting process prints; not synced. */
	pid = g_strdup_printf("%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid)) {
		hm_set_error_errno(err, errno, "write %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

void
hm_fetch_unlock(int fd)
{
	if (fd < 0)
		return;
	/* The pid goes first, so no waiter names a process that left; a
	 * failure only leaves a stale pid for the message. */
	if (ftruncate(fd, 0) < 0)
		g_debug("fetch lock: truncate: %s", g_strerror(errno));
	close(fd);
}

/* --- shared by the threads of one process ----------------------------------- */

void
hm_fetch_lock_share_init(HmFetchLockShare *sh)
{
	g_mutex_init(&sh->mutex);
	sh->fd = -1;
	sh->holders = 0;
}

void
hm_fetch_lock_share_clear(HmFetchLockShare *sh)
{
	g_return_if_fail(sh->holders == 0);
	g_mutex_clear(&sh->mutex);
}

int
hm_fetch_lock_shared(HmFetchLockShare *sh, const char *state_dir, const char *account,
                     int wait_ms, GError **err)
{
	int rc = 0;

	g_mutex_lock(&sh->mutex);
	if (sh->holders == 0)
		sh->fd = hm_fetch_lock(state_dir, account, wait_ms, err);
	if (sh->fd >= 0)
		sh->holders++;
	else
		rc = -1;
	g_mutex_unlock(&sh->mutex);
	return rc;
}

void
hm_fetch_unlock_shared(HmFetchLockShare *sh)
{
	g_mutex_lock(&sh->mutex);
	if (sh->holders > 0 && --sh->holders == 0) {
		hm_fetch_unlock(sh->fd);
		sh->fd = -1;
	}
	g_mutex_unlock(&sh->mutex);
}
