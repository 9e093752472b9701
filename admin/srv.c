/* Mail service SRV records (see srv.h). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "admin/srv.h"
#include "lib/dns.h"

/* Records kept from one answer: a domain publishes a handful; a hostile
 * or broken server must not make us keep thousands. */
#define SRV_RECORDS_MAX 64

/* The services per protocol, the implicit-TLS one first (RFC 8314 5.1);
 * the second is STARTTLS, which homemail never lets fall back to plain
 * text (RFC 6186 leaves that to the client). */
static const struct {
	const char *service;
	HmTlsMode tls;
} services[HM_DISC_N][2] = {
	[HM_DISC_IMAP] = { { "_imaps._tcp", HM_TLS_MODE_TLS },
	                   { "_imap._tcp", HM_TLS_MODE_STARTTLS } },
	[HM_DISC_POP3] = { { "_pop3s._tcp", HM_TLS_MODE_TLS },
	                   { "_pop3._tcp", HM_TLS_MODE_STARTTLS } },
	[HM_DISC_SMTP] = { { "_submissions._tcp", HM_TLS_MODE_TLS },
	                   { "_submission._tcp", HM_TLS_MODE_STARTTLS } },
};

static gint
srv_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
	const HmSrvRecord *x = a, *y = b;

	(void)unused;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return 0;
}

void
hm_srv_sort(HmSrvRecord *r, gsize n)
{
	/* g_qsort_with_data is stable (a merge sort): equal records keep
	 * their order in the answer. */
	g_qsort_with_data(r, (gint)n, sizeof(*r), srv_cmp, NULL);
}

const HmSrvRecord *
hm_srv_best(const HmSrvRecord *r, gsize n, gboolean *not_offered)
{
	*not_offered = n == 1 && strcmp(r[0].target, ".") == 0;
	for (gsize i = 0; i < n; i++)
		if (strcmp(r[i].target, ".") != 0 && r[i].port != 0 &&
		    hm_discover_host_ok(r[i].target))
			return &r[i];
	return NULL;
}

/* One SRV RR as a record; FALSE if rr is not a well-formed SRV. */
static gboolean
srv_record(const ldns_rr *rr, HmSrvRecord *out)
{
	const ldns_rdf *f[4];
	char *target;
	gsize len;

	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SRV || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
	    ldns_rr_rd_count(rr) != 4)
		return FALSE;
	for (int i = 0; i < 4; i++)
		if ((f[i] = ldns_rr_rdf(rr, (size_t)i)) == NULL)
			return FALSE;
	if (ldns_rdf_get_type(f[0]) != LDNS_RDF_TYPE_INT16 ||
	    ldns_rdf_get_type(f[1]) != LDNS_RDF_TYPE_INT16 ||
	    ldns_rdf_get_type(f[2]) != LDNS_RDF_TYPE_INT16 ||
	    ldns_rdf_get_type(f[3]) != LDNS_RDF_TYPE_DNAME)
		return FALSE;
	target = ldns_rdf2str(f[3]);
	if (target == NULL)
		return FALSE;
	len = strlen(target);
	if (len > 1 && target[len - 1] == '.')
		target[len - 1] = '\0';
	out->priority = ldns_rdf2native_int16(f[0]);
	out->weight = ldns_rdf2native_int16(f[1]);
	out->port = ldns_rdf2native_int16(f[2]);
	out->target = g_ascii_strdown(target, -1);
	free(target);
	return TRUE;
}

int
hm_srv_from_reply(const ldns_pkt *reply, const ldns_rdf *qname, GArray *out, char **why)
{
	const ldns_rr_list *an = ldns_pkt_answer(reply);
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(reply);
	int n = 0;

	if (!hm_dns_reply_matches(reply, qname, LDNS_RR_TYPE_SRV)) {
		*why = g_strdup("a reply to another question");
		return -1;
	}
	if (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN) {
		char *name = ldns_pkt_rcode2str(rc);

		*why = g_strdup_printf("rcode %s", name != NULL ? name : "?");
		free(name);
		return -1;
	}
	for (size_t i = 0; an != NULL && i < ldns_rr_list_rr_count(an) && n < SRV_RECORDS_MAX;
	     i++) {
		HmSrvRecord r;

		if (srv_record(ldns_rr_list_rr(an, i), &r)) {
			g_array_append_val(out, r);
			n++;
		}
	}
	return n;
}

static void
record_clear(gpointer p)
{
	g_free(((HmSrvRecord *)p)->target);
}

/* Asks for name's SRV records; fills out (sorted) or returns -1 with
 * *why, -2 when the resolver did not answer at all. */
static int
ask_srv(ldns_resolver *r, const char *name, GArray *out, char **why)
{
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	ldns_pkt *reply;
	int n;

	if (qname == NULL) {
		*why = g_strdup("not a DNS name");
		return -1;
	}
	reply = hm_dns_ask(r, qname, LDNS_RR_TYPE_SRV, why);
	n = reply != NULL ? hm_srv_from_reply(reply, qname, out, why) : -2;
	ldns_pkt_free(reply);
	ldns_rdf_deep_free(qname);
	if (n > 0)
		hm_srv_sort((HmSrvRecord *)(void *)out->data, out->len);
	return n;
}

/* Tries the services of proto in turn: 1 when one filled the server, 0
 * when none did, -1 when the resolver did not answer. */
static int
lookup_proto(ldns_resolver *r, const char *domain, HmDiscProto proto, HmDiscovery *out)
{
	for (int k = 0; k < 2; k++) {
		g_autofree char *name = g_strdup_printf("%s.%s", services[proto][k].service,
		                                        domain);
		g_autoptr(GArray) recs = g_array_new(FALSE, TRUE, sizeof(HmSrvRecord));
		g_autofree char *source = NULL;
		char *why = NULL;
		const HmSrvRecord *best;
		gboolean not_offered;
		int rc;

		g_array_set_clear_func(recs, record_clear);
		if ((rc = ask_srv(r, name, recs, &why)) < 0) {
			g_ptr_array_add(out->tried, g_strdup_printf("SRV %s: %s", name, why));
			g_free(why);
			if (rc == -2)
				return -1;
			continue;
		}
		best = hm_srv_best((const HmSrvRecord *)(void *)recs->data, recs->len,
		                   &not_offered);
		if (best == NULL) {
			g_ptr_array_add(out->tried,
			                g_strdup_printf("SRV %s: %s", name,
			                                not_offered ? "not offered (target \".\")"
			                                : recs->len > 0 ? "no usable record"
			                                                : "no record"));
			continue;
		}
		source = g_strdup_printf("SRV record %s", name);
		hm_disc_server_set(&out->server[proto], best->target, best->port,
		                   services[proto][k].tls, HM_DISC_LOGIN_UNKNOWN, NULL,
		                   HM_DISC_AUTH_UNKNOWN, source);
		return 1;
	}
	return 0;
}

int
hm_srv_lookup(const char *domain, const HmDiscoverOptions *opt, HmDiscovery *out)
{
	guint timeout_s = opt->timeout_s ? opt->timeout_s : HM_DISCOVER_TIMEOUT_S;
	char *why = NULL;
	ldns_resolver *r = hm_dns_resolver_new(opt->resolver, timeout_s * 1000, &why);
	int n = 0;

	if (r == NULL) {
		g_ptr_array_add(out->tried, g_strdup_printf("SRV lookups: %s", why));
		g_free(why);
		return 0;
	}
	/* A resolver that did not answer once will not answer the next
	 * question either: setup does not wait for it five more times. */
	for (int p = 0, rc = 0; p < HM_DISC_N && rc >= 0; p++) {
		if (out->server[p].host != NULL)
			continue;
		rc = lookup_proto(r, domain, (HmDiscProto)p, out);
		n += rc > 0;
	}
	ldns_resolver_deep_free(r);
	return n;
}
