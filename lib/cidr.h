/* Address ranges ("192.168.1.0/24", "::1/128", "10.0.0.1") and matching a
 * peer address against them. */
#ifndef HM_CIDR_H
#define HM_CIDR_H

#include <glib.h>
#include <sys/socket.h>

typedef struct {
	int family;       /* AF_INET or AF_INET6 */
	guint8 addr[16];  /* network order; first 4 bytes for AF_INET */
	guint prefix;     /* 0-32 or 0-128 */
} HmCidr;

/* Parses "ADDR" or "ADDR/PREFIX" (IPv4 dotted quad or IPv6, no brackets, no
 * zone). A missing prefix means a single host. Bits set beyond the prefix
 * are an error ("192.168.1.5/24"), since they usually hide a typo.
 * Returns 0, or -1 with *err set to a message naming the problem. */
int hm_cidr_parse(const char *text, HmCidr *out, GError **err);

/* TRUE if sa (AF_INET or AF_INET6) lies in the range. An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) matches IPv4 ranges as its IPv4 address. */
gboolean hm_cidr_match(const HmCidr *range, const struct sockaddr *sa);

/* TRUE if sa matches any of the n ranges. */
gboolean hm_cidr_list_match(const HmCidr *ranges, gsize n, const struct sockaddr *sa);

/* The range in canonical text form ("192.168.1.0/24"); g_free() it. */
char *hm_cidr_to_string(const HmCidr *range);

#endif
