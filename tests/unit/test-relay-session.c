/* Whole SMTP sessions on a socket pair: the server side is the real
 * relay_session_run() in a thread, writing into a real queue directory;
 * the client side speaks SMTP by hand. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "conf/hmconfig.h"
#include "lib/base64.h"
#include "lib/conn.h"
#include "relay/queue.h"
#include "relay/session.h"
#include "testutil.h"

/* openssl passwd -6 -salt unittestsalt secret */
#define HASH "$6$unittestsalt$Exz/VHxuZjJcZaAtAngIF9Q.rmwAWRBbc3qBqXimZAVJ3WTON4ujIgWw0Tqcddrhb05x5lqWbYQ8WzqJpT6eY1"

static char *tmpdir;
static char *queue_dir;
static HmConfig *cfg;
static RelayRewriter *rw;
static HmGroupCommit *gc;
static HmGroupCommit *mail_gc;

typedef struct {
	gboolean trusted;
	gboolean plaintext_ok;
	gboolean at_once;      /* the session may deliver local mail at once */
} Client;

typedef struct {
	HmConn *server_conn;
	RelaySessionParams params;
	int rc;
} Server;

static gpointer
server_thread(gpointer p)
{
	Server *sv = p;

	sv->rc = relay_session_run(sv->server_conn, &sv->params);
	hm_conn_free(sv->server_conn);
	return NULL;
}

/* Runs a session: sends input (all at once: a pipelining client), closes
 * its side and returns everything the server said. */
static char *
transcript(const Client *c, const char *input, gsize len)
{
	Server sv = { 0 };
	int fds[2];
	GThread *th;
	HmConn *client;
	g_autoptr(GString) out = g_string_new(NULL);

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
	client = hm_conn_new(fds[0], 5000);
	sv.server_conn = hm_conn_new(fds[1], 5000);
	sv.params = (RelaySessionParams){
		.cfg = cfg,
		.rw = rw,
		.peer = "192.0.2.7",
		.trusted = c->trusted,
		.plaintext_ok = c->plaintext_ok,
		.queue_dir = queue_dir,
		.gc = gc,
		.mail_gc = c->at_once ? mail_gc : NULL,
		.pickup_fd = -1,
	};
	th = g_thread_new("session", server_thread, &sv);
	g_assert_cmpint(hm_conn_write(client, input, len, NULL), ==, 0);
	g_assert_cmpint(hm_conn_flush(client, NULL), ==, 0);
	for (;;) {
		HmLine l;

		if (hm_conn_read_line(client, 100000, 0, &l, NULL) != HM_IO_OK)
			break;
		g_string_append_len(out, l.data, (gssize)l.len);
		g_string_append_c(out, '\n');
	}
	hm_conn_free(client);
	g_thread_join(th);
	return g_strdup(out->str);
}

static char *
run(const Client *c, const char *input)
{
	return transcript(c, input, strlen(input));
}

/* The queue IDs in a transcript's "queued as" replies. */
static GPtrArray *
queued(const char *out)
{
	GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
	const char *p = out;

	while ((p = strstr(p, "queued as ")) != NULL) {
		p += 10;
		g_ptr_array_add(ids, g_strndup(p, 16));
	}
	return ids;
}

static char *
message_of(const char *id, RelayQueueEntry **entry)
{
	g_autoptr(GError) err = NULL;
	RelayQueueEntry *e = relay_queue_load(queue_dir, id, &err);
	g_autoptr(GBytes) b = NULL;

	g_assert_no_error(err);
	b = relay_queue_message(queue_dir, e, &err);
	g_assert_no_error(err);
	if (entry != NULL)
		*entry = e;
	else
		relay_queue_entry_free(e);
	return g_strndup(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
}

/* The text of the one message a transcript queued (fails on none or
 * more). */
static char *
only_message(const char *out)
{
	g_autoptr(GPtrArray) ids = queued(out);

	g_assert_cmpuint(ids->len, ==, 1);
	return message_of(ids->pdata[0], NULL);
}

static const Client stranger = { FALSE, FALSE, FALSE };
static const Client lan = { TRUE, TRUE, FALSE };
static const Client lan_at_once = { TRUE, TRUE, TRUE };

static void
test_ehlo(void)
{
	g_autofree char *out = run(&stranger, "EHLO client.example\r\nQUIT\r\n");
	g_autofree char *lan_out = run(&lan, "EHLO pc\r\nQUIT\r\n");

	g_assert_true(g_str_has_prefix(out, "220 box.example ESMTP"));
	g_assert_nonnull(strstr(out, "250-box.example\n"));
	g_assert_nonnull(strstr(out, "250-PIPELINING\n"));
	g_assert_nonnull(strstr(out, "250-SIZE 1000000\n"));
	g_assert_nonnull(strstr(out, "250-8BITMIME\n"));
	g_assert_nonnull(strstr(out, "250-ENHANCEDSTATUSCODES\n"));
	g_assert_nonnull(strstr(out, "250-SMTPUTF8\n"));
	g_assert_nonnull(strstr(out, "250-DSN\n"));
	g_assert_nonnull(strstr(out, "250 CHUNKING\n"));
	/* No TLS here, and this client may not send a password in clear. */
	g_assert_null(strstr(out, "STARTTLS"));
	g_assert_null(strstr(out, "AUTH"));
	g_assert_true(g_str_has_suffix(out, "221 2.0.0 Bye\n"));
	g_assert_nonnull(strstr(lan_out, "250-AUTH PLAIN LOGIN\n"));
}

static void
test_deliver_local(void)
{
	g_autofree char *out = run(&stranger, "EHLO client.example\r\n"
	                                      "MAIL FROM:<bob@remote.example> SIZE=50\r\n"
	                                      "RCPT TO:<Alice+news@BOX.example>\r\n"
	                                      "DATA\r\n"
	                                      "Subject: hi\r\n\r\n..dot\r\nbody\nbare\r\n.\r\n"
	                                      "QUIT\r\n");
	g_autoptr(GPtrArray) ids = queued(out);
	g_autofree char *msg = NULL;
	RelayQueueEntry *e = NULL;

	g_assert_nonnull(strstr(out, "250 2.1.0 Ok\n250 2.1.5 Ok\n354 "));
	g_assert_cmpuint(ids->len, ==, 1);
	msg = message_of(ids->pdata[0], &e);
	g_assert_cmpstr(e->sender, ==, "bob@remote.example");
	g_assert_cmpuint(e->rcpts->len, ==, 1);
	/* Local part as given, domain lower-cased by the parser. */
	g_assert_cmpstr(relay_queue_rcpt(e, 0)->addr, ==, "Alice+news@box.example");
	g_assert_cmpstr(e->helo, ==, "client.example");
	/* Our trace first, with the client; then the message, unstuffed,
	 * every line ending in CRLF; nothing added for a stranger. */
	g_assert_true(g_str_has_prefix(msg, "Received: from client.example ([192.0.2.7])\r\n"));
	g_assert_true(g_str_has_suffix(msg, "Subject: hi\r\n\r\n.dot\r\nbody\r\nbare\r\n"));
	g_assert_null(strstr(msg, "Message-ID:"));
	relay_queue_entry_free(e);
}

/* The files in a Maildir subfolder of alice's. */
static GPtrArray *
alice_files(const char *sub)
{
	g_autofree char *dir = g_build_filename(tmpdir, "mail", "alice", sub, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *n;

	while (d != NULL && (n = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_build_filename(dir, n, NULL));
	return names;
}

static guint
queue_size(void)
{
	g_autoptr(GPtrArray) ids = relay_queue_list(queue_dir, NULL);

	return ids->len;
}

/* Mail for local Maildir users only is delivered in the session: one
 * copy per recipient in new/ (with the trace, Return-Path: and
 * Delivered-To:), nothing in tmp/ or the queue, and the 250 says so.
 * Whatever the runner must handle is queued as before. */
static void
test_deliver_at_once(void)
{
	static const char two[] = "EHLO pc\r\n"
	                          "MAIL FROM:<bob@remote.example>\r\nRCPT TO:<alice@box.example>\r\n"
	                          "RCPT TO:<postmaster@box.example>\r\nDATA\r\n"
	                          "Subject: one\r\n\r\nbody one\r\n.\r\n"
	                          "MAIL FROM:<>\r\nRCPT TO:<alice@box.example>\r\n"
	                          "BDAT 21 LAST\r\nSubject: two\r\n\r\ntwo\r\nQUIT\r\n";
	guint before = queue_size();
	g_autoptr(GPtrArray) was = alice_files("new");
	g_autofree char *out = run(&lan_at_once, two);
	g_autoptr(GPtrArray) now = alice_files("new");
	g_autoptr(GPtrArray) tmp = alice_files("tmp");
	g_autoptr(GPtrArray) ids = queued(out);
	guint ones = 0, twos = 0;

	g_assert_cmpuint(ids->len, ==, 0);
	g_assert_true(g_regex_match_simple("^250 2.0.0 Ok: delivered as \\S+\n.*"
	                                   "^250 2.0.0 Ok: delivered as \\S+\n221 ",
	                                   out, G_REGEX_MULTILINE | G_REGEX_DOTALL, 0));
	g_assert_cmpuint(queue_size(), ==, before);
	g_assert_cmpuint(tmp->len, ==, 0);
	/* Two copies of the first (alice, and postmaster her alias), one of
	 * the second. */
	g_assert_cmpuint(now->len, ==, was->len + 3);
	for (guint i = 0; i < now->len; i++) {
		g_autofree char *text = NULL;

		g_assert_true(g_file_get_contents(now->pdata[i], &text, NULL, NULL));
		if (strstr(text, "Subject: one") != NULL) {
			ones++;
			g_assert_true(g_str_has_prefix(text, "Return-Path: <bob@remote.example>\n"));
			g_assert_true(g_str_has_suffix(text, "\n\nbody one\n"));
		} else if (strstr(text, "Subject: two") != NULL) {
			twos++;
			g_assert_true(g_str_has_prefix(text, "Return-Path: <>\nDelivered-To: alice@box.example\n"
			                                     "Received: from pc ([192.0.2.7])\n"));
		}
	}
	g_assert_cmpuint(ones, ==, 2);
	g_assert_cmpuint(twos, ==, 1);
}

/* What the session must not deliver itself is queued: a success notice
 * asked for, a recipient off the box, a Maildir that cannot be written
 * (nothing of the message is left in the other recipient's then). */
static void
test_at_once_or_queued(void)
{
	g_autofree char *dave = g_build_filename(tmpdir, "mail", "dave", NULL);
	g_autoptr(GPtrArray) was = NULL, now = NULL;
	g_autofree char *notify = run(&lan_at_once,
	                              "EHLO pc\r\nMAIL FROM:<bob@remote.example>\r\n"
	                              "RCPT TO:<alice@box.example> NOTIFY=SUCCESS\r\n"
	                              "DATA\r\nx\r\n.\r\nQUIT\r\n");
	g_autofree char *mixed = run(&lan_at_once,
	                             "EHLO pc\r\nMAIL FROM:<bob@remote.example>\r\n"
	                             "RCPT TO:<alice@box.example>\r\nRCPT TO:<carol@elsewhere.example>\r\n"
	                             "DATA\r\nx\r\n.\r\nQUIT\r\n");
	g_autofree char *broken = NULL;
	g_autoptr(GPtrArray) a = queued(notify), b = queued(mixed), c = NULL;

	g_assert_cmpuint(a->len, ==, 1);
	g_assert_cmpuint(b->len, ==, 1);

	/* dave's Maildir a file: his copy cannot be staged, so the message
	 * is queued, and alice's copy, staged first, is removed. */
	g_free(run(&lan_at_once, "EHLO pc\r\nMAIL FROM:<>\r\nRCPT TO:<alice@box.example>\r\n"
	                         "DATA\r\nfirst\r\n.\r\nQUIT\r\n"));
	was = alice_files("new");
	g_assert_true(g_file_set_contents(dave, "not a Maildir", -1, NULL));
	broken = run(&lan_at_once, "EHLO pc\r\nMAIL FROM:<>\r\nRCPT TO:<alice@box.example>\r\n"
	                           "RCPT TO:<dave@box.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
	g_assert_cmpint(g_unlink(dave), ==, 0);
	c = queued(broken);
	g_assert_cmpuint(c->len, ==, 1);
	now = alice_files("new");
	g_assert_cmpuint(now->len, ==, was->len);
	g_clear_pointer(&now, g_ptr_array_unref);
	now = alice_files("tmp");
	g_assert_cmpuint(now->len, ==, 0);
}

/* SMTP smuggling: only <CRLF>.<CRLF> ends DATA; every other dot line is
 * content, so no second message can hide in the first. */
static void
test_smuggling(void)
{
	static const char input[] = "EHLO x\r\nMAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<alice@box.example>\r\nDATA\r\n"
	                            "Subject: one\r\n\r\nA\n.\nMAIL FROM:<evil@x>\r\n"
	                            "B\r\n.\nC\n.\r\nD\r.\rE\r\n.\r\nQUIT\r\n";
	g_autofree char *out = run(&stranger, input);
	g_autofree char *msg = only_message(out);

	g_assert_true(g_str_has_suffix(msg, "\r\n\r\nA\r\n.\r\nMAIL FROM:<evil@x>\r\n"
	                                    "B\r\n.\r\nC\r\n.\r\nD\r.\rE\r\n"));
	/* One 250 for the message, then QUIT: nothing else was a command. */
	g_assert_true(g_str_has_suffix(out, "\n221 2.0.0 Bye\n"));
	/* As reply codes at the start of a line: a queue ID may hold "502". */
	g_assert_false(g_regex_match_simple("^50[23] ", out, G_REGEX_MULTILINE, 0));
}

static void
test_not_open_relay(void)
{
	g_autofree char *out = run(&stranger, "EHLO x\r\nMAIL FROM:<bob@remote.example>\r\n"
	                                      "RCPT TO:<carol@elsewhere.example>\r\n"
	                                      "RCPT TO:<carol@[192.0.2.1]>\r\n"
	                                      "RCPT TO:<nobody@box.example>\r\n"
	                                      "RCPT TO:<postmaster>\r\n"
	                                      "DATA\r\nx\r\n.\r\nQUIT\r\n");
	g_autofree char *trusted = run(&lan, "EHLO x\r\nMAIL FROM:<bob@remote.example>\r\n"
	                                     "RCPT TO:<carol@elsewhere.example>\r\nQUIT\r\n");

	g_assert_nonnull(strstr(out, "554 5.7.1 <carol@elsewhere.example>: Relay access denied\n"));
	g_assert_nonnull(strstr(out, "554 5.7.1 <carol@[192.0.2.1]>: Relay access denied\n"));
	g_assert_nonnull(strstr(out, "550 5.1.1 <nobody@box.example>:"));
	/* <postmaster> is always accepted (RFC 5321 4.5.1). */
	g_assert_nonnull(strstr(out, "250 2.1.5 Ok\n354"));
	g_assert_nonnull(strstr(trusted, "250 2.1.5 Ok\n221"));
}

static void
test_size(void)
{
	g_autoptr(GString) big = g_string_new("EHLO x\r\nMAIL FROM:<bob@remote.example> SIZE=2000000\r\n"
	                                      "MAIL FROM:<bob@remote.example>\r\n"
	                                      "RCPT TO:<alice@box.example>\r\nDATA\r\n");
	g_autofree char *out = NULL;
	g_autoptr(GPtrArray) ids = NULL;

	for (int i = 0; i < 20000; i++)
		g_string_append(big, "0123456789012345678901234567890123456789012345678901234567890\r\n");
	g_string_append(big, ".\r\nQUIT\r\n");
	out = transcript(&stranger, big->str, big->len);
	ids = queued(out);
	g_assert_nonnull(strstr(out, "552 5.3.4"));
	g_assert_nonnull(strstr(out, "Message size exceeds fixed maximum message size\n"));
	g_assert_nonnull(strstr(out, "552 5.3.4 Error: message file too big\n221"));
	g_assert_cmpuint(ids->len, ==, 0);
}

static void
test_auth(void)
{
	g_autofree char *b64 = hm_base64_encode((const guint8 *)"\0alice\0secret", 13);
	g_autofree char *bad_b64 = hm_base64_encode((const guint8 *)"\0alice\0wrong", 12);
	g_autofree char *in = g_strdup_printf("EHLO x\r\nAUTH PLAIN %s\r\n"
	                                      "MAIL FROM:<bob@remote.example>\r\n"
	                                      "MAIL FROM:<alice@box.example>\r\n"
	                                      "RCPT TO:<carol@elsewhere.example>\r\nRSET\r\n"
	                                      "MAIL FROM:<alice@isp.example>\r\nQUIT\r\n",
	                                      b64);
	g_autofree char *clear_in = g_strdup_printf("EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n", b64);
	g_autofree char *bad_in = g_strdup_printf("EHLO x\r\nAUTH PLAIN %s\r\nQUIT\r\n", bad_b64);
	Client lan_clear_ok = { FALSE, TRUE, FALSE };
	g_autofree char *out = run(&lan_clear_ok, in);
	g_autofree char *refused = run(&stranger, clear_in);
	g_autofree char *bad = run(&lan_clear_ok, bad_in);

	g_assert_nonnull(strstr(out, "235 2.7.0 Authentication successful\n"));
	/* Only their own addresses (and send_as) as sender. */
	g_assert_nonnull(strstr(out, "553 5.7.1 <bob@remote.example>: Sender address rejected"));
	g_assert_nonnull(strstr(out, "250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.0.0 Ok\n250 2.1.0 Ok\n"));
	g_assert_nonnull(strstr(refused, "538 5.7.11 Encryption required"));
	g_assert_null(strstr(refused, "235"));
	g_assert_nonnull(strstr(bad, "535 5.7.8 Error: authentication failed\n"));
}

static void
test_bdat(void)
{
	static const char input[] = "EHLO x\r\nMAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<alice@box.example>\r\n"
	                            "BDAT 12\r\nSubject: a\n\n"
	                            "BDAT 8 LAST\r\nx\n.\nend\n"
	                            "QUIT\r\n";
	g_autofree char *out = run(&stranger, input);
	g_autofree char *msg = only_message(out);

	g_assert_nonnull(strstr(out, "250 2.0.0 12 octets received\n"));
	g_assert_true(g_str_has_suffix(msg, "Subject: a\r\n\r\nx\r\n.\r\nend\r\n"));
}

/* Body lines in CRLF go on whole; a CR at the end of one chunk and its LF
 * at the start of the next, bare LF lines among CRLF ones, and a last line
 * without an end are each stored as one CRLF line. */
static void
test_bdat_body_lines(void)
{
	static const char input[] = "EHLO x\r\nMAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<alice@box.example>\r\n"
	                            "BDAT 33\r\nSubject: b\r\n\r\nline one\r\nline two\r"
	                            "BDAT 15\r\n\nbare\nthree\r\n\r\n"
	                            "BDAT 12 LAST\r\nlast\r\nno end"
	                            "QUIT\r\n";
	g_autofree char *out = run(&stranger, input);
	g_autofree char *msg = only_message(out);

	g_assert_true(g_str_has_suffix(msg, "Subject: b\r\n\r\nline one\r\nline two\r\nbare\r\n"
	                                    "three\r\n\r\nlast\r\nno end\r\n"));
}

/* A BDAT whose transaction has no recipient still has its chunk read:
 * its data must never be taken for commands. */
static void
test_bdat_out_of_sequence(void)
{
	static const char input[] = "EHLO x\r\nMAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<nobody@box.example>\r\n"
	                            "BDAT 27 LAST\r\nRCPT TO:<carol@x.example>\r\n"
	                            "BDAT 6\r\nQUIT\r\n"
	                            "NOOP\r\nQUIT\r\n";
	g_autofree char *out = run(&lan, input);

	g_assert_nonnull(strstr(out, "550 5.1.1"));
	g_assert_nonnull(strstr(out, "503 5.5.1 Error: need RCPT command\n"
	                             "503 5.5.1 Error: need MAIL command\n"
	                             "250 2.0.0 Ok\n221 2.0.0 Bye\n"));
	g_assert_null(strstr(out, "250 2.1.5"));
}

/* A NUL octet anywhere (header, a body line, a BDAT body in CRLF lines
 * that goes on whole) refuses the message at its end, as
 * homemail-sendmail refuses it; the session stays in step and the next
 * message is taken. */
static void
test_nul(void)
{
	static const char input[] = "EHLO x\r\nMAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<alice@box.example>\r\nDATA\r\n"
	                            "Subject: n\0l\r\n\r\nx\r\n.\r\n"
	                            "MAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<alice@box.example>\r\nDATA\r\n"
	                            "Subject: n\r\n\r\nbin\0ary\r\n.\r\n"
	                            "MAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<alice@box.example>\r\n"
	                            "BDAT 13\r\nSubject: b\r\n\r\n"
	                            "BDAT 7 LAST\r\na\r\nb\0\r\n"
	                            "MAIL FROM:<bob@remote.example>\r\n"
	                            "RCPT TO:<alice@box.example>\r\nDATA\r\n"
	                            "Subject: ok\r\n\r\nfine\r\n.\r\nQUIT\r\n";
	g_autofree char *out = transcript(&stranger, input, sizeof(input) - 1);
	g_auto(GStrv) parts = g_strsplit(out, "554 5.6.0 Error: message contains a NUL byte", -1);
	g_autofree char *msg = only_message(out);

	g_assert_cmpuint(g_strv_length(parts) - 1, ==, 3);
	g_assert_true(g_str_has_suffix(msg, "Subject: ok\r\n\r\nfine\r\n"));
	g_assert_true(g_str_has_suffix(out, "\n221 2.0.0 Bye\n"));
}

static void
test_add_missing(void)
{
	g_autofree char *out = run(&lan, "EHLO pc\r\nMAIL FROM:<alice@box.example>\r\n"
	                                 "RCPT TO:<alice@box.example>\r\nDATA\r\n"
	                                 "Subject: hi\r\n\r\nbody\r\n.\r\n"
	                                 "MAIL FROM:<alice@box.example>\r\n"
	                                 "RCPT TO:<alice@box.example>\r\nDATA\r\n"
	                                 "Message-ID: <x@y>\r\nDate: Fri, 4 Dec 2026 17:55:28 +0000\r\n"
	                                 "\r\nbody\r\n.\r\nQUIT\r\n");
	g_autoptr(GPtrArray) ids = queued(out);
	g_autofree char *one = NULL, *two = NULL;

	g_assert_cmpuint(ids->len, ==, 2);
	one = message_of(ids->pdata[0], NULL);
	two = message_of(ids->pdata[1], NULL);
	g_assert_nonnull(strstr(one, "Subject: hi\r\nDate: "));
	g_assert_nonnull(strstr(one, "\r\nMessage-ID: <"));
	g_assert_nonnull(strstr(one, "@box.example>\r\n\r\nbody\r\n"));
	g_assert_null(strstr(two, "Message-ID: <x@y>\r\nDate: Fri, 4 Dec 2026 17:55:28 +0000\r\n"
	                          "Date:"));
	g_assert_true(g_str_has_suffix(two, "Date: Fri, 4 Dec 2026 17:55:28 +0000\r\n\r\nbody\r\n"));
}

static void
test_sequence_and_abuse(void)
{
	g_autoptr(GString) in = g_string_new("MAIL FROM:<a@b.example>\r\nEHLO x\r\n"
	                                     "RCPT TO:<alice@box.example>\r\nDATA\r\n");
	g_autofree char *out = NULL;
	g_auto(GStrv) parts = NULL;

	for (int i = 0; i < 25; i++)
		g_string_append(in, "BOGUS\r\n");
	out = transcript(&stranger, in->str, in->len);
	parts = g_strsplit(out, "502 5.5.2", -1);
	g_assert_nonnull(strstr(out, "503 5.5.1 Error: send HELO/EHLO first\n"));
	g_assert_nonnull(strstr(out, "503 5.5.1 Error: need MAIL command\n"));
	g_assert_nonnull(strstr(out, "503 5.5.1 Error: need RCPT command\n"));
	/* Hung up after the 20th bad command. */
	g_assert_cmpuint(g_strv_length(parts) - 1, ==, 20);
}

static void
setup(void)
{
	g_autofree char *path = NULL;
	g_autofree char *text = NULL;
	g_autofree char *mail = NULL;
	g_autoptr(GError) err = NULL;
	const char *names[] = { "localhost", NULL };

	tmpdir = hm_test_tmpdir("relay-session");
	queue_dir = g_build_filename(tmpdir, "queue", NULL);
	g_assert_cmpint(g_mkdir(queue_dir, 0700), ==, 0);
	path = g_build_filename(tmpdir, "homemail.conf", NULL);
	text = g_strdup_printf("hostname = \"box.example\";\n"
	                       "state_dir = \"%s\";\nmail_dir = \"%s/mail\";\n"
	                       "local_domains = [ \"box.example\", \"localhost\" ];\n"
	                       "users = ( { name = \"alice\"; password = \"%s\";\n"
	                       "            send_as = \"alice@isp.example\"; },\n"
	                       "          { name = \"dave\"; password = \"%s\"; } );\n"
	                       "aliases = { postmaster = \"alice\"; };\n"
	                       "relay = { max_message_size = 1000000; };\n",
	                       tmpdir, tmpdir, HASH, HASH);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	cfg = hm_config_load(path, NULL, NULL, &err);
	g_assert_no_error(err);
	rw = relay_rewriter_new(cfg, names);
	gc = hm_group_commit_new(queue_dir, &err);
	g_assert_no_error(err);
	mail = g_build_filename(tmpdir, "mail", NULL);
	g_assert_cmpint(g_mkdir(mail, 0700), ==, 0);
	mail_gc = hm_group_commit_new(mail, &err);
	g_assert_no_error(err);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	setup();
	g_test_add_func("/relay-session/ehlo", test_ehlo);
	g_test_add_func("/relay-session/deliver-local", test_deliver_local);
	g_test_add_func("/relay-session/deliver-at-once", test_deliver_at_once);
	g_test_add_func("/relay-session/at-once-or-queued", test_at_once_or_queued);
	g_test_add_func("/relay-session/smuggling", test_smuggling);
	g_test_add_func("/relay-session/not-open-relay", test_not_open_relay);
	g_test_add_func("/relay-session/size", test_size);
	g_test_add_func("/relay-session/auth", test_auth);
	g_test_add_func("/relay-session/bdat", test_bdat);
	g_test_add_func("/relay-session/bdat-body-lines", test_bdat_body_lines);
	g_test_add_func("/relay-session/bdat-out-of-sequence", test_bdat_out_of_sequence);
	g_test_add_func("/relay-session/nul", test_nul);
	g_test_add_func("/relay-session/add-missing", test_add_missing);
	g_test_add_func("/relay-session/sequence-and-abuse", test_sequence_and_abuse);
	rc = g_test_run();
	hm_group_commit_free(gc);
	hm_group_commit_free(mail_gc);
	relay_rewriter_free(rw);
	hm_config_free(cfg);
	hm_test_remove_tree(tmpdir);
	return rc;
}
