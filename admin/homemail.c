/* `homemail`: the admin command. Global options, then a subcommand looked
 * up in one table. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "admin/commands.h"
#include "conf/hmconfig.h"

typedef struct {
	const char *name;
	int (*run)(int argc, char **argv, const HmGlobalOpts *opts);
	const char *help;
} HmCommand;

static const HmCommand commands[] = {
	{ "check", hm_cmd_check, "validate the configuration and summarise it" },
	{ "network-up", hm_cmd_network_up,
	  "the network is back: flush the queue, fetch and update dyndns now" },
	{ "oauth", hm_cmd_oauth,
	  "sign an account or smart host in with OAuth2, or show the tokens" },
	{ "passwd", hm_cmd_passwd, "set a user's password" },
	{ "queue", hm_cmd_queue, "list, show, delete or flush the relay's queue" },
	{ "setup", hm_cmd_setup, "guided set-up: ask, write the config, start the services" },
	{ "status", hm_cmd_status, "listeners, queue, last fetches, dyndns records, tokens" },
	{ "up", hm_cmd_up, "run relay, popd, fetcher and dyndns in the foreground" },
};

static char *
commands_help(void)
{
	GString *s = g_string_new("Commands:\n");

	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		g_string_append_printf(s, "  %-10s %s\n", commands[i].name, commands[i].help);
	g_string_append_printf(s, "\nThe default configuration file is %s.",
	                       hm_config_default_path());
	return g_string_free(s, FALSE);
}

static void
print_warning(const char *line, gpointer data)
{
	fprintf(stderr, "homemail: warning: %s\n", line);
}

HmConfig *
hm_cmd_load_config(const char *cpath, const HmGlobalOpts *opts, const char **path_out)
{
	g_autoptr(GError) err = NULL;
	const char *path = cpath != NULL ? cpath : opts->config_path;
	HmConfig *cfg;

	if (path == NULL)
		path = hm_config_default_path();
	if (path_out != NULL)
		*path_out = path;
	/* The daemons' secrets may be unreadable to whoever runs a command,
	 * or not in place yet: report them, don't fail on them. */
	cfg = hm_config_load_flags(path, HM_CONFIG_SECRETS_OPTIONAL, print_warning, NULL, &err);
	if (cfg == NULL)
		fprintf(stderr, "homemail: %s\n", err->message);
	return cfg;
}

static gboolean
count_verbose(const char *name, const char *value, gpointer data, GError **err)
{
	((HmGlobalOpts *)data)->verbosity++;
	return TRUE;
}

int
main(int argc, char **argv)
{
	HmGlobalOpts opts = { NULL, 0 };
	gboolean version = FALSE;
	g_autofree char *config_path = NULL;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "configuration file", "FILE" },
		{ "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer)count_verbose,
		  "more log output", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version and exit", NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("COMMAND [ARGS...]");
	g_autoptr(GOptionGroup) group = g_option_group_new(NULL, NULL, NULL, &opts, NULL);
	g_autofree char *help = commands_help();
	g_autoptr(GError) err = NULL;

	g_option_group_add_entries(group, entries);
	g_option_context_set_main_group(octx, g_steal_pointer(&group));
	g_option_context_set_description(octx, help);
	/* Stop at the subcommand: its options are its own. */
	g_option_context_set_strict_posix(octx, TRUE);
	if (!g_option_context_parse(octx, &argc, &argv, &err)) {
		fprintf(stderr, "homemail: %s\n", err->message);
		return 2;
	}
	if (version) {
		printf("homemail %s\n", PACKAGE_VERSION);
		return 0;
	}
	opts.config_path = config_path;
	hm_log_init("homemail", FALSE, opts.verbosity);
	if (argc < 2) {
		fprintf(stderr, "homemail: no command given (see homemail --help)\n");
		return 2;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1, &opts);
	fprintf(stderr, "homemail: unknown command \"%s\" (see homemail --help)\n", argv[1]);
	return 2;
}
