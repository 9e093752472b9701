/* Fuzzes what the router detection reads from the LAN (dyndns/router.h):
 * an IGD root description, a SOAP answer, a NAT-PMP reply, and the
 * /proc/net/route and natpmp:// parsers. The whole input goes to each;
 * whatever is accepted must be what the caller relies on. */
#include <config.h>

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "dyndns/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
description(const char *text, size_t size)
{
	for (int n = 0; n < 2; n++) {
		char *url = NULL, *type = NULL;

		if (hm_igd_wan_service(text, size, "http://192.168.1.1:5000/rootDesc.xml", n, &url,
		                       &type, NULL) == 0) {
			if (!g_str_has_prefix(url, "http") || !g_str_has_prefix(type, "urn:") ||
			    strpbrk(type, "\"\r\n<>&") != NULL)
				__builtin_trap();
		}
		g_free(url);
		g_free(type);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	struct in_addr gw;
	guint16 port;
	HmIpAddr a;

	description(text, size);
	if (hm_igd_parse_external_ip(text, size, 200, &a, NULL) == 0 && a.family != AF_INET)
		__builtin_trap();
	(void)hm_igd_parse_external_ip(text, size, 500, &a, NULL);
	if (hm_natpmp_parse_reply(data, size, &a, NULL) == 1 && (size < 12 || a.family != AF_INET))
		__builtin_trap();
	if (hm_route_default_gateway(text, &gw) && gw.s_addr == 0)
		__builtin_trap();
	if (hm_natpmp_parse_url(text, &gw, &port, NULL) == 0 && port == 0)
		__builtin_trap();
	g_free(text);
	return 0;
}
