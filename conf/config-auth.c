/* How we log in to an upstream mailbox or a smart host: `auth` and, for
 * "oauth2", the `oauth2 = { ... }` group (lib/oauth2.h). */
#include <config.h>

#include <string.h>

#include "conf/config-private.h"

/* Token and authorization endpoints carry secrets (a client secret, a
 * code, a refresh token): https only, whatever the host. */
static int
https_member(HmCfgCtx *ctx, const config_setting_t *g, const char *name, char **out,
             GError **err)
{
	if (hm_cfg_string(ctx, g, name, out, err) < 0)
		return -1;
	if (*out != NULL && !g_str_has_prefix(*out, "https://"))
		return hm_cfg_fail(ctx, hm_cfg_member(g, name), err, "must be an https:// URL");
	return 0;
}

static int
read_oauth2(HmCfgCtx *ctx, const config_setting_t *g, HmOauth2Conf *c, GError **err)
{
	static const char *const keys[] = {
		"provider", "client_id", "client_secret", "client_secret_file", "authorize_url",
		"token_url", "device_url", "scope", "tenant", "ca_file", NULL,
	};
	static const char *const providers[] = { "google", "microsoft", "custom", NULL };
	int provider = -1;
	const char *problem;

	hm_cfg_check_keys(ctx, g, keys);
	if (hm_cfg_pick(ctx, g, "provider", providers, &provider, err) < 0 ||
	    hm_cfg_required_string(ctx, g, "client_id", &c->client_id, err) < 0 ||
	    hm_cfg_secret(ctx, g, "client_secret", "client_secret_file", &c->client_secret, err) < 0 ||
	    https_member(ctx, g, "authorize_url", &c->authorize_url, err) < 0 ||
	    https_member(ctx, g, "token_url", &c->token_url, err) < 0 ||
	    https_member(ctx, g, "device_url", &c->device_url, err) < 0 ||
	    hm_cfg_string(ctx, g, "scope", &c->scope, err) < 0 ||
	    hm_cfg_string(ctx, g, "tenant", &c->tenant, err) < 0 ||
	    hm_cfg_path(ctx, g, "ca_file", &c->ca_file, err) < 0)
		return -1;
	if (provider < 0)
		return hm_cfg_fail_at(ctx, g, "provider", err,
		                      "required (\"google\", \"microsoft\" or \"custom\")");
	c->provider = g_strdup(providers[provider]);
	if (*c->client_id == '\0')
		return hm_cfg_fail(ctx, hm_cfg_member(g, "client_id"), err, "must not be empty");
	if (c->tenant != NULL && strcmp(c->provider, "microsoft") != 0)
		return hm_cfg_fail(ctx, hm_cfg_member(g, "tenant"), err,
		                   "only for provider \"microsoft\"");
	if (c->scope != NULL && *c->scope == '\0')
		return hm_cfg_fail(ctx, hm_cfg_member(g, "scope"), err, "must not be empty");
	if ((problem = hm_oauth2_conf_complete(c)) != NULL)
		return hm_cfg_fail(ctx, g, err, "%s", problem);
	return 0;
}

int
hm_cfg_read_auth(HmCfgCtx *ctx, const config_setting_t *g, gboolean user_required,
                 HmEndpoint *ep, GError **err)
{
	static const char *const kinds[] = { "password", "oauth2", NULL };
	const config_setting_t *og = hm_cfg_member(g, "oauth2");
	int kind = -1;

	if (hm_cfg_pick(ctx, g, "auth", kinds, &kind, err) < 0 ||
	    hm_cfg_string(ctx, g, "user", &ep->user, err) < 0)
		return -1;
	ep->auth = kind == 1 ? HM_AUTH_OAUTH2 : HM_AUTH_PASSWORD;
	if (ep->auth == HM_AUTH_PASSWORD) {
		if (og != NULL)
			return hm_cfg_fail(ctx, og, err, "needs auth = \"oauth2\"");
		if (hm_cfg_secret(ctx, g, "password", "password_file", &ep->password, err) < 0)
			return -1;
		if (ep->user == NULL && user_required)
			return hm_cfg_fail_at(ctx, g, "user", err, "required");
		if (ep->user != NULL && ep->password.value == NULL && ep->password.file == NULL)
			return hm_cfg_fail_at(ctx, g, "password_file", err,
			                      "required with user (or password)");
		if (ep->user == NULL && (ep->password.value != NULL || ep->password.file != NULL))
			return hm_cfg_fail_at(ctx, g, "user", err, "required with a password");
		return 0;
	}
	/* The token is the credential: a password beside it would be a
	 * second one to keep safe, and never used. */
	for (const char *const *k = (const char *const[]){ "password", "password_file", NULL }; *k;
	     k++)
		if (hm_cfg_member(g, *k) != NULL)
			return hm_cfg_fail(ctx, hm_cfg_member(g, *k), err,
			                   "not used with auth = \"oauth2\"");
	if (ep->user == NULL)
		return hm_cfg_fail_at(ctx, g, "user", err, "required with auth = \"oauth2\"");
	if (og == NULL)
		return hm_cfg_fail_at(ctx, g, "oauth2", err,
		                      "required with auth = \"oauth2\" (provider, client_id)");
	if (!config_setting_is_group(og))
		return hm_cfg_fail(ctx, og, err, "must be a group: oauth2 = { ... }");
	return read_oauth2(ctx, og, &ep->oauth2, err);
}
