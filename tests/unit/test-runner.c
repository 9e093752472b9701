/* The queue runner (relay/runner.c) with local recipients and its own
 * clock: delivery into Maildirs, bounces, retries, delay notices, expiry,
 * notices about null-sender mail, and the drop folder. */
#include <config.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/hmconfig.h"
#include "lib/groupcommit.h"
#include "relay/drop.h"
#include "relay/queue.h"
#include "relay/runner.h"
#include "relay/spool.h"
#include "testutil.h"

#define T0 1796406928

typedef struct {
	char *dir;
	char *queue_dir;
	char *mail_dir;
	HmConfig *cfg;
	RelayRewriter *rw;
	HmGroupCommit *gc;
	RelayRunner *runner;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autofree char *path = NULL, *text = NULL;
	g_autoptr(GError) err = NULL;
	const char *names[] = { "localhost", NULL };
	RelayRunnerParams rp;

	f->dir = hm_test_tmpdir("runner");
	f->queue_dir = g_build_filename(f->dir, "queue", NULL);
	f->mail_dir = g_build_filename(f->dir, "mail", NULL);
	g_assert_cmpint(relay_spool_prepare(f->dir, &err), ==, 0);
	path = g_build_filename(f->dir, "homemail.conf", NULL);
	text = g_strdup_printf("hostname = \"box.example\";\nstate_dir = \"%s\";\nmail_dir = \"%s\";\n"
	                       "local_domains = [ \"box.example\" ];\n"
	                       "users = ( { name = \"alice\"; }, { name = \"bob\"; } );\n"
	                       "aliases = { postmaster = \"bob\"; };\n"
	                       "relay = { retry = { first = 300; max_interval = 3600;\n"
	                       "          warn_after = 14400; give_up_after = 432000; }; };\n",
	                       f->dir, f->mail_dir);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	f->cfg = hm_config_load(path, NULL, NULL, &err);
	g_assert_no_error(err);
	f->rw = relay_rewriter_new(f->cfg, names);
	f->gc = hm_group_commit_new(f->queue_dir, &err);
	g_assert_no_error(err);
	rp = (RelayRunnerParams){ .cfg = f->cfg, .rw = f->rw, .queue_dir = f->queue_dir, .gc = f->gc };
	f->runner = relay_runner_new(&rp);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	relay_runner_free(f->runner);
	hm_group_commit_free(f->gc);
	relay_rewriter_free(f->rw);
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
	g_free(f->queue_dir);
	g_free(f->mail_dir);
}

/* Queues a message from sender to the recipients (NULL-terminated). */
static char *
enqueue(Fixture *f, const char *sender, guint notify, const char *const *rcpts)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GError) err = NULL;
	static const char msg[] = "Subject: test\r\nMessage-ID: <t@x>\r\n\r\nhello\r\n";
	RelayQueueFile *qf;

	e->arrival = T0;
	e->sender = g_strdup(sender);
	for (; *rcpts != NULL; rcpts++)
		relay_queue_entry_add_rcpt(e, *rcpts, notify, NULL);
	qf = relay_queue_file_new(f->queue_dir, e, &err);
	g_assert_no_error(err);
	g_assert_cmpint(relay_queue_file_write(qf, msg, strlen(msg), &err), ==, 0);
	g_assert_cmpint(relay_queue_file_commit(qf, &err), ==, 0);
	return g_strdup(e->id);
}

/* The messages in a user's new/ folder, concatenated. */
static char *
mailbox(Fixture *f, const char *user, guint *count)
{
	g_autofree char *dir = g_build_filename(f->mail_dir, user, "new", NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	GString *all = g_string_new(NULL);
	const char *name;

	*count = 0;
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autofree char *text = NULL;

		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		g_string_append(all, text);
		(*count)++;
	}
	return g_string_free(all, FALSE);
}

static guint
queue_len(Fixture *f)
{
	g_autoptr(GPtrArray) ids = relay_queue_list(f->queue_dir, NULL);

	return ids->len;
}

static void
test_local(Fixture *f, gconstpointer data)
{
	const char *rcpts[] = { "alice@box.example", "Bob+x@BOX.example", NULL };
	g_autofree char *id = enqueue(f, "carol@remote.example", 0, rcpts);
	g_autofree char *a = NULL, *b = NULL;
	guint na, nb;

	g_assert_cmpint(relay_runner_pass(f->runner, T0, FALSE), ==, G_MAXINT64);
	a = mailbox(f, "alice", &na);
	b = mailbox(f, "bob", &nb);
	g_assert_cmpuint(na, ==, 1);
	g_assert_cmpuint(nb, ==, 1);
	g_assert_true(g_str_has_prefix(a, "Return-Path: <carol@remote.example>\nDelivered-To: "
	                                  "alice@box.example\n"));
	g_assert_nonnull(strstr(a, "\n\nhello\n"));
	/* Every recipient final: the entry is gone. */
	g_assert_cmpuint(queue_len(f), ==, 0);
}

static void
test_unknown_bounces(Fixture *f, gconstpointer data)
{
	const char *rcpts[] = { "alice@box.example", "nobody@box.example", NULL };
	g_autofree char *id = enqueue(f, "bob@box.example", 0, rcpts);
	g_autofree char *bounce = NULL;
	guint n;

	relay_runner_pass(f->runner, T0, FALSE);
	/* The bounce is a new entry from the null sender; the next pass
	 * delivers it to bob. */
	g_assert_cmpuint(queue_len(f), ==, 1);
	relay_runner_pass(f->runner, T0, FALSE);
	g_assert_cmpuint(queue_len(f), ==, 0);
	bounce = mailbox(f, "bob", &n);
	g_assert_cmpuint(n, ==, 1);
	g_assert_true(g_str_has_prefix(bounce, "Return-Path: <>\n"));
	g_assert_nonnull(strstr(bounce, "multipart/report; report-type=delivery-status"));
	g_assert_nonnull(strstr(bounce, "Final-Recipient: rfc822; nobody@box.example"));
	g_assert_nonnull(strstr(bounce, "Action: failed"));
	g_assert_null(strstr(bounce, "Final-Recipient: rfc822; alice@box.example"));
}

/* A temporary failure (alice's Maildir cannot be made) is retried on the
 * schedule; after warn_after a delay notice, after give_up_after a bounce. */
static void
test_retry_warn_expire(Fixture *f, gconstpointer data)
{
	const char *rcpts[] = { "alice@box.example", NULL };
	g_autofree char *blocker = NULL;
	g_autofree char *id = NULL, *notices = NULL;
	gint64 next;
	guint n;

	g_assert_cmpint(g_mkdir_with_parents(f->mail_dir, 0700), ==, 0);
	blocker = g_build_filename(f->mail_dir, "alice", NULL);
	g_assert_true(g_file_set_contents(blocker, "not a Maildir", -1, NULL));
	id = enqueue(f, "bob@box.example", 0, rcpts);

	next = relay_runner_pass(f->runner, T0, FALSE);
	g_assert_cmpint(next, ==, T0 + 300);
	/* Not due yet: nothing happens. */
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 299, FALSE), ==, T0 + 300);
	next = relay_runner_pass(f->runner, T0 + 300, FALSE);
	g_assert_cmpint(next, ==, T0 + 300 + 600);
	g_assert_cmpuint(relay_runner_backoff(&f->cfg->relay.retry, 5), ==, 3600);
	/* Past warn_after: one delay notice, to bob, and only one. */
	relay_runner_pass(f->runner, T0 + 14400, FALSE);
	relay_runner_pass(f->runner, T0 + 14400, TRUE);
	relay_runner_pass(f->runner, T0 + 20000, TRUE);
	notices = mailbox(f, "bob", &n);
	g_assert_cmpuint(n, ==, 1);
	g_assert_nonnull(strstr(notices, "Action: delayed"));
	g_free(notices);
	/* Past give_up_after: a bounce, and the entry goes. */
	relay_runner_pass(f->runner, T0 + 432000, TRUE);
	relay_runner_pass(f->runner, T0 + 432000, FALSE);
	notices = mailbox(f, "bob", &n);
	g_assert_cmpuint(n, ==, 2);
	g_assert_nonnull(strstr(notices, "Action: failed"));
	g_assert_nonnull(strstr(notices, "Status: 5."));
	g_assert_cmpuint(queue_len(f), ==, 0);
}

/* Null-sender mail is never bounced; postmaster hears of it, once. */
static void
test_null_sender(Fixture *f, gconstpointer data)
{
	const char *rcpts[] = { "nobody@box.example", NULL };
	g_autofree char *id = enqueue(f, "", 0, rcpts);
	g_autofree char *pm = NULL;
	guint n;

	relay_runner_pass(f->runner, T0, FALSE);
	relay_runner_pass(f->runner, T0, FALSE);
	pm = mailbox(f, "bob", &n);
	g_assert_cmpuint(n, ==, 1);
	g_assert_nonnull(strstr(pm, "To: postmaster@box.example"));
	g_assert_cmpuint(queue_len(f), ==, 0);
}

static void
test_notify_never(Fixture *f, gconstpointer data)
{
	const char *rcpts[] = { "nobody@box.example", NULL };
	g_autofree char *id = enqueue(f, "bob@box.example", RELAY_NOTIFY_NEVER, rcpts);
	g_autofree char *box = NULL;
	guint n;

	relay_runner_pass(f->runner, T0, FALSE);
	relay_runner_pass(f->runner, T0, FALSE);
	box = mailbox(f, "bob", &n);
	g_assert_cmpuint(n, ==, 0);
	g_assert_cmpuint(queue_len(f), ==, 0);
}

static void
test_drop(Fixture *f, gconstpointer data)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GError) err = NULL;
	static const char msg[] = "Subject: from cron\n\nline\n.\nend\n";
	g_autofree char *name = NULL, *box = NULL, *bad = NULL, *path = NULL;
	guint n;

	e->sender = g_strdup("root@box.example");
	relay_queue_entry_add_rcpt(e, "alice", 0, NULL);
	g_assert_cmpint(relay_drop_write(f->queue_dir, e, msg, strlen(msg), &name, &err), ==, 0);
	/* A symlink in the folder is never followed. */
	bad = g_build_filename(f->queue_dir, "drop", "0123456789abcdef0123456789abcdef", NULL);
	g_assert_cmpint(symlink("/etc/passwd", bad), ==, 0);
	relay_runner_pass(f->runner, T0, FALSE);
	relay_runner_pass(f->runner, T0, FALSE);
	box = mailbox(f, "alice", &n);
	g_assert_cmpuint(n, ==, 1);
	g_assert_nonnull(strstr(box, "Received: by box.example (homemail, from userid "));
	g_assert_nonnull(strstr(box, "Subject: from cron\n"));
	g_assert_nonnull(strstr(box, "Message-ID: <"));
	g_assert_nonnull(strstr(box, "\n\nline\n.\nend\n"));
	path = g_build_filename(f->queue_dir, "drop", name, NULL);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(bad, G_FILE_TEST_IS_SYMLINK));
	g_free(path);
	path = g_build_filename(f->queue_dir, "drop", ".bad.0123456789abcdef0123456789abcdef", NULL);
	g_assert_true(g_file_test(path, G_FILE_TEST_IS_SYMLINK));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_setenv("TZ", "UTC0", TRUE);
#define ADD(name, fn) g_test_add("/runner/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("local", test_local);
	ADD("unknown-bounces", test_unknown_bounces);
	ADD("retry-warn-expire", test_retry_warn_expire);
	ADD("null-sender", test_null_sender);
	ADD("notify-never", test_notify_never);
	ADD("drop", test_drop);
	return g_test_run();
}
