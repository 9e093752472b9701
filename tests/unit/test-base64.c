#include <config.h>

#include <string.h>

#include <glib.h>

#include "lib/base64.h"
#include "lib/error.h"

/* RFC 4648 section 10. */
static const struct {
	const char *plain;
	const char *encoded;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_vectors(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autofree char *enc = hm_base64_encode(vectors[i].plain, strlen(vectors[i].plain));
		g_autoptr(GError) err = NULL;
		g_autoptr(GBytes) dec = NULL;
		gsize size;
		const char *data;

		g_assert_cmpstr(enc, ==, vectors[i].encoded);
		dec = hm_base64_decode(vectors[i].encoded, strlen(vectors[i].encoded), &err);
		g_assert_no_error(err);
		g_assert_nonnull(dec);
		data = g_bytes_get_data(dec, &size);
		g_assert_cmpuint(size, ==, strlen(vectors[i].plain));
		/* The NUL past the end lets SASL code read the data as a string. */
		g_assert_nonnull(data);
		g_assert_cmpstr(data, ==, vectors[i].plain);
	}
}

static void
test_encode_empty_null(void)
{
	g_autofree char *enc = hm_base64_encode(NULL, 0);

	g_assert_cmpstr(enc, ==, "");
}

static void
test_binary(void)
{
	static const guint8 bin[] = { 0x00, 0xff, 0xfe, 0x00, 0x10, 0x83 };
	g_autofree char *enc = hm_base64_encode(bin, sizeof(bin));
	g_autoptr(GBytes) dec = NULL;

	g_assert_cmpstr(enc, ==, "AP/+ABCD");
	dec = hm_base64_decode(enc, strlen(enc), NULL);
	g_assert_nonnull(dec);
	g_assert_cmpmem(g_bytes_get_data(dec, NULL), g_bytes_get_size(dec), bin, sizeof(bin));
}

static void
check_bad(const char *text, gsize len)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) dec = hm_base64_decode(text, len, &err);

	if (dec != NULL)
		g_error("accepted bad base64 \"%.*s\"", (int)len, text);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
}

#define BAD(s) check_bad((s), sizeof(s) - 1)

static void
test_rejects(void)
{
	/* Length not a multiple of 4: no implicit padding. */
	BAD("Z");
	BAD("Zg");
	BAD("Zg=");
	BAD("Zm9vY");
	BAD("Zg==\n");
	/* Characters outside the alphabet, including the URL-safe ones. */
	BAD("Zm9-");
	BAD("Zm9_");
	BAD("Zm 9");
	BAD(" Zg=");
	BAD("Zg==\r\n\r\n");
	BAD("Zm9\x80");
	BAD("Zm9\xff");
	BAD("Zm\0v");
	BAD("Zm9.");
	BAD("Zm9v\tYmFy");
	/* Padding anywhere but at the end, or too much of it. */
	BAD("====");
	BAD("Z===");
	BAD("=Zg=");
	BAD("Zm=v");
	BAD("Zg==Zg==");
	BAD("Zm8=Zm8=");
	BAD("Zg==Zm9v");
	/* Unused bits must be zero, or two texts would decode alike. */
	BAD("Zh==");
	BAD("Zm9=");
	BAD("Zm9vYh==");
	BAD("Zm9vYmF=");
	BAD("AB==");
	BAD("AAB=");
}

/* The unused-bit rule leaves exactly one text per byte string. */
static void
test_unused_bits_exhaustive(void)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	guint ok2 = 0, ok1 = 0;

	for (gsize a = 0; a < 64; a++) {
		for (gsize b = 0; b < 64; b++) {
			char two[5] = { alphabet[a], alphabet[b], '=', '=', '\0' };
			g_autoptr(GBytes) d2 = hm_base64_decode(two, 4, NULL);

			ok2 += d2 != NULL;
			for (gsize c = 0; c < 64; c++) {
				char one[5] = { alphabet[a], alphabet[b], alphabet[c], '=', '\0' };
				g_autoptr(GBytes) d1 = hm_base64_decode(one, 4, NULL);

				ok1 += d1 != NULL;
			}
		}
	}
	g_assert_cmpuint(ok2, ==, 256);
	g_assert_cmpuint(ok1, ==, 65536);
}

static void
test_round_trip(void)
{
	guint8 buf[300];

	for (gsize len = 0; len <= sizeof(buf); len++) {
		g_autofree char *enc = NULL;
		g_autoptr(GBytes) dec = NULL;
		g_autoptr(GError) err = NULL;
		const guint8 *data;
		gsize size;

		for (gsize i = 0; i < len; i++)
			buf[i] = (guint8)g_test_rand_int_range(0, 256);
		enc = hm_base64_encode(buf, len);
		g_assert_cmpuint(strlen(enc), ==, (len + 2) / 3 * 4);
		dec = hm_base64_decode(enc, strlen(enc), &err);
		g_assert_no_error(err);
		data = g_bytes_get_data(dec, &size);
		g_assert_cmpmem(data, size, buf, len);
		g_assert_nonnull(data);
		g_assert_cmpint(data[size], ==, 0);
	}
}

static void
test_length_delimited(void)
{
	g_autoptr(GBytes) dec = hm_base64_decode("Zm9vYmFyjunk!", 8, NULL);

	g_assert_nonnull(dec);
	g_assert_cmpmem(g_bytes_get_data(dec, NULL), g_bytes_get_size(dec), "foobar", 6);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/base64/vectors", test_vectors);
	g_test_add_func("/base64/encode-empty-null", test_encode_empty_null);
	g_test_add_func("/base64/binary", test_binary);
	g_test_add_func("/base64/rejects", test_rejects);
	g_test_add_func("/base64/unused-bits-exhaustive", test_unused_bits_exhaustive);
	g_test_add_func("/base64/round-trip", test_round_trip);
	g_test_add_func("/base64/length-delimited", test_length_delimited);
	return g_test_run();
}
