/* What the OAuth2 token store holds for each account and smart host that
 * signs in with OAuth2, never a token: shared by `homemail oauth status`
 * and `homemail status`. */
#ifndef HM_OAUTH_STATUS_H
#define HM_OAUTH_STATUS_H

#include <glib.h>

#include "conf/hmconfig.h"

typedef struct {
	const char *kind; /* "account" or "smart host" */
	const char *name;
	const HmEndpoint *ep;
} HmOauthTarget;

/* Every account and smart host with auth = "oauth2", accounts first; a
 * GArray of HmOauthTarget pointing into cfg. */
GArray *hm_oauth_targets(const HmConfig *cfg);

/* Prints t's line and, indented, whether it is signed in, how long its
 * access token lives after now (Unix time), its refresh token and scope. */
void hm_oauth_print_status(const HmConfig *cfg, const HmOauthTarget *t, gint64 now);

#endif
