/* homemail-relay: the box's MTA (SMTP server, queue, smart-host client). */
#include <config.h>

#include <stdio.h>

#include "conf/program.h"
#include "lib/heap.h"
#include "lib/log.h"
#include "relay/server.h"

int
main(int argc, char **argv)
{
	HmProgram prog = {
		.name = "homemail-relay",
		.summary = "SMTP relay: accepts mail for the box and the LAN, delivers it locally "
		           "or through the smart host.",
		.usage_status = 2,
		.config_status = 1,
	};
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	int status = 0;

	hm_heap_keep_buffers();
	if (hm_program_parse(&prog, &argc, &argv, &status) &&
	    (cfg = hm_program_load(&prog, &status)) != NULL &&
	    relay_server_run(&prog, cfg, &err) < 0) {
		hm_err("%s", err->message);
		if (cfg->use_syslog)
			fprintf(stderr, "homemail-relay: %s\n", err->message);
		status = 1;
	}
	hm_program_clear(&prog);
	return status;
}
