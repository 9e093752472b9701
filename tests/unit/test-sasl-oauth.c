/* SASL XOAUTH2 and OAUTHBEARER, client side: the exact initial responses,
 * the failure challenge answered and put in words, long tokens under a
 * protocol's line limit, the pickers, and the challenge decoder. */
#include <config.h>

#include <string.h>

#include "lib/base64.h"
#include "lib/error.h"
#include "lib/sasl.h"
#include "sasl-script.h"

#define TOKEN "ya29.a0AfH6SMBx-token_value/with+chars=="

/* --- a framing that records and replays (as in test-sasl.c) -------------- */


static int
script_start(gpointer io, const char *args, const char *shown, GError **err)
{
	Script *sc = io;

	(void)err;
	g_assert_null(strstr(shown, sc->secret));
	g_assert_null(strstr(shown, "Bearer"));
	g_assert_true(strchr(args, ' ') == NULL || g_str_has_suffix(shown, " ********"));
	g_string_append_printf(sc->sent, "AUTH %s|", args);
	return 0;
}



/* Runs mech with creds against replies; what was sent lands in sent. */
static int
run(const char *mech, const HmSaslCreds *creds, gsize max_line, gboolean ir_ok,
    const char *const *replies, GString *sent, HmSaslOauthError *refusal, GError **err)
{
	HmSaslProto proto = { script_start, hm_script_line, hm_script_reply, max_line };
	Script sc = { replies, 0, sent, creds->secret };
	const HmSaslMech *m = hm_sasl_oauth_mech_find(mech);

	g_assert_nonnull(m);
	g_string_truncate(sent, 0);
	return hm_sasl_client_run_creds(&proto, &sc, m, creds, ir_ok, refusal, err);
}

/* The n-th ('|'-separated) line sent, base64-decoded. */
static GBytes *
sent_decoded(const GString *sent, guint n)
{
	g_auto(GStrv) lines = g_strsplit(sent->str, "|", -1);
	const char *line;

	g_assert_cmpuint(n, <, g_strv_length(lines));
	line = lines[n];
	if (g_str_has_prefix(line, "AUTH ")) {
		line = strchr(line + 5, ' ');
		g_assert_nonnull(line);
		line++;
	}
	return hm_base64_decode(line, strlen(line), NULL);
}

static void
assert_bytes(GBytes *got, const char *want, gsize want_len)
{
	gsize len = 0;
	const char *data;

	g_assert_nonnull(got);
	data = g_bytes_get_data(got, &len);
	g_assert_cmpmem(data, len, want, want_len);
}

#define RAW(s) s, sizeof(s) - 1

static char *
b64(const char *s)
{
	return hm_base64_encode(s, strlen(s));
}

/* --- initial responses --------------------------------------------------- */

static void
test_xoauth2_ir(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	const char *const ok[] = { "OK", NULL };
	HmSaslCreds creds = { "alice@gmail.com", TOKEN, "imap.gmail.com", 993 };
	g_autoptr(GBytes) ir = NULL;
	HmSaslOauthError r;

	g_assert_cmpint(run("XOAUTH2", &creds, 0, TRUE, ok, sent, &r, NULL), ==, 0);
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_NONE);
	g_assert_true(g_str_has_prefix(sent->str, "AUTH XOAUTH2 "));
	ir = sent_decoded(sent, 0);
	/* Host and port are OAUTHBEARER's only. */
	assert_bytes(ir, RAW("user=alice@gmail.com\001auth=Bearer " TOKEN "\001\001"));
}

static void
test_oauthbearer_ir(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	const char *const ok[] = { "OK", NULL };
	HmSaslCreds creds = { "alice@example.com", TOKEN, "imap.example.com", 993 };
	GBytes *ir;

	g_assert_cmpint(run("OAUTHBEARER", &creds, 0, TRUE, ok, sent, NULL, NULL), ==, 0);
	ir = sent_decoded(sent, 0);
	assert_bytes(ir, RAW("n,a=alice@example.com,\001host=imap.example.com\001port=993\001"
	                     "auth=Bearer " TOKEN "\001\001"));
	g_bytes_unref(ir);

	/* Host and port left out when unknown. */
	creds.host = NULL;
	creds.port = 0;
	g_assert_cmpint(run("OAUTHBEARER", &creds, 0, TRUE, ok, sent, NULL, NULL), ==, 0);
	ir = sent_decoded(sent, 0);
	assert_bytes(ir, RAW("n,a=alice@example.com,\001auth=Bearer " TOKEN "\001\001"));
	g_bytes_unref(ir);

	/* RFC 7628 section 4.1's example, but for the token. */
	creds = (HmSaslCreds){ "user@example.com",
		               "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com",
		               143 };
	g_assert_cmpint(run("OAUTHBEARER", &creds, 0, TRUE, ok, sent, NULL, NULL), ==, 0);
	ir = sent_decoded(sent, 0);
	assert_bytes(ir, RAW("n,a=user@example.com,\001host=server.example.com\001port=143\001"
	                     "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001"));
	g_bytes_unref(ir);
}

/* RFC 5801 saslname: "," is "=2C", "=" is "=3D", nothing else changes. */
static void
test_oauthbearer_escape(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	const char *const ok[] = { "OK", NULL };
	HmSaslCreds creds = { "a,b=c,,==d\xc3\xa9", TOKEN, NULL, 0 };
	g_autoptr(GBytes) ir = NULL;

	g_assert_cmpint(run("OAUTHBEARER", &creds, 0, TRUE, ok, sent, NULL, NULL), ==, 0);
	ir = sent_decoded(sent, 0);
	assert_bytes(ir,
	             RAW("n,a=a=2Cb=3Dc=2C=2C=3D=3Dd\xc3\xa9,\001auth=Bearer " TOKEN "\001\001"));
}

/* Credentials that would break the ^A framing are refused before a
 * byte is sent. */
static void
test_bad_creds(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	const char *const ok[] = { "OK", NULL };
	const HmSaslCreds bad[] = {
		{ "alice", "tok en", NULL, 0 },  { "alice", "tok\001en", NULL, 0 },
		{ "alice", "", NULL, 0 },        { "alice", "tok\xc3\xa9", NULL, 0 },
		{ "al\001ice", TOKEN, NULL, 0 }, { "", TOKEN, NULL, 0 },
		{ "al\xff", TOKEN, NULL, 0 },    { "alice", TOKEN, "host\001", 0 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		for (int m = 0; m < 2; m++) {
			g_autoptr(GError) err = NULL;

			g_assert_cmpint(run(m ? "XOAUTH2" : "OAUTHBEARER", &bad[i], 0, TRUE, ok,
			                    sent, NULL, &err),
			                ==, -1);
			g_assert_error(err, HM_ERROR, HM_ERROR_FAILED);
			g_assert_cmpstr(sent->str, ==, "");
		}
	}
}

/* --- the failure path ---------------------------------------------------- */

#define GOOGLE_401 \
	"{\"status\":\"401\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}"
#define RFC_INVALID                                                             \
	"{\"status\":\"invalid_token\",\"scope\":\"https://mail.google.com/\"," \
	"\"schemes\":\"bearer\"}"

/* challenge json -> dummy response -> final NO, for mech: returns what
 * was sent after the start command, and fills err and r. */
static void
fail_with(const char *mech, const char *json, const char *final, GString *sent, HmSaslOauthError *r,
          GError **err)
{
	g_autofree char *chal = b64(json);
	g_autofree char *line = g_strdup_printf("+ %s", chal);
	const char *const replies[] = { line, final, NULL };
	HmSaslCreds creds = { "alice@gmail.com", TOKEN, "imap.gmail.com", 993 };

	g_assert_cmpint(run(mech, &creds, 0, TRUE, replies, sent, r, err), ==, -1);
	g_assert_error(*err, HM_ERROR, HM_ERROR_AUTH);
}

static void
test_xoauth2_failure(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) lines = NULL;
	HmSaslOauthError r;

	fail_with("XOAUTH2", GOOGLE_401, "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
	          sent, &r, &err);
	/* The start with its initial response, then the empty response
	 * Google asks for. */
	lines = g_strsplit(sent->str, "|", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 3);
	g_assert_true(g_str_has_prefix(lines[0], "AUTH XOAUTH2 "));
	g_assert_cmpstr(lines[1], ==, "");
	g_assert_cmpstr(lines[2], ==, "");
	g_assert_cmpstr(err->message, ==,
	                "the access token is invalid or expired (401; scope "
	                "https://mail.google.com/); the server said: [AUTHENTICATIONFAILED] "
	                "Invalid credentials (Failure)");
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
	g_assert_cmpstr(r.status, ==, "401");
	g_assert_cmpstr(r.scope, ==, "https://mail.google.com/");
	g_assert_cmpstr(r.schemes, ==, "Bearer");
}

static void
test_oauthbearer_failure(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	HmSaslOauthError r;

	fail_with("OAUTHBEARER", RFC_INVALID, "NO", sent, &r, &err);
	g_assert_true(g_str_has_suffix(sent->str, "|AQ==|"));
	g_assert_cmpstr(err->message, ==,
	                "the access token is invalid or expired (invalid_token; scope "
	                "https://mail.google.com/); the server said: (no reason given)");
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
	g_clear_error(&err);

	fail_with("OAUTHBEARER", "{\"status\":\"insufficient_scope\",\"scope\":\"mail\"}",
	          "NO [AUTHENTICATIONFAILED] Authentication failed", sent, &r, &err);
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_INSUFFICIENT_SCOPE);
	g_assert_cmpstr(err->message, ==,
	                "the access token's scope is insufficient for this server "
	                "(insufficient_scope; scope mail); the server said: "
	                "[AUTHENTICATIONFAILED] Authentication failed");
	g_clear_error(&err);

	/* Microsoft's extra members are ignored; an unknown status is still
	 * a refusal, but not one a refresh would cure. */
	fail_with("XOAUTH2",
	          "{\"status\":\"invalid_client\",\"schemes\":\"bearer\",\"error_uri\":"
	          "\"https://x/\",\"extra\":{\"a\":[1,2]}}",
	          "NO AUTHENTICATE failed.", sent, &r, &err);
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_OTHER);
	g_assert_cmpstr(err->message, ==,
	                "the server refused the access token (invalid_client); the server "
	                "said: AUTHENTICATE failed.");
	g_clear_error(&err);

	/* A challenge that is not the RFC's JSON is answered all the same. */
	fail_with("OAUTHBEARER", "<html>no</html>", "NO bad", sent, &r, &err);
	g_assert_true(g_str_has_suffix(sent->str, "|AQ==|"));
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_UNREADABLE);
	g_assert_cmpstr(err->message, ==,
	                "the server refused the access token (its error challenge could not "
	                "be read); the server said: bad");
}

/* A refusal with no challenge (Microsoft's "AUTHENTICATE failed.") is the
 * server's words alone; a second challenge is cancelled. */
static void
test_other_endings(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autofree char *chal = b64(RFC_INVALID);
	g_autofree char *line = g_strdup_printf("+ %s", chal);
	const char *const plain_no[] = { "NO AUTHENTICATE failed.", NULL };
	const char *const twice[] = { line, line, "NO cancelled", NULL };
	const char *const cut[] = { line, NULL };
	HmSaslCreds creds = { "alice@example.com", TOKEN, NULL, 0 };
	HmSaslOauthError r;

	g_assert_cmpint(run("XOAUTH2", &creds, 0, TRUE, plain_no, sent, &r, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_AUTH);
	g_assert_cmpstr(err->message, ==, "AUTHENTICATE failed.");
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_NONE);
	g_clear_error(&err);

	g_assert_cmpint(run("OAUTHBEARER", &creds, 0, TRUE, twice, sent, &r, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
	g_assert_true(g_str_has_suffix(sent->str, "|AQ==|*|"));
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
	g_clear_error(&err);

	/* The connection lost after the dummy response: the I/O error, but
	 * the refusal is known. */
	g_assert_cmpint(run("OAUTHBEARER", &creds, 0, TRUE, cut, sent, &r, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
}

/* --- long tokens and the protocols' line limits -------------------------- */

static void
check_long(const char *mech, gsize max_line, gboolean ir_ok, gboolean inline_ir, const char *token)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	const char *const ask[] = { "+ ", "OK", NULL };
	const char *const ok[] = { "OK", NULL };
	HmSaslCreds creds = { "alice@outlook.com", token, "outlook.office365.com", 995 };
	g_auto(GStrv) lines = NULL;
	g_autofree char *start = g_strdup_printf("AUTH %s", mech);

	g_assert_cmpint(run(mech, &creds, max_line, ir_ok, inline_ir ? ok : ask, sent, NULL, NULL),
	                ==, 0);
	lines = g_strsplit(sent->str, "|", -1);
	if (inline_ir) {
		g_assert_cmpuint(g_strv_length(lines), ==, 2);
		g_assert_true(g_str_has_prefix(lines[0], start));
		g_assert_true(max_line == 0 || strlen(lines[0]) + 2 <= max_line);
	} else {
		/* The command alone, the response after the continuation. */
		g_autoptr(GBytes) ir = sent_decoded(sent, 1);
		g_autofree char *text = g_strndup(g_bytes_get_data(ir, NULL), g_bytes_get_size(ir));

		g_assert_cmpuint(g_strv_length(lines), ==, 3);
		g_assert_cmpstr(lines[0], ==, start);
		g_assert_nonnull(strstr(text, token));
	}
}

static void
test_long_token(void)
{
	g_autofree char *jwt = g_strnfill(2400, 'A');
	g_autofree char *small = g_strnfill(60, 'b');

	/* A Microsoft token is 1.5-2.5 KB: POP3 (255) and SMTP (512) send it
	 * after the continuation, IMAP with SASL-IR (no limit) at once. */
	jwt[100] = '.';
	jwt[1900] = '-';
	check_long("XOAUTH2", 255, TRUE, FALSE, jwt);
	check_long("OAUTHBEARER", 255, TRUE, FALSE, jwt);
	check_long("XOAUTH2", 512, TRUE, FALSE, jwt);
	check_long("XOAUTH2", 0, TRUE, TRUE, jwt);
	check_long("OAUTHBEARER", 0, TRUE, TRUE, jwt);
	/* IMAP without SASL-IR. */
	check_long("OAUTHBEARER", 0, FALSE, FALSE, small);
	/* A short token fits POP3's line. */
	check_long("XOAUTH2", 255, TRUE, TRUE, small);
}

/* The long token's failure after a continuation: the empty challenge
 * gets the initial response, the JSON one the dummy. */
static void
test_long_token_failure(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autofree char *jwt = g_strnfill(2000, 'x');
	g_autofree char *chal = b64(GOOGLE_401);
	g_autofree char *line = g_strdup_printf("+ %s", chal);
	const char *const replies[] = { "+ ", line, "NO invalid", NULL };
	HmSaslCreds creds = { "alice@outlook.com", jwt, NULL, 0 };
	g_auto(GStrv) lines = NULL;
	HmSaslOauthError r;

	g_assert_cmpint(run("XOAUTH2", &creds, 255, TRUE, replies, sent, &r, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_AUTH);
	lines = g_strsplit(sent->str, "|", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);
	g_assert_cmpstr(lines[0], ==, "AUTH XOAUTH2");
	g_assert_cmpuint(strlen(lines[1]), >, 2000);
	g_assert_cmpstr(lines[2], ==, "");
	g_assert_cmpint(r.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
}

/* --- pickers -------------------------------------------------------------- */

static void
test_pick(void)
{
	const char *const all[] = { "PLAIN", "XOAUTH2", "oauthbearer", "LOGIN", NULL };
	const char *const google[] = { "PLAIN", "xoauth2", NULL };
	const char *const oauth_only[] = { "XOAUTH2", "OAUTHBEARER", NULL };
	const char *const plain[] = { "PLAIN", "LOGIN", NULL };

	g_assert_cmpstr(hm_sasl_mech_name(hm_sasl_client_pick_oauth(all)), ==, "OAUTHBEARER");
	g_assert_cmpstr(hm_sasl_mech_name(hm_sasl_client_pick_oauth(google)), ==, "XOAUTH2");
	g_assert_null(hm_sasl_client_pick_oauth(plain));
	g_assert_null(hm_sasl_client_pick_oauth(NULL));
	/* A password login never picks an OAuth2 mechanism. */
	g_assert_null(hm_sasl_client_pick(oauth_only));
	g_assert_cmpstr(hm_sasl_mech_name(hm_sasl_client_pick(all)), ==, "PLAIN");
	/* Nor does a server find one: they are the clients' alone. */
	g_assert_null(hm_sasl_mech_find("XOAUTH2"));
	g_assert_null(hm_sasl_mech_find("OAUTHBEARER"));
	g_assert_cmpstr(hm_sasl_mech_name(hm_sasl_oauth_mech_find("xoauth2")), ==, "XOAUTH2");
	g_assert_null(hm_sasl_oauth_mech_find("PLAIN"));
	g_assert_null(hm_sasl_oauth_mech_find(NULL));
}

/* --- the decoder ------------------------------------------------------------ */

static gboolean
parse_json(const char *json, HmSaslOauthError *e)
{
	g_autofree char *text = b64(json);

	return hm_sasl_oauth_error_parse(text, strlen(text), e);
}

static void
check_junk(const char *json)
{
	HmSaslOauthError e;

	if (parse_json(json, &e))
		g_error("accepted as a failure challenge: %s", json);
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_UNREADABLE);
	g_assert_cmpstr(e.status, ==, "");
	g_assert_cmpstr(e.scope, ==, "");
}

static void
test_parse(void)
{
	g_autofree char *long_scope = g_strnfill(HM_SASL_OAUTH_SCOPE_MAX + 1, 's');
	g_autofree char *max_scope = g_strnfill(HM_SASL_OAUTH_SCOPE_MAX, 's');
	g_autofree char *pad = g_strnfill(5000, 'p');
	g_autofree char *json = NULL;
	g_autofree char *words = NULL;
	HmSaslOauthError e;

	g_assert_true(parse_json(RFC_INVALID, &e));
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
	g_assert_cmpstr(e.status, ==, "invalid_token");
	g_assert_cmpstr(e.scope, ==, "https://mail.google.com/");
	g_assert_cmpstr(e.schemes, ==, "bearer");
	words = hm_sasl_oauth_error_describe(&e);
	g_assert_cmpstr(words, ==,
	                "the access token is invalid or expired (invalid_token; scope "
	                "https://mail.google.com/)");
	g_clear_pointer(&words, g_free);

	/* Dovecot's, status alone, a number, null members, any case. */
	g_assert_true(parse_json("{\"status\":\"invalid_token\",\"schemes\":\"bearer\","
	                         "\"scope\":\"mail\",\"openid-configuration\":\"https://x/\"}",
	                         &e));
	/* What Dovecot 2.3 sends (tests/integration/fixtures/dovecot.py's
	 * OAUTH2_FAILURES): XOAUTH2 above, OAUTHBEARER the status alone. */
	g_assert_true(parse_json("{\"status\":\"invalid_token\"}", &e));
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
	words = hm_sasl_oauth_error_describe(&e);
	g_assert_cmpstr(words, ==, "the access token is invalid or expired (invalid_token)");
	g_clear_pointer(&words, g_free);
	g_assert_true(parse_json("{\"status\":\"INVALID_REQUEST\"}", &e));
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_INVALID_REQUEST);
	g_assert_cmpstr(e.scope, ==, "");
	words = hm_sasl_oauth_error_describe(&e);
	g_assert_cmpstr(words, ==,
	                "the server found the sign-in request malformed "
	                "(INVALID_REQUEST)");
	g_assert_true(parse_json("{\"status\":401,\"scope\":null}", &e));
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
	g_assert_cmpstr(e.status, ==, "401");
	g_assert_true(parse_json(" {\"status\":\"403\"} ", &e));
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_INSUFFICIENT_SCOPE);
	/* An optional member of another type is taken as absent. */
	g_assert_true(parse_json("{\"status\":\"401\",\"scope\":7,\"schemes\":{}}", &e));
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_INVALID_TOKEN);
	g_assert_cmpstr(e.scope, ==, "");
	g_assert_cmpstr(e.schemes, ==, "");
	json = g_strdup_printf("{\"status\":\"invalid_token\",\"scope\":\"%s\"}", max_scope);
	g_assert_true(parse_json(json, &e));
	g_assert_cmpuint(strlen(e.scope), ==, HM_SASL_OAUTH_SCOPE_MAX);
	g_clear_pointer(&json, g_free);

	check_junk("");
	check_junk("null");
	check_junk("[]");
	check_junk("\"invalid_token\"");
	check_junk("{}");
	check_junk("{\"scope\":\"mail\"}");
	check_junk("{\"status\":\"\"}");
	check_junk("{\"status\":true}");
	check_junk("{\"status\":1.5}");
	check_junk("{\"status\":[\"401\"]}");
	check_junk("{\"status\":-401}");
	check_junk("{\"status\":\"40\\n1\"}");
	check_junk("{\"status\":\"\\u00e9\"}");
	check_junk("{\"status\":\"401\"");
	check_junk("{\"status\":\"401\"} x");
	json = g_strdup_printf("{\"status\":\"invalid_token\",\"scope\":\"%s\"}", long_scope);
	check_junk(json);
	g_clear_pointer(&json, g_free);
	json = g_strdup_printf("{\"status\":\"401\",\"pad\":\"%s\"}", pad);
	check_junk(json);

	/* Not base64, or a NUL in the JSON. */
	g_assert_false(hm_sasl_oauth_error_parse("e30", 3, &e));
	g_assert_cmpint(e.kind, ==, HM_SASL_OAUTH_UNREADABLE);
	g_assert_false(hm_sasl_oauth_error_parse("!!!!", 4, &e));
	g_assert_false(hm_sasl_oauth_error_parse("e30=\0", 5, &e));
	g_assert_false(hm_sasl_oauth_error_parse("=", 1, &e));
	{
		static const char nul[] = "{\"status\":\"401\"}\0junk";
		g_autofree char *t = hm_base64_encode(nul, sizeof(nul) - 1);

		g_assert_false(hm_sasl_oauth_error_parse(t, strlen(t), &e));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sasl-oauth/xoauth2-ir", test_xoauth2_ir);
	g_test_add_func("/sasl-oauth/oauthbearer-ir", test_oauthbearer_ir);
	g_test_add_func("/sasl-oauth/oauthbearer-escape", test_oauthbearer_escape);
	g_test_add_func("/sasl-oauth/bad-creds", test_bad_creds);
	g_test_add_func("/sasl-oauth/xoauth2-failure", test_xoauth2_failure);
	g_test_add_func("/sasl-oauth/oauthbearer-failure", test_oauthbearer_failure);
	g_test_add_func("/sasl-oauth/other-endings", test_other_endings);
	g_test_add_func("/sasl-oauth/long-token", test_long_token);
	g_test_add_func("/sasl-oauth/long-token-failure", test_long_token_failure);
	g_test_add_func("/sasl-oauth/pick", test_pick);
	g_test_add_func("/sasl-oauth/parse", test_parse);
	return g_test_run();
}
