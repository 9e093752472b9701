#include <config.h>

#include <string.h>

#include <glib.h>

#include "lib/header.h"

/* Iterates msg and returns "name=value|..." of the unfolded fields, then
 * "#RC" with the last hm_header_next() result. */
static char *
fields_of(const char *msg)
{
	GString *s = g_string_new(NULL);
	HmHeaderIter it;
	HmHeaderField f;
	int rc;

	hm_header_iter_init(&it, msg, strlen(msg));
	while ((rc = hm_header_next(&it, &f)) == 1) {
		g_autofree char *v = hm_header_value(&f);

		g_string_append_printf(s, "%.*s=%s|", (int)f.name_len, f.name, v);
	}
	g_string_append_printf(s, "#%d", rc);
	/* Exhausted iterators stay exhausted. */
	g_assert_cmpint(hm_header_next(&it, &f), ==, 0);
	return g_string_free(s, FALSE);
}

static void
assert_fields(const char *msg, const char *want)
{
	g_autofree char *got = fields_of(msg);

	g_assert_cmpstr(got, ==, want);
}

static void
test_fields_lf(void)
{
	assert_fields("From: a@b\nTo: c@d\nSubject: hi there\n\nbody\nX: not a header\n",
	              "From=a@b|To=c@d|Subject=hi there|#0");
}

static void
test_fields_crlf(void)
{
	assert_fields("From: a@b\r\nTo:  c@d  \r\n\r\nbody\r\n", "From=a@b|To=c@d|#0");
}

static void
test_folding(void)
{
	HmHeaderIter it;
	HmHeaderField f;
	const char *msg = "Subject: one\r\n two\r\n\tthree\r\nX: y\r\n\r\n";

	assert_fields(msg, "Subject=one two\tthree|X=y|#0");
	hm_header_iter_init(&it, msg, strlen(msg));
	g_assert_cmpint(hm_header_next(&it, &f), ==, 1);
	/* The raw value keeps the folding but not the last line end. */
	g_assert_cmpint(f.value_len, ==, strlen(" one\r\n two\r\n\tthree"));
	g_assert_true(memcmp(f.value, " one\r\n two\r\n\tthree", f.value_len) == 0);
	assert_fields("A: 1\n  \nB: 2\n", "A=1|B=2|#0");
}

static void
test_malformed(void)
{
	assert_fields("From: a\nthis is no header\nTo: b\n", "From=a|#-1");
	assert_fields(" leading continuation: x\n", "#-1");
	assert_fields(": empty name\n", "#-1");
	assert_fields("Bad Name: x\n", "#-1");
	assert_fields("Na\001me: x\n", "#-1");
	/* Obsolete syntax: white space before the colon (RFC 5322 4.5). */
	assert_fields("Subject : x\n", "Subject=x|#0");
	assert_fields("", "#0");
	assert_fields("\n", "#0");
}

static void
test_no_body(void)
{
	const char *m1 = "A: 1\nB: 2";
	const char *m2 = "A: 1\nB: 2\n";
	const char *m3 = "A: 1\r\n\r\nbody";
	const char *m4 = "A: 1\n\n";

	assert_fields(m1, "A=1|B=2|#0");
	g_assert_cmpuint(hm_header_section_end(m1, strlen(m1)), ==, strlen(m1));
	g_assert_cmpuint(hm_header_section_end(m2, strlen(m2)), ==, strlen(m2));
	g_assert_cmpuint(hm_header_section_end(m3, strlen(m3)), ==, 8);
	g_assert_cmpuint(hm_header_section_end(m4, strlen(m4)), ==, 6);
	g_assert_cmpuint(hm_header_section_end("", 0), ==, 0);
	g_assert_cmpuint(hm_header_section_end("\nx", 2), ==, 1);
}

/* A bounded iteration: the length given is respected, not a NUL. */
static void
test_bounded(void)
{
	const char msg[] = "A: 1\nB: 2\n";
	HmHeaderIter it;
	HmHeaderField f;

	hm_header_iter_init(&it, msg, 9);
	g_assert_cmpint(hm_header_next(&it, &f), ==, 1);
	g_assert_cmpint(hm_header_next(&it, &f), ==, 1);
	g_assert_cmpuint(f.value_len, ==, 2);
	g_assert_cmpint(hm_header_next(&it, &f), ==, 0);
}

static void
test_is(void)
{
	HmHeaderIter it;
	HmHeaderField f;
	const char *msg = "delivered-TO: x\n";

	hm_header_iter_init(&it, msg, strlen(msg));
	g_assert_cmpint(hm_header_next(&it, &f), ==, 1);
	g_assert_true(hm_header_is(&f, "Delivered-To"));
	g_assert_false(hm_header_is(&f, "Delivered-T"));
	g_assert_false(hm_header_is(&f, "Delivered-Too"));
}

static void
test_addr_spec(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "a@b", "a@b" },
		{ "  a@b  ", "a@b" },
		{ "<a@b>", "a@b" },
		{ "<>", "" },
		{ "Alice <alice@example.org>", "alice@example.org" },
		{ "\"x <y>\" <real@z>", "real@z" },
		{ "", "" },
		{ "<unclosed", "<unclosed" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = hm_header_addr_spec(cases[i].in);

		g_assert_cmpstr(got, ==, cases[i].want);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/header/fields-lf", test_fields_lf);
	g_test_add_func("/header/fields-crlf", test_fields_crlf);
	g_test_add_func("/header/folding", test_folding);
	g_test_add_func("/header/malformed", test_malformed);
	g_test_add_func("/header/no-body", test_no_body);
	g_test_add_func("/header/bounded", test_bounded);
	g_test_add_func("/header/is", test_is);
	g_test_add_func("/header/addr-spec", test_addr_spec);
	return g_test_run();
}
