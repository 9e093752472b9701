/* Fuzzes the header rewriting and the address-list tokenizer under it:
 * spans stay inside the value and in order; a rewritten header section
 * has CRLF line ends only, keeps its lines within 998 octets when the
 * input's were, holds the same fields, re-parses (each From:/Sender: list
 * with as many addresses), and a second pass changes nothing. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/hmconfig.h"
#include "lib/header.h"
#include "relay/addrlist.h"
#include "relay/rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *domains[] = { (char *)"box.lan", (char *)"home.example", NULL };
static char *alice_addrs[] = { (char *)"alice.smith@home.example", (char *)"al@other.example",
	                       NULL };
static char *no_addrs[] = { NULL };
static HmUserConf users[] = {
	{ .name = (char *)"alice", .addresses = alice_addrs, .send_as = (char *)"alice@isp.example" },
	{ .name = (char *)"bob", .addresses = no_addrs },
	/* A long send_as, so that rewriting grows lines. */
	{ .name = (char *)"carol",
	  .addresses = no_addrs,
	  .send_as = (char *)"carol.with.a.rather.long.local.part.to.grow.lines@"
	                     "mail.provider.example" },
};
static HmAliasConf aliases[] = {
	{ .name = (char *)"root", .target = (char *)"alice" },
	{ .name = (char *)"c", .target = (char *)"carol" },
	{ .name = (char *)"ext", .target = (char *)"x@far.example" },
};

static const HmConfig *
config(void)
{
	static HmConfig cfg;

	if (cfg.hostname == NULL) {
		cfg.hostname = (char *)"box.lan";
		cfg.local_domains = domains;
		cfg.users = users;
		cfg.n_users = G_N_ELEMENTS(users);
		cfg.aliases = aliases;
		cfg.n_aliases = G_N_ELEMENTS(aliases);
		cfg.relay.rewrite_header_from = TRUE;
	}
	return &cfg;
}

static void
check_spans(const char *v, gsize len)
{
	g_autoptr(GArray) spans = relay_addrlist_parse(v, len);
	gsize prev = 0;

	for (guint i = 0; spans != NULL && i < spans->len; i++) {
		const RelayAddrSpan *sp = &g_array_index(spans, RelayAddrSpan, i);

		if (sp->outer_start < prev || sp->outer_start > sp->start || sp->start >= sp->end ||
		    sp->end > sp->outer_end || sp->outer_end > len || sp->addr[0] == '\0')
			abort();
		prev = sp->outer_end;
	}
}

/* The longest line of msg[0..len) without its LF or CRLF. */
static gsize
longest_line(const char *msg, gsize len)
{
	gsize best = 0, start = 0;

	for (gsize i = 0; i <= len; i++)
		if (i == len || msg[i] == '\n') {
			gsize n = i - start;

			if (i < len && n > 0 && msg[i - 1] == '\r')
				n--;
			best = MAX(best, n);
			start = i + 1;
		}
	return best;
}

/* The number of addresses of an address-list field, -1 when unparseable. */
static int
count_addrs(const HmHeaderField *f)
{
	g_autoptr(GArray) spans = relay_addrlist_parse(f->value, f->value_len);

	return spans != NULL ? (int)spans->len : -1;
}

static void
compare(const char *msg, gsize end, const char *head)
{
	HmHeaderIter a, b;
	HmHeaderField fa, fb;
	int ra, rb;

	hm_header_iter_init(&a, msg, end);
	hm_header_iter_init(&b, head, strlen(head));
	do {
		ra = hm_header_next(&a, &fa);
		rb = hm_header_next(&b, &fb);
		if (ra != rb)
			abort();
		if (ra == 1 && (fa.name_len != fb.name_len || memcmp(fa.name, fb.name, fa.name_len) != 0))
			abort();
		if (ra == 1 && (hm_header_is(&fa, "From") || hm_header_is(&fa, "Sender")) &&
		    count_addrs(&fa) != count_addrs(&fb))
			abort();
	} while (ra == 1);
}

static void
check_head(const RelayRewriter *rw, const char *user, const char *msg, gsize end,
           const char *head)
{
	gsize hlen = strlen(head);
	g_autofree char *again = NULL;
	gsize end2;

	if (hlen < 2 || memcmp(head + hlen - 2, "\r\n", 2) != 0)
		abort();
	for (gsize i = 0; i < hlen; i++)
		if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r'))
			abort();
	if (longest_line(msg, end) <= RELAY_REWRITE_LINE_MAX &&
	    longest_line(head, hlen) > RELAY_REWRITE_LINE_MAX)
		abort();
	compare(msg, end, head);
	if (relay_rewrite_headers(rw, user, head, hlen, &again, &end2) != 0 || again != NULL ||
	    end2 != hlen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static RelayRewriter *rw;
	static const char *const names[] = { "myhost", NULL };
	const char *msg = (const char *)data;
	/* carol's long send_as grows lines; alice has aliases and extra
	 * addresses. */
	const char *user = size % 2 == 0 ? "alice" : "carol";
	g_autofree char *head = NULL;
	g_autofree char *sender = NULL;
	g_autofree char *out = NULL;
	gsize end;

	if (rw == NULL)
		rw = relay_rewriter_new(config(), names);
	check_spans(msg, size);
	if (relay_rewrite_headers(rw, user, msg, size, &head, &end) != 0 || end > size)
		abort();
	/* A NUL ends the comparison's view of the head; the rewriting copies
	 * it, so only NUL-free inputs are compared. */
	if (head != NULL && memchr(msg, '\0', end) == NULL)
		check_head(rw, user, msg, end, head);
	sender = g_strndup(msg, MIN(size, 300));
	if (relay_rewrite_sender(rw, sender, &out, NULL) == RELAY_REWRITE_DONE && out == NULL)
		abort();
	return 0;
}
