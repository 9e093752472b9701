/* hm-oauth-token: hm_oauth2_access_token() from the command line, so the
 * integration tests can drive the token store and refresh against the
 * OAuth2 server fixture (and race two processes on one token) without a
 * mail protocol around it. Not installed.
 *
 *   hm-oauth-token -c CONF [--force] [--now UNIX] NAME
 *
 * NAME is an account or smart host with auth = "oauth2". Prints
 * "sha256=HEX" of the access token it got (a test compares it with the
 * fixture's, and no token reaches a log), or "error=CODE MESSAGE" with
 * CODE the HmOauth2Error number, and exits 1. 64 for usage and config
 * errors. -v logs at debug level on stderr. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "conf/hmconfig.h"
#include "lib/log.h"
#include "lib/oauth2-token.h"
#include "lib/sasl.h"

static const HmEndpoint *
find(const HmConfig *cfg, const char *name)
{
	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++)
		if (strcmp(cfg->fetcher.accounts[i].name, name) == 0)
			return &cfg->fetcher.accounts[i].ep;
	for (gsize i = 0; i < cfg->relay.n_smarthosts; i++)
		if (strcmp(cfg->relay.smarthosts[i].name, name) == 0)
			return &cfg->relay.smarthosts[i].ep;
	return NULL;
}

int
main(int argc, char **argv)
{
	g_autofree char *conf = NULL;
	gboolean force = FALSE, verbose = FALSE;
	gint64 now = 0;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &conf, "configuration file", "FILE" },
		{ "force", 0, 0, G_OPTION_ARG_NONE, &force, "refresh even if the token lives", NULL },
		{ "now", 0, 0, G_OPTION_ARG_INT64, &now, "the time to judge expiry by", "UNIX" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "debug log on stderr", NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("NAME");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	const HmEndpoint *ep;
	char *token;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err) || argc != 2 || conf == NULL) {
		fprintf(stderr, "usage: hm-oauth-token -c CONF [--force] [--now UNIX] NAME\n");
		return 64;
	}
	hm_log_init("hm-oauth-token", FALSE, verbose ? 2 : 0);
	if ((cfg = hm_config_load(conf, NULL, NULL, &err)) == NULL ||
	    (ep = find(cfg, argv[1])) == NULL || ep->auth != HM_AUTH_OAUTH2) {
		fprintf(stderr, "hm-oauth-token: %s\n", err != NULL ? err->message : "no such NAME");
		return 64;
	}
	token = hm_oauth2_access_token(cfg->state_dir, &ep->oauth2, ep->user,
	                               now != 0 ? now : g_get_real_time() / G_USEC_PER_SEC, force,
	                               &err);
	if (token == NULL) {
		printf("error=%d %s\n", err->domain == HM_OAUTH2_ERROR ? err->code : -1, err->message);
		return 1;
	}
	g_checksum_update(sum, (const guchar *)token, (gssize)strlen(token));
	printf("sha256=%s\n", g_checksum_get_string(sum));
	hm_sasl_free_secret(token);
	return 0;
}
