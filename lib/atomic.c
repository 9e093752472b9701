#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "error.h"

/* How many temporary names to try before giving up on EEXIST: a clash
 * means a stale temp file or a racing writer, and one retry is usually
 * enough; looping forever would hide a bug. */
#define ATOMIC_NAME_TRIES 16
/* What sets a temporary file's name apart: ".BASE" TEMP_MARK "PID.RANDOM",
 * RANDOM in TEMP_RANDOM_DIGITS lower-case hex digits (hm_durable_new(),
 * hm_durable_temp_name()). */
#define TEMP_MARK ".tmp."
#define TEMP_RANDOM_DIGITS 8

/* Opens path with oflags and runs sync (fsync, syncfs) on it; kind is
 * put before the path in errors ("directory "). */
static int
sync_path(const char *path, int oflags, int (*sync)(int), const char *sync_name,
          const char *kind, GError **err)
{
	g_autofree char *name = g_strconcat(kind, path, NULL);
	int fd = open(path, oflags | O_RDONLY | O_CLOEXEC), saved;

	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", name);
		return -1;
	}
	if (sync(fd) < 0) {
		saved = errno;
		hm_set_error_errno(err, saved, "%s %s", sync_name, name);
		close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0) {
		hm_set_error_errno(err, errno, "close %s", name);
		return -1;
	}
	return 0;
}

int
hm_fsync_dir(const char *dir, GError **err)
{
	return sync_path(dir, O_DIRECTORY, fsync, "fsync", "directory ", err);
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

/* Changes the owner of what fd is, after checking it is a directory or a
 * regular file; path names it in errors. */
static int
chown_fd(int fd, const char *path, uid_t uid, gid_t gid, GError **err)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		hm_set_error_errno(err, errno, "%s", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO,
		            "%s: not a directory or a regular file; its owner is left as it is", path);
		return -1;
	}
	if (fchown(fd, uid, gid) < 0) {
		hm_set_error_errno(err, errno, "chown %s", path);
		return -1;
	}
	return 0;
}

int
hm_chown_at(int dir_fd, const char *name, const char *path, uid_t uid, gid_t gid, int *fd_out,
            GError **err)
{
	/* O_NONBLOCK: a FIFO put there must not hang the open. */
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ELOOP)
			g_set_error(err, HM_ERROR, HM_ERROR_IO,
			            "%s: is a symbolic link; not following it to change an owner", path);
		else
			hm_set_error_errno(err, errno, "%s", path);
		return -1;
	}
	if (chown_fd(fd, path, uid, gid, err) < 0) {
		close(fd);
		return -1;
	}
	if (fd_out != NULL)
		*fd_out = fd;
	else
		close(fd);
	return 0;
}

int
hm_chown_nofollow(const char *path, uid_t uid, gid_t gid, GError **err)
{
	return hm_chown_at(AT_FDCWD, path, path, uid, gid, NULL, err);
}

int
hm_syncfs(const char *path, GError **err)
{
	return sync_path(path, O_NONBLOCK, syncfs, "syncfs", "", err);
}

struct HmDurable {
	char *path;
	char *tmp;
	int fd;
};

HmDurable *
hm_durable_new(const char *path, mode_t mode, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);

	for (int i = 0; i < ATOMIC_NAME_TRIES; i++) {
		g_autofree char *tmp = g_strdup_printf("%s/.%s" TEMP_MARK "%ld.%0*x", dir, base,
		                                       (long)getpid(), TEMP_RANDOM_DIGITS,
		                                       g_random_int());
		int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
		HmDurable *d;

		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0) {
			hm_set_error_errno(err, errno, "create %s", tmp);
			return NULL;
		}
		/* The umask may have cut bits off the mode given to open(). */
		if (fchmod(fd, mode) < 0) {
			hm_set_error_errno(err, errno, "chmod %s", tmp);
			close(fd);
			unlink(tmp);
			return NULL;
		}
		d = g_new0(HmDurable, 1);
		d->path = g_strdup(path);
		d->tmp = g_steal_pointer(&tmp);
		d->fd = fd;
		return d;
	}
	hm_set_error_errno(err, EEXIST, "create temporary file in %s", dir);
	errno = EEXIST;
	return NULL;
}

int
hm_durable_write(HmDurable *d, const void *data, gsize len, GError **err)
{
	if (hm_write_all(d->fd, data, len) < 0) {
		hm_set_error_errno(err, errno, "write %s", d->tmp);
		return -1;
	}
	return 0;
}

int
hm_durable_pwrite(HmDurable *d, const void *data, gsize len, goffset off, GError **err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(d->fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			hm_set_error_errno(err, n < 0 ? errno : ENOSPC, "write %s", d->tmp);
			return -1;
		}
		p += n;
		len -= (gsize)n;
		off += n;
	}
	return 0;
}

void
hm_durable_abort(HmDurable *d)
{
	int saved = errno;

	if (d == NULL)
		return;
	if (d->fd >= 0)
		close(d->fd);
	unlink(d->tmp);
	g_free(d->tmp);
	g_free(d->path);
	g_free(d);
	errno = saved;
}

int
hm_reserve_space(int fd, goffset off, gsize len, const char *path, GError **err)
{
	int rc;

	/* KEEP_SIZE: the blocks are the file's, its length stays what was
	 * written, so nothing needs trimming afterwards. */
	do
		rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	while (rc < 0 && errno == EINTR);
	/* A file system that cannot reserve (EOPNOTSUPP) is written as
	 * before: no worse than without the reservation. */
	if (rc < 0 && errno != EOPNOTSUPP) {
		hm_set_error_errno(err, errno, "reserve %" G_GSIZE_FORMAT " bytes for %s", len, path);
		return -1;
	}
	return 0;
}

HmDurable *
hm_durable_new_reserved(const char *path, mode_t mode, gsize len, GError **err)
{
	HmDurable *d = hm_durable_new(path, mode, err);

	if (d != NULL && hm_reserve_space(d->fd, 0, len, d->tmp, err) < 0) {
		hm_durable_abort(d);
		return NULL;
	}
	return d;
}

gboolean
hm_durable_temp_name(const char *name)
{
	gsize n = strlen(name), mark = strlen(TEMP_MARK);
	const char *p, *pid_end;

	/* Read from the end: BASE may hold anything but "/". */
	if (n < 2 + mark + 2 + TEMP_RANDOM_DIGITS || name[0] != '.')
		return FALSE;
	for (p = name + n - TEMP_RANDOM_DIGITS; *p != '\0'; p++)
		if (!g_ascii_isxdigit(*p) || g_ascii_isupper(*p))
			return FALSE;
	pid_end = name + n - TEMP_RANDOM_DIGITS - 1;
	if (*pid_end != '.')
		return FALSE;
	for (p = pid_end; p > name && g_ascii_isdigit(p[-1]); p--)
		;
	return p < pid_end && (gsize)(p - name) >= 2 + mark &&
	       memcmp(p - mark, TEMP_MARK, mark) == 0;
}

guint
hm_durable_clear_stale(const char *dir, gint64 min_age_s)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	gint64 now = (gint64)time(NULL);
	struct dirent *de;
	guint n = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (!hm_durable_temp_name(de->d_name) ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) ||
		    (min_age_s > 0 && now - (gint64)st.st_mtime < min_age_s))
			continue;
		/* unlinkat() without AT_REMOVEDIR removes the name itself,
		 * a link included, and never a directory. */
		if (unlinkat(fd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Syncs (unless told not to) and closes the file; -1 with *err. */
static int
durable_close(HmDurable *d, guint flags, GError **err)
{
	int fd = d->fd;

	d->fd = -1;
	if (!(flags & HM_DURABLE_NO_FSYNC) && fsync(fd) < 0) {
		int saved = errno;

		hm_set_error_errno(err, saved, "fsync %s", d->tmp);
		close(fd);
		errno = saved;
		return -1;
	}
	/* NFS and some FUSE file systems report write errors only at close. */
	if (close(fd) < 0) {
		hm_set_error_errno(err, errno, "close %s", d->tmp);
		return -1;
	}
	return 0;
}

/* hm_durable_commit() and hm_durable_commit_unique(): with rename, or
 * with link and, when next is given, another name for each one taken. */
static int
commit(HmDurable *d, guint flags, HmDurableNextName next, gpointer data, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(d->path);
	gboolean by_link = (flags & HM_DURABLE_LINK) || next != NULL;
	int rc;

	if (durable_close(d, flags, err) < 0) {
		hm_durable_abort(d);
		return -1;
	}
	for (int i = 0;; i++) {
		rc = by_link ? link(d->tmp, d->path) : rename(d->tmp, d->path);
		g_autofree char *name = NULL;

		if (rc == 0 || errno != EEXIST || next == NULL || i + 1 >= ATOMIC_NAME_TRIES)
			break;
		name = next(data);
		g_free(d->path);
		d->path = g_build_filename(dir, name, NULL);
	}
	if (rc < 0) {
		hm_set_error_errno(err, errno, "%s %s to %s", by_link ? "link" : "rename", d->tmp,
		                   d->path);
		hm_durable_abort(d);
		return -1;
	}
	if (by_link)
		unlink(d->tmp);
	g_free(d->tmp);
	g_free(d->path);
	g_free(d);
	/* Past the rename the new content is in place; a failed directory
	 * fsync is still an error because durability is not guaranteed. */
	return (flags & HM_DURABLE_NO_DIRSYNC) ? 0 : hm_fsync_dir(dir, err);
}

int
hm_durable_commit(HmDurable *d, guint flags, GError **err)
{
	return commit(d, flags, NULL, NULL, err);
}

int
hm_durable_commit_unique(HmDurable *d, guint flags, HmDurableNextName next, gpointer data,
                         GError **err)
{
	return commit(d, flags, next, data, err);
}

int
hm_atomic_write(const char *path, const void *data, gsize len, mode_t mode, GError **err)
{
	HmDurable *d = hm_durable_new(path, mode, err);

	if (d == NULL)
		return -1;
	if (hm_durable_write(d, data, len, err) < 0) {
		hm_durable_abort(d);
		return -1;
	}
	return hm_durable_commit(d, 0, err);
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

/* hm_open_regular_flags() when O_NOFOLLOW met a link (or a path whose
 * directories loop). */
static int
refuse_link(const char *path, struct stat *st, GError **err)
{
	if (lstat(path, st) == 0 && S_ISLNK(st->st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO,
		            "%s is not a regular file (a symbolic link, not followed)", path);
	} else {
		memset(st, 0, sizeof(*st));
		hm_set_error_errno(err, ELOOP, "%s: cannot read", path);
	}
	errno = ELOOP;
	return -1;
}

int
hm_open_regular_flags(const char *path, guint flags, struct stat *st, GError **err)
{
	/* O_NONBLOCK makes open() return at once on a FIFO; it changes
	 * nothing for a regular file, so the fd is left as it is. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	                            ((flags & HM_OPEN_NOFOLLOW) ? O_NOFOLLOW : 0));
	int saved;

	memset(st, 0, sizeof(*st));
	if (fd < 0 && errno == ELOOP && (flags & HM_OPEN_NOFOLLOW))
		return refuse_link(path, st, err);
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

int
hm_open_regular(const char *path, struct stat *st, GError **err)
{
	return hm_open_regular_flags(path, 0, st, err);
}

GBytes *
hm_read_fd(int fd, gsize max, const char *what, GError **err)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	guint8 chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hm_set_error_errno(err, errno, "read %s", what);
			return NULL;
		}
		if (n == 0)
			return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
		if ((gsize)n > max - buf->len) {
			g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
			            "%s is larger than %" G_GSIZE_FORMAT " bytes", what, max);
			errno = EFBIG;
			return NULL;
		}
		g_byte_array_append(buf, chunk, (guint)n);
	}
}

GBytes *
hm_read_file_flags(const char *path, gsize max, guint flags, struct stat *st, GError **err)
{
	int fd = hm_open_regular_flags(path, flags, st, err);
	GBytes *b;
	int saved;

	if (fd < 0)
		return NULL;
	b = hm_read_fd(fd, max, path, err);
	saved = errno;
	close(fd);
	errno = saved;
	return b;
}

GBytes *
hm_read_file_stat(const char *path, gsize max, struct stat *st, GError **err)
{
	return hm_read_file_flags(path, max, 0, st, err);
}

GBytes *
hm_read_file(const char *path, gsize max, GError **err)
{
	struct stat st;

	return hm_read_file_stat(path, max, &st, err);
}

int
hm_mkdir_durable(const char *dir, mode_t mode, GError **err)
{
	if (mkdir(dir, mode) == 0) {
		g_autofree char *parent = g_path_get_dirname(dir);

		return hm_fsync_dir(parent, err);
	}
	if (errno != EEXIST) {
		hm_set_error_errno(err, errno, "create directory %s", dir);
		return -1;
	}
	return 0;
}
