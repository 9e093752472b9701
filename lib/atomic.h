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

/* Replaces path with data atomically and durably: writes a temporary file
 * in the same directory (O_EXCL, mode), fsyncs it, renames it over path and
 * fsyncs the directory. On any error the temporary file is removed, path is
 * left as it was, and -1 is returned with *err set and errno preserved (so
 * callers can tell ENOSPC from the rest). Returns 0 on success. */
int hm_atomic_write(const char *path, const void *data, gsize len, mode_t mode,
                    GError **err);

/* Reads a whole file of at most max bytes. Returns a GBytes, or NULL with
 * *err set (too large, I/O error). */
GBytes *hm_read_file(const char *path, gsize max, GError **err);

#endif
