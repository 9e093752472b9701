/* The IMAP backend against a scripted server thread on 127.0.0.1: the
 * exact commands sent (LOGIN/AUTHENTICATE, SELECT vs EXAMINE, SEARCH and
 * FETCH sets, pipelining), STARTTLS required and PREAUTH refused, UIDPLUS
 * vs EXPUNGE, IDLE, a BYE mid-fetch, an oversized literal, and a failing
 * message callback that leaves the session usable. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetcher/fetch.h"
#include "fetcher/imap-client.h"
#include "lib/conn.h"
#include "lib/tls.h"
#include "testutil.h"

static char *tmpdir, *cert_pem, *key_pem;
static SSL_CTX *server_ctx;

/* --- the scripted server --------------------------------------------------- */

/* A scripted peer (testutil.h: "S:text", "R:bytes", "C:line", "TLS",
 * "EOF") on 127.0.0.1, started. After the script it records whatever else
 * the client sends until it closes. */
static HmTestPeer *
server_start(const char *const *script)
{
	HmTestPeer *sv = hm_test_peer_new_script(hm_test_listen_tcp(NULL), script);

	sv->tls = server_ctx;
	sv->record_rest = TRUE;
	hm_test_peer_start(sv);
	return sv;
}

/* Joins the server; asserts the script ran as written and the client sent
 * exactly the lines in want (NULL-terminated), nothing more. */
static void
server_finish(HmTestPeer *sv, const char *const *want)
{
	g_autoptr(GString) exp = g_string_new(NULL);
	g_autofree char *got = NULL;

	hm_test_peer_join(sv);
	for (const char *const *w = want; *w != NULL; w++)
		g_string_append_printf(exp, "%s|", *w);
	got = hm_test_peer_sent(sv);
	g_assert_cmpstr(got, ==, exp->str);
	hm_test_peer_free(sv);
}

/* --- the client side --------------------------------------------------------- */

typedef struct {
	HmAccountConf acct;
	HmFetchParams p;
	HmTestPeer *sv;
} Fixture;

static void
fixture_init(Fixture *f, const char *const *script, HmTlsMode tls, gboolean keep)
{
	memset(f, 0, sizeof(*f));
	f->sv = server_start(script);
	f->acct.name = (char *)"t";
	f->acct.ep.host = (char *)"127.0.0.1";
	f->acct.ep.port = f->sv->port;
	f->acct.ep.tls = tls;
	f->acct.ep.user = (char *)"u";
	f->acct.ep.password.value = (char *)"p";
	f->acct.keep = keep;
	f->p.acct = &f->acct;
	f->p.tls_ctx = hm_tls_client_ctx(cert_pem, NULL);
	f->p.timeout_ms = 3000;
	f->p.window = 2;
}

static void
fixture_finish(Fixture *f, const char *const *want)
{
	server_finish(f->sv, want);
	SSL_CTX_free(f->p.tls_ctx);
}

/* Opens; asserts failure with code and message. */
static void
open_fails(Fixture *f, HmFetchError code, const char *msg)
{
	g_autoptr(GError) err = NULL;

	g_assert_null(hm_fetch_imap.open(&f->p, &err));
	g_assert_error(err, HM_FETCH_ERROR, (int)code);
	g_assert_cmpstr(err->message, ==, msg);
}

typedef struct {
	GString *got;     /* "uid=data;" per message */
	int fail_at;      /* fail on this call (1-based), 0: never */
	int calls;
} Sink;

static int
sink_fn(const HmFetchItem *item, const char *data, gsize len, gpointer user_data, GError **err)
{
	Sink *k = user_data;

	if (++k->calls == k->fail_at) {
		g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_LOCAL, "disk full");
		return -1;
	}
	g_string_append_printf(k->got, "%s=", item->uid);
	g_string_append_len(k->got, data, (gssize)len);
	g_string_append_c(k->got, ';');
	return 0;
}

#define GREETING "S:* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] ready"
#define LOGIN_OK "C:A0001 LOGIN \"u\" \"p\"", "S:A0001 OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] in"
/* The listing of a whole folder, the first command after SELECT. */
#define LIST_ALL "A0003 UID FETCH 1:* (UID RFC822.SIZE)"
#define LIST_ALL_CMD "C:" LIST_ALL
#define IDENTIFY_ATTS "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"

static HmFetchSession *
open_ok(Fixture *f)
{
	g_autoptr(GError) err = NULL;
	HmFetchSession *s = hm_fetch_imap.open(&f->p, &err);

	g_assert_no_error(err);
	g_assert_nonnull(s);
	return s;
}

static GPtrArray *
select_ok(HmFetchSession *s, guint32 first, guint32 want_validity)
{
	g_autoptr(GError) err = NULL;
	GPtrArray *items = NULL;
	guint32 v = 0;

	g_assert_cmpint(hm_fetch_imap.select(s, "INBOX", first, &v, &items, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(v, ==, want_validity);
	return items;
}

static void
close_ok(HmFetchSession *s)
{
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_fetch_imap.close(s, &err), ==, 0);
	g_assert_no_error(err);
}

/* The whole run with LOGIN, SELECT, the listing from UID 3 (out of order,
 * a message twice, a flag change naming its UID), identify, pipelined
 * retrieve (unsolicited FETCH and EXISTS ignored, one message gone),
 * UIDPLUS remove and LOGOUT. */
static void
test_full_session(void)
{
	static const char *const script[] = {
		GREETING, LOGIN_OK,
		"C:A0002 SELECT INBOX",
		"R:* 5 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 77] ok\r\n"
		"A0002 OK [READ-WRITE] selected\r\n",
		"C:A0003 UID FETCH 3:* (UID RFC822.SIZE)",
		"R:* 5 FETCH (UID 9 RFC822.SIZE 90)\r\n* 2 FETCH (UID 3 RFC822.SIZE 10)\r\n"
		"* 3 FETCH (RFC822.SIZE 20 UID 4)\r\n* 3 FETCH (FLAGS (\\Seen) UID 4)\r\n"
		"* 4 FETCH (UID 5 RFC822.SIZE 30)\r\n* 2 FETCH (UID 3 RFC822.SIZE 10)\r\n"
		"A0003 OK fetched\r\n",
		"C:A0004 UID FETCH 3:5,9 (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
		"R:* 1 FETCH (UID 3 RFC822.SIZE 10 BODY[HEADER.FIELDS (MESSAGE-ID)] {23}\r\n"
		"Message-ID:  <a@b> \r\n\r\n)\r\n"
		"* 2 FETCH (UID 4 RFC822.SIZE 20 BODY[HEADER.FIELDS (\"MESSAGE-ID\")] {2}\r\n\r\n)\r\n"
		"* 3 FETCH (UID 5 RFC822.SIZE 30 BODY[HEADER.FIELDS (MESSAGE-ID)] "
		"\"Message-Id: <c@d>\")\r\n"
		"A0004 OK fetched\r\n",
		"C:A0005 UID FETCH 3 (BODY.PEEK[] RFC822.SIZE)",
		"C:A0006 UID FETCH 4 (BODY.PEEK[] RFC822.SIZE)",
		"R:* 1 FETCH (UID 3 RFC822.SIZE 5 BODY[] {5}\r\nhello)\r\n* 1 FETCH (FLAGS (\\Seen))\r\n"
		"A0005 OK\r\n",
		"C:A0007 UID FETCH 5 (BODY.PEEK[] RFC822.SIZE)",
		"R:* 6 EXISTS\r\n* 2 FETCH (BODY[] {3}\r\nabc UID 4)\r\nA0006 OK\r\n",
		"C:A0008 UID FETCH 9 (BODY.PEEK[] RFC822.SIZE)",
		"R:A0007 NO Some messages could not be FETCHed (Failure)\r\n"
		"* 5 FETCH (UID 9 BODY[] \"q\\\"uoted\")\r\nA0008 OK\r\n",
		"C:A0009 UID STORE 3:4,9 +FLAGS.SILENT (\\Seen \\Deleted)",
		"C:A0010 UID EXPUNGE 3:4,9",
		"S:* 1 EXPUNGE\r\nA0009 OK stored\r\n* 1 EXPUNGE\r\n* 3 EXPUNGE\r\nA0010 OK expunged",
		"C:A0011 LOGOUT",
		"S:* BYE bye\r\nA0011 OK", NULL,
	};
	static const char *const want[] = {
		"A0001 LOGIN \"u\" \"p\"", "A0002 SELECT INBOX", "A0003 UID FETCH 3:* (UID RFC822.SIZE)",
		"A0004 UID FETCH 3:5,9 (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
		"A0005 UID FETCH 3 (BODY.PEEK[] RFC822.SIZE)", "A0006 UID FETCH 4 (BODY.PEEK[] RFC822.SIZE)",
		"A0007 UID FETCH 5 (BODY.PEEK[] RFC822.SIZE)", "A0008 UID FETCH 9 (BODY.PEEK[] RFC822.SIZE)",
		"A0009 UID STORE 3:4,9 +FLAGS.SILENT (\\Seen \\Deleted)", "A0010 UID EXPUNGE 3:4,9",
		"A0011 LOGOUT", NULL,
	};
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GError) err = NULL;
	Sink k = { g_string_new(NULL), 0, 0 };
	HmFetchItem *gone[3];

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	g_assert_true(hm_fetch_imap.can_wait(s));
	items = select_ok(s, 3, 77);
	g_assert_true(hm_fetch_imap.listed_all(s));
	g_assert_cmpuint(items->len, ==, 4);
	{
		static const guint32 uids[] = { 3, 4, 5, 9 }, sizes[] = { 10, 20, 30, 90 };

		for (guint i = 0; i < 4; i++) {
			HmFetchItem *it = g_ptr_array_index(items, i);
			g_autofree char *u = g_strdup_printf("%u", uids[i]);

			g_assert_cmpuint(it->num, ==, uids[i]);
			g_assert_cmpstr(it->uid, ==, u);
			g_assert_cmpuint(it->size, ==, sizes[i]);
		}
	}
	g_assert_cmpint(hm_fetch_imap.identify(s, items, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(((HmFetchItem *)items->pdata[0])->message_id, ==, "<a@b>");
	g_assert_null(((HmFetchItem *)items->pdata[1])->message_id);
	g_assert_cmpstr(((HmFetchItem *)items->pdata[2])->message_id, ==, "<c@d>");
	g_assert_null(((HmFetchItem *)items->pdata[3])->message_id);
	g_assert_cmpint(hm_fetch_imap.retrieve(s, (HmFetchItem *const *)items->pdata, items->len,
	                                       sink_fn, &k, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(k.got->str, ==, "3=hello;4=abc;9=q\"uoted;");
	gone[0] = items->pdata[0];
	gone[1] = items->pdata[1];
	gone[2] = items->pdata[3];
	g_assert_cmpint(hm_fetch_imap.remove(s, gone, 3, &err), ==, 0);
	g_assert_no_error(err);
	close_ok(s);
	fixture_finish(&f, want);
	g_string_free(k.got, TRUE);
}

/* keep = true: EXAMINE, and an empty folder costs no further command;
 * without UIDPLUS, remove() is STORE then a plain EXPUNGE. */
static void
test_examine_empty_and_expunge(void)
{
	static const char *const script[] = {
		"S:* OK ready",
		"C:A0001 CAPABILITY",
		"S:* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nA0001 OK",
		"C:A0002 AUTHENTICATE PLAIN AHUAcA==",
		"S:A0002 OK [CAPABILITY IMAP4rev1] done",
		"C:A0003 EXAMINE INBOX",
		"S:* 0 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\nA0003 OK [READ-ONLY] examined",
		"C:A0004 UID STORE 7 +FLAGS.SILENT (\\Seen \\Deleted)",
		"S:A0004 OK",
		"C:A0005 EXPUNGE",
		"S:* 1 EXPUNGE\r\nA0005 OK",
		"C:A0006 LOGOUT",
		"S:* BYE\r\nA0006 OK", NULL,
	};
	static const char *const want[] = {
		"A0001 CAPABILITY", "A0002 AUTHENTICATE PLAIN AHUAcA==", "A0003 EXAMINE INBOX",
		"A0004 UID STORE 7 +FLAGS.SILENT (\\Seen \\Deleted)", "A0005 EXPUNGE", "A0006 LOGOUT",
		NULL,
	};
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GError) err = NULL;
	HmFetchItem it = { .uid = (char *)"7", .num = 7 }, *one = &it;

	fixture_init(&f, script, HM_TLS_MODE_NONE, TRUE);
	s = open_ok(&f);
	g_assert_false(hm_fetch_imap.can_wait(s));
	items = select_ok(s, 1, 5);
	g_assert_cmpuint(items->len, ==, 0);
	g_assert_cmpint(hm_fetch_imap.remove(s, &one, 1, &err), ==, 0);
	g_assert_no_error(err);
	close_ok(s);
	fixture_finish(&f, want);
}

/* STARTTLS: pre-TLS capabilities are forgotten (AUTH=PLAIN offered in
 * clear is not used), AUTHENTICATE without SASL-IR waits for "+". */
static void
test_starttls(void)
{
	static const char *const script[] = {
		"S:* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready",
		"C:A0001 STARTTLS",
		"S:A0001 OK go",
		"TLS",
		"C:A0002 CAPABILITY",
		"S:* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK",
		"C:A0003 AUTHENTICATE PLAIN",
		"S:+ ",
		"C:AHUAcA==",
		"S:A0003 OK done",
		"C:A0004 CAPABILITY",
		"S:* CAPABILITY IMAP4rev1 IDLE\r\nA0004 OK",
		"C:A0005 LOGOUT",
		"S:* BYE\r\nA0005 OK", NULL,
	};
	static const char *const want[] = {
		"A0001 STARTTLS", "A0002 CAPABILITY", "A0003 AUTHENTICATE PLAIN", "AHUAcA==",
		"A0004 CAPABILITY", "A0005 LOGOUT", NULL,
	};
	Fixture f;
	HmFetchSession *s;

	fixture_init(&f, script, HM_TLS_MODE_STARTTLS, FALSE);
	s = open_ok(&f);
	g_assert_true(hm_fetch_imap.can_wait(s));
	close_ok(s);
	fixture_finish(&f, want);
}

static void
test_starttls_missing(void)
{
	static const char *const script[] = {
		"S:* OK ready",
		"C:A0001 CAPABILITY",
		"S:* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0001 OK",
		"EOF", NULL,
	};
	static const char *const want[] = { "A0001 CAPABILITY", NULL };
	Fixture f;

	fixture_init(&f, script, HM_TLS_MODE_STARTTLS, FALSE);
	open_fails(&f, HM_FETCH_ERROR_TLS, "TLS: server does not offer STARTTLS");
	fixture_finish(&f, want);
}

static void
test_starttls_preauth(void)
{
	static const char *const script[] = { "S:* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi", "EOF", NULL };
	static const char *const want[] = { NULL };
	Fixture f;

	fixture_init(&f, script, HM_TLS_MODE_STARTTLS, FALSE);
	open_fails(&f, HM_FETCH_ERROR_TLS, "TLS: server sent PREAUTH, so STARTTLS is impossible; "
	           "refusing to continue in clear");
	fixture_finish(&f, want);
}

/* Plain text sent right after the STARTTLS reply must not be taken as
 * TLS-protected (CVE-2011-0411). */
static void
test_starttls_injection(void)
{
	static const char *const script[] = {
		"S:* OK [CAPABILITY IMAP4rev1 STARTTLS] ready",
		"C:A0001 STARTTLS",
		"R:A0001 OK go\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n",
		"EOF", NULL,
	};
	static const char *const want[] = { "A0001 STARTTLS", NULL };
	Fixture f;
	g_autoptr(GError) err = NULL;

	fixture_init(&f, script, HM_TLS_MODE_STARTTLS, FALSE);
	g_assert_null(hm_fetch_imap.open(&f.p, &err));
	g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_TLS);
	g_assert_true(g_str_has_prefix(err->message, "TLS: "));
	fixture_finish(&f, want);
}

static void
test_preauth_plain(void)
{
	static const char *const script[] = {
		"S:* PREAUTH [CAPABILITY IMAP4rev1] welcome",
		"C:A0001 LOGOUT",
		"S:* BYE\r\nA0001 OK", NULL,
	};
	static const char *const want[] = { "A0001 LOGOUT", NULL };
	Fixture f;

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	close_ok(open_ok(&f));
	fixture_finish(&f, want);
}

static void
test_login_errors(void)
{
	static const char *const refused[] = {
		GREETING, "C:A0001 LOGIN \"u\" \"p\"",
		"S:A0001 NO [AUTHENTICATIONFAILED] Authentication\001 failed.", "EOF", NULL,
	};
	static const char *const want_refused[] = { "A0001 LOGIN \"u\" \"p\"", NULL };
	static const char *const disabled[] = { "S:* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] x", "EOF", NULL };
	static const char *const bye[] = { "S:* BYE too busy", "EOF", NULL };
	static const char *const none[] = { NULL };
	Fixture f;

	fixture_init(&f, refused, HM_TLS_MODE_NONE, FALSE);
	open_fails(&f, HM_FETCH_ERROR_AUTH,
	           "login refused: [AUTHENTICATIONFAILED] Authentication failed.");
	fixture_finish(&f, want_refused);

	fixture_init(&f, disabled, HM_TLS_MODE_NONE, FALSE);
	open_fails(&f, HM_FETCH_ERROR_AUTH, "login refused: the server has LOGINDISABLED and "
	           "does not offer AUTH=PLAIN or AUTH=LOGIN");
	fixture_finish(&f, none);

	fixture_init(&f, bye, HM_TLS_MODE_NONE, FALSE);
	open_fails(&f, HM_FETCH_ERROR_SERVER, "server said BYE: too busy");
	fixture_finish(&f, none);

	fixture_init(&f, disabled, HM_TLS_MODE_NONE, FALSE);
	f.acct.ep.password.value = NULL;
	open_fails(&f, HM_FETCH_ERROR_AUTH, "no password configured");
	fixture_finish(&f, none);

	/* An IPv4-mapped address is not "loopback" to the password rule. */
	fixture_init(&f, (const char *const []) { GREETING, "EOF", NULL }, HM_TLS_MODE_NONE, FALSE);
	f.acct.ep.host = (char *)"::ffff:127.0.0.1";
	open_fails(&f, HM_FETCH_ERROR_TLS, "refusing to send the password in clear to "
	           "::ffff:127.0.0.1 (use tls, or allow_plaintext = true)");
	fixture_finish(&f, none);
}

/* A password that needs a literal; the "+" is awaited. */
static void
test_login_literal(void)
{
	static const char *const script[] = {
		GREETING,
		"C:A0001 LOGIN \"u\" {7}",
		"S:+ go ahead",
		"C:p\xc3\xa4sswd",
		"S:A0001 OK [CAPABILITY IMAP4rev1] in",
		"C:A0002 LOGOUT",
		"S:* BYE\r\nA0002 OK", NULL,
	};
	static const char *const want[] = {
		"A0001 LOGIN \"u\" {7}", "p\xc3\xa4sswd", "A0002 LOGOUT", NULL,
	};
	Fixture f;

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	f.acct.ep.password.value = (char *)"p\xc3\xa4sswd";
	close_ok(open_ok(&f));
	fixture_finish(&f, want);
}

/* AUTHENTICATE through lib/sasl: LOGIN answers both challenges when the
 * LOGIN command is disabled; PLAIN without SASL-IR waits for the "+"; a
 * refusal is the tagged NO, reported as for LOGIN. */
static void
test_authenticate(void)
{
	static const char *const login_mech[] = {
		"S:* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=LOGIN AUTH=CRAM-MD5] x",
		"C:A0001 AUTHENTICATE LOGIN", "S:+ VXNlcm5hbWU6", "C:dQ==", "S:+ UGFzc3dvcmQ6",
		"C:cA==", "S:A0001 OK [CAPABILITY IMAP4rev1] in",
		"C:A0002 LOGOUT", "S:* BYE\r\nA0002 OK", NULL,
	};
	static const char *const want_login[] = {
		"A0001 AUTHENTICATE LOGIN", "dQ==", "cA==", "A0002 LOGOUT", NULL,
	};
	static const char *const plain_no_ir[] = {
		"S:* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] x",
		"C:A0001 AUTHENTICATE PLAIN", "S:+ ", "C:AHUAcA==",
		"S:A0001 NO [AUTHENTICATIONFAILED] Nope.", "EOF", NULL,
	};
	static const char *const want_plain[] = { "A0001 AUTHENTICATE PLAIN", "AHUAcA==", NULL };
	Fixture f;

	fixture_init(&f, login_mech, HM_TLS_MODE_NONE, FALSE);
	close_ok(open_ok(&f));
	fixture_finish(&f, want_login);

	fixture_init(&f, plain_no_ir, HM_TLS_MODE_NONE, FALSE);
	open_fails(&f, HM_FETCH_ERROR_AUTH, "login refused: [AUTHENTICATIONFAILED] Nope.");
	fixture_finish(&f, want_plain);
}

/* A lost connection while sending is a network error of the fetcher's
 * domain (lib's HM_ERROR escaped where the header promised HM_FETCH_ERROR),
 * and it breaks the client. */
static gboolean
broken_by(int (*send)(HmImapClient *, const char *, GError **))
{
	HmAccountConf acct = { .name = (char *)"t" };
	HmFetchParams p = { .acct = &acct, .timeout_ms = 2000, .window = 1 };
	g_autofree char *big = g_strnfill(4 << 20, 'x');
	g_autoptr(GError) err = NULL;
	HmImapClient c;
	HmConn *conn;
	int sv[2];
	gboolean ok;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	close(sv[1]);
	conn = hm_conn_new(sv[0], 2000);
	hm_imapc_init(&c, &p, conn, NULL, NULL);
	ok = send(&c, big, &err) < 0 && g_error_matches(err, HM_FETCH_ERROR, HM_FETCH_ERROR_NETWORK) &&
	     c.pp.broken;
	if (!ok)
		g_test_message("error: %s", err != NULL ? g_quark_to_string(err->domain) : "none");
	hm_conn_free(conn);
	return ok;
}

static int
send_tagged(HmImapClient *c, const char *cmd, GError **err)
{
	guint tag;

	return hm_imapc_send(c, &tag, cmd, err) < 0 ? -1 : hm_imapc_flush(c, err);
}

static int
send_untagged(HmImapClient *c, const char *line, GError **err)
{
	return hm_imapc_send_line(c, line, NULL, err) < 0 ? -1 : hm_imapc_flush(c, err);
}

static void
test_send_errors(void)
{
	g_assert_true(broken_by(send_tagged));
	g_assert_true(broken_by(send_untagged));
}

/* Selects INBOX listing from first; asserts the failure (code, msg). A
 * server error leaves the session usable (the script ends in LOGOUT);
 * a protocol error breaks it. */
static void
select_fails_from(const char *const *script, const char *const *want, guint32 first,
                  HmFetchError code, const char *msg)
{
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GError) err = NULL;
	GPtrArray *items = NULL;
	guint32 v;

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	g_assert_cmpint(hm_fetch_imap.select(s, "INBOX", first, &v, &items, &err), ==, -1);
	g_assert_null(items);
	g_assert_error(err, HM_FETCH_ERROR, (int)code);
	g_assert_cmpstr(err->message, ==, msg);
	if (code == HM_FETCH_ERROR_SERVER)
		close_ok(s);
	else
		hm_fetch_imap.abort(s);
	fixture_finish(&f, want);
}

static void
select_fails(const char *const *script, const char *const *want, const char *msg)
{
	select_fails_from(script, want, 1, HM_FETCH_ERROR_PROTOCOL, msg);
}

/* Script prefix: logged in, INBOX selected with EXISTS n (a string). */
#define SELECTED_EXISTS(n) \
	GREETING, LOGIN_OK, "C:A0002 SELECT INBOX", \
	"S:* " n " EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 120001] x\r\nA0002 OK"
#define SELECTED_EXISTS_WANT "A0001 LOGIN \"u\" \"p\"", "A0002 SELECT INBOX"

static void
test_select_errors(void)
{
	/* Listing replies (to LIST_ALL, EXISTS 3) and the error each gives. */
	static const char *const bad_listing[][2] = {
		{ "S:* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 FETCH (UID 4294967296 RFC822.SIZE 3)\r\n"
		  "A0003 OK", "bad UID in a FETCH reply" },
		{ "S:* 1 FETCH (UID -2 RFC822.SIZE 3)\r\nA0003 OK", "bad UID in a FETCH reply" },
		{ "S:* 1 FETCH (UID 0 RFC822.SIZE 3)\r\nA0003 OK", "bad UID in a FETCH reply" },
		{ "S:* 1 FETCH (UID 1 RFC822.SIZE NIL)\r\nA0003 OK", "bad RFC822.SIZE in a FETCH reply" },
	};
	static const char *const want2[] = { "A0001 LOGIN \"u\" \"p\"", "A0002 SELECT INBOX", NULL };
	static const char *const want3[] = {
		"A0001 LOGIN \"u\" \"p\"", "A0002 SELECT INBOX", LIST_ALL, NULL,
	};

	select_fails((const char *const []) { GREETING, LOGIN_OK, "C:A0002 SELECT INBOX",
	             "S:* 3 EXISTS\r\nA0002 OK", "EOF", NULL }, want2,
	             "server sent no UIDVALIDITY for INBOX");
	select_fails((const char *const []) { GREETING, LOGIN_OK, "C:A0002 SELECT INBOX",
	             "S:* 99999999999 EXISTS", "EOF", NULL }, want2,
	             "bad number in an untagged response");
	select_fails((const char *const []) { GREETING, LOGIN_OK, "C:A0002 SELECT INBOX",
	             "S:* OK [UIDVALIDITY -1] x", "EOF", NULL }, want2, "bad UIDVALIDITY");
	for (guint i = 0; i < G_N_ELEMENTS(bad_listing); i++)
		select_fails((const char *const []) { SELECTED_EXISTS("3"), LIST_ALL_CMD,
		             bad_listing[i][0], "EOF", NULL }, want3, bad_listing[i][1]);
}

/* Selects INBOX listing from first; asserts the UIDs listed ("3,4,"),
 * whether the listing was whole, and the commands sent. */
static void
list_ok(const char *const *script, const char *const *want, guint32 first, const char *uids,
        gboolean whole)
{
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GString) got = g_string_new(NULL);

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, first, 1);
	for (guint i = 0; i < items->len; i++)
		g_string_append_printf(got, "%s,", ((HmFetchItem *)items->pdata[i])->uid);
	g_assert_cmpstr(got->str, ==, uids);
	g_assert_cmpint(hm_fetch_imap.listed_all(s), ==, whole);
	hm_fetch_imap.abort(s);
	fixture_finish(&f, want);
}

/* The listing of a whole folder against EXISTS: mail that comes and goes
 * meanwhile is allowed for; fewer than EXISTS is a short listing (it is
 * used, but marked); more is only logged. */
static void
test_list_whole(void)
{
	static const char *const want[] = { SELECTED_EXISTS_WANT, LIST_ALL, NULL };

	/* UID 2 expunged and UID 4 added while listing: 2 of 3 is whole. */
	list_ok((const char *const []) { SELECTED_EXISTS("3"), LIST_ALL_CMD,
	        "S:* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 EXPUNGE\r\n* 3 EXISTS\r\n"
	        "* 2 FETCH (UID 3 RFC822.SIZE 3)\r\nA0003 OK", "EOF", NULL }, want, 1, "1,3,", TRUE);
	list_ok((const char *const []) { SELECTED_EXISTS("5"), LIST_ALL_CMD,
	        "S:* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 FETCH (UID 2 RFC822.SIZE 3)\r\n"
	        "* 4 FETCH (UID 4 RFC822.SIZE 3)\r\nA0003 OK", "EOF", NULL }, want, 1, "1,2,4,", FALSE);
	list_ok((const char *const []) { SELECTED_EXISTS("1"), LIST_ALL_CMD,
	        "S:* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 FETCH (UID 2 RFC822.SIZE 3)\r\nA0003 OK",
	        "EOF", NULL }, want, 1, "1,2,", TRUE);
}

/* Listed from UID 7 (keep = true above a watermark): the last message is
 * always answered (and dropped when below 7); a server that leaves it
 * out is asked for it; a gap in the message numbers is a short listing.
 * A far UIDNEXT changes nothing: one command lists it all. */
static void
test_list_partial(void)
{
	static const char *const want[] = {
		SELECTED_EXISTS_WANT, "A0003 UID FETCH 7:* (UID RFC822.SIZE)", NULL,
	};
	static const char *const want_last[] = {
		SELECTED_EXISTS_WANT, "A0003 UID FETCH 7:* (UID RFC822.SIZE)", "A0004 FETCH * (UID)",
		NULL,
	};

	list_ok((const char *const []) { SELECTED_EXISTS("6"), "C:A0003 UID FETCH 7:* (UID RFC822.SIZE)",
	        "S:* 6 FETCH (UID 6 RFC822.SIZE 3)\r\nA0003 OK", "EOF", NULL }, want, 7, "", TRUE);
	list_ok((const char *const []) { SELECTED_EXISTS("6"), "C:A0003 UID FETCH 7:* (UID RFC822.SIZE)",
	        "S:A0003 OK", "C:A0004 FETCH * (UID)", "S:* 6 FETCH (UID 6)\r\nA0004 OK", "EOF", NULL },
	        want_last, 7, "", TRUE);
	list_ok((const char *const []) { SELECTED_EXISTS("10"), "C:A0003 UID FETCH 7:* (UID RFC822.SIZE)",
	        "S:* 10 FETCH (UID 120000 RFC822.SIZE 3)\r\n* 9 FETCH (UID 9 RFC822.SIZE 3)\r\nA0003 OK",
	        "EOF", NULL }, want, 7, "9,120000,", TRUE);
	list_ok((const char *const []) { SELECTED_EXISTS("10"), "C:A0003 UID FETCH 7:* (UID RFC822.SIZE)",
	        "S:* 8 FETCH (UID 8 RFC822.SIZE 3)\r\n* 10 FETCH (UID 12 RFC822.SIZE 3)\r\nA0003 OK",
	        "EOF", NULL }, want, 7, "8,12,", FALSE);
}

/* A folder that holds mail but lists none fails, with both facts in the
 * error, and the session stays usable. */
static void
test_list_none(void)
{
	static const char *const want[] = { SELECTED_EXISTS_WANT, LIST_ALL, "A0004 LOGOUT", NULL };
	static const char *const want_last[] = {
		SELECTED_EXISTS_WANT, "A0003 UID FETCH 7:* (UID RFC822.SIZE)", "A0004 FETCH * (UID)",
		"A0005 LOGOUT", NULL,
	};

	select_fails_from((const char *const []) { SELECTED_EXISTS("50"), LIST_ALL_CMD,
	                  "S:* 1 FETCH (FLAGS (\\Seen) UID 7)\r\nA0003 OK", "C:A0004 LOGOUT",
	                  "S:* BYE\r\nA0004 OK", NULL }, want, 1, HM_FETCH_ERROR_SERVER,
	                  "INBOX: EXISTS is 50 but the server lists no message: nothing fetched, "
	                  "the mail stays on the server");
	select_fails_from((const char *const []) { SELECTED_EXISTS("50"),
	                  "C:A0003 UID FETCH 7:* (UID RFC822.SIZE)", "S:A0003 OK",
	                  "C:A0004 FETCH * (UID)", "S:* 50 FETCH (UID 90)\r\nA0004 OK",
	                  "C:A0005 LOGOUT", "S:* BYE\r\nA0005 OK", NULL }, want_last, 7,
	                  HM_FETCH_ERROR_SERVER, "INBOX: EXISTS is 50 and the last "
	                  "message has UID 90, but the server lists none from UID 7 on: nothing "
	                  "fetched, the mail stays on the server");
	select_fails_from((const char *const []) { SELECTED_EXISTS("50"),
	                  "C:A0003 UID FETCH 7:* (UID RFC822.SIZE)", "S:A0003 OK",
	                  "C:A0004 FETCH * (UID)", "S:A0004 OK", "C:A0005 LOGOUT",
	                  "S:* BYE\r\nA0005 OK", NULL }, want_last, 7, HM_FETCH_ERROR_SERVER,
	                  "INBOX: EXISTS is 50 but the server lists no message, not even its last "
	                  "one: nothing fetched, the mail stays on the server");
}

/* "S:" and the listing lines of UIDs from..to (message number = UID),
 * then mid (a string: an EXISTS or EXPUNGE while listing) after UID at,
 * then the tagged OK. */
static char *
listing_lines(guint32 from, guint32 to, guint32 at, const char *mid)
{
	GString *out = g_string_new("S:");

	for (guint32 u = from; u <= to; u++) {
		g_string_append_printf(out, "* %u FETCH (UID %u RFC822.SIZE 3)\r\n", u, u);
		if (u == at)
			g_string_append(out, mid);
	}
	g_string_append(out, "A0003 OK");
	return g_string_free(out, FALSE);
}

/* A listing may hold what EXISTS counts, what came or went meanwhile, and
 * a margin of 1000 for mail listed before its EXISTS; one more message
 * breaks the session at once. EXISTS over 1,000,000 is refused before
 * any listing, the session still usable. */
static void
test_list_bounds(void)
{
	static const char *const want[] = { SELECTED_EXISTS_WANT, LIST_ALL, NULL };
	static const char *const want_logout[] = { SELECTED_EXISTS_WANT, "A0003 LOGOUT", NULL };
	g_autofree char *margin = listing_lines(1, 1002, 0, "");
	g_autofree char *over = listing_lines(1, 1003, 0, "");
	g_autofree char *grown = listing_lines(1, 1500, 10, "* 500 EXISTS\r\n");
	g_autofree char *gone = listing_lines(1, 1100, 10, "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n");
	g_autofree char *gone_over = listing_lines(1, 1101, 10, "* 1 EXPUNGE\r\n");
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;

	fixture_init(&f, (const char *const []) { SELECTED_EXISTS("2"), LIST_ALL_CMD, margin, "EOF",
	             NULL }, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, 1, 1);
	g_assert_cmpuint(items->len, ==, 1002);
	hm_fetch_imap.abort(s);
	fixture_finish(&f, want);
	g_clear_pointer(&items, g_ptr_array_unref);
	/* EXISTS grows to 500 while listing; then two of 100 expunged meanwhile. */
	fixture_init(&f, (const char *const []) { SELECTED_EXISTS("2"), LIST_ALL_CMD, grown, "EOF",
	             NULL }, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, 1, 1);
	g_assert_cmpuint(items->len, ==, 1500);
	hm_fetch_imap.abort(s);
	fixture_finish(&f, want);
	g_clear_pointer(&items, g_ptr_array_unref);
	fixture_init(&f, (const char *const []) { SELECTED_EXISTS("100"), LIST_ALL_CMD, gone, "EOF",
	             NULL }, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, 1, 1);
	g_assert_cmpuint(items->len, ==, 1100);
	hm_fetch_imap.abort(s);
	fixture_finish(&f, want);
	select_fails_from((const char *const []) { SELECTED_EXISTS("2"), LIST_ALL_CMD, over, "EOF",
	                  NULL }, want, 1, HM_FETCH_ERROR_PROTOCOL,
	                  "INBOX: the server lists more messages than EXISTS counted (2)");
	select_fails_from((const char *const []) { SELECTED_EXISTS("100"), LIST_ALL_CMD, gone_over,
	                  "EOF", NULL }, want, 1, HM_FETCH_ERROR_PROTOCOL,
	                  "INBOX: the server lists more messages than EXISTS counted (99)");
	select_fails_from((const char *const []) { SELECTED_EXISTS("1000001"), "C:A0003 LOGOUT",
	                  "S:* BYE\r\nA0003 OK", NULL }, want_logout, 1, HM_FETCH_ERROR_SERVER,
	                  "INBOX: EXISTS is 1000001, more than the 1000000 messages a folder may "
	                  "hold: nothing fetched, the mail stays on the server");
}

/* A UID listed for two messages (a server bug) makes both untracked; the
 * same message listed again is a repeat, also after an EXPUNGE has moved
 * it down; a third message with the UID is left out. */
static void
test_list_shared_uids(void)
{
	static const char *const script[] = {
		SELECTED_EXISTS("7"), LIST_ALL_CMD,
		"S:* 1 FETCH (UID 5 RFC822.SIZE 3)\r\n* 2 FETCH (UID 5 RFC822.SIZE 4)\r\n"
		"* 3 FETCH (UID 6 RFC822.SIZE 3)\r\n* 1 FETCH (UID 5 RFC822.SIZE 3)\r\n"
		"* 5 FETCH (UID 8 RFC822.SIZE 3)\r\n* 4 EXPUNGE\r\n* 4 FETCH (UID 8 RFC822.SIZE 3)\r\n"
		"* 5 FETCH (UID 9 RFC822.SIZE 3)\r\n* 6 FETCH (UID 9 RFC822.SIZE 3)\r\n"
		"* 4 FETCH (UID 9 RFC822.SIZE 3)\r\nA0003 OK",
		"EOF", NULL,
	};
	static const char *const want[] = { SELECTED_EXISTS_WANT, LIST_ALL, NULL };
	static const guint32 uids[] = { 5, 5, 6, 8, 9, 9 };
	static const gboolean untracked[] = { TRUE, TRUE, FALSE, FALSE, TRUE, TRUE };
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, 1, 1);
	g_assert_cmpuint(items->len, ==, G_N_ELEMENTS(uids));
	for (guint i = 0; i < items->len; i++) {
		HmFetchItem *it = g_ptr_array_index(items, i);
		g_autofree char *u = g_strdup_printf("%u", uids[i]);

		g_assert_cmpuint(it->num, ==, uids[i]);
		g_assert_cmpstr(it->uid, ==, u);
		g_assert_cmpint(it->untracked, ==, untracked[i]);
	}
	/* 6 of 7 less one expunged: whole. */
	g_assert_true(hm_fetch_imap.listed_all(s));
	hm_fetch_imap.abort(s);
	fixture_finish(&f, want);
}

static void
add_fetch(GPtrArray *script, GPtrArray *want, guint tag, const char *set)
{
	char *line = g_strdup_printf("A%04u UID FETCH %s " IDENTIFY_ATTS, tag, set);

	g_assert_cmpuint(strlen(line) + 2, <, 8000);
	g_ptr_array_add(script, g_strdup_printf("C:%s", line));
	g_ptr_array_add(want, line);
}

/* Sets of many scattered UIDs are split into several commands, each
 * under 8000 octets, all sent before the first reply is read. */
static void
test_long_sets(void)
{
	GPtrArray *script = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
	GString *listing = g_string_new("S:");
	GString *cmd = g_string_new(NULL);
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GError) err = NULL;
	guint ncmd = 0, seq = 0;

	for (guint u = 1000001; u < 1006000; u += 2)
		g_string_append_printf(listing, "* %u FETCH (UID %u RFC822.SIZE 1)\r\n", ++seq, u);
	g_string_append(listing, "A0003 OK");
	g_ptr_array_add(script, g_strdup(GREETING));
	g_ptr_array_add(script, g_strdup("C:A0001 LOGIN \"u\" \"p\""));
	g_ptr_array_add(script, g_strdup("S:A0001 OK [CAPABILITY IMAP4rev1] in"));
	g_ptr_array_add(script, g_strdup("C:A0002 SELECT INBOX"));
	g_ptr_array_add(script, g_strdup("S:* 3000 EXISTS\r\n* OK [UIDVALIDITY 9] x\r\nA0002 OK"));
	g_ptr_array_add(script, g_strdup(LIST_ALL_CMD));
	g_ptr_array_add(script, g_string_free(listing, FALSE));
	g_ptr_array_add(want, g_strdup("A0001 LOGIN \"u\" \"p\""));
	g_ptr_array_add(want, g_strdup("A0002 SELECT INBOX"));
	g_ptr_array_add(want, g_strdup(LIST_ALL));
	/* The commands the client must send, computed independently: each
	 * line with its tag and CRLF under 8000 octets. */
	for (guint u = 1000001; u < 1006000; u += 2) {
		char part[16];

		g_snprintf(part, sizeof(part), "%u", u);
		if (cmd->len > 0 && strlen("UID FETCH ") + cmd->len + 1 + strlen(part) + 1 +
		    strlen(IDENTIFY_ATTS) >= 8000 - 16) {
			add_fetch(script, want, 4 + ncmd++, cmd->str);
			g_string_truncate(cmd, 0);
		}
		if (cmd->len > 0)
			g_string_append_c(cmd, ',');
		g_string_append(cmd, part);
	}
	add_fetch(script, want, 4 + ncmd++, cmd->str);
	g_assert_cmpuint(ncmd, ==, 4);
	g_ptr_array_add(script, g_strdup("S:* 1 FETCH (UID 1000001 RFC822.SIZE 1)\r\nA0004 OK\r\n"
	                                 "A0005 OK\r\nA0006 OK\r\nA0007 OK"));
	g_ptr_array_add(script, g_strdup("EOF"));
	g_ptr_array_add(script, NULL);
	g_ptr_array_add(want, NULL);
	fixture_init(&f, (const char *const *)script->pdata, HM_TLS_MODE_NONE, FALSE);
	f.p.window = 8;
	s = open_ok(&f);
	items = select_ok(s, 1, 9);
	g_assert_cmpuint(items->len, ==, 3000);
	g_assert_true(hm_fetch_imap.listed_all(s));
	g_assert_cmpint(hm_fetch_imap.identify(s, items, &err), ==, 0);
	g_assert_no_error(err);
	hm_fetch_imap.abort(s);
	fixture_finish(&f, (const char *const *)want->pdata);
	g_string_free(cmd, TRUE);
	g_ptr_array_unref(script);
	g_ptr_array_unref(want);
}

/* Script prefix: logged in, INBOX selected with EXISTS 2, UIDs 1 and 2. */
#define SELECTED \
	GREETING, LOGIN_OK, "C:A0002 SELECT INBOX", \
	"S:* 2 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\nA0002 OK", LIST_ALL_CMD, \
	"S:* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 FETCH (UID 2 RFC822.SIZE 3)\r\nA0003 OK"
#define SELECTED_WANT \
	"A0001 LOGIN \"u\" \"p\"", "A0002 SELECT INBOX", LIST_ALL

static void
retrieve_fails(const char *const *script, const char *const *want, int fail_at,
               HmFetchError code, const char *msg, gboolean usable)
{
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GError) err = NULL;
	Sink k = { g_string_new(NULL), fail_at, 0 };

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, 1, 1);
	g_assert_cmpint(hm_fetch_imap.retrieve(s, (HmFetchItem *const *)items->pdata, items->len,
	                                       sink_fn, &k, &err), ==, -1);
	g_assert_error(err, HM_FETCH_ERROR, (int)code);
	g_assert_cmpstr(err->message, ==, msg);
	if (usable)
		close_ok(s);
	else
		hm_fetch_imap.abort(s);
	fixture_finish(&f, want);
	g_string_free(k.got, TRUE);
}

static void
test_retrieve_errors(void)
{
	static const char *const want[] = {
		SELECTED_WANT, "A0004 UID FETCH 1 (BODY.PEEK[] RFC822.SIZE)",
		"A0005 UID FETCH 2 (BODY.PEEK[] RFC822.SIZE)", NULL,
	};
	static const char *const want_logout[] = {
		SELECTED_WANT, "A0004 UID FETCH 1 (BODY.PEEK[] RFC822.SIZE)",
		"A0005 UID FETCH 2 (BODY.PEEK[] RFC822.SIZE)", "A0006 LOGOUT", NULL,
	};

	retrieve_fails((const char *const []) { SELECTED,
	               "C:A0004 UID FETCH 1 (BODY.PEEK[] RFC822.SIZE)",
	               "C:A0005 UID FETCH 2 (BODY.PEEK[] RFC822.SIZE)",
	               "S:* 1 FETCH (UID 1 BODY[] {3}\r\nabc)\r\n* BYE shutting\x1b down", "EOF", NULL },
	               want, 0, HM_FETCH_ERROR_PROTOCOL, "server said BYE: shutting down", FALSE);
	retrieve_fails((const char *const []) { SELECTED,
	               "C:A0004 UID FETCH 1 (BODY.PEEK[] RFC822.SIZE)",
	               "C:A0005 UID FETCH 2 (BODY.PEEK[] RFC822.SIZE)",
	               "S:* 1 FETCH (UID 1 BODY[] {268435457}", "EOF", NULL },
	               want, 0, HM_FETCH_ERROR_PROTOCOL,
	               "literal of 268435457 octets exceeds the limit", FALSE);
	retrieve_fails((const char *const []) { SELECTED,
	               "C:A0004 UID FETCH 1 (BODY.PEEK[] RFC822.SIZE)",
	               "C:A0005 UID FETCH 2 (BODY.PEEK[] RFC822.SIZE)",
	               "S:* 1 FETCH (BODY[] {3}\r\nabc)", "EOF", NULL },
	               want, 0, HM_FETCH_ERROR_PROTOCOL, "FETCH reply without UID", FALSE);
	/* fn fails on the first message: nothing more is sent, the second
	 * reply is drained, and the session can still LOGOUT. */
	retrieve_fails((const char *const []) { SELECTED,
	               "C:A0004 UID FETCH 1 (BODY.PEEK[] RFC822.SIZE)",
	               "C:A0005 UID FETCH 2 (BODY.PEEK[] RFC822.SIZE)",
	               "S:* 1 FETCH (UID 1 BODY[] {3}\r\nabc)\r\nA0004 OK\r\n"
	               "* 2 FETCH (UID 2 BODY[] {3}\r\ndef)\r\nA0005 OK",
	               "C:A0006 LOGOUT", "S:* BYE\r\nA0006 OK", NULL },
	               want_logout, 1, HM_FETCH_ERROR_LOCAL, "disk full", TRUE);
}

static int stop_flag;

static gpointer
set_stop(gpointer p)
{
	g_usleep(700 * 1000);
	g_atomic_int_set(&stop_flag, 1);
	return NULL;
}

static void
test_idle(void)
{
	static const char *const script[] = {
		SELECTED,
		"C:A0004 IDLE", "S:+ idling", "S:* 1 FETCH (FLAGS (\\Seen))\r\n* 2 EXISTS",
		"S:* 3 EXISTS", "C:DONE", "S:A0004 OK done",
		"C:A0005 IDLE", "S:+ idling", "C:DONE", "S:* 4 EXISTS\r\nA0005 OK done",
		"C:A0006 IDLE", "S:+ idling", "C:DONE", "S:A0006 OK done",
		"C:A0007 IDLE", "S:* 1 EXPUNGE\r\n+ idling\r\n* 4 EXISTS", "C:DONE", "S:A0007 OK",
		"C:A0008 LOGOUT", "S:* BYE\r\nA0008 OK", NULL,
	};
	static const char *const want[] = {
		SELECTED_WANT, "A0004 IDLE", "DONE", "A0005 IDLE", "DONE", "A0006 IDLE", "DONE",
		"A0007 IDLE", "DONE", "A0008 LOGOUT", NULL,
	};
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GError) err = NULL;
	GThread *t;
	gint64 t0;

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, 1, 1);
	/* A flag change and an EXISTS that is not new are no reason to wake. */
	g_assert_cmpint(hm_fetch_imap.wait(s, 5000, &stop_flag, &err), ==, 1);
	g_assert_no_error(err);
	/* Stopped; new mail in the reply to DONE is still reported. */
	t0 = g_get_monotonic_time();
	t = g_thread_new("stop", set_stop, NULL);
	g_assert_cmpint(hm_fetch_imap.wait(s, 10000, &stop_flag, &err), ==, 1);
	g_assert_no_error(err);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1500000);
	g_thread_join(t);
	g_atomic_int_set(&stop_flag, 0);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_fetch_imap.wait(s, 600, &stop_flag, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 590000);
	/* After an EXPUNGE, EXISTS back at the old count is new mail. */
	g_assert_cmpint(hm_fetch_imap.wait(s, 5000, &stop_flag, &err), ==, 1);
	g_assert_no_error(err);
	close_ok(s);
	fixture_finish(&f, want);
}

/* New mail reported during a pass (EXISTS or RECENT growing in the reply
 * to UID EXPUNGE, as Dovecot does) is reported by the next wait() at
 * once, without IDLE, which would only report what comes after it; so is
 * mail reported as IDLE ends for its renewal. A RECENT that does not grow
 * is no news. */
static void
test_idle_after_pass(void)
{
	static const char *const script[] = {
		GREETING, LOGIN_OK, "C:A0002 SELECT INBOX",
		"S:* 2 EXISTS\r\n* 2 RECENT\r\n* OK [UIDVALIDITY 1] x\r\nA0002 OK", LIST_ALL_CMD,
		"S:* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 2 FETCH (UID 2 RFC822.SIZE 3)\r\nA0003 OK",
		"C:A0004 UID STORE 1:2 +FLAGS.SILENT (\\Seen \\Deleted)", "C:A0005 UID EXPUNGE 1:2",
		"S:A0004 OK\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXISTS\r\nA0005 OK",
		"C:A0006 IDLE", "S:+ idling\r\n* 1 RECENT", "C:DONE", "S:* 2 EXISTS\r\nA0006 OK",
		"C:A0007 IDLE", "S:+ idling\r\n* 3 RECENT", "C:DONE", "S:A0007 OK",
		"C:A0008 IDLE", "S:+ idling", "C:DONE", "S:A0008 OK",
		"C:A0009 LOGOUT", "S:* BYE\r\nA0009 OK", NULL,
	};
	static const char *const want[] = {
		SELECTED_WANT, "A0004 UID STORE 1:2 +FLAGS.SILENT (\\Seen \\Deleted)",
		"A0005 UID EXPUNGE 1:2", "A0006 IDLE", "DONE", "A0007 IDLE", "DONE", "A0008 IDLE",
		"DONE", "A0009 LOGOUT", NULL,
	};
	Fixture f;
	HmFetchSession *s;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GError) err = NULL;
	gint64 t0;

	fixture_init(&f, script, HM_TLS_MODE_NONE, FALSE);
	s = open_ok(&f);
	items = select_ok(s, 1, 1);
	g_assert_cmpint(hm_fetch_imap.remove(s, (HmFetchItem *const *)items->pdata, items->len,
	                                     &err), ==, 0);
	g_assert_no_error(err);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_fetch_imap.wait(s, 5000, &stop_flag, &err), ==, 1);
	g_assert_no_error(err);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 500000);
	/* The renewal: IDLE ends after 600 ms; EXISTS came with its end. */
	g_assert_cmpint(hm_fetch_imap.wait(s, 600, &stop_flag, &err), ==, 1);
	g_assert_no_error(err);
	g_assert_cmpint(hm_fetch_imap.wait(s, 5000, &stop_flag, &err), ==, 1);
	g_assert_no_error(err);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_fetch_imap.wait(s, 600, &stop_flag, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 590000);
	close_ok(s);
	fixture_finish(&f, want);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) err = NULL;
	int status;

	g_test_init(&argc, &argv, NULL);
	tmpdir = hm_test_tmpdir("hm-imap");
	hm_test_make_cert(tmpdir, &cert_pem, &key_pem);
	server_ctx = hm_tls_server_ctx(cert_pem, key_pem, HM_TLS_PROFILE_INTERMEDIATE, &err);
	g_assert_no_error(err);
	g_test_add_func("/fetch-imap/full-session", test_full_session);
	g_test_add_func("/fetch-imap/examine-empty-expunge", test_examine_empty_and_expunge);
	g_test_add_func("/fetch-imap/starttls", test_starttls);
	g_test_add_func("/fetch-imap/starttls-missing", test_starttls_missing);
	g_test_add_func("/fetch-imap/starttls-preauth", test_starttls_preauth);
	g_test_add_func("/fetch-imap/starttls-injection", test_starttls_injection);
	g_test_add_func("/fetch-imap/preauth-plain", test_preauth_plain);
	g_test_add_func("/fetch-imap/login-errors", test_login_errors);
	g_test_add_func("/fetch-imap/login-literal", test_login_literal);
	g_test_add_func("/fetch-imap/authenticate", test_authenticate);
	g_test_add_func("/fetch-imap/send-errors", test_send_errors);
	g_test_add_func("/fetch-imap/select-errors", test_select_errors);
	g_test_add_func("/fetch-imap/long-sets", test_long_sets);
	g_test_add_func("/fetch-imap/list-whole", test_list_whole);
	g_test_add_func("/fetch-imap/list-partial", test_list_partial);
	g_test_add_func("/fetch-imap/list-none", test_list_none);
	g_test_add_func("/fetch-imap/list-bounds", test_list_bounds);
	g_test_add_func("/fetch-imap/list-shared-uids", test_list_shared_uids);
	g_test_add_func("/fetch-imap/retrieve-errors", test_retrieve_errors);
	g_test_add_func("/fetch-imap/idle", test_idle);
	g_test_add_func("/fetch-imap/idle-after-pass", test_idle_after_pass);
	status = g_test_run();
	SSL_CTX_free(server_ctx);
	hm_test_remove_tree(tmpdir);
	g_free(tmpdir);
	g_free(cert_pem);
	g_free(key_pem);
	return status;
}
