/* Unit tests of the router detection's parts (dyndns/router.h): the
 * natpmp:// URL, NAT-PMP replies and the exchange against a responder
 * on loopback, /proc/net/route lines, IGD descriptions and SOAP answers
 * (also cut at every length). */
#include <config.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dyndns/detect.h"
#include "dyndns/router.h"
#include "lib/error.h"

static char *
ip_text(const HmIpAddr *a)
{
	return hm_ip_to_string(a);
}

static void
test_natpmp_url(void)
{
	struct in_addr gw;
	guint16 port = 0;
	static const char *const bad[] = {
		"natpmp://",          "natpmp://router.lan", "natpmp://192.168.1.1:",
		"natpmp://1.2.3.4:0", "natpmp://1.2.3.4:65536", "natpmp://1.2.3.4:+5",
		"natpmp://[::1]:5351", "natpmp://1.2.3.4/x", "http://1.2.3.4",
		"natpmp://1.2.3.4:53 51", NULL,
	};

	g_assert_cmpint(hm_natpmp_parse_url("natpmp://192.168.1.1", &gw, &port, NULL), ==, 0);
	g_assert_cmpuint(port, ==, 5351);
	g_assert_cmpuint(ntohl(gw.s_addr), ==, 0xc0a80101);
	g_assert_cmpint(hm_natpmp_parse_url("natpmp://10.0.0.138:15351/", &gw, &port, NULL), ==,
	                0);
	g_assert_cmpuint(port, ==, 15351);
	g_assert_cmpuint(ntohl(gw.s_addr), ==, 0x0a00008a);
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GError) e = NULL;

		g_assert_cmpint(hm_natpmp_parse_url(bad[i], &gw, &port, &e), ==, -1);
		g_assert_error(e, HM_ERROR, HM_ERROR_PARSE);
		g_assert_nonnull(strstr(e->message, "natpmp://GATEWAY[:PORT]"));
	}
}

static const guint8 good_reply[12] = { 0, 128, 0, 0, 0, 0, 0x12, 0x34, 81, 2, 69, 160 };

static void
test_natpmp_reply(void)
{
	guint8 buf[16];
	HmIpAddr a;
	g_autofree char *t = NULL;
	g_autoptr(GError) e = NULL;

	g_assert_cmpint(hm_natpmp_parse_reply(good_reply, 12, &a, NULL), ==, 1);
	t = ip_text(&a);
	g_assert_cmpstr(t, ==, "81.2.69.160");
	/* anything shorter is a stray datagram, not an error */
	for (gsize len = 0; len < 12; len++)
		g_assert_cmpint(hm_natpmp_parse_reply(good_reply, len, &a, NULL), ==, 0);
	memcpy(buf, good_reply, 12);
	memset(buf + 12, 0xff, 4);
	g_assert_cmpint(hm_natpmp_parse_reply(buf, 16, &a, NULL), ==, 1);
	buf[0] = 2; /* PCP */
	g_assert_cmpint(hm_natpmp_parse_reply(buf, 12, &a, NULL), ==, 0);
	buf[0] = 0;
	buf[1] = 129; /* a mapping reply */
	g_assert_cmpint(hm_natpmp_parse_reply(buf, 12, &a, NULL), ==, 0);
	buf[1] = 0; /* our own request echoed */
	g_assert_cmpint(hm_natpmp_parse_reply(buf, 12, &a, NULL), ==, 0);
	buf[1] = 128;
	buf[3] = 3;
	g_assert_cmpint(hm_natpmp_parse_reply(buf, 12, &a, &e), ==, -1);
	g_assert_error(e, HM_ERROR, HM_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(e->message, "result 3 (network failure"));
}

/* A NAT-PMP responder on 127.0.0.1 that ignores the first `drop`
 * requests, sends junk and then the answer to the next one. */
typedef struct {
	int fd;
	guint drop;
	guint seen;
} Responder;

static gpointer
responder(gpointer data)
{
	Responder *r = data;
	guint8 req[16];
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	gssize n;

	while ((n = recvfrom(r->fd, req, sizeof(req), 0, (struct sockaddr *)&peer, &plen)) >= 0) {
		r->seen++;
		g_assert_cmpint(n, ==, 2);
		g_assert_cmpint(req[0], ==, 0);
		g_assert_cmpint(req[1], ==, 0);
		if (r->seen <= r->drop)
			continue;
		g_assert_cmpint(sendto(r->fd, "\0\201", 2, 0, (struct sockaddr *)&peer, plen), ==, 2);
		g_assert_cmpint(sendto(r->fd, good_reply, 12, 0, (struct sockaddr *)&peer, plen), ==,
		                12);
		break;
	}
	return NULL;
}

static int
udp_socket(guint16 *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
test_natpmp_exchange(void)
{
	struct in_addr lo = { .s_addr = htonl(INADDR_LOOPBACK) };
	Responder r = { 0 };
	guint16 port;
	GThread *t;
	HmIpAddr a;
	g_autofree char *text = NULL;
	gint64 t0;

	r.fd = udp_socket(&port);
	r.drop = 2; /* answered at the third try: 250 + 500 ms later */
	t = g_thread_new("natpmp", responder, &r);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_natpmp_public_address(lo, port, t0 + 3 * G_USEC_PER_SEC, &a, NULL), ==,
	                0);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 700 * 1000);
	g_thread_join(t);
	g_assert_cmpuint(r.seen, ==, 3);
	text = ip_text(&a);
	g_assert_cmpstr(text, ==, "81.2.69.160");
	close(r.fd);
}

static void
test_natpmp_silent_and_refused(void)
{
	struct in_addr lo = { .s_addr = htonl(INADDR_LOOPBACK) };
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	guint16 port;
	int fd = udp_socket(&port); /* bound, never read: silent */
	HmIpAddr a;
	gint64 t0 = g_get_monotonic_time();

	g_assert_cmpint(hm_natpmp_public_address(lo, port, t0 + 900 * 1000, &a, &e1), ==, -1);
	g_assert_error(e1, HM_ERROR, HM_ERROR_TIMEOUT);
	g_assert_nonnull(strstr(e1->message, "(3 tries)")); /* at 0, 250, 750 ms */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1500 * 1000);
	close(fd);
	/* nothing bound now: ICMP port unreachable ends it at once */
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_natpmp_public_address(lo, port, t0 + 5 * G_USEC_PER_SEC, &a, &e2), ==,
	                -1);
	g_assert_error(e2, HM_ERROR, HM_ERROR_IO);
	g_assert_nonnull(strstr(e2->message, "refused"));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC);
}

static void
test_route_lines(void)
{
	struct in_addr gw;
	static const char *const no[] = {
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
		"eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0", /* on-link net */
		"eth0\t00000000\t0101A8C0\t0001\t0\t0\t0\t00000000\t0\t0\t0", /* not via gw */
		"eth0\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0", /* down */
		"eth0\t00000000\t00000000\t0003\t0\t0\t0\t00000000\t0\t0\t0",
		"eth0\t00000000\t0101A8C\t0003\t0\t0\t0\t00000000\t0\t0\t0",
		"eth0\t00000000\t0101A8CG\t0003\t0\t0\t0\t00000000\t0\t0\t0",
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0",
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t0",
		"eth0\t00000000\t0101A8C0\t000000003\t0\t0\t0\t00000000",
		"",
		NULL,
	};

	g_assert_true(hm_route_default_gateway(
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n", &gw));
	g_assert_cmpuint(ntohl(gw.s_addr), ==, 0xc0a80101); /* 192.168.1.1 */
	g_assert_true(hm_route_default_gateway("wlan0 00000000 FE01000A 3 0 0 600 00000000", &gw));
	g_assert_cmpuint(ntohl(gw.s_addr), ==, 0x0a0001fe); /* 10.0.1.254 */
	for (guint i = 0; no[i] != NULL; i++)
		g_assert_false(hm_route_default_gateway(no[i], &gw));
}

#define DESC_HEAD                                                                          \
	"<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\">"         \
	"%s<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1"        \
	"</deviceType><deviceList><device><deviceType>urn:schemas-upnp-org:device:"       \
	"WANConnectionDevice:1</deviceType><serviceList>"
#define DESC_TAIL "</serviceList></device></deviceList></device></root>"
#define SERVICE(type, ctl)                                                                 \
	"<service><serviceType>" type "</serviceType><controlURL>" ctl                     \
	"</controlURL><SCPDURL>/x.xml</SCPDURL></service>"

static char *
desc(const char *urlbase, const char *services)
{
	g_autofree char *head = g_strdup_printf(DESC_HEAD, urlbase);

	return g_strconcat(head, services, DESC_TAIL, NULL);
}

static void
check_service(const char *d, int n, const char *want_url, const char *want_type)
{
	g_autofree char *url = NULL, *type = NULL;
	g_autoptr(GError) e = NULL;

	g_assert_cmpint(hm_igd_wan_service(d, strlen(d), "http://192.168.1.1:5000/rootDesc.xml",
	                                   n, &url, &type, &e),
	                ==, 0);
	g_assert_no_error(e);
	g_assert_cmpstr(url, ==, want_url);
	g_assert_cmpstr(type, ==, want_type);
}

static void
check_no_service(const char *d, const char *words)
{
	g_autofree char *url = NULL, *type = NULL;
	g_autoptr(GError) e = NULL;

	g_assert_cmpint(hm_igd_wan_service(d, strlen(d), "http://192.168.1.1:5000/rootDesc.xml",
	                                   0, &url, &type, &e),
	                ==, -1);
	g_assert_error(e, HM_ERROR, HM_ERROR_PARSE);
	g_assert_nonnull(strstr(e->message, words));
	g_assert_null(url);
}

#define IP1 "urn:schemas-upnp-org:service:WANIPConnection:1"
#define PPP1 "urn:schemas-upnp-org:service:WANPPPConnection:1"

static void
test_igd_description(void)
{
	g_autofree char *plain = desc("", SERVICE(IP1, "/ctl/IPConn"));
	g_autofree char *based = desc("<URLBase>http://192.168.1.1:49152/</URLBase>",
	                              SERVICE(IP1, "ctl/IPConn"));
	g_autofree char *both = desc("", SERVICE(PPP1, "/ppp") SERVICE(IP1, "/ip"));
	g_autofree char *cif = desc("", SERVICE("urn:schemas-upnp-org:service:"
	                                        "WANCommonInterfaceConfig:1", "/cif"));
	g_autofree char *quote = desc("", SERVICE("urn:schemas-upnp-org:service:WANIPConnection:"
	                                          "1\"\r\nX: y", "/ctl"));
	g_autofree char *noctl = desc("", SERVICE(IP1, ""));

	check_service(plain, 0, "http://192.168.1.1:5000/ctl/IPConn", IP1);
	check_service(based, 0, "http://192.168.1.1:49152/ctl/IPConn", IP1);
	check_service(both, 0, "http://192.168.1.1:5000/ppp", PPP1);
	check_service(both, 1, "http://192.168.1.1:5000/ip", IP1);
	check_no_service(cif, "not an Internet gateway");
	check_no_service("<html>router login</html>", "not an Internet gateway");
	check_no_service("", "not an Internet gateway");
	check_no_service(quote, "unusable service type");
	check_no_service(noctl, "not an Internet gateway");
	/* cut at every length: a failure or the right answer, never a crash */
	for (gsize len = 0; len <= strlen(plain); len++) {
		g_autofree char *cut = g_strndup(plain, len);
		g_autofree char *url = NULL, *type = NULL;

		if (hm_igd_wan_service(cut, len, "http://192.168.1.1:5000/", 0, &url, &type, NULL) ==
		    0)
			g_assert_true(g_str_has_prefix(url, "http://192.168.1.1:5000/"));
	}
}

#define ANSWER(ip)                                                                          \
	"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/"   \
	"envelope/\"><s:Body><u:GetExternalIPAddressResponse xmlns:u=\"" IP1 "\">"        \
	"<NewExternalIPAddress>" ip "</NewExternalIPAddress></u:GetExternalIPAddressResponse>" \
	"</s:Body></s:Envelope>"
#define FAULT                                                                               \
	"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/"   \
	"envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError" \
	"</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\">"     \
	"<errorCode>501</errorCode><errorDescription>Action\nFailed</errorDescription>"    \
	"</UPnPError></detail></s:Fault></s:Body></s:Envelope>"

static void
soap_fails(const char *body, long status, const char *words)
{
	g_autoptr(GError) e = NULL;
	HmIpAddr a;

	g_assert_cmpint(hm_igd_parse_external_ip(body, strlen(body), status, &a, &e), ==, -1);
	g_assert_error(e, HM_ERROR, HM_ERROR_PROTOCOL);
	if (strstr(e->message, words) == NULL)
		g_error("\"%s\" lacks \"%s\"", e->message, words);
}

static void
test_igd_answer(void)
{
	const char *good = ANSWER("81.2.69.160");
	HmIpAddr a;
	g_autofree char *t = NULL;

	g_assert_cmpint(hm_igd_parse_external_ip(good, strlen(good), 200, &a, NULL), ==, 0);
	t = ip_text(&a);
	g_assert_cmpstr(t, ==, "81.2.69.160");
	/* the router's private or CGNAT WAN address is returned: hm_dyn_detect()
	 * refuses it with the carrier-NAT words */
	g_assert_cmpint(hm_igd_parse_external_ip(ANSWER("100.64.1.2"),
	                                         strlen(ANSWER("100.64.1.2")), 200, &a, NULL),
	                ==, 0);
	soap_fails(FAULT, 500, "UPnP error 501 (Action?Failed)");
	soap_fails(ANSWER(""), 200, "no external address");
	soap_fails(ANSWER("2001:db8::1"), 200, "not an IPv4 address");
	soap_fails(ANSWER("81.2.69.160 junk"), 200, "not an IPv4 address");
	soap_fails(ANSWER("81.2.69.160"), 403, "HTTP status 403");
	soap_fails("", 200, "HTTP status 200 without NewExternalIPAddress");
	for (gsize len = 0; len <= strlen(good); len++) {
		g_autofree char *cut = g_strndup(good, len);

		if (hm_igd_parse_external_ip(cut, len, 200, &a, NULL) == 0)
			g_assert_cmpuint(ntohl(a.u.v4.s_addr), ==, 0x510245a0);
	}
}

static void
test_ipv6_refused(void)
{
	HmDyndnsConf d = { 0 };
	g_autoptr(GError) e = NULL;
	HmIpAddr a;

	d.router_url = (char *)"natpmp://127.0.0.1:9";
	g_assert_cmpint(hm_dyn_detect_router(&d, AF_INET6, &a, &e), ==, -1);
	g_assert_nonnull(strstr(e->message, "the router method gives IPv4 only"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/router/natpmp-url", test_natpmp_url);
	g_test_add_func("/router/natpmp-reply", test_natpmp_reply);
	g_test_add_func("/router/natpmp-exchange", test_natpmp_exchange);
	g_test_add_func("/router/natpmp-silent-refused", test_natpmp_silent_and_refused);
	g_test_add_func("/router/route-lines", test_route_lines);
	g_test_add_func("/router/igd-description", test_igd_description);
	g_test_add_func("/router/igd-answer", test_igd_answer);
	g_test_add_func("/router/ipv6-refused", test_ipv6_refused);
	return g_test_run();
}
