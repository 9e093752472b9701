/* The rfc2136 provider's parts (rfc2136.c, rfc2136-net.c): a DNS UPDATE
 * (RFC 2136) that replaces the A or AAAA RRset of the host name with the
 * one new address, signed with TSIG (RFC 8945), built, signed and checked
 * by libldns and sent over TCP. Declared here for the unit and fuzz
 * tests; the scheduler knows the provider only as hm_dyn_rfc2136. */
#ifndef HM_DYN_RFC2136_H
#define HM_DYN_RFC2136_H

#include <glib.h>
#include <ldns/ldns.h>

#include "dyndns/provider.h"

#define HM_DYN_RFC2136_PORT 53
/* Each connect, write and read must finish within this: a server that
 * stalls costs one run 10 s per record, not a hung timer. */
#define HM_DYN_RFC2136_TIMEOUT_MS 10000
/* RFC 8945 4.5.2's recommended fudge: the clocks may differ by 5 minutes. */
#define HM_DYN_RFC2136_FUDGE 300
/* An answer to a two-record update is small; a larger one is refused
 * rather than buffered. */
#define HM_DYN_RFC2136_ANSWER_MAX 4096

/* The zone the update goes to: rec->zone, or, when it is NULL, the
 * parent domain of rec->hostname ("dyn.example" for
 * "box.dyn.example"). NULL when the host name has no parent (a single
 * label). g_free() it. */
char *hm_dyn_rfc2136_zone(const HmDnsRecordConf *rec);

/* The algorithm name libldns signs with ("hmac-sha256.") for a
 * tsig_algorithm of the config ("hmac-sha256"; NULL means that default);
 * NULL when it is not one homemail.conf(5) lists. */
const char *hm_dyn_rfc2136_algorithm(const char *name);

/* The name of an RCODE or a TSIG error ("NOERROR", "NOTAUTH", "BADKEY");
 * NULL for a number without a name. */
const char *hm_dyn_rfc2136_rcode_name(guint code);

/* What an answer means: rcode is the header's RCODE, tsig_error the
 * TSIG RR's error field (0 when none), verified TRUE when the answer
 * carries a TSIG that checks with our key. Only NOERROR with a verified
 * TSIG is HM_DYN_OK; SERVFAIL backs off; a refusal (NOTAUTH, REFUSED,
 * NOTZONE, a TSIG error but BADTIME...) holds the record; BADTIME (a
 * clock, which comes right by itself) backs off; an unsigned or badly
 * signed NOERROR backs off (it proves nothing). Sets res->code to the
 * name of the RCODE (or TSIG error) and res->text to one line in words
 * naming the key (never its secret) and the zone. */
void hm_dyn_rfc2136_judge(guint rcode, guint tsig_error, gboolean verified,
                          const HmDnsRecordConf *rec, const char *zone, HmDynResult *res);

/* Builds the UPDATE for u into zone: delete the host name's RRset of the
 * address's type, add the address with rec->ttl; signed with the TSIG
 * key (tsig_name, tsig_algorithm, u->secret in base64). Returns the
 * packet (ldns_pkt_free()), or NULL with *err set (a secret that is not
 * base64, a name libldns refuses). */
ldns_pkt *hm_dyn_rfc2136_packet(const HmDynUpdate *u, const char *zone, GError **err);

/* Reads the answer wire[0..len) to query (the signed packet sent) and
 * fills res: RETRY when it is not an answer to this query (unparsable,
 * another ID, not an UPDATE response), else hm_dyn_rfc2136_judge() after
 * checking its TSIG against the query's MAC. */
void hm_dyn_rfc2136_answer(const ldns_pkt *query, const guint8 *wire, gsize len,
                           const HmDynUpdate *u, const char *zone, HmDynResult *res);

/* Sends the DNS message q[0..qlen) over TCP to host:port (a name is
 * resolved) and returns the answer (g_free() it) with its length in
 * *alen; each step has HM_DYN_RFC2136_TIMEOUT_MS. NULL with *err set
 * (network error, timeout, an answer over HM_DYN_RFC2136_ANSWER_MAX). */
guint8 *hm_dyn_dns_tcp_exchange(const char *host, guint16 port, const guint8 *q, gsize qlen,
                                gsize *alen, GError **err);

/* The primary server of zone (its SOA MNAME, without the final dot),
 * asked of the system's resolvers (/etc/resolv.conf). NULL with *err. */
char *hm_dyn_dns_primary(const char *zone, GError **err);

#endif
