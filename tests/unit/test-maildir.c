#include <config.h>

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "lib/error.h"
#include "lib/maildir.h"
#include "testutil.h"

/* Number of entries in dir (missing: -1). */
static int
count_entries(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	int n = 0;

	if (d == NULL)
		return -1;
	while (g_dir_read_name(d) != NULL)
		n++;
	return n;
}

static void
assert_mode(const char *path, int want)
{
	struct stat st;

	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, want);
}

static void
test_unique_names(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GRegex) re = g_regex_new("^[0-9]+\\.M[0-9]{6}P[0-9]+Q[0-9]+\\.[^/:]+$", 0, 0,
	                                   NULL);

	for (int i = 0; i < 10000; i++) {
		char *name = hm_maildir_unique_name();

		g_assert_true(g_regex_match(re, name, 0, NULL));
		g_assert_false(g_hash_table_contains(seen, name));
		g_hash_table_add(seen, name);
	}
	g_assert_cmpuint(g_hash_table_size(seen), ==, 10000);
}

static void
check_delivery(const char *msg, guint64 want_s, guint64 want_w)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *md = g_build_filename(tmp, "deep", "alice", NULL);
	g_autofree char *name = NULL, *path = NULL, *content = NULL;
	g_autofree char *want_suffix = g_strdup_printf(",S=%" G_GUINT64_FORMAT ",W=%" G_GUINT64_FORMAT,
	                                               want_s, want_w);
	g_autofree char *tmpdir = g_build_filename(md, "tmp", NULL);
	g_autofree char *newdir = g_build_filename(md, "new", NULL);
	g_autofree char *curdir = g_build_filename(md, "cur", NULL);
	g_autofree char *parent = g_build_filename(tmp, "deep", NULL);
	GError *err = NULL;
	gsize len;

	g_assert_cmpint(hm_maildir_deliver(md, msg, strlen(msg), &name, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_true(g_str_has_prefix(name, "new/"));
	g_assert_true(g_str_has_suffix(name, want_suffix));
	path = g_build_filename(md, name, NULL);
	g_assert_true(g_file_get_contents(path, &content, &len, NULL));
	g_assert_cmpuint(len, ==, strlen(msg));
	g_assert_cmpstr(content, ==, msg);
	assert_mode(path, 0600);
	assert_mode(md, 0700);
	assert_mode(parent, 0700);
	assert_mode(tmpdir, 0700);
	assert_mode(newdir, 0700);
	assert_mode(curdir, 0700);
	g_assert_cmpint(count_entries(tmpdir), ==, 0);
	g_assert_cmpint(count_entries(newdir), ==, 1);
	hm_test_remove_tree(tmp);
}

static void
test_deliver(void)
{
	check_delivery("Subject: x\n\nbody\n", 17, 20);
	check_delivery("Subject: x\n\nno final line end", 29, 33);
	check_delivery("A: crlf kept\r\n\r\n", 16, 16);
	check_delivery("", 0, 0);
}

/* The streaming API: chunks in, one file out; abort leaves nothing. */
static void
test_stream_and_abort(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *tmpdir = g_build_filename(tmp, "tmp", NULL);
	g_autofree char *newdir = g_build_filename(tmp, "new", NULL);
	g_autofree char *name = NULL;
	HmMaildirDelivery *d;
	GError *err = NULL;

	d = hm_maildir_delivery_begin(tmp, &err);
	g_assert_no_error(err);
	g_assert_cmpint(hm_maildir_delivery_write(d, "a\n", 2, &err), ==, 0);
	g_assert_cmpint(count_entries(tmpdir), ==, 1);
	hm_maildir_delivery_abort(d);
	g_assert_cmpint(count_entries(tmpdir), ==, 0);
	g_assert_cmpint(count_entries(newdir), ==, 0);

	d = hm_maildir_delivery_begin(tmp, &err);
	g_assert_no_error(err);
	for (int i = 0; i < 100; i++)
		g_assert_cmpint(hm_maildir_delivery_write(d, "line\n", 5, &err), ==, 0);
	g_assert_cmpint(hm_maildir_delivery_commit(d, &name, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_true(g_str_has_suffix(name, ",S=500,W=600"));
	g_assert_cmpint(count_entries(tmpdir), ==, 0);
	g_assert_cmpint(count_entries(newdir), ==, 1);
	hm_maildir_delivery_abort(NULL);
	hm_test_remove_tree(tmp);
}

/* A plain file where tmp/ should be: delivery fails, new/ stays empty. */
static void
test_fail_tmp_is_file(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *tmpfile = g_build_filename(tmp, "tmp", NULL);
	g_autofree char *newdir = g_build_filename(tmp, "new", NULL);
	g_autofree char *name = NULL;
	GError *err = NULL;

	g_assert_true(g_file_set_contents(tmpfile, "", 0, NULL));
	g_assert_cmpint(hm_maildir_deliver(tmp, "A: b\n", 5, &name, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_null(name);
	g_assert_cmpint(count_entries(newdir), <=, 0);
	g_assert_true(g_file_test(tmpfile, G_FILE_TEST_IS_REGULAR));
	g_clear_error(&err);
	hm_test_remove_tree(tmp);
}

/* A full disk (a 64 KB tmpfs): HM_ERROR_NOSPACE, and nothing left over. */
static void
test_fail_disk_full(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *md = g_build_filename(tmp, "alice", NULL);
	g_autofree char *tmpdir = g_build_filename(md, "tmp", NULL);
	g_autofree char *newdir = g_build_filename(md, "new", NULL);
	g_autofree char *curdir = g_build_filename(md, "cur", NULL);
	g_autofree char *big = g_malloc(1024 * 1024);
	g_autofree char *name = NULL;
	GError *err = NULL;
	int rc;

	hm_test_mount_tmpfs(tmp, "64k");
	memset(big, 'x', 1024 * 1024);
	big[0] = 'A', big[1] = ':', big[2] = ' ';
	rc = hm_maildir_deliver(md, big, 1024 * 1024, &name, &err);
	g_assert_cmpint(rc, ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_NOSPACE);
	g_clear_error(&err);
	g_assert_null(name);
	g_assert_cmpint(count_entries(tmpdir), ==, 0);
	g_assert_cmpint(count_entries(newdir), ==, 0);
	g_assert_cmpint(count_entries(curdir), ==, 0);
	/* A small message still fits: the failed one left nothing behind. */
	g_assert_cmpint(hm_maildir_deliver(md, "A: b\n", 5, &name, &err), ==, 0);
	g_assert_no_error(err);
	hm_test_umount(tmp);
	hm_test_remove_tree(tmp);
}

static void
touch(const char *dir, const char *name)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents(p, "", 0, NULL));
}

/* A Maildir with tmp/ alone (its creation was killed half-way, as a
 * kill -9 test found): delivery and publishing complete it instead of
 * failing for ever; and creation makes tmp/ last, so it cannot recur. */
static void
test_half_made(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-test-maildir-half");
	g_autofree char *md = g_build_filename(dir, "u", NULL);
	g_autofree char *tmp = g_build_filename(md, "tmp", NULL);
	g_autofree char *tmp_path = NULL, *new_path = NULL, *name = NULL;
	g_autofree char *newdir = g_build_filename(md, "new", NULL);
	GError *err = NULL;
	HmMaildirDelivery *d;

	g_assert_cmpint(g_mkdir_with_parents(tmp, 0700), ==, 0);
	g_assert_cmpint(hm_maildir_deliver(md, "a: b\n", 5, &name, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_true(g_file_test(newdir, G_FILE_TEST_IS_DIR));
	hm_test_remove_tree(newdir);
	d = hm_maildir_delivery_begin(md, &err);
	g_assert_nonnull(d);
	g_assert_cmpint(hm_maildir_delivery_write(d, "a: c\n", 5, &err), ==, 0);
	g_assert_cmpint(hm_maildir_delivery_stage(d, &tmp_path, &new_path, &err), ==, 0);
	g_assert_cmpint(hm_maildir_publish(tmp_path, new_path, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_true(g_file_test(new_path, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(tmp_path, G_FILE_TEST_EXISTS));
	/* Publishing again (recovery after a crash) is harmless. */
	g_assert_cmpint(hm_maildir_publish(tmp_path, new_path, &err), ==, 0);
	hm_test_remove_tree(dir);
}

static void
test_scan(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autoptr(GArray) list = NULL;
	GError *err = NULL;
	HmMaildirEntry *e;

	g_assert_cmpint(hm_maildir_create(tmp, &err), ==, 0);
	touch(tmp, "new/1000.M2P1Q1.h,S=10,W=12");
	touch(tmp, "new/999.M1P1Q1.h,S=5");
	touch(tmp, "new/1000.M1P1Q1.h");
	touch(tmp, "cur/1001.M1P1Q1.h,S=7,W=9:2,S");
	touch(tmp, "cur/1000.M3P1Q1.h:2,RS");
	touch(tmp, "cur/1002.M1.h,W=3,S=4,X=zz:2,");
	touch(tmp, "new/junk,S=abc,W=-1");
	touch(tmp, "new/12x.y,S=18446744073709551616");
	touch(tmp, "new/.hidden,S=1,W=1");
	touch(tmp, "cur/.also-hidden");
	touch(tmp, "tmp/1.M1P1Q1.h,S=1,W=1");
	list = hm_maildir_scan(tmp, &err);
	g_assert_no_error(err);
	g_assert_nonnull(list);
	g_assert_cmpuint(list->len, ==, 8);

	/* secs 0 first (no parsable time), ordered by name. */
	e = &g_array_index(list, HmMaildirEntry, 0);
	g_assert_cmpstr(e->name, ==, "new/12x.y,S=18446744073709551616");
	g_assert_cmpint(e->secs, ==, 0);
	g_assert_cmpuint(e->size, ==, G_MAXUINT64);
	e = &g_array_index(list, HmMaildirEntry, 1);
	g_assert_cmpstr(e->name, ==, "new/junk,S=abc,W=-1");
	g_assert_cmpstr(e->uid, ==, "junk");
	g_assert_cmpuint(e->size, ==, G_MAXUINT64);
	g_assert_cmpuint(e->vsize, ==, G_MAXUINT64);
	e = &g_array_index(list, HmMaildirEntry, 2);
	g_assert_cmpstr(e->name, ==, "new/999.M1P1Q1.h,S=5");
	g_assert_cmpint(e->secs, ==, 999);
	g_assert_cmpuint(e->size, ==, 5);
	g_assert_cmpuint(e->vsize, ==, G_MAXUINT64);
	g_assert_true(e->in_new);
	e = &g_array_index(list, HmMaildirEntry, 3);
	g_assert_cmpstr(e->name, ==, "new/1000.M1P1Q1.h");
	g_assert_cmpstr(e->uid, ==, "1000.M1P1Q1.h");
	g_assert_cmpuint(e->size, ==, G_MAXUINT64);
	e = &g_array_index(list, HmMaildirEntry, 4);
	g_assert_cmpstr(e->name, ==, "new/1000.M2P1Q1.h,S=10,W=12");
	g_assert_cmpstr(e->uid, ==, "1000.M2P1Q1.h");
	g_assert_cmpuint(e->size, ==, 10);
	g_assert_cmpuint(e->vsize, ==, 12);
	e = &g_array_index(list, HmMaildirEntry, 5);
	g_assert_cmpstr(e->name, ==, "cur/1000.M3P1Q1.h:2,RS");
	g_assert_cmpstr(e->uid, ==, "1000.M3P1Q1.h");
	g_assert_false(e->in_new);
	e = &g_array_index(list, HmMaildirEntry, 6);
	g_assert_cmpstr(e->name, ==, "cur/1001.M1P1Q1.h,S=7,W=9:2,S");
	g_assert_cmpstr(e->uid, ==, "1001.M1P1Q1.h");
	g_assert_cmpint(e->secs, ==, 1001);
	g_assert_cmpuint(e->size, ==, 7);
	g_assert_cmpuint(e->vsize, ==, 9);
	e = &g_array_index(list, HmMaildirEntry, 7);
	g_assert_cmpuint(e->size, ==, 4);
	g_assert_cmpuint(e->vsize, ==, 3);
	hm_test_remove_tree(tmp);
}

static void
test_scan_missing(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *md = g_build_filename(tmp, "nobody", NULL);
	g_autoptr(GArray) list = NULL;
	GError *err = NULL;

	list = hm_maildir_scan(md, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(list->len, ==, 0);
	hm_test_remove_tree(tmp);
}

/* Delivered messages come back from the scan with their sizes. */
static void
test_scan_delivered(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autoptr(GArray) list = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	GError *err = NULL;

	for (int i = 0; i < 20; i++) {
		g_autofree char *msg = g_strdup_printf("N: %d\n\n%*s\n", i, i, "");
		char *name = NULL;

		g_assert_cmpint(hm_maildir_deliver(tmp, msg, strlen(msg), &name, &err), ==, 0);
		g_ptr_array_add(names, name);
	}
	list = hm_maildir_scan(tmp, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(list->len, ==, 20);
	for (guint i = 0; i < list->len; i++) {
		HmMaildirEntry *e = &g_array_index(list, HmMaildirEntry, i);
		guint n = 0;

		/* Same second: the counter keeps them in delivery order only
		 * within a process, so find the entry by name. */
		while (n < names->len && strcmp(names->pdata[n], e->name) != 0)
			n++;
		g_assert_cmpuint(n, <, names->len);
		g_assert_cmpuint(e->size, ==, strlen("N: \n\n\n") + (n >= 10 ? 2 : 1) + n);
		g_assert_cmpuint(e->vsize, ==, e->size + 3);
	}
	hm_test_remove_tree(tmp);
}

/* 10,000 messages listed from their names alone in a few ms. */
static void
test_scan_speed(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autoptr(GArray) list = NULL;
	GError *err = NULL;
	gint64 t0;
	double ms;

	g_assert_cmpint(hm_maildir_create(tmp, &err), ==, 0);
	for (int i = 0; i < 10000; i++) {
		g_autofree char *base = hm_maildir_unique_name();
		g_autofree char *name = g_strdup_printf("%s/%s,S=%d,W=%d", i % 2 ? "new" : "cur", base,
		                                        i, i + 10);
		g_autofree char *p = g_build_filename(tmp, name, NULL);

		g_assert_true(g_file_set_contents(p, "", 0, NULL));
	}
	t0 = g_get_monotonic_time();
	list = hm_maildir_scan(tmp, &err);
	ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
	g_assert_no_error(err);
	g_assert_cmpuint(list->len, ==, 10000);
	g_test_message("scan of 10,000 names: %.1f ms", ms);
	/* A few ms normally; the bound leaves room for sanitizer builds. */
	g_assert_cmpfloat(ms, <, 250.0);
	hm_test_remove_tree(tmp);
}

/* hm_maildir_mark_seen() with new/ and cur/ opened for it alone. */
static int
mark_seen(const char *dir, const char *name, GError **err)
{
	HmMaildirSubs subs;
	int rc;

	if (hm_maildir_subs_open(dir, &subs, err) < 0)
		return -1;
	rc = hm_maildir_mark_seen(&subs, name, err);
	hm_maildir_subs_close(&subs);
	return rc;
}

/* A message a client has: new/BASE becomes cur/BASE:2,S, content and all,
 * and the scan still finds it by the same unique part. */
static void
test_mark_seen(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *name = NULL, *seen = NULL;
	g_autoptr(GArray) list = NULL;
	GError *err = NULL;

	g_assert_cmpint(hm_maildir_deliver(tmp, "S: x\n\nbody\n", 12, &name, &err), ==, 0);
	g_assert_cmpint(mark_seen(tmp, name, &err), ==, 0);
	g_assert_no_error(err);
	seen = g_strdup_printf("%s/cur/%s:2,S", tmp, name + 4);
	hm_test_assert_file(seen, "S: x\n\nbody\n");
	list = hm_maildir_scan(tmp, &err);
	g_assert_cmpuint(list->len, ==, 1);
	g_assert_cmpstr(g_array_index(list, HmMaildirEntry, 0).name + 4, ==,
	                strrchr(seen, '/') + 1);
	g_assert_false(g_array_index(list, HmMaildirEntry, 0).in_new);
	/* Gone meanwhile (another reader moved it): an error, nothing made. */
	g_assert_cmpint(mark_seen(tmp, name, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	hm_test_remove_tree(tmp);
}

/* A cur/ file already named BASE:2,S is another message: marking new/BASE
 * seen fails and both stay as they were. */
static void
test_mark_seen_no_replace(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *new = g_build_filename(tmp, "new", "1.M1P1Q1.h", NULL);
	g_autofree char *cur = g_build_filename(tmp, "cur", "1.M1P1Q1.h:2,S", NULL);
	GError *err = NULL;

	g_assert_cmpint(hm_maildir_create(tmp, &err), ==, 0);
	g_assert_true(g_file_set_contents(new, "new one\n", -1, NULL));
	g_assert_true(g_file_set_contents(cur, "old one\n", -1, NULL));
	g_assert_cmpint(mark_seen(tmp, "new/1.M1P1Q1.h", &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	hm_test_assert_file(new, "new one\n");
	hm_test_assert_file(cur, "old one\n");
	hm_test_remove_tree(tmp);
}

static void
make_aged(const char *path, time_t mtime, time_t atime)
{
	struct utimbuf t = { .actime = atime, .modtime = mtime };

	g_assert_true(g_file_set_contents(path, "x", -1, NULL));
	g_assert_cmpint(utime(path, &t), ==, 0);
}

/* tmp/ files untouched for 36 hours go; younger ones, ones read lately,
 * and what is not a regular file stay. */
static void
test_sweep_tmp(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *dir = g_build_filename(tmp, "tmp", NULL);
	g_autofree char *old = g_build_filename(dir, "1.orphan", NULL);
	g_autofree char *young = g_build_filename(dir, "2.writing", NULL);
	g_autofree char *read = g_build_filename(dir, "3.read", NULL);
	g_autofree char *link = g_build_filename(dir, "4.link", NULL);
	g_autofree char *sub = g_build_filename(dir, "5.dir", NULL);
	g_autofree char *list = NULL;
	time_t now = time(NULL), past = now - 37 * 3600;
	struct utimbuf t = { .actime = past, .modtime = past };
	struct timeval tv[2] = { { .tv_sec = past }, { .tv_sec = past } };
	GError *err = NULL;

	g_assert_cmpuint(hm_maildir_sweep_tmp(tmp), ==, 0);  /* no Maildir yet */
	g_assert_cmpint(hm_maildir_create(tmp, &err), ==, 0);
	make_aged(old, past, past);
	make_aged(young, now - 35 * 3600, past);
	make_aged(read, past, now);
	g_assert_cmpint(symlink(old, link), ==, 0);
	g_assert_cmpint(lutimes(link, tv), ==, 0);
	g_assert_cmpint(mkdir(sub, 0700), ==, 0);
	g_assert_cmpint(utime(sub, &t), ==, 0);
	g_assert_cmpuint(hm_maildir_sweep_tmp(tmp), ==, 1);
	list = hm_test_dir_list(dir);
	g_assert_cmpstr(list, ==, "2.writing 3.read 4.link 5.dir");
	hm_test_remove_tree(tmp);
}

/* Replaces md's sub with a symbolic link to other's. */
static void
link_sub(const char *md, const char *other, const char *sub)
{
	g_autofree char *path = g_build_filename(md, sub, NULL);
	g_autofree char *target = g_build_filename(other, sub, NULL);

	g_assert_cmpint(rmdir(path), ==, 0);
	g_assert_cmpint(symlink(target, path), ==, 0);
}

static void
assert_refused_link(GError **err)
{
	g_assert_nonnull(*err);
	g_assert_nonnull(strstr((*err)->message, "symbolic link"));
	g_clear_error(err);
}

/* Writers refuse a tmp/, new/ or cur/ that is a symbolic link rather
 * than write, link, rename or remove through it: run as root on a
 * Maildir its user owns, they would otherwise create files in (or, for
 * the tmp/ sweep, remove old files from) any directory of the system. */
static void
test_write_linked_sub(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *md = g_build_filename(tmp, "md", NULL);
	g_autofree char *other = g_build_filename(tmp, "other", NULL);
	g_autofree char *other_tmp = g_build_filename(other, "tmp", NULL);
	g_autofree char *other_new = g_build_filename(other, "new", NULL);
	g_autofree char *other_cur = g_build_filename(other, "cur", NULL);
	g_autofree char *md_tmp = g_build_filename(md, "tmp", NULL);
	g_autofree char *md_new = g_build_filename(md, "new", NULL);
	g_autofree char *old = g_build_filename(other_tmp, "1.old", NULL);
	g_autofree char *tmp_path = NULL, *new_path = NULL, *name = NULL;
	time_t past = time(NULL) - 37 * 3600;
	GError *err = NULL;
	HmMaildirDelivery *d;

	g_assert_cmpint(hm_maildir_create(md, &err), ==, 0);
	g_assert_cmpint(hm_maildir_create(other, &err), ==, 0);

	link_sub(md, other, "tmp");
	g_assert_cmpint(hm_maildir_deliver(md, "a: b\n", 5, NULL, &err), ==, -1);
	assert_refused_link(&err);
	g_assert_cmpint(count_entries(other_tmp), ==, 0);
	make_aged(old, past, past);
	g_assert_cmpuint(hm_maildir_sweep_tmp(md), ==, 0);
	g_assert_cmpint(count_entries(other_tmp), ==, 1);
	g_assert_cmpint(unlink(md_tmp), ==, 0);
	g_assert_cmpint(mkdir(md_tmp, 0700), ==, 0);

	link_sub(md, other, "new");
	g_assert_cmpint(hm_maildir_deliver(md, "a: b\n", 5, NULL, &err), ==, -1);
	assert_refused_link(&err);
	g_assert_cmpint(count_entries(other_new), ==, 0);
	g_assert_cmpint(count_entries(md_tmp), ==, 0);
	d = hm_maildir_delivery_begin(md, &err);
	g_assert_nonnull(d);
	g_assert_cmpint(hm_maildir_delivery_write(d, "a: c\n", 5, &err), ==, 0);
	g_assert_cmpint(hm_maildir_delivery_stage(d, &tmp_path, &new_path, &err), ==, 0);
	g_assert_cmpint(hm_maildir_publish(tmp_path, new_path, &err), ==, -1);
	assert_refused_link(&err);
	g_assert_cmpint(count_entries(other_new), ==, 0);
	g_assert_cmpint(unlink(md_new), ==, 0);
	g_assert_cmpint(mkdir(md_new, 0700), ==, 0);
	g_assert_cmpint(hm_maildir_publish(tmp_path, new_path, &err), ==, 0);
	g_assert_no_error(err);

	link_sub(md, other, "cur");
	name = g_strconcat("new/", strrchr(new_path, '/') + 1, NULL);
	g_assert_cmpint(mark_seen(md, name, &err), ==, -1);
	assert_refused_link(&err);
	g_assert_cmpint(count_entries(other_cur), ==, 0);
	g_assert_true(g_file_test(new_path, G_FILE_TEST_IS_REGULAR));
	hm_test_remove_tree(tmp);
}

/* This test is linked with -Wl,--wrap=readdir: while unknown_types is set,
 * the Maildir code's readdir() reports every entry as DT_UNKNOWN, as file
 * systems that do not fill d_type in do, so the scan must lstat. */
static gboolean unknown_types;
struct dirent *__real_readdir(DIR *dp);
struct dirent *__wrap_readdir(DIR *dp);

struct dirent *
__wrap_readdir(DIR *dp)
{
	struct dirent *de = __real_readdir(dp);

	if (de != NULL && unknown_types)
		de->d_type = DT_UNKNOWN;
	return de;
}

/* Only regular files are messages: a symbolic link (here to a readable
 * file outside the Maildir), a FIFO and a directory in new/ or cur/ are
 * left out, whatever their names promise, and whether readdir() tells
 * the file type (data NULL) or not. */
static void
test_scan_regular_only(gconstpointer data)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *md = g_build_filename(tmp, "md", NULL);
	g_autofree char *secret = g_build_filename(tmp, "secret", NULL);
	g_autofree char *link_cur = g_build_filename(md, "cur", "1.M1P1Q1.h,S=6,W=7:2,S", NULL);
	g_autofree char *link_new = g_build_filename(md, "new", "2.M1P1Q1.h", NULL);
	g_autofree char *fifo = g_build_filename(md, "cur", "3.M1P1Q1.h:2,S", NULL);
	g_autofree char *sub = g_build_filename(md, "new", "4.M1P1Q1.h", NULL);
	g_autoptr(GArray) list = NULL;
	GError *err = NULL;

	g_assert_cmpint(hm_maildir_create(md, &err), ==, 0);
	g_assert_true(g_file_set_contents(secret, "secret", -1, NULL));
	g_assert_cmpint(symlink(secret, link_cur), ==, 0);
	g_assert_cmpint(symlink(secret, link_new), ==, 0);
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	g_assert_cmpint(mkdir(sub, 0700), ==, 0);
	touch(md, "new/5.M1P1Q1.h,S=1,W=1");
	unknown_types = data != NULL;
	list = hm_maildir_scan(md, &err);
	unknown_types = FALSE;
	g_assert_no_error(err);
	g_assert_cmpuint(list->len, ==, 1);
	g_assert_cmpstr(g_array_index(list, HmMaildirEntry, 0).name, ==, "new/5.M1P1Q1.h,S=1,W=1");
	hm_test_remove_tree(tmp);
}

/* A new/ or cur/ that is a symbolic link is refused, not followed. */
static void
test_scan_linked_sub(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *md = g_build_filename(tmp, "md", NULL);
	g_autofree char *other = g_build_filename(tmp, "other", NULL);
	g_autofree char *cur = g_build_filename(md, "cur", NULL);
	g_autofree char *other_cur = g_build_filename(other, "cur", NULL);
	g_autoptr(GArray) list = NULL;
	GError *err = NULL;
	int fd;

	g_assert_cmpint(hm_maildir_create(md, &err), ==, 0);
	g_assert_cmpint(hm_maildir_create(other, &err), ==, 0);
	touch(other, "cur/1.M1P1Q1.h:2,S");
	g_assert_cmpint(rmdir(cur), ==, 0);
	g_assert_cmpint(symlink(other_cur, cur), ==, 0);
	list = hm_maildir_scan(md, &err);
	g_assert_null(list);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_nonnull(strstr(err->message, "symbolic link"));
	g_clear_error(&err);
	fd = hm_maildir_open_message(md, "cur/1.M1P1Q1.h:2,S", &err);
	g_assert_cmpint(fd, ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	hm_test_remove_tree(tmp);
}

/* A Maildir that is a symbolic link is followed only when it belongs to
 * root or to us: another user's link (mail/frank -> mail/bob, in a
 * mail_dir others may write to) is refused by readers and deliveries
 * alike, and nothing is created where it points. */
static void
test_foreign_link(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *bob = g_build_filename(tmp, "bob", NULL);
	g_autofree char *bob_new = g_build_filename(bob, "new", NULL);
	g_autofree char *frank = g_build_filename(tmp, "frank", NULL);
	g_autofree char *own = g_build_filename(tmp, "own", NULL);
	g_autofree char *other = g_build_filename(tmp, "other-disk", NULL);
	g_autofree char *want = NULL;
	GError *err = NULL;

	/* Only root can make a link that another user owns; like the
	 * integration tests, this one runs as root (CI does), and says so
	 * rather than pass without looking. */
	g_assert_cmpint(geteuid(), ==, 0);
	g_assert_cmpint(hm_maildir_create(bob, NULL), ==, 0);
	g_assert_cmpint(symlink(bob, frank), ==, 0);
	g_assert_cmpint(lchown(frank, 65534, 65534), ==, 0);
	want = g_strdup_printf("%s is a symbolic link owned by uid 65534", frank);
	g_assert_cmpint(hm_maildir_create(frank, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_FAILED);
	g_assert_true(g_str_has_prefix(err->message, want));
	g_clear_error(&err);
	g_assert_null(hm_maildir_delivery_begin(frank, &err));
	g_assert_true(g_str_has_prefix(err->message, want));
	g_clear_error(&err);
	g_assert_cmpint(hm_maildir_deliver(frank, "x\n", 2, NULL, &err), ==, -1);
	g_clear_error(&err);
	g_assert_cmpint(count_entries(bob_new), ==, 0);

	/* One that is ours is followed (a Maildir on another disk). */
	g_assert_cmpint(g_mkdir(other, 0700), ==, 0);
	g_assert_cmpint(symlink(other, own), ==, 0);
	g_assert_cmpint(hm_maildir_deliver(own, "x\n", 2, NULL, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpint(count_entries(other), ==, 3);
	hm_test_remove_tree(tmp);
}

/* A listed message replaced afterwards: by a symbolic link, a FIFO (the
 * open must not wait for a writer) or a directory, it is refused; a
 * regular file opens; a removed one is HM_ERROR_IO. */
static void
test_open_message(void)
{
	g_autofree char *tmp = hm_test_tmpdir("hm-test-maildir");
	g_autofree char *secret = g_build_filename(tmp, "secret", NULL);
	g_autofree char *name = NULL, *path = NULL;
	const char *kinds[] = { "symlink", "fifo", "dir" };
	char buf[16];
	GError *err = NULL;
	int fd;

	g_assert_true(g_file_set_contents(secret, "secret", -1, NULL));
	g_assert_cmpint(hm_maildir_deliver(tmp, "A: b\n", 5, &name, &err), ==, 0);
	path = g_build_filename(tmp, name, NULL);
	fd = hm_maildir_open_message(tmp, name, &err);
	g_assert_no_error(err);
	g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, 5);
	close(fd);
	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_assert_true(unlink(path) == 0 || rmdir(path) == 0);
		if (i == 0)
			g_assert_cmpint(symlink(secret, path), ==, 0);
		else if (i == 1)
			g_assert_cmpint(mkfifo(path, 0600), ==, 0);
		else
			g_assert_cmpint(mkdir(path, 0700), ==, 0);
		fd = hm_maildir_open_message(tmp, name, &err);
		g_assert_cmpint(fd, ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_FAILED);
		g_assert_nonnull(strstr(err->message, "not a regular file"));
		g_clear_error(&err);
	}
	g_assert_cmpint(rmdir(path), ==, 0);
	g_assert_cmpint(hm_maildir_open_message(tmp, name, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	hm_test_remove_tree(tmp);
}

/* The stem: the name without its directory and the cur/ info, the same
 * before and after the move to cur/ and a flag change. */
static void
test_stem(void)
{
	static const struct {
		const char *name, *stem;
	} cases[] = {
		{ "new/1.M1P1Q1.h,S=5,W=6", "1.M1P1Q1.h,S=5,W=6" },
		{ "cur/1.M1P1Q1.h,S=5,W=6:2,S", "1.M1P1Q1.h,S=5,W=6" },
		{ "cur/1.M1P1Q1.h,S=5,W=6:2,RS", "1.M1P1Q1.h,S=5,W=6" },
		{ "new/a:b", "a:b" },
		{ "cur/a:b:2,S", "a:b" },
		{ "cur/no-info", "no-info" },
		{ "cur/:2,S", "" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		HmMaildirEntry e = { .name = (char *)cases[i].name,
			             .in_new = cases[i].name[0] == 'n' };
		g_autofree char *stem = hm_maildir_stem(&e);

		g_assert_cmpstr(stem, ==, cases[i].stem);
	}
}

/* hm_maildir_chown() gives every level, and refuses a symlink at any of
 * them: a Maildir in the service user's mail_dir, changed by root. */
static void
test_chown(void)
{
	uid_t other = hm_test_other_uid();
	g_autofree char *mail = hm_test_tmpdir("hm-maildir");
	g_autofree char *alice = g_build_filename(mail, "alice", NULL);
	g_autofree char *cur = g_build_filename(alice, "cur", NULL);
	g_autofree char *target = g_build_filename(mail, "target", NULL);
	g_autofree char *bob = g_build_filename(mail, "bob", NULL);
	g_autoptr(GError) err = NULL;
	static const char *const levels[] = { "", "cur", "new", "tmp" };

	g_assert_cmpint(hm_maildir_create(alice, NULL), ==, 0);
	g_assert_cmpint(hm_maildir_chown(mail, "alice", other, (gid_t)-1, &err), ==, 0);
	g_assert_no_error(err);
	for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
		g_autofree char *p = g_build_filename(alice, levels[i], NULL);

		g_assert_cmpint(hm_test_owner(p), ==, other);
	}
	g_assert_cmpint(g_mkdir(target, 0700), ==, 0);
	/* A symlink for the Maildir itself... */
	g_assert_cmpint(symlink(target, bob), ==, 0);
	g_assert_cmpint(hm_maildir_chown(mail, "bob", other, (gid_t)-1, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "symbolic link"));
	g_clear_error(&err);
	/* ...or for one of its folders. */
	g_assert_cmpint(g_rmdir(cur), ==, 0);
	g_assert_cmpint(symlink(target, cur), ==, 0);
	g_assert_cmpint(hm_maildir_chown(mail, "alice", other, (gid_t)-1, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "symbolic link"));
	g_assert_cmpint(hm_test_owner(target), ==, geteuid());
	hm_test_remove_tree(mail);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/maildir/unique-names", test_unique_names);
	g_test_add_func("/maildir/deliver", test_deliver);
	g_test_add_func("/maildir/stream-and-abort", test_stream_and_abort);
	g_test_add_func("/maildir/fail-tmp-is-file", test_fail_tmp_is_file);
	g_test_add_func("/maildir/fail-disk-full", test_fail_disk_full);
	g_test_add_func("/maildir/half-made", test_half_made);
	g_test_add_func("/maildir/scan", test_scan);
	g_test_add_func("/maildir/scan-missing", test_scan_missing);
	g_test_add_func("/maildir/scan-delivered", test_scan_delivered);
	g_test_add_func("/maildir/scan-speed", test_scan_speed);
	g_test_add_data_func("/maildir/scan-regular-only", NULL, test_scan_regular_only);
	g_test_add_data_func("/maildir/scan-regular-only-dt-unknown", "", test_scan_regular_only);
	g_test_add_func("/maildir/scan-linked-sub", test_scan_linked_sub);
	g_test_add_func("/maildir/open-message", test_open_message);
	g_test_add_func("/maildir/foreign-link", test_foreign_link);
	g_test_add_func("/maildir/stem", test_stem);
	g_test_add_func("/maildir/mark-seen", test_mark_seen);
	g_test_add_func("/maildir/mark-seen-no-replace", test_mark_seen_no_replace);
	g_test_add_func("/maildir/sweep-tmp", test_sweep_tmp);
	g_test_add_func("/maildir/write-linked-sub", test_write_linked_sub);
	g_test_add_func("/maildir/chown", test_chown);
	return g_test_run();
}
