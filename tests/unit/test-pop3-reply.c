/* The POP3 client's reply parsers: status lines, CAPA, STAT, LIST/UIDL
 * lines, and the listing cross-checks, with every hostile case a server
 * could send (fetchmail's advisories: negative, huge, out-of-range
 * numbers, over-long UIDs, duplicates). */
#include <config.h>

#include <string.h>

#include "fetcher/fetch.h"
#include "fetcher/pop3-reply.h"

typedef struct {
	const char *line;
	int rc;
	gboolean ok;
	const char *text;   /* when rc == 0 */
} StatusCase;

static void
test_status(void)
{
	static const StatusCase cases[] = {
		{ "+OK", 0, TRUE, "" },
		{ "+OK ", 0, TRUE, "" },
		{ "+OK POP3 ready <1.2@host>", 0, TRUE, "POP3 ready <1.2@host>" },
		{ "-ERR", 0, FALSE, "" },
		{ "-ERR [AUTH] Authentication failed.", 0, FALSE, "[AUTH] Authentication failed." },
		{ "", -1, 0, NULL },
		{ "OK", -1, 0, NULL },
		{ "+ok fine", -1, 0, NULL },
		{ "-err no", -1, 0, NULL },
		{ "+OKAY", -1, 0, NULL },
		{ "-ERROR", -1, 0, NULL },
		{ "+OK\tx", -1, 0, NULL },
		{ "+ ", -1, 0, NULL },
		{ "+", -1, 0, NULL },
		{ " +OK", -1, 0, NULL },
		{ "* OK IMAP4rev1 ready", -1, 0, NULL },
		{ "220 smtp ready", -1, 0, NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const StatusCase *c = &cases[i];
		gboolean ok = !c->ok;
		const char *text = NULL, *why = NULL;
		int rc = hm_pop3_status_parse(c->line, &ok, &text, &why);

		if (rc != c->rc)
			g_error("status \"%s\": rc %d, want %d", c->line, rc, c->rc);
		if (rc == 0) {
			g_assert_cmpint(ok, ==, c->ok);
			g_assert_cmpstr(text, ==, c->text);
		} else {
			g_assert_cmpstr(why, ==, "no +OK or -ERR");
		}
	}
	g_assert_true(hm_pop3_is_continuation("+ "));
	g_assert_true(hm_pop3_is_continuation("+"));
	g_assert_true(hm_pop3_is_continuation("+ AAAA"));
	g_assert_false(hm_pop3_is_continuation("+OK"));
	g_assert_false(hm_pop3_is_continuation("-ERR"));
}

static void
test_quote(void)
{
	g_autofree char *a = hm_pop3_quote("bad\x01 \x1b[31mred\r\n\x7f");
	g_autofree char *b = hm_pop3_quote("caf\xc3\xa9");
	g_autofree char *long_text = g_strnfill(1000, 'x');
	g_autofree char *c = hm_pop3_quote(long_text);

	g_assert_cmpstr(a, ==, "bad [31mred");
	g_assert_cmpstr(b, ==, "caf??");
	g_assert_cmpuint(strlen(c), ==, HM_POP3_QUOTE_MAX + 3);
	g_assert_true(g_str_has_suffix(c, "x..."));
}

static void
test_capa(void)
{
	static const char *const lines[] = {
		"TOP", "user", "RESP-CODES", "Pipelining", "UIDL", "STLS",
		"SASL SCRAM-SHA-256 plain LOGIN", "IMPLEMENTATION some server 1.0", "",
		"EXPIRE NEVER",
	};
	HmPop3Capa c;
	const char *why = NULL;

	hm_pop3_capa_clear(&c);
	for (gsize i = 0; i < G_N_ELEMENTS(lines); i++)
		g_assert_cmpint(hm_pop3_capa_add(&c, lines[i], &why), ==, 0);
	g_assert_true(c.user && c.pipelining && c.uidl && c.stls && c.sasl_plain);
	g_assert_cmpuint(c.n_sasl, ==, 3);

	/* Arguments to a capability we match exactly are not that capability. */
	hm_pop3_capa_clear(&c);
	g_assert_cmpint(hm_pop3_capa_add(&c, "STLS now", &why), ==, 0);
	g_assert_cmpint(hm_pop3_capa_add(&c, "PIPELININGX", &why), ==, 0);
	g_assert_cmpint(hm_pop3_capa_add(&c, "SASL LOGIN CRAM-MD5", &why), ==, 0);
	g_assert_cmpint(hm_pop3_capa_add(&c, "SASLPLAIN", &why), ==, 0);
	g_assert_cmpint(hm_pop3_capa_add(&c, "XPLAIN PLAIN", &why), ==, 0);
	g_assert_false(c.stls || c.pipelining || c.sasl_plain || c.user || c.uidl);
	g_assert_cmpuint(c.n_sasl, ==, 2);

	/* A server listing capabilities forever is cut off. */
	hm_pop3_capa_clear(&c);
	for (guint i = 0; i < HM_POP3_MAX_CAPA_LINES; i++)
		g_assert_cmpint(hm_pop3_capa_add(&c, "X-FOO", &why), ==, 0);
	g_assert_cmpint(hm_pop3_capa_add(&c, "X-FOO", &why), ==, -1);
	g_assert_nonnull(strstr(why, "more than"));

	hm_pop3_capa_assume(&c);
	g_assert_true(c.user && c.uidl);
	g_assert_false(c.pipelining || c.stls || c.sasl_plain);
}

typedef struct {
	const char *text;
	int rc;
	guint32 count;
	guint64 size;
	const char *why;    /* substring when rc == -1 */
} StatCase;

static void
test_stat(void)
{
	static const StatCase cases[] = {
		{ "0 0", 0, 0, 0, NULL },
		{ "2 320", 0, 2, 320, NULL },
		{ "1000000 9223372036854775807", 0, 1000000, G_MAXINT64, NULL },
		{ "3 4096 extra text servers may add", 0, 3, 4096, NULL },
		{ "", -1, 0, 0, "missing message count" },
		{ "2", -1, 0, 0, "missing maildrop size" },
		{ "2 ", -1, 0, 0, "missing size" },
		{ "-1 0", -1, 0, 0, "not a decimal" },
		{ "+1 0", -1, 0, 0, "not a decimal" },
		{ "2 -320", -1, 0, 0, "not a decimal" },
		{ "1000001 10", -1, 0, 0, "more than 1000000 messages" },
		{ "4294967297 10", -1, 0, 0, "more than 1000000 messages" },
		{ "99999999999999999999999 10", -1, 0, 0, "not a decimal" },
		{ "2 9223372036854775808", -1, 0, 0, "not a decimal" },
		{ "2x 320", -1, 0, 0, "not a decimal" },
		{ "2 320x", -1, 0, 0, "not a decimal" },
		{ "2  320", -1, 0, 0, "missing size" },
		{ " 2 320", -1, 0, 0, "missing message count" },
		{ "0x10 320", -1, 0, 0, "not a decimal" },
		{ "2\t320", -1, 0, 0, "not a decimal" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const StatCase *c = &cases[i];
		guint32 count = 12345;
		guint64 size = 12345;
		const char *why = NULL;
		int rc = hm_pop3_stat_parse(c->text, &count, &size, &why);

		if (rc != c->rc)
			g_error("STAT \"%s\": rc %d, want %d (%s)", c->text, rc, c->rc, why);
		if (rc == 0) {
			g_assert_cmpuint(count, ==, c->count);
			g_assert_cmpuint(size, ==, c->size);
		} else if (strstr(why, c->why) == NULL) {
			g_error("STAT \"%s\": reason \"%s\", want \"%s\"", c->text, why, c->why);
		}
	}
}

typedef struct {
	const char *line;
	guint32 count;
	int rc;
	guint32 num;
	const char *val;    /* size in decimal, or the UID; or the reason's substring */
} LineCase;

static void
test_scan(void)
{
	static const LineCase cases[] = {
		{ "1 120", 5, 0, 1, "120" },
		{ "5 0", 5, 0, 5, "0" },
		{ "3 1200 more text", 5, 0, 3, "1200" },
		{ "1 300000000000", 5, 0, 1, "300000000000" },
		{ "0 120", 5, -1, 0, "out of range" },
		{ "6 120", 5, -1, 0, "out of range" },
		{ "1 120", 0, -1, 0, "out of range" },
		{ "4294967297 120", 5, -1, 0, "out of range" },
		{ "4294967296 120", 5, -1, 0, "out of range" },
		{ "18446744073709551616 120", 5, -1, 0, "not a decimal" },
		{ "-1 120", 5, -1, 0, "not a decimal" },
		{ "+1 120", 5, -1, 0, "not a decimal" },
		{ "1 -120", 5, -1, 0, "not a decimal" },
		{ "1 +120", 5, -1, 0, "not a decimal" },
		{ "1x 120", 5, -1, 0, "not a decimal" },
		{ "1 120x", 5, -1, 0, "not a decimal" },
		{ "1 12 0", 5, 0, 1, "12" },
		{ "1", 5, -1, 0, "missing size" },
		{ "1 ", 5, -1, 0, "missing size" },
		{ "", 5, -1, 0, "missing message number" },
		{ " 1 120", 5, -1, 0, "missing message number" },
		{ "1  120", 5, -1, 0, "missing size" },
		{ "1 99999999999999999999", 5, -1, 0, "not a decimal" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const LineCase *c = &cases[i];
		guint32 num = 0;
		guint64 size = 0;
		const char *why = NULL;
		int rc = hm_pop3_scan_parse(c->line, c->count, &num, &size, &why);

		if (rc != c->rc)
			g_error("LIST \"%s\": rc %d, want %d (%s)", c->line, rc, c->rc, why);
		if (rc == 0) {
			g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, size);

			g_assert_cmpuint(num, ==, c->num);
			g_assert_cmpstr(s, ==, c->val);
		} else if (strstr(why, c->val) == NULL) {
			g_error("LIST \"%s\": reason \"%s\", want \"%s\"", c->line, why, c->val);
		}
	}
}

static void
test_uidl(void)
{
	static const LineCase cases[] = {
		{ "1 whqtswO00WBw418f9t5JxYwZ", 3, 0, 1, "whqtswO00WBw418f9t5JxYwZ" },
		{ "3 !", 3, 0, 3, "!" },
		{ "2 ~x~", 3, 0, 2, "~x~" },
		{ "2 0123456789012345678901234567890123456789012345678901234567890123456789", 3, 0, 2,
		  "0123456789012345678901234567890123456789012345678901234567890123456789" },
		{ "2 01234567890123456789012345678901234567890123456789012345678901234567890", 3, -1, 0,
		  "UID longer than 70 octets" },
		{ "1", 3, -1, 0, "missing UID" },
		{ "1 ", 3, -1, 0, "missing UID" },
		{ "1  abc", 3, -1, 0, "outside 0x21-0x7E" },
		{ "1 abc def", 3, -1, 0, "outside 0x21-0x7E" },
		{ "1 abc ", 3, -1, 0, "outside 0x21-0x7E" },
		{ "1 ab\tc", 3, -1, 0, "outside 0x21-0x7E" },
		{ "1 ab\x7f", 3, -1, 0, "outside 0x21-0x7E" },
		{ "1 caf\xc3\xa9", 3, -1, 0, "outside 0x21-0x7E" },
		{ "1 ab\x01", 3, -1, 0, "outside 0x21-0x7E" },
		{ "0 abc", 3, -1, 0, "out of range" },
		{ "4 abc", 3, -1, 0, "out of range" },
		{ "4294967297 abc", 3, -1, 0, "out of range" },
		{ "-1 abc", 3, -1, 0, "not a decimal" },
		{ "1a abc", 3, -1, 0, "not a decimal" },
		{ "abc", 3, -1, 0, "not a decimal" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const LineCase *c = &cases[i];
		guint32 num = 0;
		const char *why = NULL, *uid = NULL;
		gsize len = 0;
		int rc = hm_pop3_uidl_parse(c->line, c->count, &num, &uid, &len, &why);

		if (rc != c->rc)
			g_error("UIDL \"%s\": rc %d, want %d (%s)", c->line, rc, c->rc, why);
		if (rc == 0) {
			g_autofree char *s = g_strndup(uid, len);

			g_assert_cmpuint(num, ==, c->num);
			g_assert_cmpstr(s, ==, c->val);
		} else if (strstr(why, c->val) == NULL) {
			g_error("UIDL \"%s\": reason \"%s\", want \"%s\"", c->line, why, c->val);
		}
	}
}

static void
test_listing_ok(void)
{
	HmPop3Listing l;
	g_autoptr(GError) err = NULL;
	g_autofree char *u1 = NULL, *u2 = NULL, *u3 = NULL;

	/* Servers need not list in order; the listing is indexed by number. */
	hm_pop3_listing_init(&l, 3);
	g_assert_cmpint(hm_pop3_listing_add_uidl(&l, "2 b", &err), ==, 0);
	g_assert_cmpint(hm_pop3_listing_add_uidl(&l, "1 a", &err), ==, 0);
	g_assert_cmpint(hm_pop3_listing_add_uidl(&l, "3 c", &err), ==, 0);
	g_assert_cmpint(hm_pop3_listing_add_scan(&l, "3 30", &err), ==, 0);
	g_assert_cmpint(hm_pop3_listing_add_scan(&l, "1 10", &err), ==, 0);
	g_assert_cmpint(hm_pop3_listing_add_scan(&l, "2 20", &err), ==, 0);
	g_assert_cmpint(hm_pop3_listing_finish(&l, TRUE, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(l.sizes[0], ==, 10);
	g_assert_cmpuint(l.sizes[2], ==, 30);
	u1 = hm_pop3_listing_steal_uid(&l, 1);
	u2 = hm_pop3_listing_steal_uid(&l, 2);
	u3 = hm_pop3_listing_steal_uid(&l, 3);
	g_assert_cmpstr(u1, ==, "a");
	g_assert_cmpstr(u2, ==, "b");
	g_assert_cmpstr(u3, ==, "c");
	hm_pop3_listing_clear(&l);
	hm_pop3_listing_clear(&l);

	/* Without UIDL, only LIST is checked. */
	hm_pop3_listing_init(&l, 1);
	g_assert_cmpint(hm_pop3_listing_add_scan(&l, "1 10", &err), ==, 0);
	g_assert_cmpint(hm_pop3_listing_finish(&l, FALSE, &err), ==, 0);
	g_assert_null(hm_pop3_listing_steal_uid(&l, 1));
	hm_pop3_listing_clear(&l);

	hm_pop3_listing_init(&l, 0);
	g_assert_cmpint(hm_pop3_listing_finish(&l, TRUE, &err), ==, 0);
	hm_pop3_listing_clear(&l);
}

typedef struct {
	guint32 count;
	const char *uidl[5];   /* NULL-terminated */
	const char *list[5];
	const char *message;   /* the exact error */
} ListingCase;

static void
test_listing_hostile(void)
{
	static const ListingCase cases[] = {
		{ 2, { "1 a", "1 b" }, { NULL }, "UIDL line 2: duplicate message number" },
		{ 2, { "1 a", "2 b", "3 c" }, { NULL }, "UIDL line 3: more messages than STAT counted" },
		{ 2, { "1 a", "2 b", "2 c" }, { NULL }, "UIDL line 3: more messages than STAT counted" },
		{ 2, { "1 a", "0 b" }, { NULL }, "UIDL line 2: message number out of range" },
		{ 2, { "1 a", "4294967298 b" }, { NULL }, "UIDL line 2: message number out of range" },
		{ 2, { "1 a", "2 b" }, { "1 10", "1 20" }, "LIST line 2: duplicate message number" },
		{ 2, { "1 a", "2 b" }, { "1 10", "3 20" }, "LIST line 2: message number out of range" },
		{ 2, { "1 a", "2 b" }, { "1 10", "2 -20" }, "LIST line 2: size is not a decimal number" },
		{ 2, { "1 a", "2 b" }, { "-1 10" }, "LIST line 1: message number is not a decimal number" },
		{ 2, { "1 a", "2 b" }, { "1 10", "2 20", "3 30" },
		  "LIST line 3: more messages than STAT counted" },
		/* Cross-checks: each listing must name every message STAT counted. */
		{ 2, { "1 a", "2 b" }, { "1 10" }, "LIST listed 1 messages, STAT counted 2" },
		{ 2, { "1 a" }, { "1 10", "2 20" }, "UIDL listed 1 messages, STAT counted 2" },
		{ 1, { NULL }, { "1 10" }, "UIDL listed 0 messages, STAT counted 1" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		const ListingCase *c = &cases[i];
		HmPop3Listing l;
		g_autoptr(GError) err = NULL;
		int rc = 0;

		hm_pop3_listing_init(&l, c->count);
		for (guint j = 0; rc == 0 && c->uidl[j] != NULL; j++)
			rc = hm_pop3_listing_add_uidl(&l, c->uidl[j], &err);
		for (guint j = 0; rc == 0 && c->list[j] != NULL; j++)
			rc = hm_pop3_listing_add_scan(&l, c->list[j], &err);
		if (rc == 0)
			rc = hm_pop3_listing_finish(&l, TRUE, &err);
		if (rc == 0)
			g_error("listing case %" G_GSIZE_FORMAT " accepted", i);
		g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL);
		g_assert_cmpstr(err->message, ==, c->message);
		hm_pop3_listing_clear(&l);
	}
}

/* A bad UID of a well-numbered message, or one UID given to several
 * messages, makes those messages untracked (no UID), each problem said
 * once; the others keep their UIDs. */
static void
test_listing_untracked(void)
{
	static const char *const uidl[] = {
		"1 a", "2 0123456789012345678901234567890123456789012345678901234567890123456789x",
		"3 b", "4 c", "5 b", "6", "7 \x01", "8 c", "9 b", NULL,
	};
	static const char *const want[] = {
		"message 2 has a malformed UIDL line (UID longer than 70 octets)",
		"message 6 has a malformed UIDL line (missing UID)",
		"message 7 has a malformed UIDL line (UID has an octet outside 0x21-0x7E)",
		"messages 3, 5, 9 share the UID \"b\" (a server bug), so none of them can be tracked",
		"messages 4, 8 share the UID \"c\" (a server bug), so none of them can be tracked",
	};
	HmPop3Listing l;
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) problems = NULL;
	g_autofree char *u1 = NULL;

	hm_pop3_listing_init(&l, 9);
	for (guint i = 0; uidl[i] != NULL; i++) {
		g_autofree char *scan = g_strdup_printf("%u 10", i + 1);

		g_assert_cmpint(hm_pop3_listing_add_uidl(&l, uidl[i], &err), ==, 0);
		g_assert_cmpint(hm_pop3_listing_add_scan(&l, scan, &err), ==, 0);
	}
	g_assert_cmpint(hm_pop3_listing_finish(&l, TRUE, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_null(hm_pop3_listing_untracked(&l, 1));
	g_assert_cmpstr(hm_pop3_listing_untracked(&l, 2), ==, "UID longer than 70 octets");
	g_assert_cmpstr(hm_pop3_listing_untracked(&l, 3), ==, "UID shared with another message");
	g_assert_cmpstr(hm_pop3_listing_untracked(&l, 9), ==, "UID shared with another message");
	problems = hm_pop3_listing_problems(&l);
	g_assert_cmpuint(problems->len, ==, G_N_ELEMENTS(want));
	for (guint i = 0; i < problems->len; i++)
		g_assert_cmpstr(problems->pdata[i], ==, want[i]);
	u1 = hm_pop3_listing_steal_uid(&l, 1);
	g_assert_cmpstr(u1, ==, "a");
	for (guint32 num = 2; num <= 9; num++)
		g_assert_null(hm_pop3_listing_steal_uid(&l, num));
	hm_pop3_listing_clear(&l);
}

/* Messages sharing one UID are named up to ten in their log line. */
static void
test_listing_shared_many(void)
{
	HmPop3Listing l;
	g_autoptr(GPtrArray) problems = NULL;
	char line[32];

	hm_pop3_listing_init(&l, 25);
	for (guint32 num = 1; num <= 25; num++) {
		g_snprintf(line, sizeof(line), "%u same", num);
		g_assert_cmpint(hm_pop3_listing_add_uidl(&l, line, NULL), ==, 0);
		g_snprintf(line, sizeof(line), "%u 1", num);
		g_assert_cmpint(hm_pop3_listing_add_scan(&l, line, NULL), ==, 0);
	}
	g_assert_cmpint(hm_pop3_listing_finish(&l, TRUE, NULL), ==, 0);
	problems = hm_pop3_listing_problems(&l);
	g_assert_cmpuint(problems->len, ==, 1);
	g_assert_cmpstr(problems->pdata[0], ==,
	                "messages 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 15 more share the UID \"same\" "
	                "(a server bug), so none of them can be tracked");
	hm_pop3_listing_clear(&l);
}

/* The most messages we accept, listed in full. */
static void
test_listing_max(void)
{
	HmPop3Listing l;
	g_autoptr(GError) err = NULL;
	char line[64];

	hm_pop3_listing_init(&l, HM_POP3_MAX_MESSAGES);
	for (guint32 i = 1; i <= HM_POP3_MAX_MESSAGES; i++) {
		g_snprintf(line, sizeof(line), "%u u%u", i, i);
		g_assert_cmpint(hm_pop3_listing_add_uidl(&l, line, &err), ==, 0);
		g_snprintf(line, sizeof(line), "%u 100", i);
		g_assert_cmpint(hm_pop3_listing_add_scan(&l, line, &err), ==, 0);
	}
	g_assert_cmpint(hm_pop3_listing_add_scan(&l, "1 100", &err), ==, -1);
	g_assert_cmpstr(err->message, ==, "LIST line 1000001: more messages than STAT counted");
	g_clear_error(&err);
	g_assert_cmpint(hm_pop3_listing_finish(&l, TRUE, &err), ==, 0);
	hm_pop3_listing_clear(&l);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pop3-reply/status", test_status);
	g_test_add_func("/pop3-reply/quote", test_quote);
	g_test_add_func("/pop3-reply/capa", test_capa);
	g_test_add_func("/pop3-reply/stat", test_stat);
	g_test_add_func("/pop3-reply/scan", test_scan);
	g_test_add_func("/pop3-reply/uidl", test_uidl);
	g_test_add_func("/pop3-reply/listing-ok", test_listing_ok);
	g_test_add_func("/pop3-reply/listing-hostile", test_listing_hostile);
	g_test_add_func("/pop3-reply/listing-untracked", test_listing_untracked);
	g_test_add_func("/pop3-reply/listing-shared-many", test_listing_shared_many);
	g_test_add_func("/pop3-reply/listing-max", test_listing_max);
	return g_test_run();
}
