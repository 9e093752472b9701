/* The queue runner (relay/runner.c) with local recipients and its own
 * clock: delivery into Maildirs, bounces, retries, delay notices, expiry,
 * notices about null-sender mail, and the drop folder. */
#include <config.h>

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/hmconfig.h"
#include "lib/error.h"
#include "lib/groupcommit.h"
#include "relay/drop.h"
#include "relay/limits.h"
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
	HmTestPeer *peer;  /* the smart host, when there is one */
} Fixture;

/* The runner with local users; with script, also a smart host "isp": a
 * scripted peer on 127.0.0.1 playing it. */
static void
setup_with(Fixture *f, const char *const *script)
{
	g_autofree char *path = NULL, *text = NULL, *sh = NULL;
	g_autoptr(GError) err = NULL;
	const char *names[] = { "localhost", NULL };
	RelayRunnerParams rp;
	guint16 port = 0;

	memset(f, 0, sizeof(*f));
	if (script != NULL) {
		f->peer = hm_test_peer_new_script(hm_test_listen_tcp(&port), script);
		f->peer->timeout_ms = 10000;
		hm_test_peer_start(f->peer);
		sh = g_strdup_printf("smarthosts = ( { name = \"isp\"; host = \"127.0.0.1\"; "
		                     "port = %u; tls = \"none\"; } );\n",
		                     port);
	}
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
	                       "          warn_after = 14400; give_up_after = 432000; };\n%s };\n",
	                       f->dir, f->mail_dir, sh != NULL ? sh : "");
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
fixture_setup(Fixture *f, gconstpointer data)
{
	setup_with(f, NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	relay_runner_free(f->runner);
	if (f->peer != NULL)
		g_free(hm_test_peer_finish(f->peer));
	hm_group_commit_free(f->gc);
	relay_rewriter_free(f->rw);
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
	g_free(f->queue_dir);
	g_free(f->mail_dir);
}

/* Queues a message from sender to the recipients (NULL-terminated),
 * arrived at arrival, under id (NULL: a new one). */
static char *
enqueue_as(Fixture *f, const char *id, gint64 arrival, const char *sender, guint notify,
           const char *const *rcpts)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GError) err = NULL;
	static const char msg[] = "Subject: test\r\nMessage-ID: <t@x>\r\n\r\nhello\r\n";
	RelayQueueFile *qf;

	e->id = g_strdup(id);
	e->arrival = arrival;
	e->sender = g_strdup(sender);
	for (; *rcpts != NULL; rcpts++)
		relay_queue_entry_add_rcpt(e, *rcpts, notify, NULL);
	qf = relay_queue_file_new(f->queue_dir, e, &err);
	g_assert_no_error(err);
	g_assert_cmpint(relay_queue_file_write(qf, msg, strlen(msg), &err), ==, 0);
	g_assert_cmpint(relay_queue_file_commit(qf, &err), ==, 0);
	return g_strdup(e->id);
}

static char *
enqueue(Fixture *f, const char *sender, guint notify, const char *const *rcpts)
{
	return enqueue_as(f, NULL, T0, sender, notify, rcpts);
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
	G_GNUC_UNUSED g_autofree char *id = enqueue(f, "carol@remote.example", 0, rcpts);
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
	G_GNUC_UNUSED g_autofree char *id = enqueue(f, "bob@box.example", 0, rcpts);
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
	G_GNUC_UNUSED g_autofree char *id = enqueue(f, "", 0, rcpts);
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
	G_GNUC_UNUSED g_autofree char *id = enqueue(f, "bob@box.example", RELAY_NOTIFY_NEVER, rcpts);
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
	g_assert_cmpint(relay_drop_write(f->queue_dir, e, msg, strlen(msg), 0, &name, &err), ==, 0);
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

/* relay_drop_write() of msg from sender to alice and extra recipients
 * more, under the limit max: its result. What it refuses is refused with
 * HM_ERROR_PARSE and leaves nothing in the drop folder. */
static int
drop_write(Fixture *f, const char *sender, guint extra, const GString *msg, guint64 max)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *drop = g_build_filename(f->queue_dir, "drop", NULL);
	g_autofree char *before = hm_test_dir_list(drop), *after = NULL;
	int rc;

	e->sender = g_strdup(sender);
	relay_queue_entry_add_rcpt(e, "alice", 0, NULL);
	for (guint k = 0; k < extra; k++) {
		g_autofree char *r = g_strdup_printf("alice+%05u-%040u@box.example", k, 0);

		relay_queue_entry_add_rcpt(e, r, 0, NULL);
	}
	rc = relay_drop_write(f->queue_dir, e, msg->str, msg->len, max, NULL, &err);
	after = hm_test_dir_list(drop);
	if (rc < 0) {
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_assert_cmpstr(after, ==, before);
	} else {
		g_assert_no_error(err);
	}
	return rc;
}

/* sendmail's side refuses what the import would refuse: a message over
 * the limit once its lines end in CRLF, an envelope over what a drop
 * file may hold, a control character in it. */
static void
test_drop_limits(Fixture *f, gconstpointer data)
{
	g_autoptr(GString) msg = g_string_new(NULL);

	for (int i = 0; i < 25; i++)
		g_string_append(msg, "abc\n");  /* 100 octets, 125 with CRLF ends */
	g_assert_cmpint(drop_write(f, "root@box.example", 0, msg, 124), ==, -1);
	g_assert_cmpint(drop_write(f, "root@box.example", 20000, msg, 0), ==, -1);
	g_assert_cmpint(drop_write(f, "x@y>\nrcpt - - <bob", 0, msg, 0), ==, -1);
	g_assert_cmpint(drop_write(f, "root@box.example", 0, msg, 125), ==, 0);
}

/* A drop file, as a user may write it by hand, beside one that is fine:
 * bad is kept aside as .bad, and does not hold up the other. */
static void
import_beside_good(Fixture *f, const char *bad, gsize len)
{
	static const char good[] = "HMQ1\narrival 1\norigin sendmail\nsender <>\n"
	                           "rcpt - - <alice>\nsize 00000000000000000015\n\nSubject: x\n\nhi\n";
	g_autofree char *dir = g_build_filename(f->queue_dir, "drop", NULL);
	g_autofree char *p1 = g_build_filename(dir, "0123456789abcdef0123456789abcde1", NULL);
	g_autofree char *p2 = g_build_filename(dir, "0123456789abcdef0123456789abcde2", NULL);
	g_autofree char *box = NULL, *listing = NULL;
	guint n;

	g_assert_true(g_file_set_contents(p1, bad, (gssize)len, NULL));
	g_assert_true(g_file_set_contents(p2, good, -1, NULL));
	relay_runner_pass(f->runner, T0, FALSE);
	relay_runner_pass(f->runner, T0, FALSE);
	box = mailbox(f, "alice", &n);
	g_assert_cmpuint(n, ==, 1);
	listing = hm_test_dir_list(dir);
	g_assert_cmpstr(listing, ==, ".bad.0123456789abcdef0123456789abcde1");
}

/* An envelope over what sendmail would write. */
static void
test_drop_big_envelope(Fixture *f, gconstpointer data)
{
	g_autoptr(GString) big = g_string_new("HMQ1\narrival 1\norigin sendmail\nsender <>\n");

	while (big->len <= 1024 * 1024)
		g_string_append(big, "rcpt - - <alice+0123456789012345678901234567890123456789>\n");
	g_string_append(big, "size 00000000000000000015\n\nSubject: x\n\nhi\n");
	import_beside_good(f, big->str, big->len);
}

/* A control character in an envelope field: an ESC, which the queue
 * format's parser lets through. */
static void
test_drop_controls(Fixture *f, gconstpointer data)
{
	static const char esc[] = "HMQ1\narrival 1\norigin sendmail\nsender <\x1b[31mx@y.example>\n"
	                          "rcpt - - <alice>\nsize 00000000000000000015\n\nSubject: x\n\nhi\n";

	import_beside_good(f, esc, strlen(esc));
}

/* A file named name in the queue, last written age seconds ago. */
static char *
queue_file_aged(Fixture *f, const char *name, gint64 age)
{
	char *path = g_build_filename(f->queue_dir, name, NULL);
	struct timespec ts[2] = { { .tv_sec = time(NULL) - age }, { .tv_sec = time(NULL) - age } };

	g_assert_true(g_file_set_contents(path, "HMQ1\npartial", -1, NULL));
	g_assert_cmpint(utimensat(AT_FDCWD, path, ts, 0), ==, 0);
	return path;
}

/* Sessions run beside the runner: it removes what a killed one left in
 * the queue only when it is too old to have a writer, when it starts and
 * then once in a while. */
static void
test_stale_temp(Fixture *f, gconstpointer data)
{
	g_autofree char *old = queue_file_aged(f, ".06B1720000000003.tmp.77.0badf00d", 7200);
	g_autofree char *young = queue_file_aged(f, ".06B1720000000004.tmp.77.0badf00d", 60);
	g_autofree char *later = NULL;

	g_assert_cmpint(relay_runner_pass(f->runner, T0, FALSE), ==, G_MAXINT64);
	g_assert_false(g_file_test(old, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(young, G_FILE_TEST_EXISTS));
	later = queue_file_aged(f, ".06B1720000000005.s.tmp.77.0badf00d", 7200);
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 10, FALSE), ==, G_MAXINT64);
	g_assert_true(g_file_test(later, G_FILE_TEST_EXISTS));
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 3600, FALSE), ==, G_MAXINT64);
	g_assert_false(g_file_test(later, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(young, G_FILE_TEST_EXISTS));
}

/* One runner per queue: the lock is refused while held (even to the same
 * process, as to a runner forked by a second relay), free again once its
 * holder closed it (or died). */
static void
test_queue_lock(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	int a, b;

	(void)data;
	g_assert_cmpint(a = relay_spool_lock(f->queue_dir, &err), >=, 0);
	g_assert_no_error(err);
	g_assert_cmpint(relay_spool_lock(f->queue_dir, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_assert_nonnull(strstr(err->message, "held by another queue runner"));
	g_clear_error(&err);
	close(a);
	g_assert_cmpint(b = relay_spool_lock(f->queue_dir, &err), >=, 0);
	close(b);
	g_assert_cmpint(relay_spool_lock("/nonexistent/queue", &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
}

/* What a killed homemail-sendmail left in the drop folder goes after a
 * day (its writer may still be at work before); kept-aside files stay. */
static void
test_drop_stale(Fixture *f, gconstpointer data)
{
	g_autofree char *dir = g_build_filename(f->queue_dir, "drop", NULL);
	g_autofree char *old = NULL, *young = NULL, *bad = NULL;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	old = queue_file_aged(f, "drop/.0123456789abcdef0123456789abcdef.tmp.77.0badf00d",
	                      25 * 3600);
	young = queue_file_aged(f, "drop/.0123456789abcdef0123456789abcde0.tmp.77.0badf00d",
	                        23 * 3600);
	bad = queue_file_aged(f, "drop/.bad.0123456789abcdef0123456789abcde1", 48 * 3600);
	relay_runner_pass(f->runner, T0, FALSE);
	g_assert_false(g_file_test(old, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(young, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(bad, G_FILE_TEST_EXISTS));
}

/* A deferred entry is known from the pass that deferred it: a pass that
 * is not forced does not read it again (its state, changed behind the
 * runner's back to make it due at once, goes unseen), a forced one does;
 * a new entry is picked up by the next pass, and an entry gone from the
 * queue is forgotten (a new one under its ID is read). */
static void
test_index(Fixture *f, gconstpointer data)
{
	const char *to_alice[] = { "alice@box.example", NULL };
	const char *to_bob[] = { "bob@box.example", NULL };
	g_autofree char *blocker = NULL, *id = NULL, *id2 = NULL, *box = NULL;
	g_autoptr(RelayQueueEntry) e = NULL;
	g_autoptr(GError) err = NULL;
	guint n;

	g_assert_cmpint(g_mkdir_with_parents(f->mail_dir, 0700), ==, 0);
	blocker = g_build_filename(f->mail_dir, "alice", NULL);
	g_assert_true(g_file_set_contents(blocker, "not a Maildir", -1, NULL));
	id = enqueue(f, "bob@box.example", 0, to_alice);
	g_assert_cmpint(relay_runner_pass(f->runner, T0, FALSE), ==, T0 + 300);
	e = relay_queue_load(f->queue_dir, id, &err);
	g_assert_no_error(err);
	relay_queue_rcpt(e, 0)->next_try = 0;
	g_assert_cmpint(relay_queue_save_state(f->queue_dir, e, &err), ==, 0);
	g_assert_cmpint(unlink(blocker), ==, 0);

	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 10, FALSE), ==, T0 + 300);
	g_free(mailbox(f, "alice", &n));
	g_assert_cmpuint(n, ==, 0);
	id2 = enqueue(f, "alice@box.example", 0, to_bob);
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 20, FALSE), ==, T0 + 300);
	g_free(mailbox(f, "bob", &n));
	g_assert_cmpuint(n, ==, 1);
	g_free(mailbox(f, "alice", &n));
	g_assert_cmpuint(n, ==, 0);
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 30, TRUE), ==, G_MAXINT64);
	g_free(mailbox(f, "alice", &n));
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(queue_len(f), ==, 0);

	/* Deferred, then deleted (homemail queue delete): a pass that no
	 * longer lists it forgets it. */
	hm_test_remove_tree(blocker);
	g_assert_true(g_file_set_contents(blocker, "not a Maildir", -1, NULL));
	g_free(id);
	id = enqueue(f, "bob@box.example", 0, to_alice);
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 40, FALSE), ==, T0 + 340);
	g_assert_cmpint(relay_queue_remove(f->queue_dir, id, &err), ==, 0);
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 50, FALSE), ==, G_MAXINT64);
	g_assert_cmpint(unlink(blocker), ==, 0);
	g_free(enqueue_as(f, id, T0, "bob@box.example", 0, to_alice));
	g_assert_cmpint(relay_runner_pass(f->runner, T0 + 60, FALSE), ==, G_MAXINT64);
	box = mailbox(f, "alice", &n);
	g_assert_cmpuint(n, ==, 1);
}

/* ---- with a smart host ---------------------------------------------------- */

#define DEADLINE_S 30
#define GREET "S:220 isp.example ESMTP"
#define HELLO "C:EHLO box.example", "R:250-isp.example\r\n250 PIPELINING\r\n"
#define ENVELOPE "C:MAIL FROM:<carol@remote.example>", "C:RCPT TO:<r@far.example>", "C:DATA"
#define PIPE_OK "R:250 ok\r\n250 ok\r\n354 go\r\n"
#define BYE "C:QUIT", "S:221 bye"

static const char *const to_far[] = { "r@far.example", NULL };

/* The number of messages (".\r\n" after "hello") the smart host got. */
static guint
messages_in(const char *transcript)
{
	guint n = 0;

	for (const char *p = transcript; (p = strstr(p, "\r\nhello\r\n.\r\n")) != NULL; p++)
		n++;
	return n;
}

/* Two passes a moment apart go over one session (the script accepts one
 * connection: a hang-up after the first pass would fail it at QUIT); the
 * session is closed with QUIT once RELAY_SMARTHOST_IDLE_S passed idle. */
static void
test_smarthost_kept(void)
{
	const char *const script[] = {
		GREET, HELLO, ENVELOPE, PIPE_OK, ".", "S:250 one",
		ENVELOPE, PIPE_OK, ".", "S:250 two", BYE, "EOF", NULL,
	};
	g_autofree char *got = NULL;
	gint64 now, idle_end;
	Fixture f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	setup_with(&f, script);
	g_free(enqueue(&f, "carol@remote.example", 0, to_far));
	g_assert_cmpint(relay_runner_pass(f.runner, T0, FALSE), ==, G_MAXINT64);
	now = g_get_monotonic_time();
	idle_end = relay_runner_idle(f.runner, now);
	g_assert_cmpint(idle_end, >, now);
	g_assert_cmpint(idle_end, <=, now + RELAY_SMARTHOST_IDLE_S * G_USEC_PER_SEC);
	g_free(enqueue(&f, "carol@remote.example", 0, to_far));
	g_assert_cmpint(relay_runner_pass(f.runner, T0 + 1, FALSE), ==, G_MAXINT64);
	g_assert_cmpuint(queue_len(&f), ==, 0);
	idle_end = relay_runner_idle(f.runner, g_get_monotonic_time());
	g_assert_cmpint(idle_end, <, G_MAXINT64);
	g_assert_cmpint(relay_runner_idle(f.runner, idle_end), ==, G_MAXINT64);
	/* The script ran to its end (QUIT, then the close) before the runner
	 * is freed, which would say QUIT too. */
	got = hm_test_peer_finish(f.peer);
	f.peer = NULL;
	g_assert_cmpuint(messages_in(got), ==, 2);
	g_assert_true(g_str_has_suffix(got, "\r\n.\r\nQUIT\r\n"));
	fixture_teardown(&f, NULL);
}

/* A kept session the server closed after the runner's check, found at
 * MAIL (EOF; then 421 and EOF): each message goes over a new session in
 * the same pass, once, and nothing is left to retry. */
static void
test_smarthost_closed(void)
{
	const char *const script[] = {
		GREET, HELLO, ENVELOPE, PIPE_OK, ".", "S:250 one",
		ENVELOPE, "ACCEPT",
		GREET, HELLO, ENVELOPE, PIPE_OK, ".", "S:250 two",
		ENVELOPE, "R:421 4.4.2 idle too long\r\n", "ACCEPT",
		GREET, HELLO, ENVELOPE, PIPE_OK, ".", "S:250 three", BYE, "EOF", NULL,
	};
	g_autofree char *got = NULL;
	Fixture f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	setup_with(&f, script);
	for (guint k = 0; k < 3; k++) {
		g_free(enqueue(&f, "carol@remote.example", 0, to_far));
		g_assert_cmpint(relay_runner_pass(f.runner, T0 + k, FALSE), ==, G_MAXINT64);
		g_assert_cmpuint(queue_len(&f), ==, 0);
	}
	relay_runner_free(f.runner);
	f.runner = NULL;
	got = hm_test_peer_finish(f.peer);
	f.peer = NULL;
	g_assert_cmpuint(messages_in(got), ==, 3);
	fixture_teardown(&f, NULL);
}

typedef struct {
	RelayRunner *runner;
	int pickup, stop;
} LoopArgs;

static gpointer
loop_thread(gpointer data)
{
	LoopArgs *a = data;

	return GINT_TO_POINTER(relay_runner_loop(a->runner, a->pickup, a->stop));
}

/* Waits (at most 10 s) until the queue is empty. */
static void
wait_queue_empty(Fixture *f)
{
	for (guint k = 0; k < 1000 && queue_len(f) > 0; k++)
		g_usleep(10 * 1000);
	g_assert_cmpuint(queue_len(f), ==, 0);
}

/* The runner loop: a message handed in while the session from the last
 * pass is kept goes over it, and the loop hangs the session up by itself
 * once it sat idle RELAY_SMARTHOST_IDLE_S, long before its own
 * RELAY_RUNNER_IDLE_S wake-up, without being told to stop. */
static void
test_loop_idle(void)
{
	const char *const script[] = {
		GREET, HELLO, ENVELOPE, PIPE_OK, ".", "S:250 one",
		ENVELOPE, PIPE_OK, ".", "S:250 two", BYE, "EOF", NULL,
	};
	struct signalfd_siginfo si = { .ssi_signo = SIGTERM };
	gint64 now = g_get_real_time() / G_USEC_PER_SEC, t;
	int pickup[2], stop[2];
	g_autofree char *got = NULL;
	LoopArgs a;
	GThread *th;
	Fixture f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	setup_with(&f, script);
	g_assert_cmpint(pipe2(pickup, O_NONBLOCK | O_CLOEXEC), ==, 0);
	g_assert_cmpint(pipe2(stop, O_NONBLOCK | O_CLOEXEC), ==, 0);
	g_free(enqueue_as(&f, NULL, now, "carol@remote.example", 0, to_far));
	a = (LoopArgs){ f.runner, pickup[0], stop[0] };
	th = g_thread_new("runner", loop_thread, &a);
	wait_queue_empty(&f);
	g_free(enqueue_as(&f, NULL, now, "carol@remote.example", 0, to_far));
	g_assert_cmpint(write(pickup[1], "m", 1), ==, 1);
	wait_queue_empty(&f);
	t = g_get_monotonic_time();
	got = hm_test_peer_finish(f.peer);
	f.peer = NULL;
	t = g_get_monotonic_time() - t;
	g_assert_cmpint(t, <, (RELAY_SMARTHOST_IDLE_S + 2) * G_USEC_PER_SEC);
	g_assert_cmpint(t, >, G_USEC_PER_SEC);
	g_assert_cmpuint(messages_in(got), ==, 2);
	g_assert_cmpint(write(stop[1], &si, sizeof(si)), ==, (ssize_t)sizeof(si));
	g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(th)), ==, 0);
	for (guint k = 0; k < 2; k++) {
		close(pickup[k]);
		close(stop[k]);
	}
	fixture_teardown(&f, NULL);
}

/* On an empty queue the loop ends at once with RELAY_RUNNER_SLEEP (the
 * relay forks it again when woken); with an entry waiting for a retry it
 * stays until told to stop. */
static void
test_loop_sleeps(Fixture *f, gconstpointer data)
{
	struct signalfd_siginfo si = { .ssi_signo = SIGTERM };
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	int pickup[2], stop[2];
	LoopArgs a;
	GThread *th;

	(void)data;
	g_assert_cmpint(pipe2(pickup, O_NONBLOCK | O_CLOEXEC), ==, 0);
	g_assert_cmpint(pipe2(stop, O_NONBLOCK | O_CLOEXEC), ==, 0);
	g_assert_cmpint(relay_runner_loop(f->runner, pickup[0], stop[0]), ==, RELAY_RUNNER_SLEEP);
	/* No smart host answers: the entry stays, deferred. */
	g_free(enqueue_as(f, NULL, now, "carol@remote.example", 0, to_far));
	a = (LoopArgs){ f->runner, pickup[0], stop[0] };
	th = g_thread_new("runner", loop_thread, &a);
	g_usleep(1500000);
	g_assert_cmpuint(queue_len(f), ==, 1);
	g_assert_cmpint(write(stop[1], &si, sizeof(si)), ==, (ssize_t)sizeof(si));
	g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(th)), ==, 0);
	for (guint k = 0; k < 2; k++) {
		close(pickup[k]);
		close(stop[k]);
	}
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
	ADD("drop-limits", test_drop_limits);
	ADD("drop-big-envelope", test_drop_big_envelope);
	ADD("drop-controls", test_drop_controls);
	ADD("index", test_index);
	g_test_add_func("/runner/smarthost-kept", test_smarthost_kept);
	g_test_add_func("/runner/smarthost-closed", test_smarthost_closed);
	g_test_add_func("/runner/loop-idle", test_loop_idle);
	ADD("loop-sleeps", test_loop_sleeps);
	ADD("stale-temp", test_stale_temp);
	ADD("drop-stale", test_drop_stale);
	ADD("queue-lock", test_queue_lock);
	return g_test_run();
}
