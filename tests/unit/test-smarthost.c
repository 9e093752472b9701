/* relay/smarthost.c against a scripted smart host (testutil.h): what goes
 * on the wire for each message, and each recipient's outcome. Every test
 * runs in a child with a deadline: a client that connected again where
 * the script expects none would otherwise wait minutes for a greeting. */
#include <config.h>

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf/hmconfig.h"
#include "lib/tls.h"
#include "relay/bounce.h"
#include "relay/limits.h"
#include "relay/rewrite.h"
#include "relay/smarthost.h"
#include "testutil.h"

#define DEADLINE_S 20

typedef struct {
	char *dir;
	HmConfig *cfg;
	RelayRewriter *rw;
	RelaySmarthosts *sh;
	HmTestPeer *peer;
} Fx;

/* A config whose one smart host "isp" (host_keys added to its group;
 * NULL: no smart host at all) is the scripted peer on 127.0.0.1 (none
 * when script is NULL: port 9, where nothing listens), serving its "TLS"
 * steps with tls. */
static void
fx_init_tls(Fx *f, const char *host_keys, const char *const *script, SSL_CTX *tls)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *path = NULL, *hosts = NULL, *text = NULL;
	guint16 port = 9;
	int lfd = script != NULL ? hm_test_listen_tcp(&port) : -1;

	memset(f, 0, sizeof(*f));
	f->dir = hm_test_tmpdir("hm-test-smarthost");
	path = g_build_filename(f->dir, "t.conf", NULL);
	if (host_keys != NULL)
		hosts = g_strdup_printf("smarthosts = ( { name = \"isp\"; host = \"127.0.0.1\"; "
		                        "port = %u; %s } );",
		                        port, host_keys);
	text = g_strdup_printf("hostname = \"box.example\";\nmail_dir = \"%s/mail\";\n"
	                       "local_domains = [ \"box.lan\" ];\n"
	                       "users = ( { name = \"alice\"; send_as = \"alice@isp.example\"; },\n"
	                       "          { name = \"bob\"; } );\n"
	                       "relay = { rewrite_header_from = true; %s };\n",
	                       f->dir, hosts != NULL ? hosts : "");
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	f->cfg = hm_config_load(path, hm_test_ignore_warning, NULL, &err);
	g_assert_no_error(err);
	f->rw = relay_rewriter_new(f->cfg, NULL);
	f->sh = relay_smarthosts_new(f->cfg, f->rw);
	if (script != NULL) {
		f->peer = hm_test_peer_new_script(lfd, script);
		f->peer->tls = tls;
		hm_test_peer_start(f->peer);
	}
}

static void
fx_init(Fx *f, const char *host_keys, const char *const *script)
{
	fx_init_tls(f, host_keys, script, NULL);
}

/* Frees the client (which says QUIT) and everything else; returns what
 * the peer received (g_free() it), "" without a peer. */
static char *
fx_finish(Fx *f)
{
	char *got;

	relay_smarthosts_free(f->sh);
	got = f->peer != NULL ? hm_test_peer_finish(f->peer) : g_strdup("");
	relay_rewriter_free(f->rw);
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
	return got;
}

static RelayQueueEntry *
entry(const char *sender, const char *const *rcpts)
{
	RelayQueueEntry *e = relay_queue_entry_new();

	e->id = g_strdup("0123456789ABCDEF");
	e->sender = g_strdup(sender);
	for (guint i = 0; rcpts[i] != NULL; i++)
		relay_queue_entry_add_rcpt(e, rcpts[i], 0, NULL);
	return e;
}

/* Sends msg to every recipient of e; the results, one per recipient. */
static RelayRcptResult *
send_msg(Fx *f, const RelayQueueEntry *e, const char *msg)
{
	guint n = e->rcpts->len;
	g_autofree guint *idx = g_new(guint, n);
	RelayRcptResult *res = g_new0(RelayRcptResult, n);
	GBytes *b = g_bytes_new_static(msg, strlen(msg));

	for (guint i = 0; i < n; i++)
		idx[i] = i;
	relay_smarthosts_send(f->sh, e, b, idx, n, res);
	g_bytes_unref(b);
	return res;
}

static void
results_free(RelayRcptResult *res, guint n)
{
	for (guint i = 0; i < n; i++)
		relay_rcpt_result_clear(&res[i]);
	g_free(res);
}

static void
assert_result(const RelayRcptResult *r, guint code, const char *reply_prefix)
{
	if (r->code != code || r->reply == NULL || !g_str_has_prefix(r->reply, reply_prefix))
		g_error("got %u \"%s\", want %u \"%s...\"", r->code, r->reply, code, reply_prefix);
}

#define GREET "S:220 isp.example ESMTP"
#define EHLO_PIPE "R:250-isp.example\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 8BITMIME\r\n"
#define PIPE_OK "R:250 ok\r\n250 ok\r\n354 go\r\n"
#define BYE "C:QUIT", "S:221 bye"

/* The envelope sender and From: become alice's send_as; the rest of the
 * header and the body stay, and a "." line stored as content leaves as
 * "..", so it cannot end the message early downstream. A 7-bit message
 * goes without BODY=8BITMIME although it is offered. */
static void
test_rewrite_and_dots(void)
{
	static const char msg[] = "From: Alice <alice@box.lan>\r\nSubject: hi\r\n\r\n.\r\nbody\n";
	static const char out[] = "From: Alice <alice@isp.example>\r\nSubject: hi\r\n\r\n..\r\nbody\r\n";
	const char *const script[] = {
		GREET, "C:EHLO box.example", EHLO_PIPE, ">", ">", ">", PIPE_OK, ".",
		"S:250 2.0.0 queued as X", BYE, NULL,
	};
	const char *const rcpts[] = { "r@far.example", NULL };
	g_autoptr(RelayQueueEntry) e = entry("alice@box.lan", rcpts);
	g_autofree char *got = NULL, *want = NULL;
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	fx_init(&f, "tls = \"none\";", script);
	res = send_msg(&f, e, msg);
	assert_result(&res[0], 250, "250 2.0.0 queued as X");
	g_assert_cmpstr(res[0].remote_mta, ==, "127.0.0.1");
	g_assert_false(res[0].dsn_passed);
	results_free(res, 1);
	got = fx_finish(&f);
	/* SIZE counts the message as sent, before stuffing. */
	want = g_strdup_printf("EHLO box.example\r\nMAIL FROM:<alice@isp.example> SIZE=%zu\r\n"
	                       "RCPT TO:<r@far.example>\r\nDATA\r\n%s.\r\nQUIT\r\n",
	                       strlen(out) - 1, out);
	g_assert_cmpstr(got, ==, want);
}

/* One transaction, three recipients: accepted, refused for good, refused
 * for now; then a second message (a bounce: the null sender stays null)
 * over the same connection. The script accepts one connection only. */
static void
test_per_recipient_and_reuse(void)
{
	const char *const script[] = {
		GREET, "C:EHLO box.example", EHLO_PIPE, ">", ">", ">", ">", ">",
		"R:250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n451 4.3.0 try later\r\n354 go\r\n",
		".", "S:250 2.0.0 queued", "C:RSET", "S:250 ok",
		"C:MAIL FROM:<> SIZE=3", "C:RCPT TO:<a@far.example>", "C:DATA", PIPE_OK, ".",
		"S:250 2.0.0 queued again", BYE, NULL,
	};
	const char *const three[] = { "a@far.example", "b@far.example", "c@far.example", NULL };
	const char *const one[] = { "a@far.example", NULL };
	g_autoptr(RelayQueueEntry) e1 = entry("carol@elsewhere.example", three);
	g_autoptr(RelayQueueEntry) e2 = entry("", one);
	g_autofree char *got = NULL;
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	fx_init(&f, "tls = \"none\";", script);
	res = send_msg(&f, e1, "x\r\n");
	assert_result(&res[0], 250, "250 2.0.0 queued");
	assert_result(&res[1], 550, "550 5.1.1 no such user");
	assert_result(&res[2], 451, "451 4.3.0 try later");
	results_free(res, 3);
	res = send_msg(&f, e2, "x\r\n");
	assert_result(&res[0], 250, "250 2.0.0 queued again");
	results_free(res, 1);
	got = fx_finish(&f);
	g_assert_true(g_str_has_prefix(got, "EHLO box.example\r\nMAIL FROM:<carol@elsewhere.example>"));
}

/* A recipient no SMTP command can carry (a path over 256 octets, as an
 * old homemail-sendmail queued) fails alone, for good; the others of its
 * message go. */
static void
test_unusable_recipient_alone(void)
{
	const char *const script[] = {
		GREET, "C:EHLO box.example", EHLO_PIPE, "C:MAIL FROM:<carol@elsewhere.example> SIZE=3",
		"C:RCPT TO:<a@far.example>", "C:DATA", PIPE_OK, ".", "S:250 2.0.0 queued", BYE, NULL,
	};
	g_autofree char *local = g_strnfill(60, 'l');
	g_autofree char *domain = g_strnfill(190, 'd');
	g_autofree char *huge = g_strdup_printf("%s@%s.example", local, domain);
	const char *const rcpts[] = { huge, "a@far.example", NULL };
	g_autoptr(RelayQueueEntry) e = entry("carol@elsewhere.example", rcpts);
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	fx_init(&f, "tls = \"none\";", script);
	res = send_msg(&f, e, "x\r\n");
	assert_result(&res[0], 553, "5.1.3 this relay refused to send to this address");
	g_assert_null(res[0].remote_mta);
	assert_result(&res[1], 250, "250 2.0.0 queued");
	g_assert_cmpstr(res[1].remote_mta, ==, "127.0.0.1");
	results_free(res, 2);
	g_free(fx_finish(&f));
}

/* A session the server closed while idle is replaced before the next
 * message is sent. One found closed only by the MAIL group (EOF, or 421
 * then EOF: the server holds nothing) is replaced at once and the message
 * goes over the new one, with that outcome alone. One that breaks after
 * the message was sent leaves its recipient at code 0 (try again: the
 * server may hold it), and the next message reconnects. */
static void
test_reconnect(void)
{
	const char *const script[] = {
		GREET, "C:EHLO box.example", EHLO_PIPE, ">", ">", ">", PIPE_OK, ".", "S:250 one",
		"ACCEPT", GREET, "C:EHLO box.example", EHLO_PIPE, ">", ">", ">", PIPE_OK, ".",
		"S:250 two", ">", ">", ">", "ACCEPT",
		GREET, "C:EHLO box.example", EHLO_PIPE, ">", ">", ">", PIPE_OK, ".", "S:250 three",
		">", ">", ">", "R:421 4.4.2 idle too long\r\n", "ACCEPT",
		GREET, "C:EHLO box.example", EHLO_PIPE, ">", ">", ">", PIPE_OK, ".", "S:250 four",
		">", ">", ">", PIPE_OK, ".", "ACCEPT",
		GREET, "C:EHLO box.example", EHLO_PIPE, ">", ">", ">", PIPE_OK, ".", "S:250 six",
		BYE, NULL,
	};
	const char *const one[] = { "a@far.example", NULL };
	const char *const want[] = { "250 one", "250 two", "250 three", "250 four",
		                     "smart host isp: session lost: ", "250 six" };
	g_autoptr(RelayQueueEntry) e = entry("carol@elsewhere.example", one);
	g_autofree char *got = NULL;
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	fx_init(&f, "tls = \"none\";", script);
	for (guint k = 0; k < G_N_ELEMENTS(want); k++) {
		/* Let the close arrive: the idle check is what is tested. */
		if (k == 1)
			g_usleep(200 * 1000);
		res = send_msg(&f, e, "x\r\n");
		assert_result(&res[0], g_str_has_prefix(want[k], "250") ? 250 : 0, want[k]);
		g_assert_cmpstr(res[0].remote_mta, ==, "127.0.0.1");
		results_free(res, 1);
	}
	got = fx_finish(&f);
	g_assert_true(g_str_has_suffix(got, "x\r\n.\r\nQUIT\r\n"));
}

/* Between messages the session is kept: relay_smarthosts_expire() leaves
 * it until RELAY_SMARTHOST_IDLE_S passed with nothing sent, then says
 * QUIT; a session carries at most RELAY_SMARTHOST_REUSE_MAX messages. */
static void
test_keep_and_expire(void)
{
	g_autoptr(GPtrArray) script = g_ptr_array_new();
	const char *const one[] = { "a@far.example", NULL };
	g_autoptr(RelayQueueEntry) e = entry("carol@elsewhere.example", one);
	g_autofree char *got = NULL;
	RelayRcptResult *res;
	gint64 now, idle_end;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	for (guint c = 0; c < 2; c++) {
		const char *const open[] = { GREET, "C:EHLO box.example", EHLO_PIPE };
		guint n = c == 0 ? RELAY_SMARTHOST_REUSE_MAX : 2;

		for (guint k = 0; k < G_N_ELEMENTS(open); k++)
			g_ptr_array_add(script, (gpointer)open[k]);
		for (guint m = 0; m < n; m++) {
			const char *const msg[] = { ">", ">", ">", PIPE_OK, ".", "S:250 ok" };

			for (guint k = 0; k < G_N_ELEMENTS(msg); k++)
				g_ptr_array_add(script, (gpointer)msg[k]);
		}
		g_ptr_array_add(script, "C:QUIT");
		g_ptr_array_add(script, "S:221 bye");
		g_ptr_array_add(script, c == 0 ? "ACCEPT" : "EOF");
	}
	g_ptr_array_add(script, NULL);
	fx_init(&f, "tls = \"none\";", (const char *const *)script->pdata);
	for (guint m = 0; m < RELAY_SMARTHOST_REUSE_MAX + 2; m++) {
		res = send_msg(&f, e, "x\r\n");
		assert_result(&res[0], 250, "250 ok");
		results_free(res, 1);
		now = g_get_monotonic_time();
		idle_end = relay_smarthosts_expire(f.sh, now);
		/* Worn out after the last message it may carry: closed at once. */
		if (m == RELAY_SMARTHOST_REUSE_MAX - 1) {
			g_assert_cmpint(idle_end, ==, G_MAXINT64);
			continue;
		}
		g_assert_cmpint(idle_end, >, now);
		g_assert_cmpint(idle_end, <=, now + RELAY_SMARTHOST_IDLE_S * G_USEC_PER_SEC);
	}
	g_assert_cmpint(relay_smarthosts_expire(f.sh, idle_end - 1), ==, idle_end);
	g_assert_cmpint(relay_smarthosts_expire(f.sh, idle_end), ==, G_MAXINT64);
	/* The script ends (QUIT, then EOF) before the client is freed, which
	 * would say QUIT too. */
	got = hm_test_peer_finish(f.peer);
	f.peer = NULL;
	g_assert_true(g_str_has_suffix(got, "x\r\n.\r\nQUIT\r\n"));
	g_free(fx_finish(&f));
}

/* Refusals made before any connection: no smart host configured (try
 * again: one may be added), a local sender without send_as and an
 * unknown local sender (553 5.7.1, never: our own refusals). */
static void
test_refused_before_connecting(void)
{
	const char *const one[] = { "a@far.example", NULL };
	g_autoptr(RelayQueueEntry) e = entry("alice@box.lan", one);
	g_autoptr(RelayQueueEntry) bob = entry("bob@box.lan", one);
	g_autoptr(RelayQueueEntry) nobody = entry("nobody@box.lan", one);
	RelayRcptResult *res;
	Fx f;

	fx_init(&f, NULL, NULL);
	res = send_msg(&f, e, "x\r\n");
	g_assert_cmpuint(res[0].code, ==, 0);
	g_assert_cmpstr(res[0].reply, ==, "no smart host configured (relay.smarthosts)");
	g_assert_null(res[0].remote_mta);
	results_free(res, 1);
	g_free(fx_finish(&f));

	fx_init(&f, "tls = \"none\";", NULL);
	res = send_msg(&f, bob, "x\r\n");
	assert_result(&res[0], 553, "5.7.1 this relay refused to send the message: sender <bob");
	g_assert_nonnull(strstr(res[0].reply, "send_as"));
	g_assert_null(res[0].remote_mta);
	results_free(res, 1);
	res = send_msg(&f, nobody, "x\r\n");
	assert_result(&res[0], 553, "5.7.1 this relay refused ");
	results_free(res, 1);
	g_free(fx_finish(&f));
}

/* NOTIFY and ORCPT (xtext), RET and ENVID go to a server that offers DSN
 * (here one command at a time: no PIPELINING), and dsn_passed says so for
 * the recipient that had NOTIFY; a server without DSN gets none of them. */
static void
test_dsn(void)
{
	const char *const with_dsn[] = {
		GREET, "C:EHLO box.example", "R:250-isp.example\r\n250 DSN\r\n",
		"C:MAIL FROM:<carol@elsewhere.example> RET=HDRS ENVID=id+201", "S:250 ok",
		"C:RCPT TO:<a@far.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@far.example",
		"S:250 ok", "C:RCPT TO:<b@far.example>", "S:250 ok", "C:DATA", "S:354 go", ".",
		"S:250 ok", BYE, NULL,
	};
	const char *const without[] = {
		GREET, "C:EHLO box.example", "R:250-isp.example\r\n250 PIPELINING\r\n",
		"C:MAIL FROM:<carol@elsewhere.example>", "C:RCPT TO:<a@far.example>",
		"C:RCPT TO:<b@far.example>", "C:DATA", "R:250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
		".", "S:250 ok", BYE, NULL,
	};
	const char *const none[] = { NULL };
	g_autoptr(RelayQueueEntry) e = entry("carol@elsewhere.example", none);
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	relay_queue_entry_add_rcpt(e, "a@far.example", RELAY_NOTIFY_SUCCESS | RELAY_NOTIFY_FAILURE,
	                           "rfc822;a+x@far.example");
	relay_queue_entry_add_rcpt(e, "b@far.example", 0, NULL);
	e->ret = RELAY_RET_HDRS;
	e->envid = g_strdup("id 1");
	fx_init(&f, "tls = \"none\";", with_dsn);
	f.peer->strict = TRUE;
	res = send_msg(&f, e, "x\r\n");
	assert_result(&res[0], 250, "250 ok");
	g_assert_true(res[0].dsn_passed);
	g_assert_false(res[1].dsn_passed);
	results_free(res, 2);
	g_free(fx_finish(&f));

	fx_init(&f, "tls = \"none\";", without);
	res = send_msg(&f, e, "x\r\n");
	assert_result(&res[0], 250, "250 ok");
	g_assert_false(res[0].dsn_passed);
	results_free(res, 2);
	g_free(fx_finish(&f));
}

/* What the server does not offer: a message that needs SMTPUTF8 (a UTF-8
 * address) bounces, one that only asked for it goes without it; one over
 * the server's SIZE bounces. Nothing of the refused ones is sent; an
 * 8BITMIME message says so where the server offers it. */
static void
test_offer_refusals(void)
{
	const char *const script[] = {
		GREET, "C:EHLO box.example",
		"R:250-isp.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 40\r\n",
		"C:MAIL FROM:<carol@elsewhere.example> SIZE=3 BODY=8BITMIME",
		"C:RCPT TO:<a@far.example>", "C:DATA", PIPE_OK, ".", "S:250 ascii", BYE, NULL,
	};
	const char *const utf8[] = { "j\xc3\xb6rg@far.example", NULL };
	const char *const ascii[] = { "a@far.example", NULL };
	g_autoptr(RelayQueueEntry) e1 = entry("carol@elsewhere.example", utf8);
	g_autoptr(RelayQueueEntry) e2 = entry("carol@elsewhere.example", ascii);
	g_autofree char *big = g_strnfill(41, 'x');
	g_autofree char *got = NULL;
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	e1->smtputf8 = e2->smtputf8 = TRUE;
	e2->body = RELAY_BODY_8BITMIME;
	fx_init(&f, "tls = \"none\";", script);
	res = send_msg(&f, e1, "x\r\n");
	assert_result(&res[0], 553, "5.6.7 this relay refused to send the message: it needs SMTPUTF8");
	g_assert_null(res[0].remote_mta);
	results_free(res, 1);
	res = send_msg(&f, e2, big);
	assert_result(&res[0], 552,
	              "5.3.4 this relay refused to send the message: its size of 43 octets exceeds "
	              "the limit of 40 octets that the smart host isp announces");
	g_assert_null(res[0].remote_mta);
	results_free(res, 1);
	res = send_msg(&f, e2, "x\r\n");
	assert_result(&res[0], 250, "250 ascii");
	results_free(res, 1);
	got = fx_finish(&f);
	g_assert_null(strstr(got, "j\xc3\xb6rg"));
}

/* The status a notice gives (relay/bounce.c): the enhanced code of a
 * smart host's reply, the one our own words begin with (our refusals
 * above, and local delivery's "5.1.1 ..."), else the class's or the
 * fallback. */
static void
test_notice_status(void)
{
	static const struct {
		const char *reply, *want;
	} cases[] = {
		{ "550 5.1.1 <x@y>: no such user", "5.1.1" },
		{ "550-5.7.1 multi", "5.7.1" },
		{ "451 5.1.1 class disagrees", "4.0.0" },
		{ "550 no enhanced code", "5.0.0" },
		{ "550", "5.0.0" },
		{ "5.1.1 nobody@box.lan: no such user", "5.1.1" },
		{ "4.3.0 disk full", "4.3.0" },
		{ "5.3.4 this relay refused to send the message: too big", "5.3.4" },
		{ "5.123.456", "5.123.456" },
		{ "5.1234.1 x", "fb" },
		{ "5.1.1x", "fb" },
		{ "3.1.1 odd", "fb" },
		{ "smart host isp: session lost: reset", "fb" },
		{ "", "fb" },
	};
	g_autofree char *none = relay_bounce_status(NULL, "fb");

	g_assert_cmpstr(none, ==, "fb");
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = relay_bounce_status(cases[i].reply, "fb");

		if (g_strcmp0(got, cases[i].want) != 0)
			g_error("\"%s\": got %s, want %s", cases[i].reply, got, cases[i].want);
	}
}

/* tls = "starttls" and the server does not offer it: nothing but EHLO and
 * QUIT is sent, the recipient waits (code 0) with a reason that says so,
 * and the next message in the same run gets the same answer at once. */
static void
test_starttls_missing(void)
{
	const char *const script[] = {
		GREET, "C:EHLO box.example", "R:250-isp.example\r\n250 AUTH PLAIN\r\n", BYE, "EOF",
		NULL,
	};
	const char *const one[] = { "a@far.example", NULL };
	g_autoptr(RelayQueueEntry) e = entry("carol@elsewhere.example", one);
	g_autofree char *got = NULL;
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	fx_init(&f, "tls = \"starttls\"; user = \"u\"; password = \"secret\";", script);
	for (guint k = 0; k < 2; k++) {
		res = send_msg(&f, e, "x\r\n");
		assert_result(&res[0], 0, "smart host isp: TLS: 127.0.0.1 port ");
		g_assert_nonnull(strstr(res[0].reply, "does not offer STARTTLS"));
		g_assert_null(res[0].remote_mta);
		results_free(res, 1);
	}
	got = fx_finish(&f);
	g_assert_cmpstr(got, ==, "EHLO box.example\r\nQUIT\r\n");
}

/* STARTTLS with the certificate verified against ca_file, EHLO again,
 * then AUTH: a 535 is not the message's fault, so it waits (code 0). */
static void
test_starttls_auth_refused(void)
{
	const char *const script[] = {
		GREET, "C:EHLO box.example", "R:250-isp.example\r\n250 STARTTLS\r\n", "C:STARTTLS",
		"S:220 go ahead", "TLS", "C:EHLO box.example",
		"R:250-isp.example\r\n250 AUTH PLAIN LOGIN\r\n", ">", "S:535 5.7.8 bad credentials",
		BYE, NULL,
	};
	const char *const one[] = { "a@far.example", NULL };
	g_autoptr(RelayQueueEntry) e = entry("carol@elsewhere.example", one);
	g_autoptr(GError) err = NULL;
	g_autofree char *certdir = NULL, *cert = NULL, *key = NULL, *keys = NULL, *got = NULL;
	SSL_CTX *sctx;
	RelayRcptResult *res;
	Fx f;

	if (!hm_test_in_child(DEADLINE_S))
		return;
	certdir = hm_test_tmpdir("hm-test-smarthost-cert");
	hm_test_make_cert(certdir, &cert, &key);
	sctx = hm_tls_server_ctx(cert, key, HM_TLS_PROFILE_INTERMEDIATE, &err);
	g_assert_no_error(err);
	keys = g_strdup_printf("tls = \"starttls\"; ca_file = \"%s\"; user = \"u\"; "
	                       "password = \"secret\";",
	                       cert);
	fx_init_tls(&f, keys, script, sctx);
	res = send_msg(&f, e, "x\r\n");
	assert_result(&res[0], 0, "smart host isp: AUTH as u refused (535 5.7.8 bad credentials)");
	g_assert_null(res[0].remote_mta);
	results_free(res, 1);
	got = fx_finish(&f);
	/* The password went only inside TLS: after the second EHLO. */
	g_assert_true(g_str_has_prefix(got, "EHLO box.example\r\nSTARTTLS\r\nEHLO box.example\r\n"
	                                    "AUTH PLAIN "));
	SSL_CTX_free(sctx);
	hm_test_remove_tree(certdir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smarthost/rewrite-and-dots", test_rewrite_and_dots);
	g_test_add_func("/smarthost/per-recipient-and-reuse", test_per_recipient_and_reuse);
	g_test_add_func("/smarthost/unusable-recipient-alone", test_unusable_recipient_alone);
	g_test_add_func("/smarthost/reconnect", test_reconnect);
	g_test_add_func("/smarthost/keep-and-expire", test_keep_and_expire);
	g_test_add_func("/smarthost/refused-before-connecting", test_refused_before_connecting);
	g_test_add_func("/smarthost/dsn", test_dsn);
	g_test_add_func("/smarthost/offer-refusals", test_offer_refusals);
	g_test_add_func("/smarthost/notice-status", test_notice_status);
	g_test_add_func("/smarthost/starttls-missing", test_starttls_missing);
	g_test_add_func("/smarthost/starttls-auth-refused", test_starttls_auth_refused);
	return g_test_run();
}
