/* Dot-stuffing and CRLF sizes: a table of inputs, every input split at
 * every offset and byte by byte, and the counter checked against the
 * stuffer on random input. */
#include <config.h>

#include <string.h>

#include "lib/dotstuff.h"

#define S(x) x, sizeof(x) - 1

static const struct {
	const char *in;
	gsize in_len;
	const char *out;
	gsize out_len;
	guint64 size;
} cases[] = {
	{ S(""), S(".\r\n"), 0 },
	{ S("a"), S("a\r\n.\r\n"), 3 },
	{ S("a\n"), S("a\r\n.\r\n"), 3 },
	{ S("a\r\n"), S("a\r\n.\r\n"), 3 },
	{ S("\n"), S("\r\n.\r\n"), 2 },
	{ S("\r\n"), S("\r\n.\r\n"), 2 },
	{ S("\n\n"), S("\r\n\r\n.\r\n"), 4 },
	{ S("."), S("..\r\n.\r\n"), 3 },
	{ S(".\n"), S("..\r\n.\r\n"), 3 },
	{ S(".\r\n"), S("..\r\n.\r\n"), 3 },
	{ S("..\n"), S("...\r\n.\r\n"), 4 },
	{ S("a.\n.b\n"), S("a.\r\n..b\r\n.\r\n"), 8 },
	{ S("x\n.\ny"), S("x\r\n..\r\ny\r\n.\r\n"), 9 },
	{ S("x\r\n.\r\n"), S("x\r\n..\r\n.\r\n"), 6 },
	/* A bare CR is content: no line end, so no stuffing after it. */
	{ S("a\rb\n"), S("a\rb\r\n.\r\n"), 5 },
	{ S("\r.\n"), S("\r.\r\n.\r\n"), 4 },
	{ S("a\r"), S("a\r\r\n.\r\n"), 4 },
	{ S("\r"), S("\r\r\n.\r\n"), 3 },
	{ S("\r\r\n"), S("\r\r\n.\r\n"), 3 },
	{ S("\r\r\r\n."), S("\r\r\r\n..\r\n.\r\n"), 7 },
	{ S("a\n\r"), S("a\r\n\r\r\n.\r\n"), 6 },
	{ S("\n."), S("\r\n..\r\n.\r\n"), 5 },
	{ S("a\0.\n\0"), S("a\0.\r\n\0\r\n.\r\n"), 8 },
	{ S("Subject: x\n\n.\n..\nend\n"),
	  S("Subject: x\r\n\r\n..\r\n...\r\nend\r\n.\r\n"), 26 },
};

/* Feeds in in chunks of at most chunk bytes after a first piece of split
 * bytes; returns the wire form. */
static GString *
stuff_split(const char *in, gsize len, gsize split, gsize chunk)
{
	HmDotStuffer s;
	GString *out = g_string_new(NULL);

	hm_dotstuff_init(&s);
	hm_dotstuff_feed(&s, in, split, out);
	for (gsize off = split; off < len; off += chunk)
		hm_dotstuff_feed(&s, in + off, MIN(chunk, len - off), out);
	hm_dotstuff_finish(&s, out);
	return out;
}

static guint64
count_split(const char *in, gsize len, gsize split, gsize chunk)
{
	HmCrlfCounter c;

	hm_crlf_counter_init(&c);
	hm_crlf_counter_feed(&c, in, split);
	for (gsize off = split; off < len; off += chunk)
		hm_crlf_counter_feed(&c, in + off, MIN(chunk, len - off));
	return hm_crlf_counter_total(&c);
}

static void
test_table(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		gsize len = cases[i].in_len;

		for (gsize split = 0; split <= len; split++) {
			g_autoptr(GString) whole = stuff_split(cases[i].in, len, split, len + 1);
			g_autoptr(GString) bytes = stuff_split(cases[i].in, len, split, 1);

			g_assert_cmpmem(whole->str, whole->len, cases[i].out, cases[i].out_len);
			g_assert_cmpmem(bytes->str, bytes->len, cases[i].out, cases[i].out_len);
			g_assert_cmpuint(count_split(cases[i].in, len, split, len + 1), ==,
			                 cases[i].size);
			g_assert_cmpuint(count_split(cases[i].in, len, split, 1), ==, cases[i].size);
		}
	}
}

/* Stuffing dots the wire form holds: a '.' that starts a wire line. The
 * final ".\r\n" is not counted here. */
static guint64
stuffing_dots(const GString *wire)
{
	guint64 n = 0;

	for (gsize i = 0; i + 3 < wire->len; i++)
		if (wire->str[i] == '.' && (i == 0 || (i >= 2 && wire->str[i - 1] == '\n' &&
		                                       wire->str[i - 2] == '\r')))
			n++;
	return n;
}

static void
random_message(char *buf, gsize len)
{
	/* Mostly the bytes that matter, so that runs of them occur. */
	static const char alphabet[] = "\r\n.\r\n.a";

	for (gsize i = 0; i < len; i++)
		buf[i] = g_test_rand_bit() ? alphabet[g_test_rand_int_range(0, 7)] :
		                             (char)g_test_rand_int_range(0, 256);
}

static void
test_random(void)
{
	char buf[200];

	for (int round = 0; round < 2000; round++) {
		gsize len = (gsize)g_test_rand_int_range(0, sizeof(buf) + 1);
		gsize split, chunk;
		g_autoptr(GString) ref = NULL;
		g_autoptr(GString) out = NULL;
		guint64 size;

		random_message(buf, len);
		split = (gsize)g_test_rand_int_range(0, (gint32)len + 1);
		chunk = (gsize)g_test_rand_int_range(1, 17);
		ref = stuff_split(buf, len, len, 1);
		out = stuff_split(buf, len, split, chunk);
		g_assert_cmpmem(out->str, out->len, ref->str, ref->len);
		size = count_split(buf, len, split, chunk);
		g_assert_cmpuint(count_split(buf, len, len, 1), ==, size);
		g_assert_cmpuint(size, ==, ref->len - 3 - stuffing_dots(ref));
		for (gsize i = 0; i < ref->len; i++)
			if (ref->str[i] == '\n')
				g_assert_true(i > 0 && ref->str[i - 1] == '\r');
	}
}

/* Every split of a longer mixed message, the way popd reads a file. */
static void
test_every_offset(void)
{
	static const char msg[] = "From: a\n\r\n.\n..x\r\n\r\rb.\r\n.\r\r\n.";
	gsize len = sizeof(msg) - 1;
	g_autoptr(GString) ref = stuff_split(msg, len, len, 1);

	for (gsize split = 0; split <= len; split++)
		for (gsize chunk = 1; chunk <= len; chunk++) {
			g_autoptr(GString) out = stuff_split(msg, len, split, chunk);

			g_assert_cmpmem(out->str, out->len, ref->str, ref->len);
			g_assert_cmpuint(count_split(msg, len, split, chunk), ==,
			                 ref->len - 3 - stuffing_dots(ref));
		}
}

/* The BDAT form: line ends only, exactly what the counter counts, in any
 * chunking; dots stay as they are. */
static void
test_crlf_only(void)
{
	char buf[200];

	for (int round = 0; round < 2000; round++) {
		gsize len = (gsize)g_test_rand_int_range(0, sizeof(buf) + 1);
		gsize chunk = (gsize)g_test_rand_int_range(1, 17);
		g_autoptr(GString) out = g_string_new(NULL);
		g_autoptr(GString) stuffed = NULL;
		HmDotStuffer ds;

		random_message(buf, len);
		hm_dotstuff_init_crlf(&ds);
		for (gsize off = 0; off < len; off += chunk)
			hm_dotstuff_feed(&ds, buf + off, MIN(chunk, len - off), out);
		hm_dotstuff_finish(&ds, out);
		g_assert_cmpuint(out->len, ==, count_split(buf, len, len, 1));
		/* The same as the DATA form without its stuffing dots and end. */
		stuffed = stuff_split(buf, len, len, 1);
		g_assert_cmpuint(out->len, ==, stuffed->len - 3 - stuffing_dots(stuffed));
	}
	{
		g_autoptr(GString) out = g_string_new(NULL);
		HmDotStuffer ds;

		hm_dotstuff_init_crlf(&ds);
		hm_dotstuff_feed(&ds, ".a\n.\nb", 6, out);
		hm_dotstuff_finish(&ds, out);
		g_assert_cmpstr(out->str, ==, ".a\r\n.\r\nb\r\n");
	}
}

static void
test_empty_feeds(void)
{
	HmDotStuffer s;
	HmCrlfCounter c;
	g_autoptr(GString) out = g_string_new(NULL);

	hm_dotstuff_init(&s);
	hm_dotstuff_feed(&s, "", 0, out);
	hm_dotstuff_feed(&s, "x", 0, out);
	g_assert_true(s.empty);
	hm_dotstuff_finish(&s, out);
	g_assert_cmpstr(out->str, ==, ".\r\n");
	hm_crlf_counter_init(&c);
	hm_crlf_counter_feed(&c, "", 0);
	g_assert_true(c.empty);
	g_assert_cmpuint(hm_crlf_counter_total(&c), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dotstuff/table", test_table);
	g_test_add_func("/dotstuff/random", test_random);
	g_test_add_func("/dotstuff/every-offset", test_every_offset);
	g_test_add_func("/dotstuff/empty-feeds", test_empty_feeds);
	g_test_add_func("/dotstuff/crlf-only", test_crlf_only);
	return g_test_run();
}
