/* Checking a POP3 login against the users of the config. */
#ifndef POPD_AUTH_H
#define POPD_AUTH_H

#include "conf/hmconfig.h"

/* Finds the user named name (a user name, or name@<local domain>, any
 * case in the domain) and checks password against its crypt(3) hash.
 * Returns the user, or NULL. Costs one hash computation whether or not
 * the user exists, so timing does not tell which names are valid. */
const HmUserConf *popd_auth_check(const HmConfig *cfg, const char *name,
                                  const char *password);

#endif
