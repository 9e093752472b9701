/* The rfc2136 provider's pure parts: the server string, the default zone,
 * the packet it signs, and what each answer means (dyndns/rfc2136.h).
 * The answers are built and signed here with libldns, as a server would. */
#include <config.h>

#include <glib/gstdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dyndns/rfc2136.h"
#include "lib/net.h"

#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
#define OTHER "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItb3Q="

static HmDnsRecordConf
record(void)
{
	HmDnsRecordConf r = { 0 };

	r.provider = (char *)"rfc2136";
	r.hostname = (char *)"box.dyn.test";
	r.server = (char *)"127.0.0.1:5353";
	r.tsig_name = (char *)"ddns-key";
	r.tsig_algorithm = (char *)"hmac-sha256";
	r.ttl = 60;
	r.ipv4 = TRUE;
	return r;
}

static HmDynUpdate
update_for(const HmDnsRecordConf *r, const char *addr)
{
	HmDynUpdate u = { .rec = r, .secret = SECRET };

	g_assert_true(hm_ip_parse(addr, &u.addr));
	return u;
}

static void
test_server_parse(void)
{
	static const struct {
		const char *text;
		const char *host;
		guint16 port;
	} good[] = {
		{ "ns1.example", "ns1.example", 53 },   { "ns1.example:5353", "ns1.example", 5353 },
		{ "192.0.2.1", "192.0.2.1", 53 },       { "192.0.2.1:1", "192.0.2.1", 1 },
		{ "[2001:db8::1]", "2001:db8::1", 53 }, { "[::1]:65535", "::1", 65535 },
		{ "2001:db8::53", "2001:db8::53", 53 },
	};
	static const char *const bad[] = {
		"", ":53", "ns1:", "ns1:0", "ns1:65536", "ns1:+53", "ns1:53x", "[::1", "[::1]x",
		"[]:53", "[::1]:", "ns 1", "ns1/x", "a:b:c", "ns1:53:53", "ns1\n",
	};

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) err = NULL;
		g_autofree char *host = NULL;
		guint16 port = 0;

		g_assert_cmpint(hm_host_port_parse(good[i].text, 53, &host, &port, &err), ==, 0);
		g_assert_no_error(err);
		g_assert_cmpstr(host, ==, good[i].host);
		g_assert_cmpuint(port, ==, good[i].port);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) err = NULL;
		char *host = NULL;
		guint16 port = 0;

		if (hm_host_port_parse(bad[i], 53, &host, &port, &err) == 0)
			g_error("\"%s\" parsed as %s port %u", bad[i], host, port);
		g_assert_nonnull(err);
		g_assert_null(host);
	}
}

static void
test_zone(void)
{
	HmDnsRecordConf r = record();
	char *z;

	z = hm_dyn_rfc2136_zone(&r);
	g_assert_cmpstr(z, ==, "dyn.test");
	g_free(z);
	r.zone = (char *)"test";
	z = hm_dyn_rfc2136_zone(&r);
	g_assert_cmpstr(z, ==, "test");
	g_free(z);
	r.zone = NULL;
	r.hostname = (char *)"localhost";
	g_assert_null(hm_dyn_rfc2136_zone(&r));
}

static void
test_algorithm(void)
{
	g_assert_cmpstr(hm_dyn_rfc2136_algorithm(NULL), ==, "hmac-sha256.");
	g_assert_cmpstr(hm_dyn_rfc2136_algorithm("hmac-sha256"), ==, "hmac-sha256.");
	g_assert_cmpstr(hm_dyn_rfc2136_algorithm("hmac-sha512"), ==, "hmac-sha512.");
	g_assert_cmpstr(hm_dyn_rfc2136_algorithm("hmac-sha1"), ==, "hmac-sha1.");
	g_assert_null(hm_dyn_rfc2136_algorithm("hmac-md5"));
	g_assert_null(hm_dyn_rfc2136_algorithm(""));
}

/* rcode, TSIG error, verified -> outcome, code, a phrase of the text. */
static void
test_judge(void)
{
	static const struct {
		guint rcode, tsig;
		gboolean verified;
		HmDynOutcome outcome;
		const char *code, *words;
	} cases[] = {
		{ 0, 0, TRUE, HM_DYN_OK, "NOERROR", "NOERROR" },
		{ 0, 0, FALSE, HM_DYN_BACKOFF, "NOERROR", "cannot be trusted" },
		{ 2, 0, TRUE, HM_DYN_BACKOFF, "SERVFAIL", "has trouble" },
		{ 2, 0, FALSE, HM_DYN_BACKOFF, "SERVFAIL", "has trouble" },
		{ 5, 0, TRUE, HM_DYN_HOLD, "REFUSED", "does not let TSIG key 'ddns-key' update" },
		{ 9, 0, FALSE, HM_DYN_HOLD, "NOTAUTH", "not the primary of zone dyn.test" },
		{ 10, 0, TRUE, HM_DYN_HOLD, "NOTZONE", "box.dyn.test is not inside zone dyn.test" },
		{ 6, 0, TRUE, HM_DYN_HOLD, "YXDOMAIN", "refused the update" },
		{ 7, 0, TRUE, HM_DYN_HOLD, "YXRRSET", "refused the update" },
		{ 8, 0, TRUE, HM_DYN_HOLD, "NXRRSET", "refused the update" },
		{ 1, 0, FALSE, HM_DYN_HOLD, "FORMERR", "could not read" },
		{ 4, 0, FALSE, HM_DYN_HOLD, "NOTIMP", "dynamic updates" },
		{ 3, 0, TRUE, HM_DYN_HOLD, "NXDOMAIN", "refused the update" },
		{ 9, 17, FALSE, HM_DYN_HOLD, "BADKEY", "refused the TSIG key 'ddns-key': BADKEY" },
		{ 9, 16, FALSE, HM_DYN_HOLD, "BADSIG", "wrong secret" },
		{ 9, 18, TRUE, HM_DYN_BACKOFF, "BADTIME", "clocks of this box and the server differ" },
		/* a TSIG error wins over a NOERROR header */
		{ 0, 17, FALSE, HM_DYN_HOLD, "BADKEY", "BADKEY" },
		{ 9, 99, FALSE, HM_DYN_HOLD, "TSIG", "TSIG error 99" },
		{ 15, 0, TRUE, HM_DYN_BACKOFF, "RCODE", "unknown answer code 15" },
	};
	HmDnsRecordConf r = record();

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		HmDynResult res = { 0 };

		hm_dyn_rfc2136_judge(cases[i].rcode, cases[i].tsig, cases[i].verified, &r,
		                     "dyn.test", &res);
		if (res.outcome != cases[i].outcome || g_strcmp0(res.code, cases[i].code) != 0 ||
		    strstr(res.text, cases[i].words) == NULL)
			g_error("case %u: rcode %u tsig %u: outcome %d code %s text \"%s\"", i,
			        cases[i].rcode, cases[i].tsig, res.outcome, res.code, res.text);
		g_assert_null(strstr(res.text, SECRET));
		hm_dyn_result_clear(&res);
	}
}

static ldns_pkt *
parse_wire(const ldns_pkt *p)
{
	guint8 *wire = NULL;
	size_t len = 0;
	ldns_pkt *out = NULL;

	g_assert_cmpint(ldns_pkt2wire(&wire, p, &len), ==, LDNS_STATUS_OK);
	g_assert_cmpint(ldns_wire2pkt(&out, wire, len), ==, LDNS_STATUS_OK);
	LDNS_FREE(wire);
	return out;
}

static void
check_update_rr(const ldns_rr *rr, ldns_rr_type type, ldns_rr_class klass, guint32 ttl,
                const char *data)
{
	char *owner = ldns_rdf2str(ldns_rr_owner(rr));

	g_assert_cmpstr(owner, ==, "box.dyn.test.");
	LDNS_FREE(owner);
	g_assert_cmpint(ldns_rr_get_type(rr), ==, type);
	g_assert_cmpint(ldns_rr_get_class(rr), ==, klass);
	g_assert_cmpuint(ldns_rr_ttl(rr), ==, ttl);
	if (data == NULL) {
		g_assert_cmpuint(ldns_rr_rd_count(rr), ==, 0);
	} else {
		char *text = ldns_rdf2str(ldns_rr_rdf(rr, 0));

		g_assert_cmpuint(ldns_rr_rd_count(rr), ==, 1);
		g_assert_cmpstr(text, ==, data);
		LDNS_FREE(text);
	}
}

static void
test_packet(void)
{
	HmDnsRecordConf r = record();
	HmDynUpdate u = update_for(&r, "81.2.69.160");
	g_autoptr(GError) err = NULL;
	ldns_pkt *p, *w;
	const ldns_rr_list *up;
	char *zone;

	p = hm_dyn_rfc2136_packet(&u, "dyn.test", &err);
	g_assert_no_error(err);
	g_assert_nonnull(p);
	w = parse_wire(p);
	g_assert_cmpint(ldns_pkt_get_opcode(w), ==, LDNS_PACKET_UPDATE);
	g_assert_cmpuint(ldns_update_zocount(w), ==, 1);
	zone = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(w), 0)));
	g_assert_cmpstr(zone, ==, "dyn.test.");
	LDNS_FREE(zone);
	g_assert_cmpint(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(w), 0)), ==,
	                LDNS_RR_TYPE_SOA);
	g_assert_cmpuint(ldns_update_prcount(w), ==, 0);
	up = ldns_pkt_authority(w);
	g_assert_cmpuint(ldns_rr_list_rr_count(up), ==, 2);
	check_update_rr(ldns_rr_list_rr(up, 0), LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, 0, NULL);
	check_update_rr(ldns_rr_list_rr(up, 1), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 60,
	                "81.2.69.160");
	g_assert_nonnull(ldns_pkt_tsig(w));
	ldns_pkt_free(w);
	ldns_pkt_free(p);

	u = update_for(&r, "2a01:4f8:1:2::3");
	r.ttl = 300;
	p = hm_dyn_rfc2136_packet(&u, "dyn.test", &err);
	g_assert_nonnull(p);
	w = parse_wire(p);
	up = ldns_pkt_authority(w);
	check_update_rr(ldns_rr_list_rr(up, 0), LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_ANY, 0, NULL);
	check_update_rr(ldns_rr_list_rr(up, 1), LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN, 300,
	                "2a01:4f8:1:2::3");
	ldns_pkt_free(w);
	ldns_pkt_free(p);
}

/* Every algorithm homemail.conf(5) lists signs, except those libldns 1.8
 * cannot (it misspells hmac-sha384 and lacks hmac-sha224): those fail
 * with a message that says what to choose instead. */
static void
test_packet_algorithms(void)
{
	static const char *const algs[] = {
		"hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1",
	};
	HmDnsRecordConf r = record();

	for (guint i = 0; i < G_N_ELEMENTS(algs); i++) {
		HmDynUpdate u;
		g_autoptr(GError) err = NULL;
		ldns_pkt *p;
		char *alg;

		r.tsig_algorithm = (char *)algs[i];
		u = update_for(&r, "81.2.69.160");
		p = hm_dyn_rfc2136_packet(&u, "dyn.test", &err);
		if (p == NULL && strcmp(algs[i], "hmac-sha384") != 0 &&
		    strcmp(algs[i], "hmac-sha224") != 0)
			g_error("%s: %s", algs[i], err->message);
		if (p == NULL) {
			g_assert_nonnull(strstr(err->message, "cannot sign with"));
			g_assert_nonnull(strstr(err->message, "use hmac-sha256 or hmac-sha512"));
			continue;
		}
		alg = ldns_rdf2str(ldns_rr_rdf(ldns_pkt_tsig(p), 0));
		g_assert_true(g_str_has_prefix(alg, algs[i]));
		LDNS_FREE(alg);
		ldns_pkt_free(p);
	}
}

static void
test_packet_bad_secret(void)
{
	static const char *const bad[] = { "not base64!", "c2VjcmV0", "c2VjcmV0=", "", "====" };
	HmDnsRecordConf r = record();

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		HmDynUpdate u = update_for(&r, "81.2.69.160");
		g_autoptr(GError) err = NULL;
		ldns_pkt *p;

		u.secret = bad[i];
		p = hm_dyn_rfc2136_packet(&u, "dyn.test", &err);
		if (p == NULL) {
			g_assert_nonnull(err);
			g_assert_null(strstr(err->message, bad[i][0] != '\0' ? bad[i] : "\x01"));
		} else {
			/* "c2VjcmV0" is canonical base64 ("secret"): a short key,
			 * yet a key. */
			g_assert_cmpstr(bad[i], ==, "c2VjcmV0");
			ldns_pkt_free(p);
		}
	}
}

/* The answer a server sends to query: same ID, QR, rcode, the TSIG error
 * and signed with secret (NULL: unsigned). Returns its wire form. */
static guint8 *
server_answer(const ldns_pkt *query, guint rcode, const char *secret, guint16 id_delta,
              size_t *len)
{
	ldns_pkt *a = ldns_pkt_clone(query);
	const ldns_rr *qtsig = ldns_pkt_tsig(query);
	guint8 *wire = NULL;

	ldns_rr_free(ldns_pkt_tsig(a));
	ldns_pkt_set_tsig(a, NULL);
	ldns_pkt_set_qr(a, true);
	ldns_pkt_set_rcode(a, (uint8_t)rcode);
	ldns_pkt_set_id(a, (uint16_t)(ldns_pkt_id(query) + id_delta));
	if (secret != NULL)
		g_assert_cmpint(ldns_pkt_tsig_sign(a, "ddns-key", secret, 300, "hmac-sha256.",
		                                   ldns_rr_rdf(qtsig, 3)),
		                ==, LDNS_STATUS_OK);
	g_assert_cmpint(ldns_pkt2wire(&wire, a, len), ==, LDNS_STATUS_OK);
	ldns_pkt_free(a);
	return wire;
}

static void
expect_answer(const ldns_pkt *q, const HmDynUpdate *u, guint rcode, const char *secret,
              guint16 id_delta, HmDynOutcome outcome, const char *code)
{
	HmDynResult res = { 0 };
	size_t len = 0;
	guint8 *wire = server_answer(q, rcode, secret, id_delta, &len);

	hm_dyn_rfc2136_answer(q, wire, len, u, "dyn.test", &res);
	if (res.outcome != outcome || g_strcmp0(res.code, code) != 0)
		g_error("rcode %u secret %s: outcome %d code %s (%s)", rcode,
		        secret == NULL ? "none" : secret, res.outcome,
		        res.code, res.text);
	/* A cut answer is never taken for one. */
	for (size_t cut = 0; cut < len; cut += 7) {
		hm_dyn_rfc2136_answer(q, wire, cut, u, "dyn.test", &res);
		g_assert_cmpint(res.outcome, !=, HM_DYN_OK);
	}
	hm_dyn_result_clear(&res);
	LDNS_FREE(wire);
}

static void
test_answer(void)
{
	HmDnsRecordConf r = record();
	HmDynUpdate u = update_for(&r, "81.2.69.160");
	ldns_pkt *q = hm_dyn_rfc2136_packet(&u, "dyn.test", NULL);
	HmDynResult res = { 0 };

	g_assert_nonnull(q);
	expect_answer(q, &u, LDNS_RCODE_NOERROR, SECRET, 0, HM_DYN_OK, "NOERROR");
	expect_answer(q, &u, LDNS_RCODE_NOERROR, NULL, 0, HM_DYN_BACKOFF, "NOERROR");
	expect_answer(q, &u, LDNS_RCODE_NOERROR, OTHER, 0, HM_DYN_BACKOFF, "NOERROR");
	expect_answer(q, &u, LDNS_RCODE_NOERROR, SECRET, 1, HM_DYN_RETRY, NULL);
	expect_answer(q, &u, LDNS_RCODE_REFUSED, NULL, 0, HM_DYN_HOLD, "REFUSED");
	expect_answer(q, &u, LDNS_RCODE_SERVFAIL, SECRET, 0, HM_DYN_BACKOFF, "SERVFAIL");
	hm_dyn_rfc2136_answer(q, (const guint8 *)"\x01\x02garbage", 9, &u, "dyn.test", &res);
	g_assert_cmpint(res.outcome, ==, HM_DYN_RETRY);
	hm_dyn_result_clear(&res);
	ldns_pkt_free(q);
}

/* A correctly signed answer with a second copy of its TSIG RR: RFC 8945
 * allows one, last. Refused (and, under ASan, nothing leaks). */
static void
test_answer_two_tsig(void)
{
	HmDnsRecordConf r = record();
	HmDynUpdate u = update_for(&r, "81.2.69.160");
	ldns_pkt *q = hm_dyn_rfc2136_packet(&u, "dyn.test", NULL);
	ldns_pkt *a;
	guint8 *wire = NULL;
	size_t len = 0;
	HmDynResult res = { 0 };

	g_assert_nonnull(q);
	a = ldns_pkt_clone(q);
	ldns_rr_free(ldns_pkt_tsig(a));
	ldns_pkt_set_tsig(a, NULL);
	ldns_pkt_set_qr(a, true);
	g_assert_cmpint(ldns_pkt_tsig_sign(a, "ddns-key", SECRET, 300, "hmac-sha256.",
	                                   ldns_rr_rdf(ldns_pkt_tsig(q), 3)),
	                ==, LDNS_STATUS_OK);
	g_assert_true(ldns_pkt_push_rr(a, LDNS_SECTION_ADDITIONAL, ldns_rr_clone(ldns_pkt_tsig(a))));
	g_assert_cmpint(ldns_pkt2wire(&wire, a, &len), ==, LDNS_STATUS_OK);
	hm_dyn_rfc2136_answer(q, wire, len, &u, "dyn.test", &res);
	g_assert_cmpint(res.outcome, ==, HM_DYN_RETRY);
	g_assert_cmpstr(res.text, ==, "the server's answer is not DNS");
	hm_dyn_result_clear(&res);
	LDNS_FREE(wire);
	ldns_pkt_free(a);
	ldns_pkt_free(q);
}

static void
test_describe(void)
{
	HmDnsRecordConf r = record();
	HmDynUpdate u = update_for(&r, "81.2.69.160");
	g_autofree char *d = hm_dyn_rfc2136.describe(&u);
	g_autofree char *d2 = NULL;

	g_assert_null(strstr(d, SECRET));
	g_assert_nonnull(strstr(d, "zone dyn.test"));
	g_assert_nonnull(strstr(d, "server 127.0.0.1:5353"));
	g_assert_nonnull(strstr(d, "delete box.dyn.test A, add box.dyn.test 60 IN A 81.2.69.160"));
	g_assert_nonnull(strstr(d, "TSIG key 'ddns-key' (hmac-sha256, secret ********)"));
	r.server = NULL;
	d2 = hm_dyn_rfc2136.describe(&u);
	g_assert_nonnull(strstr(d2, "the primary of dyn.test"));
}

/* A one-shot TCP DNS server on 127.0.0.1: reads one message, then
 * answers as told, byte by byte when drip is set. */
typedef struct {
	int lfd;
	const guint8 *reply; /* with its length prefix; NULL: close at once */
	gsize reply_len;
	gboolean drip;
	GByteArray *got;
} Peer;

static gpointer
peer_main(gpointer data)
{
	Peer *p = data;
	int fd = accept(p->lfd, NULL, NULL);
	guint8 buf[512];
	ssize_t n;

	g_assert_cmpint(fd, >=, 0);
	if (p->reply != NULL) {
		/* the length prefix and the message, whatever the segments */
		while (p->got->len < 2 ||
		       p->got->len < 2u + ((guint)p->got->data[0] << 8 | p->got->data[1])) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			g_byte_array_append(p->got, buf, (guint)n);
		}
		for (gsize off = 0; off < p->reply_len; off += p->drip ? 1 : p->reply_len)
			g_assert_cmpint(write(fd, p->reply + off, p->drip ? 1 : p->reply_len), >, 0);
	}
	close(fd);
	return NULL;
}

static guint8 *
exchange(const guint8 *reply, gsize reply_len, gboolean drip, gsize *alen, GError **err,
         GByteArray *got)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	Peer p = { .reply = reply, .reply_len = reply_len, .drip = drip, .got = got };
	static const guint8 q[] = { 0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	GThread *t;
	guint8 *a;

	p.lfd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(bind(p.lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(p.lfd, 1), ==, 0);
	g_assert_cmpint(getsockname(p.lfd, (struct sockaddr *)&sa, &sl), ==, 0);
	t = g_thread_new("peer", peer_main, &p);
	a = hm_dyn_dns_tcp_exchange("127.0.0.1", ntohs(sa.sin_port), q, sizeof(q), alen, err);
	g_thread_join(t);
	close(p.lfd);
	return a;
}

static void
test_tcp_exchange(void)
{
	static const guint8 ok[] = { 0, 4, 0x12, 0x34, 0xa8, 0x00 };
	static const guint8 big[] = { 0x10, 0x01, 0x12, 0x34 };
	static const guint8 empty[] = { 0, 0 };
	static const guint8 cut[] = { 0, 9, 0x12, 0x34 };

	for (int drip = 0; drip < 2; drip++) {
		g_autoptr(GByteArray) got = g_byte_array_new();
		g_autoptr(GError) err = NULL;
		gsize alen = 0;
		g_autofree guint8 *a = exchange(ok, sizeof(ok), drip, &alen, &err, got);

		g_assert_no_error(err);
		g_assert_cmpuint(alen, ==, 4);
		g_assert_cmpmem(a, alen, ok + 2, 4);
		/* sent with its two-byte length in front */
		g_assert_cmpuint(got->len, ==, 14);
		g_assert_cmpuint(got->data[0] << 8 | got->data[1], ==, 12);
		g_assert_cmpuint(got->data[2], ==, 0x12);
	}
	{
		const guint8 *replies[] = { NULL, big, empty, cut };
		const gsize lens[] = { 0, sizeof(big), sizeof(empty), sizeof(cut) };

		for (guint i = 0; i < G_N_ELEMENTS(replies); i++) {
			g_autoptr(GByteArray) got = g_byte_array_new();
			g_autoptr(GError) err = NULL;
			gsize alen = 0;

			g_assert_null(exchange(replies[i], lens[i], FALSE, &alen, &err, got));
			g_assert_nonnull(err);
		}
	}
}

static void
ignore_warning(const char *line, gpointer data)
{
}

/* Loads a config whose one record is the given rfc2136 keys; returns the
 * error message (NULL when it loaded). */
static char *
load_record(const char *keys)
{
	g_autofree char *dir = g_dir_make_tmp("test-rfc2136-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "homemail.conf", NULL);
	g_autofree char *text = g_strdup_printf(
		"hostname = \"box.lan\";\n"
		"dyndns = { detect = \"static:81.2.69.160\";\n"
		"  records = ( { provider = \"rfc2136\";\n"
		"    %s\n"
		"  } );\n};\n",
		keys);
	g_autoptr(GError) err = NULL;
	HmConfig *cfg;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
	cfg = hm_config_load(path, ignore_warning, NULL, &err);
	g_unlink(path);
	g_rmdir(dir);
	if (cfg != NULL) {
		hm_config_free(cfg);
		return NULL;
	}
	return g_strdup(strstr(err->message, ":") != NULL ? strstr(err->message, ":") : "");
}

#define KEY "tsig_name = \"ddns-key\"; tsig_secret = \"" SECRET "\";"

static void
test_config(void)
{
	static const struct {
		const char *keys;
		const char *error; /* NULL: loads */
	} cases[] = {
		{ "hostname = \"box.dyn.test\"; " KEY, NULL },
		{ "hostname = \"box.dyn.test\"; zone = \"test\"; server = \"[::1]:5353\"; " KEY,
		  NULL },
		{ "hostname = \"box.dyn.test\"; zone = \"box.dyn.test\"; server = \"ns1\"; " KEY,
		  NULL },
		{ "hostname = \"box.dyn.test\"; zone = \"other.test\"; " KEY,
		  ":4: dyndns.records.[0].zone: hostname \"box.dyn.test\" is not inside zone" },
		{ "hostname = \"box.dyn.test\"; zone = \"yn.test\"; " KEY, "is not inside zone" },
		{ "hostname = \"box.dyn.test\"; zone = \"dyn..test\"; " KEY, "not a domain name" },
		{ "hostname = \"box\"; " KEY, ":3: dyndns.records.[0].zone: required: \"box\" has no" },
		{ "hostname = \"192.0.2.1\"; zone = \"test\"; " KEY, "is not a domain name" },
		{ "hostname = \"box.dyn.test\"; server = \"ns1:0\"; " KEY,
		  ":4: dyndns.records.[0].server: \"ns1:0\": port must be 1-65535" },
		{ "hostname = \"box.dyn.test\"; server = \"ns_1:53\"; " KEY,
		  "\"ns_1\" is not a host name" },
		{ "hostname = \"box.dyn.test\"; tsig_secret = \"" SECRET "\";",
		  "tsig_name: required for rfc2136" },
		{ "hostname = \"box.dyn.test\"; tsig_name = \"ddns-key\";",
		  "tsig_secret_file: required for rfc2136" },
		{ "hostname = \"box.dyn.test\"; tsig_name = \"host_key.\"; tsig_secret = \"" SECRET
		  "\";",
		  NULL },
		{ "hostname = \"box.dyn.test\"; tsig_name = \"a..b\"; tsig_secret = \"" SECRET
		  "\";",
		  "is not a key name" },
		{ "hostname = \"box.dyn.test\"; tsig_name = \"bad key\"; tsig_secret = \"" SECRET
		  "\";",
		  "tsig_name: \"bad key\" is not a key name" },
		{ "hostname = \"box.dyn.test\"; tsig_name = \"k\"; tsig_secret = \"Not-B64!\";",
		  ":4: dyndns.records.[0].tsig_secret: the TSIG secret is not base64" },
		{ "hostname = \"box.dyn.test\"; " KEY " tsig_algorithm = \"hmac-md5\";",
		  "tsig_algorithm: must be" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *msg = load_record(cases[i].keys);

		if (cases[i].error == NULL && msg != NULL)
			g_error("case %u refused: %s", i, msg);
		if (cases[i].error != NULL && (msg == NULL || strstr(msg, cases[i].error) == NULL))
			g_error("case %u: expected \"%s\", got %s", i, cases[i].error,
			        msg != NULL ? msg : "no error");
		g_assert_true(msg == NULL || strstr(msg, SECRET) == NULL);
		g_assert_true(msg == NULL || strstr(msg, "Not-B64") == NULL);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dyndns/rfc2136/server-parse", test_server_parse);
	g_test_add_func("/dyndns/rfc2136/zone", test_zone);
	g_test_add_func("/dyndns/rfc2136/algorithm", test_algorithm);
	g_test_add_func("/dyndns/rfc2136/judge", test_judge);
	g_test_add_func("/dyndns/rfc2136/packet", test_packet);
	g_test_add_func("/dyndns/rfc2136/packet-algorithms", test_packet_algorithms);
	g_test_add_func("/dyndns/rfc2136/packet-bad-secret", test_packet_bad_secret);
	g_test_add_func("/dyndns/rfc2136/answer", test_answer);
	g_test_add_func("/dyndns/rfc2136/answer-two-tsig", test_answer_two_tsig);
	g_test_add_func("/dyndns/rfc2136/describe", test_describe);
	g_test_add_func("/dyndns/rfc2136/config", test_config);
	g_test_add_func("/dyndns/rfc2136/tcp-exchange", test_tcp_exchange);
	return g_test_run();
}
