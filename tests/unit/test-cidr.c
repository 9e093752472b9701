#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <glib.h>

#include "lib/cidr.h"
#include "lib/error.h"

static void
check_canon(const char *text, const char *canon)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *s = NULL;
	HmCidr r;

	g_assert_cmpint(hm_cidr_parse(text, &r, &err), ==, 0);
	g_assert_no_error(err);
	s = hm_cidr_to_string(&r);
	g_assert_cmpstr(s, ==, canon);
}

static void
check_bad(const char *text, const char *needle)
{
	g_autoptr(GError) err = NULL;
	HmCidr r;

	if (g_test_verbose())
		g_test_message("bad: %s", text);
	g_assert_cmpint(hm_cidr_parse(text, &r, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	if (needle != NULL && strstr(err->message, needle) == NULL)
		g_error("%s: message \"%s\" lacks \"%s\"", text, err->message, needle);
}

static void
test_parse_valid(void)
{
	check_canon("127.0.0.1/32", "127.0.0.1/32");
	check_canon("127.0.0.1", "127.0.0.1/32");
	check_canon("192.168.1.0/24", "192.168.1.0/24");
	check_canon("10.0.0.0/8", "10.0.0.0/8");
	check_canon("0.0.0.0/0", "0.0.0.0/0");
	check_canon("192.168.1.128/25", "192.168.1.128/25");
	check_canon("::1/128", "::1/128");
	check_canon("::1", "::1/128");
	check_canon("::/0", "::/0");
	check_canon("2001:DB8::/32", "2001:db8::/32");
	check_canon("fe80::/10", "fe80::/10");
	check_canon("::ffff:192.0.2.1", "::ffff:192.0.2.1/128");
	check_canon("10.0.0.0/08", "10.0.0.0/8");
}

static void
test_parse_invalid(void)
{
	check_bad("", "empty");
	check_bad("/24", "empty");
	check_bad("192.168.1.0/", "prefix");
	check_bad("192.168.1.0/33", "prefix");
	check_bad("::/129", "prefix");
	check_bad("10.0.0.0/-1", "prefix");
	check_bad("10.0.0.0/+8", "prefix");
	check_bad("10.0.0.0/ 8", "prefix");
	check_bad("10.0.0.0/8 ", "prefix");
	check_bad("10.0.0.0/8/8", "prefix");
	check_bad("10.0.0.0/4294967304", "prefix");
	check_bad("10.1", "not an IPv4");
	check_bad("10.0.0.256", "not an IPv4");
	check_bad("010.0.0.1", "not an IPv4");
	check_bad(" 10.0.0.1", "not an IPv4");
	check_bad("10.0.0.1 ", "not an IPv4");
	check_bad("[::1]", "not an IPv4");
	check_bad("fe80::1%eth0", "not an IPv4");
	check_bad("localhost", "not an IPv4");
	check_bad("1:2:3:4:5:6:7:8:9", "not an IPv4");
	check_bad("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee", "too long");
}

static void
test_host_bits(void)
{
	check_bad("192.168.1.5/24", "did you mean 192.168.1.0/24");
	check_bad("192.168.1.1/31", "did you mean 192.168.1.0/31");
	check_bad("10.0.0.1/0", "did you mean 0.0.0.0/0");
	check_bad("2001:db8::1/64", "did you mean 2001:db8::/64");
	check_bad("fe80::/8", "did you mean fe00::/8");
	check_bad("::1/127", "did you mean ::/127");
}

static struct sockaddr_in
sin_make(const char *a)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	g_assert_cmpint(inet_pton(AF_INET, a, &sin.sin_addr), ==, 1);
	return sin;
}

static struct sockaddr_in6
sin6_make(const char *a)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	g_assert_cmpint(inet_pton(AF_INET6, a, &sin6.sin6_addr), ==, 1);
	return sin6;
}

static gboolean
match(const char *range, const char *addr)
{
	HmCidr r;

	g_assert_cmpint(hm_cidr_parse(range, &r, NULL), ==, 0);
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 sin6 = sin6_make(addr);
		return hm_cidr_match(&r, (struct sockaddr *)&sin6);
	} else {
		struct sockaddr_in sin = sin_make(addr);
		return hm_cidr_match(&r, (struct sockaddr *)&sin);
	}
}

static void
test_match(void)
{
	g_assert_true(match("192.168.1.0/24", "192.168.1.0"));
	g_assert_true(match("192.168.1.0/24", "192.168.1.255"));
	g_assert_false(match("192.168.1.0/24", "192.168.2.1"));
	g_assert_false(match("192.168.1.0/24", "192.168.0.255"));
	g_assert_true(match("192.168.1.128/25", "192.168.1.200"));
	g_assert_false(match("192.168.1.128/25", "192.168.1.127"));
	g_assert_true(match("127.0.0.1", "127.0.0.1"));
	g_assert_false(match("127.0.0.1", "127.0.0.2"));
	g_assert_true(match("0.0.0.0/0", "203.0.113.9"));
	g_assert_true(match("::1/128", "::1"));
	g_assert_false(match("::1/128", "::2"));
	g_assert_true(match("2001:db8::/32", "2001:db8:ffff::1"));
	g_assert_false(match("2001:db8::/32", "2001:db9::1"));
	g_assert_true(match("fe80::/10", "febf::1"));
	g_assert_false(match("fe80::/10", "fec0::1"));
	g_assert_true(match("::/0", "2001:db8::1"));
	/* Families do not mix, except for IPv4-mapped peers. */
	g_assert_false(match("::/0", "10.0.0.1"));
	g_assert_false(match("0.0.0.0/0", "2001:db8::1"));
	g_assert_true(match("127.0.0.1/32", "::ffff:127.0.0.1"));
	g_assert_true(match("192.168.1.0/24", "::ffff:192.168.1.77"));
	g_assert_false(match("192.168.1.0/24", "::ffff:192.168.2.77"));
	g_assert_false(match("127.0.0.1/32", "::127.0.0.1"));
	g_assert_false(match("0.0.0.0/0", "::ffff:0:0:1"));
	g_assert_true(match("::ffff:0.0.0.0/96", "::ffff:10.1.2.3"));
}

static void
test_match_other_family(void)
{
	struct sockaddr sa;
	HmCidr r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	g_assert_cmpint(hm_cidr_parse("0.0.0.0/0", &r, NULL), ==, 0);
	g_assert_false(hm_cidr_match(&r, &sa));
	g_assert_false(hm_cidr_match(&r, NULL));
}

static void
test_list_match(void)
{
	static const char *const texts[] = { "127.0.0.1/32", "::1/128", "192.168.1.0/24" };
	HmCidr ranges[G_N_ELEMENTS(texts)];
	struct sockaddr_in a = sin_make("192.168.1.9"), b = sin_make("10.0.0.1");
	struct sockaddr_in6 c = sin6_make("::1"), d = sin6_make("::ffff:127.0.0.1");
	struct sockaddr_in6 e = sin6_make("2001:db8::1");

	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++)
		g_assert_cmpint(hm_cidr_parse(texts[i], &ranges[i], NULL), ==, 0);
	g_assert_true(hm_cidr_list_match(ranges, 3, (struct sockaddr *)&a));
	g_assert_false(hm_cidr_list_match(ranges, 3, (struct sockaddr *)&b));
	g_assert_true(hm_cidr_list_match(ranges, 3, (struct sockaddr *)&c));
	g_assert_true(hm_cidr_list_match(ranges, 3, (struct sockaddr *)&d));
	g_assert_false(hm_cidr_list_match(ranges, 3, (struct sockaddr *)&e));
	g_assert_false(hm_cidr_list_match(ranges, 0, (struct sockaddr *)&a));
	g_assert_false(hm_cidr_list_match(NULL, 0, (struct sockaddr *)&a));
}

/* Every prefix length: the first and last address of the range match, the
 * first address past it does not. */
static void
test_every_prefix(void)
{
	for (guint p = 0; p <= 32; p++) {
		g_autofree char *text = g_strdup_printf("0.0.0.0/%u", p);
		HmCidr r;
		struct sockaddr_in in = sin_make("0.0.0.0"), out = sin_make("0.0.0.0");

		g_assert_cmpint(hm_cidr_parse(text, &r, NULL), ==, 0);
		g_assert_true(hm_cidr_match(&r, (struct sockaddr *)&in));
		in.sin_addr.s_addr = htonl(p == 0 ? 0xffffffffu : (1u << (32 - p)) - 1);
		g_assert_true(hm_cidr_match(&r, (struct sockaddr *)&in));
		if (p > 0) {
			out.sin_addr.s_addr = htonl(1u << (32 - p));
			g_assert_false(hm_cidr_match(&r, (struct sockaddr *)&out));
		}
	}
	for (guint p = 1; p <= 128; p++) {
		g_autofree char *text = g_strdup_printf("::/%u", p);
		HmCidr r;
		struct sockaddr_in6 out = sin6_make("::");

		g_assert_cmpint(hm_cidr_parse(text, &r, NULL), ==, 0);
		out.sin6_addr.s6_addr[(p - 1) / 8] = (guint8)(0x80 >> ((p - 1) % 8));
		g_assert_false(hm_cidr_match(&r, (struct sockaddr *)&out));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cidr/parse-valid", test_parse_valid);
	g_test_add_func("/cidr/parse-invalid", test_parse_invalid);
	g_test_add_func("/cidr/host-bits", test_host_bits);
	g_test_add_func("/cidr/match", test_match);
	g_test_add_func("/cidr/match-other-family", test_match_other_family);
	g_test_add_func("/cidr/list-match", test_list_match);
	g_test_add_func("/cidr/every-prefix", test_every_prefix);
	return g_test_run();
}
