#include <config.h>

#include "relay/dnsbl.h"
#include "relay/dnsbl-private.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dns.h"

/* A TXT record longer than this is cut before it is sanitised: the reason
 * keeps RELAY_DNSBL_REASON_MAX bytes anyway, and a hostile zone must not
 * make us copy 64 KiB of answers. */
#define TXT_RAW_MAX (4 * RELAY_DNSBL_REASON_MAX)

/* RFC 1035 2.3.4: 255 octets in wire form, so 253 in text without the
 * final dot. */
#define DNS_NAME_MAX 253

const char *
relay_dnsbl_verdict_name(RelayDnsblVerdict v)
{
	switch (v) {
	case RELAY_DNSBL_CLEAN:
		return "clean";
	case RELAY_DNSBL_LISTED:
		return "listed";
	case RELAY_DNSBL_REFUSED:
		return "refused";
	case RELAY_DNSBL_ERROR:
		return "error";
	}
	return "?";
}

void
relay_dnsbl_result_clear(RelayDnsblResult *res)
{
	g_free(res->zone);
	g_free(res->reason);
	res->verdict = RELAY_DNSBL_CLEAN;
	res->zone = NULL;
	res->reason = NULL;
}

char *
relay_dnsbl_query_name(const char *ip, const char *zone)
{
	guint8 a[16];
	GString *name;
	gsize zlen;

	if (ip == NULL || zone == NULL)
		return NULL;
	zlen = strlen(zone);
	if (zlen > 0 && zone[zlen - 1] == '.')
		zlen--;
	if (zlen == 0 || zone[0] == '.')
		return NULL;
	name = g_string_sized_new(80);
	if (inet_pton(AF_INET, ip, a) == 1) {
		g_string_append_printf(name, "%u.%u.%u.%u.", a[3], a[2], a[1], a[0]);
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		/* A v4-mapped address (a dual-stack listener) is the IPv4 client:
		 * the lists index it under its IPv4 name. */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a))
			g_string_append_printf(name, "%u.%u.%u.%u.", a[15], a[14], a[13], a[12]);
		else
			for (int i = 15; i >= 0; i--)
				g_string_append_printf(name, "%x.%x.", a[i] & 0xfu, a[i] >> 4);
	} else {
		g_string_free(name, TRUE);
		return NULL;
	}
	g_string_append_len(name, zone, (gssize)zlen);
	if (name->len > DNS_NAME_MAX) {
		g_string_free(name, TRUE);
		return NULL;
	}
	g_string_append_c(name, '.');
	return g_string_free(name, FALSE);
}

RelayDnsblVerdict
relay_dnsbl_classify(const struct in_addr *a)
{
	guint32 v = ntohl(a->s_addr);

	if ((v >> 24) != 127 || v <= 0x7f000001u)
		return RELAY_DNSBL_ERROR;
	if ((v & 0xffffff00u) == 0x7fffff00u)
		return RELAY_DNSBL_REFUSED;
	return RELAY_DNSBL_LISTED;
}

/* relay_dnsbl_sanitize() on txt[0..len), which may hold NUL bytes. */
static char *
sanitize_n(const char *txt, gsize len)
{
	GString *out = g_string_sized_new(MIN(len, RELAY_DNSBL_REASON_MAX) + 1);
	gboolean space = FALSE;

	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)txt[i];

		if (c <= 0x20 || c >= 0x7f) {
			space = out->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_c(out, (char)c);
		if (out->len > RELAY_DNSBL_REASON_MAX) {
			g_string_truncate(out, RELAY_DNSBL_REASON_MAX - 3);
			while (out->len > 0 && out->str[out->len - 1] == ' ')
				g_string_truncate(out, out->len - 1);
			g_string_append(out, "...");
			break;
		}
	}
	return g_string_free(out, FALSE);
}

char *
relay_dnsbl_sanitize(const char *txt)
{
	return txt == NULL ? g_strdup("") : sanitize_n(txt, strlen(txt));
}

/* The IPv4 address of an A record in the answer, FALSE if rr is none. */
static gboolean
rr_a(const ldns_rr *rr, struct in_addr *out)
{
	const ldns_rdf *rd;

	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_A || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
	    ldns_rr_rd_count(rr) != 1)
		return FALSE;
	rd = ldns_rr_rdf(rr, 0);
	if (rd == NULL || ldns_rdf_get_type(rd) != LDNS_RDF_TYPE_A || ldns_rdf_size(rd) != 4)
		return FALSE;
	memcpy(&out->s_addr, ldns_rdf_data(rd), 4);
	return TRUE;
}

static char *
addr_text(const struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];

	return g_strdup(inet_ntop(AF_INET, a, buf, sizeof buf));
}

/* The rcode part of relay_dnsbl_a_reply(): CLEAN for NXDOMAIN, LISTED
 * (meaning "read the answer") for NOERROR, ERROR otherwise. */
static RelayDnsblVerdict
rcode_verdict(const ldns_pkt *reply, char **detail)
{
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(reply);
	char *name;

	if (rc == LDNS_RCODE_NXDOMAIN)
		return RELAY_DNSBL_CLEAN;
	if (rc == LDNS_RCODE_NOERROR)
		return RELAY_DNSBL_LISTED;
	name = ldns_pkt_rcode2str(rc);
	*detail = g_strdup_printf("rcode %s", name != NULL ? name : "?");
	free(name);
	return RELAY_DNSBL_ERROR;
}

RelayDnsblVerdict
relay_dnsbl_a_reply(const ldns_pkt *reply, const ldns_rdf *qname, char **detail)
{
	const ldns_rr_list *an = ldns_pkt_answer(reply);
	RelayDnsblVerdict worst = RELAY_DNSBL_CLEAN;
	struct in_addr a, worst_a = { 0 };

	*detail = NULL;
	if (!hm_dns_reply_matches(reply, qname, LDNS_RR_TYPE_A)) {
		*detail = g_strdup("reply does not match the query");
		return RELAY_DNSBL_ERROR;
	}
	if (rcode_verdict(reply, detail) != RELAY_DNSBL_LISTED)
		return *detail != NULL ? RELAY_DNSBL_ERROR : RELAY_DNSBL_CLEAN;
	for (size_t i = 0; an != NULL && i < ldns_rr_list_rr_count(an); i++) {
		RelayDnsblVerdict v;

		if (!rr_a(ldns_rr_list_rr(an, i), &a))
			continue;
		v = relay_dnsbl_classify(&a);
		/* The enum is ordered by severity: CLEAN < LISTED < REFUSED < ERROR. */
		if (v > worst) {
			worst = v;
			worst_a = a;
		}
	}
	if (worst == RELAY_DNSBL_CLEAN)
		return worst;
	g_autofree char *text = addr_text(&worst_a);
	if (worst == RELAY_DNSBL_LISTED)
		*detail = g_steal_pointer(&text);
	else if (worst == RELAY_DNSBL_REFUSED)
		*detail = g_strdup_printf("answer %s: the list refuses this resolver", text);
	else
		*detail = g_strdup_printf("answer %s outside 127/8", text);
	return worst;
}

/* Appends one TXT record's character-strings to raw, up to TXT_RAW_MAX. */
static void
txt_append(GString *raw, const ldns_rr *rr)
{
	for (size_t j = 0; j < ldns_rr_rd_count(rr) && raw->len < TXT_RAW_MAX; j++) {
		const ldns_rdf *rd = ldns_rr_rdf(rr, j);
		const guint8 *p;
		gsize n;

		if (rd == NULL || ldns_rdf_get_type(rd) != LDNS_RDF_TYPE_STR || ldns_rdf_size(rd) < 1)
			continue;
		p = ldns_rdf_data(rd);
		n = MIN((gsize)p[0], ldns_rdf_size(rd) - 1);
		g_string_append_len(raw, (const char *)p + 1, (gssize)MIN(n, TXT_RAW_MAX - raw->len));
	}
}

char *
relay_dnsbl_txt_reply(const ldns_pkt *reply, const ldns_rdf *qname)
{
	const ldns_rr_list *an = ldns_pkt_answer(reply);
	g_autoptr(GString) raw = g_string_new(NULL);

	if (!hm_dns_reply_matches(reply, qname, LDNS_RR_TYPE_TXT) ||
	    ldns_pkt_get_rcode(reply) != LDNS_RCODE_NOERROR)
		return g_strdup("");
	for (size_t i = 0; an != NULL && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || raw->len >= TXT_RAW_MAX)
			continue;
		if (raw->len > 0)
			g_string_append(raw, "; ");
		txt_append(raw, rr);
	}
	/* sanitize_n() because a TXT string may carry NUL bytes. */
	return sanitize_n(raw->str, raw->len);
}

/* One zone: the verdict, and in *reason the TXT (LISTED) or the problem. */
static RelayDnsblVerdict
check_zone(ldns_resolver *r, const char *zone, const char *ip, char **reason)
{
	g_autofree char *qname = relay_dnsbl_query_name(ip, zone);
	g_autofree char *txt = NULL;
	ldns_rdf *dname;
	ldns_pkt *reply;
	RelayDnsblVerdict v;

	*reason = NULL;
	dname = qname != NULL ? ldns_dname_new_frm_str(qname) : NULL;
	if (dname == NULL) {
		*reason = g_strdup_printf("cannot look up %s in %s", ip, zone);
		return RELAY_DNSBL_ERROR;
	}
	reply = hm_dns_ask(r, dname, LDNS_RR_TYPE_A, reason);
	if (reply == NULL) {
		ldns_rdf_deep_free(dname);
		return RELAY_DNSBL_ERROR;
	}
	v = relay_dnsbl_a_reply(reply, dname, reason);
	ldns_pkt_free(reply);
	if (v == RELAY_DNSBL_LISTED) {
		g_autofree char *ignored = NULL;

		/* The listing stands without its TXT: the reason is a courtesy. */
		reply = hm_dns_ask(r, dname, LDNS_RR_TYPE_TXT, &ignored);
		if (reply != NULL)
			txt = relay_dnsbl_txt_reply(reply, dname);
		ldns_pkt_free(reply);
		g_free(*reason);
		*reason = txt != NULL && txt[0] != '\0' ? g_steal_pointer(&txt)
		                                        : g_strdup_printf("listed in %s", zone);
	}
	ldns_rdf_deep_free(dname);
	return v;
}

RelayDnsblVerdict
relay_dnsbl_check(const char *const *zones, const char *ip, const char *resolver,
                  guint timeout_ms, RelayDnsblResult *res)
{
	ldns_resolver *r;
	char *why = NULL;

	relay_dnsbl_result_clear(res);
	if (zones == NULL || zones[0] == NULL)
		return RELAY_DNSBL_CLEAN;
	r = hm_dns_resolver_new(resolver, timeout_ms, &why);
	if (r == NULL) {
		res->verdict = RELAY_DNSBL_ERROR;
		res->zone = g_strdup(zones[0]);
		res->reason = why;
		return res->verdict;
	}
	for (gsize i = 0; zones[i] != NULL; i++) {
		RelayDnsblVerdict v = check_zone(r, zones[i], ip, &why);

		if (v == RELAY_DNSBL_LISTED || (v != RELAY_DNSBL_CLEAN && res->zone == NULL)) {
			relay_dnsbl_result_clear(res);
			res->verdict = v;
			res->zone = g_strdup(zones[i]);
			res->reason = g_steal_pointer(&why);
		}
		g_clear_pointer(&why, g_free);
		if (v == RELAY_DNSBL_LISTED)
			break;
	}
	ldns_resolver_deep_free(r);
	return res->verdict;
}
