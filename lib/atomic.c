#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "error.h"

/* How many temporary names to try before giving up on EEXIST: a clash
 * means a stale temp file or a racing writer, and one retry is usually
 * enough; looping forever would hide a bug. */
#define ATOMIC_NAME_TRIES 16

int
hm_fsync_dir(const char *dir, GError **err)
{
	int fd, saved;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		hm_set_error_errno(err, errno, "open directory %s", dir);
		return -1;
	}
	if (fsync(fd) < 0) {
		saved = errno;
		hm_set_error_errno(err, saved, "fsync directory %s", dir);
		close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0) {
		hm_set_error_errno(err, errno, "close directory %s", dir);
		return -1;
	}
	return 0;
}

int
hm_write_all(int fd, const void *data, gsize len)
{
	const guint8 *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len > SSIZE_MAX ? SSIZE_MAX : len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			/* write() returning 0 for a regular file means no
			 * progress is possible; treat it as a full disk. */
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (gsize)n;
	}
	return 0;
}

/* Creates a fresh temporary file beside path; returns its fd and name. */
static int
temp_open(const char *dir, const char *base, mode_t mode, char **tmp_out, GError **err)
{
	for (int i = 0; i < ATOMIC_NAME_TRIES; i++) {
		g_autofree char *tmp = g_strdup_printf("%s/.%s.tmp.%ld.%08x", dir, base,
		                                       (long)getpid(), g_random_int());
		int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

		if (fd >= 0) {
			*tmp_out = g_steal_pointer(&tmp);
			return fd;
		}
		if (errno != EEXIST) {
			hm_set_error_errno(err, errno, "create %s", tmp);
			return -1;
		}
	}
	hm_set_error_errno(err, EEXIST, "create temporary file in %s", dir);
	errno = EEXIST;
	return -1;
}

/* Writes, syncs and closes fd; on failure closes it anyway. */
static int
temp_fill(int fd, const char *tmp, const void *data, gsize len, mode_t mode, GError **err)
{
	const char *what;
	int saved;

	/* The umask may have cut bits off the mode given to open(). */
	if (fchmod(fd, mode) < 0)
		what = "chmod";
	else if (hm_write_all(fd, data, len) < 0)
		what = "write";
	else if (fsync(fd) < 0)
		what = "fsync";
	else
		what = NULL;
	if (what != NULL) {
		saved = errno;
		close(fd);
		hm_set_error_errno(err, saved, "%s %s", what, tmp);
		errno = saved;
		return -1;
	}
	/* NFS and some FUSE file systems report write errors only at close. */
	if (close(fd) < 0) {
		hm_set_error_errno(err, errno, "close %s", tmp);
		return -1;
	}
	return 0;
}

int
hm_atomic_write(const char *path, const void *data, gsize len, mode_t mode, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *tmp = NULL;
	int fd, saved;

	fd = temp_open(dir, base, mode, &tmp, err);
	if (fd < 0)
		return -1;
	if (temp_fill(fd, tmp, data, len, mode, err) < 0)
		goto fail;
	if (rename(tmp, path) < 0) {
		hm_set_error_errno(err, errno, "rename %s to %s", tmp, path);
		goto fail;
	}
	/* Past the rename the new content is in place; a failed directory
	 * fsync is still an error because durability is not guaranteed. */
	return hm_fsync_dir(dir, err);

fail:
	saved = errno;
	unlink(tmp);
	errno = saved;
	return -1;
}

/* What st describes, for "PATH is not a regular file (a FIFO)". */
static const char *
file_kind(const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return "a directory";
	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return "a device";
	return "not a file";
}

int
hm_open_regular(const char *path, struct stat *st, GError **err)
{
	/* O_NONBLOCK makes open() return at once on a FIFO; it changes
	 * nothing for a regular file, so the fd is left as it is. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int saved;

	memset(st, 0, sizeof(*st));
	if (fd < 0 || fstat(fd, st) < 0) {
		saved = errno;
		hm_set_error_errno(err, saved, "%s: cannot read", path);
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s is not a regular file (%s)", path,
		            file_kind(st));
		errno = S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	return fd;
}

GBytes *
hm_read_file(const char *path, gsize max, GError **err)
{
	struct stat st;

	return hm_read_file_stat(path, max, &st, err);
}

GBytes *
hm_read_file_stat(const char *path, gsize max, struct stat *st, GError **err)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	guint8 chunk[8192];
	int fd, saved;

	fd = hm_open_regular(path, st, err);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			hm_set_error_errno(err, saved, "read %s", path);
			close(fd);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		if ((gsize)n > max - buf->len) {
			close(fd);
			g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
			            "%s is larger than %" G_GSIZE_FORMAT " bytes", path, max);
			errno = EFBIG;
			return NULL;
		}
		g_byte_array_append(buf, chunk, (guint)n);
	}
	close(fd);
	return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}
