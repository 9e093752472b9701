/* The advisory checks of `homemail check --live` and `homemail setup`
 * (live.h): facts about the box's network that explain, never block. */
#include <config.h>

#include <ifaddrs.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/live.h"
#include "dyndns/detect.h"
#include "lib/net.h"
#include "relay/dnsbl.h"

/* The blocklist asked when relay.dnsbl names none: the one most receiving
 * servers consult, and the one that lists home address ranges (PBL). */
static const char *const default_dnsbl[] = { "zen.spamhaus.org", NULL };

/* Deadline of the smart-host port check: a blocked port usually shows as
 * a silent drop, so this is what a person waits at worst. */
#define PORT_TIMEOUT_MS (10 * 1000)

static void
para(GString *report, const char *topic, const char *text)
{
	g_string_append_printf(report, "  %s: %s\n", topic, text);
}

/* The IPv4 addresses of the box's interfaces, loopback left out. */
static GArray *
interface_addresses(void)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(HmIpAddr));
	struct ifaddrs *all = NULL;

	if (getifaddrs(&all) < 0)
		return out;
	for (struct ifaddrs *i = all; i != NULL; i = i->ifa_next) {
		HmIpAddr a = { .family = AF_INET };
		struct sockaddr_in sin;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		memcpy(&sin, i->ifa_addr, sizeof(sin));
		a.u.v4 = sin.sin_addr;
		if (hm_ip_kind(&a) != HM_IP_LOOPBACK)
			g_array_append_val(out, a);
	}
	freeifaddrs(all);
	return out;
}

/* The router's WAN address when dyndns.detect asks the router, whatever
 * kind it is (hm_dyn_detect() refuses to publish a carrier-NAT one). */
static gboolean
router_wan(const HmDyndnsConf *d, HmIpAddr *out)
{
	g_autoptr(GError) e = NULL;

	if (d->detect == NULL || !g_strv_contains((const char *const *)d->detect, "router"))
		return FALSE;
	return hm_dyn_detect_router(d, AF_INET, out, &e) == 0;
}

/* Behind NAT or carrier-grade NAT: what the interfaces hold against
 * the router's WAN address and the public address (pub NULL: unknown). */
static void
advise_nat(const HmConfig *cfg, const HmIpAddr *pub, GString *report)
{
	g_autoptr(GArray) ifs = interface_addresses();
	g_autofree char *cgnat = NULL;
	g_autofree char *pubtext = pub != NULL ? hm_ip_to_string(pub) : NULL;
	gboolean own = FALSE;
	HmIpAddr wan;

	for (guint i = 0; i < ifs->len; i++) {
		const HmIpAddr *a = &g_array_index(ifs, HmIpAddr, i);

		own |= pub != NULL && hm_ip_equal(a, pub);
		if (cgnat == NULL && hm_ip_kind(a) == HM_IP_CGNAT)
			cgnat = hm_ip_to_string(a);
	}
	if (cgnat == NULL && router_wan(&cfg->dyndns, &wan) && hm_ip_kind(&wan) == HM_IP_CGNAT)
		cgnat = hm_ip_to_string(&wan);
	if (cgnat != NULL) {
		g_autofree char *t = g_strdup_printf(
			"the WAN side has %s, a carrier-grade NAT address (100.64.0.0/10): the ISP "
			"shares one public address among many customers. Nothing on the internet can "
			"connect to this box, and a DNS name for it is of no use for that; homemail "
			"only connects out, so mail works. The shared address's reputation (blocklists) "
			"is not yours to mend.",
			cgnat);

		para(report, "NAT", t);
	} else if (pub == NULL) {
		para(report, "NAT",
		     "not checked: the public address is known only through dyndns "
		     "detection, and no dyndns record asks for IPv4");
	} else if (own) {
		g_autofree char *t = g_strdup_printf(
			"none: this box holds its public address %s itself, so it is reachable from "
			"the internet; keep its firewall tight (homemail needs no inbound port).",
			pubtext);

		para(report, "NAT", t);
	} else {
		g_autofree char *t = g_strdup_printf(
			"behind NAT: the internet sees %s, which no interface of this box holds (a "
			"home router). Fine for homemail, which only connects out: no port forwarding "
			"is needed.",
			pubtext);

		para(report, "NAT", t);
	}
}

/* The Debian /etc/hosts problem: `hostname` resolving to 127.0.1.1. */
static void
advise_hostname(GString *report)
{
	char name[256] = "";
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	g_autofree char *loop = NULL;
	g_autofree char *t = NULL;
	int rc;

	if (gethostname(name, sizeof(name) - 1) < 0 || name[0] == '\0') {
		para(report, "host name", "this box has no host name set");
		return;
	}
	rc = getaddrinfo(name, NULL, &hints, &res);
	for (struct addrinfo *a = res; rc == 0 && a != NULL && loop == NULL; a = a->ai_next) {
		g_autofree char *text = hm_sockaddr_host(a->ai_addr);

		if (hm_host_is_loopback(text))
			loop = g_steal_pointer(&text);
	}
	if (res != NULL)
		freeaddrinfo(res);
	if (loop != NULL)
		t = g_strdup_printf("%s resolves to %s, a loopback address (the /etc/hosts entry "
		                    "Debian's installer writes). homemail never needs it to "
		                    "resolve (it uses the hostname setting), but other software "
		                    "may take it for this box's address on the network.",
		                    name, loop);
	else if (rc != 0)
		t = g_strdup_printf("%s does not resolve (%s). homemail never needs it to; other "
		                    "software may.",
		                    name, gai_strerror(rc));
	else
		t = g_strdup_printf("%s resolves to a network address", name);
	para(report, "host name", t);
}

/* The public address on a DNS blocklist (pub NULL: unknown). */
static void
advise_dnsbl(const HmConfig *cfg, const HmIpAddr *pub, GString *report)
{
	const char *const *zones = cfg->relay.dnsbl != NULL && cfg->relay.dnsbl[0] != NULL
	                                   ? (const char *const *)cfg->relay.dnsbl
	                                   : default_dnsbl;
	g_autofree char *ip = pub != NULL ? hm_ip_to_string(pub) : NULL;
	g_autofree char *list = g_strjoinv(", ", (char **)zones);
	g_autofree char *t = NULL;
	RelayDnsblResult res = { 0 };

	if (pub == NULL) {
		para(report, "blocklist", "not checked: the public address is not known");
		return;
	}
	/* Without relay.dns_resolver, discovery's test hook (discover.h) keeps
	 * the tests' lookups on loopback too. */
	const char *resolver = cfg->relay.dns_resolver != NULL ? cfg->relay.dns_resolver
	                                                       : g_getenv("HM_DISCOVER_RESOLVER");

	switch (relay_dnsbl_check(zones, ip, resolver, RELAY_DNSBL_TIMEOUT_MS, &res)) {
	case RELAY_DNSBL_LISTED:
		t = g_strdup_printf(
			"%s is listed on %s (%s). Usual for a home line: lists such as "
			"Spamhaus PBL name the ranges ISPs give to homes, so mail sent "
			"straight from here would be refused. That is why homemail sends "
			"through the smart host, whose address is trusted; nothing to do.",
			ip, res.zone, res.reason);
		break;
	case RELAY_DNSBL_REFUSED:
		t = g_strdup_printf(
			"%s refused to answer (%s): it does not say the address is "
			"listed. Spamhaus answers so to queries through large public "
			"resolvers (8.8.8.8, 1.1.1.1) or over its quota; set "
			"relay.dns_resolver to a resolver of your own to get an answer.",
			res.zone, res.reason);
		break;
	case RELAY_DNSBL_ERROR:
		t = g_strdup_printf("could not be checked on %s (%s)", res.zone, res.reason);
		break;
	case RELAY_DNSBL_CLEAN:
		t = g_strdup_printf("%s is on none of %s. Mail still goes out through the smart "
		                    "host: receiving servers distrust home address ranges whether "
		                    "listed or not.",
		                    ip, list);
		break;
	}
	relay_dnsbl_result_clear(&res);
	para(report, "blocklist", t);
}

/* Each smart host's port reachable over TCP. */
static void
advise_ports(const HmConfig *cfg, GString *report)
{
	for (gsize i = 0; i < cfg->relay.n_smarthosts; i++) {
		const HmEndpoint *ep = &cfg->relay.smarthosts[i].ep;
		g_autoptr(GError) e = NULL;
		g_autofree char *topic = g_strdup_printf("smart host %s",
		                                         cfg->relay.smarthosts[i].name);
		g_autofree char *t = NULL;
		int fd = hm_connect_tcp(ep->host, ep->port, NULL, PORT_TIMEOUT_MS, &e);

		if (fd >= 0) {
			close(fd);
			t = g_strdup_printf("%s port %u is reachable", ep->host, ep->port);
		} else {
			t = g_strdup_printf(
				"%s port %u is not reachable (%s). %s", ep->host, ep->port,
				e->message,
				ep->port == 25
					? "Many ISPs block outgoing port 25 from home lines: use "
					  "the provider's submission port, 587 (tls = \"starttls\") "
					  "or 465 (tls = \"tls\")."
					: "A firewall may block it, or the provider uses another "
					  "port: check its documentation (587 with STARTTLS, 465 "
					  "with TLS).");
		}
		para(report, topic, t);
	}
}

void
hm_live_advise(const HmConfig *cfg, GString *report)
{
	gboolean want4 = FALSE;
	HmIpAddr pub;
	gboolean have = FALSE;

	for (gsize i = 0; i < cfg->dyndns.n_records; i++)
		want4 |= cfg->dyndns.records[i].ipv4;
	if (want4) {
		g_autofree char *source = NULL;

		have = hm_dyn_detect(&cfg->dyndns, AF_INET, &pub, &source);
	}
	g_string_append(report, "advice (explains, changes nothing):\n");
	advise_nat(cfg, have ? &pub : NULL, report);
	advise_hostname(report);
	advise_dnsbl(cfg, have ? &pub : NULL, report);
	advise_ports(cfg, report);
}
