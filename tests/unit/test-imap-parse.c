/* The IMAP response tokenizer and reader: every token kind, literals of 0,
 * large and over-the-bound sizes, nesting and its bound, bad quoting,
 * strict numbers, the text bound, and input split at every chunk size
 * (from a buffer at every prefix, and over a socket at every write size). */
#include <config.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetcher/fetch.h"
#include "fetcher/imap-parse.h"

static HmImapLimits lim;

static void
dump_token(GString *o, const HmImapToken *t)
{
	switch (t->type) {
	case HM_IMAP_ATOM:
		g_string_append(o, t->str);
		break;
	case HM_IMAP_NUMBER:
		g_string_append_printf(o, "#%u", t->num);
		break;
	case HM_IMAP_NIL:
		g_string_append(o, "NIL");
		break;
	case HM_IMAP_STRING:
		if (t->literal)
			g_string_append_printf(o, "{%zu}", t->len);
		g_string_append_c(o, '"');
		g_string_append_len(o, t->str, (gssize)t->len);
		g_string_append_c(o, '"');
		break;
	case HM_IMAP_LIST:
		g_string_append_c(o, '(');
		for (guint i = 0; i < t->list->len; i++) {
			if (i > 0)
				g_string_append_c(o, ' ');
			dump_token(o, g_ptr_array_index(t->list, i));
		}
		g_string_append_c(o, ')');
		break;
	}
}

/* A canonical form of a response for comparisons. */
static char *
dump(const HmImapResponse *r)
{
	GString *o = g_string_new(NULL);

	if (r->kind == HM_IMAP_CONTINUE)
		g_string_append(o, "+");
	else if (r->kind == HM_IMAP_TAGGED)
		g_string_append_printf(o, "T:%s", r->tag);
	else
		g_string_append(o, "*");
	if (r->has_number)
		g_string_append_printf(o, " %u", r->number);
	if (r->keyword != NULL)
		g_string_append_printf(o, " %s", r->keyword);
	if (r->code != NULL) {
		g_string_append_printf(o, " [%s", r->code);
		for (guint i = 0; i < r->code_args->len; i++) {
			g_string_append_c(o, ' ');
			dump_token(o, g_ptr_array_index(r->code_args, i));
		}
		g_string_append_c(o, ']');
	}
	if (r->text != NULL)
		g_string_append_printf(o, " text=%s", r->text);
	for (guint i = 0; i < r->args->len; i++) {
		g_string_append_c(o, ' ');
		dump_token(o, g_ptr_array_index(r->args, i));
	}
	return g_string_free(o, FALSE);
}

/* Parses one complete response from text; asserts it used all of it. */
static char *
parse_ok(const char *text, gsize len)
{
	g_autoptr(HmImapResponse) r = NULL;
	g_autoptr(GError) err = NULL;
	gsize used = 0;

	g_assert_cmpint(hm_imap_parse_buffer(text, len, &lim, &used, &r, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpuint(used, ==, len);
	return dump(r);
}

#define PARSE_OK(text) parse_ok(text, strlen(text))

/* Parses text, which must fail with a message containing why. */
static void
parse_bad(const char *text, const char *why)
{
	g_autoptr(HmImapResponse) r = NULL;
	g_autoptr(GError) err = NULL;
	gsize used = 0;

	if (hm_imap_parse_buffer(text, strlen(text), &lim, &used, &r, &err) != -1)
		g_error("accepted %s", text);
	g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL);
	if (strstr(err->message, why) == NULL)
		g_error("%s: got \"%s\", want \"%s\"", text, err->message, why);
}

static const struct {
	const char *in, *out;
} cases[] = {
	{ "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] Dovecot ready.\r\n",
	  "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] text=Dovecot ready." },
	{ "* PREAUTH hi\r\n", "* PREAUTH text=hi" },
	{ "* BYE\r\n", "* BYE text=" },
	{ "A0001 OK [READ-WRITE] SELECT completed\r\n", "T:A0001 OK [READ-WRITE] text=SELECT completed" },
	{ "A0002 no [AUTHENTICATIONFAILED] Authentication failed.\n",
	  "T:A0002 NO [AUTHENTICATIONFAILED] text=Authentication failed." },
	{ "a3 BAD\r\n", "T:a3 BAD text=" },
	{ "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n", "* OK [UIDVALIDITY #1700000000] text=UIDs valid" },
	{ "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
	  "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] text=Limited" },
	{ "* 172 EXISTS\r\n", "* 172 EXISTS" },
	{ "* 0 RECENT\r\n", "* 0 RECENT" },
	{ "* 4294967295 EXISTS\r\n", "* 4294967295 EXISTS" },
	{ "* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n", "* CAPABILITY IMAP4rev1 IDLE UIDPLUS" },
	{ "* SEARCH 2 84 882\r\n", "* SEARCH #2 #84 #882" },
	{ "* SEARCH\r\n", "* SEARCH" },
	{ "* FLAGS (\\Answered \\Flagged)\r\n", "* FLAGS (\\Answered \\Flagged)" },
	{ "* 12 FETCH (UID 7 RFC822.SIZE 44 FLAGS ())\r\n", "* 12 FETCH (UID #7 RFC822.SIZE #44 FLAGS ())" },
	{ "* 1 FETCH (UID 3 BODY[] {5}\r\nab\r\nc)\r\n", "* 1 FETCH (UID #3 BODY[] {5}\"ab\r\nc\")" },
	{ "* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] {0}\r\n UID 9)\r\n",
	  "* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] {0}\"\" UID #9)" },
	{ "* 1 FETCH (BODY[] NIL UID 2)\r\n", "* 1 FETCH (BODY[] NIL UID #2)" },
	{ "* LIST (\\HasNoChildren) \".\" \"a \\\"b\\\" \\\\c\"\r\n",
	  "* LIST (\\HasNoChildren) \".\" \"a \"b\" \\c\"" },
	{ "* LIST () \"/\" {3}\r\nx y\r\n", "* LIST () \"/\" {3}\"x y\"" },
	{ "* ID (\"name\" \"Dovecot\" \"x\" nil)\r\n", "* ID (\"name\" \"Dovecot\" \"x\" NIL)" },
	{ "* SEARCH 99999999999\r\n", "* SEARCH 99999999999" },  /* an ATOM, not a number */
	{ "* SEARCH -1 1a\r\n", "* SEARCH -1 1a" },
	{ "* X (((a)) b)\r\n", "* X (((a)) b)" },
	{ "+ idling\r\n", "+ text=idling" },
	{ "+\r\n", "+ text=" },
	{ "+ dGVzdA==\r\n", "+ text=dGVzdA==" },
};

static void
test_tokens(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = parse_ok(cases[i].in, strlen(cases[i].in));

		if (strcmp(got, cases[i].out) != 0)
			g_error("%s: got %s want %s", cases[i].in, got, cases[i].out);
	}
}

static void
test_malformed(void)
{
	parse_bad("* -1 EXISTS\r\n", "malformed untagged response");
	parse_bad("* 4294967296 EXISTS\r\n", "bad number");
	parse_bad("* 12a EXISTS\r\n", "bad number");
	parse_bad("* 5\r\n", "malformed untagged response");
	parse_bad("*\r\n", "malformed response");
	parse_bad("* \r\n", "malformed untagged response");
	parse_bad("A1 MAYBE done\r\n", "malformed tagged response");
	parse_bad("A1\r\n", "malformed response");
	parse_bad("\r\n", "malformed response");
	parse_bad("* LIST \"abc\r\n", "unterminated quoted string");
	parse_bad("* LIST \"a\\bc\"\r\n", "bad escape");
	parse_bad("* LIST \"abc\\\"\r\n", "unterminated quoted string");
	parse_bad("* LIST \"a\"b\r\n", "missing space");
	parse_bad("* X (a b\r\n", "unterminated list");
	parse_bad("* X a)\r\n", "unbalanced");
	parse_bad("* X {3+}\r\nabc\r\n", "non-synchronising");
	parse_bad("* X {x}\r\n", "bad literal length");
	parse_bad("* X {-1}\r\n", "bad literal length");
	parse_bad("* X {}\r\n", "bad literal length");
	parse_bad("* X {3} \r\nabc\r\n", "malformed literal");
	parse_bad("* X ~{3}\r\nabc\r\n", "missing space");
	parse_bad("* X BODY[ab\r\n", "unterminated '['");
	parse_bad("* OK [UIDVALIDITY 5 ok\r\n", "unterminated response code");
	parse_bad("* OK [] x\r\n", "malformed response code");
	parse_bad("* OK [X {3}\r\nabc]\r\n", "literal in a response code");
	parse_bad("* OK [X (a] b\r\n", "unterminated list");
	parse_bad("* X a\001b\r\n", "missing space");
	{
		static const char nul[] = "* X a\0b\r\n";
		g_autoptr(HmImapResponse) r = NULL;
		g_autoptr(GError) err = NULL;
		gsize used;

		g_assert_cmpint(hm_imap_parse_buffer(nul, sizeof(nul) - 1, &lim, &used, &r, &err), ==, -1);
		g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL);
		g_assert_nonnull(strstr(err->message, "NUL"));
	}
}

/* Numbers are NUMBER only when strictly 0 .. 2^32-1. */
static void
test_numbers(void)
{
	g_autofree char *a = PARSE_OK("* OK [UIDVALIDITY 4294967296] x\r\n");
	g_autofree char *b = PARSE_OK("* OK [UIDVALIDITY -3] x\r\n");
	g_autofree char *c = PARSE_OK("* 1 FETCH (UID 00012 RFC822.SIZE +5)\r\n");

	g_assert_cmpstr(a, ==, "* OK [UIDVALIDITY 4294967296] text=x");
	g_assert_cmpstr(b, ==, "* OK [UIDVALIDITY -3] text=x");
	g_assert_cmpstr(c, ==, "* 1 FETCH (UID #12 RFC822.SIZE +5)");
}

static void
test_depth(void)
{
	GString *ok = g_string_new("* X ");
	GString *bad;

	for (guint i = 0; i < HM_IMAP_MAX_DEPTH; i++)
		g_string_append_c(ok, '(');
	for (guint i = 0; i < HM_IMAP_MAX_DEPTH; i++)
		g_string_append_c(ok, ')');
	g_string_append(ok, "\r\n");
	g_free(parse_ok(ok->str, ok->len));
	bad = g_string_new("* X ");
	for (guint i = 0; i <= HM_IMAP_MAX_DEPTH; i++)
		g_string_append_c(bad, '(');
	for (guint i = 0; i <= HM_IMAP_MAX_DEPTH; i++)
		g_string_append_c(bad, ')');
	g_string_append(bad, "\r\n");
	parse_bad(bad->str, "nested too deeply");
	/* A flood of '(' is refused at the bound, not after a million. */
	g_string_truncate(bad, 4);
	for (guint i = 0; i < 100000; i++)
		g_string_append_c(bad, '(');
	g_string_append(bad, "\r\n");
	parse_bad(bad->str, "nested too deeply");
	g_string_free(ok, TRUE);
	g_string_free(bad, TRUE);
}

/* A source that must never be asked for a literal. */
static int
src_line(gpointer data, gsize max, const char **line, gsize *len, GError **err)
{
	const char **text = data;

	*line = *text;
	*len = strlen(*text);
	*text = "";
	return 0;
}

static int
src_literal(gpointer data, char *buf, gsize n, GError **err)
{
	g_error("literal of %zu octets read", n);
	return -1;
}

static void
test_literal_bound(void)
{
	const char *text = "* 1 FETCH (UID 1 BODY[] {268435457}";
	HmImapSource src = { src_line, src_literal, &text };
	HmImapLimits big;
	g_autoptr(HmImapResponse) r = NULL;
	g_autoptr(GError) err = NULL;
	HmImapLimits small = { .max_text = 100, .max_literal = 10, .max_literals = 15, .max_depth = 4 };

	hm_imap_limits_init(&big, HM_FETCH_MAX_MESSAGE);
	g_assert_cmpint(hm_imap_parse(&src, &big, &r, &err), ==, -1);
	g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL);
	g_assert_cmpstr(err->message, ==, "literal of 268435457 octets exceeds the limit");
	g_clear_error(&err);
	text = "* X {99999999999999999999999}";
	g_assert_cmpint(hm_imap_parse(&src, &big, &r, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "bad literal length"));
	g_clear_error(&err);

	lim = small;
	g_free(PARSE_OK("* X {10}\r\n0123456789\r\n"));
	parse_bad("* X {11}\r\n0123456789a\r\n", "literal of 11 octets exceeds the limit");
	g_free(PARSE_OK("* X {10}\r\n0123456789 {5}\r\n01234\r\n"));
	parse_bad("* X {10}\r\n0123456789 {6}\r\n012345\r\n", "literals of one response exceed");
	/* The text bound covers all the lines of a response, and empty lines
	 * between zero-length literals count too. */
	parse_bad("* X {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n"
	          " {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n {0}\r\n"
	          " {0}\r\n {0}\r\n", "response line too long");
	{
		GString *s = g_string_new("* X ");

		while (s->len < 200)
			g_string_append(s, "aaaa ");
		g_string_append(s, "\r\n");
		parse_bad(s->str, "response line too long");
		/* ... even before its end has arrived */
		g_string_truncate(s, 150);
		parse_bad(s->str, "response line too long");
		g_string_free(s, TRUE);
	}
	hm_imap_limits_init(&lim, HM_FETCH_MAX_MESSAGE);
}

/* Every proper prefix of a response is "incomplete", never an error or a
 * different response. */
static void
test_every_prefix(void)
{
	static const char text[] =
		"* 1 FETCH (UID 3 RFC822.SIZE 7 BODY[] {7}\r\nab\r\ncd\r FLAGS (\\Seen))\r\n";
	g_autofree char *want = parse_ok(text, sizeof(text) - 1);

	for (gsize n = 0; n < sizeof(text) - 1; n++) {
		g_autoptr(HmImapResponse) r = NULL;
		gsize used;

		g_assert_cmpint(hm_imap_parse_buffer(text, n, &lim, &used, &r, NULL), ==, 1);
		g_assert_null(r);
	}
	g_assert_cmpstr(want, ==, "* 1 FETCH (UID #3 RFC822.SIZE #7 BODY[] {7}\"ab\r\ncd\r\" FLAGS (\\Seen))");
}

/* --- over a socket ----------------------------------------------------------- */

typedef struct {
	int fd;
	const char *data;
	gsize len, chunk;
	guint pause_ms;    /* before the first write */
} Writer;

static gpointer
writer_thread(gpointer p)
{
	Writer *w = p;

	if (w->pause_ms)
		g_usleep(w->pause_ms * 1000);
	for (gsize off = 0; off < w->len; off += w->chunk) {
		gsize n = MIN(w->chunk, w->len - off);

		if (write(w->fd, w->data + off, n) != (gssize)n)
			break;  /* the reader gave up */
	}
	close(w->fd);
	return NULL;
}

static HmConn *
feed(Writer *w, GThread **t)
{
	int sv[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	w->fd = sv[1];
	*t = g_thread_new("writer", writer_thread, w);
	return hm_conn_new(sv[0], 5000);
}

static const char stream[] =
	"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n"
	"* 2 EXISTS\r\n"
	"* 1 FETCH (UID 5 BODY[] {12}\r\nline1\r\nline2 RFC822.SIZE 12)\r\n"
	"* 2 FETCH (UID 6 BODY[] {0}\r\n)\r\n"
	"A0001 OK done\n";
static const char *const stream_dump[] = {
	"* OK [CAPABILITY IMAP4rev1 IDLE] text=ready",
	"* 2 EXISTS",
	"* 1 FETCH (UID #5 BODY[] {12}\"line1\r\nline2\" RFC822.SIZE #12)",
	"* 2 FETCH (UID #6 BODY[] {0}\"\")",
	"T:A0001 OK text=done",
};

static void
trace_count(gboolean from_client, const char *line, gpointer data)
{
	g_assert_false(from_client);
	g_assert_null(strstr(line, "line2"));  /* never literal contents */
	(*(guint *)data)++;
}

static void
test_every_chunk_size(void)
{
	for (gsize chunk = 1; chunk <= sizeof(stream); chunk++) {
		Writer w = { .data = stream, .len = sizeof(stream) - 1, .chunk = chunk };
		GThread *t;
		guint traced = 0;
		HmPingpong pp;
		HmImapReader rd = { .pp = &pp, .timeout_ms = 5000 };

		hm_pp_init(&pp, feed(&w, &t), "response");
		pp.trace = trace_count;
		pp.trace_data = &traced;
		hm_imap_limits_init(&rd.limits, 1000);
		for (gsize i = 0; i < G_N_ELEMENTS(stream_dump); i++) {
			g_autoptr(HmImapResponse) r = NULL;
			g_autoptr(GError) err = NULL;
			g_autofree char *d = NULL;

			g_assert_cmpint(hm_imap_read(&rd, -1, &r, &err), ==, 0);
			g_assert_no_error(err);
			d = dump(r);
			g_assert_cmpstr(d, ==, stream_dump[i]);
		}
		g_assert_cmpuint(traced, ==, 7);
		{
			g_autoptr(HmImapResponse) r = NULL;
			g_autoptr(GError) err = NULL;

			g_assert_cmpint(hm_imap_read(&rd, -1, &r, &err), ==, -1);
			g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_NETWORK);
		}
		hm_conn_free(pp.conn);
		g_thread_join(t);
	}
}

static void
test_large_literal(void)
{
	gsize n = 3 * 1024 * 1024 + 17;
	GString *s = g_string_new(NULL);
	Writer w = { .chunk = 65000 };
	GThread *t;
	HmPingpong pp;
	HmImapReader rd = { .pp = &pp, .timeout_ms = 5000 };
	g_autoptr(HmImapResponse) r = NULL;
	g_autoptr(GError) err = NULL;
	const HmImapToken *body;

	g_string_printf(s, "* 1 FETCH (BODY[] {%zu}\r\n", n);
	for (gsize i = 0; i < n; i++)
		g_string_append_c(s, (char)('a' + i % 26));
	g_string_append(s, " UID 1)\r\n");
	w.data = s->str;
	w.len = s->len;
	hm_pp_init(&pp, feed(&w, &t), "response");
	hm_imap_limits_init(&rd.limits, HM_FETCH_MAX_MESSAGE);
	g_assert_cmpint(hm_imap_read(&rd, -1, &r, &err), ==, 0);
	body = hm_imap_fetch_att(r, "body[]");
	g_assert_nonnull(body);
	g_assert_true(body->literal);
	g_assert_cmpuint(body->len, ==, n);
	g_assert_cmpint(body->str[n - 1], ==, 'a' + (n - 1) % 26);
	g_assert_cmpuint(r->literal_octets, ==, n);
	g_assert_cmpuint(hm_imap_fetch_att(r, "UID")->num, ==, 1);
	g_assert_null(hm_imap_fetch_att(r, "RFC822.SIZE"));
	hm_conn_free(pp.conn);
	g_thread_join(t);
	g_string_free(s, TRUE);
}

/* The reader's own line bound: HM_IMAP_MAX_TEXT, then an error. */
static void
test_line_too_long(void)
{
	GString *s = g_string_new("* SEARCH");
	Writer w = { .chunk = 4096 };
	GThread *t;
	HmPingpong pp;
	HmImapReader rd = { .pp = &pp, .timeout_ms = 5000 };
	g_autoptr(HmImapResponse) r = NULL;
	g_autoptr(GError) err = NULL;

	while (s->len <= HM_IMAP_MAX_TEXT)
		g_string_append(s, " 1");
	g_string_append(s, "\r\n");
	w.data = s->str;
	w.len = s->len;
	hm_pp_init(&pp, feed(&w, &t), "response");
	hm_imap_limits_init(&rd.limits, 1000);
	g_assert_cmpint(hm_imap_read(&rd, -1, &r, &err), ==, -1);
	g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL);
	g_assert_true(g_str_has_prefix(err->message, "response line too long"));
	hm_conn_free(pp.conn);
	g_thread_join(t);
	g_string_free(s, TRUE);
}

/* A short first-line deadline returns 1 and keeps partial input. */
static void
test_first_line_timeout(void)
{
	int sv[2];
	HmPingpong pp;
	HmImapReader rd = { .pp = &pp, .timeout_ms = 3000 };
	g_autoptr(HmImapResponse) r = NULL;
	g_autoptr(GError) err = NULL;
	gint64 t0;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	hm_pp_init(&pp, hm_conn_new(sv[0], 3000), "response");
	hm_imap_limits_init(&rd.limits, 1000);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_imap_read(&rd, 100, &r, &err), ==, 1);
	g_assert_no_error(err);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2000000);
	g_assert_cmpint(write(sv[1], "* 3 EXI", 7), ==, 7);
	g_assert_cmpint(hm_imap_read(&rd, 100, &r, &err), ==, 1);
	g_assert_cmpint(write(sv[1], "STS\r\n", 5), ==, 5);
	g_assert_cmpint(hm_imap_read(&rd, 100, &r, &err), ==, 0);
	g_assert_cmpint(r->number, ==, 3);
	g_assert_cmpstr(r->keyword, ==, "EXISTS");
	g_clear_pointer(&r, hm_imap_response_free);
	/* Once a response began, the rest gets the normal deadline. */
	g_assert_cmpint(write(sv[1], "* 1 FETCH (BODY[] {3}\r\n", 23), ==, 23);
	g_assert_cmpint(hm_imap_read(&rd, 100, &r, &err), ==, -1);
	g_assert_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_NETWORK);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 3000000);
	hm_conn_free(pp.conn);
	close(sv[1]);
}

/* --- client-side helpers ------------------------------------------------------ */

static void
test_uid_commands(void)
{
	static const guint32 uids[] = { 1, 2, 3, 4, 5, 7, 9, 10, 4294967295u };
	g_autoptr(GPtrArray) c = hm_imap_uid_commands(uids, G_N_ELEMENTS(uids), "UID FETCH ",
	                                              " (RFC822.SIZE)", 8000);
	g_autoptr(GPtrArray) none = hm_imap_uid_commands(uids, 0, "X ", "", 8000);
	g_autofree guint32 *many = g_new(guint32, 20000);
	g_autoptr(GPtrArray) split = NULL;
	guint next = 0;

	g_assert_cmpuint(c->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(c, 0), ==, "UID FETCH 1:5,7,9:10,4294967295 (RFC822.SIZE)");
	g_assert_cmpuint(none->len, ==, 0);
	/* Every other UID: no ranges, so several commands, each < 100 octets,
	 * which together list every UID once and in order. */
	for (guint i = 0; i < 20000; i++)
		many[i] = 1000000 + 2 * i;
	split = hm_imap_uid_commands(many, 20000, "UID STORE ", " +FLAGS.SILENT (\\Deleted)", 100);
	g_assert_cmpuint(split->len, >, 2000);
	for (guint i = 0; i < split->len; i++) {
		const char *cmd = g_ptr_array_index(split, i);
		g_auto(GStrv) parts = NULL;
		char **uids_of;

		g_assert_cmpuint(strlen(cmd), <, 100);
		g_assert_true(g_str_has_prefix(cmd, "UID STORE "));
		parts = g_strsplit(cmd + 10, " ", 2);
		g_assert_cmpstr(parts[1], ==, "+FLAGS.SILENT (\\Deleted)");
		uids_of = g_strsplit(parts[0], ",", -1);
		for (char **u = uids_of; *u != NULL; u++) {
			g_autofree char *want = g_strdup_printf("%u", many[next++]);

			g_assert_cmpstr(*u, ==, want);
		}
		g_strfreev(uids_of);
	}
	g_assert_cmpuint(next, ==, 20000);
}

static void
test_text_and_args(void)
{
	g_autofree char *a = hm_imap_clean_text("a\r\nb\001c\x7f", 200);
	g_autofree char *b = hm_imap_clean_text("0123456789", 4);
	g_autofree char *c = hm_imap_clean_text(NULL, 4);
	g_autofree char *d = hm_imap_clean_text("\xff\xfe ok", 200);
	g_autoptr(GString) s = g_string_new(NULL);

	g_assert_cmpstr(a, ==, "abc");
	g_assert_cmpstr(b, ==, "0123...");
	g_assert_cmpstr(c, ==, "");
	g_assert_true(g_utf8_validate(d, -1, NULL));
	g_assert_cmpint(hm_imap_arg_form("INBOX", TRUE), ==, HM_IMAP_ARG_ATOM);
	g_assert_cmpint(hm_imap_arg_form("INBOX", FALSE), ==, HM_IMAP_ARG_QUOTED);
	g_assert_cmpint(hm_imap_arg_form("", TRUE), ==, HM_IMAP_ARG_QUOTED);
	g_assert_cmpint(hm_imap_arg_form("a b", TRUE), ==, HM_IMAP_ARG_QUOTED);
	g_assert_cmpint(hm_imap_arg_form("a]", TRUE), ==, HM_IMAP_ARG_QUOTED);
	g_assert_cmpint(hm_imap_arg_form("p\"w\\", FALSE), ==, HM_IMAP_ARG_QUOTED);
	g_assert_cmpint(hm_imap_arg_form("caf\xc3\xa9", TRUE), ==, HM_IMAP_ARG_LITERAL);
	g_assert_cmpint(hm_imap_arg_form("a\nb", FALSE), ==, HM_IMAP_ARG_LITERAL);
	hm_imap_append_arg(s, "p\"w\\", HM_IMAP_ARG_QUOTED);
	g_string_append_c(s, ' ');
	hm_imap_append_arg(s, "Sent", HM_IMAP_ARG_ATOM);
	g_assert_cmpstr(s->str, ==, "\"p\\\"w\\\\\" Sent");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	hm_imap_limits_init(&lim, HM_FETCH_MAX_MESSAGE);
	g_test_add_func("/imap-parse/tokens", test_tokens);
	g_test_add_func("/imap-parse/malformed", test_malformed);
	g_test_add_func("/imap-parse/numbers", test_numbers);
	g_test_add_func("/imap-parse/depth", test_depth);
	g_test_add_func("/imap-parse/literal-bound", test_literal_bound);
	g_test_add_func("/imap-parse/every-prefix", test_every_prefix);
	g_test_add_func("/imap-parse/every-chunk-size", test_every_chunk_size);
	g_test_add_func("/imap-parse/large-literal", test_large_literal);
	g_test_add_func("/imap-parse/line-too-long", test_line_too_long);
	g_test_add_func("/imap-parse/first-line-timeout", test_first_line_timeout);
	g_test_add_func("/imap-parse/uid-commands", test_uid_commands);
	g_test_add_func("/imap-parse/text-and-args", test_text_and_args);
	return g_test_run();
}
