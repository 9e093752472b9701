#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "testutil.h"

static void
assert_content(const char *path, const char *want)
{
	g_autofree char *got = NULL;
	gsize len;

	g_assert_true(g_file_get_contents(path, &got, &len, NULL));
	g_assert_cmpmem(got, len, want, strlen(want));
}

static void
test_write_new(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "state", NULL);
	g_autofree char *names = NULL;
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_atomic_write(path, "hello\n", 6, 0600, &err), ==, 0);
	g_assert_no_error(err);
	assert_content(path, "hello\n");
	names = hm_test_dir_list(dir);
	g_assert_cmpstr(names, ==, "state");
	hm_test_remove_tree(dir);
}

static void
test_replace(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "state", NULL);
	g_autofree char *names = NULL;
	GStatBuf before, after;

	g_assert_cmpint(hm_atomic_write(path, "one", 3, 0600, NULL), ==, 0);
	g_assert_cmpint(g_stat(path, &before), ==, 0);
	g_assert_cmpint(hm_atomic_write(path, "second", 6, 0600, NULL), ==, 0);
	g_assert_cmpint(g_stat(path, &after), ==, 0);
	assert_content(path, "second");
	/* A new inode: the old file was replaced, never written in place. */
	g_assert_cmpuint(before.st_ino, !=, after.st_ino);
	g_assert_cmpint(hm_atomic_write(path, "", 0, 0600, NULL), ==, 0);
	assert_content(path, "");
	names = hm_test_dir_list(dir);
	g_assert_cmpstr(names, ==, "state");
	hm_test_remove_tree(dir);
}

static void
test_mode(void)
{
	static const mode_t modes[] = { 0600, 0640, 0644, 0400, 0666 };
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	mode_t old = umask(022);

	for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
		GStatBuf st;

		g_assert_cmpint(hm_atomic_write(path, "x", 1, modes[i], NULL), ==, 0);
		g_assert_cmpint(g_stat(path, &st), ==, 0);
		g_assert_cmpuint(st.st_mode & 07777, ==, modes[i]);
	}
	umask(old);
	hm_test_remove_tree(dir);
}

static void
test_big(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "big", NULL);
	gsize len = 3 * 1024 * 1024 + 17;
	g_autofree guint8 *data = g_malloc(len);
	g_autoptr(GBytes) back = NULL;

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)(i * 31 + (i >> 11));
	g_assert_cmpint(hm_atomic_write(path, data, len, 0600, NULL), ==, 0);
	back = hm_read_file(path, len, NULL);
	g_assert_nonnull(back);
	g_assert_cmpmem(g_bytes_get_data(back, NULL), g_bytes_get_size(back), data, len);
	hm_test_remove_tree(dir);
}

static void
test_missing_dir(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "nope", "state", NULL);
	g_autofree char *names = NULL;
	g_autoptr(GError) err = NULL;

	errno = 0;
	g_assert_cmpint(hm_atomic_write(path, "x", 1, 0600, &err), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	names = hm_test_dir_list(dir);
	g_assert_cmpstr(names, ==, "");
	hm_test_remove_tree(dir);
}

static void
test_file_as_dir(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	g_autofree char *path = g_build_filename(file, "state", NULL);
	g_autoptr(GError) err = NULL;

	g_assert_true(g_file_set_contents(file, "keep", 4, NULL));
	g_assert_cmpint(hm_atomic_write(path, "x", 1, 0600, &err), ==, -1);
	g_assert_cmpint(errno, ==, ENOTDIR);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	assert_content(file, "keep");
	hm_test_remove_tree(dir);
}

/* The temporary file exists when rename() fails (the target is a
 * directory): it must be gone afterwards and the target untouched. */
static void
test_rename_fails(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "target", NULL);
	g_autofree char *inner = g_build_filename(path, "inside", NULL);
	g_autofree char *names = NULL;
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
	g_assert_true(g_file_set_contents(inner, "keep", 4, NULL));
	g_assert_cmpint(hm_atomic_write(path, "x", 1, 0600, &err), ==, -1);
	g_assert_cmpint(errno, ==, EISDIR);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_nonnull(strstr(err->message, "rename"));
	names = hm_test_dir_list(dir);
	g_assert_cmpstr(names, ==, "target");
	assert_content(inner, "keep");
	hm_test_remove_tree(dir);
}

/* A full disk must come back as HM_ERROR_NOSPACE with errno ENOSPC (mail
 * treats it as temporary), leaving the old file and no temp file. Needs
 * root for mount(2): CI runs as root, so this fails rather than skips. */
static void
test_enospc(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *mnt = g_build_filename(dir, "mnt", NULL);
	g_autofree char *path = g_build_filename(mnt, "state", NULL);
	g_autofree char *names = NULL;
	g_autoptr(GError) err = NULL;
	gsize len = 1024 * 1024;
	g_autofree guint8 *data = g_malloc0(len);
	int rc, saved;

	g_assert_cmpint(g_mkdir(mnt, 0700), ==, 0);
	hm_test_mount_tmpfs(mnt, "64k");
	g_assert_cmpint(hm_atomic_write(path, "old", 3, 0600, NULL), ==, 0);
	rc = hm_atomic_write(path, data, len, 0600, &err);
	saved = errno;
	names = hm_test_dir_list(mnt);
	assert_content(path, "old");
	g_assert_cmpint(g_unlink(path), ==, 0);
	hm_test_umount(mnt);
	g_assert_cmpint(rc, ==, -1);
	g_assert_cmpint(saved, ==, ENOSPC);
	g_assert_error(err, HM_ERROR, HM_ERROR_NOSPACE);
	g_assert_cmpstr(names, ==, "state");
	hm_test_remove_tree(dir);
}

static void
test_fsync_dir(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *missing = g_build_filename(dir, "missing", NULL);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_fsync_dir(dir, NULL), ==, 0);
	g_assert_cmpint(hm_fsync_dir(missing, &err), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	hm_test_remove_tree(dir);
}

static void
test_read_file(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	g_autofree char *empty = g_build_filename(dir, "empty", NULL);
	g_autofree char *missing = g_build_filename(dir, "missing", NULL);
	g_autoptr(GBytes) b = NULL, e = NULL, none = NULL, big = NULL, isdir = NULL;
	g_autoptr(GError) err = NULL, err2 = NULL, err3 = NULL;

	g_assert_true(g_file_set_contents(path, "0123456789", 10, NULL));
	g_assert_true(g_file_set_contents(empty, "", 0, NULL));
	b = hm_read_file(path, 10, NULL);
	g_assert_nonnull(b);
	g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "0123456789", 10);
	big = hm_read_file(path, 9, &err);
	g_assert_null(big);
	g_assert_error(err, HM_ERROR, HM_ERROR_FAILED);
	e = hm_read_file(empty, 0, NULL);
	g_assert_nonnull(e);
	g_assert_cmpuint(g_bytes_get_size(e), ==, 0);
	none = hm_read_file(missing, 100, &err2);
	g_assert_null(none);
	g_assert_cmpint(errno, ==, ENOENT);
	g_assert_error(err2, HM_ERROR, HM_ERROR_IO);
	isdir = hm_read_file(dir, 100, &err3);
	g_assert_null(isdir);
	g_assert_error(err3, HM_ERROR, HM_ERROR_IO);
	hm_test_remove_tree(dir);
}

/* The streaming form: written in pieces, invisible until committed,
 * replacing (rename) or refusing to replace (link) what is there. */
static void
test_durable(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "q", NULL);
	g_autofree char *names = NULL;
	g_autoptr(GError) err = NULL;
	HmDurable *d = hm_durable_new(path, 0640, NULL);
	struct stat st;

	g_assert_nonnull(d);
	g_assert_cmpint(hm_durable_write(d, "one ", 4, NULL), ==, 0);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_cmpint(hm_durable_write(d, "two", 3, NULL), ==, 0);
	/* A field patched in place leaves the stream's end where it was. */
	g_assert_cmpint(hm_durable_pwrite(d, "ONE", 3, 0, NULL), ==, 0);
	g_assert_cmpint(hm_durable_write(d, "!", 1, NULL), ==, 0);
	g_assert_cmpint(hm_durable_commit(d, 0, NULL), ==, 0);
	assert_content(path, "ONE two!");
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0640);
	/* Replaced whole by a second one, even without its own syncs. */
	d = hm_durable_new(path, 0600, NULL);
	g_assert_cmpint(hm_durable_write(d, "three", 5, NULL), ==, 0);
	g_assert_cmpint(hm_durable_commit(d, HM_DURABLE_NO_FSYNC | HM_DURABLE_NO_DIRSYNC, NULL),
	                ==, 0);
	g_assert_cmpint(hm_syncfs(dir, NULL), ==, 0);
	assert_content(path, "three");
	/* link: an existing name is never replaced, and no temp file stays. */
	d = hm_durable_new(path, 0600, NULL);
	g_assert_cmpint(hm_durable_write(d, "four", 4, NULL), ==, 0);
	g_assert_cmpint(hm_durable_commit(d, HM_DURABLE_LINK, &err), ==, -1);
	g_assert_cmpint(errno, ==, EEXIST);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	assert_content(path, "three");
	/* Aborted: nothing left. */
	d = hm_durable_new(path, 0600, NULL);
	g_assert_cmpint(hm_durable_write(d, "five", 4, NULL), ==, 0);
	hm_durable_abort(d);
	g_assert_cmpint(g_unlink(path), ==, 0);
	d = hm_durable_new(path, 0600, NULL);
	g_assert_cmpint(hm_durable_commit(d, HM_DURABLE_LINK, NULL), ==, 0);
	assert_content(path, "");
	names = hm_test_dir_list(dir);
	g_assert_cmpstr(names, ==, "q");
	hm_test_remove_tree(dir);
}

static void
test_syncfs(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *missing = g_build_filename(dir, "missing", NULL);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_syncfs(dir, NULL), ==, 0);
	g_assert_cmpint(hm_syncfs(missing, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	hm_test_remove_tree(dir);
}

/* Reading a stream of unknown length (deliver's stdin): whole, or the
 * limit named, with EFBIG. */
static void
test_read_fd(void)
{
	int p[2];
	g_autoptr(GBytes) b = NULL, big = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *data = g_malloc(200000);
	int status;
	pid_t pid;

	memset(data, 'x', 200000);
	g_assert_cmpint(pipe(p), ==, 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(hm_write_all(p[1], data, 200000) < 0);
	}
	close(p[1]);
	b = hm_read_fd(p[0], 200000, "pipe", NULL);
	close(p[0]);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	g_assert_nonnull(b);
	g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), data, 200000);
	g_assert_cmpint(pipe(p), ==, 0);
	g_assert_cmpint(write(p[1], "0123456789", 10), ==, 10);
	close(p[1]);
	big = hm_read_fd(p[0], 9, "stdin", &err);
	close(p[0]);
	g_assert_null(big);
	g_assert_cmpint(errno, ==, EFBIG);
	g_assert_error(err, HM_ERROR, HM_ERROR_FAILED);
	g_assert_nonnull(strstr(err->message, "stdin is larger than 9 bytes"));
}

/* Nothing hm_read_file() is given may block it: a FIFO without a writer is
 * refused at once, as are a directory and a device, naming what they are. */
static void
test_read_not_regular(void)
{
	g_autofree char *dir = NULL, *fifo = NULL, *want = NULL;
	g_autoptr(GBytes) b = NULL, d = NULL, t = NULL;
	g_autoptr(GError) err = NULL, derr = NULL, terr = NULL;
	struct stat st;

	if (!hm_test_in_child(10))
		return;
	dir = hm_test_tmpdir("hm-atomic");
	fifo = g_build_filename(dir, "fifo", NULL);
	hm_test_mkfifo(fifo);
	b = hm_read_file_stat(fifo, 100, &st, &err);
	g_assert_null(b);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	want = g_strconcat(fifo, " is not a regular file (a FIFO)", NULL);
	g_assert_cmpstr(err->message, ==, want);
	g_assert_true(S_ISFIFO(st.st_mode));
	d = hm_read_file_stat(dir, 100, &st, &derr);
	g_assert_null(d);
	g_assert_cmpint(errno, ==, EISDIR);
	g_assert_true(g_str_has_suffix(derr->message, " is not a regular file (a directory)"));
	t = hm_read_file("/dev/zero", 100, &terr);
	g_assert_null(t);
	g_assert_cmpstr(terr->message, ==, "/dev/zero is not a regular file (a device)");
	hm_test_remove_tree(dir);
}

/* A symlink to a regular file reads as the file. */
static void
test_read_symlink(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	g_autofree char *link = g_build_filename(dir, "l", NULL);
	g_autoptr(GBytes) b = NULL;

	g_assert_true(g_file_set_contents(path, "abc", 3, NULL));
	g_assert_cmpint(symlink("f", link), ==, 0);
	b = hm_read_file(link, 10, NULL);
	g_assert_nonnull(b);
	g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "abc", 3);
	hm_test_remove_tree(dir);
}

/* With HM_OPEN_NOFOLLOW a link is refused, naming it, and what it points
 * to is not read; a plain file reads as without the flag. */
static void
test_read_nofollow(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "f", NULL);
	g_autofree char *link = g_build_filename(dir, "l", NULL);
	g_autofree char *want = g_strconcat(link, " is not a regular file (a symbolic link, not followed)", NULL);
	g_autoptr(GBytes) b = NULL, f = NULL;
	g_autoptr(GError) err = NULL;
	struct stat st;

	g_assert_true(g_file_set_contents(path, "secret", 6, NULL));
	g_assert_cmpint(symlink("f", link), ==, 0);
	g_assert_cmpint(hm_open_regular_flags(link, HM_OPEN_NOFOLLOW, &st, &err), ==, -1);
	g_assert_cmpint(errno, ==, ELOOP);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_cmpstr(err->message, ==, want);
	g_assert_true(S_ISLNK(st.st_mode));
	g_clear_error(&err);
	b = hm_read_file_flags(link, 100, HM_OPEN_NOFOLLOW, &st, &err);
	g_assert_null(b);
	g_assert_cmpstr(err->message, ==, want);
	f = hm_read_file_flags(path, 100, HM_OPEN_NOFOLLOW, &st, NULL);
	g_assert_nonnull(f);
	g_assert_cmpmem(g_bytes_get_data(f, NULL), g_bytes_get_size(f), "secret", 6);
	hm_test_remove_tree(dir);
}

/* The names hm_durable_new() makes are told apart from every other. */
static void
test_temp_name(void)
{
	static const char *const not_temp[] = {
		"06B1720000000003", "06B1720000000003.s", ".06B1720000000003", ".bad.0123abcd",
		".x.tmp.12.0000abc", ".x.tmp.12.0000abcg", ".x.tmp.12.0000ABCD", ".x.tmp..0000abcd",
		"..tmp.12.0000abcd", "x.tmp.12.0000abcd", ".x.tmp.12-0000abcd", ".x.tmp.1a.0000abcd",
		".x.tmp.12.0000abcd.", "",
	};
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *path = g_build_filename(dir, "06B1720000000003.s", NULL);
	HmDurable *d = hm_durable_new(path, 0600, NULL);
	g_autoptr(GDir) gd = g_dir_open(dir, 0, NULL);
	const char *made = g_dir_read_name(gd);

	g_assert_nonnull(made);
	g_assert_true(hm_durable_temp_name(made));
	g_assert_true(hm_durable_temp_name(".x.tmp.1.0000abcd"));
	g_assert_true(hm_durable_temp_name(".a.tmp.b.tmp.99.ffffffff"));
	for (gsize i = 0; i < G_N_ELEMENTS(not_temp); i++)
		g_assert_false(hm_durable_temp_name(not_temp[i]));
	hm_durable_abort(d);
	hm_test_remove_tree(dir);
}

/* Sets the modification time of path itself (a link, not its target)
 * to age seconds ago. */
static void
age(const char *path, gint64 seconds)
{
	struct timespec ts[2] = { { .tv_sec = time(NULL) - seconds }, { .tv_sec = time(NULL) - seconds } };

	g_assert_cmpint(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
}

/* What a writer killed mid-write left goes; only old enough ones unless
 * the age is 0; a link goes but what it points to stays; what has
 * another name, or is a directory or a FIFO, stays. */
static void
test_clear_stale(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *out = hm_test_tmpdir("hm-atomic-outside");
	g_autofree char *target = g_build_filename(out, "target", NULL);
	g_autofree char *old = g_build_filename(dir, ".06B1720000000003.tmp.77.0badf00d", NULL);
	g_autofree char *young = g_build_filename(dir, ".06B1720000000004.tmp.77.0badf00d", NULL);
	g_autofree char *link = g_build_filename(dir, ".06B1720000000005.s.tmp.77.0badf00d", NULL);
	g_autofree char *sub = g_build_filename(dir, ".sub.tmp.77.0badf00d", NULL);
	g_autofree char *fifo = g_build_filename(dir, ".fifo.tmp.77.0badf00d", NULL);
	g_autofree char *entry = g_build_filename(dir, "06B1720000000003", NULL);
	g_autofree char *other = g_build_filename(dir, ".bad.0123", NULL);
	g_autofree char *listing = NULL;

	g_assert_cmpuint(hm_durable_clear_stale(out, 0), ==, 0);
	g_assert_true(g_file_set_contents(target, "keep", -1, NULL));
	g_assert_true(g_file_set_contents(old, "partial", -1, NULL));
	g_assert_true(g_file_set_contents(young, "being written", -1, NULL));
	g_assert_true(g_file_set_contents(entry, "entry", -1, NULL));
	g_assert_true(g_file_set_contents(other, "kept", -1, NULL));
	g_assert_cmpint(symlink(target, link), ==, 0);
	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	hm_test_mkfifo(fifo);
	age(old, 7200);
	age(link, 7200);
	age(entry, 7200);
	age(other, 7200);
	age(sub, 7200);
	age(fifo, 7200);

	g_assert_cmpuint(hm_durable_clear_stale(dir, 3600), ==, 2);
	listing = hm_test_dir_list(dir);
	g_assert_cmpstr(listing, ==,
	                ".06B1720000000004.tmp.77.0badf00d .bad.0123 .fifo.tmp.77.0badf00d "
	                ".sub.tmp.77.0badf00d 06B1720000000003");
	g_clear_pointer(&listing, g_free);
	assert_content(target, "keep");

	g_assert_cmpuint(hm_durable_clear_stale(dir, 0), ==, 1);
	listing = hm_test_dir_list(dir);
	g_assert_cmpstr(listing, ==,
	                ".bad.0123 .fifo.tmp.77.0badf00d .sub.tmp.77.0badf00d 06B1720000000003");
	g_assert_cmpuint(hm_durable_clear_stale("/nonexistent/dir", 0), ==, 0);
	hm_test_remove_tree(dir);
	hm_test_remove_tree(out);
}

static void
test_chown_nofollow(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-atomic");
	g_autofree char *sub = g_build_filename(dir, "sub", NULL);
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	g_autofree char *target = g_build_filename(dir, "target", NULL);
	g_autofree char *link = g_build_filename(dir, "link", NULL);
	g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(target, 0700), ==, 0);
	g_assert_cmpint(hm_atomic_write(file, "x", 1, 0600, NULL), ==, 0);
	g_assert_cmpint(symlink(target, link), ==, 0);
	hm_test_mkfifo(fifo);

	g_assert_cmpint(hm_chown_nofollow(sub, hm_test_other_uid(), (gid_t)-1, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpint(hm_test_owner(sub), ==, hm_test_other_uid());
	g_assert_cmpint(hm_chown_nofollow(file, hm_test_other_uid(), (gid_t)-1, &err), ==, 0);
	g_assert_cmpint(hm_test_owner(file), ==, hm_test_other_uid());
	/* The symlink is refused and what it points to keeps its owner. */
	g_assert_cmpint(hm_chown_nofollow(link, hm_test_other_uid(), (gid_t)-1, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "symbolic link"));
	g_assert_cmpint(hm_test_owner(target), ==, geteuid());
	g_clear_error(&err);
	/* A FIFO neither hangs the open nor gets a new owner. */
	g_assert_cmpint(hm_chown_nofollow(fifo, hm_test_other_uid(), (gid_t)-1, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "not a directory or a regular file"));
	g_assert_cmpint(hm_test_owner(fifo), ==, geteuid());
	g_clear_error(&err);
	hm_test_remove_tree(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/atomic/write-new", test_write_new);
	g_test_add_func("/atomic/replace", test_replace);
	g_test_add_func("/atomic/mode", test_mode);
	g_test_add_func("/atomic/big", test_big);
	g_test_add_func("/atomic/missing-dir", test_missing_dir);
	g_test_add_func("/atomic/file-as-dir", test_file_as_dir);
	g_test_add_func("/atomic/rename-fails", test_rename_fails);
	g_test_add_func("/atomic/enospc", test_enospc);
	g_test_add_func("/atomic/fsync-dir", test_fsync_dir);
	g_test_add_func("/atomic/read-file", test_read_file);
	g_test_add_func("/atomic/chown-nofollow", test_chown_nofollow);
	g_test_add_func("/atomic/durable", test_durable);
	g_test_add_func("/atomic/syncfs", test_syncfs);
	g_test_add_func("/atomic/read-fd", test_read_fd);
	g_test_add_func("/atomic/read-not-regular", test_read_not_regular);
	g_test_add_func("/atomic/read-symlink", test_read_symlink);
	g_test_add_func("/atomic/read-nofollow", test_read_nofollow);
	g_test_add_func("/atomic/temp-name", test_temp_name);
	g_test_add_func("/atomic/clear-stale", test_clear_stale);
	return g_test_run();
}
