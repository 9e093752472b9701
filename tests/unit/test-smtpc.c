/* The SMTP/LMTP client engine: the pure reply and EHLO parsers (input split
 * at every offset, every bound), then transcripts against a scripted
 * server thread on 127.0.0.1: pipelined order, dot-stuffing, LMTP
 * per-recipient replies, refusals and RSET, broken servers, timeouts,
 * STARTTLS and AUTH PLAIN. */
#include <config.h>

#include <string.h>

#include "lib/conn.h"
#include "lib/error.h"
#include "lib/net.h"
#include "lib/smtpc.h"
#include "lib/tls.h"
#include "testutil.h"

/* ---- the pure parsers -------------------------------------------------- */

static int
parse(const char *text, HmSmtpReply *r, gsize *used, GError **err)
{
	hm_smtp_reply_init(r);
	return hm_smtp_reply_parse(text, strlen(text), r, used, err);
}

static void
test_reply_multiline(void)
{
	static const char in[] = "250-box.test hello\r\n250-2.0.0 second\n250 2.0.0 last\r\nnext";
	HmSmtpReply r;
	gsize used = 0;
	g_autofree char *one = NULL;

	g_assert_cmpint(parse(in, &r, &used, NULL), ==, 1);
	g_assert_cmpuint(used, ==, strlen(in) - 4);
	g_assert_cmpuint(r.code, ==, 250);
	g_assert_cmpuint(r.n_lines, ==, 3);
	g_assert_cmpstr(r.enhanced, ==, "");  /* the first line has none */
	g_assert_cmpstr(r.text->str, ==, "box.test hello\nsecond\nlast");
	one = hm_smtp_reply_oneline(&r);
	g_assert_cmpstr(one, ==, "250 box.test hello second last");
	hm_smtp_reply_clear(&r);

	/* Every prefix is incomplete: a reply split anywhere reassembles. */
	for (gsize cut = 0; cut < strlen(in) - 4; cut++) {
		hm_smtp_reply_init(&r);
		g_assert_cmpint(hm_smtp_reply_parse(in, cut, &r, &used, NULL), ==, 0);
		hm_smtp_reply_clear(&r);
	}
}

static void
test_reply_enhanced(void)
{
	HmSmtpReply r;
	gsize used;
	g_autofree char *one = NULL;

	g_assert_cmpint(parse("550-5.1.1 <bob@x>: no\r\n550 5.1.1 such\tuser\r\n", &r, &used, NULL),
	                ==, 1);
	g_assert_cmpstr(r.enhanced, ==, "5.1.1");
	g_assert_cmpstr(r.text->str, ==, "<bob@x>: no\nsuch\tuser");
	one = hm_smtp_reply_oneline(&r);
	g_assert_cmpstr(one, ==, "550 5.1.1 <bob@x>: no such?user");
	hm_smtp_reply_clear(&r);

	/* A class that differs from the code's is text, not an enhanced code. */
	g_assert_cmpint(parse("451 5.1.1 odd\r\n", &r, &used, NULL), ==, 1);
	g_assert_cmpstr(r.enhanced, ==, "");
	hm_smtp_reply_clear(&r);
	g_assert_cmpint(parse("250 2.1234.0 x\r\n", &r, &used, NULL), ==, 1);
	g_assert_cmpstr(r.enhanced, ==, "");
	hm_smtp_reply_clear(&r);
	g_assert_cmpint(parse("250 2.0.0\r\n", &r, &used, NULL), ==, 1);
	g_assert_cmpstr(r.enhanced, ==, "2.0.0");
	g_assert_cmpstr(r.text->str, ==, "");
	hm_smtp_reply_clear(&r);
	/* A bare code ends a reply; "250-" continues it with empty text. */
	g_assert_cmpint(parse("250-\r\n250\r\n", &r, &used, NULL), ==, 1);
	g_assert_cmpuint(r.n_lines, ==, 2);
	hm_smtp_reply_clear(&r);
}

static void
test_reply_malformed(void)
{
	static const char *const bad[] = {
		"25\r\n", "2500 x\r\n", "250x\r\n", "199 x\r\n", "600 x\r\n", "260 x\r\n",
		"25a x\r\n", " 250 x\r\n", "-250 x\r\n", "+250 x\r\n", "250-a\r\n251 b\r\n",
		"250-a\r\n550 b\r\n", "\r\n", "250-x\r\n\r\n",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		HmSmtpReply r;
		gsize used;
		g_autoptr(GError) err = NULL;

		g_assert_cmpint(parse(bad[i], &r, &used, &err), ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
		hm_smtp_reply_clear(&r);
	}
}

static void
test_reply_bounds(void)
{
	GString *in = g_string_new("250 ");
	HmSmtpReply r;
	gsize used;
	g_autoptr(GError) err = NULL;

	/* 2048 octets with CRLF pass; one more does not, even unterminated. */
	g_string_append(in, "x");
	while (in->len < HM_SMTP_REPLY_LINE_MAX - 2)
		g_string_append_c(in, 'x');
	g_string_append(in, "\r\n");
	g_assert_cmpint(parse(in->str, &r, &used, NULL), ==, 1);
	hm_smtp_reply_clear(&r);
	g_string_insert_c(in, 5, 'y');
	g_assert_cmpint(parse(in->str, &r, &used, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "too long"));
	g_clear_error(&err);
	hm_smtp_reply_clear(&r);
	g_string_truncate(in, in->len - 2);
	g_assert_cmpint(parse(in->str, &r, &used, &err), ==, -1);
	g_clear_error(&err);
	hm_smtp_reply_clear(&r);

	/* 100 lines pass, 101 do not. */
	g_string_truncate(in, 0);
	for (int i = 0; i < HM_SMTP_REPLY_LINES_MAX - 1; i++)
		g_string_append(in, "250-x\r\n");
	g_string_append(in, "250 x\r\n");
	g_assert_cmpint(parse(in->str, &r, &used, NULL), ==, 1);
	hm_smtp_reply_clear(&r);
	g_string_prepend(in, "250-x\r\n");
	g_assert_cmpint(parse(in->str, &r, &used, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "more than 100 lines"));
	hm_smtp_reply_clear(&r);

	/* Nothing may follow the last line of a fed reply. */
	hm_smtp_reply_init(&r);
	g_assert_cmpint(hm_smtp_reply_feed(&r, "250 x", 5, NULL), ==, 1);
	g_assert_cmpint(hm_smtp_reply_feed(&r, "250 x", 5, NULL), ==, -1);
	hm_smtp_reply_clear(&r);
	g_string_free(in, TRUE);
}

static void
test_oneline_cap(void)
{
	HmSmtpReply r;
	g_autofree char *one = NULL;

	hm_smtp_reply_init(&r);
	for (int i = 0; i < 20; i++)
		g_assert_cmpint(hm_smtp_reply_feed(&r, "451-0123456789012345678901234567890123456789",
		                                   44, NULL), ==, 0);
	g_assert_cmpint(hm_smtp_reply_feed(&r, "451 \001end", 8, NULL), ==, 1);
	one = hm_smtp_reply_oneline(&r);
	g_assert_cmpuint(strlen(one), ==, HM_SMTP_ONELINE_MAX);
	g_assert_true(g_str_has_prefix(one, "451 0123"));
	g_assert_null(strchr(one, '\n'));
	hm_smtp_reply_clear(&r);
}

static void
test_ext(void)
{
	HmSmtpReply r;
	HmSmtpExt ext;
	gsize used;

	g_assert_cmpint(parse("250-box.test PIPELINING\r\n250-pipelining\r\n250-SIZE 1000\r\n"
	                      "250-8BITMIME\r\n250-STARTTLS\r\n250-AUTH plain LOGIN\r\n"
	                      "250-AUTH=CRAM-MD5 PLAIN bad!mech\r\n250-X-UNKNOWN y\r\n"
	                      "250-dsn\r\n250-SMTPUTF8\r\n250-DSNX\r\n"
	                      "250 ENHANCEDSTATUSCODES\r\n", &r, &used, NULL), ==, 1);
	hm_smtp_ext_parse(&r, &ext);
	g_assert_cmpuint(ext.flags, ==, HM_SMTP_EXT_PIPELINING | HM_SMTP_EXT_SIZE |
	                 HM_SMTP_EXT_8BITMIME | HM_SMTP_EXT_STARTTLS | HM_SMTP_EXT_AUTH |
	                 HM_SMTP_EXT_ENHANCEDSTATUSCODES | HM_SMTP_EXT_DSN |
	                 HM_SMTP_EXT_SMTPUTF8);
	g_assert_cmpuint(ext.size_max, ==, 1000);
	g_assert_cmpuint(g_strv_length(ext.auth_mechs), ==, 3);
	g_assert_cmpstr(ext.auth_mechs[0], ==, "PLAIN");
	g_assert_cmpstr(ext.auth_mechs[2], ==, "CRAM-MD5");
	g_assert_true(hm_smtp_ext_has_auth(&ext, "login"));
	g_assert_false(hm_smtp_ext_has_auth(&ext, "BAD!MECH"));
	hm_smtp_ext_clear(&ext);
	hm_smtp_reply_clear(&r);

	/* The greeting line is no keyword; a bad SIZE keeps the flag, no limit. */
	g_assert_cmpint(parse("250-PIPELINING\r\n250-SIZE -5\r\n250 SIZEX\r\n", &r, &used, NULL),
	                ==, 1);
	hm_smtp_ext_parse(&r, &ext);
	g_assert_cmpuint(ext.flags, ==, HM_SMTP_EXT_SIZE);
	g_assert_cmpuint(ext.size_max, ==, 0);
	g_assert_null(ext.auth_mechs);
	hm_smtp_ext_clear(&ext);
	hm_smtp_reply_clear(&r);
}

/* ---- the scripted server ------------------------------------------------ */

/* A scripted peer (testutil.h) on 127.0.0.1, started; tls serves its
 * "TLS" steps. */
static HmTestPeer *
peer_start_tls(const char *const *script, SSL_CTX *tls)
{
	HmTestPeer *p = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);

	p->tls = tls;
	hm_test_peer_start(p);
	return p;
}

static HmTestPeer *
peer_start(const char *const *script)
{
	return peer_start_tls(script, NULL);
}

static HmSmtpClient *
client(HmTestPeer *p, HmSmtpProto proto, int timeout_ms)
{
	g_autoptr(GError) err = NULL;
	int fd = hm_connect_tcp("127.0.0.1", p->port, NULL, 2000, &err);

	g_assert_no_error(err);
	return hm_smtpc_new(hm_conn_new(fd, timeout_ms), proto, "client.test");
}

/* Starts a client and checks the session set-up succeeds. */
static HmSmtpClient *
started(HmTestPeer *p, HmSmtpProto proto)
{
	HmSmtpClient *c = client(p, proto, 2000);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_start(c, &err), ==, 0);
	g_assert_no_error(err);
	return c;
}

static void
assert_got(HmTestPeer *p, const char *want)
{
	g_autofree char *got = hm_test_peer_finish(p);

	g_assert_cmpstr(got, ==, want);
}

#define EHLO_PIPE "R:250-box.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 8BITMIME\r\n"

/* ---- transcripts --------------------------------------------------------- */

/* MAIL, both RCPTs and DATA arrive before the server answers anything:
 * the client could not have waited for a reply in between. */
static void
test_pipelined(void)
{
	static const char msg[] = "Subject: t\r\n\r\nhello\r\n";
	const char *const script[] = {
		"R:220-box.test ESMTP\r\n220 more greeting\r\n", ">", EHLO_PIPE,
		">", ">", ">", ">", ">",
		"R:250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n",
		".", "R:250 2.0.0 queued\r\n", ">", "R:250 reset\r\n", ">", "R:221 bye\r\n", NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	const char *rcpts[] = { "a@box.test", "b@box.test", "c@box.test" };
	HmSmtpRcptStatus st[3];
	g_autoptr(GError) err = NULL;
	g_autofree char *want = NULL;

	g_assert_cmpuint(hm_smtpc_ext(c)->size_max, ==, 100000);
	g_assert_cmpint(hm_smtpc_transaction(c, "s@x.test", rcpts, 3, NULL, 0, msg, strlen(msg), st,
	                                     &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(st[0].code, ==, 250);
	g_assert_cmpstr(st[0].reply, ==, "250 2.0.0 queued");
	g_assert_cmpuint(st[1].code, ==, 550);
	g_assert_cmpstr(st[1].reply, ==, "550 5.1.1 no such user");
	/* SMTP: one reply to "." settles every accepted recipient. */
	g_assert_cmpuint(st[2].code, ==, 250);
	g_assert_cmpstr(st[2].reply, ==, "250 2.0.0 queued");
	g_assert_false(hm_smtpc_broken(c));
	hm_smtpc_quit(c);
	hm_smtpc_free(c);
	hm_smtp_rcpt_status_clear(st, 3);
	want = g_strdup_printf("EHLO client.test\r\nMAIL FROM:<s@x.test> SIZE=%zu BODY=8BITMIME\r\n"
	                       "RCPT TO:<a@box.test>\r\nRCPT TO:<b@box.test>\r\n"
	                       "RCPT TO:<c@box.test>\r\nDATA\r\n%s.\r\nRSET\r\nQUIT\r\n",
	                       strlen(msg), msg);
	assert_got(p, want);
}

/* Bare LF lines go out as CRLF, leading dots are doubled, "." alone is
 * content, and a message without a final line end gets one. */
static void
test_dotstuff(void)
{
	static const char msg[] = "A: b\n\n.hidden\n..two\n.\r\nx\r\n.\r\nlast";
	const char *const script[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n",
		".", "R:250 ok\r\n", NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_send_one(c, "", "a@b", NULL, 0, msg, strlen(msg), &err), ==, 0);
	g_assert_no_error(err);
	hm_smtpc_free(c);
	/* SIZE counts the CRLF form: 33 octets, 4 bare LFs gain a CR, the
	 * unterminated last line a CRLF. */
	assert_got(p, "EHLO client.test\r\nMAIL FROM:<> SIZE=39 BODY=8BITMIME\r\nRCPT TO:<a@b>\r\n"
	              "DATA\r\nA: b\r\n\r\n..hidden\r\n...two\r\n..\r\nx\r\n..\r\nlast\r\n.\r\n");
}

/* A head (trace fields) goes out in front of the message as one message:
 * counted in SIZE, stuffed with the same line state (the body's leading
 * dot starts a line). */
static void
test_head(void)
{
	static const char head[] = "Received: from x\r\n\tby y\n";
	static const char msg[] = ".A: b\n\nbody";
	const char *const script[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n",
		".", "R:250 ok\r\n", NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", head, strlen(head), msg, strlen(msg),
	                                  &err), ==, 0);
	g_assert_no_error(err);
	hm_smtpc_free(c);
	assert_got(p, "EHLO client.test\r\nMAIL FROM:<s@x> SIZE=40 BODY=8BITMIME\r\n"
	              "RCPT TO:<r@y>\r\nDATA\r\nReceived: from x\r\n\tby y\r\n..A: b\r\n\r\nbody\r\n"
	              ".\r\n");
}

/* A message larger than the client's 64 KiB stuffing chunk, with a line
 * (starting with a dot) beginning exactly at each chunk boundary. */
static void
test_large_body(void)
{
	const char *const script[] = {
		"R:220 hi\r\n", ">", "R:250 hi\r\n", ">", "R:250 ok\r\n", ">", "R:250 ok\r\n", ">",
		"R:354 go\r\n", ".", "R:250 ok\r\n", NULL,
	};
	GString *msg = g_string_new(NULL), *want = g_string_new(NULL);
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;
	g_autofree char *got = NULL;

	g_string_append(want, "EHLO client.test\r\nMAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\nDATA\r\n");
	for (int i = 0; i < 3 * 1024 + 7; i++) {
		/* 64-octet lines: 1024 of them fill one chunk exactly. */
		g_string_append_printf(msg, ".%061d\n", i);
		g_string_append_printf(want, "..%061d\r\n", i);
	}
	g_string_append(want, ".\r\n");
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, msg->str, msg->len, &err), ==, 0);
	g_assert_no_error(err);
	hm_smtpc_free(c);
	got = hm_test_peer_finish(p);
	g_assert_true(strcmp(got, want->str) == 0);
	g_string_free(msg, TRUE);
	g_string_free(want, TRUE);
}

/* Without PIPELINING every command waits for its reply (the peer answers
 * byte by byte); an EHLO refused with 5xx falls back to HELO. */
static void
test_stepwise_helo(void)
{
	static const char msg[] = "A: b\r\n\r\nbody\r\n";
	const char *const script[] = {
		"D:220 old server\r\n", ">", "R:502 what?\r\n", ">", "D:250 hi\r\n",
		">", "D:250 ok\r\n", ">", "D:250 ok\r\n", ">", "D:354 go\r\n", ".", "D:250 ok\r\n",
		NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;

	g_assert_cmpuint(hm_smtpc_ext(c)->flags, ==, 0);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, msg, strlen(msg), &err), ==, 0);
	g_assert_no_error(err);
	hm_smtpc_free(c);
	assert_got(p, "EHLO client.test\r\nHELO client.test\r\nMAIL FROM:<s@x>\r\nRCPT TO:<r@y>\r\n"
	              "DATA\r\nA: b\r\n\r\nbody\r\n.\r\n");
}

/* LMTP: one reply per accepted recipient after the data, in order. */
static void
test_lmtp(void)
{
	static const char msg[] = "A: b\r\n\r\nx\r\n";
	const char *const script[] = {
		"R:220 lmtp\r\n", ">",
		"R:250-lmtp.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
		">", ">", ">", ">", ">",
		"R:250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n",
		".", "R:250 2.0.0 <a@x> saved\r\n452 4.2.2 <c@x> over quota\r\n", ">",
		"R:250 ok\r\n", NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_LMTP);
	const char *rcpts[] = { "a@x", "b@x", "c@x" };
	HmSmtpRcptStatus st[3];
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_transaction(c, "s@y", rcpts, 3, NULL, 0, msg, strlen(msg), st,
	                                     &err), ==, 0);
	g_assert_cmpuint(st[0].code, ==, 250);
	g_assert_cmpstr(st[0].reply, ==, "250 2.0.0 <a@x> saved");
	g_assert_cmpuint(st[1].code, ==, 550);
	g_assert_cmpuint(st[2].code, ==, 452);
	g_assert_cmpstr(st[2].reply, ==, "452 4.2.2 <c@x> over quota");
	hm_smtp_rcpt_status_clear(st, 3);
	hm_smtpc_free(c);
	assert_got(p, "LHLO client.test\r\nMAIL FROM:<s@y>\r\nRCPT TO:<a@x>\r\nRCPT TO:<b@x>\r\n"
	              "RCPT TO:<c@x>\r\nDATA\r\nA: b\r\n\r\nx\r\n.\r\nRSET\r\n");
}

/* MAIL refused: every recipient fails with MAIL's reply, not the 503s
 * after it; the session is RSET and carries the next message. */
static void
test_mail_refused_then_reuse(void)
{
	static const char msg[] = "A: b\r\n\r\nx\r\n";
	const char *const script[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">",
		"R:451 4.3.0 try later\r\n503 need MAIL\r\n503 need RCPT\r\n", ">", "R:250 ok\r\n",
		">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n", ".", "R:250 ok\r\n", NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, msg, strlen(msg), &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 451);
	g_assert_cmpstr(err->message, ==, "451 4.3.0 try later");
	g_assert_false(hm_smtpc_broken(c));
	g_clear_error(&err);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, msg, strlen(msg), &err), ==, 0);
	hm_smtpc_free(c);
	assert_got(p, "EHLO client.test\r\nMAIL FROM:<s@x> SIZE=11 BODY=8BITMIME\r\n"
	              "RCPT TO:<r@y>\r\nDATA\r\nRSET\r\n"
	              "MAIL FROM:<s@x> SIZE=11 BODY=8BITMIME\r\nRCPT TO:<r@y>\r\nDATA\r\n"
	              "A: b\r\n\r\nx\r\n.\r\n");
}

/* DATA refused; then DATA accepted although no recipient was (RFC 2920
 * 3.1): an empty message is ended with "." and nothing is delivered. */
static void
test_data_refused(void)
{
	const char *const script[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">",
		"R:250 ok\r\n250 ok\r\n554 no data\r\n",
		">", "R:250 ok\r\n", ">", ">", ">", "R:250 ok\r\n550 no\r\n354 go anyway\r\n", ">",
		"R:554 no valid recipients\r\n", ">", "R:250 ok\r\n", NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x", 1, &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 554);
	g_clear_error(&err);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x", 1, &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 550);
	g_assert_false(hm_smtpc_broken(c));
	hm_smtpc_free(c);
	assert_got(p, "EHLO client.test\r\nMAIL FROM:<s@x> SIZE=3 BODY=8BITMIME\r\n"
	              "RCPT TO:<r@y>\r\nDATA\r\nRSET\r\nMAIL FROM:<s@x> SIZE=3 BODY=8BITMIME\r\n"
	              "RCPT TO:<r@y>\r\nDATA\r\n.\r\nRSET\r\n");
}

/* The final reply refuses (5xx, then 4xx); the session goes on. */
static void
test_final_refused(void)
{
	const char *const script[] = {
		"R:220 hi\r\n", ">", "R:250 hi\r\n",
		">", "R:250 ok\r\n", ">", "R:250 ok\r\n", ">", "R:354 go\r\n", ".",
		"R:552-5.3.4 message too big\r\n552 5.3.4 for us\r\n", ">", "R:250 ok\r\n",
		">", "R:250 ok\r\n", ">", "R:250 ok\r\n", ">", "R:354 go\r\n", ".",
		"R:452 4.3.1 disk full\r\n", ">", "R:250 ok\r\n", NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;
	g_autofree char *got = NULL;

	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x\n", 2, &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 552);
	g_assert_cmpstr(err->message, ==, "552 5.3.4 message too big for us");
	g_clear_error(&err);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x\n", 2, &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 452);
	hm_smtpc_free(c);
	got = hm_test_peer_finish(p);
	g_assert_nonnull(strstr(got, "x\r\n.\r\nRSET\r\nMAIL FROM:<s@x>\r\n"));
	g_assert_true(g_str_has_suffix(got, "x\r\n.\r\nRSET\r\n"));
}

/* A broken server: the client reports it and is unusable afterwards. */
static void
expect_broken_start(const char *const *script, int timeout_ms, GQuark domain, int code,
                    const char *text)
{
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = client(p, HM_SMTP_PROTO_SMTP, timeout_ms);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_start(c, &err), ==, -1);
	g_assert_error(err, domain, code);
	if (text != NULL && strstr(err->message, text) == NULL)
		g_error("\"%s\" does not contain \"%s\"", err->message, text);
	g_assert_true(hm_smtpc_broken(c));
	hm_smtpc_free(c);
	g_free(hm_test_peer_finish(p));
}

static void
test_broken_servers(void)
{
	g_autofree char *longline = g_strdup_printf("R:250-%0*d\r\n250 x\r\n", 3000, 0);
	GString *many = g_string_new("R:");
	const char *const refused[] = { "R:554 5.7.1 go away\r\n", NULL };
	const char *const too_long[] = { "R:220 hi\r\n", ">", longline, NULL };
	const char *const bad_code[] = { "R:220 hi\r\n", ">", "R:250-a\r\n251 b\r\n", NULL };
	const char *const wrong_kind[] = { "R:354 what\r\n", NULL };
	const char *const silent[] = { "R:220 hi\r\n", ">", "Z:600", NULL };
	const char *const cut[] = { "R:220 hi\r\n", ">", "R:250-box\r\n", "CLOSE", NULL };
	const char *const *lines_script;

	for (int i = 0; i < HM_SMTP_REPLY_LINES_MAX; i++)
		g_string_append(many, "250-x\r\n");
	g_string_append(many, "250 x\r\n");
	lines_script = (const char *const[]){ "R:220 hi\r\n", ">", many->str, NULL };
	expect_broken_start(refused, 2000, HM_SMTP_ERROR, 554, "554 5.7.1 go away");
	expect_broken_start(too_long, 2000, HM_ERROR, HM_ERROR_PROTOCOL, "too long");
	expect_broken_start(lines_script, 2000, HM_ERROR, HM_ERROR_PROTOCOL, "more than 100");
	expect_broken_start(bad_code, 2000, HM_ERROR, HM_ERROR_PROTOCOL, "code changes");
	expect_broken_start(wrong_kind, 2000, HM_ERROR, HM_ERROR_PROTOCOL, "unexpected");
	expect_broken_start(silent, 200, HM_ERROR, HM_ERROR_TIMEOUT, NULL);
	expect_broken_start(cut, 2000, HM_ERROR, HM_ERROR_IO, "closed");
	g_string_free(many, TRUE);
}

/* The reply to "." may take longer than a command's (final_ms); a
 * connection cut mid-transaction or a 421 breaks the session. */
static void
test_timeouts_and_loss(void)
{
	const char *const slow[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n",
		".", "Z:500", "R:250 ok\r\n", ">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n",
		".",
		"Z:1500", "R:250 late\r\n", NULL,
	};
	const char *const closing[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">", "R:421 4.3.2 shutting down\r\n",
		"CLOSE", NULL,
	};
	HmTestPeer *p = peer_start(slow);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	g_autoptr(GError) err = NULL;

	hm_smtpc_set_timeouts(c, 200, 1000);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x", 1, &err), ==, 0);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x", 1, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_assert_true(hm_smtpc_broken(c));
	g_clear_error(&err);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x", 1, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	hm_smtpc_free(c);
	g_free(hm_test_peer_finish(p));

	p = peer_start(closing);
	c = started(p, HM_SMTP_PROTO_SMTP);
	g_assert_cmpint(hm_smtpc_send_one(c, "s@x", "r@y", NULL, 0, "x", 1, &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 421);
	g_assert_true(hm_smtpc_broken(c));
	hm_smtpc_free(c);
	g_free(hm_test_peer_finish(p));
}

/* Addresses that could smuggle a command are refused before anything is
 * sent, and the session stays usable. */
static void
test_bad_address(void)
{
	const char *const script[] = { "R:220 hi\r\n", ">", EHLO_PIPE, ">", "R:221 bye\r\n", NULL };
	static const char *const bad[] = { "a@b>\r\nRCPT TO:<evil@x", "a\nb@x", "<a@b>", "" };
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	/* With its "<>", one octet over the path limit. */
	g_autofree char *huge = g_strnfill(HM_SMTP_PATH_MAX - 1, 'a');

	for (gsize i = 0; i < G_N_ELEMENTS(bad) + 1; i++) {
		g_autoptr(GError) err = NULL;
		const char *rcpt = i < G_N_ELEMENTS(bad) ? bad[i] : huge;

		g_assert_cmpint(hm_smtpc_send_one(c, "s@x", rcpt, NULL, 0, "x", 1, &err), ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_clear_error(&err);
		g_assert_cmpint(hm_smtpc_send_one(c, bad[0], "r@x", NULL, 0, "x", 1, &err), ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	}
	g_assert_false(hm_smtpc_broken(c));
	hm_smtpc_quit(c);
	hm_smtpc_free(c);
	assert_got(p, "EHLO client.test\r\nQUIT\r\n");
}

/* A recipient that cannot go on a command line (a path over 256 octets
 * with its "<>", a line end, RCPT parameters with one) is left out and
 * marked; the transaction goes to the others. */
static void
test_unusable_recipient_left_out(void)
{
	const char *const script[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">", ">", ">",
		"R:250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", ".", "R:250 queued\r\n", ">",
		"R:221 bye\r\n", NULL,
	};
	g_autofree char *l60 = g_strnfill(60, 'l');
	g_autofree char *d191 = g_strnfill(191, 'd');
	g_autofree char *a254 = g_strdup_printf("%s@%s.x", l60, d191);
	g_autofree char *a255 = g_strdup_printf("%sl@%s.x", l60, d191);
	const char *rcpts[] = { "a@b", a255, "c@d", "e@f", a254 };
	const char *rparams[] = { NULL, NULL, NULL, "NOTIFY=NEVER\r\nRCPT TO:<x@y>", NULL };
	HmSmtpTxnParams prm = { NULL, rparams, FALSE };
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	HmSmtpRcptStatus st[5];
	g_autoptr(GError) err = NULL;
	g_autofree char *want = NULL;

	g_assert_cmpuint(strlen(a254), ==, 254);
	g_assert_cmpint(hm_smtpc_transaction_params(c, "s@x", rcpts, 5, &prm, NULL, 0, "x\r\n", 3,
	                                            st, &err), ==, 0);
	g_assert_no_error(err);
	for (guint i = 0; i < 5; i++) {
		gboolean left_out = i == 1 || i == 3;

		g_assert_cmpint(st[i].unusable, ==, left_out);
		g_assert_cmpuint(st[i].code, ==, left_out ? 0 : 250);
		g_assert_cmpstr(st[i].reply, ==, left_out ? NULL : "250 queued");
	}
	hm_smtp_rcpt_status_clear(st, 5);
	g_assert_false(hm_smtpc_broken(c));
	hm_smtpc_quit(c);
	hm_smtpc_free(c);
	want = g_strdup_printf("EHLO client.test\r\nMAIL FROM:<s@x> SIZE=3 BODY=8BITMIME\r\n"
	                       "RCPT TO:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<%s>\r\nDATA\r\n"
	                       "x\r\n.\r\nQUIT\r\n",
	                       a254);
	assert_got(p, want);
}

/* MAIL and RCPT parameters go out as given, after SIZE (and without
 * BODY=8BITMIME for a 7-bit message); one with a line end in it is
 * refused before anything is sent. (test-smarthost sends them stepwise.) */
static void
test_params(void)
{
	const char *const script[] = {
		"R:220 hi\r\n", ">", EHLO_PIPE, ">", ">", ">", ">",
		"R:250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", ".", "R:250 ok\r\n", NULL,
	};
	const char *rcpts[] = { "a@b", "c@d" };
	const char *rparams[] = { "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@b", NULL };
	const char *evil[] = { "NOTIFY=NEVER\r\nRCPT TO:<x@y>", NULL };
	HmSmtpTxnParams prm = { "RET=HDRS ENVID=q+2B1 SMTPUTF8", rparams, TRUE };
	const char *evil2[] = { evil[0], evil[0] };
	HmSmtpTxnParams bad = { NULL, evil2, FALSE };
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = started(p, HM_SMTP_PROTO_SMTP);
	HmSmtpRcptStatus st[2];
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_smtpc_transaction_params(c, "s@x", rcpts, 2, &bad, NULL, 0, "x\r\n", 3,
	                                            st, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	g_clear_error(&err);
	g_assert_cmpint(hm_smtpc_transaction_params(c, "s@x", rcpts, 2, &prm, NULL, 0, "x\r\n", 3,
	                                            st, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(st[1].code, ==, 250);
	hm_smtp_rcpt_status_clear(st, 2);
	hm_smtpc_free(c);
	assert_got(p, "EHLO client.test\r\nMAIL FROM:<s@x> SIZE=3 RET=HDRS ENVID=q+2B1 SMTPUTF8\r\n"
	              "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@b\r\n"
	              "RCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n");
}

static void
trace_collect(gboolean from_client, const char *line, gpointer data)
{
	g_string_append_printf(data, "%s %s\n", from_client ? "C:" : "S:", line);
}

/* AUTH PLAIN with an initial response; the trace never shows it. */
static void
test_auth_plain(void)
{
	const char *const script[] = {
		"R:220 hi\r\n", ">", "R:250-box\r\n250 AUTH LOGIN PLAIN\r\n", ">",
		"R:535 5.7.8 bad credentials\r\n", ">", "R:334 \r\n", ">", "R:235 2.7.0 ok\r\n",
		NULL,
	};
	HmTestPeer *p = peer_start(script);
	HmSmtpClient *c = client(p, HM_SMTP_PROTO_SMTP, 2000);
	g_autoptr(GString) trace = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autofree char *got = NULL;

	hm_smtpc_set_trace(c, trace_collect, trace);
	g_assert_cmpint(hm_smtpc_start(c, NULL), ==, 0);
	g_assert_cmpint(hm_smtpc_auth(c, "alice", "secret", &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 535);
	g_clear_error(&err);
	/* A 334 asks for the response again, on its own line. */
	g_assert_cmpint(hm_smtpc_auth(c, "alice", "secret", &err), ==, 0);
	g_assert_no_error(err);
	hm_smtpc_free(c);
	got = hm_test_peer_finish(p);
	g_assert_cmpstr(got, ==, "EHLO client.test\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	                         "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAGFsaWNlAHNlY3JldA==\r\n");
	g_assert_null(strstr(trace->str, "AGFsaWNl"));
	g_assert_nonnull(strstr(trace->str, "C: AUTH PLAIN ********\n"));
	g_assert_nonnull(strstr(trace->str, "S: 235 2.7.0 ok\n"));
}

/* STARTTLS upgrades, says EHLO again and learns the new extensions;
 * without the extension nothing is sent; a refusal breaks the session. */
static void
test_starttls(void)
{
	const char *const script[] = {
		"R:220 hi\r\n", ">", "R:250-box\r\n250 STARTTLS\r\n", ">", "R:220 go ahead\r\n",
		"TLS", ">", "R:250-box\r\n250 AUTH PLAIN\r\n", ">", "R:221 bye\r\n", NULL,
	};
	const char *const refusing[] = {
		"R:220 hi\r\n", ">", "R:250-box\r\n250 STARTTLS\r\n", ">",
		"R:454 4.7.0 not now\r\n", NULL,
	};
	g_autoptr(GError) err = NULL;
	g_autofree char *dir = hm_test_tmpdir("hm-smtpc"), *tls_cert = NULL, *tls_key = NULL;
	SSL_CTX *sctx, *cctx;
	HmTestPeer *p;
	HmSmtpClient *c;

	hm_test_make_cert(dir, &tls_cert, &tls_key);
	sctx = hm_tls_server_ctx(tls_cert, tls_key, HM_TLS_PROFILE_INTERMEDIATE, &err);
	g_assert_no_error(err);
	cctx = hm_tls_client_ctx(tls_cert, &err);
	g_assert_no_error(err);
	p = peer_start_tls(script, sctx);
	c = started(p, HM_SMTP_PROTO_SMTP);
	g_assert_cmpint(hm_smtpc_starttls(c, cctx, "localhost", NULL, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_true(hm_conn_is_tls(hm_smtpc_conn(c)));
	g_assert_true(hm_smtp_ext_has_auth(hm_smtpc_ext(c), "PLAIN"));
	g_assert_cmpint(hm_smtpc_starttls(c, cctx, "localhost", NULL, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TLS);
	g_clear_error(&err);
	hm_smtpc_quit(c);
	hm_smtpc_free(c);
	assert_got(p, "EHLO client.test\r\nSTARTTLS\r\nEHLO client.test\r\nQUIT\r\n");

	p = peer_start(refusing);
	c = started(p, HM_SMTP_PROTO_SMTP);
	g_assert_cmpint(hm_smtpc_starttls(c, cctx, "localhost", NULL, &err), ==, -1);
	g_assert_error(err, HM_SMTP_ERROR, 454);
	g_assert_true(hm_smtpc_broken(c));
	hm_smtpc_free(c);
	g_free(hm_test_peer_finish(p));
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	hm_test_remove_tree(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smtpc/reply/multiline", test_reply_multiline);
	g_test_add_func("/smtpc/reply/enhanced", test_reply_enhanced);
	g_test_add_func("/smtpc/reply/malformed", test_reply_malformed);
	g_test_add_func("/smtpc/reply/bounds", test_reply_bounds);
	g_test_add_func("/smtpc/reply/oneline-cap", test_oneline_cap);
	g_test_add_func("/smtpc/ext", test_ext);
	g_test_add_func("/smtpc/pipelined", test_pipelined);
	g_test_add_func("/smtpc/dotstuff", test_dotstuff);
	g_test_add_func("/smtpc/large-body", test_large_body);
	g_test_add_func("/smtpc/head", test_head);
	g_test_add_func("/smtpc/stepwise-helo", test_stepwise_helo);
	g_test_add_func("/smtpc/lmtp", test_lmtp);
	g_test_add_func("/smtpc/mail-refused-reuse", test_mail_refused_then_reuse);
	g_test_add_func("/smtpc/data-refused", test_data_refused);
	g_test_add_func("/smtpc/final-refused", test_final_refused);
	g_test_add_func("/smtpc/broken-servers", test_broken_servers);
	g_test_add_func("/smtpc/timeouts-loss", test_timeouts_and_loss);
	g_test_add_func("/smtpc/bad-address", test_bad_address);
	g_test_add_func("/smtpc/params", test_params);
	g_test_add_func("/smtpc/unusable-recipient-left-out", test_unusable_recipient_left_out);
	g_test_add_func("/smtpc/auth-plain", test_auth_plain);
	g_test_add_func("/smtpc/starttls", test_starttls);
	return g_test_run();
}
