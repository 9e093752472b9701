#include <config.h>

#include <string.h>

#include "lib/passwd.h"
#include "conf/login.h"

/* Login names match users as mail addresses do, in any case: mail to
 * Alice@ reaches alice, so USER Alice reads it. */
static const HmUserConf *
find_user(const HmConfig *cfg, const char *name)
{
	const char *at = strrchr(name, '@');
	g_autofree char *local = NULL;

	if (at == NULL)
		return hm_config_match_user(cfg, name);
	if (!hm_config_is_local_domain(cfg, at + 1))
		return NULL;
	local = g_strndup(name, (gsize)(at - name));
	return hm_config_match_user(cfg, local);
}

char *
hm_login_dummy_hash(const HmConfig *cfg)
{
	const char *like = NULL;

	for (gsize i = 0; i < cfg->n_users && like == NULL; i++)
		like = cfg->users[i].password_hash;
	return hm_password_dummy_hash(like != NULL ? like : "$y$j9T$");
}

const HmUserConf *
hm_login_check(const HmConfig *cfg, const char *dummy_hash, const char *name,
                const char *password)
{
	const HmUserConf *u = find_user(cfg, name);

	if (u != NULL && u->password_hash != NULL)
		return hm_password_verify(u->password_hash, password) ? u : NULL;
	/* Burn the same time as a real check would. */
	if (dummy_hash != NULL)
		hm_password_verify(dummy_hash, password);
	return NULL;
}

HmLoginResult
hm_login(const HmConfig *cfg, HmLoginBar *bar, const char *peer, int wait_ms,
         const char *dummy_hash, const char *name, const char *password, const HmUserConf **user)
{
	/* Reserved before the check, so the sessions of one address together
	 * get no more answers than the bar allows. */
	if (bar != NULL && !hm_login_bar_begin(bar, peer, wait_ms))
		return HM_LOGIN_BARRED;
	*user = hm_login_check(cfg, dummy_hash, name, password);
	if (bar != NULL)
		hm_login_bar_end(bar, peer, *user == NULL);
	return *user != NULL ? HM_LOGIN_OK : HM_LOGIN_FAILED;
}
