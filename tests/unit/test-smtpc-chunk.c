/* Transactions back to back with BDAT (lib/smtpc-chunk.c) against the
 * scripted server: what is sent, in what form, and how the replies of a
 * group are matched to its messages. */
#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "lib/net.h"
#include "lib/smtpc.h"
#include "testutil.h"

/* The start of a script whose server offers PIPELINING and CHUNKING, so
 * that transactions go as one MAIL/RCPT/BDAT group. */
#define CHUNKING_GREETING                             \
	"S:220 box.test ESMTP", "C:EHLO client.test", \
		"R:250-box.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n"

static HmSmtpClient *
started(HmTestPeer *p)
{
	g_autoptr(GError) err = NULL;
	int fd = hm_connect_tcp("127.0.0.1", p->port, NULL, 2000, &err);
	HmSmtpClient *c;

	g_assert_no_error(err);
	c = hm_smtpc_new(hm_conn_new(fd, 2000), HM_SMTP_PROTO_SMTP, "client.test");
	g_assert_cmpint(hm_smtpc_start(c, &err), ==, 0);
	return c;
}

static void
test_group(void)
{
	/* The second message: bare LF lines, a dot line (never doubled in
	 * BDAT), no final line end: 8 + 3 + 3 + the CRLF it gets octets. */
	static const char *const script[] = {
		"S:220 box.test ESMTP",
		"C:EHLO client.test",
		"R:250-box.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n"
		"250 CHUNKING\r\n",
		"C:MAIL FROM:<a@x.example> SIZE=27 BODY=8BITMIME",
		"C:RCPT TO:<one@box.test>",
		"C:BDAT 27 LAST",
		"C:Received: x",
		"C:Subject: 1",
		"C:",
		"C:MAIL FROM:<> SIZE=16 BODY=8BITMIME",
		"C:RCPT TO:<two@box.test>",
		"C:BDAT 16 LAST",
		"C:line 2",
		"C:.",
		"C:end",
		/* Only now, with everything sent, the replies of the group. */
		"R:250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 queued as A\r\n"
		"250 2.1.0 Ok\r\n550 5.1.1 no such user\r\n503 5.5.1 need RCPT\r\n",
		/* A third message, sent after the first was collected and before
		 * the second was: the replies are matched in order all the same. */
		"C:MAIL FROM:<a@x.example> SIZE=3 BODY=8BITMIME",
		"C:RCPT TO:<three@box.test>",
		"C:BDAT 3 LAST",
		"C:3",
		"R:250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 queued as C\r\n",
		"C:QUIT",
		"S:221 bye",
		NULL,
	};
	HmTestPeer *p = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);
	HmSmtpClient *c;
	HmSmtpRcptStatus st[3];
	g_autoptr(GError) err = NULL;

	hm_test_peer_start(p);
	c = started(p);
	g_assert_true(hm_smtpc_can_chunk(c));
	g_assert_cmpint(hm_smtpc_send_chunked(c, "a@x.example", "one@box.test", "Received: x\r\n",
	                                      13, "Subject: 1\r\n\r\n", 14, &err), ==, 0);
	g_assert_cmpint(hm_smtpc_send_chunked(c, "", "two@box.test", NULL, 0, "line 2\n.\nend", 12,
	                                      &err), ==, 0);
	/* No more than were sent can be collected. */
	g_assert_cmpint(hm_smtpc_collect(c, st, 3, &err), ==, -1);
	g_clear_error(&err);
	g_assert_cmpint(hm_smtpc_send_chunked(c, "a@x.example", "bad>@x", NULL, 0, "x", 1, &err),
	                ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	g_clear_error(&err);
	/* The first alone: the second stays outstanding. */
	g_assert_cmpint(hm_smtpc_collect(c, st, 1, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(st[0].code, ==, 250);
	g_assert_cmpstr(st[0].reply, ==, "250 2.0.0 queued as A");
	hm_smtp_rcpt_status_clear(st, 1);
	g_assert_cmpint(hm_smtpc_send_chunked(c, "a@x.example", "three@box.test", NULL, 0, "3", 1,
	                                      &err), ==, 0);
	g_assert_cmpint(hm_smtpc_collect(c, st, 2, &err), ==, 0);
	g_assert_no_error(err);
	/* The refusal of RCPT decides, not the 503 that follows it. */
	g_assert_cmpuint(st[0].code, ==, 550);
	g_assert_cmpstr(st[0].reply, ==, "550 5.1.1 no such user");
	g_assert_cmpuint(st[1].code, ==, 250);
	g_assert_cmpstr(st[1].reply, ==, "250 2.0.0 queued as C");
	hm_smtp_rcpt_status_clear(st, 2);
	g_assert_cmpint(hm_smtpc_collect(c, st, 0, &err), ==, 0);
	hm_smtpc_quit(c);
	hm_smtpc_free(c);
	hm_test_peer_join(p);
	hm_test_peer_free(p);
}

/* A server without CHUNKING: nothing is sent. */
static void
test_not_offered(void)
{
	static const char *const script[] = {
		"S:220 box.test ESMTP",
		"C:EHLO client.test",
		"R:250-box.test\r\n250 PIPELINING\r\n",
		"C:QUIT",
		"S:221 bye",
		NULL,
	};
	HmTestPeer *p = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);
	HmSmtpClient *c;
	g_autoptr(GError) err = NULL;

	hm_test_peer_start(p);
	c = started(p);
	g_assert_false(hm_smtpc_can_chunk(c));
	g_assert_cmpint(hm_smtpc_send_chunked(c, "", "a@b.example", NULL, 0, "x", 1, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_FAILED);
	hm_smtpc_quit(c);
	hm_smtpc_free(c);
	hm_test_peer_join(p);
	hm_test_peer_free(p);
}

/* hm_smtpc_transaction_params() with PIPELINING and CHUNKING offered: the
 * whole transaction goes before any reply is read (the script answers only
 * after the message), "BDAT n LAST" stands where DATA would, and the
 * replies are matched as DATA's would be: a refused RCPT keeps its own, the
 * others get BDAT's; a refused MAIL decides for all, not the 503s after
 * it; either refusal is followed by RSET, and the session goes on. A 3xx
 * to BDAT breaks it. */
static void
test_transaction(void)
{
	static const char *const script[] = {
		"S:220 box.test ESMTP",
		"C:EHLO client.test",
		"R:250-box.test\r\n250-PIPELINING\r\n250-DSN\r\n250-8BITMIME\r\n250 CHUNKING\r\n",
		"C:MAIL FROM:<s@x.example> BODY=8BITMIME RET=HDRS",
		"C:RCPT TO:<a@y.example> NOTIFY=NEVER",
		"C:RCPT TO:<b@y.example>",
		"C:RCPT TO:<c@y.example>",
		"C:BDAT 21 LAST",
		"C:Received: x",
		"C:",
		"C:.dot",
		"R:250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n250 2.1.5 Ok\r\n"
		"250 2.0.0 queued as Q\r\n",
		"C:RSET",
		"S:250 2.0.0 Ok",
		"C:MAIL FROM:<s@x.example> BODY=8BITMIME",
		"C:RCPT TO:<a@y.example>",
		"C:BDAT 3 LAST",
		"C:m",
		"R:451 4.3.0 try later\r\n503 5.5.1 need MAIL\r\n554 5.5.1 no valid recipients\r\n",
		"C:RSET",
		"S:250 2.0.0 Ok",
		"C:MAIL FROM:<> BODY=8BITMIME",
		"C:RCPT TO:<a@y.example>",
		"C:BDAT 3 LAST",
		"C:m",
		"R:250 Ok\r\n250 Ok\r\n354 what\r\n",
		"EOF",
		NULL,
	};
	HmTestPeer *p = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);
	const char *rcpts[] = { "a@y.example", "b@y.example", "c@y.example" };
	const char *rparams[] = { "NOTIFY=NEVER", NULL, NULL };
	HmSmtpTxnParams prm = { .mail_params = "RET=HDRS", .rcpt_params = rparams };
	HmSmtpRcptStatus st[3];
	g_autoptr(GError) err = NULL;
	HmSmtpClient *c;

	hm_test_peer_start(p);
	c = started(p);
	/* The bare LF becomes CRLF, one is added at the end, and the leading
	 * dot stays single: 13 + 2 + 6 octets. */
	g_assert_cmpint(hm_smtpc_transaction_params(c, "s@x.example", rcpts, 3, &prm,
	                                            "Received: x\r\n", 13, "\n.dot", 5, st, &err),
	                ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(st[0].code, ==, 250);
	g_assert_cmpstr(st[0].reply, ==, "250 2.0.0 queued as Q");
	g_assert_cmpuint(st[1].code, ==, 550);
	g_assert_cmpstr(st[1].reply, ==, "550 5.1.1 no such user");
	g_assert_cmpstr(st[2].reply, ==, "250 2.0.0 queued as Q");
	hm_smtp_rcpt_status_clear(st, 3);
	g_assert_false(hm_smtpc_broken(c));

	g_assert_cmpint(hm_smtpc_transaction(c, "s@x.example", rcpts, 1, NULL, 0, "m", 1, st, &err),
	                ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(st[0].code, ==, 451);
	g_assert_cmpstr(st[0].reply, ==, "451 4.3.0 try later");
	hm_smtp_rcpt_status_clear(st, 1);
	g_assert_false(hm_smtpc_broken(c));

	g_assert_cmpint(hm_smtpc_transaction(c, "", rcpts, 1, NULL, 0, "m", 1, st, &err), ==, -1);
	g_assert_nonnull(err);
	g_assert_cmpuint(st[0].code, ==, 0);
	hm_smtp_rcpt_status_clear(st, 1);
	g_assert_true(hm_smtpc_broken(c));
	hm_smtpc_free(c);
	hm_test_peer_join(p);
	hm_test_peer_free(p);
}

/* The group went out whole and the connection died before any reply: the
 * server may hold the message (it may answer only once it is durable), so
 * this is no "lost at MAIL" that could be resent at once. */
static void
test_lost_after_group(void)
{
	static const char *const script[] = {
		CHUNKING_GREETING,
		"C:MAIL FROM:<s@x.example>",
		"C:RCPT TO:<a@y.example>",
		"C:BDAT 3 LAST",
		"C:m",
		"CLOSE",
		"ACCEPT",
		CHUNKING_GREETING,
		"C:MAIL FROM:<s@x.example>",
		"C:RCPT TO:<a@y.example>",
		"C:BDAT 3 LAST",
		"C:m",
		"R:421 4.3.2 shutting down\r\n",
		"CLOSE",
		NULL,
	};
	HmTestPeer *p = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);
	const char *rcpts[] = { "a@y.example" };
	HmSmtpRcptStatus st[1];
	g_autoptr(GError) err = NULL;
	HmSmtpClient *c;

	hm_test_peer_start(p);
	c = started(p);
	g_assert_cmpint(hm_smtpc_transaction(c, "s@x.example", rcpts, 1, NULL, 0, "m", 1, st, &err),
	                ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_cmpuint(st[0].code, ==, 0);
	g_assert_false(hm_smtpc_lost_at_mail(c));
	hm_smtp_rcpt_status_clear(st, 1);
	hm_smtpc_free(c);
	g_clear_error(&err);
	/* A 421 to MAIL says the server took nothing. */
	c = started(p);
	hm_smtpc_transaction(c, "s@x.example", rcpts, 1, NULL, 0, "m", 1, st, &err);
	g_assert_true(hm_smtpc_broken(c));
	g_assert_true(hm_smtpc_lost_at_mail(c));
	hm_smtp_rcpt_status_clear(st, 1);
	hm_smtpc_free(c);
	hm_test_peer_join(p);
	hm_test_peer_free(p);
}

/* 32 MB of 71-octet lines: more than any socket buffers hold, so
 * sending it to a server that does not read must fail. */
static char *
big_message(gsize *len)
{
	char *msg;

	*len = 32 * 1024 * 1024;
	msg = g_malloc(*len);
	memset(msg, 'x', *len);
	for (gsize i = 70; i < *len; i += 72)
		msg[i] = '\n';
	return msg;
}

/* The server refuses MAIL and closes while a large message is still going
 * out: sending fails, but the refusal it had sent still decides, as it
 * would have after DATA, rather than "session lost" and a resend. */
static void
test_refused_then_closed(void)
{
	static const char *const script[] = {
		CHUNKING_GREETING,
		"C:MAIL FROM:<s@x.example>",
		"R:550 5.7.1 sender refused\r\n",
		"CLOSE",
		NULL,
	};
	HmTestPeer *p = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);
	const char *rcpts[] = { "a@y.example", "b@y.example" };
	HmSmtpRcptStatus st[2];
	g_autoptr(GError) err = NULL;
	gsize big;
	g_autofree char *msg = big_message(&big);
	HmSmtpClient *c;

	hm_test_peer_start(p);
	c = started(p);
	g_assert_cmpint(hm_smtpc_transaction(c, "s@x.example", rcpts, 2, NULL, 0, msg, big, st, &err),
	                ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	for (guint i = 0; i < 2; i++) {
		g_assert_cmpuint(st[i].code, ==, 550);
		g_assert_cmpstr(st[i].reply, ==, "550 5.7.1 sender refused");
	}
	g_assert_false(hm_smtpc_lost_at_mail(c));
	g_assert_true(hm_smtpc_broken(c));
	hm_smtp_rcpt_status_clear(st, 2);
	hm_smtpc_free(c);
	hm_test_peer_join(p);
	hm_test_peer_free(p);
}

/* A server that stops reading mid-message is a timeout, not a lost
 * connection: nothing says it holds nothing, so no resend at once. */
static void
test_stalled(void)
{
	static const char *const script[] = {
		CHUNKING_GREETING,
		"Z:1500",
		"CLOSE",
		NULL,
	};
	HmTestPeer *p = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);
	const char *rcpts[] = { "a@y.example" };
	HmSmtpRcptStatus st[1];
	g_autoptr(GError) err = NULL;
	gsize big;
	g_autofree char *msg = big_message(&big);
	HmSmtpClient *c;

	hm_test_peer_start(p);
	c = started(p);
	hm_smtpc_set_timeouts(c, 300, 300);
	g_assert_cmpint(hm_smtpc_transaction(c, "s@x.example", rcpts, 1, NULL, 0, msg, big, st, &err),
	                ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_assert_cmpuint(st[0].code, ==, 0);
	g_assert_false(hm_smtpc_lost_at_mail(c));
	hm_smtp_rcpt_status_clear(st, 1);
	hm_smtpc_free(c);
	hm_test_peer_join(p);
	hm_test_peer_free(p);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smtpc-chunk/group", test_group);
	g_test_add_func("/smtpc-chunk/not-offered", test_not_offered);
	g_test_add_func("/smtpc-chunk/transaction", test_transaction);
	g_test_add_func("/smtpc-chunk/lost-after-group", test_lost_after_group);
	g_test_add_func("/smtpc-chunk/refused-then-closed", test_refused_then_closed);
	g_test_add_func("/smtpc-chunk/stalled", test_stalled);
	return g_test_run();
}
