/* The rfc2136 provider's network side: one DNS message over TCP through
 * lib/conn (a deadline on every read and write), and finding a zone's
 * primary when no server is configured (see rfc2136.h). */
#include <config.h>

#include <string.h>

#include "dyndns/rfc2136.h"
#include "lib/conn.h"
#include "lib/error.h"
#include "lib/net.h"

static void
io_error(GError **err, HmIoStatus st, GError *io, const char *what)
{
	if (st == HM_IO_TIMEOUT)
		g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT, "no %s within %d s", what,
		            HM_DYN_RFC2136_TIMEOUT_MS / 1000);
	else
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: %s", what,
		            io != NULL ? io->message : "connection closed");
}

guint8 *
hm_dyn_dns_tcp_exchange(const char *host, guint16 port, const guint8 *q, gsize qlen,
                        gsize *alen, GError **err)
{
	g_autoptr(GError) io = NULL;
	guint8 len[2] = { (guint8)(qlen >> 8), (guint8)qlen };
	g_autofree guint8 *answer = NULL;
	HmIoStatus st;
	HmConn *c;
	gsize n;
	int fd;

	if (qlen > G_MAXUINT16) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "update too large");
		return NULL;
	}
	fd = hm_connect_tcp(host, port, NULL, HM_DYN_RFC2136_TIMEOUT_MS, err);
	if (fd < 0)
		return NULL;
	c = hm_conn_new(fd, HM_DYN_RFC2136_TIMEOUT_MS);
	/* RFC 1035 4.2.2: over TCP each message is preceded by its length. */
	if (hm_conn_write(c, len, 2, &io) < 0 || hm_conn_write(c, q, qlen, &io) < 0 ||
	    hm_conn_flush(c, &io) < 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "sending the update: %s", io->message);
		goto out;
	}
	st = hm_conn_read_exact(c, len, 2, &io);
	if (st != HM_IO_OK) {
		io_error(err, st, io, "answer");
		goto out;
	}
	n = (gsize)len[0] << 8 | len[1];
	if (n == 0 || n > HM_DYN_RFC2136_ANSWER_MAX) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "an answer of %zu bytes", n);
		goto out;
	}
	answer = g_malloc(n);
	st = hm_conn_read_exact(c, answer, n, &io);
	if (st != HM_IO_OK) {
		io_error(err, st, io, "whole answer");
		g_clear_pointer(&answer, g_free);
		goto out;
	}
	*alen = n;
out:
	hm_conn_free(c);
	return g_steal_pointer(&answer);
}

/* The MNAME of the SOA of zone in the answer, or NULL. */
static char *
soa_mname(const ldns_pkt *reply, const ldns_rdf *zone)
{
	const ldns_rr_list *an = ldns_pkt_answer(reply);

	for (gsize i = 0; an != NULL && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		char *text, *out;
		gsize len;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 1 ||
		    ldns_dname_compare(ldns_rr_owner(rr), zone) != 0)
			continue;
		text = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		if (text == NULL)
			return NULL;
		len = strlen(text);
		out = g_strndup(text, len > 1 && text[len - 1] == '.' ? len - 1 : len);
		LDNS_FREE(text);
		return out;
	}
	return NULL;
}

char *
hm_dyn_dns_primary(const char *zone, GError **err)
{
	struct timeval tv = { HM_DYN_RFC2136_TIMEOUT_MS / 1000, 0 };
	ldns_resolver *r = NULL;
	ldns_rdf *name = ldns_dname_new_frm_str(zone);
	ldns_pkt *reply = NULL;
	char *mname = NULL;
	ldns_status st;

	st = ldns_resolver_new_frm_file(&r, NULL);
	if (name == NULL || st != LDNS_STATUS_OK || r == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "no server set and the primary of zone %s cannot be asked: %s", zone,
		            name == NULL ? "bad zone name" : ldns_get_errorstr_by_id(st));
		goto out;
	}
	ldns_resolver_set_timeout(r, tv);
	ldns_resolver_set_retry(r, 1);
	reply = ldns_resolver_query(r, name, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, LDNS_RD);
	mname = reply != NULL && ldns_pkt_get_rcode(reply) == LDNS_RCODE_NOERROR
	            ? soa_mname(reply, name)
	            : NULL;
	if (mname == NULL)
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "no server set and the SOA of zone %s (its primary) was not found%s", zone,
		            reply == NULL ? ": no answer from the resolvers" : "");
out:
	ldns_pkt_free(reply);
	ldns_rdf_deep_free(name);
	if (r != NULL)
		ldns_resolver_deep_free(r);
	return mname;
}
