/* Setup's live-check seam filled by admin/live.c: the answers given so far
 * are rendered into a config of their own (beside the real one, so that
 * relative paths mean the same), loaded as every program would load it,
 * and the server just entered is tested with the secret just typed, which
 * never touches the disk. An OAuth2 account or smart host that is not
 * signed in yet signs in first, as `homemail oauth login NAME` does. At the end, the advice of `check --live` on the
 * config written. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/live.h"
#include "admin/oauth-login.h"
#include "admin/setup.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/oauth2-token.h"
#include "lib/sasl.h"
#include "lib/tls.h"

static void
use_secret(HmSecret *sec, const char *secret)
{
	if (secret == NULL)
		return;
	hm_sasl_free_secret(sec->value);
	sec->value = g_strdup(secret);
}

/* Runs the live check prefix names against cfg; 0, -1 with *err, or 1
 * when cfg has no such item. */
static int
run(HmConfig *cfg, const char *prefix, const char *secret, GString *report, GError **err)
{
	if (g_str_has_prefix(prefix, "account.")) {
		for (gsize i = 0; i < cfg->fetcher.n_accounts; i++) {
			HmAccountConf *a = &cfg->fetcher.accounts[i];

			if (strcmp(a->name, prefix + strlen("account.")) == 0) {
				use_secret(&a->ep.password, secret);
				return hm_live_account(cfg, a, report, err);
			}
		}
	} else if (strcmp(prefix, "smarthost") == 0 && cfg->relay.n_smarthosts > 0) {
		use_secret(&cfg->relay.smarthosts[0].ep.password, secret);
		return hm_live_smarthost(cfg, &cfg->relay.smarthosts[0], report, err);
	} else if (strcmp(prefix, "dyndns") == 0 && cfg->dyndns.n_records > 0) {
		use_secret(&cfg->dyndns.records[0].password, secret);
		return hm_live_dyndns(cfg, &cfg->dyndns.records[0], report, err);
	}
	return 1;
}

/* The OAuth2 sign-in prefix names in cfg, or NULL when it has none. */
static const HmOauthTarget *
oauth_target(GArray *all, const char *prefix)
{
	gboolean account = g_str_has_prefix(prefix, "account.");

	for (guint i = 0; i < all->len; i++) {
		const HmOauthTarget *t = &g_array_index(all, HmOauthTarget, i);

		if (account ? strcmp(t->kind, "account") == 0 &&
		                      strcmp(t->name, prefix + strlen("account.")) == 0
		            : strcmp(t->kind, "smart host") == 0)
			return t;
	}
	return NULL;
}

static gboolean
signed_in(const HmConfig *cfg, const HmEndpoint *ep)
{
	g_autofree char *path = hm_oauth2_token_path(cfg->state_dir, &ep->oauth2, ep->user);
	HmOauth2Token tok = { 0 };
	gboolean yes = hm_oauth2_token_load(path, &tok, NULL) == 0 && tok.signed_out == NULL;

	hm_oauth2_token_clear(&tok);
	return yes;
}

/* In the dialogue, an OAuth2 endpoint not signed in yet signs in now: the
 * check that follows then tests the token. The answers file's runs leave
 * it to `homemail oauth login` (nobody may be there to open a browser). */
static void
sign_in(const HmSetup *s, const HmConfig *cfg, const char *prefix)
{
	g_autoptr(GArray) all = hm_oauth_targets(cfg);
	const HmOauthTarget *t = oauth_target(all, prefix);

	if (!s->interactive || t == NULL || signed_in(cfg, t->ep))
		return;
	printf("Signing %s in with OAuth2 ...\n", prefix);
	fflush(stdout);
	if (hm_oauth_login(cfg, t, 0) != 0)
		printf("  Not signed in: the check will say so; `homemail oauth login %s` "
		       "signs in later.\n", t->name);
}

HmSetupCheckResult
hm_setup_check_live(const HmSetupCheck *what, GError **err)
{
	g_autoptr(GString) report = g_string_new(NULL);
	g_autoptr(GError) why = NULL;
	g_autofree char *text = hm_setup_render(what->setup);
	g_autoptr(HmConfig) cfg =
	        hm_setup_load_text(what->setup, text, HM_CONFIG_SECRETS_OPTIONAL, &why);
	int rc;

	if (cfg == NULL) {
		printf("  %s: not tested: %s\n", what->prefix, why->message);
		return HM_SETUP_CHECK_SKIPPED;
	}
	sign_in(what->setup, cfg, what->prefix);
	printf("Testing %s ...\n", what->prefix);
	fflush(stdout);
	rc = run(cfg, what->prefix, what->secret, report, err);
	fputs(report->str, stdout);
	fflush(stdout);
	if (rc > 0)
		return HM_SETUP_CHECK_SKIPPED;
	return rc == 0 ? HM_SETUP_CHECK_OK : HM_SETUP_CHECK_FAILED;
}

char *
hm_setup_check_pin(const GError *err)
{
	if (!g_error_matches(err, HM_LIVE_ERROR, HM_LIVE_ERROR_TLS))
		return NULL;
	return hm_tls_error_pin(err);
}

void
hm_setup_advise(const HmSetup *s)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = hm_config_load_flags(s->load_path, HM_CONFIG_SECRETS_OPTIONAL,
	                                               NULL, NULL, &err);
	g_autoptr(GString) report = g_string_new(NULL);

	if (cfg == NULL) {
		printf("\nNo advice: %s\n", err->message);
		return;
	}
	printf("\n");
	fflush(stdout);
	hm_live_advise(cfg, report);
	fputs(report->str, stdout);
	fflush(stdout);
}
