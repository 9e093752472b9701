/* The SMTP server's command parsers (relay/smtp-parse.c). */
#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "lib/sasl.h"
#include "relay/smtp-parse.h"

#define ALL_FLAGS (RELAY_PARSE_UTF8 | RELAY_PARSE_BINARYMIME)

/* A reply's text must never carry what could end or forge a line. */
static void
assert_clean_reply(const RelayReplyText *r)
{
	g_assert_nonnull(r->enhanced);
	g_assert_cmpuint(strlen(r->text), <, sizeof(r->text));
	for (const char *p = r->text; *p != '\0'; p++) {
		g_assert_cmpint((guchar)*p, >=, 32);
		g_assert_cmpint((guchar)*p, <=, 126);
	}
}

static void
mail_ok(const char *args, guint flags, guint64 max, RelayMailArgs *out)
{
	RelayReplyText r = { 0 };

	if (relay_parse_mail_args(args, flags, max, out, &r) != 0)
		g_error("MAIL %s refused: %u %s %s", args, r.code, r.enhanced, r.text);
}

static void
mail_fail(const char *args, guint flags, guint64 max, guint code, const char *enhanced)
{
	RelayMailArgs a;
	RelayReplyText r = { 0 };

	if (relay_parse_mail_args(args, flags, max, &a, &r) != -1)
		g_error("MAIL %s accepted", args);
	g_assert_null(a.path.local);
	g_assert_null(a.envid);
	g_assert_null(a.auth);
	if (r.code != code || g_strcmp0(r.enhanced, enhanced) != 0)
		g_error("MAIL %s: got %u %s %s, want %u %s", args, r.code, r.enhanced, r.text, code,
		        enhanced);
	assert_clean_reply(&r);
}

static void
rcpt_ok(const char *args, guint flags, RelayRcptArgs *out)
{
	RelayReplyText r = { 0 };

	if (relay_parse_rcpt_args(args, flags, out, &r) != 0)
		g_error("RCPT %s refused: %u %s %s", args, r.code, r.enhanced, r.text);
}

static void
rcpt_fail(const char *args, guint flags, guint code, const char *enhanced)
{
	RelayRcptArgs a;
	RelayReplyText r = { 0 };

	if (relay_parse_rcpt_args(args, flags, &a, &r) != -1)
		g_error("RCPT %s accepted", args);
	g_assert_null(a.addr.local);
	g_assert_null(a.orcpt);
	if (r.code != code || g_strcmp0(r.enhanced, enhanced) != 0)
		g_error("RCPT %s: got %u %s %s, want %u %s", args, r.code, r.enhanced, r.text, code,
		        enhanced);
	assert_clean_reply(&r);
}

static void
test_split(void)
{
	char verb[RELAY_VERB_MAX];
	const char *args = "x";
	RelayReplyText r = { 0 };
	const char *line = "mail FROM:<a@b>";

	g_assert_cmpint(relay_cmd_split(line, strlen(line), verb, sizeof(verb), &args, &r), ==, 0);
	g_assert_cmpstr(verb, ==, "MAIL");
	g_assert_true(args == line + 5);

	line = "QuIt";
	g_assert_cmpint(relay_cmd_split(line, 4, verb, sizeof(verb), &args, &r), ==, 0);
	g_assert_cmpstr(verb, ==, "QUIT");
	g_assert_null(args);
	/* Trailing spaces are no arguments. */
	line = "RSET   ";
	g_assert_cmpint(relay_cmd_split(line, 7, verb, sizeof(verb), &args, &r), ==, 0);
	g_assert_cmpstr(verb, ==, "RSET");
	g_assert_null(args);
	/* Exactly one space is the separator; the rest belongs to args. */
	line = "MAIL  FROM:<>";
	g_assert_cmpint(relay_cmd_split(line, strlen(line), verb, sizeof(verb), &args, &r), ==, 0);
	g_assert_cmpstr(args, ==, " FROM:<>");
	line = "STARTTLS";
	g_assert_cmpint(relay_cmd_split(line, 8, verb, sizeof(verb), &args, &r), ==, 0);
	g_assert_cmpstr(verb, ==, "STARTTLS");

	static const char *const bad[] = {
		"", " MAIL", "MAIL:x", "MAIL\tFROM:<>", "ÄHLO x", "ABCDEFGHIJKLMNOP", "X-FOO"
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		memset(&r, 0, sizeof(r));
		args = "x";
		g_assert_cmpint(
			relay_cmd_split(bad[i], strlen(bad[i]), verb, sizeof(verb), &args, &r), ==,
			-1);
		g_assert_cmpstr(verb, ==, "");
		g_assert_null(args);
		g_assert_cmpuint(r.code, ==, 500);
		g_assert_cmpstr(r.enhanced, ==, "5.5.2");
	}
	/* 15 letters fit a 16-octet buffer; a smaller buffer refuses them. */
	line = "ABCDEFGHIJKLMNO";
	g_assert_cmpint(relay_cmd_split(line, 15, verb, sizeof(verb), &args, &r), ==, 0);
	g_assert_cmpint(relay_cmd_split("HELO", 4, verb, 4, &args, &r), ==, -1);
	g_assert_cmpint(relay_cmd_split("HELO", 4, verb, 5, &args, &r), ==, 0);
	/* An embedded NUL, which the line reader should have refused. */
	g_assert_cmpint(relay_cmd_split("NOOP x\0y", 8, verb, sizeof(verb), &args, &r), ==, -1);
}

static void
test_reply(void)
{
	RelayReplyText r;
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree char *long_text = g_strnfill(500, 'a');

	relay_reply_set(&r, 501, "5.5.4", "Bad %s", "x\r\nRSET\x80\x01");
	g_assert_cmpstr(r.text, ==, "Bad x??RSET??");
	relay_reply_append(&r, s);
	g_assert_cmpstr(s->str, ==, "501 5.5.4 Bad x??RSET??\r\n");

	relay_reply_set(&r, 554, "5.0.0", "%s", long_text);
	g_assert_cmpuint(strlen(r.text), ==, sizeof(r.text) - 1);
}

static void
test_mail_basic(void)
{
	RelayMailArgs a;

	mail_ok("FROM:<alice@Example.ORG>", 0, 0, &a);
	g_assert_cmpstr(a.path.local, ==, "alice");
	g_assert_cmpstr(a.path.domain, ==, "example.org");
	g_assert_false(a.null_sender);
	g_assert_cmpuint(a.size, ==, 0);
	g_assert_cmpint(a.body, ==, RELAY_BODY_7BIT);
	g_assert_cmpint(a.ret, ==, RELAY_RET_DEFAULT);
	g_assert_false(a.smtputf8);
	relay_mail_args_clear(&a);

	/* "from:" in any case; one space after the colon (Postfix takes it). */
	mail_ok("from: <a@b.example>", 0, 0, &a);
	g_assert_cmpstr(a.path.local, ==, "a");
	relay_mail_args_clear(&a);

	mail_ok("FROM:<>", 0, 0, &a);
	g_assert_true(a.null_sender);
	g_assert_null(a.path.local);
	relay_mail_args_clear(&a);
	mail_ok("FROM: <> SIZE=0  ", 0, 0, &a);
	g_assert_true(a.null_sender);
	relay_mail_args_clear(&a);

	/* A source route is accepted and dropped (RFC 5321 4.1.1.3). */
	mail_ok("FROM:<@relay.example,@other.example:bob@c.example>", 0, 0, &a);
	g_assert_cmpstr(a.path.local, ==, "bob");
	g_assert_cmpstr(a.path.domain, ==, "c.example");
	relay_mail_args_clear(&a);

	/* A quoted '>' is part of the local part, not the path's end. */
	mail_ok("FROM:<\"a>b\"@c.example> BODY=8BITMIME", 0, 0, &a);
	g_assert_cmpstr(a.path.local, ==, "a>b");
	g_assert_cmpint(a.body, ==, RELAY_BODY_8BITMIME);
	relay_mail_args_clear(&a);

	/* Clearing twice, and clearing a zeroed struct, are fine. */
	relay_mail_args_clear(&a);
}

static void
test_mail_syntax(void)
{
	static const char *const bad[] = {
		"FROM:",          "FROM",          "TO:<a@b.example>", "FROM:a@b.example",
		"FROM:  <a@b.c>", "FROM <a@b.c>",  "FROM:<a@b.c",      "FROM:<a@b.c>SIZE=1",
		"FROM:<a@b.c>>",  " FROM:<a@b.c>", "FROMA:<a@b.c>",    "",
	};

	mail_fail(NULL, 0, 0, 501, "5.5.4");
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		mail_fail(bad[i], 0, 0, 501, "5.5.4");
	/* Well placed, badly formed addresses. */
	mail_fail("FROM:<a@>", 0, 0, 553, "5.1.7");
	mail_fail("FROM:<a..b@c.example>", 0, 0, 553, "5.1.7");
	mail_fail("FROM:<postmaster>", 0, 0, 553, "5.1.7");
	mail_fail("FROM:<a@-b.example>", 0, 0, 553, "5.1.7");
	mail_fail("FROM:<@:a@b.c>", 0, 0, 553, "5.1.7");
	mail_fail("FROM:<@x a@b.c>", 0, 0, 553, "5.1.7");
}

static void
test_mail_size(void)
{
	RelayMailArgs a;

	mail_ok("FROM:<a@b.c> SIZE=1000", 0, 1000, &a);
	g_assert_cmpuint(a.size, ==, 1000);
	relay_mail_args_clear(&a);
	mail_ok("FROM:<a@b.c> size=18446744073709551615", 0, 0, &a);
	g_assert_cmpuint(a.size, ==, G_MAXUINT64);
	relay_mail_args_clear(&a);

	mail_fail("FROM:<a@b.c> SIZE=1001", 0, 1000, 552, "5.3.4");
	mail_fail("FROM:<a@b.c> SIZE=18446744073709551616", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SIZE=-1", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SIZE=+1", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SIZE=1k", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SIZE=", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SIZE", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SIZE=1 SIZE=1", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SIZE=1 size=2", 0, 0, 501, "5.5.4");
}

static void
test_mail_body(void)
{
	RelayMailArgs a;

	mail_ok("FROM:<a@b.c> BODY=7bit", 0, 0, &a);
	g_assert_cmpint(a.body, ==, RELAY_BODY_7BIT);
	relay_mail_args_clear(&a);
	mail_ok("FROM:<a@b.c> Body=BinaryMIME", RELAY_PARSE_BINARYMIME, 0, &a);
	g_assert_cmpint(a.body, ==, RELAY_BODY_BINARYMIME);
	relay_mail_args_clear(&a);

	mail_fail("FROM:<a@b.c> BODY=BINARYMIME", RELAY_PARSE_UTF8, 0, 555, "5.5.4");
	mail_fail("FROM:<a@b.c> BODY=8BIT", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> BODY=", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> BODY=7BIT BODY=7BIT", 0, 0, 501, "5.5.4");
}

static void
test_mail_utf8(void)
{
	RelayMailArgs a;
	const char *utf8 = "FROM:<j\xc3\xb6rg@b\xc3\xbc\x63her.example> SMTPUTF8";
	const char *no_param = "FROM:<j\xc3\xb6rg@b.example>";

	mail_ok(utf8, RELAY_PARSE_UTF8, 0, &a);
	g_assert_true(a.smtputf8);
	g_assert_cmpstr(a.path.local, ==, "j\xc3\xb6rg");
	relay_mail_args_clear(&a);
	mail_ok("FROM:<a@b.c> smtputf8 BODY=8BITMIME", RELAY_PARSE_UTF8, 0, &a);
	g_assert_true(a.smtputf8);
	relay_mail_args_clear(&a);

	/* Not offered: the parameter is unknown, the address a syntax error. */
	mail_fail(utf8, 0, 0, 555, "5.5.4");
	mail_fail(no_param, 0, 0, 501, "5.1.7");
	/* Offered, not given: RFC 6531's reply. */
	mail_fail(no_param, RELAY_PARSE_UTF8, 0, 553, "5.6.7");
	/* Given, but not UTF-8. */
	mail_fail("FROM:<j\xf6rg@b.example> SMTPUTF8", RELAY_PARSE_UTF8, 0, 553, "5.1.7");
	mail_fail("FROM:<a@b.c> SMTPUTF8=yes", RELAY_PARSE_UTF8, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> SMTPUTF8 SMTPUTF8", RELAY_PARSE_UTF8, 0, 501, "5.5.4");
}

static void
test_mail_dsn(void)
{
	RelayMailArgs a;
	g_autofree char *envid100 = g_strnfill(100, 'e');
	g_autofree char *envid101 = g_strnfill(101, 'e');
	g_autofree char *ok = g_strdup_printf("FROM:<a@b.c> ENVID=%s", envid100);
	g_autofree char *toolong = g_strdup_printf("FROM:<a@b.c> ENVID=%s", envid101);

	mail_ok("FROM:<a@b.c> RET=hdrs ENVID=QQ+2Bid+3D1", 0, 0, &a);
	g_assert_cmpint(a.ret, ==, RELAY_RET_HDRS);
	g_assert_cmpstr(a.envid, ==, "QQ+id=1");
	relay_mail_args_clear(&a);
	mail_ok(ok, 0, 0, &a);
	g_assert_cmpuint(strlen(a.envid), ==, 100);
	relay_mail_args_clear(&a);
	mail_ok("FROM:<a@b.c> ret=FULL", 0, 0, &a);
	g_assert_cmpint(a.ret, ==, RELAY_RET_FULL);
	relay_mail_args_clear(&a);

	mail_fail(toolong, 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> RET=ALL", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> RET=FULL RET=HDRS", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> ENVID=a+2", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> ENVID=a+2b", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> ENVID=a=b", 0, 0, 501, "5.5.4");
	/* Decoded control characters could forge DSN header lines. */
	mail_fail("FROM:<a@b.c> ENVID=a+0D+0Ab", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> ENVID=a+00", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> ENVID=+C3+A4", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> ENVID=x ENVID=y", 0, 0, 501, "5.5.4");
	/* NOTIFY and ORCPT belong to RCPT. */
	mail_fail("FROM:<a@b.c> NOTIFY=NEVER", 0, 0, 555, "5.5.4");
}

static void
test_mail_auth(void)
{
	RelayMailArgs a;

	mail_ok("FROM:<a@b.c> AUTH=<>", 0, 0, &a);
	g_assert_cmpstr(a.auth, ==, "<>");
	relay_mail_args_clear(&a);
	mail_ok("FROM:<a@b.c> auth=alice+2Bx@b.c", 0, 0, &a);
	g_assert_cmpstr(a.auth, ==, "alice+x@b.c");
	relay_mail_args_clear(&a);

	mail_fail("FROM:<a@b.c> AUTH=", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> AUTH=a+0Ab", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> AUTH=<> AUTH=<>", 0, 0, 501, "5.5.4");
}

static void
test_mail_unknown(void)
{
	RelayReplyText r = { 0 };
	RelayMailArgs a;

	mail_fail("FROM:<a@b.c> XFOO=1", 0, 0, 555, "5.5.4");
	mail_fail("FROM:<a@b.c> XFOO", 0, 0, 555, "5.5.4");
	mail_fail("FROM:<a@b.c> =1", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> -X=1", 0, 0, 501, "5.5.4");
	mail_fail("FROM:<a@b.c> X_Y=1", 0, 0, 501, "5.5.4");
	/* The unknown keyword is echoed, truncated. */
	g_assert_cmpint(relay_parse_mail_args("FROM:<a@b.c> XAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	                                      "AAAAAAAAAAAAAAAAAAAAA=1",
	                                      0, 0, &a, &r),
	                ==, -1);
	g_assert_cmpuint(r.code, ==, 555);
	g_assert_nonnull(strstr(r.text, "XAAAA"));
	g_assert_cmpuint(strlen(r.text), <, 80);
	/* Every parameter at once, in an odd order and case. */
	mail_ok("FROM:<a@b.c> envid=x AUTH=<> smtputf8 Ret=Full BODY=BINARYMIME SIZE=10", ALL_FLAGS,
	        10, &a);
	g_assert_cmpstr(a.envid, ==, "x");
	g_assert_cmpstr(a.auth, ==, "<>");
	g_assert_true(a.smtputf8);
	g_assert_cmpint(a.ret, ==, RELAY_RET_FULL);
	g_assert_cmpint(a.body, ==, RELAY_BODY_BINARYMIME);
	g_assert_cmpuint(a.size, ==, 10);
	relay_mail_args_clear(&a);
	/* A later error undoes what earlier parameters set. */
	mail_fail("FROM:<a@b.c> ENVID=x AUTH=<> XFOO", 0, 0, 555, "5.5.4");
}

static void
test_rcpt(void)
{
	RelayRcptArgs a;

	rcpt_ok("TO:<bob@Example.org>", 0, &a);
	g_assert_cmpstr(a.addr.local, ==, "bob");
	g_assert_cmpstr(a.addr.domain, ==, "example.org");
	g_assert_cmpuint(a.notify, ==, 0);
	g_assert_null(a.orcpt);
	relay_rcpt_args_clear(&a);

	rcpt_ok("to: <PostMaster>", 0, &a);
	g_assert_null(a.addr.domain);
	g_assert_cmpstr(a.addr.local, ==, "PostMaster");
	relay_rcpt_args_clear(&a);
	rcpt_ok("TO:<@a.example:bob@c.example>", 0, &a);
	g_assert_cmpstr(a.addr.domain, ==, "c.example");
	relay_rcpt_args_clear(&a);

	rcpt_fail(NULL, 0, 501, "5.5.4");
	rcpt_fail("FROM:<bob@c.example>", 0, 501, "5.5.4");
	rcpt_fail("TO:bob@c.example", 0, 501, "5.5.4");
	rcpt_fail("TO:<>", 0, 553, "5.1.3");
	rcpt_fail("TO:<alice>", 0, 553, "5.1.3");
	rcpt_fail("TO:<postmasters>", 0, 553, "5.1.3");
	rcpt_fail("TO:<bob@>", 0, 553, "5.1.3");
	rcpt_fail("TO:<bob@c.example> SIZE=10", 0, 555, "5.5.4");
	rcpt_fail("TO:<bob@c.example> SMTPUTF8", RELAY_PARSE_UTF8, 555, "5.5.4");
}

static void
test_rcpt_utf8(void)
{
	RelayRcptArgs a;
	const char *addr = "TO:<j\xc3\xb6rg@b\xc3\xbc\x63her.example>";

	rcpt_ok(addr, RELAY_PARSE_UTF8 | RELAY_PARSE_UTF8_TXN, &a);
	g_assert_cmpstr(a.addr.domain, ==, "b\xc3\xbc\x63her.example");
	relay_rcpt_args_clear(&a);
	rcpt_fail(addr, RELAY_PARSE_UTF8, 553, "5.6.7");
	rcpt_fail(addr, 0, 501, "5.1.3");
	rcpt_fail("TO:<a\xff@b.c>", RELAY_PARSE_UTF8 | RELAY_PARSE_UTF8_TXN, 553, "5.1.3");
}

static void
test_rcpt_dsn(void)
{
	RelayRcptArgs a;
	GString *big = g_string_new("TO:<a@b.c> ORCPT=rfc822;");

	rcpt_ok("TO:<a@b.c> NOTIFY=success,DELAY ORCPT=rfc822;Bob+2Bx@b.c", 0, &a);
	g_assert_cmpuint(a.notify, ==, RELAY_NOTIFY_SUCCESS | RELAY_NOTIFY_DELAY);
	g_assert_cmpstr(a.orcpt, ==, "rfc822;Bob+x@b.c");
	relay_rcpt_args_clear(&a);
	rcpt_ok("TO:<a@b.c> notify=NEVER orcpt=utf-8;j+C3+B6rg@b.c", 0, &a);
	g_assert_cmpuint(a.notify, ==, RELAY_NOTIFY_NEVER);
	g_assert_cmpstr(a.orcpt, ==, "utf-8;j\xc3\xb6rg@b.c");
	relay_rcpt_args_clear(&a);

	rcpt_fail("TO:<a@b.c> NOTIFY=NEVER,SUCCESS", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> NOTIFY=", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> NOTIFY=DELAY NOTIFY=DELAY", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> ORCPT=a@b.c", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> ORCPT=;a@b.c", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> ORCPT=rfc822;", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> ORCPT=rfc_822;a@b.c", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> ORCPT=rfc822;a+0D+0A@b.c", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> ORCPT=rfc822;+FF@b.c", 0, 501, "5.5.4");
	rcpt_fail("TO:<a@b.c> ORCPT=rfc822;a@b.c ORCPT=rfc822;a@b.c", 0, 501, "5.5.4");

	/* 500 characters as sent is the limit (RFC 3461 4.2). */
	while (big->len < strlen("TO:<a@b.c> ORCPT=") + 500)
		g_string_append_c(big, 'x');
	rcpt_ok(big->str, 0, &a);
	relay_rcpt_args_clear(&a);
	g_string_append_c(big, 'x');
	rcpt_fail(big->str, 0, 501, "5.5.4");
	g_string_free(big, TRUE);
}

static void
test_xtext(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GString) enc = g_string_new(NULL);
	char all[256];
	char *dec;
	static const char *const bad[] = { "a b", "a=b", "+",    "+4",       "+4g",
		                           "+4a", "+00", "\x7f", "\xc3\xa4", "a\tb" };

	dec = relay_xtext_decode("", &err);
	g_assert_cmpstr(dec, ==, "");
	g_free(dec);
	dec = relay_xtext_decode("a+2B+3Db+20+FF", &err);
	g_assert_cmpstr(dec, ==, "a+=b \xff");
	g_free(dec);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_error(&err);
		g_assert_null(relay_xtext_decode(bad[i], &err));
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	}

	/* Every octet but NUL survives encode + decode. */
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	relay_xtext_encode(all, enc);
	for (const char *p = enc->str; *p != '\0'; p++)
		g_assert_true(*p >= 33 && *p <= 126 && *p != '=');
	g_assert_nonnull(strstr(enc->str, "+2B"));
	g_assert_nonnull(strstr(enc->str, "+3D"));
	g_clear_error(&err);
	dec = relay_xtext_decode(enc->str, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(dec, ==, all);
	g_free(dec);

	g_string_truncate(enc, 0);
	relay_xtext_encode("rfc822;a b@c", enc);
	g_assert_cmpstr(enc->str, ==, "rfc822;a+20b@c");
}

static void
test_bdat(void)
{
	guint64 size = 7;
	gboolean last = TRUE;
	RelayReplyText r = { 0 };
	static const char *const bad[] = {
		"",
		"   ",
		"LAST",
		"-1",
		"+1",
		"1k",
		"1 LAS",
		"1 LASTX",
		"1 LAST x",
		"1 FIRST",
		"0x10",
		"1\tLAST",
		"18446744073709551616",
		"1 LAST LAST",
	};

	g_assert_cmpint(relay_parse_bdat("1000", &size, &last, &r), ==, 0);
	g_assert_cmpuint(size, ==, 1000);
	g_assert_false(last);
	g_assert_cmpint(relay_parse_bdat("0 last", &size, &last, &r), ==, 0);
	g_assert_cmpuint(size, ==, 0);
	g_assert_true(last);
	g_assert_cmpint(relay_parse_bdat("42 LAST ", &size, &last, &r), ==, 0);
	g_assert_cmpuint(size, ==, 42);
	g_assert_true(last);
	g_assert_cmpint(relay_parse_bdat("18446744073709551615", &size, &last, &r), ==, 0);
	g_assert_cmpuint(size, ==, G_MAXUINT64);

	g_assert_cmpint(relay_parse_bdat(NULL, &size, &last, &r), ==, -1);
	g_assert_cmpuint(r.code, ==, 501);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		memset(&r, 0, sizeof(r));
		if (relay_parse_bdat(bad[i], &size, &last, &r) != -1)
			g_error("BDAT %s accepted", bad[i]);
		g_assert_cmpuint(r.code, ==, 501);
		g_assert_cmpstr(r.enhanced, ==, "5.5.4");
	}
}

static void
test_auth(void)
{
	char *mech = NULL, *initial = NULL;
	RelayReplyText r = { 0 };
	static const char *const bad[] = {
		"", "PLAIN a b", "PL@IN", "PLAIN a\x01", "ABCDEFGHIJKLMNOPQRSTU", "PLAIN dGVz dA=="
	};

	g_assert_cmpint(relay_parse_auth("plain dGVzdA==", &mech, &initial, &r), ==, 0);
	g_assert_cmpstr(mech, ==, "PLAIN");
	g_assert_cmpstr(initial, ==, "dGVzdA==");
	g_free(mech);
	hm_sasl_free_secret(initial);

	g_assert_cmpint(relay_parse_auth("LOGIN", &mech, &initial, &r), ==, 0);
	g_assert_cmpstr(mech, ==, "LOGIN");
	g_assert_null(initial);
	g_free(mech);

	g_assert_cmpint(relay_parse_auth("PLAIN =", &mech, &initial, &r), ==, 0);
	g_assert_cmpstr(initial, ==, "=");
	g_free(mech);
	hm_sasl_free_secret(initial);

	/* Names we do not have are the caller's business (504). */
	g_assert_cmpint(relay_parse_auth("X-OAUTH_2 ", &mech, &initial, &r), ==, 0);
	g_assert_cmpstr(mech, ==, "X-OAUTH_2");
	g_free(mech);

	g_assert_cmpint(relay_parse_auth(NULL, &mech, &initial, &r), ==, -1);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		memset(&r, 0, sizeof(r));
		mech = initial = (char *)"x";
		if (relay_parse_auth(bad[i], &mech, &initial, &r) != -1)
			g_error("AUTH %s accepted", bad[i]);
		g_assert_null(mech);
		g_assert_null(initial);
		g_assert_cmpuint(r.code, ==, 501);
		g_assert_cmpstr(r.enhanced, ==, "5.5.4");
	}
}

static void
helo_ok(const char *args, const char *want)
{
	RelayReplyText r = { 0 };
	char *domain = NULL;

	if (relay_parse_helo(args, TRUE, &domain, &r) != 0)
		g_error("EHLO %s refused: %s", args, r.text);
	g_assert_cmpstr(domain, ==, want);
	g_free(domain);
}

static void
test_helo(void)
{
	RelayReplyText r = { 0 };
	char *domain = NULL;
	g_autofree char *n255 = g_strnfill(255, 'h');
	g_autofree char *n256 = g_strnfill(256, 'h');
	static const char *const bad[] = { "",          "   ",      "host\x01",
		                           "h\xc3\xa4", "[1.2.3]",  "[IPv6:::g]",
		                           "[foo]",     "[1.2.3.4", "host x\x7f" };

	helo_ok("mail.example.org", "mail.example.org");
	helo_ok("My_PC", "My_PC");
	helo_ok("laptop  ", "laptop");
	helo_ok("host.example some junk", "host.example");
	helo_ok("[192.0.2.1]", "[192.0.2.1]");
	helo_ok("[IPv6:::1]", "[IPv6:::1]");
	helo_ok("[ipv6:2001:DB8::1]", "[IPv6:2001:db8::1]");
	helo_ok(n255, n255);

	g_assert_cmpint(relay_parse_helo(NULL, FALSE, &domain, &r), ==, -1);
	g_assert_cmpuint(r.code, ==, 501);
	g_assert_nonnull(strstr(r.text, "HELO"));
	g_assert_cmpint(relay_parse_helo(n256, TRUE, &domain, &r), ==, -1);
	g_assert_nonnull(strstr(r.text, "EHLO"));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		memset(&r, 0, sizeof(r));
		if (relay_parse_helo(bad[i], TRUE, &domain, &r) != -1)
			g_error("EHLO %s accepted", bad[i]);
		g_assert_null(domain);
		g_assert_cmpuint(r.code, ==, 501);
		assert_clean_reply(&r);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/smtp-parse/split", test_split);
	g_test_add_func("/smtp-parse/reply", test_reply);
	g_test_add_func("/smtp-parse/mail-basic", test_mail_basic);
	g_test_add_func("/smtp-parse/mail-syntax", test_mail_syntax);
	g_test_add_func("/smtp-parse/mail-size", test_mail_size);
	g_test_add_func("/smtp-parse/mail-body", test_mail_body);
	g_test_add_func("/smtp-parse/mail-utf8", test_mail_utf8);
	g_test_add_func("/smtp-parse/mail-dsn", test_mail_dsn);
	g_test_add_func("/smtp-parse/mail-auth", test_mail_auth);
	g_test_add_func("/smtp-parse/mail-unknown", test_mail_unknown);
	g_test_add_func("/smtp-parse/rcpt", test_rcpt);
	g_test_add_func("/smtp-parse/rcpt-utf8", test_rcpt_utf8);
	g_test_add_func("/smtp-parse/rcpt-dsn", test_rcpt_dsn);
	g_test_add_func("/smtp-parse/xtext", test_xtext);
	g_test_add_func("/smtp-parse/bdat", test_bdat);
	g_test_add_func("/smtp-parse/auth", test_auth);
	g_test_add_func("/smtp-parse/helo", test_helo);
	return g_test_run();
}
