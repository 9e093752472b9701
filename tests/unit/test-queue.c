/* The relay's queue files (relay/queue.c, relay/queue-format.c). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "relay/limits.h"
#include "relay/msgwriter.h"
#include "relay/queue-show.h"
#include "relay/queue.h"
#include "testutil.h"

static RelayQueueEntry *
sample(void)
{
	RelayQueueEntry *e = relay_queue_entry_new();

	e->arrival = 1796406928;
	e->sender = g_strdup("alice@box.lan");
	e->client = g_strdup("[192.168.1.5]");
	e->helo = g_strdup("pc.lan");
	e->auth_user = g_strdup("alice");
	e->body = RELAY_BODY_8BITMIME;
	e->smtputf8 = TRUE;
	e->ret = RELAY_RET_HDRS;
	e->envid = g_strdup("id with spaces+and=signs");
	relay_queue_entry_add_rcpt(e, "bob@example.org", 0, NULL);
	relay_queue_entry_add_rcpt(e, "\"odd > name\"@example.org",
	                           RELAY_NOTIFY_SUCCESS | RELAY_NOTIFY_FAILURE, "rfc822;Bob@Example.org");
	relay_queue_entry_add_rcpt(e, "jörg@bücher.example", RELAY_NOTIFY_NEVER, NULL);
	return e;
}

static char *
write_entry(const char *dir, RelayQueueEntry *e, const char *msg)
{
	g_autoptr(GError) err = NULL;
	RelayQueueFile *qf = relay_queue_file_new(dir, e, &err);

	g_assert_no_error(err);
	/* In pieces, as a session streams it. */
	for (const char *p = msg; *p != '\0'; p += MIN(strlen(p), 7))
		g_assert_cmpint(relay_queue_file_write(qf, p, MIN(strlen(p), 7), &err), ==, 0);
	g_assert_cmpuint(relay_queue_file_size(qf), ==, strlen(msg));
	g_assert_cmpint(relay_queue_file_commit(qf, &err), ==, 0);
	g_assert_no_error(err);
	return g_strdup(e->id);
}

static void
test_round_trip(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue");
	g_autoptr(RelayQueueEntry) e = sample();
	const char *msg = "Subject: hi\r\n\r\n.\r\nbody\r\n";
	g_autofree char *id = write_entry(dir, e, msg);
	g_autoptr(GError) err = NULL;
	g_autoptr(RelayQueueEntry) back = relay_queue_load(dir, id, &err);
	g_autoptr(GBytes) data = NULL;
	g_autoptr(GPtrArray) ids = NULL;

	g_assert_no_error(err);
	g_assert_true(relay_queue_id_valid(id));
	g_assert_cmpint(back->arrival, ==, 1796406928);
	g_assert_cmpstr(back->sender, ==, "alice@box.lan");
	g_assert_cmpstr(back->client, ==, "[192.168.1.5]");
	g_assert_cmpstr(back->helo, ==, "pc.lan");
	g_assert_cmpstr(back->auth_user, ==, "alice");
	g_assert_cmpint(back->body, ==, RELAY_BODY_8BITMIME);
	g_assert_true(back->smtputf8);
	g_assert_cmpint(back->ret, ==, RELAY_RET_HDRS);
	g_assert_cmpstr(back->envid, ==, "id with spaces+and=signs");
	g_assert_cmpuint(back->rcpts->len, ==, 3);
	g_assert_cmpstr(relay_queue_rcpt(back, 0)->addr, ==, "bob@example.org");
	g_assert_cmpuint(relay_queue_rcpt(back, 0)->notify, ==, 0);
	g_assert_null(relay_queue_rcpt(back, 0)->orcpt);
	g_assert_cmpstr(relay_queue_rcpt(back, 1)->addr, ==, "\"odd > name\"@example.org");
	g_assert_cmpuint(relay_queue_rcpt(back, 1)->notify, ==,
	                 RELAY_NOTIFY_SUCCESS | RELAY_NOTIFY_FAILURE);
	g_assert_cmpstr(relay_queue_rcpt(back, 1)->orcpt, ==, "rfc822;Bob@Example.org");
	g_assert_cmpstr(relay_queue_rcpt(back, 2)->addr, ==, "jörg@bücher.example");
	g_assert_cmpint(relay_queue_rcpt(back, 2)->state, ==, RELAY_RCPT_PENDING);
	g_assert_false(relay_queue_entry_done(back));

	data = relay_queue_message(dir, back, &err);
	g_assert_no_error(err);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), msg, strlen(msg));

	ids = relay_queue_list(dir, &err);
	g_assert_cmpuint(ids->len, ==, 1);
	g_assert_cmpstr(ids->pdata[0], ==, id);
	hm_test_remove_tree(dir);
}

static void
test_state(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue");
	g_autoptr(RelayQueueEntry) e = sample();
	g_autofree char *id = write_entry(dir, e, "\r\n");
	g_autoptr(GError) err = NULL;
	g_autoptr(RelayQueueEntry) back = NULL;
	RelayQueueRcpt *r;

	r = relay_queue_rcpt(e, 0);
	r->state = RELAY_RCPT_DELIVERED;
	r->attempts = 1;
	r->last_try = 1796407000;
	r = relay_queue_rcpt(e, 1);
	r->attempts = 3;
	r->next_try = 1796410000;
	r->last_try = 1796407000;
	r->warned = TRUE;
	/* A remote's reply may carry anything; it stays one line. */
	r->reply = g_strdup("451 4.3.0 try\r\nlater  please");
	relay_queue_rcpt(e, 2)->state = RELAY_RCPT_FAILED;
	g_assert_cmpint(relay_queue_save_state(dir, e, &err), ==, 0);

	back = relay_queue_load(dir, id, &err);
	g_assert_no_error(err);
	g_assert_cmpint(relay_queue_rcpt(back, 0)->state, ==, RELAY_RCPT_DELIVERED);
	r = relay_queue_rcpt(back, 1);
	g_assert_cmpint(r->state, ==, RELAY_RCPT_PENDING);
	g_assert_cmpuint(r->attempts, ==, 3);
	g_assert_cmpint(r->next_try, ==, 1796410000);
	g_assert_cmpint(r->last_try, ==, 1796407000);
	g_assert_true(r->warned);
	g_assert_cmpstr(r->reply, ==, "451 4.3.0 try  later  please");
	g_assert_false(relay_queue_entry_done(back));
	relay_queue_rcpt(back, 1)->state = RELAY_RCPT_EXPIRED;
	g_assert_true(relay_queue_entry_done(back));

	/* Removal takes both files; a state file left alone is cleared. */
	g_assert_cmpint(relay_queue_remove(dir, id, &err), ==, 0);
	g_assert_cmpint(relay_queue_remove(dir, id, &err), ==, 0);
	g_assert_null(relay_queue_load(dir, id, &err));
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	{
		g_autofree char *id2 = write_entry(dir, e, "x\r\n");
		g_autofree char *msgpath = g_build_filename(dir, id2, NULL);
		g_autoptr(GPtrArray) ids = NULL;
		g_autofree char *left = NULL;

		g_assert_cmpint(relay_queue_save_state(dir, e, &err), ==, 0);
		g_assert_cmpint(g_unlink(msgpath), ==, 0);
		ids = relay_queue_list(dir, &err);
		g_assert_cmpuint(ids->len, ==, 0);
		left = hm_test_dir_list(dir);
		g_assert_cmpstr(left, ==, "");
	}
	hm_test_remove_tree(dir);
}

/* What a crash before the commit can leave: the name linked but the data
 * cut short. It is refused, never half-delivered. */
static void
test_truncated(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue");
	g_autoptr(RelayQueueEntry) e = sample();
	g_autofree char *id = write_entry(dir, e, "Subject: x\r\n\r\nbody\r\n");
	g_autofree char *path = g_build_filename(dir, id, NULL);
	g_autoptr(GError) err = NULL;
	g_autofree char *content = NULL;
	gsize len;

	g_assert_true(g_file_get_contents(path, &content, &len, NULL));
	for (gsize cut = 0; cut < len; cut++) {
		g_assert_true(g_file_set_contents(path, content, (gssize)cut, NULL));
		g_assert_null(relay_queue_load(dir, id, &err));
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_clear_error(&err);
	}
	hm_test_remove_tree(dir);
}

static void
test_bad_envelopes(void)
{
	static const char *const bad[] = {
		"",
		"HMQ2\narrival 1\n",
		"HMQ1\narrival 1\nsender <>\nsize 00000000000000000000\n\n",      /* no rcpt */
		"HMQ1\nsender <a@b>\nrcpt - - <b@c>\nsize 0\n\n",                  /* size width */
		"HMQ1\nsender <a@b>\nrcpt - - <b@c>\n\n",                          /* no size */
		"HMQ1\nsender a@b\nrcpt - - <b@c>\nsize 00000000000000000000\n\n", /* no < > */
		"HMQ1\nsender <a@b>\nrcpt NEVER,DELAY - <b@c>\nsize 00000000000000000000\n\n",
		"HMQ1\nsender <a@b>\nrcpt - +ZZ <b@c>\nsize 00000000000000000000\n\n",
		"HMQ1\nsender <a@b>\nrcpt - - <>\nsize 00000000000000000000\n\n",
		"HMQ1\nsender <a@b>\nsender <c@d>\nrcpt - - <b@c>\nsize 00000000000000000000\n\n",
		"HMQ1\nsender <a@b>\nrcpt - - <b@c>\nsize 00000000000000000000\r\n\n",
		"HMQ1\nsender <a@b>\nrcpt - - <b@c>\nbogus 1\nsize 00000000000000000000\n\n",
		"HMQ1\nsender <a@b>\nrcpt - - <b@c>\narrival -1\nsize 00000000000000000000\n\n",
		"HMQ1\nsender <a@b>\nrcpt - - <b@c>\nsize 00000000000000000000\n",
	};
	static const char good[] = "HMQ1\nsender <>\nrcpt - - <b@c>\nsize 00000000000000000000\n\nX";

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
		g_autoptr(GError) err = NULL;
		gsize hl = 0;

		g_assert_cmpint(relay_queue_envelope_parse(bad[i], strlen(bad[i]), e, &hl, &err), ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	}
	{
		g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
		gsize hl = 0;

		g_assert_cmpint(relay_queue_envelope_parse(good, strlen(good), e, &hl, NULL), ==, 0);
		g_assert_cmpuint(hl, ==, strlen(good) - 1);
		g_assert_cmpstr(e->sender, ==, "");
	}
}

static void
test_bad_state(void)
{
	static const char *const bad[] = {
		"\n",                                        /* no magic line (found by fuzz-queue) */
		"HMS1\n",                                    /* too few lines */
		"HMS1\n0 pending 0 0 0 0 \n1 pending 0 0 0 0 \n2 sent 0 0 0 0 \n",
		"HMS1\n0 pending 0 0 0 0 \n1 pending 0 0 0 0 \n3 pending 0 0 0 0 \n",
		"HMS1\n0 pending 0 0 0 2 \n1 pending 0 0 0 0 \n2 pending 0 0 0 0 \n",
		"HMS1\n0 pending 0 0 0 0\n1 pending 0 0 0 0 \n2 pending 0 0 0 0 \n",
		"HMS1\n0 pending 0 0 0 0 \n1 pending 0 0 0 0 \n2 pending 0 0 0 0 ",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(RelayQueueEntry) e = sample();
		g_autoptr(GError) err = NULL;

		g_assert_cmpint(relay_queue_state_parse(bad[i], strlen(bad[i]), e, &err), ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	}
}

static void
test_ids(void)
{
	g_autofree char *a = relay_queue_new_id();
	g_autofree char *b = relay_queue_new_id();

	g_assert_true(relay_queue_id_valid(a));
	g_assert_cmpstr(a, !=, b);
	g_assert_false(relay_queue_id_valid("../../etc/passw"));
	g_assert_false(relay_queue_id_valid("0123456789abcdef"));
	g_assert_false(relay_queue_id_valid("0123456789ABCDE"));
	g_assert_false(relay_queue_id_valid("0123456789ABCDEF0"));
	g_assert_true(relay_queue_id_valid("0123456789ABCDEF"));
}

/* Two sessions that picked the same ID in the same microsecond: the
 * second file takes another instead of failing its message, and the
 * first is left as it was. */
static void
test_id_clash(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-clash");
	g_autoptr(RelayQueueEntry) first = sample();
	g_autoptr(RelayQueueEntry) second = sample();
	g_autofree char *id1 = write_entry(dir, first, "first\r\n");
	g_autofree char *id2 = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) data = NULL;
	g_autoptr(RelayQueueEntry) back = NULL;

	second->id = g_strdup(id1);
	id2 = write_entry(dir, second, "second\r\n");
	g_assert_cmpstr(id2, !=, id1);
	g_assert_true(relay_queue_id_valid(id2));
	back = relay_queue_load(dir, id1, &err);
	g_assert_no_error(err);
	data = relay_queue_message(dir, back, &err);
	g_assert_no_error(err);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "first\r\n", 7);
	g_clear_pointer(&data, g_bytes_unref);
	g_clear_pointer(&back, relay_queue_entry_free);
	back = relay_queue_load(dir, id2, &err);
	g_assert_no_error(err);
	data = relay_queue_message(dir, back, &err);
	g_assert_no_error(err);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "second\r\n", 8);
	hm_test_remove_tree(dir);
}

/* The names in dir (none but "." and ".."). */
static guint
entries_in(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;

	g_assert_nonnull(d);
	while (g_dir_read_name(d) != NULL)
		n++;
	return n;
}

/* A held file makes no file until it grows past its bound or is
 * committed; what it commits loads as a file written at once does, and
 * one dropped while held leaves nothing. */
static void
test_held(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-held");
	g_autoptr(RelayQueueEntry) e = sample();
	g_autoptr(RelayQueueEntry) big = sample();
	g_autoptr(RelayQueueEntry) dropped = sample();
	g_autoptr(RelayQueueEntry) back = NULL;
	g_autoptr(GBytes) data = NULL;
	g_autoptr(GError) err = NULL;
	RelayQueueFile *qf = relay_queue_file_new_held(dir, e, 16, &err);
	const char *held;
	gsize len = 0;

	g_assert_no_error(err);
	g_assert_cmpint(relay_queue_file_write(qf, "Subject: a\r\n", 12, &err), ==, 0);
	g_assert_nonnull(relay_queue_file_held(qf, &len));
	g_assert_cmpuint(entries_in(dir), ==, 0);
	g_assert_cmpint(relay_queue_file_write(qf, "\r\nb\r\n", 5, &err), ==, 0);
	/* 17 octets: past 16, so written out now, and no longer held. */
	g_assert_null(relay_queue_file_held(qf, &len));
	g_assert_cmpuint(entries_in(dir), ==, 1);
	g_assert_cmpint(relay_queue_file_commit(qf, &err), ==, 0);
	g_assert_no_error(err);
	back = relay_queue_load(dir, e->id, &err);
	g_assert_no_error(err);
	data = relay_queue_message(dir, back, &err);
	g_assert_no_error(err);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "Subject: a\r\n\r\nb\r\n", 17);
	g_clear_pointer(&data, g_bytes_unref);
	g_clear_pointer(&back, relay_queue_entry_free);

	/* Within the bound it stays in memory until the commit. */
	qf = relay_queue_file_new_held(dir, big, 1024, &err);
	g_assert_cmpint(relay_queue_file_write(qf, "x\r\n", 3, &err), ==, 0);
	held = relay_queue_file_held(qf, &len);
	g_assert_cmpmem(held, len, "x\r\n", 3);
	g_assert_cmpuint(entries_in(dir), ==, 1);
	g_assert_cmpint(relay_queue_file_commit(qf, &err), ==, 0);
	back = relay_queue_load(dir, big->id, &err);
	g_assert_no_error(err);
	data = relay_queue_message(dir, back, &err);
	g_assert_no_error(err);
	g_assert_cmpmem(g_bytes_get_data(data, NULL), g_bytes_get_size(data), "x\r\n", 3);

	qf = relay_queue_file_new_held(dir, dropped, 1024, &err);
	g_assert_cmpint(relay_queue_file_write(qf, "y\r\n", 3, &err), ==, 0);
	relay_queue_file_abort(qf);
	g_assert_cmpuint(entries_in(dir), ==, 2);
	hm_test_remove_tree(dir);
}

/* A finished entry leaves the queue at once (a rename into done/) and
 * its files go when reaped; without done/ it is removed on the spot. */
static void
test_retire(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-retire");
	g_autofree char *done = g_build_filename(dir, RELAY_QUEUE_DONE, NULL);
	g_autofree char *outside = g_build_filename(dir, "outside", NULL);
	g_autofree char *link = g_build_filename(done, "link", NULL);
	g_autoptr(RelayQueueEntry) e = sample();
	g_autofree char *id = write_entry(dir, e, "x\r\n");
	g_autofree char *id2 = NULL;
	g_autofree char *listing = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) ids = NULL;

	g_assert_cmpuint(relay_queue_reap(dir), ==, 0);  /* no done/ yet */
	g_assert_cmpint(relay_queue_retire(dir, id, &err), ==, 0);  /* falls back */
	g_assert_no_error(err);
	listing = hm_test_dir_list(dir);
	g_assert_cmpstr(listing, ==, "");
	g_clear_pointer(&listing, g_free);

	g_assert_cmpint(g_mkdir(done, 0700), ==, 0);
	id2 = write_entry(dir, e, "y\r\n");
	g_assert_cmpint(relay_queue_save_state(dir, e, &err), ==, 0);
	g_assert_cmpint(relay_queue_retire(dir, id2, &err), ==, 0);
	g_assert_no_error(err);
	ids = relay_queue_list(dir, &err);
	g_assert_cmpuint(ids->len, ==, 0);
	listing = hm_test_dir_list(done);
	g_assert_cmpstr(listing, ==, id2);
	g_clear_pointer(&listing, g_free);
	g_assert_cmpint(relay_queue_retire(dir, "not-an-id", &err), ==, -1);
	g_clear_error(&err);

	/* Reaping removes names: a link goes, what it points at stays. */
	g_assert_true(g_file_set_contents(outside, "keep", -1, NULL));
	g_assert_cmpint(symlink(outside, link), ==, 0);
	g_assert_cmpuint(relay_queue_reap(dir), ==, 2);
	listing = hm_test_dir_list(done);
	g_assert_cmpstr(listing, ==, "");
	g_assert_true(g_file_test(outside, G_FILE_TEST_IS_REGULAR));
	hm_test_remove_tree(dir);
}

/* TRUE if the message writer, given msg in pieces of step octets, finds
 * it over max. */
static gboolean
writer_too_big(const char *dir, const char *msg, gsize len, gsize step, guint64 max)
{
	g_autoptr(RelayQueueEntry) e = sample();
	g_autoptr(GError) err = NULL;
	RelayMsgParams mp = { .max_size = max, .hostname = "box.lan" };
	RelayMsgWriter *w = relay_msg_writer_new(dir, e, &mp, &err);
	RelayQueueFile *qf;
	gboolean big;

	g_assert_no_error(err);
	for (gsize at = 0; at < len; at += step)
		relay_msg_writer_bytes(w, msg + at, MIN(step, len - at));
	qf = relay_msg_writer_end(w, &err);
	big = qf == NULL;
	g_assert_true(big ? g_error_matches(err, HM_ERROR, HM_ERROR_FAILED) : err == NULL);
	relay_queue_file_abort(qf);
	return big;
}

/* relay_msg_stored_size() is the size the writer holds against max_size,
 * whatever the line ends and however the message arrives: a sender that
 * checks with it is refused exactly where the writer would refuse. */
static void
test_stored_size(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-size");
	static const struct {
		const char *msg;
		guint64 size;
	} cases[] = {
		{ "", 0 },
		{ "a", 3 },
		{ "a\n", 3 },
		{ "a\r\n", 3 },
		{ "a\r", 4 },
		{ "\n\n", 4 },
		{ "Subject: x\n\nbody\r\n.\nend", 28 },
		{ "cr\ralone\r\r\nlf\n", 15 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const char *msg = cases[i].msg;
		gsize len = strlen(msg);
		guint64 size = relay_msg_stored_size(msg, len);

		g_assert_cmpuint(size, ==, cases[i].size);
		for (gsize step = 1; step <= MAX(len, 1); step++) {
			g_assert_false(writer_too_big(dir, msg, len, step, size + (size == 0)));
			if (size > 0)
				g_assert_true(writer_too_big(dir, msg, len, step, size - (size > 1)));
		}
	}
	hm_test_remove_tree(dir);
}

/* No envelope field may hold a control character: a CR or LF in one would
 * add lines of its own to the queue file (a recipient). */
static void
test_envelope_controls(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-controls");
	static const char *const bad[] = { "x@y>\nrcpt - - <alice@box.lan", "x@y\rz", "\x1b[31mx@y",
		                           "x\x7f@y" };

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		for (int field = 0; field < 3; field++) {
			g_autoptr(RelayQueueEntry) e = sample();
			g_autoptr(GError) err = NULL;

			if (field == 0) {
				g_free(e->sender);
				e->sender = g_strdup(bad[i]);
			} else if (field == 1) {
				relay_queue_entry_add_rcpt(e, bad[i], 0, NULL);
			} else {
				g_free(e->helo);
				e->helo = g_strdup(bad[i]);
			}
			g_assert_cmpint(relay_queue_envelope_check(e, &err), ==, -1);
			g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
			g_clear_error(&err);
			g_assert_null(relay_queue_file_new(dir, e, &err));
			g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		}
	}
	g_assert_cmpuint(entries_in(dir), ==, 0);
	hm_test_remove_tree(dir);
}

/* An entry whose message is body_len octets ("Subject: big" and 'b's),
 * written in large pieces. */
static char *
write_big(const char *dir, RelayQueueEntry *e, gsize body_len)
{
	static const char head[] = "Subject: big\r\n\r\n";
	g_autoptr(GError) err = NULL;
	g_autofree char *piece = g_malloc(65536);
	RelayQueueFile *qf = relay_queue_file_new(dir, e, &err);

	memset(piece, 'b', 65536);
	g_assert_no_error(err);
	g_assert_cmpint(relay_queue_file_write(qf, head, strlen(head), &err), ==, 0);
	for (gsize left = body_len; left > 0; left -= MIN(left, 65536))
		g_assert_cmpint(relay_queue_file_write(qf, piece, MIN(left, 65536), &err), ==, 0);
	g_assert_cmpint(relay_queue_file_commit(qf, &err), ==, 0);
	return g_strdup(e->id);
}

/* The envelope reader stops at the read that brought the blank line: the
 * message behind it is not read. */
static void
test_envelope_read(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-read");
	g_autoptr(RelayQueueEntry) e = sample();
	g_autofree char *id = write_big(dir, e, 8 * RELAY_QUEUE_ENVELOPE_CHUNK);
	g_autofree char *path = g_build_filename(dir, id, NULL);
	g_autoptr(RelayQueueEntry) back = relay_queue_entry_new();
	g_autoptr(GBytes) head = NULL;
	g_autoptr(GError) err = NULL;
	struct stat st;
	gsize hl = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t at;

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	head = relay_queue_envelope_read(fd, G_MAXSIZE, back, &hl, &err);
	g_assert_no_error(err);
	at = lseek(fd, 0, SEEK_CUR);
	close(fd);
	g_assert_cmpstr(back->sender, ==, "alice@box.lan");
	g_assert_cmpuint(back->rcpts->len, ==, 3);
	g_assert_cmpuint(back->size, ==, 8 * RELAY_QUEUE_ENVELOPE_CHUNK + 16);
	g_assert_cmpuint(hl, ==, (gsize)st.st_size - back->size);
	/* One read: the envelope and what followed it in that read. */
	g_assert_cmpint(at, ==, RELAY_QUEUE_ENVELOPE_CHUNK);
	g_assert_cmpuint(g_bytes_get_size(head), ==, (gsize)at);
	hm_test_remove_tree(dir);
}

/* A file with env as its content; an open fd on it. */
static int
open_with(const char *dir, const char *name, const char *data, gsize len)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	int fd;

	g_assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	return fd;
}

/* An envelope larger than a read, and one whose blank line is split
 * between two reads, are read whole; a file that does not begin as an
 * envelope is read no further than its first read. */
static void
test_envelope_read_chunks(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-read");
	g_autoptr(RelayQueueEntry) many = sample();
	g_autoptr(RelayQueueEntry) split = sample();
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) junk = g_string_new("TOPSECRET first line\n");
	gsize base;

	for (guint i = 0; i < 5000; i++) {
		g_autofree char *addr = g_strdup_printf("rcpt%u@example.org", i);

		relay_queue_entry_add_rcpt(many, addr, 0, NULL);
	}
	relay_queue_envelope_format(many, text);
	g_assert_cmpuint(text->len, >, 2 * RELAY_QUEUE_ENVELOPE_CHUNK);
	for (int k = 0; k < 2; k++) {
		g_autoptr(RelayQueueEntry) back = relay_queue_entry_new();
		g_autoptr(GBytes) head = NULL;
		g_autoptr(GError) err = NULL;
		gsize hl = 0;
		int fd;

		if (k == 1) {
			/* The client field sized so that the blank line's two
			 * octets fall on either side of the first read's end. */
			g_string_truncate(text, 0);
			relay_queue_envelope_format(split, text);
			base = text->len - strlen(split->client);
			g_free(split->client);
			split->client = g_strnfill(RELAY_QUEUE_ENVELOPE_CHUNK + 1 - base, 'c');
			g_string_truncate(text, 0);
			relay_queue_envelope_format(split, text);
			g_assert_cmpuint(text->len, ==, RELAY_QUEUE_ENVELOPE_CHUNK + 1);
			g_assert_cmpint(text->str[RELAY_QUEUE_ENVELOPE_CHUNK - 1], ==, '\n');
			g_assert_cmpint(text->str[RELAY_QUEUE_ENVELOPE_CHUNK], ==, '\n');
		}
		fd = open_with(dir, "env", text->str, text->len);
		head = relay_queue_envelope_read(fd, G_MAXSIZE, back, &hl, &err);
		close(fd);
		g_assert_no_error(err);
		g_assert_cmpuint(hl, ==, text->len);
		g_assert_cmpuint(back->rcpts->len, ==, k == 0 ? 5003 : 3);
	}
	{
		g_autoptr(RelayQueueEntry) back = relay_queue_entry_new();
		g_autoptr(GError) err = NULL;
		gsize hl = 0;
		int fd;

		for (guint i = 0; i < 3 * RELAY_QUEUE_ENVELOPE_CHUNK / 8; i++)
			g_string_append(junk, "x-x-x-\n");
		fd = open_with(dir, "junk", junk->str, junk->len);
		g_assert_null(relay_queue_envelope_read(fd, G_MAXSIZE, back, &hl, &err));
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_assert_null(strstr(err->message, "TOPSECRET"));
		g_assert_cmpint(lseek(fd, 0, SEEK_CUR), ==, RELAY_QUEUE_ENVELOPE_CHUNK);
		close(fd);
	}
	hm_test_remove_tree(dir);
}

/* Octets this thread has read (read(2), pread(2)) so far. */
static guint64
bytes_read(void)
{
	g_autofree char *io = NULL;
	const char *at;
	guint64 n = 0;

	g_assert_true(g_file_get_contents("/proc/thread-self/io", &io, NULL, NULL));
	at = strstr(io, "rchar: ");
	g_assert_nonnull(at);
	n = g_ascii_strtoull(at + 7, NULL, 10);
	return n;
}

/* Listing, showing and counting the queue read each entry's envelope
 * (and the head of the message for show), not the message: a queue of
 * large messages costs what a queue of small ones does. The kernel's
 * count of octets read proves it. */
static void
test_reads_envelope_only(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-read");
	g_autoptr(RelayQueueEntry) e = sample();
	/* Under the size that relay_queue_message() maps instead of reading. */
	g_autofree char *id = write_big(dir, e, 3 * 1024 * 1024);
	g_autoptr(RelayQueueEntry) back = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) msg = NULL;
	RelayQueueSummary sum;
	FILE *null = fopen("/dev/null", "w");
	guint64 before = bytes_read();

	back = relay_queue_load(dir, id, &err);
	g_assert_no_error(err);
	g_assert_null(back->file);
	g_assert_cmpint(relay_queue_show_list(dir, null, &err), ==, 0);
	g_assert_cmpint(relay_queue_show_entry(dir, id, null, &err), ==, 0);
	g_assert_cmpint(relay_queue_summary(dir, &sum, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(sum.count, ==, 1);
	/* Four loads and a header section: a read each, far from one
	 * message's 3 MiB. */
	g_assert_cmpuint(bytes_read() - before, <, 1024 * 1024);
	/* Where the message is wanted, it is read. */
	msg = relay_queue_message(dir, back, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(g_bytes_get_size(msg), ==, 3 * 1024 * 1024 + 16);
	g_assert_cmpuint(bytes_read() - before, >, 3 * 1024 * 1024);
	fclose(null);
	hm_test_remove_tree(dir);
}

/* `homemail queue show` prints the header section whole (one longer than
 * its first read too) and nothing of the body; a header section past
 * what it reads is cut, and says so. */
static void
test_show_header(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-show");
	g_autofree char *longer = g_strnfill(40000, 'h');
	g_autofree char *huge = g_strnfill(300000, 'H');
	const char *heads[] = { "Subject: short\r\n\r\nBODY\r\n", NULL, NULL };
	g_autofree char *h1 = g_strdup_printf("X-Long: %s\r\nSubject: long\r\n\r\nBODY\r\n", longer);
	g_autofree char *h2 = g_strdup_printf("X-Huge: %s\r\n\r\nBODY\r\n", huge);
	g_autofree char *cut = g_strdup_printf("[header section longer than %d octets: cut here]\n",
	                                       RELAY_HEADER_SCAN_MAX);

	heads[1] = h1;
	heads[2] = h2;
	for (gsize i = 0; i < G_N_ELEMENTS(heads); i++) {
		g_autoptr(RelayQueueEntry) e = sample();
		g_autofree char *id = write_entry(dir, e, heads[i]);
		g_autofree char *shown = NULL;
		g_autoptr(GError) err = NULL;
		gsize len = 0;
		FILE *f = open_memstream(&shown, &len);

		g_assert_cmpint(relay_queue_show_entry(dir, id, f, &err), ==, 0);
		g_assert_no_error(err);
		fclose(f);
		g_assert_null(strstr(shown, "BODY"));
		/* Line by line, in our line ends: no CR reaches the terminal. */
		g_assert_null(strchr(shown, '\r'));
		if (i < 2)
			g_assert_true(g_str_has_suffix(shown, "\n\n"));
		if (i == 1)
			g_assert_nonnull(strstr(shown, "Subject: long"));
		if (i == 2)
			g_assert_true(g_str_has_suffix(shown, cut));
	}
	hm_test_remove_tree(dir);
}

/* A large file cut short at its end by a crash before its commit is
 * still found at load, though the load no longer reads that far: the
 * file's size is compared with the size field. */
static void
test_large_truncated(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-read");
	g_autoptr(RelayQueueEntry) e = sample();
	g_autofree char *id = write_big(dir, e, 4 * RELAY_QUEUE_ENVELOPE_CHUNK);
	g_autofree char *path = g_build_filename(dir, id, NULL);
	struct stat st;

	g_assert_cmpint(stat(path, &st), ==, 0);
	for (int delta = -1; delta <= 1; delta += 2) {
		g_autoptr(RelayQueueEntry) back = NULL;
		g_autoptr(GError) err = NULL;

		g_assert_cmpint(truncate(path, st.st_size + delta), ==, 0);
		back = relay_queue_load(dir, id, &err);
		g_assert_null(back);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_assert_true(relay_queue_error_uncommitted(err));
	}
	hm_test_remove_tree(dir);
}

/* What is under a queue name but no queue file of ours is neither
 * followed (a link) nor shown (its content, in an error): `homemail
 * queue` runs as root in the relay user's directory. */
static void
test_not_queue_files(void)
{
	g_autofree char *dir = hm_test_tmpdir("queue-links");
	g_autofree char *out = hm_test_tmpdir("queue-outside");
	g_autofree char *secret = g_build_filename(out, "secret", NULL);
	g_autofree char *state = g_build_filename(out, "state", NULL);
	g_autoptr(RelayQueueEntry) e = sample();
	g_autofree char *id = write_entry(dir, e, "x\r\n");
	g_autofree char *state_name = g_strconcat(id, ".s", NULL);
	g_autofree char *state_path = g_build_filename(dir, state_name, NULL);
	g_autofree char *link = g_build_filename(dir, "06B1720000000003", NULL);
	g_autofree char *plain = g_build_filename(dir, "06B1720000000004", NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autofree char *listed = NULL;
	gsize len = 0;
	FILE *f;

	g_assert_true(g_file_set_contents(secret, "TOPSECRET root:x:0:0\nmore\n", -1, NULL));
	g_assert_cmpint(symlink(secret, link), ==, 0);
	g_assert_true(g_file_set_contents(plain, "TOPSECRET plain\n\nbody\n", -1, NULL));
	g_assert_null(relay_queue_load(dir, "06B1720000000003", &err));
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_nonnull(strstr(err->message, "symbolic link"));
	g_clear_error(&err);
	g_assert_null(relay_queue_load(dir, "06B1720000000004", &err));
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	g_assert_null(strstr(err->message, "TOPSECRET"));
	g_clear_error(&err);
	f = open_memstream(&listed, &len);
	g_assert_cmpint(relay_queue_show_list(dir, f, &err), ==, 0);
	g_assert_cmpint(relay_queue_show_entry(dir, "06B1720000000003", f, &err), ==, -1);
	fputs(err->message, f);
	g_clear_error(&err);
	g_assert_cmpint(relay_queue_show_entry(dir, "06B1720000000004", f, &err), ==, -1);
	fputs(err->message, f);
	g_clear_error(&err);
	fclose(f);
	g_assert_nonnull(strstr(listed, id));
	g_assert_nonnull(strstr(listed, "06B1720000000003 (unreadable"));
	g_assert_null(strstr(listed, "TOPSECRET"));

	/* Nor is the state beside an entry: a link to a good state file
	 * is refused all the same; a file that is no state is not shown. */
	relay_queue_state_format(e, text);
	g_assert_true(g_file_set_contents(state, text->str, (gssize)text->len, NULL));
	g_assert_cmpint(symlink(state, state_path), ==, 0);
	g_assert_null(relay_queue_load(dir, id, &err));
	g_assert_nonnull(strstr(err->message, "symbolic link"));
	g_clear_error(&err);
	g_assert_cmpint(unlink(state_path), ==, 0);
	g_assert_true(g_file_set_contents(state_path, "TOPSECRET state\n", -1, NULL));
	g_assert_null(relay_queue_load(dir, id, &err));
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	g_assert_null(strstr(err->message, "TOPSECRET"));
	hm_test_assert_file(secret, "TOPSECRET root:x:0:0\nmore\n");
	hm_test_remove_tree(dir);
	hm_test_remove_tree(out);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/queue/round-trip", test_round_trip);
	g_test_add_func("/queue/state", test_state);
	g_test_add_func("/queue/truncated", test_truncated);
	g_test_add_func("/queue/bad-envelopes", test_bad_envelopes);
	g_test_add_func("/queue/bad-state", test_bad_state);
	g_test_add_func("/queue/ids", test_ids);
	g_test_add_func("/queue/id-clash", test_id_clash);
	g_test_add_func("/queue/retire", test_retire);
	g_test_add_func("/queue/held", test_held);
	g_test_add_func("/queue/stored-size", test_stored_size);
	g_test_add_func("/queue/envelope-controls", test_envelope_controls);
	g_test_add_func("/queue/envelope-read", test_envelope_read);
	g_test_add_func("/queue/envelope-read-chunks", test_envelope_read_chunks);
	g_test_add_func("/queue/reads-envelope-only", test_reads_envelope_only);
	g_test_add_func("/queue/show-header", test_show_header);
	g_test_add_func("/queue/large-truncated", test_large_truncated);
	g_test_add_func("/queue/not-queue-files", test_not_queue_files);
	return g_test_run();
}
