/* SASL PLAIN: the RFC 4616 examples, authzid present and empty, the
 * encoder, and every rejection. */
#include <config.h>

#include <string.h>

#include "lib/base64.h"
#include "lib/error.h"
#include "lib/passwd.h"
#include "lib/sasl.h"

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
	return g_test_run();
}
