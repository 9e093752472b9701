#include <config.h>

#include <string.h>

#include <glib.h>

#include "admin/autoconfig.h"
#include "admin/discover.h"
#include "admin/presets.h"
#include "admin/srv.h"
#include "lib/error.h"

#define SRC "https://autoconfig.example.org/mail/config-v1.1.xml"

/* A clientConfig around body (the inside of emailProvider). */
static char *
doc(const char *body)
{
	return g_strdup_printf("<?xml version=\"1.0\"?>\n<clientConfig version=\"1.1\">"
	                       "<emailProvider id=\"example.org\">%s</emailProvider>"
	                       "</clientConfig>",
	                       body);
}

static char *
server(const char *kind, const char *type, const char *host, const char *port,
       const char *sock, const char *user, const char *auth)
{
	return g_strdup_printf("<%s type=\"%s\"><hostname>%s</hostname><port>%s</port>"
	                       "<socketType>%s</socketType><username>%s</username>"
	                       "<authentication>%s</authentication></%s>",
	                       kind, type, host, port, sock, user, auth, kind);
}

static int
parse(const char *xml, HmDiscovery *d, GError **err)
{
	return hm_autoconfig_parse(xml, strlen(xml), "Alice@example.org", SRC, d, err);
}

static void
check_refused(const char *xml, gsize len, const char *needle)
{
	HmDiscovery d = { 0 };
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_autoconfig_parse(xml, len, "a@example.org", SRC, &d, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	if (strstr(err->message, needle) == NULL)
		g_error("'%s' does not say '%s'", err->message, needle);
	for (int i = 0; i < HM_DISC_N; i++)
		g_assert_null(d.server[i].host);
	g_assert_null(d.provider);
	hm_discovery_clear(&d);
}

static void
test_presets_lookup(void)
{
	const HmPreset *p = hm_preset_for_domain("gmail.com");

	g_assert_nonnull(p);
	g_assert_cmpstr(p->id, ==, "gmail");
	g_assert_true(hm_preset_for_domain("GoogleMail.COM") == p);
	g_assert_cmpstr(hm_preset_for_domain("HOTMAIL.com")->id, ==, "outlook");
	g_assert_cmpstr(hm_preset_for_domain("me.com")->id, ==, "icloud");
	g_assert_cmpstr(hm_preset_for_domain("gmx.ch")->id, ==, "gmx");
	g_assert_cmpstr(hm_preset_for_domain("t-online.de")->id, ==, "t-online");
	/* Neither a subdomain nor a look-alike is the provider. */
	g_assert_null(hm_preset_for_domain("mail.gmail.com"));
	g_assert_null(hm_preset_for_domain("gmail.com.example.org"));
	g_assert_null(hm_preset_for_domain("xgmail.com"));
	g_assert_null(hm_preset_for_domain("gmail.co"));
	g_assert_null(hm_preset_for_domain(""));
	g_assert_null(hm_preset_for_domain(NULL));
	g_assert_cmpstr(hm_preset_by_id("other")->name, ==, "Other provider");
	g_assert_null(hm_preset_by_id("Gmail"));
}

/* The table's own consistency: what the lookup promises holds for every
 * entry, and no domain belongs to two providers. */
static void
test_presets_table(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	gboolean other_last = strcmp(hm_presets[hm_n_presets - 1].id, "other") == 0;

	g_assert_true(other_last);
	for (gsize i = 0; i < hm_n_presets; i++) {
		const HmPreset *p = &hm_presets[i];

		g_assert_true(hm_preset_by_id(p->id) == p);
		g_assert_nonnull(p->note);
		g_assert_true((p->auth == HM_DISC_AUTH_OAUTH2) == (p->oauth2_provider != NULL));
		for (const char *const *d = p->domains; *d != NULL; d++) {
			g_autofree char *low = g_ascii_strdown(*d, -1);

			g_assert_cmpstr(low, ==, *d);
			g_assert_true(hm_discover_host_ok(*d));
			g_assert_false(g_hash_table_contains(seen, *d));
			g_hash_table_add(seen, (gpointer)*d);
			g_assert_true(hm_preset_for_domain(*d) == p);
		}
		for (int s = 0; s < HM_DISC_N; s++)
			if (p->server[s].host != NULL) {
				g_assert_true(hm_discover_host_ok(p->server[s].host));
				g_assert_cmpuint(p->server[s].port, >, 0);
				g_assert_true(p->server[s].tls != HM_TLS_MODE_NONE);
			}
	}
}

static void
test_discover_preset(void)
{
	HmDiscoverOptions opt = { .presets_only = TRUE };
	g_autoptr(GError) err = NULL;
	HmDiscovery d;
	HmEndpoint ep = { 0 };

	g_assert_cmpint(hm_discover("Jane.Doe@ICloud.com", &opt, &d, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(d.address, ==, "Jane.Doe@icloud.com");
	g_assert_cmpstr(d.provider, ==, "iCloud Mail");
	g_assert_cmpstr(d.server[HM_DISC_IMAP].host, ==, "imap.mail.me.com");
	g_assert_cmpint(d.server[HM_DISC_IMAP].login, ==, HM_DISC_LOGIN_LOCALPART);
	g_assert_cmpstr(d.server[HM_DISC_IMAP].user, ==, "Jane.Doe");
	g_assert_null(d.server[HM_DISC_POP3].host);
	g_assert_cmpstr(d.server[HM_DISC_SMTP].user, ==, "Jane.Doe@icloud.com");
	g_assert_cmpint(d.server[HM_DISC_SMTP].tls, ==, HM_TLS_MODE_STARTTLS);
	g_assert_cmpstr(d.server[HM_DISC_SMTP].source, ==, "preset iCloud Mail");
	hm_discovery_clear(&d);

	g_assert_cmpint(hm_discover("bob@gmail.com", &opt, &d, &err), ==, 0);
	hm_discover_endpoint(&d.server[HM_DISC_IMAP], &ep);
	g_assert_cmpstr(ep.host, ==, "imap.gmail.com");
	g_assert_cmpuint(ep.port, ==, 993);
	g_assert_cmpint(ep.tls, ==, HM_TLS_MODE_TLS);
	g_assert_cmpstr(ep.user, ==, "bob@gmail.com");
	g_assert_cmpint(ep.auth, ==, HM_AUTH_OAUTH2);
	g_assert_cmpstr(ep.oauth2.provider, ==, "google");
	hm_endpoint_clear(&ep);
	hm_discovery_clear(&d);

	g_assert_cmpint(hm_discover("bob@example.org", &opt, &d, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_FAILED);
	hm_discovery_clear(&d);
	g_clear_error(&err);
	g_assert_cmpint(hm_discover("no-at-sign", &opt, &d, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	hm_discovery_clear(&d);
}

static void
test_split_expand(void)
{
	static const char *const bad[] = { "", "@example.org", "a@", "a@exa mple.org",
		                           "a b@example.org", "a@-x.org", "a@x..org", "a@.x.org",
		                           "a@x.org.", "a@x_y.org", NULL };
	g_autofree char *e1 = hm_discover_expand("%EMAILLOCALPART%+x@%EMAILDOMAIN% %EMAILADDRESS%",
	                                         "Al.Ice@Example.ORG");
	g_autofree char *e2 = hm_discover_expand("%EMAILLOCAL%%%EMAILADDRESS", "a@b.example");
	g_autofree char *e3 = hm_discover_expand("%EMAILADDRESS%", "100%@b.example");
	g_autofree char *local = NULL, *domain = NULL;

	g_assert_cmpstr(e1, ==, "Al.Ice+x@example.org Al.Ice@example.org");
	g_assert_cmpstr(e2, ==, "%EMAILLOCAL%%%EMAILADDRESS");
	/* One pass: a '%' in the address is not read as a placeholder. */
	g_assert_cmpstr(e3, ==, "100%@b.example");
	g_assert_null(hm_discover_expand("%EMAILADDRESS%", "nope"));
	g_assert_cmpint(hm_discover_split("x@y@Example.org", &local, &domain, NULL), ==, 0);
	g_assert_cmpstr(local, ==, "x@y");
	g_assert_cmpstr(domain, ==, "example.org");
	for (int i = 0; bad[i] != NULL; i++) {
		g_autoptr(GError) err = NULL;
		char *l = NULL, *dm = NULL;

		g_assert_cmpint(hm_discover_split(bad[i], &l, &dm, &err), ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_assert_null(l);
	}
}

static void
test_host_ok(void)
{
	g_autofree char *label64 = g_strnfill(64, 'a');
	g_autofree char *long_name = g_strjoin(".", "a", label64, NULL);

	g_assert_true(hm_discover_host_ok("imap.example.org"));
	g_assert_true(hm_discover_host_ok("localhost"));
	g_assert_true(hm_discover_host_ok("a-1.b2"));
	g_assert_false(hm_discover_host_ok(""));
	g_assert_false(hm_discover_host_ok(NULL));
	g_assert_false(hm_discover_host_ok("-a.example"));
	g_assert_false(hm_discover_host_ok("a..b"));
	g_assert_false(hm_discover_host_ok("a.b."));
	g_assert_false(hm_discover_host_ok("%EMAILDOMAIN%.example"));
	g_assert_false(hm_discover_host_ok("a b"));
	g_assert_false(hm_discover_host_ok("a/b"));
	g_assert_false(hm_discover_host_ok(long_name));
}

static void
test_xml_good(void)
{
	g_autofree char *imap = server("incomingServer", "imap", "imap.%EMAILDOMAIN%", "993", "SSL",
	                               "%EMAILADDRESS%", "password-cleartext");
	g_autofree char *pop = server("incomingServer", "pop3", " pop.example.org\n", "110",
	                              "STARTTLS", "%EMAILLOCALPART%", "plain");
	g_autofree char *smtp = server("outgoingServer", "smtp", "smtp.example.org", "465", "SSL",
	                               "mail-%EMAILLOCALPART%", "OAuth2");
	g_autofree char *body = g_strconcat("<domain>example.org</domain>"
	                                    "<displayName>Example &amp; Co</displayName>",
	                                    imap, pop, smtp, NULL);
	g_autofree char *xml = doc(body);
	g_autoptr(GError) err = NULL;
	HmDiscovery d = { 0 };
	const HmDiscServer *s;

	g_assert_cmpint(parse(xml, &d, &err), ==, 3);
	g_assert_no_error(err);
	g_assert_cmpstr(d.provider, ==, "Example & Co");
	s = &d.server[HM_DISC_IMAP];
	g_assert_cmpstr(s->host, ==, "imap.example.org");
	g_assert_cmpuint(s->port, ==, 993);
	g_assert_cmpint(s->tls, ==, HM_TLS_MODE_TLS);
	g_assert_cmpint(s->login, ==, HM_DISC_LOGIN_ADDRESS);
	g_assert_cmpstr(s->user, ==, "Alice@example.org");
	g_assert_cmpint(s->auth, ==, HM_DISC_AUTH_PASSWORD);
	g_assert_cmpstr(s->source, ==, "autoconfig from " SRC);
	s = &d.server[HM_DISC_POP3];
	g_assert_cmpstr(s->host, ==, "pop.example.org");
	g_assert_cmpint(s->tls, ==, HM_TLS_MODE_STARTTLS);
	g_assert_cmpint(s->login, ==, HM_DISC_LOGIN_LOCALPART);
	g_assert_cmpstr(s->user, ==, "Alice");
	s = &d.server[HM_DISC_SMTP];
	g_assert_cmpint(s->login, ==, HM_DISC_LOGIN_GIVEN);
	g_assert_cmpstr(s->user, ==, "mail-Alice");
	g_assert_cmpint(s->auth, ==, HM_DISC_AUTH_OAUTH2);
	g_assert_null(s->oauth2_provider);
	hm_discovery_clear(&d);
}

/* Only an incoming server: the rest stays empty for SRV to fill; servers
 * already found are not replaced. */
static void
test_xml_partial(void)
{
	g_autofree char *imap = server("incomingServer", "imap", "imap.example.org", "993", "SSL",
	                               "%EMAILADDRESS%", "password-cleartext");
	g_autofree char *xml = doc(imap);
	HmDiscovery d = { 0 };

	g_assert_cmpint(parse(xml, &d, NULL), ==, 1);
	g_assert_null(d.server[HM_DISC_POP3].host);
	g_assert_null(d.server[HM_DISC_SMTP].host);
	hm_disc_server_set(&d.server[HM_DISC_IMAP], "kept.example", 1, HM_TLS_MODE_TLS,
	                   HM_DISC_LOGIN_UNKNOWN, NULL, HM_DISC_AUTH_UNKNOWN, "earlier");
	g_assert_cmpint(parse(xml, &d, NULL), ==, 0);
	g_assert_cmpstr(d.server[HM_DISC_IMAP].host, ==, "kept.example");
	hm_discovery_clear(&d);
}

/* What homemail cannot use is passed over; a TLS server wins over a plain
 * one listed before it, not over an earlier TLS one. */
static void
test_xml_choice(void)
{
	g_autofree char *a = server("incomingServer", "imap", "ntlm.example.org", "993", "SSL", "u",
	                            "NTLM");
	g_autofree char *b = server("incomingServer", "imap", "plain.example.org", "143", "plain",
	                            "u", "password-cleartext");
	g_autofree char *c = server("incomingServer", "imap", "tls.example.org", "993", "SSL", "u",
	                            "password-cleartext");
	g_autofree char *e = server("incomingServer", "imap", "later.example.org", "993", "SSL",
	                            "u", "password-cleartext");
	g_autofree char *f = server("incomingServer", "exchange", "ews.example.org", "443", "SSL",
	                            "u", "password-cleartext");
	g_autofree char *g = server("incomingServer", "pop3", "bad.example.org", "99999", "SSL",
	                            "u", "password-cleartext");
	g_autofree char *h = server("incomingServer", "pop3", "%FOO%.example.org", "995", "SSL",
	                            "u", "password-cleartext");
	g_autofree char *i = server("outgoingServer", "smtp", "smtp.example.org", "587", "TLS",
	                            "u", "password-cleartext");
	g_autofree char *body = g_strconcat(a, b, c, e, f, g, h, i, NULL);
	g_autofree char *xml = doc(body);
	HmDiscovery d = { 0 };

	g_assert_cmpint(parse(xml, &d, NULL), ==, 1);
	g_assert_cmpstr(d.server[HM_DISC_IMAP].host, ==, "tls.example.org");
	g_assert_null(d.server[HM_DISC_POP3].host);
	g_assert_null(d.server[HM_DISC_SMTP].host);
	hm_discovery_clear(&d);
}

static void
test_xml_second_provider_ignored(void)
{
	g_autofree char *s1 = server("incomingServer", "imap", "one.example.org", "993", "SSL",
	                             "u", "plain");
	g_autofree char *s2 = server("outgoingServer", "smtp", "two.example.org", "465", "SSL",
	                             "u", "plain");
	g_autofree char *xml =
		g_strdup_printf("<clientConfig><emailProvider id=\"a\">%s</emailProvider>"
		                "<emailProvider id=\"b\">%s</emailProvider></clientConfig>",
		                s1, s2);
	HmDiscovery d = { 0 };

	g_assert_cmpint(parse(xml, &d, NULL), ==, 1);
	g_assert_null(d.server[HM_DISC_SMTP].host);
	hm_discovery_clear(&d);
}

static void
test_xml_malicious(void)
{
	g_autofree char *ok = server("incomingServer", "imap", "imap.example.org", "993", "SSL", "u",
	                             "plain");
	g_autofree char *good = doc(ok);
	GString *huge = g_string_new(good);
	GString *deep = g_string_new("<clientConfig><emailProvider>");
	g_autofree char *long_text = g_strnfill(HM_AUTOCONFIG_TEXT_MAX + 1, 'a');
	g_autofree char *long_host = g_strdup_printf(
		"<clientConfig><emailProvider><incomingServer type=\"imap\"><hostname>%s"
		"</hostname></incomingServer></emailProvider></clientConfig>",
		long_text);
	g_autofree char *bomb = g_strdup_printf(
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>%s",
		good);
	const char *undefined = "<clientConfig><emailProvider><displayName>&lol2;</displayName>"
	                        "</emailProvider></clientConfig>";

	while (huge->len <= HM_AUTOCONFIG_MAX)
		g_string_append(huge, "<!-- padding padding padding padding -->\n");
	check_refused(huge->str, huge->len, "larger than 65536 bytes");
	for (int i = 0; i < HM_AUTOCONFIG_DEPTH_MAX; i++)
		g_string_append(deep, "<x>");
	check_refused(deep->str, deep->len, "nested deeper than 16");
	check_refused(bomb, strlen(bomb), "DTD");
	check_refused(undefined, strlen(undefined), "not a valid autoconfig file");
	check_refused(long_host, strlen(long_host), "longer than 1024 bytes");
	check_refused("<html><body>Not found</body></html>", 35,
	              "the root element is <html>, not <clientConfig>");
	check_refused("{\"imap\": \"x\"}", 13, "not a valid autoconfig file");
	check_refused("", 0, "not a valid autoconfig file");
	check_refused("<clientConfig><emailProvider>", 29, "not a valid autoconfig file");
	check_refused("<clientConfig\0>", 15, "not a valid autoconfig file");
	check_refused("<clientConfig version=\"1.1\"/>", 29, "no <emailProvider>");
	check_refused("<clientConfig><emailProvider/></clientConfig>", 45, "no server homemail");
	g_string_free(huge, TRUE);
	g_string_free(deep, TRUE);
}

static HmSrvRecord
rec(guint16 prio, guint16 weight, guint16 port, const char *target)
{
	HmSrvRecord r = { prio, weight, port, (char *)target };

	return r;
}

static void
test_srv_order(void)
{
	HmSrvRecord r[] = {
		rec(20, 0, 993, "c.example"), rec(10, 5, 993, "b.example"),
		rec(10, 60, 993, "a.example"), rec(10, 5, 993, "b2.example"),
		rec(0, 0, 0, "zero-port.example"),
	};
	gboolean not_offered = TRUE;
	const HmSrvRecord *best;

	hm_srv_sort(r, G_N_ELEMENTS(r));
	g_assert_cmpstr(r[0].target, ==, "zero-port.example");
	g_assert_cmpstr(r[1].target, ==, "a.example");
	g_assert_cmpstr(r[2].target, ==, "b.example");
	g_assert_cmpstr(r[3].target, ==, "b2.example");
	g_assert_cmpstr(r[4].target, ==, "c.example");
	best = hm_srv_best(r, G_N_ELEMENTS(r), &not_offered);
	g_assert_cmpstr(best->target, ==, "a.example");
	g_assert_false(not_offered);
}

static void
test_srv_not_offered(void)
{
	HmSrvRecord dot[] = { rec(0, 0, 0, ".") };
	HmSrvRecord mixed[] = { rec(0, 0, 0, "."), rec(5, 0, 993, "imap.example") };
	HmSrvRecord junk[] = { rec(0, 0, 993, "bad_name.example") };
	gboolean not_offered = FALSE;

	g_assert_null(hm_srv_best(dot, 1, &not_offered));
	g_assert_true(not_offered);
	g_assert_cmpstr(hm_srv_best(mixed, 2, &not_offered)->target, ==, "imap.example");
	g_assert_false(not_offered);
	g_assert_null(hm_srv_best(junk, 1, &not_offered));
	g_assert_false(not_offered);
	g_assert_null(hm_srv_best(NULL, 0, &not_offered));
	g_assert_false(not_offered);
}

/* A reply packet to qname/SRV with the answer records rrs (zone text). */
static ldns_pkt *
reply(const char *qname, ldns_pkt_rcode rc, const char *const *rrs)
{
	ldns_rdf *name = ldns_dname_new_frm_str(qname);
	ldns_pkt *p = ldns_pkt_query_new(name, LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, LDNS_RD);

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rc);
	for (int i = 0; rrs != NULL && rrs[i] != NULL; i++) {
		ldns_rr *rr = NULL;

		g_assert_cmpint(ldns_rr_new_frm_str(&rr, rrs[i], 60, NULL, NULL), ==, LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	return p;
}

static void
test_srv_reply(void)
{
	static const char *const rrs[] = {
		"_imaps._tcp.example.org. 60 IN SRV 10 5 993 IMAP.Example.org.",
		"_imaps._tcp.example.org. 60 IN TXT \"not srv\"",
		"_imaps._tcp.example.org. 60 IN SRV 0 0 0 .", NULL
	};
	ldns_rdf *q = ldns_dname_new_frm_str("_IMAPS._tcp.example.org.");
	ldns_rdf *other = ldns_dname_new_frm_str("_pop3s._tcp.example.org.");
	ldns_pkt *p = reply("_imaps._tcp.example.org.", LDNS_RCODE_NOERROR, rrs);
	ldns_pkt *fail = reply("_imaps._tcp.example.org.", LDNS_RCODE_SERVFAIL, NULL);
	ldns_pkt *nx = reply("_imaps._tcp.example.org.", LDNS_RCODE_NXDOMAIN, NULL);
	GArray *out = g_array_new(FALSE, TRUE, sizeof(HmSrvRecord));
	char *why = NULL;

	g_assert_cmpint(hm_srv_from_reply(p, q, out, &why), ==, 2);
	g_assert_cmpstr(g_array_index(out, HmSrvRecord, 0).target, ==, "imap.example.org");
	g_assert_cmpuint(g_array_index(out, HmSrvRecord, 0).port, ==, 993);
	g_assert_cmpuint(g_array_index(out, HmSrvRecord, 0).priority, ==, 10);
	g_assert_cmpuint(g_array_index(out, HmSrvRecord, 0).weight, ==, 5);
	g_assert_cmpstr(g_array_index(out, HmSrvRecord, 1).target, ==, ".");
	g_assert_cmpint(hm_srv_from_reply(p, other, out, &why), ==, -1);
	g_assert_cmpstr(why, ==, "a reply to another question");
	g_clear_pointer(&why, g_free);
	g_assert_cmpint(hm_srv_from_reply(fail, q, out, &why), ==, -1);
	g_assert_cmpstr(why, ==, "rcode SERVFAIL");
	g_clear_pointer(&why, g_free);
	g_assert_cmpint(hm_srv_from_reply(nx, q, out, &why), ==, 0);
	for (guint i = 0; i < out->len; i++)
		g_free(g_array_index(out, HmSrvRecord, i).target);
	g_array_unref(out);
	ldns_pkt_free(p);
	ldns_pkt_free(fail);
	ldns_pkt_free(nx);
	ldns_rdf_deep_free(q);
	ldns_rdf_deep_free(other);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/discover/presets-lookup", test_presets_lookup);
	g_test_add_func("/discover/presets-table", test_presets_table);
	g_test_add_func("/discover/preset-result", test_discover_preset);
	g_test_add_func("/discover/split-expand", test_split_expand);
	g_test_add_func("/discover/host-ok", test_host_ok);
	g_test_add_func("/discover/xml-good", test_xml_good);
	g_test_add_func("/discover/xml-partial", test_xml_partial);
	g_test_add_func("/discover/xml-choice", test_xml_choice);
	g_test_add_func("/discover/xml-second-provider", test_xml_second_provider_ignored);
	g_test_add_func("/discover/xml-malicious", test_xml_malicious);
	g_test_add_func("/discover/srv-order", test_srv_order);
	g_test_add_func("/discover/srv-not-offered", test_srv_not_offered);
	g_test_add_func("/discover/srv-reply", test_srv_reply);
	return g_test_run();
}
