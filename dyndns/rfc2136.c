/* The rfc2136 provider: one TSIG-signed DNS UPDATE per record and family,
 * replacing the A (or AAAA) RRset of the host name, over TCP (see
 * rfc2136.h). TCP only: an update and its answer are small, and TCP needs
 * no truncation fallback and is far harder to answer with a forged
 * packet than UDP. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>

#include "dyndns/rfc2136.h"
#include "lib/base64.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/net.h"

/* RFC 8945 5.3.1: the TSIG RR's fields, in libldns's order. */
#define TSIG_RDF_MAC 3
#define TSIG_RDF_ERROR 5

static const struct {
	guint code;
	const char *name;
} rcode_names[] = {
	{ LDNS_RCODE_NOERROR, "NOERROR" },   { LDNS_RCODE_FORMERR, "FORMERR" },
	{ LDNS_RCODE_SERVFAIL, "SERVFAIL" }, { LDNS_RCODE_NXDOMAIN, "NXDOMAIN" },
	{ LDNS_RCODE_NOTIMPL, "NOTIMP" },    { LDNS_RCODE_REFUSED, "REFUSED" },
	{ LDNS_RCODE_YXDOMAIN, "YXDOMAIN" }, { LDNS_RCODE_YXRRSET, "YXRRSET" },
	{ LDNS_RCODE_NXRRSET, "NXRRSET" },   { LDNS_RCODE_NOTAUTH, "NOTAUTH" },
	{ LDNS_RCODE_NOTZONE, "NOTZONE" },   { 16, "BADSIG" },
	{ 17, "BADKEY" },                    { 18, "BADTIME" },
	{ 19, "BADMODE" },                   { 20, "BADNAME" },
	{ 21, "BADALG" },                    { 22, "BADTRUNC" },
	{ 23, "BADCOOKIE" },
};

const char *
hm_dyn_rfc2136_rcode_name(guint code)
{
	for (guint i = 0; i < G_N_ELEMENTS(rcode_names); i++)
		if (rcode_names[i].code == code)
			return rcode_names[i].name;
	return NULL;
}

const char *
hm_dyn_rfc2136_algorithm(const char *name)
{
	static const char *const algs[][2] = {
		{ "hmac-sha256", "hmac-sha256." }, { "hmac-sha384", "hmac-sha384." },
		{ "hmac-sha512", "hmac-sha512." }, { "hmac-sha224", "hmac-sha224." },
		{ "hmac-sha1", "hmac-sha1." },
	};

	if (name == NULL)
		return algs[0][1];
	for (guint i = 0; i < G_N_ELEMENTS(algs); i++)
		if (g_ascii_strcasecmp(name, algs[i][0]) == 0)
			return algs[i][1];
	return NULL;
}

char *
hm_dyn_rfc2136_zone(const HmDnsRecordConf *rec)
{
	const char *dot;

	if (rec->zone != NULL)
		return g_strdup(rec->zone);
	dot = strchr(rec->hostname, '.');
	if (dot == NULL || dot[1] == '\0' || strcmp(dot, ".") == 0)
		return NULL;
	return g_strdup(dot + 1);
}

static const char *
key_alg(const HmDnsRecordConf *rec)
{
	return rec->tsig_algorithm != NULL ? rec->tsig_algorithm : "hmac-sha256";
}

/* A TSIG error: the server did not accept our signature at all. */
static void
judge_tsig(guint err, const HmDnsRecordConf *rec, HmDynResult *res)
{
	const char *name = hm_dyn_rfc2136_rcode_name(err);
	const char *key = rec->tsig_name;

	if (err == 16)
		hm_dyn_result_set(res, HM_DYN_HOLD, name,
		                  "the server refused the signature of TSIG key '%s': BADSIG "
		                  "(wrong secret, or another algorithm than %s)",
		                  key, key_alg(rec));
	else if (err == 17)
		hm_dyn_result_set(res, HM_DYN_HOLD, name,
		                  "the server refused the TSIG key '%s': BADKEY (it knows no key of "
		                  "that name with algorithm %s: wrong key name or algorithm)",
		                  key, key_alg(rec));
	else if (err == 18)
		/* Not a hold: the config is right and a clock comes right by
		 * itself (NTP after boot on a box without a battery-backed
		 * clock), which no config change would ever signal. */
		hm_dyn_result_set(res, HM_DYN_BACKOFF, name,
		                  "BADTIME: the clocks of this box and the server differ by more "
		                  "than 5 minutes (TSIG key '%s')",
		                  key);
	else
		hm_dyn_result_set(res, HM_DYN_HOLD, name != NULL ? name : "TSIG",
		                  "the server refused the TSIG signature of key '%s': %s (TSIG "
		                  "error %u)",
		                  key, name != NULL ? name : "unknown", err);
}

/* A refusal the configuration (or the server's) must change. */
static void
judge_refusal(guint rcode, const HmDnsRecordConf *rec, const char *zone, HmDynResult *res)
{
	const char *name = hm_dyn_rfc2136_rcode_name(rcode);
	const char *host = rec->hostname, *key = rec->tsig_name;

	switch (rcode) {
	case LDNS_RCODE_NOTAUTH:
		hm_dyn_result_set(res, HM_DYN_HOLD, name,
		                  "NOTAUTH: the server is not the primary of zone %s, or refused "
		                  "TSIG key '%s'",
		                  zone, key);
		break;
	case LDNS_RCODE_REFUSED:
		hm_dyn_result_set(res, HM_DYN_HOLD, name,
		                  "REFUSED: the server does not let TSIG key '%s' update %s in "
		                  "zone %s (its allow-update or update-policy)",
		                  key, host, zone);
		break;
	case LDNS_RCODE_NOTZONE:
		hm_dyn_result_set(res, HM_DYN_HOLD, name, "NOTZONE: %s is not inside zone %s",
		                  host, zone);
		break;
	case LDNS_RCODE_NOTIMPL:
		hm_dyn_result_set(res, HM_DYN_HOLD, name,
		                  "NOTIMP: the server does not take dynamic updates for zone %s",
		                  zone);
		break;
	case LDNS_RCODE_FORMERR:
		hm_dyn_result_set(res, HM_DYN_HOLD, name,
		                  "FORMERR: the server could not read the update of %s", host);
		break;
	default:
		hm_dyn_result_set(res, HM_DYN_HOLD, name,
		                  "%s: the server refused the update of %s in zone %s", name, host,
		                  zone);
		break;
	}
}

void
hm_dyn_rfc2136_judge(guint rcode, guint tsig_error, gboolean verified,
                     const HmDnsRecordConf *rec, const char *zone, HmDynResult *res)
{
	const char *name = hm_dyn_rfc2136_rcode_name(rcode);

	if (tsig_error != 0) {
		judge_tsig(tsig_error, rec, res);
		return;
	}
	if (rcode == LDNS_RCODE_NOERROR && verified) {
		hm_dyn_result_set(res, HM_DYN_OK, name, "NOERROR from the server of zone %s", zone);
		return;
	}
	if (rcode == LDNS_RCODE_NOERROR) {
		/* Anyone on the path can say NOERROR; only the key proves it. */
		hm_dyn_result_set(res, HM_DYN_BACKOFF, name,
		                  "NOERROR without a valid signature of TSIG key '%s': the answer "
		                  "cannot be trusted",
		                  rec->tsig_name);
		return;
	}
	if (rcode == LDNS_RCODE_SERVFAIL) {
		hm_dyn_result_set(res, HM_DYN_BACKOFF, name,
		                  "SERVFAIL: the server of zone %s has trouble", zone);
		return;
	}
	if (name == NULL) {
		/* Not in any RFC we know: waiting is safer than asking again. */
		hm_dyn_result_set(res, HM_DYN_BACKOFF, "RCODE", "unknown answer code %u from the "
		                  "server of zone %s", rcode, zone);
		return;
	}
	judge_refusal(rcode, rec, zone, res);
}

static ldns_rr *
update_rr(const char *host, ldns_rr_type type, ldns_rr_class klass, guint32 ttl)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = ldns_dname_new_frm_str(host);

	if (rr == NULL || owner == NULL) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(owner);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, klass);
	ldns_rr_set_ttl(rr, ttl);
	return rr;
}

/* RFC 2136 2.5.2 and 2.5.1: delete the RRset (class ANY, TTL 0, no
 * data), then add the one record. In one message, so the name never
 * has no address and never two. */
static ldns_rr_list *
update_section(const HmDynUpdate *u)
{
	gboolean v6 = u->addr.family == AF_INET6;
	ldns_rr_type type = v6 ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
	g_autofree char *addr = hm_ip_to_string(&u->addr);
	ldns_rr_list *list = ldns_rr_list_new();
	ldns_rr *del = update_rr(u->rec->hostname, type, LDNS_RR_CLASS_ANY, 0);
	ldns_rr *add = update_rr(u->rec->hostname, type, LDNS_RR_CLASS_IN, u->rec->ttl);
	ldns_rdf *data = ldns_rdf_new_frm_str(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, addr);

	if (list == NULL || del == NULL || add == NULL || data == NULL) {
		ldns_rr_list_deep_free(list);
		ldns_rr_free(del);
		ldns_rr_free(add);
		ldns_rdf_deep_free(data);
		return NULL;
	}
	ldns_rr_push_rdf(add, data);
	ldns_rr_list_push_rr(list, del);
	ldns_rr_list_push_rr(list, add);
	return list;
}

/* libldns up to 1.8 misspells hmac-sha384 and lacks hmac-sha224, and its
 * signing leaks when it meets an algorithm it cannot use: ask first. */
static gboolean
ldns_can_sign(const char *alg)
{
#if LDNS_REVISION < ((1 << 16) | (9 << 8))
	return strcmp(alg, "hmac-sha384.") != 0 && strcmp(alg, "hmac-sha224.") != 0;
#else
	return TRUE;
#endif
}

ldns_pkt *
hm_dyn_rfc2136_packet(const HmDynUpdate *u, const char *zone, GError **err)
{
	const char *alg = hm_dyn_rfc2136_algorithm(u->rec->tsig_algorithm);
	ldns_rdf *zone_rdf = ldns_dname_new_frm_str(zone);
	ldns_rr_list *up = update_section(u);
	g_autoptr(GBytes) key = NULL;
	ldns_pkt *p = NULL;
	ldns_status st;

	/* libldns decodes the secret leniently; a typo must not sign with a
	 * different key than the one the user wrote. */
	key = u->secret != NULL ? hm_base64_decode(u->secret, strlen(u->secret), NULL) : NULL;
	if (key == NULL || g_bytes_get_size(key) == 0 || alg == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s",
		            alg == NULL ? "unknown tsig_algorithm" : "the TSIG secret is not base64");
		goto fail;
	}
	if (zone_rdf == NULL || up == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "cannot build an update of %s in zone %s",
		            u->rec->hostname, zone);
		goto fail;
	}
	p = ldns_update_pkt_new(zone_rdf, LDNS_RR_CLASS_IN, NULL, up, NULL);
	zone_rdf = NULL; /* the packet owns it now */
	if (p == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "out of memory");
		goto fail;
	}
	ldns_pkt_set_random_id(p);
	st = ldns_can_sign(alg) ? ldns_pkt_tsig_sign(p, u->rec->tsig_name, u->secret,
	                                             HM_DYN_RFC2136_FUDGE, alg, NULL)
	                        : LDNS_STATUS_CRYPTO_UNKNOWN_ALGO;
	if (st == LDNS_STATUS_CRYPTO_UNKNOWN_ALGO) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "TSIG key '%s': this system's libldns cannot sign with %s; use "
		            "hmac-sha256 or hmac-sha512 (here and in the server's key)",
		            u->rec->tsig_name, key_alg(u->rec));
		g_clear_pointer(&p, ldns_pkt_free);
	} else if (st != LDNS_STATUS_OK) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "TSIG key '%s' (%s): %s",
		            u->rec->tsig_name, key_alg(u->rec), ldns_get_errorstr_by_id(st));
		g_clear_pointer(&p, ldns_pkt_free);
	}
fail:
	ldns_rdf_deep_free(zone_rdf);
	ldns_rr_list_deep_free(up);
	return p;
}

static guint
tsig_field(const ldns_rr *tsig, gsize i)
{
	const ldns_rdf *f = tsig != NULL && ldns_rr_rd_count(tsig) > i ? ldns_rr_rdf(tsig, i) : NULL;

	return f != NULL && ldns_rdf_size(f) == 2 ? ldns_rdf2native_int16(f) : 0;
}

/* RFC 8945 5.1: at most one TSIG RR, and only as the last record. Checked
 * before ldns_wire2pkt(), which keeps only the last of several TSIG RRs
 * and leaks the others: a forged answer could grow a daemon's memory. */
static gboolean
tsig_placement_ok(const guint8 *wire, gsize len)
{
	gsize counts[4], total, pos = LDNS_HEADER_SIZE, n = 0;

	if (len < LDNS_HEADER_SIZE)
		return FALSE;
	for (int s = 0; s < 4; s++)
		counts[s] = (gsize)wire[4 + 2 * s] << 8 | wire[5 + 2 * s];
	total = counts[0] + counts[1] + counts[2] + counts[3];
	for (int s = 0; s < 4; s++) {
		for (gsize i = 0; i < counts[s]; i++, n++) {
			ldns_rr *rr = NULL;
			gboolean tsig;

			if (ldns_wire2rr(&rr, wire, len, &pos, (ldns_pkt_section)s) != LDNS_STATUS_OK)
				return TRUE; /* malformed: ldns_wire2pkt() refuses it */
			tsig = ldns_rr_get_type(rr) == LDNS_RR_TYPE_TSIG;
			ldns_rr_free(rr);
			if (tsig && (s != LDNS_SECTION_ADDITIONAL || n != total - 1))
				return FALSE;
		}
	}
	return TRUE;
}

void
hm_dyn_rfc2136_answer(const ldns_pkt *query, const guint8 *wire, gsize len,
                      const HmDynUpdate *u, const char *zone, HmDynResult *res)
{
	const ldns_rr *qtsig = ldns_pkt_tsig(query);
	ldns_rr *atsig;
	ldns_pkt *a = NULL;
	gboolean verified = FALSE;
	guint rcode, err;

	if (!tsig_placement_ok(wire, len) || ldns_wire2pkt(&a, wire, len) != LDNS_STATUS_OK ||
	    a == NULL) {
		hm_dyn_result_set(res, HM_DYN_RETRY, NULL, "the server's answer is not DNS");
		return;
	}
	if (ldns_pkt_id(a) != ldns_pkt_id(query) || !ldns_pkt_qr(a) ||
	    ldns_pkt_get_opcode(a) != LDNS_PACKET_UPDATE) {
		hm_dyn_result_set(res, HM_DYN_RETRY, NULL,
		                  "the server's answer is not the answer to this update");
		ldns_pkt_free(a);
		return;
	}
	rcode = ldns_pkt_get_rcode(a);
	atsig = ldns_pkt_tsig(a);
	err = tsig_field(atsig, TSIG_RDF_ERROR);
	if (atsig != NULL && qtsig != NULL && ldns_rr_rd_count(qtsig) > TSIG_RDF_MAC)
		verified = ldns_pkt_tsig_verify(a, wire, len, u->rec->tsig_name, u->secret,
		                                ldns_rr_rdf(qtsig, TSIG_RDF_MAC));
	/* libldns 1.8 takes the TSIG RR off the packet while it checks it
	 * and does not put it back when it cannot compute the MAC (an
	 * algorithm it does not know): it would leak. */
	if (ldns_pkt_tsig(a) == NULL)
		ldns_pkt_set_tsig(a, atsig);
	hm_debug("%s %s: answer %s%s%s, TSIG %s", u->rec->hostname, hm_dyn_rrtype(&u->addr),
	         hm_dyn_rfc2136_rcode_name(rcode) != NULL ? hm_dyn_rfc2136_rcode_name(rcode)
	                                                  : "?",
	         err != 0 ? " " : "", err != 0 ? hm_dyn_rfc2136_rcode_name(err) : "",
	         verified ? "verified" : atsig != NULL ? "not valid" : "absent");
	hm_dyn_rfc2136_judge(rcode, err, verified, u->rec, zone, res);
	ldns_pkt_free(a);
}

/* The server named in the config, or the zone's primary. */
static int
server_of(const HmDynUpdate *u, const char *zone, char **host, guint16 *port, GError **err)
{
	if (u->rec->server != NULL)
		return hm_host_port_parse(u->rec->server, HM_DYN_RFC2136_PORT, host, port, err);
	*host = hm_dyn_dns_primary(zone, err);
	*port = HM_DYN_RFC2136_PORT;
	return *host != NULL ? 0 : -1;
}

static void
update_one(const HmDynUpdate *u, HmDynResult *res)
{
	g_autofree char *zone = hm_dyn_rfc2136_zone(u->rec);
	g_autofree char *host = NULL;
	g_autofree guint8 *answer = NULL;
	g_autoptr(GError) err = NULL;
	guint8 *wire = NULL;
	size_t wlen = 0;
	gsize alen = 0;
	guint16 port = 0;
	ldns_pkt *q;

	if (zone == NULL) {
		hm_dyn_result_set(res, HM_DYN_HOLD, NULL, "%s has no parent zone: set zone",
		                  u->rec->hostname);
		return;
	}
	q = hm_dyn_rfc2136_packet(u, zone, &err);
	if (q == NULL) {
		hm_dyn_result_set(res, HM_DYN_HOLD, NULL, "%s", err->message);
		return;
	}
	if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK) {
		hm_dyn_result_set(res, HM_DYN_HOLD, NULL, "cannot encode the update of %s",
		                  u->rec->hostname);
		ldns_pkt_free(q);
		return;
	}
	if (server_of(u, zone, &host, &port, &err) < 0) {
		hm_dyn_result_set(res, HM_DYN_RETRY, NULL, "%s", err->message);
		goto out;
	}
	hm_debug("%s %s: DNS UPDATE of zone %s to %s port %u over TCP, TSIG key '%s'",
	         u->rec->hostname, hm_dyn_rrtype(&u->addr), zone, host, port, u->rec->tsig_name);
	answer = hm_dyn_dns_tcp_exchange(host, port, wire, wlen, &alen, &err);
	if (answer == NULL)
		hm_dyn_result_set(res, HM_DYN_RETRY, NULL, "DNS server %s port %u: %s", host, port,
		                  err->message);
	else
		hm_dyn_rfc2136_answer(q, answer, alen, u, zone, res);
out:
	LDNS_FREE(wire);
	ldns_pkt_free(q);
}

static void
update(const HmDynUpdate *u, guint n, HmDynResult *res)
{
	for (guint i = 0; i < n; i++)
		update_one(&u[i], &res[i]);
}

static char *
describe(const HmDynUpdate *u)
{
	g_autofree char *zone = hm_dyn_rfc2136_zone(u->rec);
	g_autofree char *addr = hm_ip_to_string(&u->addr);
	g_autofree char *server = NULL;
	const char *rr = hm_dyn_rrtype(&u->addr);

	server = u->rec->server != NULL ? g_strdup_printf("server %s", u->rec->server)
	                                : g_strdup_printf("the primary of %s (its SOA MNAME)",
	                                                  zone != NULL ? zone : "?");
	return g_strdup_printf("DNS UPDATE of zone %s to %s over TCP: delete %s %s, add %s %u IN "
	                       "%s %s; TSIG key '%s' (%s, secret ********)",
	                       zone != NULL ? zone : "?", server, u->rec->hostname, rr,
	                       u->rec->hostname, u->rec->ttl, rr, addr, u->rec->tsig_name,
	                       key_alg(u->rec));
}

const HmDynProvider hm_dyn_rfc2136 = {
	.name = "rfc2136",
	.update = update,
	.describe = describe,
};
