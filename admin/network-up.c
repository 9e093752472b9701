/* `homemail network-up`: the network is back (run by the NetworkManager
 * and networkd-dispatcher hooks), so a box that was offline catches up
 * now instead of at the next timer: the relay tries its queue, the
 * fetcher polls, dyndns checks the address. Under `homemail up` it tells
 * `up` (SIGUSR1); under systemd it starts the units; otherwise it can
 * only flush the relay. Never waits for the work itself: a dispatcher
 * hook must return at once. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "admin/commands.h"
#include "admin/uppid.h"
#include "relay/spool.h"

/* systemctl answers at once with --no-block; this bounds a hung one. */
#define SYSTEMCTL_TIMEOUT_S 20

static int
systemctl(const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *timeout = g_strdup_printf("%d", SYSTEMCTL_TIMEOUT_S);
	int status = 0;

	/* timeout(1), so that a systemd that does not answer cannot hold the
	 * dispatcher; argv, never a shell. */
	g_ptr_array_add(argv, (gpointer) "timeout");
	g_ptr_array_add(argv, timeout);
	g_ptr_array_add(argv, (gpointer) "systemctl");
	for (const char *const *a = args; *a != NULL; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);
	if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL,
	                  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
	                          G_SPAWN_STDERR_TO_DEV_NULL,
	                  NULL, NULL, NULL, NULL, &status, &err)) {
		fprintf(stderr, "homemail network-up: systemctl: %s\n", err->message);
		return -1;
	}
	return g_spawn_check_wait_status(status, NULL) ? 0 : -1;
}

/* Under systemd: the fetcher's push daemon gets SIGUSR1 when it runs,
 * else the timer's one-shot service is started; so is dyndns's. */
static int
systemd_actions(const HmConfig *cfg)
{
	static const char *const push_active[] = { "-q", "is-active",
		                                   "homemail-fetcher-push.service", NULL };
	static const char *const push_poll[] = { "kill", "--kill-whom=main", "--signal=SIGUSR1",
		                                 "homemail-fetcher-push.service", NULL };
	static const char *const fetch[] = { "start", "--no-block", "homemail-fetcher.service",
		                             NULL };
	static const char *const dyndns[] = { "start", "--no-block", "homemail-dyndns.service",
		                              NULL };
	int rc = 0;

	if (cfg->fetcher.n_accounts > 0) {
		if (systemctl(push_active) == 0)
			rc |= systemctl(push_poll);
		else
			rc |= systemctl(fetch);
		printf("fetcher: polling now\n");
	}
	if (cfg->dyndns.n_records > 0) {
		rc |= systemctl(dyndns);
		printf("dyndns: checking the address now\n");
	}
	return rc;
}

int
hm_cmd_network_up(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	const GOptionEntry entries[] = { { "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath,
		                           "configuration file", "FILE" },
		                         G_OPTION_ENTRY_NULL };
	g_autoptr(GOptionContext) octx = g_option_context_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	g_autofree char *queue_dir = NULL;
	pid_t up;
	int rc = 0;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "homemail network-up: %s\n",
		        err != NULL ? err->message : "no arguments expected");
		return 2;
	}
	if ((cfg = hm_cmd_load_config(cpath, opts, NULL)) == NULL)
		return 1;
	switch (hm_uppid_signal(cfg->state_dir, SIGUSR1, &up, &err)) {
	case HM_UPPID_STARTING:
		printf("homemail up is starting: it catches up by itself\n");
		return 0;
	case HM_UPPID_SIGNALLED:
		printf("homemail up (pid %d): catching up now\n", (int)up);
		return 0;
	case HM_UPPID_NONE:
		break;
	default:
		fprintf(stderr, "homemail network-up: %s\n", err->message);
		return 1;
	}
	queue_dir = g_build_filename(cfg->state_dir, "queue", NULL);
	switch (relay_spool_poke(queue_dir, 'f', &err)) {
	case RELAY_POKE_SENT:
		printf("relay: delivering the queue now\n");
		break;
	case RELAY_POKE_DOWN:
		printf("relay: not running (it delivers the queue when it starts)\n");
		break;
	case RELAY_POKE_FAILED:
		fprintf(stderr, "homemail network-up: relay: %s\n", err->message);
		rc = 1;
	}
	/* sd_booted()'s test, without linking libsystemd for it. */
	if (access("/run/systemd/system", F_OK) == 0)
		return systemd_actions(cfg) == 0 ? rc : 1;
	printf("no systemd and no homemail up: the fetcher and dyndns catch up at their next run\n");
	return rc;
}
