#include <config.h>

#include <glib.h>

#include "lib/parse.h"

static void
test_rejects(void)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1x", "x1", "0x10", "1.0", "1e3", "١",
	};
	guint64 v = 42;

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_cmpint(hm_parse_uint(bad[i], 0, G_MAXUINT64, &v), ==, -1);
		g_assert_cmpuint(v, ==, 42);
	}
	g_assert_cmpint(hm_parse_uint(NULL, 0, 10, &v), ==, -1);
}

/* popa3d's lesson: "LIST 4294967297" must not become "LIST 1". */
static void
test_no_wrap(void)
{
	guint64 v = 7;

	g_assert_cmpint(hm_parse_uint("4294967297", 0, G_MAXUINT32, &v), ==, -1);
	g_assert_cmpint(hm_parse_uint("4294967296", 0, G_MAXUINT32, &v), ==, -1);
	g_assert_cmpuint(v, ==, 7);
	g_assert_cmpint(hm_parse_uint("4294967295", 0, G_MAXUINT32, &v), ==, 0);
	g_assert_cmpuint(v, ==, G_MAXUINT32);
}

static void
test_overflow(void)
{
	guint64 v = 7;

	g_assert_cmpint(hm_parse_uint("18446744073709551615", 0, G_MAXUINT64, &v), ==, 0);
	g_assert_cmpuint(v, ==, G_MAXUINT64);
	v = 7;
	g_assert_cmpint(hm_parse_uint("18446744073709551616", 0, G_MAXUINT64, &v), ==, -1);
	g_assert_cmpint(hm_parse_uint("18446744073709551620", 0, G_MAXUINT64, &v), ==, -1);
	g_assert_cmpint(hm_parse_uint("99999999999999999999", 0, G_MAXUINT64, &v), ==, -1);
	g_assert_cmpint(hm_parse_uint("184467440737095516150", 0, G_MAXUINT64, &v), ==, -1);
	g_assert_cmpuint(v, ==, 7);
}

static void
test_leading_zeros(void)
{
	guint64 v = 0;

	g_assert_cmpint(hm_parse_uint("007", 0, 10, &v), ==, 0);
	g_assert_cmpuint(v, ==, 7);
	g_assert_cmpint(hm_parse_uint("0", 0, 10, &v), ==, 0);
	g_assert_cmpuint(v, ==, 0);
	g_assert_cmpint(hm_parse_uint("00000000000000000001", 0, 10, &v), ==, 0);
	g_assert_cmpuint(v, ==, 1);
}

static void
test_bounds(void)
{
	guint64 v = 0;

	g_assert_cmpint(hm_parse_uint("1", 1, 65535, &v), ==, 0);
	g_assert_cmpint(hm_parse_uint("65535", 1, 65535, &v), ==, 0);
	g_assert_cmpuint(v, ==, 65535);
	v = 3;
	g_assert_cmpint(hm_parse_uint("0", 1, 65535, &v), ==, -1);
	g_assert_cmpint(hm_parse_uint("65536", 1, 65535, &v), ==, -1);
	g_assert_cmpuint(v, ==, 3);
}

static void
test_length_delimited(void)
{
	guint64 v = 0;

	g_assert_cmpint(hm_parse_uint_n("25junk", 2, 0, 100, &v), ==, 0);
	g_assert_cmpuint(v, ==, 25);
	g_assert_cmpint(hm_parse_uint_n("2\0" "5", 3, 0, 1000, &v), ==, -1);
	g_assert_cmpint(hm_parse_uint_n("25", 0, 0, 100, &v), ==, -1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/parse/rejects", test_rejects);
	g_test_add_func("/parse/no-wrap", test_no_wrap);
	g_test_add_func("/parse/overflow", test_overflow);
	g_test_add_func("/parse/leading-zeros", test_leading_zeros);
	g_test_add_func("/parse/bounds", test_bounds);
	g_test_add_func("/parse/length-delimited", test_length_delimited);
	return g_test_run();
}
