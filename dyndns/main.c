/* homemail-dyndns: keeps the box's DNS names pointing at its public
 * address. */
#include <config.h>

#include <stdio.h>

#include "conf/program.h"
#include "dyndns/run.h"
#include "lib/log.h"
#include "lib/privs.h"

int
main(int argc, char **argv)
{
	gboolean once = FALSE;
	HmDynRunOptions opt = { 0 };
	const GOptionEntry entries[] = {
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once, "update once and exit (the timer)", NULL },
		{ "force", 0, 0, G_OPTION_ARG_NONE, &opt.force,
		  "send updates even when the address is unchanged", NULL },
		{ "dry-run", 0, 0, G_OPTION_ARG_NONE, &opt.dry_run,
		  "print what would be sent (secrets masked), send nothing", NULL },
		G_OPTION_ENTRY_NULL
	};
	HmProgram prog = {
		.name = "homemail-dyndns",
		.summary = "Keeps DNS names pointing at this box's public address.",
		.entries = entries,
		/* One record's unreadable secret must not stop the others. */
		.load_flags = HM_CONFIG_SECRETS_OPTIONAL,
		.usage_status = 2,
		.config_status = 2,
	};
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	int status = 0;

	if (hm_program_parse(&prog, &argc, &argv, &status))
		cfg = hm_program_load(&prog, &status);
	hm_program_clear(&prog);
	if (cfg == NULL)
		return status;
	if (hm_drop_privileges(cfg->run_as, &err) < 0) {
		fprintf(stderr, "homemail-dyndns: %s\n", err->message);
		return 1;
	}
	if (cfg->dyndns.n_records == 0) {
		hm_info("no dyndns records configured");
		return 0;
	}
	if (once || opt.dry_run)
		return hm_dyn_run_once(cfg, &opt) == 0 ? 0 : 1;
	return hm_dyn_daemon(cfg, &opt);
}
