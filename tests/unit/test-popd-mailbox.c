/* The POP3 maildrop: snapshot, UIDLs, locking, UPDATE. */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "lib/error.h"
#include "lib/maildir.h"
#include "popd/mailbox.h"
#include "testutil.h"

static void
deliver(const char *dir, const char *text)
{
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_maildir_deliver(dir, text, strlen(text), NULL, &err), ==, 0);
	g_assert_no_error(err);
}

static GPtrArray *
uidls(PopdMailbox *mb)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

	for (guint n = 1; n <= popd_mailbox_count(mb); n++)
		g_ptr_array_add(a, g_strdup(popd_mailbox_uidl(mb, n)));
	return a;
}

/* UIDLs are stable across sessions, and a message delivered during a
 * session belongs to the next one. */
static void
test_snapshot_and_uidl(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) first = NULL, second = NULL;
	PopdMailbox *mb;
	guint count;
	guint64 octets;

	for (int i = 0; i < 5; i++)
		deliver(dir, "Subject: x\n\nbody\n");
	mb = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	first = uidls(mb);
	g_assert_cmpuint(first->len, ==, 5);
	deliver(dir, "Subject: late\n\n");
	popd_mailbox_stat(mb, &count, &octets);
	g_assert_cmpuint(count, ==, 5);
	g_assert_cmpuint(octets, ==, 5 * (17 + 3));
	popd_mailbox_close(mb);

	mb = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	second = uidls(mb);
	g_assert_cmpuint(second->len, ==, 6);
	for (guint i = 0; i < 5; i++)
		g_assert_cmpstr(first->pdata[i], ==, second->pdata[i]);
	for (guint i = 0; i < 5; i++)
		g_assert_cmpstr(second->pdata[5], !=, second->pdata[i]);
	popd_mailbox_close(mb);
	hm_test_remove_tree(dir);
}

/* A UIDL stays the same after the message moves to cur/, and one that
 * was deleted is never handed out again. */
static void
test_uidl_never_reused(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autoptr(GError) err = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	PopdMailbox *mb;

	for (int round = 0; round < 20; round++) {
		deliver(dir, "Subject: r\n\n");
		mb = popd_mailbox_open(dir, &err);
		g_assert_no_error(err);
		g_assert_cmpuint(popd_mailbox_count(mb), ==, 1);
		g_assert_false(g_hash_table_contains(seen, popd_mailbox_uidl(mb, 1)));
		g_hash_table_add(seen, g_strdup(popd_mailbox_uidl(mb, 1)));
		popd_mailbox_delete(mb, 1);
		g_assert_cmpint(popd_mailbox_commit(mb, &err), ==, 0);
		popd_mailbox_close(mb);
	}
	hm_test_remove_tree(dir);
}

static void
test_lock(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autoptr(GError) err = NULL;
	PopdMailbox *a, *b;

	a = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	b = popd_mailbox_open(dir, &err);
	g_assert_null(b);
	g_assert_error(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_IN_USE);
	g_clear_error(&err);
	popd_mailbox_close(a);
	b = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	popd_mailbox_close(b);
	hm_test_remove_tree(dir);
}

/* A session sweeps tmp/ of deliveries abandoned for 36 hours (kill -9 of
 * homemail-deliver mid-write), which nothing else would remove when the
 * relay or homemail-deliver writes the Maildir; a younger file may be a
 * delivery under way and stays. */
static void
test_sweeps_tmp(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autofree char *old = g_build_filename(dir, "tmp", "1.M1P1Q1.h", NULL);
	g_autofree char *young = g_build_filename(dir, "tmp", "2.M1P1Q1.h", NULL);
	g_autofree char *tmp = g_build_filename(dir, "tmp", NULL);
	g_autofree char *left = NULL;
	time_t past = time(NULL) - 37 * 3600;
	struct utimbuf t = { .actime = past, .modtime = past };
	g_autoptr(GError) err = NULL;
	PopdMailbox *mb;

	deliver(dir, "a\n");
	g_assert_true(g_file_set_contents(old, "half a message", -1, NULL));
	g_assert_cmpint(utime(old, &t), ==, 0);
	g_assert_true(g_file_set_contents(young, "being written", -1, NULL));
	mb = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(popd_mailbox_count(mb), ==, 1);
	left = hm_test_dir_list(tmp);
	g_assert_cmpstr(left, ==, "2.M1P1Q1.h");
	popd_mailbox_close(mb);
	hm_test_remove_tree(dir);
}

/* Closing without commit (a dropped connection) deletes nothing. */
static void
test_close_deletes_nothing(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autoptr(GError) err = NULL;
	PopdMailbox *mb;

	deliver(dir, "a\n");
	deliver(dir, "b\n");
	mb = popd_mailbox_open(dir, &err);
	popd_mailbox_delete(mb, 1);
	popd_mailbox_delete(mb, 2);
	popd_mailbox_close(mb);
	mb = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(popd_mailbox_count(mb), ==, 2);
	popd_mailbox_delete(mb, 2);
	g_assert_cmpint(popd_mailbox_commit(mb, &err), ==, 0);
	popd_mailbox_close(mb);
	mb = popd_mailbox_open(dir, &err);
	g_assert_cmpuint(popd_mailbox_count(mb), ==, 1);
	popd_mailbox_close(mb);
	hm_test_remove_tree(dir);
}

/* The path of the file in dir/new whose name starts with uidl. */
static char *
path_of(const char *dir, const char *uidl)
{
	g_autofree char *new = g_build_filename(dir, "new", NULL);
	g_autoptr(GDir) d = g_dir_open(new, 0, NULL);
	const char *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL)
		if (g_str_has_prefix(name, uidl))
			return g_build_filename(new, name, NULL);
	g_assert_not_reached();
}

/* Only regular files are messages: a symbolic link to a readable file
 * outside new/ and cur/, and a FIFO whose name has no ",W=" (measuring it
 * would open it) are not in the snapshot; a message replaced by either
 * after the snapshot is refused (POPD_MAILBOX_UNREADABLE: it is there, so
 * not gone, but no message) and nothing is sent. */
static void
test_not_regular(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autofree char *secret = g_build_filename(dir, "secret", NULL);
	g_autofree char *link = g_build_filename(dir, "new", "1.M1P1Q1.link,S=3,W=3", NULL);
	g_autofree char *fifo = g_build_filename(dir, "new", "2.M1P1Q1.fifo", NULL);
	g_autofree char *p1 = NULL, *p2 = NULL;
	g_autoptr(GError) err = NULL;
	PopdMailbox *mb;
	HmConn *conn;
	char c;
	int sv[2];

	deliver(dir, "Subject: one\n\n");
	deliver(dir, "Subject: two\n\n");
	g_assert_true(g_file_set_contents(secret, "secret\n", -1, NULL));
	g_assert_cmpint(symlink(secret, link), ==, 0);
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	mb = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(popd_mailbox_count(mb), ==, 2);
	p1 = path_of(dir, popd_mailbox_uidl(mb, 1));
	p2 = path_of(dir, popd_mailbox_uidl(mb, 2));
	g_assert_cmpint(unlink(p1), ==, 0);
	g_assert_cmpint(symlink(secret, p1), ==, 0);
	g_assert_cmpint(unlink(p2), ==, 0);
	g_assert_cmpint(mkfifo(p2, 0600), ==, 0);
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	conn = hm_conn_new(sv[0], 1000);
	for (guint n = 1; n <= 2; n++) {
		g_assert_cmpint(popd_mailbox_send(mb, n, -1, conn, &err), ==, -1);
		g_assert_error(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_UNREADABLE);
		g_clear_error(&err);
	}
	g_assert_cmpint(hm_conn_flush(conn, &err), ==, 0);
	g_assert_cmpint(recv(sv[1], &c, 1, MSG_DONTWAIT), ==, -1);
	g_assert_cmpint(errno, ==, EAGAIN);
	hm_conn_free(conn);
	close(sv[1]);
	popd_mailbox_close(mb);
	hm_test_remove_tree(dir);
}

/* Retrieves every message of mb through a socket pair, as RETR does. */
static void
retrieve_all(PopdMailbox *mb)
{
	g_autoptr(GError) err = NULL;
	char buf[4096];
	HmConn *conn;
	int sv[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	conn = hm_conn_new(sv[0], 1000);
	for (guint n = 1; n <= popd_mailbox_count(mb); n++) {
		g_assert_cmpint(popd_mailbox_send(mb, n, -1, conn, &err), ==, 0);
		g_assert_cmpint(hm_conn_flush(conn, &err), ==, 0);
		g_assert_cmpint(recv(sv[1], buf, sizeof(buf), 0), >, 0);
	}
	hm_conn_free(conn);
	close(sv[1]);
}

/* new/X retrieved beside an older cur/X:2,S: QUIT must not move it over
 * that other message; both are still there, unchanged. */
static void
test_seen_move_keeps_other(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autofree char *new = g_build_filename(dir, "new", "1.M1P1Q1.h", NULL);
	g_autofree char *cur = g_build_filename(dir, "cur", "1.M1P1Q1.h:2,S", NULL);
	g_autoptr(GError) err = NULL;
	PopdMailbox *mb;

	g_assert_cmpint(hm_maildir_create(dir, &err), ==, 0);
	g_assert_true(g_file_set_contents(new, "Subject: new\n\n", -1, NULL));
	g_assert_true(g_file_set_contents(cur, "Subject: old\n\n", -1, NULL));
	mb = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(popd_mailbox_count(mb), ==, 2);
	retrieve_all(mb);
	g_assert_cmpint(popd_mailbox_commit(mb, &err), ==, 0);
	g_assert_no_error(err);
	popd_mailbox_close(mb);
	hm_test_assert_file(new, "Subject: new\n\n");
	hm_test_assert_file(cur, "Subject: old\n\n");
	hm_test_remove_tree(dir);
}

static void
put(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents(path, "Subject: x\n\nbody\n", -1, NULL));
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every UIDL is 1-70 characters in 0x21..0x7E and unique; returns them
 * sorted (the listing order may change when messages move to cur/). */
static GPtrArray *
checked_uidls(PopdMailbox *mb)
{
	GPtrArray *a = uidls(mb);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; i < a->len; i++) {
		const char *u = a->pdata[i];

		g_assert_cmpuint(strlen(u), >=, 1);
		g_assert_cmpuint(strlen(u), <=, 70);
		for (const char *p = u; *p != '\0'; p++) {
			g_assert_cmpint((guchar)*p, >=, 0x21);
			g_assert_cmpint((guchar)*p, <=, 0x7e);
		}
		g_assert_true(g_hash_table_add(seen, (gpointer)u));
	}
	g_ptr_array_sort(a, cmp_str);
	return a;
}

static gboolean
has(GPtrArray *a, const char *s)
{
	return g_ptr_array_find_with_equal_func(a, s, g_str_equal, NULL);
}

/* Hostile file names: a UIDL line injected with CR LF, spaces, 8-bit
 * bytes, more than 70 characters, an empty unique part, one unique part
 * shared (new/X beside cur/X:2,S, and two sizes of Y), and a name that is
 * the hash another file would get. Each message still gets a valid, unique
 * UIDL; plain names keep theirs; and all stay the same in the next session
 * and after QUIT moved the retrieved ones to cur/. */
static void
test_uidl_hostile_names(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-mbox");
	g_autofree char *long_ok = g_strnfill(70, 'b'), *too_long = g_strnfill(71, 'a');
	g_autofree char *spaced_hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
	                                                             "with space,S=3,W=3", -1);
	const char *names[] = { "new/1.M1P1Q1.h,S=16,W=19", "cur/2.M1P1Q1.h,S=16,W=19:2,S",
		                "new/3.evil\r\n99 injected", "new/with space,S=3,W=3",
		                "new/4.caf\xc3\xa9", "new/,S=5", "cur/:2,S", "new/X",
		                "cur/X:2,S", "new/Y,S=1", "new/Y,S=2" };
	const char *const extra[] = { long_ok, too_long, spaced_hash };
	g_autofree char *new = g_build_filename(dir, "new", NULL), *left = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) first = NULL, second = NULL, third = NULL;
	PopdMailbox *mb;

	g_assert_cmpint(hm_maildir_create(dir, &err), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		put(dir, names[i]);
	for (guint i = 0; i < G_N_ELEMENTS(extra); i++) {
		g_autofree char *name = g_strconcat("new/", extra[i], NULL);

		put(dir, name);
	}
	mb = popd_mailbox_open(dir, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(popd_mailbox_count(mb), ==, G_N_ELEMENTS(names) + 3);
	first = checked_uidls(mb);
	g_assert_true(has(first, "1.M1P1Q1.h"));
	g_assert_true(has(first, "2.M1P1Q1.h"));
	g_assert_true(has(first, long_ok));
	g_assert_true(has(first, spaced_hash));  /* a plain name before any hash */
	g_assert_false(has(first, "X"));         /* shared: hashed, both */
	g_assert_false(has(first, "Y"));
	popd_mailbox_close(mb);

	mb = popd_mailbox_open(dir, &err);
	second = checked_uidls(mb);
	retrieve_all(mb);
	g_assert_cmpint(popd_mailbox_commit(mb, &err), ==, 0);
	popd_mailbox_close(mb);
	mb = popd_mailbox_open(dir, &err);
	third = checked_uidls(mb);
	g_assert_cmpuint(popd_mailbox_count(mb), ==, G_N_ELEMENTS(names) + 3);
	popd_mailbox_close(mb);
	for (guint i = 0; i < first->len; i++) {
		g_assert_cmpstr(first->pdata[i], ==, second->pdata[i]);
		g_assert_cmpstr(first->pdata[i], ==, third->pdata[i]);
	}
	/* Only new/X stayed in new/: its cur/ name is another message's. */
	left = hm_test_dir_list(new);
	g_assert_cmpstr(left, ==, "X");
	hm_test_remove_tree(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/popd-mailbox/snapshot-and-uidl", test_snapshot_and_uidl);
	g_test_add_func("/popd-mailbox/uidl-never-reused", test_uidl_never_reused);
	g_test_add_func("/popd-mailbox/lock", test_lock);
	g_test_add_func("/popd-mailbox/sweeps-tmp", test_sweeps_tmp);
	g_test_add_func("/popd-mailbox/close-deletes-nothing", test_close_deletes_nothing);
	g_test_add_func("/popd-mailbox/not-regular", test_not_regular);
	g_test_add_func("/popd-mailbox/seen-move-keeps-other", test_seen_move_keeps_other);
	g_test_add_func("/popd-mailbox/uidl-hostile-names", test_uidl_hostile_names);
	return g_test_run();
}
