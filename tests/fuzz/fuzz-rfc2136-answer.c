/* Fuzzes what an update server (or anyone on the path) controls: the
 * input is the answer, in wire form, to one signed UPDATE; its first two
 * bytes are replaced by the query's ID so that most inputs get past the ID
 * check to the TSIG and RCODE reading (dyndns/rfc2136.c). Without the
 * key no input may count as done, and every result must say something. */
#include <config.h>

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "dyndns/rfc2136.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static HmDnsRecordConf rec = {
		.provider = (char *)"rfc2136",
		.hostname = (char *)"box.dyn.test",
		.server = (char *)"127.0.0.1",
		.tsig_name = (char *)"ddns-key",
		.tsig_algorithm = (char *)"hmac-sha256",
		.ttl = 60,
		.ipv4 = TRUE,
	};
	static ldns_pkt *query;
	HmDynUpdate u = { .rec = &rec, .secret = SECRET };
	HmDynResult res = { 0 };
	guint8 *wire = g_memdup2(data, size);

	hm_ip_parse("81.2.69.160", &u.addr);
	if (query == NULL)
		query = hm_dyn_rfc2136_packet(&u, "dyn.test", NULL);
	if (query == NULL)
		__builtin_trap();
	if (size >= 2) {
		wire[0] = (guint8)(ldns_pkt_id(query) >> 8);
		wire[1] = (guint8)ldns_pkt_id(query);
	}
	hm_dyn_rfc2136_answer(query, wire, size, &u, "dyn.test", &res);
	/* Only the key's holder can sign an answer; a fuzzer is not one. */
	if (res.outcome == HM_DYN_OK || res.outcome > HM_DYN_RETRY || res.text == NULL ||
	    strstr(res.text, SECRET) != NULL)
		__builtin_trap();
	hm_dyn_result_clear(&res);
	g_free(wire);
	return 0;
}
