/* Finding the box's public address: the methods of dyndns.detect, tried in
 * order for each address family, and the rule that nothing implausible
 * ever reaches a provider. */
#ifndef HM_DYN_DETECT_H
#define HM_DYN_DETECT_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "dyndns/ipaddr.h"

/* Tries each method of d->detect for family (AF_INET, AF_INET6) until one
 * gives a publishable address: a global unicast one (a private IPv4 one
 * from an interface too, when d->allow_private). Each failure and each
 * refused answer is logged as a warning naming the method. Returns TRUE
 * with *out and *source ("web https://...", "router", "interface eth0",
 * "static"; g_free() it), or FALSE when no method gave one. */
gboolean hm_dyn_detect(const HmDyndnsConf *d, int family, HmIpAddr *out, char **source);

/* The methods. Each returns 0 with *out (not yet checked for
 * plausibility: hm_dyn_detect() does that), or -1 with *err in words. */

/* GET each of detect_url4/6 in turn, forcing the family (detect-web.c). */
int hm_dyn_detect_web(const HmDyndnsConf *d, int family, HmIpAddr *out, GError **err);

/* The router's WAN address (detect-router.c): UPnP IGD
 * GetExternalIPAddress (router_url or discovery), then NAT-PMP. IPv4
 * only: a router has no "external IPv6 address" to ask for. */
int hm_dyn_detect_router(const HmDyndnsConf *d, int family, HmIpAddr *out, GError **err);

/* The first stable global address of interface ifname (detect-iface.c):
 * IPv6 skips link-local, ULA, deprecated and temporary (privacy)
 * addresses; IPv4 skips private ones unless d->allow_private. */
int hm_dyn_detect_interface(const HmDyndnsConf *d, const char *ifname, int family,
                            HmIpAddr *out, GError **err);

/* One line of /proc/net/if_inet6 ("hex ifindex prefixlen scope flags
 * name", line is modified): TRUE with *out when it names ifname and holds a
 * stable global IPv6 address. */
gboolean hm_dyn_if_inet6_line(char *line, const char *ifname, HmIpAddr *out);

#endif
