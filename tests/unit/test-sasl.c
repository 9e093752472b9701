/* SASL PLAIN: the RFC 4616 examples, authzid present and empty, the
 * encoder, and every rejection. */
#include <config.h>

#include <string.h>

#include "lib/base64.h"
#include "lib/error.h"
#include "lib/passwd.h"
#include "lib/sasl.h"
#include "sasl-script.h"

/* Decodes the base64 of raw[0..len). */
static int
decode_raw(const char *raw, gsize len, HmSaslPlain *out, GError **err)
{
	g_autofree char *b64 = hm_base64_encode(raw, len);

	return hm_sasl_plain_decode(b64, strlen(b64), out, err);
}

#define RAW(s) s, sizeof(s) - 1

static void
check_ok(const char *raw, gsize len, const char *authzid, const char *authcid,
         const char *password)
{
	g_autoptr(GError) err = NULL;
	HmSaslPlain p;

	g_assert_cmpint(decode_raw(raw, len, &p, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(p.authzid, ==, authzid);
	g_assert_cmpstr(p.authcid, ==, authcid);
	g_assert_cmpstr(p.password, ==, password);
	hm_sasl_plain_clear(&p);
	g_assert_null(p.authzid);
	g_assert_null(p.authcid);
	g_assert_null(p.password);
}

static void
check_bad_raw(const char *raw, gsize len)
{
	g_autoptr(GError) err = NULL;
	HmSaslPlain p;

	if (decode_raw(raw, len, &p, &err) == 0)
		g_error("accepted PLAIN message of %" G_GSIZE_FORMAT " octets", len);
	g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
	g_assert_null(p.authzid);
	g_assert_null(p.authcid);
	g_assert_null(p.password);
	/* Safe on a failed decode, as the servers call it either way. */
	hm_sasl_plain_clear(&p);
}

/* RFC 4616 section 4. */
static void
test_rfc_examples(void)
{
	check_ok(RAW("\0tim\0tanstaaftanstaaf"), "", "tim", "tanstaaftanstaaf");
	check_ok(RAW("Ursel\0Kurt\0xipj3plmq"), "Ursel", "Kurt", "xipj3plmq");
}

static void
test_known_base64(void)
{
	/* "\0tim\0tanstaaftanstaaf", as a client sends it. */
	static const char b64[] = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";
	HmSaslPlain p;

	g_assert_cmpint(hm_sasl_plain_decode(b64, strlen(b64), &p, NULL), ==, 0);
	g_assert_cmpstr(p.authzid, ==, "");
	g_assert_cmpstr(p.authcid, ==, "tim");
	g_assert_cmpstr(p.password, ==, "tanstaaftanstaaf");
	hm_sasl_plain_clear(&p);
}

static void
test_fields(void)
{
	g_autofree char *max = g_strnfill(255, 'a');
	g_autofree char *raw = g_strdup_printf("%s|%s|%s", max, max, max);

	check_ok(RAW("alice\0alice\0pw"), "alice", "alice", "pw");
	check_ok(RAW("\0a\0b"), "", "a", "b");
	check_ok(RAW("\0alice@example.org\0p w\xc3\xa9 \t\x01"), "", "alice@example.org",
	         "p w\xc3\xa9 \t\x01");
	/* Exactly 255 octets per field is allowed. */
	raw[255] = raw[511] = '\0';
	check_ok(raw, 255 * 3 + 2, max, max, max);
}

static void
test_rejects(void)
{
	g_autofree char *long_field = g_strnfill(256, 'a');
	g_autofree char *raw = NULL;

	check_bad_raw(RAW(""));
	check_bad_raw(RAW("alicepw"));            /* no NUL */
	check_bad_raw(RAW("alice\0pw"));          /* one NUL */
	check_bad_raw(RAW("\0alice\0pw\0"));      /* three NULs */
	check_bad_raw(RAW("\0alice\0p\0w"));      /* embedded NUL in the password */
	check_bad_raw(RAW("\0\0\0"));
	check_bad_raw(RAW("\0\0pw"));             /* empty authcid */
	check_bad_raw(RAW("bob\0\0pw"));
	check_bad_raw(RAW("\0alice\0"));          /* empty password */
	check_bad_raw(RAW("\0\0"));
	check_bad_raw(RAW("\0al\xffice\0pw"));    /* authcid not UTF-8 */
	check_bad_raw(RAW("\xc3\0alice\0pw"));    /* authzid not UTF-8 */
	raw = g_strdup_printf("\x01%s\x01pw", long_field);
	raw[0] = raw[257] = '\0';
	check_bad_raw(raw, 256 + 4);              /* authcid too long */
	g_free(raw);
	raw = g_strdup_printf("\x01" "alice\x01%s", long_field);
	raw[0] = raw[6] = '\0';
	check_bad_raw(raw, 7 + 256);              /* password too long */
	g_free(raw);
	raw = g_strdup_printf("%s\x01" "alice\x01pw", long_field);
	raw[256] = raw[262] = '\0';
	check_bad_raw(raw, 256 + 9);              /* authzid too long */
}

static void
check_bad_b64(const char *b64)
{
	g_autoptr(GError) err = NULL;
	HmSaslPlain p;

	g_assert_cmpint(hm_sasl_plain_decode(b64, strlen(b64), &p, &err), ==, -1);
	g_assert_nonnull(err);
	hm_sasl_plain_clear(&p);
}

static void
test_bad_base64(void)
{
	g_autofree char *huge = g_strnfill(4096, 'A');

	check_bad_b64("AHRpbQB0YW5zdGFhZnRhbnN0YWFm=");
	check_bad_b64("AHRpbQB0YW5zdGFhZnRhbnN0YWF");
	check_bad_b64("AHRpbQB0YW5zdGFh ZnRhbnN0YWFm");
	check_bad_b64("AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
	check_bad_b64("AHRpbQB0YW5zdGFhZnRhbnN0YWF-");
	check_bad_b64("=");
	check_bad_b64("*");
	check_bad_b64(huge);
}

static void
test_encode(void)
{
	char *b64 = hm_sasl_plain_encode("tim", "tanstaaftanstaaf");
	HmSaslPlain p;

	g_assert_cmpstr(b64, ==, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
	g_assert_cmpint(hm_sasl_plain_decode(b64, strlen(b64), &p, NULL), ==, 0);
	g_assert_cmpstr(p.authcid, ==, "tim");
	g_assert_cmpstr(p.password, ==, "tanstaaftanstaaf");
	hm_sasl_plain_clear(&p);
	hm_sasl_free_secret(b64);
	hm_sasl_free_secret(NULL);
}

static void
test_round_trip(void)
{
	for (int i = 0; i < 500; i++) {
		char user[40], pw[40];
		gsize ulen = (gsize)g_test_rand_int_range(1, sizeof(user));
		gsize plen = (gsize)g_test_rand_int_range(1, sizeof(pw));
		char *b64;
		HmSaslPlain p;

		for (gsize j = 0; j < ulen; j++)
			user[j] = (char)g_test_rand_int_range(1, 128);
		for (gsize j = 0; j < plen; j++)
			pw[j] = (char)g_test_rand_int_range(1, 256);
		user[ulen - 1] = pw[plen - 1] = '\0';
		b64 = hm_sasl_plain_encode(user, pw);
		if (user[0] == '\0' || pw[0] == '\0') {
			g_assert_cmpint(hm_sasl_plain_decode(b64, strlen(b64), &p, NULL), ==, -1);
		} else {
			g_assert_cmpint(hm_sasl_plain_decode(b64, strlen(b64), &p, NULL), ==, 0);
			g_assert_cmpstr(p.authzid, ==, "");
			g_assert_cmpstr(p.authcid, ==, user);
			g_assert_cmpstr(p.password, ==, pw);
		}
		hm_sasl_plain_clear(&p);
		hm_sasl_free_secret(b64);
	}
}

/* --- the server side ---------------------------------------------------- */

/* Runs a server exchange: responses[i] answers the previous challenge
 * (the first is the initial response, or NULL). Returns the last step's
 * result; challenges are collected (decoded) in got. */
static int
serve(const char *mech, const char *const *responses, guint n, GString *got,
      HmSaslServer **out, GError **err)
{
	HmSaslServer *s = hm_sasl_server_new(hm_sasl_mech_find(mech));
	int rc = -1;

	for (guint i = 0; i < n; i++) {
		g_autofree char *chal = NULL;

		rc = hm_sasl_server_step(s, responses[i], &chal, err);
		if (rc == 1) {
			g_autoptr(GBytes) raw = hm_base64_decode(chal, strlen(chal), NULL);

			g_string_append_len(got, g_bytes_get_data(raw, NULL),
			                    (gssize)g_bytes_get_size(raw));
			g_string_append_c(got, '|');
		}
		if (rc != 1)
			break;
	}
	*out = s;
	return rc;
}

static void
test_server(void)
{
	g_autoptr(GString) got = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	HmSaslServer *s;
	const char *const plain_ir[] = { "AHRpbQB0YW5zdGFhZnRhbnN0YWFm" };
	const char *const plain_cont[] = { NULL, "dGltAHRpbQBzZWNyZXQ=" };
	const char *const login[] = { NULL, "dGlt", "c2VjcmV0" };
	const char *const login_ir[] = { "dGlt", "c2VjcmV0" };
	const char *const other[] = { "Ym9iAHRpbQBzZWNyZXQ=" };
	const char *const bad64[] = { NULL, "!!!" };
	const char *const empty_pw[] = { NULL, "dGlt", "=" };

	g_assert_null(hm_sasl_mech_find("CRAM-MD5"));
	g_assert_cmpstr(hm_sasl_mech_name(hm_sasl_mech_find("login")), ==, "LOGIN");

	g_assert_cmpint(serve("PLAIN", plain_ir, 1, got, &s, NULL), ==, 0);
	g_assert_cmpstr(hm_sasl_server_user(s), ==, "tim");
	g_assert_cmpstr(hm_sasl_server_password(s), ==, "tanstaaftanstaaf");
	hm_sasl_server_free(s);

	/* authzid = authcid is the user acting as itself. */
	g_assert_cmpint(serve("PLAIN", plain_cont, 2, got, &s, NULL), ==, 0);
	g_assert_cmpstr(got->str, ==, "|");
	g_assert_cmpstr(hm_sasl_server_password(s), ==, "secret");
	hm_sasl_server_free(s);

	g_string_truncate(got, 0);
	g_assert_cmpint(serve("LOGIN", login, 3, got, &s, NULL), ==, 0);
	g_assert_cmpstr(got->str, ==, "Username:|Password:|");
	g_assert_cmpstr(hm_sasl_server_user(s), ==, "tim");
	g_assert_cmpstr(hm_sasl_server_password(s), ==, "secret");
	hm_sasl_server_free(s);

	g_string_truncate(got, 0);
	g_assert_cmpint(serve("LOGIN", login_ir, 2, got, &s, NULL), ==, 0);
	g_assert_cmpstr(got->str, ==, "Password:|");
	hm_sasl_server_free(s);

	g_assert_cmpint(serve("PLAIN", other, 1, got, &s, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
	g_assert_null(hm_sasl_server_user(s));
	hm_sasl_server_free(s);
	g_clear_error(&err);
	g_assert_cmpint(serve("LOGIN", bad64, 2, got, &s, &err), ==, -1);
	g_assert_nonnull(err);
	hm_sasl_server_free(s);
	g_clear_error(&err);
	g_assert_cmpint(serve("LOGIN", empty_pw, 3, got, &s, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
	hm_sasl_server_free(s);
}

/* --- the client side: a framing that records and replays ---------------- */


static int
script_start(gpointer io, const char *args, const char *shown, GError **err)
{
	Script *sc = io;

	g_assert_null(strstr(shown, "AHRp"));  /* the response masked */
	g_string_append_printf(sc->sent, "AUTH %s|", args);
	return 0;
}



static int
client(const char *mech, gsize max_line, gboolean ir_ok, const char *const *replies,
       GString *sent, GError **err)
{
	HmSaslProto proto = { script_start, hm_script_line, hm_script_reply, max_line };
	Script sc = { replies, 0, sent, NULL };

	g_string_truncate(sent, 0);
	return hm_sasl_client_run(&proto, &sc, hm_sasl_mech_find(mech), "tim", "tanstaaftanstaaf",
	                          ir_ok, err);
}

static void
test_client(void)
{
	g_autoptr(GString) sent = g_string_new(NULL);
	g_autoptr(GError) err = NULL;
	const char *const ok[] = { "OK", NULL };
	const char *const ask_ir[] = { "+ ", "OK", NULL };
	const char *const login[] = { "+ VXNlcm5hbWU6", "+ UGFzc3dvcmQ6", "OK", NULL };
	const char *const refused[] = { "NO [AUTH] Invalid credentials", NULL };
	const char *const odd[] = { "+ ", "+ bW9yZT8=", "NO cancelled", NULL };
	const char *const not64[] = { "+ ***", "NO cancelled", NULL };
	const char *const cut[] = { NULL };
	const char *const offered[] = { "cram-md5", "login", "plain", NULL };
	const char *const none[] = { "GSSAPI", NULL };

	g_assert_cmpstr(hm_sasl_mech_name(hm_sasl_client_pick(offered)), ==, "PLAIN");
	g_assert_null(hm_sasl_client_pick(none));
	g_assert_null(hm_sasl_client_pick(NULL));

	g_assert_cmpint(client("PLAIN", 255, TRUE, ok, sent, NULL), ==, 0);
	g_assert_cmpstr(sent->str, ==, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm|");
	/* Too long for the command line, or no SASL-IR: sent when asked. */
	g_assert_cmpint(client("PLAIN", 40, TRUE, ask_ir, sent, NULL), ==, 0);
	g_assert_cmpstr(sent->str, ==, "AUTH PLAIN|AHRpbQB0YW5zdGFhZnRhbnN0YWFm|");
	g_assert_cmpint(client("PLAIN", 0, FALSE, ask_ir, sent, NULL), ==, 0);
	g_assert_cmpstr(sent->str, ==, "AUTH PLAIN|AHRpbQB0YW5zdGFhZnRhbnN0YWFm|");
	/* A server that ignores the initial response asks for it again. */
	g_assert_cmpint(client("PLAIN", 0, TRUE, ask_ir, sent, NULL), ==, 0);
	g_assert_cmpstr(sent->str, ==, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm|"
	                "AHRpbQB0YW5zdGFhZnRhbnN0YWFm|");
	g_assert_cmpint(client("LOGIN", 255, TRUE, login, sent, NULL), ==, 0);
	g_assert_cmpstr(sent->str, ==, "AUTH LOGIN|dGlt|dGFuc3RhYWZ0YW5zdGFhZg==|");

	g_assert_cmpint(client("PLAIN", 255, TRUE, refused, sent, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_AUTH);
	g_assert_cmpstr(err->message, ==, "[AUTH] Invalid credentials");
	g_clear_error(&err);
	/* A challenge PLAIN cannot answer, or not base64: cancelled. */
	g_assert_cmpint(client("PLAIN", 0, FALSE, odd, sent, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
	g_assert_true(g_str_has_suffix(sent->str, "|*|"));
	g_clear_error(&err);
	g_assert_cmpint(client("LOGIN", 0, TRUE, not64, sent, &err), ==, -1);
	g_assert_nonnull(err);
	g_assert_cmpstr(sent->str, ==, "AUTH LOGIN|*|");
	g_clear_error(&err);
	g_assert_cmpint(client("PLAIN", 255, TRUE, cut, sent, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
}

/* A password over HM_PASSWORD_MAX in an otherwise good response has its
 * own status (a server may tell the client, as it can never be right);
 * anything else wrong with the response makes it just bad. */
static void
test_password_too_long(void)
{
	g_autofree char *max = g_strnfill(HM_PASSWORD_MAX, 'p');
	g_autofree char *over = g_strnfill(HM_PASSWORD_MAX + 1, 'p');
	g_autofree char *long_id = g_strnfill(256, 'a');
	g_autofree char *ok = hm_sasl_plain_encode("alice", max);
	g_autofree char *bad = hm_sasl_plain_encode("alice", over);
	g_autofree char *both = hm_sasl_plain_encode(long_id, over);
	g_autoptr(GError) err = NULL;
	HmSaslPlain p;

	g_assert_cmpint(HM_PASSWORD_MAX, ==, 255);
	g_assert_cmpint(hm_sasl_plain_decode(ok, strlen(ok), &p, NULL), ==, HM_SASL_OK);
	g_assert_cmpstr(p.password, ==, max);
	hm_sasl_plain_clear(&p);
	g_assert_cmpint(hm_sasl_plain_decode(bad, strlen(bad), &p, &err), ==,
	                HM_SASL_PASSWORD_TOO_LONG);
	g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
	g_assert_cmpstr(err->message, ==, "bad SASL PLAIN response: password longer than 255 octets");
	g_assert_null(p.password);
	g_clear_error(&err);
	g_assert_cmpint(hm_sasl_plain_decode(both, strlen(both), &p, &err), ==, HM_SASL_BAD);
	g_assert_null(p.password);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/sasl/rfc-examples", test_rfc_examples);
	g_test_add_func("/sasl/known-base64", test_known_base64);
	g_test_add_func("/sasl/fields", test_fields);
	g_test_add_func("/sasl/password-too-long", test_password_too_long);
	g_test_add_func("/sasl/rejects", test_rejects);
	g_test_add_func("/sasl/bad-base64", test_bad_base64);
	g_test_add_func("/sasl/encode", test_encode);
	g_test_add_func("/sasl/round-trip", test_round_trip);
	g_test_add_func("/sasl/server", test_server);
	g_test_add_func("/sasl/client", test_client);
	return g_test_run();
}
