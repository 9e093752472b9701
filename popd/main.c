/* homemail-popd: the POP3 server for the mail clients on the LAN. */
#include <config.h>

#include <stdio.h>

#include "conf/program.h"
#include "lib/log.h"
#include "popd/server.h"

int
main(int argc, char **argv)
{
	HmProgram prog = {
		.name = "homemail-popd",
		.summary = "POP3 server for homemail's Maildirs.",
		/* popd needs no upstream secret: a missing password file of
		 * some fetch account must not keep the LAN from its mail. */
		.load_flags = HM_CONFIG_SECRETS_OPTIONAL,
		.usage_status = 2,
		.config_status = 1,
	};
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	int status = 0;

	if (hm_program_parse(&prog, &argc, &argv, &status) &&
	    (cfg = hm_program_load(&prog, &status)) != NULL && popd_server_run(cfg, &err) < 0) {
		hm_err("%s", err->message);
		if (cfg->use_syslog)
			fprintf(stderr, "homemail-popd: %s\n", err->message);
		status = 1;
	}
	hm_program_clear(&prog);
	return status;
}
