/* Group commit for local delivery (fetcher/stage.c): a committed batch is
 * published and recorded; an intent log left by a crash is settled so
 * that nothing is lost and nothing is fetched twice. */
#include <config.h>

#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <glib/gstdio.h>

#include "fetcher/stage.h"
#include "lib/maildir.h"
#include "testutil.h"

typedef struct {
	char *dir;
	HmConfig *cfg;
	HmFetchState *st;
	HmInjector *inj;
	HmFetchItem items[4];
} Fixture;

static const char MSG[] = "From: a@up.example\r\nSubject: x\r\n\r\nbody\r\n";

static void
set_up(Fixture *f, gconstpointer data)
{
	GError *err = NULL;
	g_autofree char *path = NULL, *text = NULL;

	f->dir = hm_test_tmpdir("hm-test-stage");
	path = g_build_filename(f->dir, "t.conf", NULL);
	text = g_strdup_printf("hostname = \"box.example\";\nstate_dir = \"%s/state\";\n"
	                       "mail_dir = \"%s/mail\";\nlocal_domains = [ \"box.example\" ];\n"
	                       "users = ( { name = \"alice\"; } );\n"
	                       "fetcher = { deliver = \"local\"; };\n", f->dir, f->dir);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	f->cfg = hm_config_load(path, hm_test_ignore_warning, NULL, &err);
	g_assert_no_error(err);
	f->st = hm_fetch_state_open(f->cfg->state_dir, "isp", "INBOX", &err);
	g_assert_no_error(err);
	f->inj = hm_injector_open(f->cfg, &err);
	g_assert_no_error(err);
	for (guint i = 0; i < G_N_ELEMENTS(f->items); i++) {
		f->items[i].uid = g_strdup_printf("uid-%u", i);
		f->items[i].num = i + 1;
		f->items[i].size = sizeof(MSG) - 1;
	}
}

static void
tear_down(Fixture *f, gconstpointer data)
{
	for (guint i = 0; i < G_N_ELEMENTS(f->items); i++)
		g_free(f->items[i].uid);
	hm_injector_close(f->inj);
	hm_fetch_state_free(f->st);
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
}

static guint
count_files(Fixture *f, const char *sub)
{
	g_autofree char *dir = g_build_filename(f->dir, "mail", "alice", sub, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;

	while (d != NULL && g_dir_read_name(d) != NULL)
		n++;
	return n;
}

static void
stage(Fixture *f, HmFetchBatch *b, guint i)
{
	HmDeliverStaged staged = { NULL, NULL };
	GError *err = NULL;

	g_assert_cmpint(hm_injector_stage(f->inj, "s@up.example", "alice", NULL, 0, MSG,
	                                  strlen(MSG), &staged, &err), ==, HM_INJECT_OK);
	g_assert_no_error(err);
	g_assert_nonnull(staged.tmp_path);
	hm_fetch_batch_add(b, &f->items[i], "<m@up.example>", &staged);
	hm_deliver_staged_clear(&staged);
}

static void
reopen(Fixture *f)
{
	GError *err = NULL;

	hm_fetch_state_free(f->st);
	f->st = hm_fetch_state_open(f->cfg->state_dir, "isp", "INBOX", &err);
	g_assert_no_error(err);
}

static void
test_commit(Fixture *f, gconstpointer data)
{
	HmFetchBatch *b = hm_fetch_batch_new(f->st, f->inj);
	g_autoptr(GPtrArray) done = g_ptr_array_new();
	g_autofree char *intent = hm_fetch_state_sidecar(f->st, "staged");
	GError *err = NULL;

	for (guint i = 0; i < 3; i++)
		stage(f, b, i);
	/* Staged is not delivered: nothing visible, nothing recorded. */
	g_assert_cmpuint(count_files(f, "tmp"), ==, 3);
	g_assert_cmpuint(count_files(f, "new"), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(f->st, "uid-0"), ==, 0);
	g_assert_cmpint(hm_fetch_batch_commit(b, done, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(done->len, ==, 3);
	g_assert_cmpuint(hm_fetch_batch_len(b), ==, 0);
	g_assert_cmpuint(count_files(f, "tmp"), ==, 0);
	g_assert_cmpuint(count_files(f, "new"), ==, 3);
	g_assert_false(g_file_test(intent, G_FILE_TEST_EXISTS));
	reopen(f);
	for (guint i = 0; i < 3; i++)
		g_assert_cmpint(hm_fetch_state_lookup(f->st, f->items[i].uid), ==,
		                HM_FETCH_MARK_DELIVERED);
	g_assert_true(hm_fetch_state_has_fingerprint(f->st, sizeof(MSG) - 1, "<m@up.example>"));
	hm_fetch_batch_free(b);
}

static void
test_free_takes_back(Fixture *f, gconstpointer data)
{
	HmFetchBatch *b = hm_fetch_batch_new(f->st, f->inj);

	stage(f, b, 0);
	stage(f, b, 1);
	hm_fetch_batch_free(b);
	g_assert_cmpuint(count_files(f, "tmp"), ==, 0);
	g_assert_cmpuint(count_files(f, "new"), ==, 0);
}

/* The state a crash leaves between the intent log and the records: four
 * logged messages, one still in tmp/, one published, one already moved to
 * cur/ by a reader, one gone (never durable), and a torn last line. */
static void
test_recover(Fixture *f, gconstpointer data)
{
	HmFetchBatch *b = hm_fetch_batch_new(f->st, f->inj);
	g_autofree char *intent = hm_fetch_state_sidecar(f->st, "staged");
	g_autoptr(GString) log = g_string_new(NULL);
	GError *err = NULL;
	char *paths[4][2];

	for (guint i = 0; i < 4; i++) {
		HmDeliverStaged staged = { NULL, NULL };

		g_assert_cmpint(hm_injector_stage(f->inj, "s@up.example", "alice", NULL, 0, MSG,
		                                  strlen(MSG), &staged, &err), ==, HM_INJECT_OK);
		paths[i][0] = staged.tmp_path;
		paths[i][1] = staged.new_path;
		g_string_append_printf(log, "uid-%u %zu %s %%3Cm%%40up.example%%3E\n", i,
		                       sizeof(MSG) - 1, staged.new_path);
	}
	g_string_append(log, "uid-9 12 /nowhere/torn");
	g_assert_true(g_file_set_contents(intent, log->str, -1, NULL));
	g_assert_cmpint(hm_maildir_publish(paths[1][0], paths[1][1], &err), ==, 0);
	g_assert_cmpint(hm_maildir_publish(paths[2][0], paths[2][1], &err), ==, 0);
	{
		g_autofree char *base = g_path_get_basename(paths[2][1]);
		g_autofree char *cur = g_build_filename(f->dir, "mail", "alice", "cur", base, NULL);
		g_autofree char *moved = g_strconcat(cur, ":2,S", NULL);

		g_assert_cmpint(g_rename(paths[2][1], moved), ==, 0);
	}
	g_assert_cmpint(g_unlink(paths[3][0]), ==, 0);

	reopen(f);
	g_assert_cmpint(hm_fetch_batch_recover(f->st, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_false(g_file_test(intent, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(count_files(f, "new"), ==, 2);
	g_assert_cmpuint(count_files(f, "cur"), ==, 1);
	g_assert_cmpuint(count_files(f, "tmp"), ==, 0);
	reopen(f);
	for (guint i = 0; i < 3; i++)
		g_assert_cmpint(hm_fetch_state_lookup(f->st, f->items[i].uid), ==,
		                HM_FETCH_MARK_DELIVERED);
	/* Never durable: fetched again, which is no duplicate. */
	g_assert_cmpint(hm_fetch_state_lookup(f->st, "uid-3"), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(f->st, "uid-9"), ==, 0);
	/* No intent log: nothing to do. */
	g_assert_cmpint(hm_fetch_batch_recover(f->st, &err), ==, 0);
	for (guint i = 0; i < 4; i++) {
		g_free(paths[i][0]);
		g_free(paths[i][1]);
	}
	hm_fetch_batch_free(b);
}

/* Staging into a Maildir first removes tmp/ files abandoned for 36 hours
 * (such as those a kill -9 orphaned), and nothing younger. */
static void
test_sweep_tmp(Fixture *f, gconstpointer data)
{
	HmFetchBatch *b = hm_fetch_batch_new(f->st, f->inj);
	g_autofree char *tmp = g_build_filename(f->dir, "mail", "alice", "tmp", NULL);
	g_autofree char *old = g_build_filename(tmp, "1.orphan", NULL);
	g_autofree char *young = g_build_filename(tmp, "2.writing", NULL);
	struct utimbuf past = { time(NULL) - 37 * 3600, time(NULL) - 37 * 3600 };

	g_assert_cmpint(g_mkdir_with_parents(tmp, 0700), ==, 0);
	g_assert_true(g_file_set_contents(old, "x", -1, NULL));
	g_assert_true(g_file_set_contents(young, "y", -1, NULL));
	g_assert_cmpint(utime(old, &past), ==, 0);
	stage(f, b, 0);
	g_assert_false(g_file_test(old, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(young, G_FILE_TEST_EXISTS));
	hm_fetch_batch_free(b);
}

/* A crash between creating the intent log and writing it. */
static void
test_recover_empty(Fixture *f, gconstpointer data)
{
	g_autofree char *intent = hm_fetch_state_sidecar(f->st, "staged");
	GError *err = NULL;

	g_assert_true(g_file_set_contents(intent, "", 0, NULL));
	g_assert_cmpint(hm_fetch_batch_recover(f->st, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_false(g_file_test(intent, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(hm_fetch_state_count(f->st), ==, 0);
}

/* The intent log is read only from a regular file: a link (to a log, or
 * dangling) or a FIFO at its path is an error that names it, and the
 * link's target is neither read nor removed. */
static void
test_recover_not_regular(Fixture *f, gconstpointer data)
{
	g_autofree char *intent = hm_fetch_state_sidecar(f->st, "staged");
	g_autofree char *elsewhere = g_build_filename(f->dir, "elsewhere", NULL);
	const char *const targets[] = { elsewhere, "/nonexistent/staged" };

	g_assert_true(g_file_set_contents(elsewhere, "uid-9 12 /nowhere/x -\n", -1, NULL));
	for (guint i = 0; i < G_N_ELEMENTS(targets); i++) {
		g_autofree char *want = g_strconcat(intent, " is not a regular file (a symbolic link, "
		                                    "not followed)", NULL);
		GError *err = NULL;

		g_assert_cmpint(symlink(targets[i], intent), ==, 0);
		g_assert_cmpint(hm_fetch_batch_recover(f->st, &err), ==, -1);
		g_assert_nonnull(err);
		g_assert_cmpstr(err->message, ==, want);
		g_clear_error(&err);
		g_assert_cmpint(g_unlink(intent), ==, 0);
	}
	g_assert_true(g_file_test(elsewhere, G_FILE_TEST_IS_REGULAR));
	hm_test_mkfifo(intent);
	{
		g_autofree char *want = g_strconcat(intent, " is not a regular file (a FIFO)", NULL);
		GError *err = NULL;

		g_assert_cmpint(hm_fetch_batch_recover(f->st, &err), ==, -1);
		g_assert_nonnull(err);
		g_assert_cmpstr(err->message, ==, want);
		g_clear_error(&err);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/fetch-stage/commit", Fixture, NULL, set_up, test_commit, tear_down);
	g_test_add("/fetch-stage/free-takes-back", Fixture, NULL, set_up, test_free_takes_back,
	           tear_down);
	g_test_add("/fetch-stage/recover", Fixture, NULL, set_up, test_recover, tear_down);
	g_test_add("/fetch-stage/sweep-tmp", Fixture, NULL, set_up, test_sweep_tmp, tear_down);
	g_test_add("/fetch-stage/recover-empty", Fixture, NULL, set_up, test_recover_empty,
	           tear_down);
	g_test_add("/fetch-stage/recover-not-regular", Fixture, NULL, set_up,
	           test_recover_not_regular, tear_down);
	return g_test_run();
}
