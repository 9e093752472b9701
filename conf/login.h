/* Checking a login (popd USER/PASS and AUTH, relay AUTH) against the
 * users of the config, behind the failed-login bar the servers share. */
#ifndef HM_LOGIN_H
#define HM_LOGIN_H

#include "conf/hmconfig.h"
#include "lib/loginbar.h"

/* A hash of a random password in the scheme and cost of the first user's
 * hash, made once at start-up for hm_login_check(); g_free() it. */
char *hm_login_dummy_hash(const HmConfig *cfg);

/* Finds the user named name (a user name, or name@<local domain>, in any
 * case: hm_config_match_user()) and checks password against its crypt(3)
 * hash.
 * Returns the user, or NULL. For a name that is no user, password is
 * checked against dummy_hash instead, so a login costs one hash
 * computation whether or not the user exists and timing does not tell
 * which names are valid (dummy_hash NULL: no such cost, for tests). */
const HmUserConf *hm_login_check(const HmConfig *cfg, const char *dummy_hash, const char *name,
                                 const char *password);

typedef enum {
	HM_LOGIN_OK,
	HM_LOGIN_FAILED,         /* wrong name or password: counted by the bar */
	HM_LOGIN_BARRED,         /* not checked: the address is barred, or the
	                          * wait for its other checks ran out */
} HmLoginResult;

/* hm_login_check() between hm_login_bar_begin() and hm_login_bar_end()
 * for peer (bar NULL: no bar), waiting up to wait_ms for the address's
 * other checks. *user receives the user on HM_LOGIN_OK. The caller
 * answers, and delays a failure. */
HmLoginResult hm_login(const HmConfig *cfg, HmLoginBar *bar, const char *peer, int wait_ms,
                       const char *dummy_hash, const char *name, const char *password,
                       const HmUserConf **user);

#endif
