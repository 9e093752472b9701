#include <config.h>

#include <crypt.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "error.h"
#include "passwd.h"

/* struct crypt_data is some 32 KB: too big for a server's stack, so it
 * lives on the heap and is wiped before it is freed, since it holds
 * state derived from the password. */
static struct crypt_data *
crypt_data_new(void)
{
	return g_malloc0(sizeof(struct crypt_data));
}

static void
crypt_data_free(struct crypt_data *cd)
{
	explicit_bzero(cd, sizeof(*cd));
	g_free(cd);
}

/* TRUE if the len bytes at a and b are equal, in a time that does not
 * depend on where they differ. Written out rather than CRYPTO_memcmp() so
 * that the programs checking passwords without TLS (the admin command)
 * need not load libcrypto for it; volatile keeps the compiler from
 * turning the loop into an early-exit memcmp(). */
static gboolean
equal_const_time(const char *a, const char *b, gsize len)
{
	const volatile unsigned char *x = (const volatile unsigned char *)a;
	const volatile unsigned char *y = (const volatile unsigned char *)b;
	unsigned char diff = 0;

	for (gsize i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* crypt_rn() into a fresh string, or NULL. */
static char *
crypt_dup(const char *password, const char *setting)
{
	struct crypt_data *cd = crypt_data_new();
	char *res = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	char *copy = NULL;

	/* Some libcrypt versions return "*0"/"*1" rather than NULL. */
	if (res != NULL && res[0] != '*')
		copy = g_strdup(res);
	crypt_data_free(cd);
	return copy;
}

gboolean
hm_password_verify(const char *hash, const char *password)
{
	g_autofree char *computed = NULL;
	gsize len;
	gboolean ok;

	if (hash == NULL || password == NULL || !hm_password_scheme_supported(hash))
		return FALSE;
	computed = crypt_dup(password, hash);
	if (computed == NULL)
		return FALSE;
	len = strlen(hash);
	/* The lengths are a property of the scheme, not secret; the bytes
	 * are compared in constant time. */
	ok = strlen(computed) == len && equal_const_time(computed, hash, len);
	return ok;
}

/* A setting string for prefix (e.g. "$y$"), or NULL with *err set. */
static char *
gensalt(const char *prefix, GError **err)
{
	char buf[CRYPT_GENSALT_OUTPUT_SIZE];

	/* rbytes NULL: libcrypt takes its salt from the kernel. */
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, buf, (int)sizeof(buf)) == NULL) {
		hm_set_error_errno(err, errno, "crypt_gensalt %s", prefix);
		return NULL;
	}
	return g_strdup(buf);
}

char *
hm_password_hash(const char *password, GError **err)
{
	g_autofree char *setting = gensalt("$y$", err);
	char *hash;

	if (setting == NULL)
		return NULL;
	hash = crypt_dup(password, setting);
	if (hash == NULL)
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "crypt failed for setting %s", setting);
	return hash;
}

/* The scheme id of hash with its leading and trailing '$' ("$6$"), or
 * NULL. */
static char *
scheme_of(const char *hash)
{
	const char *end;

	if (hash[0] != '$' || (end = strchr(hash + 1, '$')) == NULL)
		return NULL;
	return g_strndup(hash, (gsize)(end - hash) + 1);
}

/* The setting for a hash like like_hash with a fresh salt: its parameters
 * ("$y$j9T$", "$6$rounds=N$": everything before the salt) followed by the
 * salt of a newly generated setting of the same scheme. NULL if like_hash
 * does not have the "$id$[params$]salt$hash" shape. */
static char *
like_setting(const char *like_hash)
{
	g_autofree char *scheme = NULL;
	g_autofree char *fresh = NULL;
	const char *last, *salt_start, *fresh_salt;

	if (!hm_password_scheme_supported(like_hash) || g_str_has_prefix(like_hash, "$2") ||
	    (scheme = scheme_of(like_hash)) == NULL)
		return NULL;
	last = strrchr(like_hash, '$');
	salt_start = last;
	while (salt_start > like_hash && salt_start[-1] != '$')
		salt_start--;
	if (salt_start - like_hash < (gssize)strlen(scheme))
		return NULL;
	fresh = gensalt(scheme, NULL);
	if (fresh == NULL || (fresh_salt = strrchr(fresh, '$')) == NULL)
		return NULL;
	return g_strdup_printf("%.*s%s", (int)(salt_start - like_hash), like_hash, fresh_salt + 1);
}

/* A password nobody knows, so the dummy hash matches nothing typed. */
static char *
random_password(void)
{
	guint8 raw[24];
	GString *s = g_string_sized_new(sizeof(raw) * 2);

	/* The kernel's CSPRNG, as crypt_gensalt_rn() uses for salts; 24
	 * bytes never block or come back short once it is seeded. */
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		for (gsize i = 0; i < sizeof(raw); i++)
			raw[i] = (guint8)g_random_int();
	for (gsize i = 0; i < sizeof(raw); i++)
		g_string_append_printf(s, "%02x", raw[i]);
	return g_string_free(s, FALSE);
}

char *
hm_password_dummy_hash(const char *like_hash)
{
	g_autofree char *password = random_password();
	g_autofree char *setting = like_hash != NULL ? like_setting(like_hash) : NULL;
	char *hash = NULL;

	if (setting != NULL)
		hash = crypt_dup(password, setting);
	/* bcrypt, or a shape we could not take apart: the hash itself is a
	 * setting of the same cost; reusing its salt is harmless because
	 * the password is random and the result is never shown. */
	if (hash == NULL && like_hash != NULL && hm_password_scheme_supported(like_hash))
		hash = crypt_dup(password, like_hash);
	if (hash == NULL)
		hash = hm_password_hash(password, NULL);
	if (hash == NULL)
		/* libcrypt cannot hash at all: no login can succeed anyway,
		 * and "*" never matches. */
		hash = g_strdup("*");
	return hash;
}
