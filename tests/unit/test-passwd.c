/* crypt(3) password hashes: known yescrypt and sha512-crypt hashes verify
 * and refuse, placeholders never match, new hashes round-trip, and the
 * dummy hash keeps the scheme and cost. */
#include <config.h>

#include <crypt.h>
#include <string.h>

#include "lib/passwd.h"

/* Made with libxcrypt's crypt_gensalt("$y$") and `openssl passwd -6`. */
#define YESCRYPT_HASH "$y$j9T$O3T480sn9locQStJJs1Wg0$yiBE/Dew5CwA34ALPL2m//KBEd15uHCjeQebV9Tt/c4"
#define SHA512_HASH "$6$saltsalt$zM85MwF7wzNFxhHekCkSASe1NaC/xUx1S2eoXlbcx1w6LkHRO4n1DK7q.d/HKoYFUjJ10GWDs5jLq2A53OAzU1"
#define SHA512_ROUNDS_HASH "$6$rounds=10000$abc$UCUqOk6gcu9ZZtND2Z0UgYk8lwpVRmtR53Lsvl5g.kCesFgYAcUnyv3CZaGPARyVDChSCfm/81bYK.MFc2KRz1"

static void
test_known_hashes(void)
{
	g_assert_true(hm_password_verify(YESCRYPT_HASH, "secret pw"));
	g_assert_false(hm_password_verify(YESCRYPT_HASH, "secret pw "));
	g_assert_false(hm_password_verify(YESCRYPT_HASH, "Secret pw"));
	g_assert_false(hm_password_verify(YESCRYPT_HASH, ""));
	g_assert_true(hm_password_verify(SHA512_HASH, "secret pw"));
	g_assert_false(hm_password_verify(SHA512_HASH, "secret"));
	g_assert_false(hm_password_verify(SHA512_HASH, ""));
	g_assert_true(hm_password_verify(SHA512_ROUNDS_HASH, "x"));
	g_assert_false(hm_password_verify(SHA512_ROUNDS_HASH, "y"));
}

/* A changed byte in the hash part, or a truncated hash, must not match. */
static void
test_tampered(void)
{
	g_autofree char *h = g_strdup(SHA512_HASH);
	g_autofree char *shortened = g_strndup(SHA512_HASH, strlen(SHA512_HASH) - 1);

	h[strlen(h) - 1] = h[strlen(h) - 1] == 'A' ? 'B' : 'A';
	g_assert_false(hm_password_verify(h, "secret pw"));
	g_assert_false(hm_password_verify(shortened, "secret pw"));
	g_assert_false(hm_password_verify(SHA512_HASH "x", "secret pw"));
}

static void
test_never_match(void)
{
	static const char *const bad[] = {
		"", "*", "!", "!!", "x", "plain", "secret pw", "*LK*", "!" SHA512_HASH,
		"$6$", "$y$", "$y$j9T$", "$6$saltsalt", "$6$saltsalt$", "$1$abc$xyz",
		"$99$abc$def", "$$$$", "ab01FAX.bQRSU", "\x01\xff garbage",
	};
	static const char *const pws[] = { "", "*", "!", "plain", "secret pw", "x" };

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		for (gsize j = 0; j < G_N_ELEMENTS(pws); j++)
			if (hm_password_verify(bad[i], pws[j]))
				g_error("hash \"%s\" matched \"%s\"", bad[i], pws[j]);
	g_assert_false(hm_password_verify(NULL, "x"));
	g_assert_false(hm_password_verify(SHA512_HASH, NULL));
}

/* md5-crypt and DES are real crypt(3) schemes, but weak: refused even
 * when the password is right (hashes of "pw" made with `openssl passwd -1`
 * and crypt("pw", "ab")). */
static void
test_weak_schemes_refused(void)
{
	g_assert_false(hm_password_verify("$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc.", "pw"));
	g_assert_false(hm_password_verify("abzlUXK5ed5rs", "pw"));
}

/* What setup writes into the config as a hash: only the shapes and
 * characters crypt(3) makes, never a quote that would end the string. */
static void
test_is_hash(void)
{
	static const char *const good[] = {
		YESCRYPT_HASH, SHA512_HASH, SHA512_ROUNDS_HASH,
		"$2b$10$abcdefghijklmnopqrstuu5Zc6Q4sG8dW7VZGqkbgK0QkCqrDzCma",
	};
	static const char *const bad[] = {
		"", "*", "!", "plain", "$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc.", "$y$", "$y$j9T$",
		"$6$saltsalt", "$6$saltsalt$", "$y$x\"; send_as = \"ceo@bank.example",
		"$y$j9T$salt$ha sh", "$y$j9T$salt$ha\\sh", "$y$j9T$salt$ha\nsh",
		"$y$j9T$salt$h:sh", "!" SHA512_HASH,
	};
	g_autofree char *fresh = hm_password_hash("x", NULL);

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
		if (!hm_password_is_hash(good[i]))
			g_error("\"%s\" refused", good[i]);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		if (hm_password_is_hash(bad[i]))
			g_error("\"%s\" taken for a hash", bad[i]);
	g_assert_false(hm_password_is_hash(NULL));
	g_assert_true(hm_password_is_hash(fresh));
}

static void
test_round_trip(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *h1 = hm_password_hash("correct horse", &err);
	g_autofree char *h2 = NULL;

	g_assert_no_error(err);
	g_assert_nonnull(h1);
	g_assert_true(g_str_has_prefix(h1, "$y$"));
	/* The config file quotes hashes without escaping. */
	g_assert_null(strpbrk(h1, "\"\\ \n"));
	g_assert_true(hm_password_verify(h1, "correct horse"));
	g_assert_false(hm_password_verify(h1, "correct horsE"));
	h2 = hm_password_hash("correct horse", &err);
	g_assert_no_error(err);
	/* A fresh salt each time. */
	g_assert_cmpstr(h1, !=, h2);
	g_assert_true(hm_password_verify(h2, "correct horse"));
}

static void
test_empty_password(void)
{
	g_autofree char *h = hm_password_hash("", NULL);

	g_assert_nonnull(h);
	g_assert_true(hm_password_verify(h, ""));
	g_assert_false(hm_password_verify(h, " "));
}

/* Everything up to the salt: the scheme and its cost parameters. */
static char *
params_of(const char *hash)
{
	const char *last = strrchr(hash, '$');
	const char *p = last;

	while (p > hash && p[-1] != '$')
		p--;
	return g_strndup(hash, (gsize)(p - hash));
}

static void
check_dummy(const char *like, const char *want_params)
{
	g_autofree char *dummy = hm_password_dummy_hash(like);
	g_autofree char *params = params_of(dummy);

	g_assert_cmpstr(params, ==, want_params);
	g_assert_cmpstr(dummy, !=, like);
	g_assert_false(hm_password_verify(dummy, "secret pw"));
	g_assert_false(hm_password_verify(dummy, ""));
}

static void
test_dummy(void)
{
	g_autofree char *other = NULL;
	g_autofree char *fallback = NULL;
	g_autofree char *none = NULL;

	check_dummy(YESCRYPT_HASH, "$y$j9T$");
	check_dummy(SHA512_HASH, "$6$");
	check_dummy(SHA512_ROUNDS_HASH, "$6$rounds=10000$");
	other = hm_password_dummy_hash(YESCRYPT_HASH);
	g_assert_true(g_str_has_prefix(other, "$y$j9T$"));
	/* Unknown or placeholder hashes: a yescrypt hash of default cost. */
	fallback = hm_password_dummy_hash("*");
	g_assert_true(g_str_has_prefix(fallback, "$y$"));
	none = hm_password_dummy_hash(NULL);
	g_assert_true(g_str_has_prefix(none, "$y$"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/passwd/known-hashes", test_known_hashes);
	g_test_add_func("/passwd/tampered", test_tampered);
	g_test_add_func("/passwd/never-match", test_never_match);
	g_test_add_func("/passwd/weak-schemes-refused", test_weak_schemes_refused);
	g_test_add_func("/passwd/is-hash", test_is_hash);
	g_test_add_func("/passwd/round-trip", test_round_trip);
	g_test_add_func("/passwd/empty-password", test_empty_password);
	g_test_add_func("/passwd/dummy", test_dummy);
	return g_test_run();
}
