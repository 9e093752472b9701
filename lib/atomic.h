/* Durable file writes: the one way state and mail reach the disk. */
#ifndef HM_ATOMIC_H
#define HM_ATOMIC_H

#include <glib.h>
#include <sys/stat.h>
#include <sys/types.h>

/* fsync()s the directory dir so that a rename or link inside it survives a
 * crash. Returns 0, or -1 with *err set (errno preserved). */
int hm_fsync_dir(const char *dir, GError **err);

/* Creates directory dir with mode unless it exists, and makes a new
 * directory's entry durable by syncing its parent. Something else by that
 * name is not an error here: the next open in it fails with ENOTDIR.
 * Returns 0, or -1 with *err. */
int hm_mkdir_durable(const char *dir, mode_t mode, GError **err);

/* Gives path, a directory or a regular file, to uid:gid ((uid_t)-1 or
 * (gid_t)-1 leaves that one as it is) through a descriptor opened without
 * following a symbolic link at path: root changing the owner of a name in
 * a directory that a less trusted user may write must not be steered to
 * the file a symlink put there points to. Returns 0, or -1 with *err. */
int hm_chown_nofollow(const char *path, uid_t uid, gid_t gid, GError **err);

/* The same for name in the directory dir_fd (path names it in errors);
 * with fd_out, the descriptor stays open there (a directory, to go on
 * from it with openat()); the caller closes it. */
int hm_chown_at(int dir_fd, const char *name, const char *path, uid_t uid, gid_t gid, int *fd_out,
                GError **err);

/* Writes all of data to fd, retrying short writes and EINTR. A write()
 * that makes no progress on a regular file is taken as ENOSPC. Returns 0,
 * or -1 with errno set. */
int hm_write_all(int fd, const void *data, gsize len);

/* syncfs(2) of the file system that holds path: every file written there
 * so far, and every rename and link, is durable when it returns 0 — the
 * group commit of a batch costs about one fsync. -1 with *err. */
int hm_syncfs(const char *path, GError **err);

/* A file written in a stream and then put in place whole: the temporary
 * file is created beside its final path (O_EXCL, 0600 or the given mode),
 * so a crash leaves either the old content or the new, never a mix. */
typedef struct HmDurable HmDurable;

typedef enum {
	/* Publish with link(): fail with EEXIST when path exists, instead of
	 * replacing it (queue files, where a name is never reused). */
	HM_DURABLE_LINK = 1 << 0,
	/* Leave the data unsynced: the caller makes a whole batch durable at
	 * once (hm_syncfs()) and the file counts as written only after that. */
	HM_DURABLE_NO_FSYNC = 1 << 1,
	/* Leave the directory unsynced: the caller syncs it once per batch. */
	HM_DURABLE_NO_DIRSYNC = 1 << 2,
} HmDurableFlags;

/* Starts the new content of path. Returns NULL with *err set. */
HmDurable *hm_durable_new(const char *path, mode_t mode, GError **err);

/* Appends data. Returns 0, or -1 with *err (HM_ERROR_NOSPACE for a full
 * disk) and errno; the file can then only be aborted. */
int hm_durable_write(HmDurable *d, const void *data, gsize len, GError **err);

/* Overwrites len bytes at offset off of what was written so far (a
 * length field reserved at the start and known only at the end). Returns
 * 0, or -1 with *err; the file can then only be aborted. */
int hm_durable_pwrite(HmDurable *d, const void *data, gsize len, goffset off, GError **err);

/* hm_durable_new() with len bytes of disk set aside for the file before
 * anything is written, so that writing up to len bytes later cannot fail
 * for lack of space: for a write that must not fail once something
 * irrevocable happened (a refresh token spent). A file system that cannot
 * reserve space (EOPNOTSUPP) is not an error. NULL with *err
 * (HM_ERROR_NOSPACE when the disk is full); nothing is left behind. */
HmDurable *hm_durable_new_reserved(const char *path, mode_t mode, gsize len, GError **err);

/* Sets aside len bytes of disk for the open file fd from offset off on
 * (fallocate(2) with FALLOC_FL_KEEP_SIZE: its length stays what was
 * written), so that writing up to there later cannot fail for lack of
 * space. Truncating the file, even to its own length, may give the room
 * back. A file system that cannot reserve (EOPNOTSUPP) is not an error.
 * path names the file in errors. Returns 0, or -1 with *err
 * (HM_ERROR_NOSPACE when the disk is full). */
int hm_reserve_space(int fd, goffset off, gsize len, const char *path, GError **err);

/* Puts the file in place: fsync, close, rename over path (or link, see
 * HmDurableFlags), fsync the directory. Frees d whether or not it
 * succeeds; on failure the temporary file is gone, path is as it was, and
 * -1 is returned with *err set and errno preserved. */
int hm_durable_commit(HmDurable *d, guint flags, GError **err);

/* Another name, in the same directory, for a file whose name only needs
 * to be unique (g_malloc()ed, no '/'). */
typedef char *(*HmDurableNextName)(gpointer data);

/* As hm_durable_commit() with HM_DURABLE_LINK, but a final path that is
 * taken already is no failure: next(data) names another beside it, and
 * another, up to a few times. For names made of a time and a little randomness
 * (queue IDs), where two writers can hit the same one in the same
 * microsecond. */
int hm_durable_commit_unique(HmDurable *d, guint flags, HmDurableNextName next, gpointer data,
                             GError **err);

/* Removes the temporary file and frees d. NULL-safe. */
void hm_durable_abort(HmDurable *d);

/* TRUE if name (a file name, no directory) has the form of the temporary
 * files hm_durable_new() makes: ".BASE.tmp.PID.RANDOM". */
gboolean hm_durable_temp_name(const char *name);

/* Removes, in dir, the temporary files (hm_durable_temp_name()) that a
 * writer killed before its commit or abort left: those not written to
 * for min_age_s seconds (by their mtime; 0: all, for a caller that knows
 * no writer of its own can be at work in dir). Only regular files and
 * symbolic links go, and a link is removed itself, never what it points
 * at; anything else by such a name stays. Returns how many were removed;
 * a dir that cannot be read is left alone (0). */
guint hm_durable_clear_stale(const char *dir, gint64 min_age_s);

/* Replaces path with data atomically and durably (hm_durable_new(), one
 * write, hm_durable_commit() without flags). On any error path is left as
 * it was, and -1 is returned with *err set and errno preserved (so callers
 * can tell ENOSPC from the rest). Returns 0 on success. */
int hm_atomic_write(const char *path, const void *data, gsize len, mode_t mode,
                    GError **err);

/* Reads fd to its end, at most max bytes. Returns a GBytes, or NULL with
 * *err set (HM_ERROR_FAILED "... larger than MAX bytes" with errno EFBIG,
 * or the read error); what names the input in messages ("stdin"). */
GBytes *hm_read_fd(int fd, gsize max, const char *what, GError **err);

/* Opens path read-only without blocking and checks that it is a regular
 * file (a symlink to one is fine): opening a FIFO that has no writer, or
 * some devices, would wait forever, and a directory or a socket holds no
 * file to read. Returns the fd, or -1 with *err set (HM_ERROR_IO, errno
 * preserved): "PATH: cannot read: REASON", or "PATH is not a regular file
 * (a FIFO)" with errno EISDIR for a directory and EINVAL for the rest.
 * *st is zeroed, then filled once the file is open, so st->st_mode != 0
 * after a failure means "there, but not a regular file". */
int hm_open_regular(const char *path, struct stat *st, GError **err);

typedef enum {
	/* Refuse a symbolic link as the last part of path ("PATH is not a
	 * regular file (a symbolic link, not followed)", errno ELOOP, *st
	 * filled from lstat()): for files in a directory that a less trusted
	 * user may write, read by a more trusted one (root running `homemail
	 * queue`), who must not be steered to a file of its own. Not for
	 * files a person configures (certificates, secrets, the config),
	 * which are often links on purpose. */
	HM_OPEN_NOFOLLOW = 1 << 0,
} HmOpenFlags;

/* hm_open_regular() with HmOpenFlags. */
int hm_open_regular_flags(const char *path, guint flags, struct stat *st, GError **err);

/* Reads a whole regular file (see hm_open_regular()) of at most max bytes
 * (hm_read_fd()). Returns a GBytes, or NULL with *err set (cannot be
 * opened, not a regular file, too large, I/O error). */
GBytes *hm_read_file(const char *path, gsize max, GError **err);

/* As hm_read_file(), and fills *st as hm_open_regular() does. */
GBytes *hm_read_file_stat(const char *path, gsize max, struct stat *st, GError **err);

/* As hm_read_file_stat(), opened with hm_open_regular_flags(). */
GBytes *hm_read_file_flags(const char *path, gsize max, guint flags, struct stat *st, GError **err);

#endif
