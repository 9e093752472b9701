/* The POP3 maildrop: snapshot, UIDLs, locking, UPDATE. */
#include <config.h>

#include <string.h>
#include <unistd.h>

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

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/popd-mailbox/snapshot-and-uidl", test_snapshot_and_uidl);
	g_test_add_func("/popd-mailbox/uidl-never-reused", test_uidl_never_reused);
	g_test_add_func("/popd-mailbox/lock", test_lock);
	g_test_add_func("/popd-mailbox/close-deletes-nothing", test_close_deletes_nothing);
	return g_test_run();
}
