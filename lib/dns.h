/* DNS queries through libldns: one resolver policy (a query is sent once
 * and waits a bounded time, to a given "HOST:PORT" or to the resolvers of
 * /etc/resolv.conf) for the relay's blocklist checks and setup's SRV
 * lookups. */
#ifndef HM_DNS_H
#define HM_DNS_H

#include <glib.h>
#include <ldns/ldns.h>

/* A resolver for resolver ("HOST:PORT" or "[IPV6]:PORT" with a numeric
 * HOST; NULL: /etc/resolv.conf) that sends each query once (no retries)
 * and waits timeout_ms per name server for it; recursion desired, no
 * DNSSEC, UDP only (EDNS0, 1232 octets). Returns it (ldns_resolver_deep_free()), or NULL with *why set
 * to a new string. */
ldns_resolver *hm_dns_resolver_new(const char *resolver, guint timeout_ms, char **why);

/* Sends one query for name/type/IN and returns its reply (ldns_pkt_free()),
 * which carries the query's ID; NULL with *why set ("no reply (timeout or
 * network error): ...", "reply with another ID", "truncated reply ..."). The reply's question is
 * not checked: see hm_dns_reply_matches(). */
ldns_pkt *hm_dns_ask(ldns_resolver *r, const ldns_rdf *name, ldns_rr_type type, char **why);

/* TRUE if reply answers qname/type/IN: a response with that one question
 * (the name compared case-insensitively). */
gboolean hm_dns_reply_matches(const ldns_pkt *reply, const ldns_rdf *qname, ldns_rr_type type);

#endif
