/* Checking a POP3 login against the users of the config. */
#ifndef POPD_AUTH_H
#define POPD_AUTH_H

#include "conf/hmconfig.h"

/* A hash of a random password in the scheme and cost of the first user's
 * hash, made once at start-up for popd_auth_check(); g_free() it. */
char *popd_auth_dummy_hash(const HmConfig *cfg);

/* Finds the user named name (a user name, or name@<local domain>, any
 * case in the domain) and checks password against its crypt(3) hash.
 * Returns the user, or NULL. For a name that is no user, password is
 * checked against dummy_hash instead, so a login costs one hash
 * computation whether or not the user exists and timing does not tell
 * which names are valid (dummy_hash NULL: no such cost, for tests). */
const HmUserConf *popd_auth_check(const HmConfig *cfg, const char *dummy_hash,
                                  const char *name, const char *password);

#endif
