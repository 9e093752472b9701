#include <config.h>

#include <stdio.h>

#include "conf/program.h"
#include "lib/log.h"

static gboolean
count_verbose(const char *name, const char *value, gpointer data, GError **err)
{
	((HmProgram *)data)->verbosity++;
	return TRUE;
}

gboolean
hm_program_parse(HmProgram *prog, int *argc, char ***argv, int *status)
{
	const GOptionEntry common[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &prog->config_path, "configuration file",
		  "FILE" },
		{ "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
		  (gpointer)count_verbose, "log more (protocol traces)", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &prog->version, "print the version and exit",
		  NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(prog->params);
	g_autoptr(GOptionGroup) group = g_option_group_new(NULL, NULL, NULL, prog, NULL);
	g_autoptr(GError) err = NULL;

	hm_log_init(prog->name, FALSE, 0);
	g_option_group_add_entries(group, common);
	if (prog->entries != NULL)
		g_option_group_add_entries(group, prog->entries);
	g_option_context_set_main_group(ctx, g_steal_pointer(&group));
	g_option_context_set_summary(ctx, prog->summary);
	g_option_context_set_description(ctx, prog->description);
	if (!g_option_context_parse(ctx, argc, argv, &err) || (!prog->args_allowed && *argc > 1)) {
		fprintf(stderr, "%s: %s\n", prog->name, err != NULL ? err->message
		                                                    : "unexpected argument");
		*status = prog->usage_status;
		return FALSE;
	}
	if (prog->version) {
		printf("%s %s\n", prog->name, PACKAGE_VERSION);
		*status = 0;
		return FALSE;
	}
	hm_log_init(prog->name, FALSE, prog->verbosity);
	return TRUE;
}

HmConfig *
hm_program_load(HmProgram *prog, int *status)
{
	g_autoptr(GError) err = NULL;
	HmConfig *cfg = hm_config_load_flags(prog->config_path != NULL ? prog->config_path
	                                                               : hm_config_default_path(),
	                                     prog->load_flags, NULL, NULL, &err);

	if (cfg == NULL) {
		fprintf(stderr, "%s: %s\n", prog->name, err->message);
		*status = prog->config_status;
		return NULL;
	}
	hm_log_init(prog->name, cfg->use_syslog, prog->verbosity);
	return cfg;
}

void
hm_program_clear(HmProgram *prog)
{
	g_clear_pointer(&prog->config_path, g_free);
}
