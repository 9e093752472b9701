/* Group commit across processes (lib/groupcommit.c). */
#include <config.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/groupcommit.h"
#include "testutil.h"

static void
write_file(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) err = NULL;
	HmDurable *d = hm_durable_new(path, 0600, &err);

	g_assert_no_error(err);
	g_assert_cmpint(hm_durable_write(d, "x\r\n", 3, &err), ==, 0);
	g_assert_cmpint(hm_durable_commit(d, HM_DURABLE_NO_FSYNC | HM_DURABLE_NO_DIRSYNC, &err),
	                ==, 0);
}

static void
test_alone(void)
{
	g_autofree char *dir = hm_test_tmpdir("gc");
	g_autoptr(GError) err = NULL;
	HmGroupCommit *gc = hm_group_commit_new(dir, &err);
	guint64 flushes, callers;

	g_assert_no_error(err);
	write_file(dir, "a");
	g_assert_cmpint(hm_group_commit_sync(gc, &err), ==, 0);
	g_assert_cmpint(hm_group_commit_sync(gc, &err), ==, 0);
	hm_group_commit_stats(gc, &flushes, &callers);
	/* Alone, each caller pays its own flush: none is skipped. */
	g_assert_cmpuint(flushes, ==, 2);
	g_assert_cmpuint(callers, ==, 2);
	hm_group_commit_free(gc);
	hm_test_remove_tree(dir);

	gc = hm_group_commit_new("/nonexistent/dir", &err);
	g_assert_null(gc);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
}

#define WRITERS 8
#define ROUNDS 200

/* Each writer writes a file and commits, ROUNDS times. */
static void
writer(HmGroupCommit *gc, const char *dir, int id)
{
	for (int i = 0; i < ROUNDS; i++) {
		g_autofree char *name = g_strdup_printf("w%d-%d", id, i);
		GError *err = NULL;

		write_file(dir, name);
		if (hm_group_commit_sync(gc, &err) < 0)
			_exit(2);
	}
	_exit(0);
}

static void
test_concurrent(void)
{
	g_autofree char *dir = hm_test_tmpdir("gc");
	g_autoptr(GError) err = NULL;
	HmGroupCommit *gc = hm_group_commit_new(dir, &err);
	pid_t pids[WRITERS];
	guint64 flushes, callers;

	g_assert_no_error(err);
	for (int i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		g_assert_cmpint(pids[i], >=, 0);
		if (pids[i] == 0)
			writer(gc, dir, i);
	}
	for (int i = 0; i < WRITERS; i++) {
		int status;

		g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	}
	hm_group_commit_stats(gc, &flushes, &callers);
	g_assert_cmpuint(callers, ==, WRITERS * ROUNDS);
	g_assert_cmpuint(flushes, >=, 1);
	g_assert_cmpuint(flushes, <=, callers);
	g_test_message("%" G_GUINT64_FORMAT " flushes for %" G_GUINT64_FORMAT " commits", flushes,
	               callers);
	hm_group_commit_free(gc);
	hm_test_remove_tree(dir);
}

/* Writers are killed with SIGKILL at random moments, leaders among them:
 * the survivors must still get their commits (a waiter takes over from a
 * dead leader), and the mutex a dead holder left must not block. */
static void
test_killed_leaders(void)
{
	g_autofree char *dir = NULL;
	g_autoptr(GError) err = NULL;
	HmGroupCommit *gc;

	if (!hm_test_in_child(60))
		return;
	dir = hm_test_tmpdir("gc");
	gc = hm_group_commit_new(dir, &err);
	g_assert_no_error(err);
	{
		for (int round = 0; round < 30; round++) {
			pid_t victim = fork(), survivor;
			int status;

			if (victim == 0)
				for (int i = 0;; i++) {
					g_autofree char *name = g_strdup_printf("v%d-%d", round, i);

					write_file(dir, name);
					hm_group_commit_sync(gc, NULL);
				}
			g_usleep(g_random_int_range(0, 3000));
			kill(victim, SIGKILL);
			waitpid(victim, NULL, 0);
			survivor = fork();
			if (survivor == 0) {
				write_file(dir, "s");
				_exit(hm_group_commit_sync(gc, NULL) == 0 ? 0 : 2);
			}
			g_assert_cmpint(waitpid(survivor, &status, 0), ==, survivor);
			g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
	}
	hm_group_commit_free(gc);
	hm_test_remove_tree(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/groupcommit/alone", test_alone);
	g_test_add_func("/groupcommit/concurrent", test_concurrent);
	g_test_add_func("/groupcommit/killed-leaders", test_killed_leaders);
	return g_test_run();
}
