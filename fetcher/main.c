/* homemail-fetcher: pulls mail from the upstream POP3/IMAP accounts. */
#include <config.h>

#include <stdio.h>

#include "conf/hmconfig.h"
#include "fetcher/daemon.h"
#include "lib/log.h"
#include "lib/privs.h"

static const HmAccountConf *
find_account(const HmConfig *cfg, const char *name)
{
	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++)
		if (g_strcmp0(cfg->fetcher.accounts[i].name, name) == 0)
			return &cfg->fetcher.accounts[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	g_autofree char *conf_path = NULL, *only = NULL;
	gboolean verbose = FALSE, version = FALSE, once = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &conf_path, "configuration file", "FILE" },
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once, "fetch every account once and exit", NULL },
		{ "account", 0, 0, G_OPTION_ARG_STRING, &only, "only this account", "NAME" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "log more (protocol traces)", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version and exit", NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- fetch mail from POP3/IMAP accounts");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	guint failed;

	hm_log_init("homemail-fetcher", FALSE, 0);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "homemail-fetcher: %s\n", err ? err->message : "unexpected argument");
		return 2;
	}
	if (version) {
		printf("homemail-fetcher %s\n", PACKAGE_VERSION);
		return 0;
	}
	/* One account's unreadable password file must not stop the others:
	 * that account fails on its own (hm_account_init). */
	cfg = hm_config_load_flags(conf_path ? conf_path : hm_config_default_path(),
	                           HM_CONFIG_SECRETS_OPTIONAL, NULL, NULL, &err);
	if (cfg == NULL) {
		fprintf(stderr, "homemail-fetcher: %s\n", err->message);
		return 2;
	}
	hm_log_init("homemail-fetcher", cfg->use_syslog, verbose ? 1 : 0);
	if (only != NULL && find_account(cfg, only) == NULL) {
		fprintf(stderr, "homemail-fetcher: no account \"%s\" in %s\n", only, cfg->file);
		return 2;
	}
	if (hm_drop_privileges(cfg->run_as, &err) < 0) {
		fprintf(stderr, "homemail-fetcher: %s\n", err->message);
		return 1;
	}
	if (cfg->fetcher.n_accounts == 0) {
		hm_info("no fetcher accounts configured");
		return 0;
	}
	failed = once ? hm_fetcher_run_once(cfg, only) : hm_fetcher_daemon(cfg, only);
	return failed == 0 ? 0 : 1;
}
