/* Durable file writes: the one way state and mail reach the disk. */
#ifndef HM_ATOMIC_H
#define HM_ATOMIC_H

#include <glib.h>
#include <sys/types.h>

/* fsync()s the directory dir so that a rename or link inside it survives a
 * crash. Returns 0, or -1 with *err set (errno preserved). */
int hm_fsync_dir(const char *dir, GError **err);

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

/* Puts the file in place: fsync, close, rename over path (or link, see
 * HmDurableFlags), fsync the directory. Frees d whether or not it
 * succeeds; on failure the temporary file is gone, path is as it was, and
 * -1 is returned with *err set and errno preserved. */
int hm_durable_commit(HmDurable *d, guint flags, GError **err);

/* Removes the temporary file and frees d. NULL-safe. */
void hm_durable_abort(HmDurable *d);

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

/* Reads a whole file of at most max bytes (hm_read_fd()). Returns a
 * GBytes, or NULL with *err set (too large, I/O error). */
GBytes *hm_read_file(const char *path, gsize max, GError **err);

#endif
