/* Signing in at an OAuth2 identity provider, shared by `homemail oauth
 * login` and `homemail setup`. */
#ifndef HM_OAUTH_LOGIN_H
#define HM_OAUTH_LOGIN_H

#include <glib.h>

#include "admin/oauth-status.h"
#include "conf/hmconfig.h"

/* Signs t in at its provider, talking to the person on stdout (and, for
 * the code flow, reading a pasted URL from fd 0 or the browser's return
 * on a loopback listener at port, 0: any), and stores the token where
 * the programs of cfg look for it. Returns 0, or 1 after saying on
 * stderr what failed. */
int hm_oauth_login(const HmConfig *cfg, const HmOauthTarget *t, guint16 port);

#endif
