/* The router's WAN address (dyndns.detect "router"): which protocol, which
 * router, and the one deadline over all of it. No third party learns
 * anything: every packet goes to the LAN's own gateway. */
#include <config.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "dyndns/detect.h"
#include "dyndns/router.h"
#include "lib/error.h"
#include "lib/log.h"

static int
natpmp(struct in_addr gw, guint16 port, gint64 deadline, HmIpAddr *out, GError **err)
{
	char text[INET_ADDRSTRLEN] = "";

	inet_ntop(AF_INET, &gw, text, sizeof(text));
	hm_debug("router: NAT-PMP to %s:%u", text, port);
	if (hm_natpmp_public_address(gw, port, deadline, out, err) == 0)
		return 0;
	g_prefix_error(err, "NAT-PMP %s:%u: ", text, port);
	return -1;
}

/* router_url unset: the IGDs that answer SSDP, then NAT-PMP to the
 * default gateway; UPnP stops HM_NATPMP_WAIT_MS before deadline so that
 * NAT-PMP always has its time. */
static int
discover(gint64 deadline, HmIpAddr *out, GError **err)
{
	gint64 upnp_deadline = deadline - HM_NATPMP_WAIT_MS * 1000;
	g_autoptr(GString) why = g_string_new("UPnP: ");
	g_autoptr(GError) e = NULL;
	g_auto(GStrv) urls = hm_igd_discover(&e);
	struct in_addr gw;

	if (urls == NULL)
		g_string_append(why, e->message);
	else if (urls[0] == NULL)
		g_string_append_printf(why, "no Internet gateway answered SSDP within %d ms",
		                       HM_SSDP_WAIT_MS);
	for (guint i = 0; urls != NULL && urls[i] != NULL; i++) {
		g_autoptr(GError) e2 = NULL;

		hm_debug("router: SSDP found %s", urls[i]);
		if (hm_igd_external_ip(urls[i], upnp_deadline, out, &e2) == 0)
			return 0;
		g_string_append_printf(why, "%s%s", i > 0 ? "; " : "", e2->message);
	}
	g_clear_error(&e);
	deadline = MIN(deadline, g_get_monotonic_time() + HM_NATPMP_WAIT_MS * 1000);
	if (hm_default_gateway(&gw, &e) < 0 ||
	    natpmp(gw, HM_NATPMP_PORT, deadline, out, &e) < 0) {
		g_string_append_printf(why, "; NAT-PMP: %s", e->message);
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s", why->str);
		return -1;
	}
	return 0;
}

int
hm_dyn_detect_router(const HmDyndnsConf *d, int family, HmIpAddr *out, GError **err)
{
	gint64 start = g_get_monotonic_time();
	const char *url = d->router_url;
	struct in_addr gw;
	guint16 port;

	if (family != AF_INET) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "the router method gives IPv4 only (UPnP and NAT-PMP know no "
		            "external IPv6 address); use \"web\" or \"interface:NAME\" for IPv6");
		return -1;
	}
	if (url != NULL && g_str_has_prefix(url, "natpmp://")) {
		if (hm_natpmp_parse_url(url, &gw, &port, err) < 0)
			return -1;
		return natpmp(gw, port, start + HM_NATPMP_WAIT_MS * 1000, out, err);
	}
	if (url != NULL) {
		if (hm_igd_external_ip(url, start + HM_ROUTER_DEADLINE_S * G_USEC_PER_SEC, out,
		                       err) == 0)
			return 0;
		g_prefix_error(err, "UPnP IGD ");
		return -1;
	}
	return discover(start + HM_ROUTER_DEADLINE_S * G_USEC_PER_SEC, out, err);
}
