/* DNS queries through libldns (see dns.h). */
#include <config.h>

#include "lib/dns.h"
#include "lib/net.h"

ldns_resolver *
hm_dns_resolver_new(const char *resolver, guint timeout_ms, char **why)
{
	ldns_resolver *r = NULL;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	ldns_status st;

	if (resolver == NULL) {
		st = ldns_resolver_new_frm_file(&r, NULL);
		if (st != LDNS_STATUS_OK || r == NULL) {
			*why = g_strdup_printf("resolv.conf: %s", ldns_get_errorstr_by_id(st));
			return NULL;
		}
	} else {
		HmListenSpec spec;
		g_autoptr(GError) err = NULL;
		ldns_rdf *ns;

		if (hm_listen_spec_parse(resolver, &spec, &err) < 0 || spec.tls) {
			*why = g_strdup_printf("resolver %s: %s", resolver,
			                       err != NULL ? err->message : "no /tls for DNS");
			if (err == NULL)
				hm_listen_spec_clear(&spec);
			return NULL;
		}
		ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, spec.host);
		if (ns == NULL)
			ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, spec.host);
		if (ns == NULL || (r = ldns_resolver_new()) == NULL ||
		    ldns_resolver_push_nameserver(r, ns) != LDNS_STATUS_OK) {
			*why = g_strdup_printf("resolver %s: not a numeric address", resolver);
			ldns_rdf_deep_free(ns);
			if (r != NULL)
				ldns_resolver_deep_free(r);
			hm_listen_spec_clear(&spec);
			return NULL;
		}
		ldns_rdf_deep_free(ns);
		ldns_resolver_set_port(r, spec.port);
		hm_listen_spec_clear(&spec);
	}
	ldns_resolver_set_timeout(r, tv);
	ldns_resolver_set_retry(r, 1);
	ldns_resolver_set_retrans(r, 0);
	ldns_resolver_set_recursive(r, true);
	ldns_resolver_set_dnssec(r, false);
	ldns_resolver_set_random(r, false);
	/* ldns retries a truncated answer over TCP, where its timeout bounds
	 * each read and not the query: a server that drips its answer holds
	 * the caller for minutes. The answers we ask for (A and TXT of a
	 * blocklist, SRV) fit in one datagram of this size. */
	ldns_resolver_set_fallback(r, false);
	ldns_resolver_set_usevc(r, false);
	ldns_resolver_set_edns_udp_size(r, 1232);
	return r;
}

ldns_pkt *
hm_dns_ask(ldns_resolver *r, const ldns_rdf *name, ldns_rr_type type, char **why)
{
	ldns_pkt *q = NULL, *reply = NULL;
	ldns_status st;

	st = ldns_resolver_prepare_query_pkt(&q, r, name, type, LDNS_RR_CLASS_IN, LDNS_RD);
	if (st != LDNS_STATUS_OK) {
		*why = g_strdup_printf("query: %s", ldns_get_errorstr_by_id(st));
		return NULL;
	}
	st = ldns_resolver_send_pkt(&reply, r, q);
	if (st == LDNS_STATUS_OK && reply != NULL && ldns_pkt_id(reply) != ldns_pkt_id(q)) {
		st = LDNS_STATUS_ERR;
		*why = g_strdup("reply with another ID");
	} else if (st != LDNS_STATUS_OK || reply == NULL) {
		*why = g_strdup_printf("no reply (timeout or network error): %s",
		                       ldns_get_errorstr_by_id(st));
	} else if (ldns_pkt_tc(reply)) {
		st = LDNS_STATUS_ERR;
		*why = g_strdup("truncated reply (not asked again over TCP)");
	}
	ldns_pkt_free(q);
	if (st != LDNS_STATUS_OK || reply == NULL) {
		ldns_pkt_free(reply);
		return NULL;
	}
	return reply;
}

gboolean
hm_dns_reply_matches(const ldns_pkt *reply, const ldns_rdf *qname, ldns_rr_type type)
{
	const ldns_rr *q;

	if (!ldns_pkt_qr(reply) || ldns_pkt_qdcount(reply) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(reply)) != 1)
		return FALSE;
	q = ldns_rr_list_rr(ldns_pkt_question(reply), 0);
	return ldns_rr_get_type(q) == type && ldns_rr_get_class(q) == LDNS_RR_CLASS_IN &&
	       ldns_rr_owner(q) != NULL && ldns_dname_compare(ldns_rr_owner(q), qname) == 0;
}
