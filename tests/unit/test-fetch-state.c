#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "fetcher/lastrun.h"
#include "fetcher/lock.h"
#include "fetcher/state.h"
#include "lib/error.h"
#include "testutil.h"

#define ACCT "isp"

static HmFetchState *
open_ok(const char *dir, const char *acct, const char *folder)
{
	g_autoptr(GError) err = NULL;
	HmFetchState *st = hm_fetch_state_open(dir, acct, folder, &err);

	g_assert_no_error(err);
	g_assert_nonnull(st);
	return st;
}

static void
record_ok(HmFetchState *st, const char *uid, HmFetchMark mark, guint64 size, const char *mid)
{
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_fetch_state_record(st, uid, mark, size, mid, &err), ==, 0);
	g_assert_no_error(err);
}

/* <dir>/fetch/<acct>/<file> */
static char *
path_of(const char *dir, const char *file)
{
	return g_build_filename(dir, "fetch", ACCT, file, NULL);
}

static char *
slurp(const char *path)
{
	char *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

static void
spit(const char *path, const char *text)
{
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void
append_raw(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	g_assert_nonnull(f);
	g_assert_cmpint(fputs(text, f), >=, 0);
	g_assert_cmpint(fclose(f), ==, 0);
}

static int
by_name(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
assert_mode(const char *path, mode_t want)
{
	GStatBuf sb;

	g_assert_cmpint(g_stat(path, &sb), ==, 0);
	g_assert_cmpint(sb.st_mode & 07777, ==, want);
}

static void
test_record_reopen(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *fdir = g_build_filename(dir, "fetch", NULL);
	g_autofree char *adir = g_build_filename(fdir, ACCT, NULL);
	g_autofree char *journal = path_of(dir, "INBOX.journal");
	static const char *const words[] = { "watermark", "uidvalidity", "previous",
	                                     "generation", "-", "D", "S" };
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	g_assert_cmpuint(hm_fetch_state_count(st), ==, 0);
	g_assert_cmpuint(hm_fetch_state_uidvalidity(st), ==, 0);
	g_assert_cmpuint(hm_fetch_state_watermark(st), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(st, "1"), ==, 0);
	record_ok(st, "1", HM_FETCH_MARK_DELIVERED, 100, "<a@x>");
	record_ok(st, "2", HM_FETCH_MARK_SKIPPED, 5000, NULL);
	record_ok(st, "abc", HM_FETCH_MARK_DELIVERED, 10, NULL);
	/* UIDs that spell the file's keywords must stay UIDs. */
	for (guint i = 0; i < G_N_ELEMENTS(words); i++)
		record_ok(st, words[i], HM_FETCH_MARK_DELIVERED, i, NULL);
	g_assert_cmpint(hm_fetch_state_set_watermark(st, 2, NULL), ==, 0);
	hm_fetch_state_free(st);

	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_lookup(st, "1"), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "2"), ==, HM_FETCH_MARK_SKIPPED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "abc"), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "3"), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(words); i++)
		g_assert_cmpint(hm_fetch_state_lookup(st, words[i]), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 3 + G_N_ELEMENTS(words));
	g_assert_cmpuint(hm_fetch_state_watermark(st), ==, 2);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 100, "<a@x>"));
	g_assert_false(hm_fetch_state_has_fingerprint(st, 101, "<a@x>"));
	g_assert_false(hm_fetch_state_has_fingerprint(st, 100, "<b@x>"));
	g_assert_false(hm_fetch_state_has_fingerprint(st, 100, NULL));
	g_assert_false(hm_fetch_state_has_fingerprint(st, 10, NULL));

	/* Re-recording changes the mark; forgetting an unknown UID is fine. */
	record_ok(st, "2", HM_FETCH_MARK_DELIVERED, 5000, "<c@x>");
	g_assert_cmpint(hm_fetch_state_forget(st, "abc", NULL), ==, 0);
	g_assert_cmpint(hm_fetch_state_forget(st, "1", NULL), ==, 0);
	g_assert_cmpint(hm_fetch_state_forget(st, "nope", NULL), ==, 0);
	g_assert_false(hm_fetch_state_has_fingerprint(st, 100, "<a@x>"));
	hm_fetch_state_free(st);

	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_lookup(st, "abc"), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(st, "1"), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(st, "2"), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 5000, "<c@x>"));
	g_assert_false(hm_fetch_state_has_fingerprint(st, 100, "<a@x>"));
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 1 + G_N_ELEMENTS(words));
	hm_fetch_state_free(st);

	assert_mode(fdir, 0700);
	assert_mode(adir, 0700);
	assert_mode(journal, 0600);
	hm_test_remove_tree(dir);
}

static void
assert_value(HmFetchState *st, const char *uid, int mark, guint64 value)
{
	guint64 v = 12345;

	g_assert_cmpint(hm_fetch_state_lookup_value(st, uid, &v), ==, mark);
	g_assert_cmpuint(v, ==, value);
}

/* A skipped message keeps the size that was over the limit, a message to
 * retry the time it was left, a partial one nothing (no fingerprint
 * either): from the journal and from the base. */
static void
test_values(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autoptr(GError) err = NULL;
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	record_ok(st, "big", HM_FETCH_MARK_SKIPPED, 200018, "<ignored@x>");
	record_ok(st, "old", HM_FETCH_MARK_SKIPPED, 0, NULL);
	g_assert_cmpint(hm_fetch_state_record_retry(st, "refused", 1700000000, &err), ==, 0);
	g_assert_no_error(err);
	record_ok(st, "ok", HM_FETCH_MARK_DELIVERED, 10, "<ok@x>");
	record_ok(st, "short", HM_FETCH_MARK_PARTIAL, 16043, "<short@x>");
	for (int round = 0; round < 3; round++) {
		assert_value(st, "big", HM_FETCH_MARK_SKIPPED, 200018);
		assert_value(st, "old", HM_FETCH_MARK_SKIPPED, 0);
		assert_value(st, "refused", HM_FETCH_MARK_RETRY, 1700000000);
		assert_value(st, "ok", HM_FETCH_MARK_DELIVERED, 0);
		assert_value(st, "short", HM_FETCH_MARK_PARTIAL, 0);
		assert_value(st, "none", 0, 0);
		g_assert_false(hm_fetch_state_has_fingerprint(st, 200018, "<ignored@x>"));
		g_assert_false(hm_fetch_state_has_fingerprint(st, 16043, "<short@x>"));
		g_assert_true(hm_fetch_state_has_fingerprint(st, 10, "<ok@x>"));
		/* Round 1 reads the journal, round 2 the compacted base. */
		if (round == 1)
			g_assert_cmpint(hm_fetch_state_compact(st, NULL, NULL), ==, 0);
		hm_fetch_state_free(st);
		st = open_ok(dir, ACCT, "INBOX");
	}
	/* A later record replaces the value. */
	record_ok(st, "refused", HM_FETCH_MARK_DELIVERED, 5, NULL);
	assert_value(st, "refused", HM_FETCH_MARK_DELIVERED, 0);
	hm_fetch_state_free(st);
	hm_test_remove_tree(dir);
}

static void
test_duplicate_fingerprints(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	/* Two entries share a fingerprint: forgetting one keeps it. */
	record_ok(st, "1", HM_FETCH_MARK_DELIVERED, 7, "<same@x>");
	record_ok(st, "2", HM_FETCH_MARK_DELIVERED, 7, "<same@x>");
	g_assert_cmpint(hm_fetch_state_forget(st, "1", NULL), ==, 0);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 7, "<same@x>"));
	/* A delivered message recorded again as skipped loses it. */
	record_ok(st, "2", HM_FETCH_MARK_SKIPPED, 7, "<same@x>");
	g_assert_false(hm_fetch_state_has_fingerprint(st, 7, "<same@x>"));
	/* An empty Message-ID is none. */
	record_ok(st, "3", HM_FETCH_MARK_DELIVERED, 7, "");
	g_assert_false(hm_fetch_state_has_fingerprint(st, 7, ""));
	hm_fetch_state_free(st);
	hm_test_remove_tree(dir);
}

static void
test_journal_replay(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *base = path_of(dir, "INBOX.state");
	g_autofree char *journal = path_of(dir, "INBOX.journal");
	g_autofree char *base_before = NULL, *base_after = NULL, *jtext = NULL;
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	record_ok(st, "1", HM_FETCH_MARK_DELIVERED, 1, NULL);
	record_ok(st, "2", HM_FETCH_MARK_DELIVERED, 2, NULL);
	g_assert_cmpint(hm_fetch_state_compact(st, NULL, NULL), ==, 0);
	base_before = slurp(base);
	jtext = slurp(journal);
	g_assert_cmpstr(jtext, ==, "homemail-fetch-journal 1\ngeneration 1\n");
	g_clear_pointer(&jtext, g_free);

	/* After the compaction, changes go only to the journal. */
	record_ok(st, "3", HM_FETCH_MARK_SKIPPED, 3, NULL);
	g_assert_cmpint(hm_fetch_state_forget(st, "1", NULL), ==, 0);
	g_assert_cmpint(hm_fetch_state_set_watermark(st, 9, NULL), ==, 0);
	hm_fetch_state_free(st);
	base_after = slurp(base);
	g_assert_cmpstr(base_before, ==, base_after);
	jtext = slurp(journal);
	g_assert_cmpstr(jtext, ==, "homemail-fetch-journal 1\ngeneration 1\n"
	                "3 S 3\n1 -\nwatermark 9\n");

	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_lookup(st, "1"), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(st, "2"), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "3"), ==, HM_FETCH_MARK_SKIPPED);
	g_assert_cmpuint(hm_fetch_state_watermark(st), ==, 9);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 2);
	hm_fetch_state_free(st);
	hm_test_remove_tree(dir);
}

static void
test_torn_journal(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *journal = path_of(dir, "INBOX.journal");
	g_autofree char *jtext = NULL;
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	record_ok(st, "1", HM_FETCH_MARK_DELIVERED, 1, "<1@x>");
	record_ok(st, "2", HM_FETCH_MARK_DELIVERED, 2, "<2@x>");
	hm_fetch_state_free(st);
	/* Half a line, as a crash mid-append leaves it; even a complete
	 * looking record is not trusted without its newline. */
	append_raw(journal, "3 D 0123");

	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_lookup(st, "1"), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "2"), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "3"), ==, 0);
	hm_fetch_state_free(st);
	append_raw(journal, "456789abcdef");  /* now "3 D <16 hex>" without LF */
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_lookup(st, "3"), ==, 0);

	/* The next record cuts the torn tail off instead of gluing onto it. */
	record_ok(st, "4", HM_FETCH_MARK_SKIPPED, 4, NULL);
	hm_fetch_state_free(st);
	jtext = slurp(journal);
	g_assert_null(strstr(jtext, "0123"));
	g_assert_true(g_str_has_suffix(jtext, "\n4 S 4\n"));
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_lookup(st, "3"), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(st, "4"), ==, HM_FETCH_MARK_SKIPPED);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 3);
	hm_fetch_state_free(st);
	hm_test_remove_tree(dir);
}

/* In a forked child: die with the test, so a failed assertion in the
 * parent never leaves a child holding a lock or the test's stdout. */
static void
child_setup(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(9);
}

/* The child of one crash round: records "c<first+i>" and reports each
 * one on fd only after record() returned. */
static void G_GNUC_NORETURN
crash_child(const char *dir, guint first, int fd)
{
	HmFetchState *st = hm_fetch_state_open(dir, ACCT, "INBOX", NULL);

	if (st == NULL)
		_exit(2);
	for (guint i = first; i < first + 100000; i++) {
		char uid[32], line[40];
		int n;

		g_snprintf(uid, sizeof(uid), "c%u", i);
		if (hm_fetch_state_record(st, uid, HM_FETCH_MARK_DELIVERED, i, uid, NULL) < 0)
			_exit(3);
		n = g_snprintf(line, sizeof(line), "%s\n", uid);
		if (write(fd, line, (size_t)n) != n)
			_exit(4);
	}
	_exit(0);
}

/* Runs a child that is SIGKILLed after it reported kill_after records;
 * adds every UID it reported to done. */
static void
crash_round(const char *dir, guint first, guint kill_after, GHashTable *done)
{
	g_autoptr(GString) buf = g_string_new(NULL);
	g_auto(GStrv) lines = NULL;
	guint seen = 0;
	int fds[2], status;
	pid_t pid, parent = getpid();

	g_assert_cmpint(pipe(fds), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		child_setup(parent);
		close(fds[0]);
		crash_child(dir, first, fds[1]);
	}
	close(fds[1]);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(fds[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		g_assert_cmpint(n, >, 0);
		g_string_append_len(buf, chunk, n);
		for (ssize_t i = 0; i < n; i++)
			seen += chunk[i] == '\n';
		if (seen >= kill_after) {
			g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
			break;
		}
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* What the child reported before it died is still in the pipe. */
	for (;;) {
		char chunk[4096];
		ssize_t n = read(fds[0], chunk, sizeof(chunk));

		g_assert_cmpint(n, >=, 0);
		if (n == 0)
			break;
		g_string_append_len(buf, chunk, n);
	}
	close(fds[0]);
	lines = g_strsplit(buf->str, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		if (lines[i][0] != '\0')
			g_hash_table_add(done, g_strdup(lines[i]));
}

static void
test_crash(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	static const guint kill_after[] = { 1, 50, 200, 333 };
	HmFetchState *st;
	GHashTableIter it;
	gpointer uid;

	for (guint r = 0; r < G_N_ELEMENTS(kill_after); r++)
		crash_round(dir, r * 1000000, kill_after[r], done);
	st = open_ok(dir, ACCT, "INBOX");
	g_hash_table_iter_init(&it, done);
	while (g_hash_table_iter_next(&it, &uid, NULL))
		g_assert_cmpint(hm_fetch_state_lookup(st, uid), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpuint(hm_fetch_state_count(st), >=, g_hash_table_size(done));
	g_test_message("crash: %u records reported before the kills, %u in the state",
	               g_hash_table_size(done), hm_fetch_state_count(st));
	/* Whatever the kill left at the journal's end, the state goes on. */
	record_ok(st, "after", HM_FETCH_MARK_DELIVERED, 1, NULL);
	hm_fetch_state_free(st);
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_lookup(st, "after"), ==, HM_FETCH_MARK_DELIVERED);
	hm_fetch_state_free(st);
	hm_test_remove_tree(dir);
}

static void
test_uidvalidity(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	g_assert_cmpint(hm_fetch_state_new_uidvalidity(st, 1000, NULL), ==, 0);
	record_ok(st, "1", HM_FETCH_MARK_DELIVERED, 100, "<a@x>");
	record_ok(st, "2", HM_FETCH_MARK_DELIVERED, 200, "<b@x>");
	record_ok(st, "3", HM_FETCH_MARK_SKIPPED, 300, "<c@x>");
	g_assert_cmpint(hm_fetch_state_set_watermark(st, 3, NULL), ==, 0);

	g_assert_cmpint(hm_fetch_state_new_uidvalidity(st, 2000, NULL), ==, 0);
	g_assert_cmpuint(hm_fetch_state_uidvalidity(st), ==, 2000);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 0);
	g_assert_cmpuint(hm_fetch_state_watermark(st), ==, 0);
	g_assert_cmpint(hm_fetch_state_lookup(st, "1"), ==, 0);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 100, "<a@x>"));
	g_assert_true(hm_fetch_state_has_fingerprint(st, 200, "<b@x>"));
	g_assert_false(hm_fetch_state_has_fingerprint(st, 300, "<c@x>"));  /* skipped */
	/* The server renumbered <a@x> as 7. */
	record_ok(st, "7", HM_FETCH_MARK_DELIVERED, 100, "<a@x>");
	hm_fetch_state_free(st);

	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpuint(hm_fetch_state_uidvalidity(st), ==, 2000);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 1);
	g_assert_cmpint(hm_fetch_state_lookup(st, "1"), ==, 0);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 200, "<b@x>"));
	/* Compaction ends the grace period for the earlier epoch... */
	g_assert_cmpint(hm_fetch_state_compact(st, NULL, NULL), ==, 0);
	g_assert_false(hm_fetch_state_has_fingerprint(st, 200, "<b@x>"));
	/* ...but not for what the current epoch delivered. */
	g_assert_true(hm_fetch_state_has_fingerprint(st, 100, "<a@x>"));
	hm_fetch_state_free(st);

	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpuint(hm_fetch_state_uidvalidity(st), ==, 2000);
	g_assert_false(hm_fetch_state_has_fingerprint(st, 200, "<b@x>"));
	g_assert_true(hm_fetch_state_has_fingerprint(st, 100, "<a@x>"));
	/* Two changes without a compaction between keep both epochs. */
	record_ok(st, "8", HM_FETCH_MARK_DELIVERED, 400, "<d@x>");
	g_assert_cmpint(hm_fetch_state_new_uidvalidity(st, 3000, NULL), ==, 0);
	g_assert_cmpint(hm_fetch_state_new_uidvalidity(st, 4000, NULL), ==, 0);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 400, "<d@x>"));
	g_assert_true(hm_fetch_state_has_fingerprint(st, 100, "<a@x>"));
	hm_fetch_state_free(st);
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpuint(hm_fetch_state_uidvalidity(st), ==, 4000);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 400, "<d@x>"));
	hm_fetch_state_free(st);
	hm_test_remove_tree(dir);
}

static void
test_compact(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *base = path_of(dir, "INBOX.state");
	g_autofree char *journal = path_of(dir, "INBOX.journal");
	g_autofree char *old_journal = NULL, *text = NULL, *names = NULL, *adir = NULL;
	g_autoptr(GHashTable) present = g_hash_table_new(g_str_hash, g_str_equal);
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	for (guint i = 1; i <= 10; i++) {
		g_autofree char *uid = g_strdup_printf("%u", i);
		g_autofree char *mid = g_strdup_printf("<%u@x>", i);

		record_ok(st, uid, HM_FETCH_MARK_DELIVERED, i, mid);
	}
	g_assert_cmpint(hm_fetch_state_new_uidvalidity(st, 5, NULL), ==, 0);
	record_ok(st, "2", HM_FETCH_MARK_DELIVERED, 2, "<2@x>");
	record_ok(st, "4", HM_FETCH_MARK_SKIPPED, 4, NULL);
	record_ok(st, "6", HM_FETCH_MARK_DELIVERED, 6, NULL);
	record_ok(st, "11", HM_FETCH_MARK_DELIVERED, 11, "<11@x>");
	g_assert_cmpint(hm_fetch_state_set_watermark(st, 11, NULL), ==, 0);
	old_journal = slurp(journal);

	g_hash_table_add(present, (char *)"2");
	g_hash_table_add(present, (char *)"4");
	g_hash_table_add(present, (char *)"6");
	g_hash_table_add(present, (char *)"99");
	g_assert_cmpint(hm_fetch_state_compact(st, present, NULL), ==, 0);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 3);
	g_assert_cmpint(hm_fetch_state_lookup(st, "11"), ==, 0);
	g_assert_false(hm_fetch_state_has_fingerprint(st, 11, "<11@x>"));
	g_assert_false(hm_fetch_state_has_fingerprint(st, 1, "<1@x>"));
	g_assert_true(hm_fetch_state_has_fingerprint(st, 2, "<2@x>"));
	text = slurp(base);
	g_assert_true(g_str_has_prefix(text, "homemail-fetch-state 1\ngeneration 1\n"
	                               "uidvalidity 5\nwatermark 11\n"));
	g_assert_null(strstr(text, "previous"));
	g_clear_pointer(&text, g_free);
	text = slurp(journal);
	g_assert_cmpstr(text, ==, "homemail-fetch-journal 1\ngeneration 1\n");
	adir = g_build_filename(dir, "fetch", ACCT, NULL);
	names = hm_test_dir_list(adir);
	g_assert_cmpstr(names, ==, "INBOX.journal INBOX.state");
	assert_mode(base, 0600);
	hm_fetch_state_free(st);

	/* A crash after the base was written and before the journal was
	 * emptied leaves the old journal: it must not be replayed (its
	 * uidvalidity record would wipe the entries). */
	spit(journal, old_journal);
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 3);
	g_assert_cmpint(hm_fetch_state_lookup(st, "2"), ==, HM_FETCH_MARK_DELIVERED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "4"), ==, HM_FETCH_MARK_SKIPPED);
	g_assert_cmpint(hm_fetch_state_lookup(st, "11"), ==, 0);
	g_assert_cmpuint(hm_fetch_state_uidvalidity(st), ==, 5);
	g_assert_cmpuint(hm_fetch_state_watermark(st), ==, 11);
	/* The first write replaces the stale journal. */
	record_ok(st, "12", HM_FETCH_MARK_SKIPPED, 12, NULL);
	g_clear_pointer(&text, g_free);
	text = slurp(journal);
	g_assert_cmpstr(text, ==, "homemail-fetch-journal 1\ngeneration 1\n12 S 12\n");

	/* Without present, nothing but earlier epochs is dropped. */
	g_assert_cmpint(hm_fetch_state_compact(st, NULL, NULL), ==, 0);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 4);
	hm_fetch_state_free(st);
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 4);
	g_assert_cmpint(hm_fetch_state_lookup(st, "12"), ==, HM_FETCH_MARK_SKIPPED);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 2, "<2@x>"));
	hm_fetch_state_free(st);
	g_clear_pointer(&text, g_free);
	text = slurp(base);
	g_assert_true(g_str_has_prefix(text, "homemail-fetch-state 1\ngeneration 2\n"));
	hm_test_remove_tree(dir);
}

typedef struct {
	const char *base;     /* NULL: no base file */
	const char *journal;  /* NULL: no journal */
	const char *want;     /* "state:LINE: text" or "journal:LINE: text" */
} Corrupt;

static const Corrupt corrupt_cases[] = {
	{ "hello world\n", NULL, "state:1: not a homemail fetch state file" },
	{ "", NULL, "state:1: not a homemail fetch state file" },
	{ "\x7f" "ELF\x02\x01\x01", NULL, "state:1: not a homemail fetch state file" },
	{ "homemail-fetch-journal 1\ngeneration 0\n", NULL,
	  "state:1: not a homemail fetch state file" },
	{ "homemail-fetch-state 2\ngeneration 1\n", NULL,
	  "state:1: fetch state format version 2 is not supported (this homemail reads version 1)" },
	{ "homemail-fetch-state 1\ngeneration -1\n", NULL, "state:2: expected \"generation N\"" },
	{ "homemail-fetch-state 1\nuidvalidity 1\n", NULL, "state:2: expected \"generation N\"" },
	{ "homemail-fetch-state 1\ngeneration 1\nuidvalidity 1\nwatermark 0\n1 D\n2 X\n", NULL,
	  "state:6: malformed record" },
	{ "homemail-fetch-state 1\ngeneration 1\n1 D 0123456789ABCDEF\n", NULL,
	  "state:3: invalid fingerprint (16 lowercase hex digits)" },
	{ "homemail-fetch-state 1\ngeneration 1\n1 D 0123456789abcde\n", NULL,
	  "state:3: invalid fingerprint (16 lowercase hex digits)" },
	{ "homemail-fetch-state 1\ngeneration 1\n1 S 0123456789abcdef\n", NULL,
	  "state:3: invalid size (a decimal number)" },
	{ "homemail-fetch-state 1\ngeneration 1\n1 R\n", NULL, "state:3: malformed record" },
	{ "homemail-fetch-state 1\ngeneration 1\n1 P 5\n", NULL, "state:3: malformed record" },
	{ "homemail-fetch-state 1\ngeneration 1\n1 R -5\n", NULL,
	  "state:3: invalid time (a decimal number)" },
	{ "homemail-fetch-state 1\ngeneration 1\n1  D\n", NULL, "state:3: malformed record" },
	{ "homemail-fetch-state 1\ngeneration 1\nwatermark 4294967296\n", NULL,
	  "state:3: malformed record" },
	{ "homemail-fetch-state 1\ngeneration 1\n1 D\n2 D", NULL,
	  "state:4: last line is incomplete" },
	{ "homemail-fetch-state 1\ngeneration 1\n"
	  "12345678901234567890123456789012345678901234567890123456789012345678901 D\n", NULL,
	  "state:3: invalid UID" },
	{ "homemail-fetch-state 1\ngeneration 1\n1\x01 D\n", NULL, "state:3: invalid UID" },
	{ NULL, "homemail-fetch-state 1\ngeneration 0\n",
	  "journal:1: not a homemail fetch journal file" },
	{ NULL, "homemail-fetch-journal 1\ngeneration 0\n1 D\nbad line here\n2 D\n",
	  "journal:4: malformed record" },
	{ NULL, "homemail-fetch-journal 1\ngeneration 0\n1 -\n1 - x\n",
	  "journal:4: malformed record" },
	{ "homemail-fetch-state 1\ngeneration 3\n", "homemail-fetch-journal 1\ngeneration 4\n",
	  "journal:2: journal generation 4 is newer than the state file's (3): was " },
};

static void
test_corrupt(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(corrupt_cases); i++) {
		const Corrupt *c = &corrupt_cases[i];
		g_autofree char *dir = hm_test_tmpdir("hm-fstate");
		g_autofree char *adir = g_build_filename(dir, "fetch", ACCT, NULL);
		g_autofree char *base = path_of(dir, "INBOX.state");
		g_autofree char *journal = path_of(dir, "INBOX.journal");
		g_autofree char *want = NULL;
		g_autoptr(GError) err = NULL;
		HmFetchState *st;

		g_assert_cmpint(g_mkdir_with_parents(adir, 0700), ==, 0);
		if (c->base != NULL)
			spit(base, c->base);
		if (c->journal != NULL)
			spit(journal, c->journal);
		st = hm_fetch_state_open(dir, ACCT, "INBOX", &err);
		g_assert_null(st);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		want = g_strdup_printf("%s/fetch/%s/INBOX.%s", dir, ACCT, c->want);
		if (!g_str_has_prefix(err->message, want))
			g_error("case %u: got \"%s\", want \"%s...\"", i, err->message, want);
		hm_test_remove_tree(dir);
	}
}

/* Puts at path what is no regular file of ours: a link to a good copy
 * of the file elsewhere (0), a dangling link (1) or a FIFO (2). */
static void
plant(const char *dir, const char *path, guint kind, const char *good)
{
	g_autofree char *elsewhere = g_build_filename(dir, "elsewhere", NULL);

	g_unlink(path);
	if (kind == 0) {
		spit(elsewhere, good);
		g_assert_cmpint(symlink(elsewhere, path), ==, 0);
	} else if (kind == 1) {
		g_assert_cmpint(symlink("/nonexistent/x", path), ==, 0);
	} else {
		hm_test_mkfifo(path);
	}
}

/* The state, its journal and the record of the last pass are read only
 * from regular files: a link (to a good file, or dangling: not "no state
 * yet") or a FIFO (at once, not a hang) at their paths is an error that
 * says what is there. */
static void
test_not_regular(void)
{
	static const char *const kinds[] = { "a symbolic link, not followed",
		                             "a symbolic link, not followed", "a FIFO" };
	static const char *const files[] = { "INBOX.state", "INBOX.journal" };

	for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
		for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
			g_autofree char *dir = hm_test_tmpdir("hm-fstate");
			g_autofree char *path = path_of(dir, files[i]);
			g_autofree char *good = NULL, *want = NULL;
			g_autoptr(GError) err = NULL;
			HmFetchState *st = hm_fetch_state_open(dir, ACCT, "INBOX", &err);

			g_autoptr(GHashTable) present = g_hash_table_new(g_str_hash, g_str_equal);

			g_assert_no_error(err);
			g_hash_table_add(present, (char *)"u1");
			g_assert_cmpint(hm_fetch_state_record(st, "u1", HM_FETCH_MARK_DELIVERED, 10, NULL,
			                                      &err), ==, 0);
			/* Both files there: the state compacted, then one more record. */
			g_assert_cmpint(hm_fetch_state_compact(st, present, &err), ==, 0);
			g_assert_cmpint(hm_fetch_state_record(st, "u2", HM_FETCH_MARK_DELIVERED, 10, NULL,
			                                      &err), ==, 0);
			hm_fetch_state_free(st);
			good = slurp(path);
			plant(dir, path, k, good);
			st = hm_fetch_state_open(dir, ACCT, "INBOX", &err);
			g_assert_null(st);
			g_assert_error(err, HM_ERROR, HM_ERROR_IO);
			want = g_strdup_printf("%s is not a regular file (%s)", path, kinds[k]);
			g_assert_cmpstr(err->message, ==, want);
			hm_test_remove_tree(dir);
		}
		{
			g_autofree char *dir = hm_test_tmpdir("hm-fstate");
			g_autofree char *path = g_build_filename(dir, "fetch", ACCT ".last", NULL);
			g_autofree char *good = NULL, *want = NULL;
			g_autoptr(GError) err = NULL;
			HmFetchLast last;

			g_assert_cmpint(hm_fetch_last_save(dir, ACCT, 1767225600, 3, NULL, &err), ==, 0);
			g_assert_cmpint(hm_fetch_last_load(dir, ACCT, &last, &err), ==, 1);
			hm_fetch_last_clear(&last);
			good = slurp(path);
			plant(dir, path, k, good);
			g_assert_cmpint(hm_fetch_last_load(dir, ACCT, &last, &err), ==, -1);
			g_assert_error(err, HM_ERROR, HM_ERROR_IO);
			want = g_strdup_printf("%s is not a regular file (%s)", path, kinds[k]);
			g_assert_cmpstr(err->message, ==, want);
			hm_test_remove_tree(dir);
		}
	}
}

static void
test_escaped_names(void)
{
	static const struct {
		const char *folder, *file;
	} cases[] = {
		{ "INBOX/Sent", "INBOX%2FSent.journal" },
		{ "../x", "%2E.%2Fx.journal" },
		{ "a b", "a%20b.journal" },
		{ ".hidden", "%2Ehidden.journal" },
		{ "INBOX.Sent", "INBOX.Sent.journal" },
		{ "\xc3\x9c" "bersicht", "%C3%9Cbersicht.journal" },
		{ "100%", "100%25.journal" },
	};
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *fdir = g_build_filename(dir, "fetch", NULL);
	g_autofree char *adir = g_build_filename(fdir, "me%40isp%2Eexample", NULL);
	g_autofree char *names = NULL, *want = NULL, *longname = g_strnfill(300, 'a');
	g_autoptr(GPtrArray) files = g_ptr_array_new();
	HmFetchState *st;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *uid = g_strdup_printf("u%u", i);

		st = open_ok(dir, "me@isp.example", cases[i].folder);
		record_ok(st, uid, HM_FETCH_MARK_DELIVERED, 1, NULL);
		hm_fetch_state_free(st);
		g_ptr_array_add(files, (char *)cases[i].file);
	}
	g_ptr_array_sort(files, by_name);
	g_ptr_array_add(files, NULL);
	want = g_strjoinv(" ", (char **)files->pdata);
	names = hm_test_dir_list(adir);
	g_assert_cmpstr(names, ==, want);
	/* Nothing escaped the account directory. */
	g_clear_pointer(&names, g_free);
	names = hm_test_dir_list(fdir);
	g_assert_cmpstr(names, ==, "me%40isp%2Eexample");
	/* Each folder has its own state. */
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *uid = g_strdup_printf("u%u", i);

		st = open_ok(dir, "me@isp.example", cases[i].folder);
		g_assert_cmpuint(hm_fetch_state_count(st), ==, 1);
		g_assert_cmpint(hm_fetch_state_lookup(st, uid), ==, HM_FETCH_MARK_DELIVERED);
		hm_fetch_state_free(st);
	}
	/* A name too long for a file name still gets one of its own. */
	st = open_ok(dir, "me@isp.example", longname);
	record_ok(st, "1", HM_FETCH_MARK_DELIVERED, 1, NULL);
	hm_fetch_state_free(st);
	g_clear_pointer(&names, g_free);
	names = hm_test_dir_list(adir);
	g_assert_nonnull(strstr(names, "~"));
	g_assert_null(strstr(names, longname));
	hm_test_remove_tree(dir);
}

static void
test_bad_input(void)
{
	static const char *const bad[] = {
		"", "a b", "tab\t", "caf\xc3\xa9", "del\x7f", "nl\n",
		"12345678901234567890123456789012345678901234567890123456789012345678901",
	};
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autoptr(GError) err = NULL;
	HmFetchState *st = open_ok(dir, ACCT, "INBOX");

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_cmpint(hm_fetch_state_record(st, bad[i], HM_FETCH_MARK_DELIVERED, 1,
		                                      NULL, &err), ==, -1);
		g_assert_nonnull(err);
		g_assert_nonnull(strstr(err->message, "invalid UID"));
		g_clear_error(&err);
		g_assert_cmpint(hm_fetch_state_forget(st, bad[i], NULL), ==, 0);
	}
	record_ok(st, "1234567890123456789012345678901234567890123456789012345678901234567890",
	          HM_FETCH_MARK_DELIVERED, 1, NULL);
	record_ok(st, "!~", HM_FETCH_MARK_DELIVERED, 1, NULL);
	hm_fetch_state_free(st);
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpuint(hm_fetch_state_count(st), ==, 2);
	hm_fetch_state_free(st);

	g_assert_null(hm_fetch_state_open(dir, "", "INBOX", &err));
	g_assert_nonnull(err);
	g_clear_error(&err);
	g_assert_null(hm_fetch_state_open(dir, ACCT, "", &err));
	g_assert_nonnull(err);
	hm_test_remove_tree(dir);
}

#define LARGE_N 100000

/* Heap bytes in use (glibc), to report what an open state holds. */
static gsize
heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static double
ms_since(gint64 t0)
{
	return (double)(g_get_monotonic_time() - t0) / 1000.0;
}

static void
large_uid(char *buf, gsize size, guint i, gboolean pop3)
{
	/* Dovecot's default POP3 UIDL (%08Xu%08Xv), or an IMAP UID. */
	if (pop3)
		g_snprintf(buf, size, "%08X%08X", i + 1, 0x5f3c2a11u);
	else
		g_snprintf(buf, size, "%u", i + 1);
}

static void
large_round(const char *dir, const char *folder, gboolean pop3)
{
	g_autofree char *bname = g_strdup_printf("%s.state", folder);
	g_autofree char *jname = g_strdup_printf("%s.journal", folder);
	g_autofree char *bpath = path_of(dir, bname);
	g_autofree char *jpath = path_of(dir, jname);
	double t_record, t_journal, t_base;
	GStatBuf jsb, bsb;
	char uid[40], mid[64];
	gsize heap0, heap1;
	g_autofree char *heap = NULL;
	HmFetchState *st = open_ok(dir, ACCT, folder);
	gint64 t0 = g_get_monotonic_time();

	for (guint i = 0; i < LARGE_N; i++) {
		large_uid(uid, sizeof(uid), i, pop3);
		g_snprintf(mid, sizeof(mid), "<%u.%u@mail.example.org>", i * 7919u, i);
		record_ok(st, uid, i % 50 == 0 ? HM_FETCH_MARK_SKIPPED : HM_FETCH_MARK_DELIVERED,
		          1000 + i, mid);
	}
	t_record = ms_since(t0);
	hm_fetch_state_free(st);
	g_assert_cmpint(g_stat(jpath, &jsb), ==, 0);

	t0 = g_get_monotonic_time();
	st = open_ok(dir, ACCT, folder);
	t_journal = ms_since(t0);
	g_assert_cmpuint(hm_fetch_state_count(st), ==, LARGE_N);
	g_assert_cmpint(hm_fetch_state_compact(st, NULL, NULL), ==, 0);
	hm_fetch_state_free(st);
	g_assert_cmpint(g_stat(bpath, &bsb), ==, 0);

	heap0 = heap_used();
	t0 = g_get_monotonic_time();
	st = open_ok(dir, ACCT, folder);
	t_base = ms_since(t0);
	heap1 = heap_used();
	g_assert_cmpuint(hm_fetch_state_count(st), ==, LARGE_N);
	large_uid(uid, sizeof(uid), 12345, pop3);
	g_assert_cmpint(hm_fetch_state_lookup(st, uid), ==, HM_FETCH_MARK_DELIVERED);
	large_uid(uid, sizeof(uid), 50, pop3);
	g_assert_cmpint(hm_fetch_state_lookup(st, uid), ==, HM_FETCH_MARK_SKIPPED);
	g_snprintf(mid, sizeof(mid), "<%u.%u@mail.example.org>", 99999 * 7919u, 99999);
	g_assert_true(hm_fetch_state_has_fingerprint(st, 1000 + 99999, mid));
	hm_fetch_state_free(st);
	/* mallinfo2() says nothing under ASan. */
	heap = heap1 > heap0 ? g_strdup_printf("%.0f", (double)(heap1 - heap0) / LARGE_N)
	                     : g_strdup("n/a");
	g_test_message("%s UIDs: %u entries: base %" G_GINT64_FORMAT " bytes (%.1f/entry), "
	               "journal %" G_GINT64_FORMAT " bytes (%.1f/entry); record all %.0f ms "
	               "(tmpfs, fdatasync free); load from journal %.0f ms, from base %.0f ms; "
	               "heap %s bytes/entry", pop3 ? "POP3" : "IMAP", LARGE_N,
	               (gint64)bsb.st_size, (double)bsb.st_size / LARGE_N, (gint64)jsb.st_size,
	               (double)jsb.st_size / LARGE_N, t_record, t_journal, t_base,
	               heap);
}

static void
test_large(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");

	/* On tmpfs the 200,000 fdatasync()s cost nothing: this measures the
	 * file format and the loader, not the disk. */
	hm_test_mount_tmpfs(dir, "64m");
	large_round(dir, "INBOX", FALSE);
	large_round(dir, "pop3", TRUE);
	hm_test_umount(dir);
	hm_test_remove_tree(dir);
}

/* Fills the file system that holds dir to its last byte. */
static void
fill_fs(const char *dir)
{
	g_autofree char *path = g_build_filename(dir, "filler", NULL);
	char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	g_assert_cmpint(fd, >=, 0);
	memset(block, 'x', sizeof(block));
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 1) > 0)
		;
	g_assert_cmpint(errno, ==, ENOSPC);
	close(fd);
}

/* What hm_fetch_state_reserve() set aside is there for the records when
 * the disk is full; without room it fails at once, before any record. */
static void
test_reserve(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *filler = NULL;
	g_autoptr(GError) err = NULL;
	HmFetchState *st;
	char uid[71];

	hm_test_mount_tmpfs(dir, "256k");
	st = open_ok(dir, ACCT, "INBOX");
	g_assert_cmpint(hm_fetch_state_reserve(st, 100, &err), ==, 0);
	g_assert_no_error(err);
	fill_fs(dir);
	/* 100 records of 70-character UIDs: over 7 KiB, more than the page
	 * the journal's head took. */
	for (int i = 0; i < 100; i++) {
		g_snprintf(uid, sizeof(uid), "%070d", i);
		record_ok(st, uid, HM_FETCH_MARK_DELIVERED, 1, "<m@x>");
	}
	/* The room is used up and the disk is full: the next reservation
	 * fails, and says why. */
	g_assert_cmpint(hm_fetch_state_reserve(st, 1000, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_NOSPACE);
	hm_fetch_state_free(st);
	st = open_ok(dir, ACCT, "INBOX");
	for (int i = 0; i < 100; i++) {
		g_snprintf(uid, sizeof(uid), "%070d", i);
		g_assert_cmpint(hm_fetch_state_lookup(st, uid), ==, HM_FETCH_MARK_DELIVERED);
	}
	hm_fetch_state_free(st);
	filler = g_build_filename(dir, "filler", NULL);
	g_assert_cmpint(unlink(filler), ==, 0);
	hm_test_umount(dir);
	hm_test_remove_tree(dir);
}

/* Forks a child that takes the lock, reports on the pipe, then holds it
 * for hold_ms (0: until killed, at most a minute) and releases it. */
static pid_t
lock_child(const char *dir, int hold_ms)
{
	int fds[2];
	pid_t pid, parent = getpid();
	char c;

	g_assert_cmpint(pipe(fds), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		int fd;

		child_setup(parent);
		fd = hm_fetch_lock(dir, ACCT, 0, NULL);
		close(fds[0]);
		if (fd < 0 || write(fds[1], "L", 1) != 1)
			_exit(2);
		/* "Until killed", but bounded all the same. */
		g_usleep((gulong)(hold_ms != 0 ? hold_ms : 60000) * 1000);
		hm_fetch_unlock(fd);
		_exit(0);
	}
	close(fds[1]);
	g_assert_cmpint(read(fds[0], &c, 1), ==, 1);
	close(fds[0]);
	return pid;
}

static void
test_lock_contention(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *lockpath = g_build_filename(dir, "fetch", ACCT ".lock", NULL);
	g_autofree char *want = NULL, *text = NULL, *mine = NULL;
	g_autoptr(GError) err = NULL;
	pid_t pid = lock_child(dir, 0);
	gint64 t0 = g_get_monotonic_time();
	int fd, other, status;

	fd = hm_fetch_lock(dir, ACCT, 200, &err);
	g_assert_cmpint(fd, ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	want = g_strdup_printf("account is being fetched by another homemail-fetcher (pid %ld)",
	                       (long)pid);
	g_assert_cmpstr(err->message, ==, want);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200 * 1000);
	g_clear_error(&err);
	/* Other accounts are not held up. */
	other = hm_fetch_lock(dir, "other", 0, &err);
	g_assert_no_error(err);
	hm_fetch_unlock(other);

	/* kill -9 of the holder: the kernel drops the flock. */
	g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	fd = hm_fetch_lock(dir, ACCT, 0, &err);
	g_assert_no_error(err);
	g_assert_cmpint(fd, >=, 0);
	g_assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_mode(lockpath, 0600);
	text = slurp(lockpath);
	mine = g_strdup_printf("%ld\n", (long)getpid());
	g_assert_cmpstr(text, ==, mine);
	/* A second lock in the same process is refused as well. */
	g_assert_cmpint(hm_fetch_lock(dir, ACCT, 0, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	hm_fetch_unlock(fd);
	g_clear_pointer(&text, g_free);
	text = slurp(lockpath);
	g_assert_cmpstr(text, ==, "");
	hm_test_remove_tree(dir);
}

static void
test_lock_wait(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autoptr(GError) err = NULL;
	pid_t pid = lock_child(dir, 300);
	int fd, status;

	/* The holder lets go after 300 ms; a generous wait gets the lock. */
	fd = hm_fetch_lock(dir, ACCT, 10000, &err);
	g_assert_no_error(err);
	g_assert_cmpint(fd, >=, 0);
	hm_fetch_unlock(fd);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	hm_test_remove_tree(dir);
}

/* Threads of one process sharing the lock (the daemon's IDLE workers,
 * one per folder) do not exclude each other; a process outside still
 * waits until the last of them lets go, and then takes it. */
static void
test_lock_shared(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-fstate");
	g_autofree char *lockpath = g_build_filename(dir, "fetch", ACCT ".lock", NULL);
	g_autofree char *mine = g_strdup_printf("%ld\n", (long)getpid());
	g_autofree char *text = NULL;
	g_autoptr(GError) err = NULL;
	HmFetchLockShare sh;
	pid_t pid = lock_child(dir, 300);
	int fd, status;

	hm_fetch_lock_share_init(&sh);
	/* Held elsewhere: the first holder waits, then fails. */
	g_assert_cmpint(hm_fetch_lock_shared(&sh, dir, ACCT, 0, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_clear_error(&err);
	g_assert_cmpint(hm_fetch_lock_shared(&sh, dir, ACCT, 10000, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	/* A second holder needs no wait at all. */
	g_assert_cmpint(hm_fetch_lock_shared(&sh, dir, ACCT, 0, &err), ==, 0);
	g_assert_no_error(err);
	text = slurp(lockpath);
	g_assert_cmpstr(text, ==, mine);
	g_assert_cmpint(hm_fetch_lock(dir, ACCT, 0, &err), ==, -1);
	g_clear_error(&err);
	hm_fetch_unlock_shared(&sh);
	g_assert_cmpint(hm_fetch_lock(dir, ACCT, 0, &err), ==, -1);
	g_clear_error(&err);
	hm_fetch_unlock_shared(&sh);
	fd = hm_fetch_lock(dir, ACCT, 0, &err);
	g_assert_no_error(err);
	hm_fetch_unlock(fd);
	hm_fetch_lock_share_clear(&sh);
	hm_test_remove_tree(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fetch-state/record-reopen", test_record_reopen);
	g_test_add_func("/fetch-state/duplicate-fingerprints", test_duplicate_fingerprints);
	g_test_add_func("/fetch-state/values", test_values);
	g_test_add_func("/fetch-state/journal-replay", test_journal_replay);
	g_test_add_func("/fetch-state/torn-journal", test_torn_journal);
	g_test_add_func("/fetch-state/crash", test_crash);
	g_test_add_func("/fetch-state/uidvalidity", test_uidvalidity);
	g_test_add_func("/fetch-state/compact", test_compact);
	g_test_add_func("/fetch-state/corrupt", test_corrupt);
	g_test_add_func("/fetch-state/not-regular", test_not_regular);
	g_test_add_func("/fetch-state/escaped-names", test_escaped_names);
	g_test_add_func("/fetch-state/bad-input", test_bad_input);
	g_test_add_func("/fetch-state/large", test_large);
	g_test_add_func("/fetch-state/reserve", test_reserve);
	g_test_add_func("/fetch-state/lock-contention", test_lock_contention);
	g_test_add_func("/fetch-state/lock-wait", test_lock_wait);
	g_test_add_func("/fetch-state/lock-shared", test_lock_shared);
	return g_test_run();
}
