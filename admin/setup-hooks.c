/* The two seams of `homemail setup`: discovering a provider's servers
 * from an e-mail address (admin/setup-discover.c), and testing an account
 * live (admin/setup-live.c). */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "admin/setup.h"

const HmSetupHooks hm_setup_hooks = {
	.discover = hm_setup_discover_servers,
	.check = hm_setup_check_live,
};

void
hm_setup_server_clear(HmSetupServer *srv)
{
	g_free(srv->protocol);
	g_free(srv->host);
	g_free(srv->tls);
	g_free(srv->user);
	memset(srv, 0, sizeof(*srv));
}

static void
found(HmSetup *s, const char *prefix, const char *suffix, const char *value)
{
	if (value != NULL)
		g_hash_table_replace(s->found, g_strconcat(prefix, suffix, NULL), g_strdup(value));
}

static void
record(HmSetup *s, const char *prefix, const HmSetupServer *srv)
{
	if (srv->host == NULL)
		return;
	if (srv->protocol != NULL && strcmp(srv->protocol, "smtp") != 0)
		found(s, prefix, ".protocol", srv->protocol);
	found(s, prefix, ".host", srv->host);
	found(s, prefix, ".tls", srv->tls);
	found(s, prefix, ".user", srv->user);
	if (srv->port != 0) {
		g_autofree char *port = g_strdup_printf("%u", srv->port);

		found(s, prefix, ".port", port);
	}
}

void
hm_setup_discover(HmSetup *s, const char *prefix)
{
	g_autofree char *id = g_strconcat(prefix, ".address", NULL);
	const char *address = g_hash_table_lookup(s->answers, id);
	HmSetupServer in = { 0 }, out = { 0 };

	if (address == NULL || !hm_setup_hooks.discover(address, &in, &out))
		return;
	record(s, prefix, &in);
	/* The smart host of the first mailbox's provider, unless the config
	 * names one already. */
	if (g_hash_table_lookup(s->found, "smarthost.host") == NULL &&
	    g_hash_table_lookup(s->current, "smarthost.host") == NULL)
		record(s, "smarthost", &out);
	hm_setup_server_clear(&in);
	hm_setup_server_clear(&out);
}

HmSetupCheckResult
hm_setup_run_check(HmSetup *s, const char *prefix, GError **err)
{
	g_autofree char *secret_id = g_strconcat(prefix, ".password_file", NULL);
	HmSetupCheck what = { prefix, s->answers, g_hash_table_lookup(s->secrets, secret_id), s };
	HmSetupCheckResult r = s->no_check ? HM_SETUP_CHECK_SKIPPED
	                                   : hm_setup_hooks.check(&what, err);

	if (r == HM_SETUP_CHECK_OK)
		printf("  %s: checked, it works.\n", prefix);
	else if (r == HM_SETUP_CHECK_SKIPPED)
		printf("  %s: not tested (homemail check --live tests it later).\n", prefix);
	fflush(stdout);
	return r;
}
