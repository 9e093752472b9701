#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"
#include "error.h"
#include "parse.h"

/* Longer than any textual IPv6 address (INET6_ADDRSTRLEN is 46 with NUL). */
#define CIDR_ADDR_MAX 64

static int
addr_parse(const char *text, gsize len, HmCidr *out, GError **err)
{
	char buf[CIDR_ADDR_MAX];

	if (len == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "empty address");
		return -1;
	}
	if (len >= sizeof(buf)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "address too long");
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(out->addr, 0, sizeof(out->addr));
	/* inet_pton() rather than inet_aton(): the latter accepts "10.1" and
	 * octal/hex parts, which would match ranges nobody meant. */
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "not an IPv4 or IPv6 address: \"%s\"", buf);
	return -1;
}

/* TRUE if the first prefix bits of a and b agree. */
static gboolean
prefix_equal(const guint8 *a, const guint8 *b, guint prefix)
{
	guint whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return FALSE;
	if (rest == 0)
		return TRUE;
	return ((a[whole] ^ b[whole]) & (guint8)(0xff << (8 - rest))) == 0;
}

/* TRUE if no bit of addr beyond the first prefix bits is set. */
static gboolean
host_bits_clear(const guint8 *addr, gsize size, guint prefix)
{
	guint whole = prefix / 8, rest = prefix % 8;
	gsize i = whole;

	if (rest != 0) {
		if ((addr[whole] & (guint8)(0xff >> rest)) != 0)
			return FALSE;
		i++;
	}
	for (; i < size; i++)
		if (addr[i] != 0)
			return FALSE;
	return TRUE;
}

static gsize
family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

int
hm_cidr_parse(const char *text, HmCidr *out, GError **err)
{
	const char *slash;
	gsize addr_len, bits;
	guint64 prefix;
	HmCidr r;

	slash = strchr(text, '/');
	addr_len = slash != NULL ? (gsize)(slash - text) : strlen(text);
	if (addr_parse(text, addr_len, &r, err) < 0)
		return -1;
	bits = family_bits(r.family);
	if (slash == NULL) {
		prefix = bits;
	} else if (hm_parse_uint_n(slash + 1, strlen(slash + 1), 0, bits, &prefix) < 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "bad prefix length \"%s\" in \"%s\" (want 0-%" G_GSIZE_FORMAT ")",
		            slash + 1, text, bits);
		return -1;
	}
	r.prefix = (guint)prefix;
	if (!host_bits_clear(r.addr, bits / 8, r.prefix)) {
		g_autofree char *canon = NULL;
		HmCidr fixed = r;

		for (gsize i = 0; i < bits / 8; i++) {
			guint lo = (guint)i * 8;
			if (lo >= r.prefix)
				fixed.addr[i] = 0;
			else if (r.prefix - lo < 8)
				fixed.addr[i] &= (guint8)(0xff << (8 - (r.prefix - lo)));
		}
		canon = hm_cidr_to_string(&fixed);
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "\"%s\" has bits set beyond the /%u prefix (did you mean %s?)",
		            text, r.prefix, canon);
		return -1;
	}
	*out = r;
	return 0;
}

gboolean
hm_cidr_match(const HmCidr *range, const struct sockaddr *sa)
{
	static const guint8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const guint8 *addr;

	if (sa == NULL)
		return FALSE;
	if (sa->sa_family == AF_INET) {
		addr = (const guint8 *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		if (range->family != AF_INET)
			return FALSE;
	} else if (sa->sa_family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; they
		 * must still match the IPv4 ranges the user wrote. */
		if (range->family == AF_INET) {
			if (memcmp(addr, v4mapped, sizeof(v4mapped)) != 0)
				return FALSE;
			addr += sizeof(v4mapped);
		}
	} else {
		return FALSE;
	}
	return prefix_equal(addr, range->addr, range->prefix);
}

gboolean
hm_cidr_list_match(const HmCidr *ranges, gsize n, const struct sockaddr *sa)
{
	for (gsize i = 0; i < n; i++)
		if (hm_cidr_match(&ranges[i], sa))
			return TRUE;
	return FALSE;
}

char *
hm_cidr_to_string(const HmCidr *range)
{
	char buf[INET6_ADDRSTRLEN];

	if (inet_ntop(range->family, range->addr, buf, sizeof(buf)) == NULL)
		return g_strdup("(invalid)");
	return g_strdup_printf("%s/%u", buf, range->prefix);
}
