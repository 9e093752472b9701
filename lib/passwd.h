/* Password hashes in crypt(3) format (yescrypt "$y$", sha512-crypt "$6$"),
 * as in /etc/shadow. */
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

/* A new yescrypt hash of password with a fresh random salt; g_free() it.
 * NULL with *err set if libcrypt fails. */
char *hm_password_hash(const char *password, GError **err);

/* A hash of a random password in the same scheme and cost as hash, to
 * check against when the user does not exist, so a login for an unknown
 * user costs as long as one for a known user. g_free() it. */
char *hm_password_dummy_hash(const char *like_hash);

#endif
