/* `homemail oauth login NAME` and `homemail oauth status`: signing in to
 * an account's or smart host's identity provider (admin/oauth-login.c),
 * and what the token store holds (never a token). */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "admin/commands.h"
#include "admin/oauth-login.h"
#include "admin/oauth-status.h"

static int
usage(void)
{
	fprintf(stderr, "usage: homemail oauth [-c FILE] [--port N] login NAME | status\n");
	return 2;
}

int
hm_cmd_oauth(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	int port = 0;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath, "configuration file", "FILE" },
		{ "port", 0, 0, G_OPTION_ARG_INT, &port,
		  "loopback port for the browser's return (code flow; default: any)", "N" },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("login NAME | status");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	g_autoptr(GArray) all = NULL;
	const HmOauthTarget *t = NULL;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err)) {
		fprintf(stderr, "homemail oauth: %s\n", err->message);
		return 2;
	}
	if (argc < 2 || port < 0 || port > 65535 ||
	    (strcmp(argv[1], "status") == 0 ? argc != 2 : strcmp(argv[1], "login") != 0 || argc != 3))
		return usage();
	if ((cfg = hm_cmd_load_config(cpath, opts, NULL)) == NULL)
		return 1;
	all = hm_oauth_targets(cfg);
	if (strcmp(argv[1], "status") == 0) {
		if (all->len == 0)
			printf("No account or smart host signs in with OAuth2 (auth = \"oauth2\").\n");
		for (guint i = 0; i < all->len; i++)
			hm_oauth_print_status(cfg, &g_array_index(all, HmOauthTarget, i),
			                      g_get_real_time() / G_USEC_PER_SEC);
		return 0;
	}
	for (guint i = 0; i < all->len && t == NULL; i++)
		if (strcmp(g_array_index(all, HmOauthTarget, i).name, argv[2]) == 0)
			t = &g_array_index(all, HmOauthTarget, i);
	if (t == NULL) {
		fprintf(stderr, "homemail oauth: no account or smart host \"%s\" with auth = \"oauth2\"\n",
		        argv[2]);
		return 1;
	}
	return hm_oauth_login(cfg, t, (guint16)port);
}
