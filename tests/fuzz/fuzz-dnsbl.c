/* Fuzzes what a blocklist's server controls: the input is a DNS reply in
 * wire form, read as the answer to an A and to a TXT query for its own
 * question's name and for a fixed one (relay/dnsbl.c's reply readers);
 * the reason must come out bounded and printable. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "relay/dnsbl-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s)
{
	if (s == NULL)
		return;
	if (strlen(s) > RELAY_DNSBL_REASON_MAX + 64)
		__builtin_trap();
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			__builtin_trap();
}

static void
read_as_reply(const ldns_pkt *pkt, const ldns_rdf *qname)
{
	char *detail = NULL, *txt;
	RelayDnsblVerdict v = relay_dnsbl_a_reply(pkt, qname, &detail);

	if (v > RELAY_DNSBL_ERROR || (v == RELAY_DNSBL_CLEAN) != (detail == NULL))
		__builtin_trap();
	check_text(detail);
	g_free(detail);
	txt = relay_dnsbl_txt_reply(pkt, qname);
	if (strlen(txt) > RELAY_DNSBL_REASON_MAX)
		__builtin_trap();
	check_text(txt);
	g_free(txt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *fixed = ldns_dname_new_frm_str("2.0.0.127.bl.test.");
	char *raw, *clean;

	if (ldns_wire2pkt(&pkt, data, size) == LDNS_STATUS_OK) {
		ldns_rr_list *q = ldns_pkt_question(pkt);

		if (q != NULL && ldns_rr_list_rr_count(q) > 0 &&
		    ldns_rr_owner(ldns_rr_list_rr(q, 0)) != NULL)
			read_as_reply(pkt, ldns_rr_owner(ldns_rr_list_rr(q, 0)));
		read_as_reply(pkt, fixed);
		ldns_pkt_free(pkt);
	}
	ldns_rdf_deep_free(fixed);
	/* The same bytes as a TXT string given straight to the sanitiser. */
	raw = g_strndup((const char *)data, size);
	clean = relay_dnsbl_sanitize(raw);
	if (strlen(clean) > RELAY_DNSBL_REASON_MAX)
		__builtin_trap();
	check_text(clean);
	g_free(raw);
	g_free(clean);
	return 0;
}
