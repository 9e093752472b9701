/* DNS blocklists (RFC 5782) for inbound SMTP clients: the relay asks each
 * configured zone (relay.dnsbl) about an untrusted client's address
 * before it accepts mail from it. Queries go through libldns to
 * relay.dns_resolver, or to the resolvers of /etc/resolv.conf. */
#ifndef RELAY_DNSBL_H
#define RELAY_DNSBL_H

#include <glib.h>
#include <netinet/in.h>

/* What the relay does with each: LISTED refuses the client; CLEAN, and
 * also REFUSED and ERROR, accept it (a blocklist that cannot answer must
 * not stop mail; the caller logs those). Ordered by severity: relay/dnsbl.c
 * keeps the worst of several answers by comparing them. */
typedef enum {
	RELAY_DNSBL_CLEAN,   /* no zone lists the address (NXDOMAIN / no A record) */
	RELAY_DNSBL_LISTED,  /* a zone answered 127.0.0.2 - 127.255.254.255 */
	RELAY_DNSBL_REFUSED, /* a zone answered 127.255.255.0/24: it will not answer
	                      * us (Spamhaus: query through a public resolver, over
	                      * quota, typing error in the zone name) */
	RELAY_DNSBL_ERROR,   /* timeout, SERVFAIL, a reply that does not match the
	                      * query, or an answer outside 127/8 (a resolver that
	                      * wildcards NXDOMAIN to an advertising page) */
} RelayDnsblVerdict;

/* Per-query timeout the relay uses: the session is a process of its own per
 * connection, so a blocking check costs only that client's time. */
#define RELAY_DNSBL_TIMEOUT_MS 5000

/* Longest reason kept (bytes, without the NUL): it ends up in a one-line
 * SMTP reply, which RFC 5321 bounds at 512 octets with the code. */
#define RELAY_DNSBL_REASON_MAX 200

typedef struct {
	RelayDnsblVerdict verdict;
	char *zone;   /* the zone that listed (LISTED) or failed (REFUSED,
	               * ERROR); NULL for CLEAN */
	char *reason; /* LISTED: the zone's TXT record, sanitised
	               * (relay_dnsbl_sanitize()), or "listed in ZONE" without
	               * one. REFUSED/ERROR: what went wrong, for the log
	               * ("no reply (timeout or network error): ...",
	               * "rcode SERVFAIL", "answer 10.0.0.1 outside 127/8").
	               * NULL for CLEAN. It comes from the network and
	               * may hold '%': never use it as a format string. */
} RelayDnsblResult;

/* Checks ip ("192.0.2.1", "2001:db8::1"; an IPv4-mapped IPv6 address is
 * checked as the IPv4 address) against each zone of the NULL-terminated
 * list zones, in order, stopping at the first that lists it. resolver is
 * "HOST:PORT" or "[IPV6]:PORT" with a numeric HOST, or NULL for
 * /etc/resolv.conf. Each DNS query (an A and, for a listing, a TXT) is
 * sent once and waits at most timeout_ms per name server (resolv.conf may
 * list several, tried in turn): no retries, since a blocklist that does
 * not answer in time is an ERROR and the client is not kept waiting. So
 * one zone costs at most 2 * timeout_ms with relay.dns_resolver set.
 *
 * Returns the verdict, also stored in res (cleared first; release it with
 * relay_dnsbl_result_clear()): LISTED for the first zone that lists ip;
 * otherwise REFUSED or ERROR from the first zone that could not answer
 * (later zones are still asked, one of them may list); otherwise CLEAN.
 * An ip that is not a numeric address, an unusable resolver, or a zone
 * name too long for the query is an ERROR. zones NULL or empty: CLEAN.
 * Blocks: call it from the session process, not from a server that
 * serves others. */
RelayDnsblVerdict relay_dnsbl_check(const char *const *zones, const char *ip, const char *resolver,
                                    guint timeout_ms, RelayDnsblResult *res);

/* Frees res's strings and resets it to CLEAN; a cleared or zeroed res is
 * fine. */
void relay_dnsbl_result_clear(RelayDnsblResult *res);

/* The name to look up for ip in zone (RFC 5782 2.1, 2.4), absolute:
 * "4.3.2.1.zen.spamhaus.org." for 1.2.3.4, 32 reversed nibbles for IPv6
 * ("1.0.0.0....8.b.d.0.1.0.0.2.zone." for 2001:db8::1). zone may end in a
 * dot. Returns a new string (g_free()), or NULL if ip is not a numeric
 * IPv4/IPv6 address, zone is empty or starts with a dot, or the name
 * would exceed 253 octets. */
char *relay_dnsbl_query_name(const char *ip, const char *zone);

/* Classifies one A record of a blocklist's answer: 127.0.0.2 -
 * 127.255.254.255 LISTED; 127.255.255.0/24 REFUSED; anything outside
 * 127/8, and 127.0.0.0/127.0.0.1 (no list uses them for a listing, RFC
 * 5782 5), ERROR: never CLEAN, which only the absence of a record means. */
RelayDnsblVerdict relay_dnsbl_classify(const struct in_addr *a);

/* A TXT reason made safe for an SMTP reply: printable ASCII only (every
 * other byte, CR and LF included, becomes a space, runs of spaces become
 * one, leading and trailing ones go), at most RELAY_DNSBL_REASON_MAX
 * bytes ("..." ends a cut one). '%' is kept. txt NULL gives "". Returns a
 * new string (g_free()). */
char *relay_dnsbl_sanitize(const char *txt);

/* "clean", "listed", "refused", "error" (for logs); "?" for another value. */
const char *relay_dnsbl_verdict_name(RelayDnsblVerdict v);

#endif
