/* Password hashes in crypt(3) format (yescrypt "$y$", sha512-crypt "$6$"),
 * as in /etc/shadow. Their form (hm_password_scheme_supported(),
 * hm_password_is_hash()) is lib/passwd-form.c, which needs no libcrypt;
 * hashing and checking are lib/passwd.c. */
#ifndef HM_PASSWD_H
#define HM_PASSWD_H

#include <glib.h>

/* The longest password homemail accepts, in octets: RFC 4616's limit on a
 * SASL PLAIN field, which also keeps "PASS <password>" within popd's
 * command line. `homemail passwd` sets none longer, popd answers a longer
 * one as such (it can never be right), and lib/sasl's PLAIN decoder tells
 * it apart from a malformed response. */
#define HM_PASSWORD_MAX 255

/* TRUE if password matches hash. Constant-time comparison; a hash that is
 * not a supported crypt(3) hash ("*", "!", "", unknown prefix) never
 * matches. */
gboolean hm_password_verify(const char *hash, const char *password);

/* TRUE if hash starts with the "$id$" of a scheme hm_password_verify()
 * checks (yescrypt, scrypt, bcrypt, sha512- and sha256-crypt); md5-crypt,
 * DES and unknown ones are refused. */
gboolean hm_password_scheme_supported(const char *hash);

/* TRUE if hash has the form of a hash hm_password_verify() can check: a
 * supported scheme's "$id$" and only the characters crypt(3) writes
 * ([./0-9A-Za-z], '$' between the fields, '=' in sha-crypt's
 * "rounds=N"). Whatever else a hash may hold (quotes, backslashes, white
 * space, control characters) it can only have been typed or made up, and
 * would change the meaning of the config line it is written into. */
gboolean hm_password_is_hash(const char *hash);

/* A new yescrypt hash of password with a fresh random salt; g_free() it.
 * NULL with *err set if libcrypt fails. */
char *hm_password_hash(const char *password, GError **err);

/* A hash of a random password in the same scheme and cost as hash, to
 * check against when the user does not exist, so a login for an unknown
 * user costs as long as one for a known user. g_free() it. */
char *hm_password_dummy_hash(const char *like_hash);

#endif
