#include "config.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "testutil.h"

char *
hm_test_tmpdir(const char *prefix)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
	char *dir = g_dir_make_tmp(tmpl, &err);

	g_assert_no_error(err);
	g_assert_nonnull(dir);
	return dir;
}

void
hm_test_remove_tree(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		GStatBuf st;

		/* lstat, not stat: a symlink to a directory outside the test's
		 * tree must go, not what it points to. */
		g_assert_cmpint(g_lstat(p, &st), ==, 0);
		if (S_ISDIR(st.st_mode))
			hm_test_remove_tree(p);
		else
			g_assert_cmpint(g_unlink(p), ==, 0);
	}
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

void
hm_test_mount_tmpfs(const char *dir, const char *size)
{
	g_autofree char *opts = g_strdup_printf("size=%s,mode=0700", size);

	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
		int saved = errno;

		g_error("mount tmpfs on %s: %s (the test needs root)", dir, g_strerror(saved));
	}
}

void
hm_test_umount(const char *dir)
{
	g_assert_cmpint(umount(dir), ==, 0);
}

void
hm_test_ignore_warning(const char *line, gpointer data)
{
}
