#include <config.h>

#include <string.h>

#include "lib/passwd.h"
#include "popd/auth.h"

static const HmUserConf *
find_user(const HmConfig *cfg, const char *name)
{
	const char *at = strrchr(name, '@');
	g_autofree char *local = NULL;

	if (at == NULL)
		return hm_config_find_user(cfg, name);
	if (!hm_config_is_local_domain(cfg, at + 1))
		return NULL;
	local = g_strndup(name, (gsize)(at - name));
	return hm_config_find_user(cfg, local);
}

const HmUserConf *
popd_auth_check(const HmConfig *cfg, const char *name, const char *password)
{
	const HmUserConf *u = find_user(cfg, name);
	const char *like = NULL;
	g_autofree char *dummy = NULL;

	if (u != NULL && u->password_hash != NULL)
		return hm_password_verify(u->password_hash, password) ? u : NULL;
	/* Burn the same time as a real check would. */
	for (gsize i = 0; i < cfg->n_users && like == NULL; i++)
		like = cfg->users[i].password_hash;
	dummy = hm_password_dummy_hash(like != NULL ? like : "$y$j9T$");
	if (dummy != NULL)
		hm_password_verify(dummy, password);
	return NULL;
}
