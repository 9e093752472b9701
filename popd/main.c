/* homemail-popd: the POP3 server for the mail clients on the LAN. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include "conf/hmconfig.h"
#include "lib/log.h"
#include "popd/server.h"

int
main(int argc, char **argv)
{
	g_autofree char *conf_path = NULL;
	gboolean verbose = FALSE, version = FALSE;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &conf_path, "configuration file", "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "log more (protocol traces)", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version and exit", NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- POP3 server for homemail's Maildirs");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	hm_log_init("homemail-popd", FALSE, 0);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "homemail-popd: %s\n", err ? err->message : "unexpected argument");
		return 2;
	}
	if (version) {
		printf("homemail-popd %s\n", PACKAGE_VERSION);
		return 0;
	}
	/* popd needs no upstream secret: a missing password file of some
	 * fetch account must not keep the LAN from reading its mail. */
	cfg = hm_config_load_flags(conf_path ? conf_path : hm_config_default_path(),
	                           HM_CONFIG_SECRETS_OPTIONAL, NULL, NULL, &err);
	if (cfg == NULL) {
		fprintf(stderr, "homemail-popd: %s\n", err->message);
		return 1;
	}
	hm_log_init("homemail-popd", cfg->use_syslog, verbose ? 1 : 0);
	if (popd_server_run(cfg, &err) < 0) {
		hm_err("%s", err->message);
		if (cfg->use_syslog)
			fprintf(stderr, "homemail-popd: %s\n", err->message);
		return 1;
	}
	return 0;
}
