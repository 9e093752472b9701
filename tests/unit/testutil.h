/* Helpers shared by the unit tests: temporary directories and the small
 * tmpfs mounts that stand in for a full disk. Each one fails the test
 * (assertion or g_error) rather than return an error. */
#ifndef HM_TESTUTIL_H
#define HM_TESTUTIL_H

#include <glib.h>

/* Creates a fresh directory "<prefix>-XXXXXX" in the temporary directory
 * and returns its path (g_free() it). Asserts that it was created. */
char *hm_test_tmpdir(const char *prefix);

/* Removes dir and everything below it; symlinks are removed, never
 * followed. A missing dir is fine; asserts that every unlink and rmdir of
 * what is there succeeds. */
void hm_test_remove_tree(const char *dir);

/* Mounts a tmpfs of size bytes (mount(8) syntax: "64k") with mode 0700 on
 * the existing directory dir. Tests run as root, so a failed mount is a
 * g_error(), never a skip: a skipped disk-full test would hide a bug. */
void hm_test_mount_tmpfs(const char *dir, const char *size);

/* Unmounts what hm_test_mount_tmpfs() mounted on dir; asserts success. */
void hm_test_umount(const char *dir);

/* A config warning callback that drops the warning, for tests whose
 * configs warn on purpose or where warnings are beside the point. */
void hm_test_ignore_warning(const char *line, gpointer data);

#endif
