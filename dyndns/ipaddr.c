/* Public addresses: parsing and classification (see ipaddr.h). */
#include <config.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "dyndns/ipaddr.h"

gboolean
hm_ip_parse(const char *text, HmIpAddr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &out->u.v4) == 1) {
		out->family = AF_INET;
		return TRUE;
	}
	if (strchr(text, ':') != NULL && inet_pton(AF_INET6, text, &out->u.v6) == 1) {
		out->family = AF_INET6;
		return TRUE;
	}
	return FALSE;
}

char *
hm_ip_to_string(const HmIpAddr *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (inet_ntop(a->family, &a->u, buf, sizeof(buf)) == NULL)
		return g_strdup("?");
	return g_strdup(buf);
}

gboolean
hm_ip_equal(const HmIpAddr *a, const HmIpAddr *b)
{
	if (a->family != b->family)
		return FALSE;
	if (a->family == AF_INET)
		return a->u.v4.s_addr == b->u.v4.s_addr;
	return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
}

/* addr (host order) in net/bits. */
static gboolean
in4(guint32 addr, guint32 net, guint bits)
{
	guint32 mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);

	return (addr & mask) == (net & mask);
}

static HmIpKind
kind4(guint32 a)
{
	static const struct {
		guint32 net;
		guint bits;
		HmIpKind kind;
	} ranges[] = {
		{ 0x00000000, 8, HM_IP_UNSPECIFIED },    /* 0/8: "this network" */
		{ 0x7f000000, 8, HM_IP_LOOPBACK },
		{ 0x0a000000, 8, HM_IP_PRIVATE },
		{ 0xac100000, 12, HM_IP_PRIVATE },
		{ 0xc0a80000, 16, HM_IP_PRIVATE },
		{ 0x64400000, 10, HM_IP_CGNAT },
		{ 0xa9fe0000, 16, HM_IP_LINK_LOCAL },
		{ 0xc0000200, 24, HM_IP_DOCUMENTATION },
		{ 0xc6336400, 24, HM_IP_DOCUMENTATION },
		{ 0xcb007100, 24, HM_IP_DOCUMENTATION },
		{ 0xc0000000, 24, HM_IP_RESERVED },      /* IETF protocol assignments */
		{ 0xc6120000, 15, HM_IP_RESERVED },      /* benchmarking */
		{ 0xe0000000, 4, HM_IP_MULTICAST },
		{ 0xf0000000, 4, HM_IP_RESERVED },       /* and the broadcast address */
	};

	for (guint i = 0; i < G_N_ELEMENTS(ranges); i++)
		if (in4(a, ranges[i].net, ranges[i].bits))
			return ranges[i].kind;
	return HM_IP_GLOBAL;
}

static HmIpKind
kind6(const struct in6_addr *a)
{
	const guint8 *b = a->s6_addr;

	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return HM_IP_UNSPECIFIED;
	if (IN6_IS_ADDR_LOOPBACK(a))
		return HM_IP_LOOPBACK;
	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a))
		return HM_IP_RESERVED;
	if (IN6_IS_ADDR_MULTICAST(a))
		return HM_IP_MULTICAST;
	if (IN6_IS_ADDR_LINKLOCAL(a))
		return HM_IP_LINK_LOCAL;
	if ((b[0] & 0xfe) == 0xfc)
		return HM_IP_PRIVATE;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return HM_IP_DOCUMENTATION;
	if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0x00)
		return HM_IP_DOCUMENTATION;      /* 3fff::/20, RFC 9637 */
	/* 2001:2::/48, benchmarking (RFC 5180), as 198.18/15 is. */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x02 && b[4] == 0 && b[5] == 0)
		return HM_IP_RESERVED;
	/* 6to4 (2002::/16) reaches the IPv4 address it embeds: one that is
	 * not public makes the IPv6 address unreachable too (RFC 3056 2). */
	if (b[0] == 0x20 && b[1] == 0x02) {
		HmIpKind k = kind4((guint32)b[2] << 24 | (guint32)b[3] << 16 | (guint32)b[4] << 8 | b[5]);

		if (k != HM_IP_GLOBAL)
			return k;
	}
	/* Global unicast is 2000::/3; the rest is unassigned or special. */
	if ((b[0] & 0xe0) != 0x20)
		return HM_IP_RESERVED;
	return HM_IP_GLOBAL;
}

HmIpKind
hm_ip_kind(const HmIpAddr *a)
{
	return a->family == AF_INET ? kind4(ntohl(a->u.v4.s_addr)) : kind6(&a->u.v6);
}

const char *
hm_ip_kind_text(HmIpKind kind)
{
	switch (kind) {
	case HM_IP_GLOBAL:
		return "a global address";
	case HM_IP_UNSPECIFIED:
		return "the unspecified address";
	case HM_IP_LOOPBACK:
		return "a loopback address";
	case HM_IP_PRIVATE:
		return "a private address";
	case HM_IP_CGNAT:
		return "a carrier-grade NAT address (100.64.0.0/10)";
	case HM_IP_LINK_LOCAL:
		return "a link-local address";
	case HM_IP_DOCUMENTATION:
		return "a documentation address";
	case HM_IP_MULTICAST:
		return "a multicast address";
	case HM_IP_RESERVED:
		break;
	}
	return "a reserved address";
}

/* Characters an address of family can contain. */
static gboolean
addr_char(char c, int family)
{
	if (family == AF_INET)
		return g_ascii_isdigit(c) || c == '.';
	return g_ascii_isxdigit(c) || c == ':' || c == '.';
}

gboolean
hm_ip_from_page(const char *body, int family, HmIpAddr *out, const char **why)
{
	gboolean found = FALSE;

	for (const char *p = body; *p != '\0';) {
		gsize n = 0;
		char tok[INET6_ADDRSTRLEN + 1];
		HmIpAddr a;

		while (addr_char(p[n], family))
			n++;
		/* A token glued to letters (an "abc1.2.3.4" or a hex word such
		 * as "cafe:") is part of something else. */
		if (n > 0 && n < sizeof(tok) && (p == body || !g_ascii_isalnum(p[-1])) &&
		    !g_ascii_isalnum(p[n])) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			if (hm_ip_parse(tok, &a) && a.family == family) {
				if (found && !hm_ip_equal(&a, out)) {
					*why = "the page names more than one address";
					return FALSE;
				}
				*out = a;
				found = TRUE;
			}
		}
		p += n > 0 ? n : 1;
	}
	if (!found)
		*why = family == AF_INET ? "no IPv4 address in the answer"
		                         : "no IPv6 address in the answer";
	return found;
}
