/* Public addresses: parsing what a check-IP page, a router or an interface
 * says, and deciding whether it may be published in DNS. */
#ifndef HM_DYN_IPADDR_H
#define HM_DYN_IPADDR_H

#include <glib.h>
#include <netinet/in.h>

typedef struct {
	int family;                  /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
} HmIpAddr;

/* What kind of address it is; only HM_IP_GLOBAL may be published. */
typedef enum {
	HM_IP_GLOBAL,
	HM_IP_UNSPECIFIED,           /* 0.0.0.0, :: */
	HM_IP_LOOPBACK,
	HM_IP_PRIVATE,               /* RFC 1918, IPv6 ULA fc00::/7 */
	HM_IP_CGNAT,                 /* 100.64.0.0/10 (RFC 6598) */
	HM_IP_LINK_LOCAL,            /* 169.254/16, fe80::/10 */
	HM_IP_DOCUMENTATION,         /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32 */
	HM_IP_MULTICAST,
	HM_IP_RESERVED,              /* the rest no host on the internet has */
} HmIpKind;

/* Parses a numeric IPv4 or IPv6 address (no brackets, no port). */
gboolean hm_ip_parse(const char *text, HmIpAddr *out);

/* The address as text ("192.0.2.1", "2001:db8::1"); g_free() it. */
char *hm_ip_to_string(const HmIpAddr *a);

gboolean hm_ip_equal(const HmIpAddr *a, const HmIpAddr *b);

HmIpKind hm_ip_kind(const HmIpAddr *a);

/* "a private address", "a carrier-grade NAT address"...: for messages. */
const char *hm_ip_kind_text(HmIpKind kind);

/* Finds the address of the given family in the body of a check-IP page:
 * the whole body as a bare address, or the one address in the text
 * ("Current IP Address: 192.0.2.1" in HTML). Two different addresses of
 * the family in one page, or none, is a failure: a page that says
 * something we do not understand must never be published. Returns TRUE
 * and fills *out, or FALSE with *why set to a static reason. */
gboolean hm_ip_from_page(const char *body, int family, HmIpAddr *out, const char **why);

#endif
