/* relay/dnsbl.c's reply readers, shared with their fuzz target
 * (tests/fuzz/fuzz-dnsbl.c): everything a blocklist's server sends passes
 * through them. */
#ifndef RELAY_DNSBL_PRIVATE_H
#define RELAY_DNSBL_PRIVATE_H

#include <glib.h>
#include <ldns/ldns.h>

#include "relay/dnsbl.h"

/* The verdict of reply, the answer to an A query for qname: ERROR unless
 * reply is a response with qname/A/IN as its one question (compared
 * case-insensitively) and rcode NOERROR or NXDOMAIN; NXDOMAIN or no A
 * record CLEAN; otherwise the A records through relay_dnsbl_classify(),
 * the worst winning (ERROR over REFUSED over LISTED). *detail gets a new
 * string saying why for REFUSED and ERROR ("rcode SERVFAIL", "answer 10.0.0.1
 * outside 127/8"), the first listing code for LISTED, NULL for CLEAN. */
RelayDnsblVerdict relay_dnsbl_a_reply(const ldns_pkt *reply, const ldns_rdf *qname,
                                      char **detail);

/* The reason in reply, the answer to a TXT query for qname: the TXT
 * records of the answer section, each one's strings joined, records
 * separated by "; ", sanitised (relay_dnsbl_sanitize()). Returns a new
 * string, "" when reply does not match the question, fails, or holds no
 * TXT record. */
char *relay_dnsbl_txt_reply(const ldns_pkt *reply, const ldns_rdf *qname);

#endif
