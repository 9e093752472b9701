/* Durable file writes: the one way state and mail reach the disk. */
#ifndef HM_ATOMIC_H
#define HM_ATOMIC_H

#include <glib.h>
#include <sys/stat.h>
#include <sys/types.h>

/* fsync()s the directory dir so that a rename or link inside it survives a
 * crash. Returns 0, or -1 with *err set (errno preserved). */
int hm_fsync_dir(const char *dir, GError **err);

/* Writes all of data to fd, retrying short writes and EINTR. A write()
 * that makes no progress on a regular file is taken as ENOSPC. Returns 0,
 * or -1 with errno set. */
int hm_write_all(int fd, const void *data, gsize len);

/* Replaces path with data atomically and durably: writes a temporary file
 * in the same directory (O_EXCL, mode), fsyncs it, renames it over path and
 * fsyncs the directory. On any error the temporary file is removed, path is
 * left as it was, and -1 is returned with *err set and errno preserved (so
 * callers can tell ENOSPC from the rest). Returns 0 on success. */
int hm_atomic_write(const char *path, const void *data, gsize len, mode_t mode,
                    GError **err);

/* Opens path read-only without blocking and checks that it is a regular
 * file (a symlink to one is fine): opening a FIFO that has no writer, or
 * some devices, would wait forever, and a directory or a socket holds no
 * file to read. Returns the fd, or -1 with *err set (HM_ERROR_IO, errno
 * preserved): "PATH: cannot read: REASON", or "PATH is not a regular file
 * (a FIFO)" with errno EISDIR for a directory and EINVAL for the rest.
 * *st is zeroed, then filled once the file is open, so st->st_mode != 0
 * after a failure means "there, but not a regular file". */
int hm_open_regular(const char *path, struct stat *st, GError **err);

/* Reads a whole regular file (see hm_open_regular()) of at most max bytes.
 * Returns a GBytes, or NULL with *err set (cannot be opened, not a regular
 * file, too large, I/O error). */
GBytes *hm_read_file(const char *path, gsize max, GError **err);

/* As hm_read_file(), and fills *st as hm_open_regular() does. */
GBytes *hm_read_file_stat(const char *path, gsize max, struct stat *st, GError **err);

#endif
