/* `homemail queue [list|show ID|delete ID|flush]`: the relay's queue,
 * read and changed through its files, so it works while the relay is
 * down (flush then waits for its start). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin/commands.h"
#include "relay/queue-show.h"
#include "relay/queue.h"
#include "relay/spool.h"

static int
usage(void)
{
	fprintf(stderr, "usage: homemail queue [-c FILE] [list | show ID | delete ID... | flush]\n");
	return 2;
}

static int
delete_ids(const char *queue_dir, int n, char **ids)
{
	int status = 0;

	for (int i = 0; i < n; i++) {
		g_autoptr(GError) err = NULL;

		/* A link is named, not followed: neither it nor its target is
		 * removed (the relay made no such entry). */
		if (relay_queue_entry_check(queue_dir, ids[i], &err) < 0) {
			gboolean there = errno != ENOENT;

			fprintf(stderr, "homemail: %s%s\n", err->message, there ? "; not deleted" : "");
			status = 1;
		} else if (relay_queue_remove(queue_dir, ids[i], &err) < 0) {
			fprintf(stderr, "homemail: %s\n", err->message);
			status = 1;
		} else {
			/* No bounce: whoever deletes by hand has decided. */
			printf("%s: deleted\n", ids[i]);
		}
	}
	return status;
}

int
hm_cmd_queue(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath, "configuration file", "FILE" },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("[list | show ID | delete ID... | flush]");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	g_autofree char *queue_dir = NULL;
	const char *what;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err)) {
		fprintf(stderr, "homemail queue: %s\n", err->message);
		return 2;
	}
	what = argc > 1 ? argv[1] : "list";
	if ((cfg = hm_cmd_load_config(cpath, opts, NULL)) == NULL)
		return 1;
	queue_dir = g_build_filename(cfg->state_dir, "queue", NULL);
	if (strcmp(what, "list") == 0 && argc <= 2) {
		if (relay_queue_show_list(queue_dir, stdout, &err) == 0)
			return 0;
	} else if (strcmp(what, "show") == 0 && argc == 3) {
		if (relay_queue_show_entry(queue_dir, argv[2], stdout, &err) == 0)
			return 0;
	} else if (strcmp(what, "delete") == 0 && argc >= 3) {
		return delete_ids(queue_dir, argc - 2, argv + 2);
	} else if (strcmp(what, "flush") == 0 && argc == 2) {
		switch (relay_spool_poke(queue_dir, 'f', &err)) {
		case RELAY_POKE_SENT:
			return 0;
		case RELAY_POKE_DOWN:
			fprintf(stderr, "homemail: the relay is not running; it delivers the queue "
			                "when it starts\n");
			return 1;
		case RELAY_POKE_FAILED:
			break;
		}
	} else {
		return usage();
	}
	fprintf(stderr, "homemail: %s\n", err->message);
	return 1;
}
