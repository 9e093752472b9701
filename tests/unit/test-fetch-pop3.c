/* The POP3 fetch backend against a scripted server thread on 127.0.0.1:
 * the exact commands sent (pipelined windows, STLS, AUTH PLAIN vs
 * USER/PASS), dot-unstuffing with replies split at every offset, draining
 * after a callback failure, and hostile replies that must fail cleanly
 * without a DELE. */
#include <config.h>

#include <string.h>

#include "fetcher/fetch.h"
#include "fetcher/pop3-reply.h"
#include "lib/conn.h"
#include "lib/tls.h"
#include "testutil.h"

/* --- the scripted server (testutil.h) ------------------------------------ */

typedef HmTestStep Step;

#define S(t)     { HM_TEST_SEND, t "\r\n", sizeof(t "\r\n") - 1, NULL }
#define RAW(t)   { HM_TEST_SEND, t, sizeof(t) - 1, NULL }
#define SPLIT(t) { HM_TEST_SPLIT, t, sizeof(t) - 1, NULL }
#define C(t)     { HM_TEST_EXPECT, t, sizeof(t) - 1, NULL }
#define TLS      { HM_TEST_TLS, NULL, 0, NULL }
#define CUT      { HM_TEST_CLOSE, NULL, 0, NULL }
#define SUB(s)   { HM_TEST_SUB, NULL, 0, s }
#define END      { HM_TEST_END, NULL, 0, NULL }

static char *tmpdir, *cert_pem, *key_pem;
static SSL_CTX *server_ctx, *client_ctx;

/* A peer on 127.0.0.1 for script, not started yet (run_connect() starts
 * it). After the script it records whatever else the client sends until it
 * closes: "nothing else was sent" is part of what the tests check. */
static HmTestPeer *
peer_new(const Step *script)
{
	HmTestPeer *p = hm_test_peer_new(hm_test_listen_tcp(NULL), script);

	p->tls = server_ctx;
	p->record_rest = TRUE;
	return p;
}

/* Joins the peer, asserts that the client sent exactly the given lines
 * (NULL-terminated), and frees the peer. */
static void
peer_finish(HmTestPeer *p, ...)
{
	va_list ap;
	const char *line;
	g_autoptr(GString) want = g_string_new(NULL);
	g_autofree char *got = NULL;

	hm_test_peer_join(p);
	va_start(ap, p);
	while ((line = va_arg(ap, const char *)) != NULL)
		g_string_append_printf(want, "%s|", line);
	va_end(ap);
	got = hm_test_peer_sent(p);
	g_assert_cmpstr(got, ==, want->str);
	hm_test_peer_free(p);
}

/* --- the client side ------------------------------------------------------ */

typedef struct {
	HmAccountConf acct;
	HmFetchParams p;
	HmTestPeer *peer;
	HmFetchSession *s;
	GPtrArray *items;     /* from select */
	GPtrArray *msgs;      /* GBytes handed to the callback */
	guint32 fail_at;      /* the callback fails on this message number */
	GError *err;
	gboolean started;     /* the peer's thread runs */
} Run;

/* Starts a peer on script (NULL: none) and prepares a client for it. */
static void
run_init(Run *r, const Step *script, HmTlsMode tls, guint window)
{
	memset(r, 0, sizeof(*r));
	if (script != NULL)
		r->peer = peer_new(script);
	r->acct.name = (char *)"isp";
	r->acct.ep.host = (char *)"127.0.0.1";
	r->acct.ep.port = r->peer != NULL ? r->peer->port : 1;
	r->acct.ep.tls = tls;
	r->acct.ep.user = (char *)"u";
	r->acct.ep.password.value = (char *)"p";
	r->p.acct = &r->acct;
	r->p.tls_ctx = client_ctx;
	r->p.timeout_ms = 2000;
	r->p.window = window;
	r->msgs = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
}

/* Starts the peer (its settings are final now) and calls open(). */
static HmFetchSession *
run_connect(Run *r)
{
	if (r->peer != NULL && !r->started) {
		hm_test_peer_start(r->peer);
		r->started = TRUE;
	}
	return hm_fetch_pop3.open(&r->p, &r->err);
}

/* Lists INBOX into r->items (it must succeed). */
static void
run_open_select(Run *r)
{
	guint32 uv = 99;

	g_assert_cmpint(hm_fetch_pop3.select(r->s, "INBOX", 7, &uv, &r->items, &r->err), ==, 0);
	g_assert_no_error(r->err);
	g_assert_cmpuint(uv, ==, 0);
}

/* Opens the session (it must succeed) and, with select, lists INBOX. */
static void
run_open(Run *r, gboolean select)
{
	r->s = run_connect(r);
	g_assert_no_error(r->err);
	g_assert_nonnull(r->s);
	if (select)
		run_open_select(r);
}

static void
run_clear(Run *r)
{
	if (r->items != NULL)
		g_ptr_array_unref(r->items);
	g_ptr_array_unref(r->msgs);
	g_clear_error(&r->err);
}

/* Asserts that r->err is code with exactly message, then clears it. */
static void
assert_err(Run *r, int code, const char *message)
{
	g_assert_nonnull(r->err);
	if (r->err->domain != HM_FETCH_ERROR || r->err->code != code ||
	    strcmp(r->err->message, message) != 0)
		g_error("error %d \"%s\", want %d \"%s\"", r->err->code, r->err->message, code,
		        message);
	g_clear_error(&r->err);
}

/* open() must fail with code and message. */
static void
open_fails(Run *r, int code, const char *message)
{
	g_assert_null(run_connect(r));
	assert_err(r, code, message);
}

static int
sink_fn(const HmFetchItem *item, const char *data, gsize len, gpointer user_data, GError **err)
{
	Run *r = user_data;

	if (item->num == r->fail_at) {
		g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_LOCAL, "disk full");
		return -1;
	}
	/* A message cut at max_size: "over N", N the octets that arrived. */
	if (data == NULL) {
		g_autofree char *over = g_strdup_printf("over %" G_GSIZE_FORMAT, len);

		g_ptr_array_add(r->msgs, g_bytes_new(over, strlen(over)));
		return 0;
	}
	g_ptr_array_add(r->msgs, g_bytes_new(data, len));
	return 0;
}

static int
retrieve(Run *r, guint n)
{
	return hm_fetch_pop3.retrieve(r->s, (HmFetchItem *const *)r->items->pdata, n, sink_fn, r,
	                              &r->err);
}

static int
remove_first(Run *r, guint n)
{
	return hm_fetch_pop3.remove(r->s, (HmFetchItem *const *)r->items->pdata, n, &r->err);
}

static void
assert_msg(Run *r, guint i, const char *want, gsize want_len)
{
	gsize len;
	const char *data;

	g_assert_cmpuint(i, <, r->msgs->len);
	data = g_bytes_get_data(r->msgs->pdata[i], &len);
	g_assert_cmpmem(data, len, want, want_len);
}

#define HI_USER \
	S("+OK POP3 ready"), C("CAPA"), S("+OK"), S("USER"), S("UIDL"), S("TOP"), S("."), \
	C("USER u"), S("+OK"), C("PASS p"), S("+OK logged in")

static const Step login_user[] = { HI_USER, END };

static const Step login_pipelined[] = {
	S("+OK POP3 ready"), C("CAPA"),
	S("+OK"), S("PIPELINING"), S("sasl SCRAM-SHA-1 PLAIN"), S("UIDL"), S("."),
	C("AUTH PLAIN AHUAcA=="), S("+OK"), END,
};

/* Two messages; STAT, UIDL, LIST as a client without pipelining sends them. */
static const Step two_listed[] = {
	C("STAT"), S("+OK 2 31"),
	C("UIDL"), S("+OK"), S("1 uid-1"), S("2 uid-2"), S("."),
	C("LIST"), S("+OK"), S("1 12"), S("2 19"), S("."), END,
};

/* Three messages listed in one pipelined exchange. */
static const Step three_pipelined[] = {
	C("STAT"), C("UIDL"), C("LIST"),
	S("+OK 3 30"), S("+OK"), S("1 a"), S("2 b"), S("3 c"), S("."),
	S("+OK"), S("1 10"), S("2 10"), S("3 10"), S("."), END,
};

/* --- tests ---------------------------------------------------------------- */

static void
test_user_pass_sequential(void)
{
	static const Step script[] = {
		SUB(login_user), SUB(two_listed),
		C("RETR 1"), S("+OK 12 octets"), S("Subject: a"), S(""), S("body"), S("."),
		C("RETR 2"), S("+OK"), S("..leading"), S(".."), S("x"), S("."),
		C("DELE 1"), S("+OK"), C("DELE 2"), S("+OK"),
		C("QUIT"), S("+OK bye"), END,
	};
	GPtrArray *more = NULL;
	HmFetchItem *it;
	guint32 uv;
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 10);
	r.peer->strict = TRUE;
	run_open(&r, TRUE);
	g_assert_cmpint(hm_fetch_pop3.select(r.s, "Archive", 0, &uv, &more, &r.err), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_SERVER, "POP3 has no folder \"Archive\" (only INBOX)");
	g_assert_null(more);
	g_assert_cmpuint(r.items->len, ==, 2);
	it = r.items->pdata[1];
	g_assert_cmpuint(it->num, ==, 2);
	g_assert_cmpuint(it->size, ==, 19);
	g_assert_cmpstr(it->uid, ==, "uid-2");
	g_assert_cmpint(retrieve(&r, 2), ==, 0);
	assert_msg(&r, 0, "Subject: a\r\n\r\nbody\r\n", 20);
	assert_msg(&r, 1, ".leading\r\n.\r\nx\r\n", 16);
	g_assert_cmpint(remove_first(&r, 2), ==, 0);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	g_assert_no_error(r.err);
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "RETR 1",
	            "RETR 2", "DELE 1", "DELE 2", "QUIT", NULL);
	run_clear(&r);
}

/* PIPELINING: STAT/UIDL/LIST together, then a window of `window` RETRs
 * (and DELEs) kept full: the peer replies only once both of the first two
 * commands arrived, and wants the third before its second reply. */
static void
test_auth_plain_pipelined(void)
{
	static const Step script[] = {
		SUB(login_pipelined), SUB(three_pipelined),
		C("RETR 1"), C("RETR 2"), S("+OK"), S("one"), S("."),
		C("RETR 3"), S("+OK"), S("two"), S("."), S("+OK"), S("three"), S("."),
		C("DELE 1"), C("DELE 2"), S("+OK"), C("DELE 3"), S("+OK"), S("+OK"),
		C("QUIT"), S("+OK"), END,
	};
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 2);
	run_open(&r, TRUE);
	g_assert_cmpuint(r.items->len, ==, 3);
	g_assert_cmpint(retrieve(&r, 3), ==, 0);
	assert_msg(&r, 2, "three\r\n", 7);
	g_assert_cmpint(remove_first(&r, 3), ==, 0);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	g_assert_no_error(r.err);
	peer_finish(r.peer, "CAPA", "AUTH PLAIN AHUAcA==", "STAT", "UIDL", "LIST", "RETR 1",
	            "RETR 2", "RETR 3", "DELE 1", "DELE 2", "DELE 3", "QUIT", NULL);
	run_clear(&r);
}

typedef struct {
	const Step *script;
	HmTlsMode tls;
	const char *host;      /* NULL: 127.0.0.1 */
	int code;
	const char *message;   /* exact */
	const char *sent;      /* everything the client sent, "CAPA|STLS|" */
} OpenCase;

#define HI_STLS S("+OK hi"), C("CAPA"), S("+OK"), S("STLS"), S("USER"), S("."), C("STLS")

/* open() failing: STLS missing (nothing is sent after CAPA), refused, or
 * followed by injected clear text; a password that may not travel in
 * clear; refused logins; bad greetings. */
static void
test_open_refused(void)
{
	static const Step no_stls[] = {
		S("+OK hi"), C("CAPA"), S("+OK"), S("USER"), S("SASL PLAIN"), S("."), END,
	};
	static const Step stls_refused[] = { HI_STLS, S("-ERR not now"), END };
	static const Step injected[] = { HI_STLS, RAW("+OK begin TLS\r\n+OK injected\r\n"), END };
	static const Step user_only[] = { S("+OK hi"), C("CAPA"), S("+OK"), S("USER"), S("."), END };
	static const Step pass_refused[] = {
		S("+OK hi"), C("CAPA"), S("-ERR what?"), C("USER u"), S("+OK"),
		C("PASS p"), S("-ERR [AUTH] Authentication failed.\x01"), END,
	};
	static const Step plain_refused[] = {
		S("+OK hi"), C("CAPA"), S("+OK"), S("SASL PLAIN"), S("."),
		C("AUTH PLAIN AHUAcA=="), S("-ERR [AUTH] no"), END,
	};
	static const Step greet_err[] = { S("-ERR too many connections"), END };
	static const Step greet_imap[] = { S("* OK IMAP4rev1 ready\x1b[2J"), END };
	/* "::ffff:127.0.0.1" reaches the peer on 127.0.0.1 but is no loopback
	 * name (hm_host_is_loopback): it stands in for a remote host. */
	static const OpenCase cases[] = {
		{ no_stls, HM_TLS_MODE_STARTTLS, NULL, HM_FETCH_ERROR_TLS,
		  "TLS: server does not offer STLS", "CAPA|" },
		{ stls_refused, HM_TLS_MODE_STARTTLS, NULL, HM_FETCH_ERROR_TLS,
		  "TLS: server refused STLS: not now", "CAPA|STLS|" },
		{ injected, HM_TLS_MODE_STARTTLS, NULL, HM_FETCH_ERROR_TLS,
		  "TLS: plaintext received after STARTTLS reply", "CAPA|STLS|" },
		{ user_only, HM_TLS_MODE_NONE, "::ffff:127.0.0.1", HM_FETCH_ERROR_TLS,
		  "refusing to send the password in clear to ::ffff:127.0.0.1 (use tls, or "
		  "allow_plaintext = true)", "CAPA|" },
		{ pass_refused, HM_TLS_MODE_NONE, NULL, HM_FETCH_ERROR_AUTH,
		  "login refused: [AUTH] Authentication failed.", "CAPA|USER u|PASS p|" },
		{ plain_refused, HM_TLS_MODE_NONE, NULL, HM_FETCH_ERROR_AUTH,
		  "login refused: [AUTH] no", "CAPA|AUTH PLAIN AHUAcA==|" },
		{ greet_err, HM_TLS_MODE_NONE, NULL, HM_FETCH_ERROR_SERVER,
		  "server refused the connection: too many connections", "" },
		{ greet_imap, HM_TLS_MODE_NONE, NULL, HM_FETCH_ERROR_PROTOCOL,
		  "malformed greeting (no +OK or -ERR): \"* OK IMAP4rev1 ready[2J\"", "" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const OpenCase *oc = &cases[i];
		g_autofree char *got = NULL;
		Run r;

		run_init(&r, oc->script, oc->tls, 1);
		if (oc->host != NULL)
			r.acct.ep.host = (char *)oc->host;
		open_fails(&r, oc->code, oc->message);
		hm_test_peer_join(r.peer);
		got = hm_test_peer_sent(r.peer);
		g_assert_cmpstr(got, ==, oc->sent);
		hm_test_peer_free(r.peer);
		run_clear(&r);
	}
}

/* Logins that work: STLS then CAPA again (its answer is what counts),
 * USER/PASS in clear to a remote host with allow_plaintext, AUTH PLAIN
 * without an initial response when it would make the line too long. */
static void
test_login(void)
{
	static const Step stls_ok[] = {
		HI_STLS, S("+OK begin TLS"), TLS, C("CAPA"), S("+OK"), S("SASL PLAIN"), S("."),
		C("AUTH PLAIN AHUAcA=="), S("+OK"), C("QUIT"), S("+OK"), END,
	};
	static const Step allowed[] = { HI_USER, C("QUIT"), S("+OK"), END };
	static const Step long_plain[] = {
		S("+OK hi"), C("CAPA"), S("+OK"), S("SASL PLAIN"), S("."),
		C("AUTH PLAIN"), S("+ "), { HM_TEST_EXPECT, NULL, 0, NULL }, S("+OK"), END,
	};
	/* No USER, no PLAIN: LOGIN (lib/sasl) answers the two challenges. */
	static const Step login_only[] = {
		S("+OK hi"), C("CAPA"), S("+OK"), S("SASL CRAM-MD5 LOGIN"), S("."),
		C("AUTH LOGIN"), S("+ VXNlcm5hbWU6"), C("dQ=="), S("+ UGFzc3dvcmQ6"), C("cA=="),
		S("+OK welcome"), C("QUIT"), S("+OK"), END,
	};
	g_autofree char *user = g_strnfill(200, 'u');
	g_autofree char *raw = g_strdup_printf("%c%s%cp", 0, user, 0);
	g_autofree char *b64 = g_base64_encode((const guchar *)raw, strlen(user) + 3);
	Step script[G_N_ELEMENTS(long_plain)];
	Run r;

	run_init(&r, stls_ok, HM_TLS_MODE_STARTTLS, 1);
	run_open(&r, FALSE);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	peer_finish(r.peer, "CAPA", "STLS", "CAPA", "AUTH PLAIN AHUAcA==", "QUIT", NULL);
	run_clear(&r);

	run_init(&r, allowed, HM_TLS_MODE_NONE, 1);
	r.acct.ep.host = (char *)"::ffff:127.0.0.1";
	r.acct.ep.allow_plaintext = TRUE;
	run_open(&r, FALSE);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "QUIT", NULL);
	run_clear(&r);

	/* RFC 5034: over 255 octets, the response goes on its own line. */
	memcpy(script, long_plain, sizeof(long_plain));
	script[7].data = b64;
	run_init(&r, script, HM_TLS_MODE_NONE, 1);
	r.acct.ep.user = user;
	run_open(&r, FALSE);
	hm_fetch_pop3.abort(r.s);
	peer_finish(r.peer, "CAPA", "AUTH PLAIN", b64, NULL);
	run_clear(&r);

	run_init(&r, login_only, HM_TLS_MODE_NONE, 1);
	run_open(&r, FALSE);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	peer_finish(r.peer, "CAPA", "AUTH LOGIN", "dQ==", "cA==", "QUIT", NULL);
	run_clear(&r);

	/* No password: nothing to log in with, so no connection either. */
	run_init(&r, NULL, HM_TLS_MODE_NONE, 1);
	r.acct.ep.password.value = NULL;
	open_fails(&r, HM_FETCH_ERROR_AUTH, "no password configured");
	run_clear(&r);
}

/* A message whose reply arrives in chunks of every size: leading dots
 * unstuffed, bare LF made CRLF, NUL passed through, the terminator found
 * even when split. Only ".\r\n" ends the reply of a server that ends its
 * status line with CRLF: a "." line with a bare LF is content, kept as
 * ".". A server that speaks bare LF throughout may end with ".\n". */
static void
test_unstuff_split(void)
{
	static const char crlf_wire[] =
		"+OK\r\n..a\r\n..\r\nlf only\nnul\0byte\r\n\r\n...two\r\n.x\r\nend.\r\n"
		".\nafter\r\n.\n.\r\n";
	static const char crlf_want[] =
		".a\r\n.\r\nlf only\r\nnul\0byte\r\n\r\n..two\r\nx\r\nend.\r\n.\r\nafter\r\n.\r\n";
	static const char lf_wire[] = "+OK\n..a\nlf\n..\n\n.x\r\nend\n.\n";
	static const char lf_want[] = ".a\r\nlf\r\n.\r\n\r\nx\r\nend\r\n";
	static const struct {
		const char *wire, *want;
		gsize wire_len, want_len;
	} cases[] = {
		{ crlf_wire, crlf_want, sizeof(crlf_wire) - 1, sizeof(crlf_want) - 1 },
		{ lf_wire, lf_want, sizeof(lf_wire) - 1, sizeof(lf_want) - 1 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		Step script[] = {
			SUB(login_user), C("STAT"), S("+OK 1 10"), C("UIDL"), S("+OK"), S("1 u"), S("."),
			C("LIST"), S("+OK"), S("1 10"), S("."), C("RETR 1"),
			{ HM_TEST_SPLIT, cases[i].wire, cases[i].wire_len, NULL }, C("QUIT"), S("+OK"), END,
		};

		for (gsize chunk = 1; chunk <= cases[i].wire_len; chunk++) {
			Run r;

			run_init(&r, script, HM_TLS_MODE_NONE, 1);
			r.peer->chunk = chunk;
			run_open(&r, TRUE);
			g_assert_cmpint(retrieve(&r, 1), ==, 0);
			g_assert_no_error(r.err);
			assert_msg(&r, 0, cases[i].want, cases[i].want_len);
			g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
			peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "RETR 1",
			            "QUIT", NULL);
			run_clear(&r);
		}
	}
}

/* A server that ends every line with a bare LF, the listings too. */
static void
test_bare_lf_server(void)
{
#define L(t) { HM_TEST_SEND, t "\n", sizeof(t "\n") - 1, NULL }
	static const Step script[] = {
		L("+OK POP3 ready"), C("CAPA"), L("+OK"), L("USER"), L("UIDL"), L("."),
		C("USER u"), L("+OK"), C("PASS p"), L("+OK"),
		C("STAT"), L("+OK 2 20"), C("UIDL"), L("+OK"), L("1 a"), L("2 b"), L("."),
		C("LIST"), L("+OK"), L("1 10"), L("2 10"), L("."),
		C("RETR 1"), L("+OK"), L("one"), L(".."), L("."),
		C("RETR 2"), L("+OK"), L("two"), L("."), C("QUIT"), L("+OK"), END,
	};
#undef L
	HmFetchItem **it;
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 1);
	run_open(&r, TRUE);
	it = (HmFetchItem **)r.items->pdata;
	g_assert_cmpstr(it[1]->uid, ==, "b");
	g_assert_cmpint(retrieve(&r, 2), ==, 0);
	assert_msg(&r, 0, "one\r\n.\r\n", 8);
	assert_msg(&r, 1, "two\r\n", 5);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "RETR 1", "RETR 2",
	            "QUIT", NULL);
	run_clear(&r);
}

/* UIDL lines with a good number but a bad UID, and UIDs that two messages
 * share, leave those messages untracked (no UID), the rest as usual. */
static void
test_untracked(void)
{
	static const Step script[] = {
		SUB(login_user), C("STAT"), S("+OK 5 50"), C("UIDL"), S("+OK"), S("1 a"),
		S("2 0123456789012345678901234567890123456789012345678901234567890123456789x"),
		S("3 b"), S("4 b"), S("5"), S("."),
		C("LIST"), S("+OK"), S("1 10"), S("2 10"), S("3 10"), S("4 10"), S("5 10"), S("."),
		C("QUIT"), S("+OK"), END,
	};
	HmFetchItem **it;
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 1);
	run_open(&r, TRUE);
	g_assert_cmpuint(r.items->len, ==, 5);
	it = (HmFetchItem **)r.items->pdata;
	g_assert_cmpstr(it[0]->uid, ==, "a");
	g_assert_false(it[0]->untracked);
	for (guint i = 1; i < 5; i++) {
		g_assert_null(it[i]->uid);
		g_assert_true(it[i]->untracked);
	}
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "QUIT", NULL);
	run_clear(&r);
}

/* commit(): QUIT makes the DELEs take effect, then the session goes on
 * over a new connection; a refused QUIT fails it, deletions uncommitted. */
static void
test_commit(void)
{
	static const Step script[] = {
		SUB(login_user), SUB(two_listed), C("DELE 1"), S("+OK"), C("QUIT"), S("+OK"),
		{ HM_TEST_ACCEPT, NULL, 0, NULL }, SUB(login_user),
		C("STAT"), S("+OK 1 19"), C("UIDL"), S("+OK"), S("1 uid-2"), S("."),
		C("LIST"), S("+OK"), S("1 19"), S("."), C("QUIT"), S("+OK"), END,
	};
	static const Step refused[] = {
		SUB(login_user), SUB(two_listed), C("DELE 1"), S("+OK"), C("QUIT"), S("-ERR no"), END,
	};
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 1);
	run_open(&r, TRUE);
	g_assert_cmpint(remove_first(&r, 1), ==, 0);
	g_assert_cmpint(hm_fetch_pop3.commit(r.s, &r.err), ==, 0);
	g_assert_no_error(r.err);
	g_ptr_array_unref(r.items);
	r.items = NULL;
	run_open_select(&r);
	g_assert_cmpuint(r.items->len, ==, 1);
	g_assert_cmpstr(((HmFetchItem *)r.items->pdata[0])->uid, ==, "uid-2");
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "DELE 1", "QUIT",
	            "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "QUIT", NULL);
	run_clear(&r);

	run_init(&r, refused, HM_TLS_MODE_NONE, 1);
	run_open(&r, TRUE);
	g_assert_cmpint(remove_first(&r, 1), ==, 0);
	g_assert_cmpint(hm_fetch_pop3.commit(r.s, &r.err), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_SERVER, "QUIT refused: deletions were not committed: no");
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_PROTOCOL,
	           "session unusable after an earlier error: deletions were not committed");
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "DELE 1", "QUIT",
	            NULL);
	run_clear(&r);
}

/* The callback fails on message 1 with RETR 2 and 3 in flight (one of
 * them refused): nothing more is sent, both replies are read and dropped,
 * and QUIT still works. */
static void
test_callback_failure_drains(void)
{
	static const Step script[] = {
		SUB(login_pipelined), SUB(three_pipelined),
		C("RETR 1"), C("RETR 2"), C("RETR 3"),
		S("+OK"), S("one"), S("."), S("-ERR gone"), S("+OK"), S("three"), S("..."), S("."),
		C("QUIT"), S("+OK"), END,
	};
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 3);
	run_open(&r, TRUE);
	r.fail_at = 1;
	g_assert_cmpint(retrieve(&r, 3), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_LOCAL, "disk full");
	g_assert_cmpuint(r.msgs->len, ==, 0);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	g_assert_no_error(r.err);
	peer_finish(r.peer, "CAPA", "AUTH PLAIN AHUAcA==", "STAT", "UIDL", "LIST", "RETR 1",
	            "RETR 2", "RETR 3", "QUIT", NULL);
	run_clear(&r);
}

/* Server refusals that leave the session in step: RETR, DELE and QUIT
 * -ERR, and UIDL -ERR (messages without UIDs). */
static void
test_refusals(void)
{
	static const Step script[] = {
		SUB(login_user),
		C("STAT"), S("+OK 2 20"), C("UIDL"), S("-ERR no UIDL here"),
		C("LIST"), S("+OK"), S("1 10"), S("2 10"), S("."),
		C("RETR 1"), S("-ERR no such message"),
		C("DELE 1"), S("-ERR locked"),
		C("QUIT"), S("-ERR cannot update"), END,
	};
	HmFetchItem **it;
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 5);
	run_open(&r, TRUE);
	it = (HmFetchItem **)r.items->pdata;
	g_assert_null(it[0]->uid);
	g_assert_null(it[1]->uid);
	g_assert_cmpint(retrieve(&r, 2), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_SERVER, "RETR 1 refused: no such message");
	g_assert_cmpint(remove_first(&r, 1), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_SERVER, "DELE 1 refused: locked");
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_SERVER, "QUIT refused: deletions were not committed: "
	           "cannot update");
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "RETR 1",
	            "DELE 1", "QUIT", NULL);
	run_clear(&r);
}

/* The connection drops after a DELE was sent: close() must say that the
 * deletions were not committed (the next run fetches them again). */
static void
test_cut_after_dele(void)
{
	static const Step script[] = {
		SUB(login_user), SUB(two_listed), C("DELE 1"), S("+OK"), C("DELE 2"), CUT, END,
	};
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 1);
	run_open(&r, TRUE);
	g_assert_cmpint(remove_first(&r, 2), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_NETWORK,
	           "connection lost while reading DELE 2 reply: connection closed");
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, -1);
	assert_err(&r, HM_FETCH_ERROR_PROTOCOL,
	           "session unusable after an earlier error: deletions were not committed");
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "DELE 1",
	            "DELE 2", NULL);
	run_clear(&r);
}

typedef struct {
	const Step *steps;   /* after the login */
	int code;
	const char *message; /* exact */
} Hostile;

/* Runs one hostile exchange after a USER/PASS login: select (and, when
 * that works, retrieve) must fail with the exact error; the client then
 * sends no DELE, and nothing at all but QUIT when still in step. */
static void
run_hostile(const Hostile *h, int timeout_ms)
{
	const Step script[] = { SUB(login_user), SUB(h->steps), END };
	guint32 uv;
	int rc;
	Run r;

	run_init(&r, script, HM_TLS_MODE_NONE, 1);
	r.p.timeout_ms = timeout_ms;
	run_open(&r, FALSE);
	rc = hm_fetch_pop3.select(r.s, "INBOX", 0, &uv, &r.items, &r.err);
	if (rc == 0)
		rc = retrieve(&r, r.items->len);
	if (rc == 0)
		g_error("hostile case \"%s\" was accepted", h->message);
	assert_err(&r, h->code, h->message);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	hm_test_peer_join(r.peer);
	for (guint i = 0; i < r.peer->lines->len; i++) {
		const char *line = r.peer->lines->pdata[i];

		g_assert_false(g_str_has_prefix(line, "DELE"));
		if (strcmp(line, "QUIT") == 0)
			g_assert_cmpuint(i, ==, r.peer->lines->len - 1);
	}
	g_assert_cmpuint(r.msgs->len, ==, 0);
	hm_test_peer_free(r.peer);
	run_clear(&r);
}

#define LISTED(...) C("STAT"), S("+OK 2 20"), C("UIDL"), S("+OK"), __VA_ARGS__
#define UIDS_OK S("1 a"), S("2 b"), S("."), C("LIST"), S("+OK")

static void
test_hostile(void)
{
	static const Step stat_negative[] = { C("STAT"), S("+OK -1 0"), END };
	static const Step stat_huge[] = { C("STAT"), S("+OK 4294967297 0"), END };
	static const Step stat_no_ok[] = { C("STAT"), S("OK 2 20"), END };
	static const Step stat_err[] = { C("STAT"), S("-ERR busy"), C("QUIT"), S("+OK"), END };
	static const Step uidl_zero[] = { LISTED(S("0 a"), END) };
	static const Step uidl_missing[] = {
		LISTED(S("1 a"), S("."), C("LIST"), S("+OK"), S("1 10"), S("2 10"), S("."), END),
	};
	static const Step list_negative[] = { LISTED(UIDS_OK, S("1 10"), S("2 -10"), END) };
	static const Step list_huge_num[] = { LISTED(UIDS_OK, S("4294967297 10"), END) };
	static const Step list_out_of_range[] = { LISTED(UIDS_OK, S("1 10"), S("3 10"), END) };
	static const Step list_junk[] = { LISTED(UIDS_OK, S("1 10x"), END) };
	static const Step list_short[] = { LISTED(UIDS_OK, S("2 10"), S("."), END) };
	static const Step list_nul[] = { LISTED(UIDS_OK, RAW("1 10\0\r\n"), END) };
	static const Step list_cut[] = { LISTED(UIDS_OK, RAW("1 1"), CUT, END) };
	static const Step stall[] = { C("STAT"), END };
	/* Never ended (".\n" after "+OK\r\n"): times out, delivers nothing. */
	static const Step retr_dot_lf[] = {
		LISTED(UIDS_OK, S("1 10"), S("2 10"), S("."), C("RETR 1"), RAW("+OK\r\nx\n.\n"), END),
	};
	static const Step retr_cut[] = {
		LISTED(UIDS_OK, S("1 10"), S("2 10"), S("."), C("RETR 1"), S("+OK"), S("line"), CUT,
		       END),
	};
	static const Hostile cases[] = {
		{ stat_negative, HM_FETCH_ERROR_PROTOCOL,
		  "STAT reply: message count is not a decimal number: \"-1 0\"" },
		{ stat_huge, HM_FETCH_ERROR_PROTOCOL,
		  "STAT reply: more than 1000000 messages: \"4294967297 0\"" },
		{ stat_no_ok, HM_FETCH_ERROR_PROTOCOL, "malformed STAT reply (no +OK or -ERR): \"OK 2 20\"" },
		{ stat_err, HM_FETCH_ERROR_SERVER, "STAT refused: busy" },
		{ uidl_zero, HM_FETCH_ERROR_PROTOCOL, "UIDL line 1: message number out of range" },
		{ uidl_missing, HM_FETCH_ERROR_PROTOCOL, "UIDL listed 1 messages, STAT counted 2" },
		{ list_negative, HM_FETCH_ERROR_PROTOCOL, "LIST line 2: size is not a decimal number" },
		{ list_huge_num, HM_FETCH_ERROR_PROTOCOL, "LIST line 1: message number out of range" },
		{ list_out_of_range, HM_FETCH_ERROR_PROTOCOL, "LIST line 2: message number out of range" },
		{ list_junk, HM_FETCH_ERROR_PROTOCOL, "LIST line 1: size is not a decimal number" },
		{ list_short, HM_FETCH_ERROR_PROTOCOL, "LIST listed 1 messages, STAT counted 2" },
		{ list_nul, HM_FETCH_ERROR_PROTOCOL, "NUL byte in LIST reply" },
		{ list_cut, HM_FETCH_ERROR_NETWORK,
		  "connection lost while reading LIST reply: connection closed in the middle of a line" },
		{ retr_cut, HM_FETCH_ERROR_NETWORK,
		  "connection lost while reading RETR 1 reply: connection closed" },
	};
	static const Hostile timeouts[] = {
		{ stall, HM_FETCH_ERROR_NETWORK, "timed out waiting for STAT reply" },
		{ retr_dot_lf, HM_FETCH_ERROR_NETWORK, "timed out waiting for RETR 1 reply" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
		run_hostile(&cases[i], 2000);
	for (gsize i = 0; i < G_N_ELEMENTS(timeouts); i++)
		run_hostile(&timeouts[i], 200);
}

/* Reply lines: 512 octets with CRLF pass, 513 do not. */
static void
test_line_limits(void)
{
	g_autofree char *fill510 = g_strnfill(510 - 5, 'x');
	g_autofree char *ok_line = g_strdup_printf("1 10 %s\r\n", fill510);    /* 512 with CRLF */
	g_autofree char *long_line = g_strdup_printf("1 10 %sy\r\n", fill510); /* 513 */
	Step tail[] = { { HM_TEST_SEND, NULL, 0, NULL }, S("."), END };
	Step listed[] = { LISTED(UIDS_OK, SUB(tail), END) };
	Hostile h = { listed, HM_FETCH_ERROR_PROTOCOL, "LIST listed 1 messages, STAT counted 2" };

	g_assert_cmpuint(strlen(ok_line), ==, HM_POP3_MAX_REPLY_LINE);
	tail[0].data = ok_line;
	tail[0].len = strlen(ok_line);
	run_hostile(&h, 2000);  /* accepted line, then the count is short */

	tail[0].data = long_line;
	tail[0].len = strlen(long_line);
	h.message = "reply line too long (over 512 octets) in LIST reply";
	run_hostile(&h, 2000);
}

/* Message lines have no length limit of their own: a 2 MiB line arrives
 * whole, and where a long line goes on after a segment, a "." there is
 * content, neither a stuffed dot nor the end of the message. */
static void
test_long_message_lines(void)
{
	g_autofree char *seg = g_strnfill(HM_POP3_BODY_SEGMENT, 'b');
	g_autofree char *big = g_strnfill(2 * 1024 * 1024, 'c');
	g_autofree char *seg1 = g_strnfill(HM_POP3_BODY_SEGMENT - 1, 'd');
	g_autofree char *wire = g_strdup_printf("+OK\r\n..%s\r\n%s.\r\n%s..x\r\n%s\r\nend\r\n.\r\n",
	                                        big, seg, seg, seg1);
	g_autofree char *want = g_strdup_printf(".%s\r\n%s.\r\n%s..x\r\n%s\r\nend\r\n", big, seg,
	                                        seg, seg1);
	Step script[] = {
		SUB(login_user), C("STAT"), S("+OK 1 10"), C("UIDL"), S("+OK"), S("1 u"), S("."),
		C("LIST"), S("+OK"), S("1 10"), S("."), C("RETR 1"), { HM_TEST_SEND, NULL, 0, NULL },
		C("QUIT"), S("+OK"), END,
	};
	Run r;

	g_assert_true(script[12].op == HM_TEST_SEND && script[12].data == NULL);
	script[12].data = wire;
	script[12].len = strlen(wire);
	run_init(&r, script, HM_TLS_MODE_NONE, 1);
	run_open(&r, TRUE);
	g_assert_cmpint(retrieve(&r, 1), ==, 0);
	g_assert_no_error(r.err);
	assert_msg(&r, 0, want, strlen(want));
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	peer_finish(r.peer, "CAPA", "USER u", "PASS p", "STAT", "UIDL", "LIST", "RETR 1", "QUIT",
	            NULL);
	run_clear(&r);
}

/* max_size holds for what arrives, whatever LIST said: past it nothing
 * more is kept, the rest of the message is read and dropped, and the
 * callback hears how much arrived; the next message (pipelined behind
 * it) and QUIT still work. */
static void
test_over_max_size(void)
{
	g_autofree char *line = g_strnfill(998, 'x');
	g_autoptr(GString) wire = g_string_new("+OK\r\nSubject: big\r\n\r\n");
	Step script[] = {
		SUB(login_pipelined), SUB(three_pipelined),
		C("RETR 1"), C("RETR 2"), C("RETR 3"), { HM_TEST_SEND, NULL, 0, NULL },
		S("+OK"), S("one"), S("."), S("+OK"), S("x"), S("."),
		C("QUIT"), S("+OK"), END,
	};
	Run r;

	for (int i = 0; i < 200; i++)
		g_string_append_printf(wire, "%s\r\n", line);
	g_string_append(wire, ".\r\n");
	g_assert_true(script[5].op == HM_TEST_SEND && script[5].data == NULL);
	script[5].data = wire->str;
	script[5].len = wire->len;
	run_init(&r, script, HM_TLS_MODE_NONE, 3);
	r.acct.max_size = 1000;
	run_open(&r, TRUE);
	g_assert_cmpint(retrieve(&r, 3), ==, 0);
	g_assert_no_error(r.err);
	g_assert_cmpuint(r.msgs->len, ==, 3);
	assert_msg(&r, 0, "over 200016", 11);
	assert_msg(&r, 1, "one\r\n", 5);
	assert_msg(&r, 2, "x\r\n", 3);
	g_assert_cmpint(hm_fetch_pop3.close(r.s, &r.err), ==, 0);
	g_assert_no_error(r.err);
	peer_finish(r.peer, "CAPA", "AUTH PLAIN AHUAcA==", "STAT", "UIDL", "LIST", "RETR 1",
	            "RETR 2", "RETR 3", "QUIT", NULL);
	run_clear(&r);
}

static void
make_cert(void)
{
	g_autoptr(GError) err = NULL;

	tmpdir = hm_test_tmpdir("hm-pop3");
	hm_test_make_cert(tmpdir, &cert_pem, &key_pem);
	server_ctx = hm_tls_server_ctx(cert_pem, key_pem, HM_TLS_PROFILE_INTERMEDIATE, &err);
	g_assert_no_error(err);
	client_ctx = hm_tls_client_ctx(cert_pem, &err);
	g_assert_no_error(err);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	make_cert();
	g_test_add_func("/fetch-pop3/user-pass-sequential", test_user_pass_sequential);
	g_test_add_func("/fetch-pop3/auth-plain-pipelined", test_auth_plain_pipelined);
	g_test_add_func("/fetch-pop3/open-refused", test_open_refused);
	g_test_add_func("/fetch-pop3/login", test_login);
	g_test_add_func("/fetch-pop3/unstuff-split", test_unstuff_split);
	g_test_add_func("/fetch-pop3/bare-lf-server", test_bare_lf_server);
	g_test_add_func("/fetch-pop3/untracked", test_untracked);
	g_test_add_func("/fetch-pop3/commit", test_commit);
	g_test_add_func("/fetch-pop3/callback-failure-drains", test_callback_failure_drains);
	g_test_add_func("/fetch-pop3/refusals", test_refusals);
	g_test_add_func("/fetch-pop3/cut-after-dele", test_cut_after_dele);
	g_test_add_func("/fetch-pop3/hostile", test_hostile);
	g_test_add_func("/fetch-pop3/line-limits", test_line_limits);
	g_test_add_func("/fetch-pop3/long-message-lines", test_long_message_lines);
	g_test_add_func("/fetch-pop3/over-max-size", test_over_max_size);
	rc = g_test_run();
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	hm_test_remove_tree(tmpdir);
	g_free(tmpdir);
	g_free(cert_pem);
	g_free(key_pem);
	return rc;
}
