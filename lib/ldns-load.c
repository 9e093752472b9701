/* libldns opened with dlopen() at the first call of any of its functions,
 * rather than linked: libldns needs libcrypto (for TSIG and DNSSEC), which
 * a linked libldns would load into every process at start; see
 * lib/ssl-load.c for what that costs and how these forwarders work. Its
 * users are lib/dns.c (the relay's DNSBL lookups), dyndns's RFC 2136
 * updates and setup's SRV lookups; none links libldns (Makefile.am:
 * HM_DNS_LIBS). */
#include <config.h>

#include <stdbool.h>            /* before ldns.h, so that bool is C's */

#include <ldns/ldns.h>

#include "lib/dl.h"

/* libldns 1.7 and 1.8's soname (Debian 11 to 13). */
#define LIBLDNS_SONAME "libldns.so.3"

/* F(return type, name, (parameters), (arguments)); V for those returning
 * nothing. */
#define HM_LDNS_FUNCS(F, V) \
	F(int, ldns_dname_compare, (const ldns_rdf *a, const ldns_rdf *b), (a, b)) \
	F(ldns_rdf *, ldns_dname_new_frm_str, (const char *a), (a)) \
	F(const char *, ldns_get_errorstr_by_id, (ldns_status a), (a)) \
	F(ldns_status, ldns_pkt2wire, (uint8_t **a, const ldns_pkt *b, size_t *c), (a, b, c)) \
	F(ldns_rr_list *, ldns_pkt_answer, (const ldns_pkt *a), (a)) \
	F(ldns_rr_list *, ldns_pkt_authority, (const ldns_pkt *a), (a)) \
	F(ldns_pkt *, ldns_pkt_clone, (const ldns_pkt *a), (a)) \
	V(void, ldns_pkt_free, (ldns_pkt *a), (a)) \
	F(ldns_pkt_opcode, ldns_pkt_get_opcode, (const ldns_pkt *a), (a)) \
	F(ldns_pkt_rcode, ldns_pkt_get_rcode, (const ldns_pkt *a), (a)) \
	F(uint16_t, ldns_pkt_id, (const ldns_pkt *a), (a)) \
	F(bool, ldns_pkt_push_rr, (ldns_pkt *a, ldns_pkt_section b, ldns_rr *c), (a, b, c)) \
	F(uint16_t, ldns_pkt_qdcount, (const ldns_pkt *a), (a)) \
	F(bool, ldns_pkt_qr, (const ldns_pkt *a), (a)) \
	F(ldns_pkt *, ldns_pkt_query_new, (ldns_rdf *a, ldns_rr_type b, ldns_rr_class c, uint16_t d), (a, b, c, d)) \
	F(ldns_rr_list *, ldns_pkt_question, (const ldns_pkt *a), (a)) \
	F(char *, ldns_pkt_rcode2str, (ldns_pkt_rcode a), (a)) \
	V(void, ldns_pkt_set_id, (ldns_pkt *a, uint16_t b), (a, b)) \
	V(void, ldns_pkt_set_qr, (ldns_pkt *a, bool b), (a, b)) \
	V(void, ldns_pkt_set_random_id, (ldns_pkt *a), (a)) \
	V(void, ldns_pkt_set_rcode, (ldns_pkt *a, uint8_t b), (a, b)) \
	V(void, ldns_pkt_set_tsig, (ldns_pkt *a, ldns_rr *b), (a, b)) \
	F(bool, ldns_pkt_tc, (const ldns_pkt *a), (a)) \
	F(ldns_rr *, ldns_pkt_tsig, (const ldns_pkt *a), (a)) \
	F(ldns_status, ldns_pkt_tsig_sign, (ldns_pkt *a, const char *b, const char *c, uint16_t d, const char *e, const ldns_rdf *f), (a, b, c, d, e, f)) \
	F(bool, ldns_pkt_tsig_verify, (ldns_pkt *a, const uint8_t *b, size_t c, const char *d, const char *e, const ldns_rdf *f), (a, b, c, d, e, f)) \
	F(uint16_t, ldns_rdf2native_int16, (const ldns_rdf *a), (a)) \
	F(char *, ldns_rdf2str, (const ldns_rdf *a), (a)) \
	F(uint8_t *, ldns_rdf_data, (const ldns_rdf *a), (a)) \
	V(void, ldns_rdf_deep_free, (ldns_rdf *a), (a)) \
	F(ldns_rdf_type, ldns_rdf_get_type, (const ldns_rdf *a), (a)) \
	F(ldns_rdf *, ldns_rdf_new_frm_str, (ldns_rdf_type a, const char *b), (a, b)) \
	F(size_t, ldns_rdf_size, (const ldns_rdf *a), (a)) \
	V(void, ldns_resolver_deep_free, (ldns_resolver *a), (a)) \
	F(ldns_resolver *, ldns_resolver_new, (void), ()) \
	F(ldns_status, ldns_resolver_new_frm_file, (ldns_resolver **a, const char *b), (a, b)) \
	F(ldns_status, ldns_resolver_prepare_query_pkt, (ldns_pkt **a, ldns_resolver *b, const ldns_rdf *c, ldns_rr_type d, ldns_rr_class e, uint16_t f), (a, b, c, d, e, f)) \
	F(ldns_status, ldns_resolver_push_nameserver, (ldns_resolver *a, const ldns_rdf *b), (a, b)) \
	F(ldns_pkt *, ldns_resolver_query, (const ldns_resolver *a, const ldns_rdf *b, ldns_rr_type c, ldns_rr_class d, uint16_t e), (a, b, c, d, e)) \
	F(ldns_status, ldns_resolver_send_pkt, (ldns_pkt **a, ldns_resolver *b, ldns_pkt *c), (a, b, c)) \
	V(void, ldns_resolver_set_dnssec, (ldns_resolver *a, bool b), (a, b)) \
	V(void, ldns_resolver_set_edns_udp_size, (ldns_resolver *a, uint16_t b), (a, b)) \
	V(void, ldns_resolver_set_fallback, (ldns_resolver *a, bool b), (a, b)) \
	V(void, ldns_resolver_set_port, (ldns_resolver *a, uint16_t b), (a, b)) \
	V(void, ldns_resolver_set_random, (ldns_resolver *a, bool b), (a, b)) \
	V(void, ldns_resolver_set_recursive, (ldns_resolver *a, bool b), (a, b)) \
	V(void, ldns_resolver_set_retrans, (ldns_resolver *a, uint8_t b), (a, b)) \
	V(void, ldns_resolver_set_retry, (ldns_resolver *a, uint8_t b), (a, b)) \
	V(void, ldns_resolver_set_timeout, (ldns_resolver *a, struct timeval b), (a, b)) \
	V(void, ldns_resolver_set_usevc, (ldns_resolver *a, bool b), (a, b)) \
	F(ldns_rr *, ldns_rr_clone, (const ldns_rr *a), (a)) \
	V(void, ldns_rr_free, (ldns_rr *a), (a)) \
	F(ldns_rr_class, ldns_rr_get_class, (const ldns_rr *a), (a)) \
	F(ldns_rr_type, ldns_rr_get_type, (const ldns_rr *a), (a)) \
	V(void, ldns_rr_list_deep_free, (ldns_rr_list *a), (a)) \
	F(ldns_rr_list *, ldns_rr_list_new, (void), ()) \
	F(bool, ldns_rr_list_push_rr, (ldns_rr_list *a, const ldns_rr *b), (a, b)) \
	F(ldns_rr *, ldns_rr_list_rr, (const ldns_rr_list *a, size_t b), (a, b)) \
	F(size_t, ldns_rr_list_rr_count, (const ldns_rr_list *a), (a)) \
	F(ldns_rr *, ldns_rr_new, (void), ()) \
	F(ldns_status, ldns_rr_new_frm_str, (ldns_rr **a, const char *b, uint32_t c, const ldns_rdf *d, ldns_rdf **e), (a, b, c, d, e)) \
	F(ldns_rdf *, ldns_rr_owner, (const ldns_rr *a), (a)) \
	F(bool, ldns_rr_push_rdf, (ldns_rr *a, const ldns_rdf *b), (a, b)) \
	F(size_t, ldns_rr_rd_count, (const ldns_rr *a), (a)) \
	F(ldns_rdf *, ldns_rr_rdf, (const ldns_rr *a, size_t b), (a, b)) \
	V(void, ldns_rr_set_class, (ldns_rr *a, ldns_rr_class b), (a, b)) \
	V(void, ldns_rr_set_owner, (ldns_rr *a, ldns_rdf *b), (a, b)) \
	V(void, ldns_rr_set_ttl, (ldns_rr *a, uint32_t b), (a, b)) \
	V(void, ldns_rr_set_type, (ldns_rr *a, ldns_rr_type b), (a, b)) \
	F(uint32_t, ldns_rr_ttl, (const ldns_rr *a), (a)) \
	F(ldns_pkt *, ldns_update_pkt_new, (ldns_rdf *a, ldns_rr_class b, const ldns_rr_list *c, const ldns_rr_list *d, const ldns_rr_list *e), (a, b, c, d, e)) \
	F(uint16_t, ldns_update_prcount, (const ldns_pkt *a), (a)) \
	F(uint16_t, ldns_update_zocount, (const ldns_pkt *a), (a)) \
	F(ldns_status, ldns_wire2pkt, (ldns_pkt **a, const uint8_t *b, size_t c), (a, b, c)) \
	F(ldns_status, ldns_wire2rr, (ldns_rr **a, const uint8_t *b, size_t c, size_t *d, ldns_pkt_section e), (a, b, c, d, e))

static struct {
	HM_LDNS_FUNCS(HM_DL_FIELD, HM_DL_FIELD)
} fn;

static const HmDlSym syms[] = {
	HM_LDNS_FUNCS(HM_DL_SYM, HM_DL_SYM)
};

static void
load(void)
{
	static GOnce once = G_ONCE_INIT;

	hm_dl_require(&once, LIBLDNS_SONAME, syms, G_N_ELEMENTS(syms), "libldns3");
}

HM_LDNS_FUNCS(HM_DL_FORWARD, HM_DL_FORWARD_VOID)
