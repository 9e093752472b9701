/* The identity providers homemail knows, and the checks on a custom one.
 * The presets hold only public facts (endpoint URLs, scopes): a client ID
 * is the user's own registration (see homemail.conf(5)). */
#include <config.h>

#include <string.h>

#include "oauth2.h"

/* Google: its device endpoint refuses the mail scope, so code + PKCE.
 * https://developers.google.com/identity/protocols/oauth2/native-app */
#define GOOGLE_AUTHORIZE "https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_TOKEN "https://oauth2.googleapis.com/token"
#define GOOGLE_SCOPE "https://mail.google.com/"

/* Microsoft identity platform v2.0; {tenant} in the path. One token for
 * IMAP, POP and SMTP: the scopes share the outlook.office.com resource,
 * and offline_access is what brings a refresh token. */
#define MS_BASE "https://login.microsoftonline.com/"
#define MS_SCOPE                                                                                   \
	"https://outlook.office.com/IMAP.AccessAsUser.All "                                        \
	"https://outlook.office.com/POP.AccessAsUser.All "                                         \
	"https://outlook.office.com/SMTP.Send offline_access"

static void
set_default(char **field, char *value)
{
	if (*field == NULL)
		*field = value;
	else
		g_free(value);
}

/* A tenant goes into a URL path: "common", a domain, or a GUID. */
static gboolean
tenant_ok(const char *t)
{
	if (*t == '\0' || strlen(t) > 253)
		return FALSE;
	for (const char *p = t; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
			return FALSE;
	return TRUE;
}

const char *
hm_oauth2_conf_complete(HmOauth2Conf *c)
{
	const char *tenant = c->tenant != NULL ? c->tenant : "common";

	if (c->provider == NULL || strcmp(c->provider, "custom") == 0) {
		if (c->token_url == NULL)
			return "a custom provider needs token_url";
		if (c->device_url == NULL && c->authorize_url == NULL)
			return "a custom provider needs device_url or authorize_url";
		return NULL;
	}
	if (strcmp(c->provider, "google") == 0) {
		set_default(&c->authorize_url, g_strdup(GOOGLE_AUTHORIZE));
		set_default(&c->token_url, g_strdup(GOOGLE_TOKEN));
		set_default(&c->scope, g_strdup(GOOGLE_SCOPE));
		return NULL;
	}
	if (strcmp(c->provider, "microsoft") == 0) {
		if (!tenant_ok(tenant))
			return "tenant must be \"common\", \"consumers\", \"organizations\", a domain "
			       "or a tenant ID";
		set_default(&c->authorize_url,
		            g_strconcat(MS_BASE, tenant, "/oauth2/v2.0/authorize", NULL));
		set_default(&c->token_url, g_strconcat(MS_BASE, tenant, "/oauth2/v2.0/token", NULL));
		set_default(&c->device_url,
		            g_strconcat(MS_BASE, tenant, "/oauth2/v2.0/devicecode", NULL));
		set_default(&c->scope, g_strdup(MS_SCOPE));
		return NULL;
	}
	return "provider must be \"google\", \"microsoft\" or \"custom\"";
}

HmOauth2Flow
hm_oauth2_conf_flow(const HmOauth2Conf *c)
{
	if (c->provider != NULL && strcmp(c->provider, "google") == 0)
		return HM_OAUTH2_FLOW_CODE;
	return c->device_url != NULL ? HM_OAUTH2_FLOW_DEVICE : HM_OAUTH2_FLOW_CODE;
}

void
hm_oauth2_conf_clear(HmOauth2Conf *c)
{
	if (c == NULL)
		return;
	g_free(c->provider);
	g_free(c->client_id);
	hm_secret_clear(&c->client_secret);
	g_free(c->authorize_url);
	g_free(c->token_url);
	g_free(c->device_url);
	g_free(c->scope);
	g_free(c->tenant);
	g_free(c->ca_file);
	memset(c, 0, sizeof(*c));
}
