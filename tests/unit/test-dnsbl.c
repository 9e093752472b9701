/* DNS blocklist checks (relay/dnsbl.c): query names, answer classes, the
 * TXT sanitiser and the reply readers. Real queries against BIND 9 are in
 * tests/integration/test_dnsbl.py. */
#include <config.h>

#include <arpa/inet.h>
#include <string.h>

#include "relay/dnsbl-private.h"
#include "relay/dnsbl.h"

static void
check_name(const char *ip, const char *zone, const char *want)
{
	g_autofree char *got = relay_dnsbl_query_name(ip, zone);

	g_assert_cmpstr(got, ==, want);
}

static void
test_query_name_v4(void)
{
	check_name("1.2.3.4", "zen.spamhaus.org", "4.3.2.1.zen.spamhaus.org.");
	check_name("1.2.3.4", "zen.spamhaus.org.", "4.3.2.1.zen.spamhaus.org.");
	check_name("127.0.0.2", "bl.test", "2.0.0.127.bl.test.");
	check_name("255.0.10.192", "x", "192.10.0.255.x.");
	/* A dual-stack listener's view of an IPv4 client. */
	check_name("::ffff:192.0.2.1", "bl.test", "1.2.0.192.bl.test.");
	check_name("1.2.3", "bl.test", NULL);
	check_name("1.2.3.4.5", "bl.test", NULL);
	check_name("01.2.3.4", "bl.test", NULL);
	check_name(" 1.2.3.4", "bl.test", NULL);
	check_name("host.example", "bl.test", NULL);
	check_name("", "bl.test", NULL);
	check_name(NULL, "bl.test", NULL);
	check_name("1.2.3.4", "", NULL);
	check_name("1.2.3.4", ".", NULL);
	check_name("1.2.3.4", ".bl.test", NULL);
	check_name("1.2.3.4", NULL, NULL);
}

static void
test_query_name_v6(void)
{
	/* RFC 5782 2.4's example. */
	check_name("2001:db8:1:2:3:4:567:89ab", "ugly.example.com",
	           "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2."
	           "ugly.example.com.");
	check_name("2001:db8::1", "bl.test",
	           "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test.");
	check_name("::1", "bl.test",
	           "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test.");
	check_name("2001:DB8::A", "bl.test",
	           "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test.");
	check_name("2001:db8::1%eth0", "bl.test", NULL);
	check_name("[2001:db8::1]", "bl.test", NULL);
	check_name("2001:db8:::1", "bl.test", NULL);
}

static void
test_query_name_length(void)
{
	/* 64 octets of nibbles + 189 of zone = 253, the most a name may hold. */
	g_autofree char *zone189 = g_strnfill(189, 'a');
	g_autofree char *zone190 = g_strnfill(190, 'a');
	g_autofree char *name = relay_dnsbl_query_name("2001:db8::1", zone189);
	g_autofree char *none = relay_dnsbl_query_name("2001:db8::1", zone190);

	g_assert_nonnull(name);
	g_assert_cmpuint(strlen(name), ==, 254);
	g_assert_null(none);
}

static RelayDnsblVerdict
classify(const char *ip)
{
	struct in_addr a;

	g_assert_cmpint(inet_pton(AF_INET, ip, &a), ==, 1);
	return relay_dnsbl_classify(&a);
}

static void
test_classify(void)
{
	g_assert_cmpint(classify("127.0.0.2"), ==, RELAY_DNSBL_LISTED);
	g_assert_cmpint(classify("127.0.0.4"), ==, RELAY_DNSBL_LISTED);
	g_assert_cmpint(classify("127.0.1.2"), ==, RELAY_DNSBL_LISTED);
	g_assert_cmpint(classify("127.255.254.255"), ==, RELAY_DNSBL_LISTED);
	g_assert_cmpint(classify("127.255.255.0"), ==, RELAY_DNSBL_REFUSED);
	g_assert_cmpint(classify("127.255.255.252"), ==, RELAY_DNSBL_REFUSED);
	g_assert_cmpint(classify("127.255.255.254"), ==, RELAY_DNSBL_REFUSED);
	g_assert_cmpint(classify("127.255.255.255"), ==, RELAY_DNSBL_REFUSED);
	g_assert_cmpint(classify("127.0.0.1"), ==, RELAY_DNSBL_ERROR);
	g_assert_cmpint(classify("127.0.0.0"), ==, RELAY_DNSBL_ERROR);
	g_assert_cmpint(classify("10.0.0.1"), ==, RELAY_DNSBL_ERROR);
	g_assert_cmpint(classify("128.0.0.2"), ==, RELAY_DNSBL_ERROR);
	g_assert_cmpint(classify("126.255.255.255"), ==, RELAY_DNSBL_ERROR);
	g_assert_cmpint(classify("0.0.0.0"), ==, RELAY_DNSBL_ERROR);
	g_assert_cmpstr(relay_dnsbl_verdict_name(RELAY_DNSBL_CLEAN), ==, "clean");
	g_assert_cmpstr(relay_dnsbl_verdict_name(RELAY_DNSBL_LISTED), ==, "listed");
	g_assert_cmpstr(relay_dnsbl_verdict_name(RELAY_DNSBL_REFUSED), ==, "refused");
	g_assert_cmpstr(relay_dnsbl_verdict_name(RELAY_DNSBL_ERROR), ==, "error");
}

static void
check_sanitize(const char *in, const char *want)
{
	g_autofree char *got = relay_dnsbl_sanitize(in);

	g_assert_cmpstr(got, ==, want);
}

static void
test_sanitize(void)
{
	g_autofree char *big = g_strnfill(1000, 'x');
	g_autofree char *cut = NULL;
	g_autofree char *ys = g_strnfill(196, 'y');
	g_autofree char *spaced = g_strconcat(ys, " zzzz", NULL);
	g_autofree char *spaced_cut = relay_dnsbl_sanitize(spaced);

	check_sanitize("Listed: see https://bl.test/q?ip=1.2.3.4",
	               "Listed: see https://bl.test/q?ip=1.2.3.4");
	check_sanitize("a\r\n250 OK\r\nb", "a 250 OK b");
	check_sanitize("\r\n.\r\n", ".");
	check_sanitize("  lead and trail \t ", "lead and trail");
	check_sanitize("bell\a esc\x1b[31m del\x7f", "bell esc [31m del");
	check_sanitize("caf\xc3\xa9 na\xefve", "caf na ve");
	check_sanitize("100% %s %n", "100% %s %n");
	check_sanitize("", "");
	check_sanitize("\r\n\t", "");
	check_sanitize(NULL, "");
	cut = relay_dnsbl_sanitize(big);
	g_assert_cmpuint(strlen(cut), ==, RELAY_DNSBL_REASON_MAX);
	g_assert_true(g_str_has_suffix(cut, "xxx..."));
	/* A cut at a space leaves no space before the ellipsis. */
	g_assert_cmpuint(strlen(spaced_cut), <=, RELAY_DNSBL_REASON_MAX);
	g_assert_true(g_str_has_suffix(spaced_cut, "y..."));
	/* Exactly the maximum is kept whole. */
	g_autofree char *exact = g_strnfill(RELAY_DNSBL_REASON_MAX, 'e');
	check_sanitize(exact, exact);
}

/* A response to qname/type with rcode and the answer records rrs. */
static ldns_pkt *
make_reply(const char *qname, ldns_rr_type type, ldns_pkt_rcode rcode, const char *const *rrs)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), type, LDNS_RR_CLASS_IN, 0);

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (gsize i = 0; rrs != NULL && rrs[i] != NULL; i++) {
		ldns_rr *rr = NULL;

		g_assert_cmpint(ldns_rr_new_frm_str(&rr, rrs[i], 60, NULL, NULL), ==, LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	return p;
}

static RelayDnsblVerdict
a_reply(const char *asked, const char *answered, ldns_pkt_rcode rcode, const char *const *rrs,
        char **detail)
{
	ldns_pkt *p = make_reply(answered, LDNS_RR_TYPE_A, rcode, rrs);
	ldns_rdf *q = ldns_dname_new_frm_str(asked);
	RelayDnsblVerdict v = relay_dnsbl_a_reply(p, q, detail);

	ldns_pkt_free(p);
	ldns_rdf_deep_free(q);
	return v;
}

static void
test_a_reply(void)
{
	const char *n = "2.0.0.127.bl.test.";
	const char *const listed[] = { "2.0.0.127.bl.test. 60 IN A 127.0.0.2",
		                       "2.0.0.127.bl.test. 60 IN A 127.0.0.4", NULL };
	const char *const mixed[] = { "2.0.0.127.bl.test. 60 IN A 127.0.0.2",
		                      "2.0.0.127.bl.test. 60 IN A 127.255.255.254", NULL };
	const char *const wild[] = { "2.0.0.127.bl.test. 60 IN A 127.0.0.2",
		                     "2.0.0.127.bl.test. 60 IN A 192.0.2.80", NULL };
	const char *const txt_only[] = { "2.0.0.127.bl.test. 60 IN TXT \"x\"", NULL };
	char *d = NULL;

	g_assert_cmpint(a_reply(n, n, LDNS_RCODE_NXDOMAIN, NULL, &d), ==, RELAY_DNSBL_CLEAN);
	g_assert_null(d);
	g_assert_cmpint(a_reply(n, n, LDNS_RCODE_NOERROR, txt_only, &d), ==, RELAY_DNSBL_CLEAN);
	g_assert_null(d);
	g_assert_cmpint(a_reply(n, n, LDNS_RCODE_NOERROR, listed, &d), ==, RELAY_DNSBL_LISTED);
	g_assert_cmpstr(d, ==, "127.0.0.2");
	g_clear_pointer(&d, g_free);
	g_assert_cmpint(a_reply(n, n, LDNS_RCODE_NOERROR, mixed, &d), ==, RELAY_DNSBL_REFUSED);
	g_assert_nonnull(strstr(d, "127.255.255.254"));
	g_clear_pointer(&d, g_free);
	g_assert_cmpint(a_reply(n, n, LDNS_RCODE_NOERROR, wild, &d), ==, RELAY_DNSBL_ERROR);
	g_assert_nonnull(strstr(d, "192.0.2.80 outside 127/8"));
	g_clear_pointer(&d, g_free);
	g_assert_cmpint(a_reply(n, n, LDNS_RCODE_SERVFAIL, NULL, &d), ==, RELAY_DNSBL_ERROR);
	g_assert_cmpstr(d, ==, "rcode SERVFAIL");
	g_clear_pointer(&d, g_free);
	/* Case does not matter in DNS names; another name does. */
	g_assert_cmpint(a_reply(n, "2.0.0.127.BL.Test.", LDNS_RCODE_NOERROR, listed, &d), ==,
	                RELAY_DNSBL_LISTED);
	g_clear_pointer(&d, g_free);
	g_assert_cmpint(a_reply(n, "3.0.0.127.bl.test.", LDNS_RCODE_NOERROR, listed, &d), ==,
	                RELAY_DNSBL_ERROR);
	g_clear_pointer(&d, g_free);
}

static void
test_txt_reply(void)
{
	const char *n = "2.0.0.127.bl.test.";
	const char *const two[] = { "2.0.0.127.bl.test. 60 IN TXT \"Listed \" \"by us\"",
		                    "2.0.0.127.bl.test. 60 IN A 127.0.0.2",
		                    "2.0.0.127.bl.test. 60 IN TXT \"bad\\013\\010\\000 host%s\"", NULL };
	ldns_rdf *q = ldns_dname_new_frm_str(n);
	ldns_pkt *p = make_reply(n, LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, two);
	ldns_pkt *fail = make_reply(n, LDNS_RR_TYPE_TXT, LDNS_RCODE_SERVFAIL, two);
	ldns_pkt *other = make_reply("x.bl.test.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, two);
	g_autofree char *reason = relay_dnsbl_txt_reply(p, q);
	g_autofree char *none = relay_dnsbl_txt_reply(fail, q);
	g_autofree char *none2 = relay_dnsbl_txt_reply(other, q);

	g_assert_cmpstr(reason, ==, "Listed by us; bad host%s");
	g_assert_cmpstr(none, ==, "");
	g_assert_cmpstr(none2, ==, "");
	ldns_pkt_free(p);
	ldns_pkt_free(fail);
	ldns_pkt_free(other);
	ldns_rdf_deep_free(q);
}

static void
test_check_without_network(void)
{
	const char *const zones[] = { "bl.test", NULL };
	const char *const none[] = { NULL };
	RelayDnsblResult res = { 0 };

	g_assert_cmpint(relay_dnsbl_check(NULL, "192.0.2.1", "127.0.0.1:53", 100, &res), ==,
	                RELAY_DNSBL_CLEAN);
	g_assert_cmpint(relay_dnsbl_check(none, "192.0.2.1", "127.0.0.1:53", 100, &res), ==,
	                RELAY_DNSBL_CLEAN);
	g_assert_null(res.zone);
	g_assert_cmpint(relay_dnsbl_check(zones, "not-an-ip", "127.0.0.1:53", 100, &res), ==,
	                RELAY_DNSBL_ERROR);
	g_assert_cmpstr(res.zone, ==, "bl.test");
	g_assert_nonnull(res.reason);
	g_assert_cmpint(relay_dnsbl_check(zones, "192.0.2.1", "dns.example:53", 100, &res), ==,
	                RELAY_DNSBL_ERROR);
	g_assert_nonnull(strstr(res.reason, "numeric"));
	g_assert_cmpint(relay_dnsbl_check(zones, "192.0.2.1", "127.0.0.1", 100, &res), ==,
	                RELAY_DNSBL_ERROR);
	g_assert_cmpint(relay_dnsbl_check(zones, "192.0.2.1", "127.0.0.1:53/tls", 100, &res), ==,
	                RELAY_DNSBL_ERROR);
	relay_dnsbl_result_clear(&res);
	g_assert_cmpint(res.verdict, ==, RELAY_DNSBL_CLEAN);
	g_assert_null(res.reason);
	relay_dnsbl_result_clear(&res);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dnsbl/query-name/v4", test_query_name_v4);
	g_test_add_func("/dnsbl/query-name/v6", test_query_name_v6);
	g_test_add_func("/dnsbl/query-name/length", test_query_name_length);
	g_test_add_func("/dnsbl/classify", test_classify);
	g_test_add_func("/dnsbl/sanitize", test_sanitize);
	g_test_add_func("/dnsbl/a-reply", test_a_reply);
	g_test_add_func("/dnsbl/txt-reply", test_txt_reply);
	g_test_add_func("/dnsbl/check-without-network", test_check_without_network);
	return g_test_run();
}
