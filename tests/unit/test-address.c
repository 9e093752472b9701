#include <config.h>

#include <string.h>

#include <glib.h>

#include "lib/address.h"
#include "lib/error.h"

#define U HM_ADDR_UTF8
#define ND HM_ADDR_NO_DOMAIN

/* Parses text[0..len), checks the result, and checks that formatting and
 * parsing again gives the same address. */
static void
check_ok_n(const char *text, gsize len, guint flags, const char *local, const char *domain)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *formatted = NULL;
	HmAddress a, b;

	if (hm_address_parse(text, len, flags, &a, &err) < 0)
		g_error("rejected \"%.*s\": %s", (int)len, text, err->message);
	g_assert_cmpstr(a.local, ==, local);
	g_assert_cmpstr(a.domain, ==, domain);
	formatted = hm_address_format(&a);
	if (hm_address_parse(formatted, strlen(formatted), flags, &b, &err) < 0)
		g_error("formatted \"%s\" rejected: %s", formatted, err->message);
	g_assert_cmpstr(b.local, ==, a.local);
	g_assert_cmpstr(b.domain, ==, a.domain);
	hm_address_clear(&a);
	hm_address_clear(&b);
	g_assert_null(a.local);
	g_assert_null(a.domain);
}

static void
check_ok(const char *text, guint flags, const char *local, const char *domain)
{
	check_ok_n(text, strlen(text), flags, local, domain);
}

static void
check_bad_n(const char *text, gsize len, guint flags, const char *needle)
{
	g_autoptr(GError) err = NULL;
	HmAddress a = { (char *)"junk", (char *)"junk" };

	if (hm_address_parse(text, len, flags, &a, &err) == 0)
		g_error("accepted \"%.*s\" as %s / %s", (int)len, text, a.local, a.domain);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	g_assert_null(a.local);
	g_assert_null(a.domain);
	if (needle != NULL && strstr(err->message, needle) == NULL)
		g_error("\"%.*s\": message \"%s\" lacks \"%s\"", (int)len, text, err->message, needle);
}

static void
check_bad(const char *text, guint flags, const char *needle)
{
	check_bad_n(text, strlen(text), flags, needle);
}

static void
test_dot_string(void)
{
	check_ok("user@example.com", 0, "user", "example.com");
	check_ok("User.Name+tag@Example.COM", 0, "User.Name+tag", "example.com");
	check_ok("a!#$%&'*+-/=?^_`{|}~@x.org", 0, "a!#$%&'*+-/=?^_`{|}~", "x.org");
	check_ok("a.b.c@x", 0, "a.b.c", "x");
	check_ok("1@2", 0, "1", "2");
	check_bad("", 0, "empty local part");
	check_bad("@example.com", 0, "empty local part");
	check_bad(".user@x", 0, "starts with a dot");
	check_bad("user.@x", 0, "ends with a dot");
	check_bad("us..er@x", 0, "two dots");
	check_bad(".@x", 0, "starts with a dot");
	check_bad("us er@x", 0, "bad character in local part");
	check_bad(" user@x", 0, "bad character in local part");
	check_bad("us(er)@x", 0, "bad character in local part");
	check_bad("us,er@x", 0, "bad character in local part");
	check_bad("us\\er@x", 0, "bad character in local part");
	check_bad("us\x7f" "er@x", 0, "bad character in local part");
	check_bad("us<er@x", 0, "bad character in local part");
	check_bad("user", 0, "missing @domain");
	check_bad("user@", 0, "empty domain");
	check_bad("a@b@c", 0, "bad character in domain");
}

static void
test_quoted(void)
{
	check_ok("\"john doe\"@example.com", 0, "john doe", "example.com");
	check_ok("\"a\\\"b\"@x", 0, "a\"b", "x");
	check_ok("\"a\\\\b\"@x", 0, "a\\b", "x");
	check_ok("\"\\a\"@x", 0, "a", "x");
	check_ok("\"\\ \"@x", 0, " ", "x");
	check_ok("\"a@b\"@x", 0, "a@b", "x");
	check_ok("\".a..b.\"@x", 0, ".a..b.", "x");
	check_ok("\"plain\"@x", 0, "plain", "x");
	check_ok("\"<>(),;:[]\"@x", 0, "<>(),;:[]", "x");
	check_ok("\"~\"@x", 0, "~", "x");
	check_bad("\"\"@x", 0, "empty local part");
	check_bad("\"unterminated@x", 0, "unterminated");
	check_bad("\"a\\", 0, "bad quoted pair");
	check_bad("\"a\"b@x", 0, "bad character in local part");
	check_bad("a\"b\"@x", 0, "bad character in local part");
	check_bad("\"a\"", 0, "missing @domain");
	check_bad("\"a\tb\"@x", 0, "bad character in quoted");
	check_bad("\"a\x01\"@x", 0, "bad character in quoted");
	check_bad("\"a\x7f\"@x", 0, "bad character in quoted");
	check_bad("\"a\\\x01\"@x", 0, "bad quoted pair");
	check_bad("\"a\\\t\"@x", 0, "bad quoted pair");
	check_bad("\"a\r\nb\"@x", 0, "bad character in quoted");
}

static void
test_local_length(void)
{
	g_autofree char *l64 = g_strnfill(64, 'a');
	g_autofree char *l65 = g_strnfill(65, 'a');
	g_autofree char *q62 = g_strnfill(62, 'q');
	g_autofree char *q63 = g_strnfill(63, 'q');
	g_autofree char *a64 = g_strdup_printf("%s@x", l64);
	g_autofree char *a65 = g_strdup_printf("%s@x", l65);
	g_autofree char *qa64 = g_strdup_printf("\"%s\"@x", q62);
	g_autofree char *qa65 = g_strdup_printf("\"%s\"@x", q63);

	check_ok(a64, 0, l64, "x");
	check_bad(a65, 0, "longer than 64");
	/* The limit counts the local part as written, quotes included. */
	check_ok(qa64, 0, q62, "x");
	check_bad(qa65, 0, "longer than 64");
}

/* A domain of n octets: labels of 63 separated by dots, the last shorter. */
static char *
domain_of(gsize n)
{
	GString *s = g_string_new(NULL);

	while (s->len < n) {
		gsize room, take;

		if (s->len > 0)
			g_string_append_c(s, '.');
		room = n - s->len;
		take = MIN(room, 63);
		/* Leave no single octet over: it would make an empty label. */
		if (room - take == 1)
			take--;
		for (gsize i = 0; i < take; i++)
			g_string_append_c(s, (char)('a' + (i % 26)));
	}
	return g_string_free(s, FALSE);
}

static void
test_domain_length(void)
{
	g_autofree char *d255 = domain_of(255);
	g_autofree char *d256 = domain_of(256);
	g_autofree char *a255 = g_strdup_printf("u@%s", d255);
	g_autofree char *a256 = g_strdup_printf("u@%s", d256);
	g_autofree char *l63 = g_strnfill(63, 'b');
	g_autofree char *l64 = g_strnfill(64, 'b');
	g_autofree char *a63 = g_strdup_printf("u@%s.example", l63);
	g_autofree char *a64 = g_strdup_printf("u@%s.example", l64);
	g_autofree char *d63 = g_strdup_printf("%s.example", l63);

	g_assert_cmpuint(strlen(d255), ==, 255);
	g_assert_cmpuint(strlen(d256), ==, 256);
	/* A domain of 255 octets is one, but with "u@" no mailbox fits a
	 * path (test_mailbox_length()). */
	check_bad(a255, 0, "address longer than 254");
	check_bad(a256, 0, "domain longer than 255");
	check_ok(a63, 0, "u", d63);
	check_bad(a64, 0, "longer than 63");
}

static void
test_domain_labels(void)
{
	check_ok("a@a-b.c", 0, "a", "a-b.c");
	check_ok("a@a--b.example", 0, "a", "a--b.example");
	check_ok("a@xn--bcher-kva.example", 0, "a", "xn--bcher-kva.example");
	check_ok("a@1.2", 0, "a", "1.2");
	check_ok("a@LocalHost", 0, "a", "localhost");
	check_ok("a@x", 0, "a", "x");
	check_bad("a@-x.com", 0, "hyphen");
	check_bad("a@x-.com", 0, "hyphen");
	check_bad("a@x.-", 0, "hyphen");
	check_bad("a@-", 0, "hyphen");
	check_bad("a@x..com", 0, "empty label");
	check_bad("a@.x.com", 0, "empty label");
	check_bad("a@.", 0, "empty label");
	check_bad("a@x.com.", 0, "ends with a dot");
	check_bad("a@x_y.com", 0, "bad character in domain");
	check_bad("a@x y.com", 0, "bad character in domain");
	check_bad("a@x.com ", 0, "bad character in domain");
	check_bad("a@x.com>", 0, "bad character in domain");
	check_bad("a@192.0.2.1]", 0, "bad character in domain");
	check_bad("a@\"x\"", 0, "bad character in domain");
}

static void
test_literals(void)
{
	check_ok("a@[192.0.2.1]", 0, "a", "[192.0.2.1]");
	check_ok("a@[0.0.0.0]", 0, "a", "[0.0.0.0]");
	check_ok("a@[IPv6:2001:DB8::1]", 0, "a", "[IPv6:2001:db8::1]");
	check_ok("a@[ipv6:::1]", 0, "a", "[IPv6:::1]");
	check_ok("a@[IPv6:::ffff:192.0.2.1]", 0, "a", "[IPv6:::ffff:192.0.2.1]");
	check_ok("a@[IPv6:1:2:3:4:5:6:7:8]", 0, "a", "[IPv6:1:2:3:4:5:6:7:8]");
	check_bad("a@[192.0.2.256]", 0, "bad IPv4");
	check_bad("a@[192.0.2]", 0, "bad IPv4");
	check_bad("a@[192.0.2.1.5]", 0, "bad IPv4");
	check_bad("a@[0x7f.0.0.1]", 0, "bad character in address literal");
	check_bad("a@[ 192.0.2.1]", 0, "bad character in address literal");
	check_bad("a@[2001:db8::1]", 0, "bad character in address literal");
	check_bad("a@[IPv6:1.2.3.4]", 0, "bad IPv6");
	check_bad("a@[IPv6:1:2:3:4:5:6:7:8:9]", 0, "bad IPv6");
	check_bad("a@[IPv6:2001:db8::g]", 0, "bad character in address literal");
	check_bad("a@[IPv6:fe80::1%eth0]", 0, "bad character in address literal");
	check_bad("a@[IPv6:]", 0, "bad address literal");
	check_bad("a@[]", 0, "bad address literal");
	check_bad("a@[", 0, "unterminated");
	check_bad("a@[192.0.2.1", 0, "unterminated");
	check_bad("a@[192.0.2.1]x", 0, "unterminated");
	check_bad("a@[1.2.3.4]]", 0, "bad character in address literal");
	check_bad("a@[x-tag:stuff]", 0, "bad character in address literal");
	check_bad("a@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd]",
	          0, "bad address literal");
}

static void
test_utf8(void)
{
	check_ok("jörg@bücher.example", U, "jörg", "bücher.example");
	check_ok("Jörg@Bücher.Example", U, "Jörg", "bücher.example");
	check_ok("用户@例子.广告", U, "用户", "例子.广告");
	check_ok("\"jö rg\"@x", U, "jö rg", "x");
	check_ok("user@example.com", U, "user", "example.com");
	check_bad("jörg@x", 0, "SMTPUTF8");
	check_bad("ö@x", 0, "SMTPUTF8");
	check_bad("user@bücher.example", 0, "SMTPUTF8");
	check_bad("\"jö rg\"@x", 0, "SMTPUTF8");
	check_bad("\xc3@x", U, "invalid UTF-8");
	check_bad("a@\xff.com", U, "invalid UTF-8");
	check_bad("\xc0\xaf@x", U, "invalid UTF-8");
	check_bad("\xed\xa0\x80@x", U, "invalid UTF-8");
	check_bad("\"\\\xc3\xb6\"@x", U, "bad quoted pair");
	/* Non-ASCII hyphen rules: a label may be all non-ASCII. */
	check_bad("a@-ü.example", U, "hyphen");
}

static void
test_no_domain(void)
{
	check_ok("postmaster", ND, "postmaster", NULL);
	check_ok("\"a b\"", ND, "a b", NULL);
	check_ok("a@B", ND, "a", "b");
	check_ok("jörg", ND | U, "jörg", NULL);
	check_bad("postmaster", 0, "missing @domain");
	check_bad("", ND, "empty local part");
	check_bad("a@", ND, "empty domain");
	check_bad("a b", ND, "bad character in local part");
}

static void
test_nul(void)
{
	check_bad_n("us\0er@x", 7, 0, "NUL");
	check_bad_n("user@x\0", 7, 0, "NUL");
	check_bad_n("user@ex\0ample.com", 17, 0, "NUL");
	check_bad_n("\"a\0b\"@x", 7, 0, "NUL");
	check_bad_n("a@[1.2.3.4\0]", 12, 0, "NUL");
	check_bad_n("a@[1.2.3.4]\0", 12, 0, "NUL");
	check_bad_n("\0", 1, U, "NUL");
	/* The length, not a NUL, delimits the input. */
	check_ok_n("user@example.comJUNK", 16, 0, "user", "example.com");
	check_bad_n("user@example.com", 0, 0, "empty local part");
}

static void
test_format(void)
{
	static const struct {
		const char *local, *domain, *want;
	} cases[] = {
		{ "user", "x", "user@x" },
		{ "a.b", "x", "a.b@x" },
		{ "john doe", "x", "\"john doe\"@x" },
		{ "a\"b", "x", "\"a\\\"b\"@x" },
		{ "a\\b", "x", "\"a\\\\b\"@x" },
		{ ".a", "x", "\".a\"@x" },
		{ "a.", "x", "\"a.\"@x" },
		{ "a..b", "x", "\"a..b\"@x" },
		{ "a@b", "x", "\"a@b\"@x" },
		{ "", "x", "\"\"@x" },
		{ "jörg", "bücher.example", "jörg@bücher.example" },
		{ "postmaster", NULL, "postmaster" },
		{ "a b", NULL, "\"a b\"" },
		{ "u", "[IPv6:::1]", "u@[IPv6:::1]" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		HmAddress a = { (char *)cases[i].local, (char *)cases[i].domain };
		g_autofree char *s = hm_address_format(&a);

		g_assert_cmpstr(s, ==, cases[i].want);
	}
}

static void
check_path(const char *text, guint flags, const char *local, const char *domain,
           gsize want_end)
{
	g_autoptr(GError) err = NULL;
	HmAddress a;
	gboolean is_null = TRUE;
	gsize end = 0;

	if (hm_path_parse(text, flags, &a, &is_null, &end, &err) < 0)
		g_error("path \"%s\" rejected: %s", text, err->message);
	g_assert_false(is_null);
	g_assert_cmpstr(a.local, ==, local);
	g_assert_cmpstr(a.domain, ==, domain);
	g_assert_cmpuint(end, ==, want_end);
	hm_address_clear(&a);
	/* The same without the optional outputs. */
	g_assert_cmpint(hm_path_parse(text, flags, &a, NULL, NULL, NULL), ==, 0);
	hm_address_clear(&a);
}

static void
check_path_bad(const char *text, guint flags, const char *needle)
{
	g_autoptr(GError) err = NULL;
	HmAddress a;
	gboolean is_null = TRUE;
	gsize end = 12345;

	if (hm_path_parse(text, flags, &a, &is_null, &end, &err) == 0)
		g_error("path \"%s\" accepted", text);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	g_assert_null(a.local);
	g_assert_null(a.domain);
	g_assert_false(is_null);
	g_assert_cmpuint(end, ==, 12345);
	if (needle != NULL && strstr(err->message, needle) == NULL)
		g_error("\"%s\": message \"%s\" lacks \"%s\"", text, err->message, needle);
}

static void
test_path(void)
{
	check_path("<user@x>", 0, "user", "x", 8);
	check_path("<User@Example.COM> SIZE=1000 BODY=8BITMIME", 0, "User", "example.com", 18);
	check_path("<user@x>junk", 0, "user", "x", 8);
	check_path("<\"a>b\"@x>", 0, "a>b", "x", 9);
	check_path("<\"a\\\"> b\"@x> X=1", 0, "a\"> b", "x", 12);
	check_path("<jörg@bücher.example>", U, "jörg", "bücher.example",
	           strlen("<jörg@bücher.example>"));
	check_path("<postmaster>", ND, "postmaster", NULL, 12);
	check_path("<a@[IPv6:::1]>", 0, "a", "[IPv6:::1]", 14);
	check_path_bad("user@x", 0, "start with '<'");
	check_path_bad("", 0, "start with '<'");
	check_path_bad(" <user@x>", 0, "start with '<'");
	check_path_bad("<user@x", 0, "missing '>'");
	check_path_bad("<", 0, "missing '>'");
	check_path_bad("<\"a>b@x", 0, "missing '>'");
	check_path_bad("<\"a\\", 0, "missing '>'");
	check_path_bad("< user@x>", 0, "bad character in local part");
	check_path_bad("<user@x >", 0, "bad character in domain");
	check_path_bad("<user @x>", 0, "bad character in local part");
	check_path_bad("<user@x.>", 0, "ends with a dot");
	check_path_bad("<postmaster>", 0, "missing @domain");
	check_path_bad("<jörg@x>", 0, "SMTPUTF8");
	check_path_bad("<<user@x>>", 0, "bad character in local part");
}

static void
test_null_path(void)
{
	HmAddress a;
	gboolean is_null = FALSE;
	gsize end = 0;
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_path_parse("<>", 0, &a, &is_null, &end, NULL), ==, 0);
	g_assert_true(is_null);
	g_assert_cmpuint(end, ==, 2);
	g_assert_null(a.local);
	g_assert_null(a.domain);
	is_null = FALSE;
	g_assert_cmpint(hm_path_parse("<> SIZE=10", 0, &a, &is_null, &end, NULL), ==, 0);
	g_assert_true(is_null);
	g_assert_cmpuint(end, ==, 2);
	g_assert_cmpint(hm_path_parse("<>", 0, &a, NULL, &end, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	check_path_bad("< >", 0, "bad character in local part");
}

static void
test_source_route(void)
{
	check_path("<@a.example,@b.example:user@dom>", 0, "user", "dom", 32);
	check_path("<@a.example:user@dom> X=Y", 0, "user", "dom", 21);
	check_path("<@A:\"x y\"@dom>", 0, "x y", "dom", 14);
	check_path_bad("<@:user@dom>", 0, "empty label");
	check_path_bad("<@a.example,user@dom>", 0, "bad source route");
	check_path_bad("<@a.example,:user@dom>", 0, "bad source route");
	check_path_bad("<@a..b:user@dom>", 0, "empty label");
	check_path_bad("<@a.example;@b:user@dom>", 0, "bad character in domain");
	check_path_bad("<@a.example>", 0, "bad source route");
	check_path_bad("<@a.example", 0, "bad source route");
	check_path_bad("<@[192.0.2.1]:user@dom>", 0, "bad character in domain");
	check_path_bad("<@a.example:>", 0, "empty local part");
	check_path_bad("<@a.example:@b:user@dom>", 0, "empty local part");
	check_path_bad("<@-a:user@dom>", 0, "hyphen");
}

static void
test_path_length(void)
{
	g_autofree char *l64 = g_strnfill(64, 'a');
	g_autofree char *d189 = domain_of(189);
	g_autofree char *d190 = domain_of(190);
	g_autofree char *p256 = g_strdup_printf("<%s@%s> SIZE=1", l64, d189);
	g_autofree char *p257 = g_strdup_printf("<%s@%s>", l64, d190);

	check_path(p256, 0, l64, d189, 256);
	check_path_bad(p257, 0, "path longer than 256");
}

/* What hm_address_parse() takes fits a path: homemail-sendmail checks its
 * recipients with it, and must not take what the SMTP server's RCPT
 * (hm_path_parse()) would refuse. */
static void
test_mailbox_length(void)
{
	g_autofree char *l60 = g_strnfill(60, 'a');
	g_autofree char *d193 = domain_of(193);
	g_autofree char *d194 = domain_of(194);
	g_autofree char *a254 = g_strdup_printf("%s@%s", l60, d193);
	g_autofree char *a255 = g_strdup_printf("%s@%s", l60, d194);
	g_autofree char *p254 = g_strdup_printf("<%s>", a254);
	g_autofree char *p255 = g_strdup_printf("<%s>", a255);

	g_assert_cmpuint(strlen(a254), ==, 254);
	check_ok(a254, 0, l60, d193);
	check_path(p254, 0, l60, d193, 256);
	check_bad(a255, 0, "address longer than 254 octets");
	check_path_bad(p255, 0, "longer than");
	/* Quotes count: the limit is on the address as written. */
	g_free(a255);
	a255 = g_strdup_printf("\"%.*s\"@%s", 58, l60, d194);
	g_assert_cmpuint(strlen(a255), ==, 255);
	check_bad(a255, 0, "address longer than 254 octets");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/address/dot-string", test_dot_string);
	g_test_add_func("/address/quoted", test_quoted);
	g_test_add_func("/address/local-length", test_local_length);
	g_test_add_func("/address/domain-length", test_domain_length);
	g_test_add_func("/address/mailbox-length", test_mailbox_length);
	g_test_add_func("/address/domain-labels", test_domain_labels);
	g_test_add_func("/address/literals", test_literals);
	g_test_add_func("/address/utf8", test_utf8);
	g_test_add_func("/address/no-domain", test_no_domain);
	g_test_add_func("/address/nul", test_nul);
	g_test_add_func("/address/format", test_format);
	g_test_add_func("/address/path", test_path);
	g_test_add_func("/address/null-path", test_null_path);
	g_test_add_func("/address/source-route", test_source_route);
	g_test_add_func("/address/path-length", test_path_length);
	return g_test_run();
}
