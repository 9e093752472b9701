/* Asking the home router for its WAN address (dyndns.detect "router"):
 * UPnP IGD GetExternalIPAddress (upnp.c) and NAT-PMP (RFC 6886, natpmp.c).
 * hm_dyn_detect_router() (detect-router.c) chooses between them; the
 * parsers are separate so unit tests and fuzz targets reach them. Every
 * exchange takes a deadline (g_get_monotonic_time() microseconds) and
 * never waits past it. */
#ifndef HM_DYN_ROUTER_H
#define HM_DYN_ROUTER_H

#include <glib.h>
#include <netinet/in.h>

#include "dyndns/ipaddr.h"

/* The whole router detection, discovery and fallback included: a run
 * waits no longer than this for a router that does not answer. */
#define HM_ROUTER_DEADLINE_S 10
/* How long SSDP discovery listens for IGDs (upnpDiscoverDevices' delay). */
#define HM_SSDP_WAIT_MS 2000
/* NAT-PMP gets this long: RFC 6886 §3.1's 250 ms, doubling, is four tries
 * in 3.75 s; its full nine tries (64 s) would outlast any timer run. */
#define HM_NATPMP_WAIT_MS 4000
/* One HTTP request to the IGD: a LAN device answers in milliseconds. */
#define HM_IGD_HTTP_TIMEOUT_S 5
/* A root description is a few kB; a SOAP answer well under one. */
#define HM_IGD_MAX_BODY (64 * 1024)
#define HM_NATPMP_PORT 5351

/* Parses "natpmp://GATEWAY[:PORT]": GATEWAY a numeric IPv4 address, PORT
 * 1-65535 (default HM_NATPMP_PORT), nothing after it but an optional "/".
 * Returns 0 with *gw and *port, or -1 with *err (HM_ERROR_PARSE). */
int hm_natpmp_parse_url(const char *url, struct in_addr *gw, guint16 *port, GError **err);

/* A NAT-PMP public-address reply (RFC 6886 §3.2: version 0, opcode 128,
 * result code, epoch, address; 12 bytes, more is ignored). Returns 1 with
 * *out (AF_INET), 0 when buf is no such reply (too short, another version
 * or opcode: a stray datagram to ignore), or -1 with *err
 * (HM_ERROR_PROTOCOL) naming a non-zero result code in words. */
int hm_natpmp_parse_reply(const guint8 *buf, gsize len, HmIpAddr *out, GError **err);

/* Asks gw:port for its public address over UDP, resending after 250 ms,
 * 500 ms... (RFC 6886 §3.1) until deadline. Returns 0 with *out, or -1 with
 * *err: HM_ERROR_TIMEOUT (no answer by the deadline), HM_ERROR_IO (refused:
 * nothing listens there; socket errors), HM_ERROR_PROTOCOL (an error code). */
int hm_natpmp_public_address(struct in_addr gw, guint16 port, gint64 deadline,
                             HmIpAddr *out, GError **err);

/* One line of /proc/net/route ("Iface Destination Gateway Flags ...", hex
 * in the kernel's byte order): TRUE with *gw when it is an IPv4 default
 * route through a gateway (destination and mask 0, flags UP|GATEWAY). */
gboolean hm_route_default_gateway(const char *line, struct in_addr *gw);

/* The first default gateway in /proc/net/route. Returns 0 with *gw, or -1
 * with *err (HM_ERROR_IO: unreadable; HM_ERROR_FAILED: no default route). */
int hm_default_gateway(struct in_addr *gw, GError **err);

/* From an IGD root description (desc, len bytes) fetched from desc_url:
 * the absolute control URL and the service type of its first
 * WANIPConnection or WANPPPConnection service (n = 0), or of the second
 * one when the device has both (n = 1). Returns 0 with both (g_free()
 * them), or -1 with *err (HM_ERROR_PARSE: no such service, or a service
 * type that cannot go into a SOAPAction header). */
int hm_igd_wan_service(const char *desc, gsize len, const char *desc_url, int n,
                       char **control_url, char **service_type, GError **err);

/* The SOAP answer (body, len bytes, HTTP status) to GetExternalIPAddress:
 * NewExternalIPAddress as an IPv4 address. Returns 0 with *out, or -1 with
 * *err (HM_ERROR_PROTOCOL): the UPnP fault (errorCode, errorDescription),
 * an empty address (the WAN link is down) or one that is not IPv4. */
int hm_igd_parse_external_ip(const char *body, gsize len, long status, HmIpAddr *out,
                             GError **err);

/* The whole IGD exchange: GET desc_url, find the WAN connection service,
 * POST GetExternalIPAddress to it (to the second service when the first
 * fails), over lib/http.c, never through a proxy, each request bounded
 * by HM_IGD_HTTP_TIMEOUT_S and deadline. Returns 0 with *out, or -1 with
 * *err (HM_ERROR_TIMEOUT, HM_ERROR_IO, HM_ERROR_PARSE, HM_ERROR_PROTOCOL). */
int hm_igd_external_ip(const char *desc_url, gint64 deadline, HmIpAddr *out, GError **err);

/* SSDP discovery (libminiupnpc) of Internet gateway devices, listening
 * HM_SSDP_WAIT_MS: their description URLs, NULL-terminated, possibly
 * empty (g_strfreev() it). Returns NULL with *err when no socket could
 * be opened. */
char **hm_igd_discover(GError **err);

#endif
