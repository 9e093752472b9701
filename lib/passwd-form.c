/* What a password hash looks like, apart from checking one: the config
 * loader, which every program links, refuses a bad hash at load time,
 * and must not pull libcrypt into programs that never check a password
 * (homemail-deliver, started once per message). So this file calls
 * nothing of libcrypt; lib/passwd.c does the hashing. */
#include <config.h>

#include <string.h>

#include "passwd.h"

/* The schemes we check: yescrypt, gost-yescrypt, scrypt, bcrypt,
 * sha512-crypt, sha256-crypt. md5-crypt, DES and anything unknown are
 * refused outright, so a weak or placeholder hash ("*", "!", "x") can
 * never be matched by some password. */
static const char *const strong_prefixes[] = {
	"$y$", "$gy$", "$7$", "$2b$", "$2y$", "$6$", "$5$",
};

gboolean
hm_password_scheme_supported(const char *hash)
{
	for (gsize i = 0; i < G_N_ELEMENTS(strong_prefixes); i++)
		if (g_str_has_prefix(hash, strong_prefixes[i]))
			return TRUE;
	return FALSE;
}

gboolean
hm_password_is_hash(const char *hash)
{
	static const char alphabet[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz$=";
	guint fields = 0;

	if (hash == NULL || !hm_password_scheme_supported(hash) ||
	    strspn(hash, alphabet) != strlen(hash))
		return FALSE;
	for (const char *p = hash; *p != '\0'; p++)
		fields += *p == '$';
	/* Every scheme has "$id$", a salt, '$' and the hash itself. */
	return fields >= 3 && hash[strlen(hash) - 1] != '$';
}
