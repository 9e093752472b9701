/* homemail-fetcher: pulls mail from the upstream POP3/IMAP accounts. */
#include <config.h>

#include <stdio.h>

#include "conf/program.h"
#include "fetcher/daemon.h"
#include "lib/heap.h"
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
	g_autofree char *only = NULL;
	gboolean once = FALSE;
	const GOptionEntry entries[] = {
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once, "fetch every account once and exit", NULL },
		{ "account", 0, 0, G_OPTION_ARG_STRING, &only, "only this account", "NAME" },
		G_OPTION_ENTRY_NULL
	};
	HmProgram prog = {
		.name = "homemail-fetcher",
		.summary = "Fetches mail from POP3/IMAP accounts.",
		.entries = entries,
		/* One account's unreadable password file must not stop the
		 * others: that account fails on its own (hm_account_init). */
		.load_flags = HM_CONFIG_SECRETS_OPTIONAL,
		.usage_status = 2,
		.config_status = 2,
	};
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	int status = 0;

	hm_heap_keep_buffers();
	if (hm_program_parse(&prog, &argc, &argv, &status))
		cfg = hm_program_load(&prog, &status);
	hm_program_clear(&prog);
	if (cfg == NULL)
		return status;
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
	return (once ? hm_fetcher_run_once(cfg, only) : hm_fetcher_daemon(cfg, only)) == 0 ? 0 : 1;
}
