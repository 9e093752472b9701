#include <config.h>

#include <stdio.h>

#include "admin/oauth-status.h"
#include "lib/oauth2-token.h"
#include "lib/printable.h"

/* Every account and smart host that signs in with OAuth2. */
GArray *
hm_oauth_targets(const HmConfig *cfg)
{
	GArray *t = g_array_new(FALSE, FALSE, sizeof(HmOauthTarget));

	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++) {
		const HmAccountConf *a = &cfg->fetcher.accounts[i];
		HmOauthTarget x = { "account", a->name, &a->ep };

		if (a->ep.auth == HM_AUTH_OAUTH2)
			g_array_append_val(t, x);
	}
	for (gsize i = 0; i < cfg->relay.n_smarthosts; i++) {
		const HmSmarthostConf *h = &cfg->relay.smarthosts[i];
		HmOauthTarget x = { "smart host", h->name, &h->ep };

		if (h->ep.auth == HM_AUTH_OAUTH2)
			g_array_append_val(t, x);
	}
	return t;
}

void
hm_oauth_print_status(const HmConfig *cfg, const HmOauthTarget *t, gint64 now)
{
	g_autofree char *path = hm_oauth2_token_path(cfg->state_dir, &t->ep->oauth2, t->ep->user);
	g_autoptr(GError) err = NULL;
	HmOauth2Token tok = { 0 };

	printf("%s %s: %s at %s\n", t->kind, t->name, t->ep->user, t->ep->oauth2.provider);
	if (hm_oauth2_token_load(path, &tok, &err) < 0) {
		if (g_error_matches(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN))
			printf("  not signed in: run homemail oauth login %s\n", t->name);
		else
			printf("  token store: %s\n", err->message);
		return;
	}
	if (tok.signed_out != NULL) {
		g_autofree char *why = hm_oauth2_token_signed_out_words(&tok);

		printf("  %s\n  run homemail oauth login %s\n", why, t->name);
		hm_oauth2_token_clear(&tok);
		return;
	}
	if (tok.expires_at > now)
		printf("  access token valid for %" G_GINT64_FORMAT " more minutes\n",
		       (tok.expires_at - now) / 60);
	else
		printf("  access token expired%s\n",
		       tok.refresh_token != NULL ? " (renewed at the next use)" : "");
	printf("  refresh token: %s\n", tok.refresh_token != NULL ? "yes"
	                                                          : "no: sign in again when "
	                                                            "the access token expires");
	if (tok.scope != NULL) {
		g_autofree char *scope = hm_printable(tok.scope, -1);

		printf("  scope: %s\n", scope);
	} else {
		printf("  scope: (as asked)\n");
	}
	hm_oauth2_token_clear(&tok);
}
