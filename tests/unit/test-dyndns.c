/* Unit tests of dyndns/: address classification and check-IP pages, the
 * dyndns2 answer parser, the update policy and the cache file. */
#include <config.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "dyndns/cache.h"
#include "dyndns/detect.h"
#include "dyndns/dyndns2.h"
#include "dyndns/ipaddr.h"
#include "dyndns/policy.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "tests/unit/testutil.h"

static HmIpKind
kind_of(const char *text)
{
	HmIpAddr a;

	g_assert_true(hm_ip_parse(text, &a));
	return hm_ip_kind(&a);
}

static void
test_kinds(void)
{
	g_assert_cmpint(kind_of("8.8.8.8"), ==, HM_IP_GLOBAL);
	/* IPv6 benchmarking, as 198.18/15; 6to4 judged by its IPv4 address. */
	g_assert_cmpint(kind_of("198.18.0.1"), ==, HM_IP_RESERVED);
	g_assert_cmpint(kind_of("2001:2::1"), ==, HM_IP_RESERVED);
	g_assert_cmpint(kind_of("2001:2:0:ffff::1"), ==, HM_IP_RESERVED);
	g_assert_cmpint(kind_of("2001:2:1::1"), ==, HM_IP_GLOBAL);
	g_assert_cmpint(kind_of("2002:a00:1::1"), ==, HM_IP_PRIVATE);
	g_assert_cmpint(kind_of("2002:7f00:1::1"), ==, HM_IP_LOOPBACK);
	g_assert_cmpint(kind_of("2002:6440:1::1"), ==, HM_IP_CGNAT);
	g_assert_cmpint(kind_of("2002:808:808::1"), ==, HM_IP_GLOBAL);
	g_assert_cmpint(kind_of("192.168.1.5"), ==, HM_IP_PRIVATE);
	g_assert_cmpint(kind_of("10.0.0.1"), ==, HM_IP_PRIVATE);
	g_assert_cmpint(kind_of("172.31.255.255"), ==, HM_IP_PRIVATE);
	g_assert_cmpint(kind_of("172.32.0.1"), ==, HM_IP_GLOBAL);
	g_assert_cmpint(kind_of("100.64.0.1"), ==, HM_IP_CGNAT);
	g_assert_cmpint(kind_of("100.127.255.255"), ==, HM_IP_CGNAT);
	g_assert_cmpint(kind_of("100.128.0.1"), ==, HM_IP_GLOBAL);
	g_assert_cmpint(kind_of("127.0.0.1"), ==, HM_IP_LOOPBACK);
	g_assert_cmpint(kind_of("169.254.3.4"), ==, HM_IP_LINK_LOCAL);
	g_assert_cmpint(kind_of("203.0.113.7"), ==, HM_IP_DOCUMENTATION);
	g_assert_cmpint(kind_of("224.0.0.1"), ==, HM_IP_MULTICAST);
	g_assert_cmpint(kind_of("255.255.255.255"), ==, HM_IP_RESERVED);
	g_assert_cmpint(kind_of("0.0.0.0"), ==, HM_IP_UNSPECIFIED);
	g_assert_cmpint(kind_of("2a01:4f8::1"), ==, HM_IP_GLOBAL);
	g_assert_cmpint(kind_of("2001:db8::1"), ==, HM_IP_DOCUMENTATION);
	g_assert_cmpint(kind_of("fd00::1"), ==, HM_IP_PRIVATE);
	g_assert_cmpint(kind_of("fe80::1"), ==, HM_IP_LINK_LOCAL);
	g_assert_cmpint(kind_of("::1"), ==, HM_IP_LOOPBACK);
	g_assert_cmpint(kind_of("::ffff:8.8.8.8"), ==, HM_IP_RESERVED);
	g_assert_cmpint(kind_of("ff02::1"), ==, HM_IP_MULTICAST);
}

static void
check_page(const char *body, int family, const char *want)
{
	HmIpAddr a;
	const char *why = NULL;
	gboolean ok = hm_ip_from_page(body, family, &a, &why);

	if (want == NULL) {
		g_assert_false(ok);
		g_assert_nonnull(why);
		return;
	}
	g_assert_true(ok);
	g_autofree char *text = hm_ip_to_string(&a);
	g_assert_cmpstr(text, ==, want);
}

static void
test_pages(void)
{
	check_page("198.51.7.9\n", AF_INET, "198.51.7.9");
	check_page("<html><head><title>Current IP Check</title></head><body>Current IP Address: "
	           "81.2.69.160</body></html>\r\n", AF_INET, "81.2.69.160");
	check_page("2a01:4f8:1:2::3", AF_INET6, "2a01:4f8:1:2::3");
	check_page("<b>2a01:4f8:1:2::3</b> again 2a01:4f8:1:2::3", AF_INET6, "2a01:4f8:1:2::3");
	check_page("", AF_INET, NULL);
	check_page("<html>no address here, Apache/2.4.57</html>", AF_INET, NULL);
	check_page("81.2.69.160 or 81.2.69.161", AF_INET, NULL);
	check_page("x81.2.69.160", AF_INET, NULL);
	check_page("81.2.69.160", AF_INET6, NULL);
	check_page("999.2.69.160", AF_INET, NULL);
}

static void
parse(long status, const char *body, guint n, HmDynResult *res)
{
	memset(res, 0, n * sizeof(*res));
	hm_dyn_dyndns2_parse(status, body, "81.2.69.160", n, res);
}

static void
test_dyndns2(void)
{
	static const struct {
		const char *body;
		HmDynOutcome outcome;
	} one[] = {
		{ "good 81.2.69.160", HM_DYN_OK },  { "nochg 81.2.69.160\n", HM_DYN_OK },
		{ "badauth", HM_DYN_HOLD },         { "nohost", HM_DYN_HOLD },
		{ "notfqdn", HM_DYN_HOLD },         { "numhost", HM_DYN_HOLD },
		{ "abuse", HM_DYN_HOLD },           { "!donator", HM_DYN_HOLD },
		{ "badagent", HM_DYN_HOLD },        { "dnserr", HM_DYN_BACKOFF },
		{ "911", HM_DYN_BACKOFF },          { "<html>oops</html>", HM_DYN_BACKOFF },
		{ "good 127.0.0.1", HM_DYN_HOLD },  { "", HM_DYN_BACKOFF },
		{ "good", HM_DYN_OK },              { "good 081.2.69.160", HM_DYN_BACKOFF },
	};
	HmDynResult res[3];

	for (guint i = 0; i < G_N_ELEMENTS(one); i++) {
		parse(200, one[i].body, 1, res);
		g_assert_cmpint(res[0].outcome, ==, one[i].outcome);
		g_assert_nonnull(res[0].text);
		hm_dyn_result_clear(&res[0]);
	}
	parse(200, "good 81.2.69.160\r\nnohost\r\n", 3, res);
	g_assert_cmpint(res[0].outcome, ==, HM_DYN_OK);
	g_assert_cmpint(res[1].outcome, ==, HM_DYN_HOLD);
	g_assert_cmpstr(res[1].code, ==, "nohost");
	g_assert_cmpint(res[2].outcome, ==, HM_DYN_BACKOFF);
	for (guint i = 0; i < 3; i++)
		hm_dyn_result_clear(&res[i]);
	/* Another address echoed: not published, and the answer quoted. */
	parse(200, "good 93.184.216.34\x1b[2J", 1, res);
	g_assert_cmpint(res[0].outcome, ==, HM_DYN_BACKOFF);
	g_assert_cmpstr(res[0].text, ==, "the provider answered \"good 93.184.216.34?[2J\" "
	                                 "to an update to 81.2.69.160");
	hm_dyn_result_clear(&res[0]);
	parse(200, "nochg 10.0.0.1", 1, res);
	g_assert_cmpint(res[0].outcome, ==, HM_DYN_BACKOFF);
	hm_dyn_result_clear(&res[0]);
	memset(res, 0, sizeof(res[0]));
	hm_dyn_dyndns2_parse(200, "good 2001:DB8::0:1", "2001:db8::1", 1, res);
	g_assert_cmpint(res[0].outcome, ==, HM_DYN_OK);
	hm_dyn_result_clear(&res[0]);
	parse(401, "", 1, res);
	g_assert_cmpint(res[0].outcome, ==, HM_DYN_HOLD);
	hm_dyn_result_clear(&res[0]);
	parse(503, "good 81.2.69.160", 1, res);
	g_assert_cmpint(res[0].outcome, ==, HM_DYN_BACKOFF);
	hm_dyn_result_clear(&res[0]);
}

static void
answer(HmDynCache *c, HmDynOutcome o, const char *addr, const char *cfg, gint64 now)
{
	HmDynResult r = { 0 };

	hm_dyn_result_set(&r, o, "x", "answer");
	hm_dyn_note_result(c, addr, cfg, &r, now);
	hm_dyn_result_clear(&r);
}

static void
test_policy(void)
{
	HmDynCache c = { 0 };
	gint64 t = 1800000000;

	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.160", "cfg", t, 25, FALSE), ==, HM_DYN_SEND);
	answer(&c, HM_DYN_OK, "81.2.69.160", "cfg", t);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.160", "cfg", t + 300, 25, FALSE), ==,
	                HM_DYN_SKIP_SAME);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.160", "cfg", t + 300, 25, TRUE), ==,
	                HM_DYN_SEND);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.160", "cfg", t + 25 * 86400, 25, FALSE), ==,
	                HM_DYN_SEND);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.160", "cfg", t - 10, 25, FALSE), ==,
	                HM_DYN_SEND);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.161", "cfg", t + 300, 25, FALSE), ==,
	                HM_DYN_SEND);

	/* 911: 30 minutes, then growing; an OK resets it. */
	answer(&c, HM_DYN_BACKOFF, "81.2.69.161", "cfg", t);
	g_assert_cmpuint(c.backoff_s, ==, HM_DYN_BACKOFF_FIRST_S);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.161", "cfg", t + 1799, 25, FALSE), ==,
	                HM_DYN_SKIP_BACKOFF);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.161", "cfg", t + 1800, 25, FALSE), ==,
	                HM_DYN_SEND);
	answer(&c, HM_DYN_BACKOFF, "81.2.69.161", "cfg", t + 1800);
	g_assert_cmpuint(c.backoff_s, ==, 2 * HM_DYN_BACKOFF_FIRST_S);
	for (guint i = 0; i < 10; i++)
		answer(&c, HM_DYN_BACKOFF, "81.2.69.161", "cfg", t);
	g_assert_cmpuint(c.backoff_s, ==, HM_DYN_BACKOFF_MAX_S);
	answer(&c, HM_DYN_RETRY, "81.2.69.161", "cfg", t);
	g_assert_cmpuint(c.backoff_s, ==, HM_DYN_BACKOFF_MAX_S);
	answer(&c, HM_DYN_OK, "81.2.69.161", "cfg", t);
	g_assert_cmpuint(c.backoff_s, ==, 0);
	g_assert_cmpstr(c.address, ==, "81.2.69.161");

	/* Set while the clock was 20 days ahead: over once the clock is right. */
	answer(&c, HM_DYN_BACKOFF, "81.2.69.161", "cfg", t + 20 * 86400);
	g_assert_cmpint(hm_dyn_backoff_left(&c, t + 20 * 86400 + 1), ==,
	                HM_DYN_BACKOFF_FIRST_S - 1);
	g_assert_cmpint(hm_dyn_backoff_left(&c, t), ==, 0);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.163", "cfg", t, 25, FALSE), ==, HM_DYN_SEND);
	answer(&c, HM_DYN_OK, "81.2.69.161", "cfg", t);

	/* badauth: silent until the config changes. */
	answer(&c, HM_DYN_HOLD, "81.2.69.162", "cfg", t);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.162", "cfg", t + 86400 * 100, 25, FALSE), ==,
	                HM_DYN_SKIP_HELD);
	g_assert_cmpint(hm_dyn_decide(&c, "81.2.69.162", "cfg2", t + 300, 25, FALSE), ==,
	                HM_DYN_SEND);
	g_assert_cmpstr(c.address, ==, "81.2.69.161");
	hm_dyn_cache_clear(&c);
}

static void
test_fingerprint(void)
{
	HmDnsRecordConf r = { .provider = "dyndns2", .server = "https://s", .hostname = "h.example",
	                      .user = "u" };
	g_autofree char *a = hm_dyn_config_fingerprint(&r, "pw");
	g_autofree char *b = hm_dyn_config_fingerprint(&r, "pw2");
	g_autofree char *c = hm_dyn_config_fingerprint(&r, NULL);
	g_autofree char *d = NULL;

	g_assert_cmpstr(a, !=, b);
	g_assert_cmpstr(a, !=, c);
	r.user = "up";
	d = hm_dyn_config_fingerprint(&r, "w");
	g_assert_cmpstr(a, !=, d);
	g_assert_null(strstr(a, "pw"));
}

static void
test_cache(void)
{
	g_autofree char *dir = hm_test_tmpdir("dyncache");
	HmDnsRecordConf r = { .provider = "dyndns2", .hostname = "box.dyn.example" };
	g_autofree char *state = g_build_filename(dir, "new", "state", NULL);
	g_autofree char *path = hm_dyn_cache_path(state, &r, AF_INET6);
	g_autofree char *elsewhere = NULL, *want = NULL;
	g_autoptr(GError) err = NULL;
	HmDynCache c = { 0 }, back;
	struct stat st;

	g_assert_true(g_str_has_suffix(path, "/dyndns/box.dyn.example-dyndns2-AAAA"));
	g_assert_cmpint(hm_dyn_cache_load(path, &back, &err), ==, 0);
	g_assert_null(back.address);
	answer(&c, HM_DYN_OK, "2a01:4f8::1", "cfg", 1800000000);
	answer(&c, HM_DYN_BACKOFF, "2a01:4f8::2", "cfg", 1800000100);
	g_free(c.text);
	c.text = g_strdup("two\nlines");
	g_assert_cmpint(hm_dyn_cache_save(path, &c, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpint(hm_dyn_cache_load(path, &back, &err), ==, 0);
	g_assert_cmpstr(back.address, ==, "2a01:4f8::1");
	g_assert_cmpint(back.updated, ==, 1800000000);
	g_assert_cmpstr(back.sent, ==, "2a01:4f8::2");
	g_assert_cmpint(back.outcome, ==, HM_DYN_BACKOFF);
	g_assert_cmpuint(back.backoff_s, ==, HM_DYN_BACKOFF_FIRST_S);
	g_assert_cmpint(back.backoff_until, ==, 1800000100 + HM_DYN_BACKOFF_FIRST_S);
	g_assert_cmpstr(back.text, ==, "two?lines");
	hm_dyn_cache_clear(&back);
	hm_dyn_cache_clear(&c);

	/* A link where the cache should be (to a good cache, or dangling:
	 * not "no cache yet") is an error, not followed; a FIFO too, and not
	 * a hang. */
	elsewhere = g_build_filename(dir, "elsewhere", NULL);
	g_assert_cmpint(rename(path, elsewhere), ==, 0);
	g_assert_cmpint(symlink(elsewhere, path), ==, 0);
	g_assert_cmpint(hm_dyn_cache_load(path, &back, &err), ==, -1);
	want = g_strdup_printf("%s is not a regular file (a symbolic link, not followed)", path);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_cmpstr(err->message, ==, want);
	g_assert_null(back.address);
	g_clear_error(&err);
	g_assert_cmpint(unlink(path), ==, 0);
	g_assert_cmpint(symlink("/nonexistent/cache", path), ==, 0);
	g_assert_cmpint(hm_dyn_cache_load(path, &back, &err), ==, -1);
	g_assert_cmpstr(err->message, ==, want);
	g_clear_error(&err);
	g_assert_cmpint(unlink(path), ==, 0);
	hm_test_mkfifo(path);
	g_assert_cmpint(hm_dyn_cache_load(path, &back, &err), ==, -1);
	g_assert_nonnull(err);
	g_assert_true(g_str_has_suffix(err->message, " is not a regular file (a FIFO)"));
	hm_test_remove_tree(dir);
}

/* Lines as the kernel writes them; only a stable global address of the
 * named interface counts. */
static gboolean
inet6_line(const char *text, const char *ifname, char out[INET6_ADDRSTRLEN])
{
	g_autofree char *line = g_strdup(text);
	HmIpAddr a;

	if (!hm_dyn_if_inet6_line(line, ifname, &a))
		return FALSE;
	g_assert_nonnull(inet_ntop(AF_INET6, &a.u.v6, out, INET6_ADDRSTRLEN));
	return TRUE;
}

static void
test_if_inet6(void)
{
	char s[INET6_ADDRSTRLEN];

	g_assert_true(inet6_line("2a0104f8000000000000000000000007 02 40 00 80     eth0\n", "eth0", s));
	g_assert_cmpstr(s, ==, "2a01:4f8::7");
	g_assert_false(inet6_line("2a0104f8000000000000000000000007 02 40 00 80     eth0\n", "eth1", s));
	/* the documentation prefix is global in form, never in use */
	g_assert_false(inet6_line("20010db8000000000000000000000001 02 40 00 80 eth0\n", "eth0", s));
	/* temporary (0x01), deprecated (0x20), tentative (0x40) */
	g_assert_false(inet6_line("2a0104f8000000000000000000000007 02 40 00 81 eth0\n", "eth0", s));
	g_assert_false(inet6_line("2a0104f8000000000000000000000007 02 40 00 a0 eth0\n", "eth0", s));
	g_assert_false(inet6_line("2a0104f8000000000000000000000007 02 40 00 c0 eth0\n", "eth0", s));
	/* link-local, ULA, loopback */
	g_assert_false(inet6_line("fe8000000000000000fc00fffe000001 04 40 20 80 eth0\n", "eth0", s));
	g_assert_false(inet6_line("fd000000000000000000000000000002 04 40 00 82 eth0\n", "eth0", s));
	g_assert_false(inet6_line("00000000000000000000000000000001 01 80 10 80 lo\n", "lo", s));
	/* garbage */
	g_assert_false(inet6_line("2a0104f800000000000000000000000z 02 40 00 80 eth0\n", "eth0", s));
	g_assert_false(inet6_line("2a0104f80000000000000000000007 02 40 00 80 eth0\n", "eth0", s));
	g_assert_false(inet6_line("2a0104f8000000000000000000000007 02 40 00 eth0\n", "eth0", s));
	g_assert_false(inet6_line("2a0104f8000000000000000000000007 02 40 00 80 eth0 x\n", "eth0", s));
	g_assert_false(inet6_line("", "eth0", s));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dyndns/ip-kinds", test_kinds);
	g_test_add_func("/dyndns/checkip-pages", test_pages);
	g_test_add_func("/dyndns/dyndns2-answers", test_dyndns2);
	g_test_add_func("/dyndns/policy", test_policy);
	g_test_add_func("/dyndns/fingerprint", test_fingerprint);
	g_test_add_func("/dyndns/cache", test_cache);
	g_test_add_func("/dyndns/if-inet6", test_if_inet6);
	return g_test_run();
}
