/* Mail service SRV records (RFC 6186, RFC 8314) through libldns for
 * hm_discover(): _imaps/_imap, _pop3s/_pop3, _submissions/_submission. */
#ifndef ADMIN_SRV_H
#define ADMIN_SRV_H

#include <glib.h>
#include <ldns/ldns.h>

#include "admin/discover.h"

typedef struct {
	guint16 priority, weight, port;
	/* without the final dot; "." when the service is not offered (RFC
	 * 2782) */
	char *target;
} HmSrvRecord;

/* Sorts r[0..n) in the order to try them: priority ascending, then weight
 * descending (RFC 2782 picks among equal priorities at random in
 * proportion to weight; setup shows one server, so the likeliest), then
 * as given. */
void hm_srv_sort(HmSrvRecord *r, gsize n);

/* The record to use from the sorted r[0..n): the first whose target is
 * not ".", has a port, and is a valid host name. NULL when there is none;
 * *not_offered then says whether the domain said so (a single "."
 * record, RFC 2782) rather than having no usable record. */
const HmSrvRecord *hm_srv_best(const HmSrvRecord *r, gsize n, gboolean *not_offered);

/* The SRV records of reply, the answer to an SRV query for qname, added
 * to out (a GArray of HmSrvRecord; free each target). Returns the number
 * added, or -1 with *why (a new string) when reply does not answer the
 * question or its rcode is neither NOERROR nor NXDOMAIN. */
int hm_srv_from_reply(const ldns_pkt *reply, const ldns_rdf *qname, GArray *out, char **why);

/* Looks up the services of domain for each protocol whose server in out
 * is still empty, the implicit-TLS one first (RFC 8314 5.1), then the
 * STARTTLS one (never plain text), and fills the server from the best
 * record (login and auth UNKNOWN: SRV records do not say), with source
 * "SRV record _imaps._tcp.DOMAIN". Each lookup that gives nothing adds a
 * line to out->tried; after a query the resolver did not answer, no more
 * are sent. Returns the number of servers filled. */
int hm_srv_lookup(const char *domain, const HmDiscoverOptions *opt, HmDiscovery *out);

#endif
