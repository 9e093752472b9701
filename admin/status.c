/* `homemail status`: what the bundle's programs last did, read from their
 * state files, so it works whoever runs it and whether or not they run.
 * Today: the relay's queue in one line and each dyndns record; the setup
 * issue adds listeners, fetches and tokens. */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "admin/commands.h"
#include "dyndns/cache.h"
#include "relay/queue.h"

/* "2026-12-05 10:00 UTC (3 h ago)" for Unix time t; g_free() it. */
static char *
when(gint64 t, gint64 now)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	g_autofree char *at = dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M %Z") : NULL;
	gint64 ago = now - t;

	if (at == NULL)
		return g_strdup_printf("@%" G_GINT64_FORMAT, t);
	if (ago < 0)
		return g_strdup_printf("%s (in the future: check the clock)", at);
	if (ago < 120)
		return g_strdup_printf("%s (%" G_GINT64_FORMAT " s ago)", at, ago);
	if (ago < 2 * 3600)
		return g_strdup_printf("%s (%" G_GINT64_FORMAT " min ago)", at, ago / 60);
	if (ago < 2 * 86400)
		return g_strdup_printf("%s (%" G_GINT64_FORMAT " h ago)", at, ago / 3600);
	return g_strdup_printf("%s (%" G_GINT64_FORMAT " days ago)", at, ago / 86400);
}

static const char *
outcome_word(HmDynOutcome o)
{
	switch (o) {
	case HM_DYN_OK:
		return "accepted";
	case HM_DYN_HOLD:
		return "refused as configured, not sent again until the config or secret changes";
	case HM_DYN_BACKOFF:
		return "provider trouble, backing off";
	case HM_DYN_RETRY:
		return "not reached, tried again at the next run";
	}
	return "?";
}

/* One record and family: where its name points, since when, and what the
 * provider said last. FALSE when its cache cannot be read. */
static gboolean
show_record(const HmConfig *cfg, const HmDnsRecordConf *rec, int family, gint64 now)
{
	g_autofree char *path = hm_dyn_cache_path(cfg->state_dir, rec, family);
	g_autoptr(GError) err = NULL;
	HmDynCache c;

	printf("  %s %s (%s)\n", rec->hostname, family == AF_INET ? "A" : "AAAA", rec->provider);
	if (hm_dyn_cache_load(path, &c, &err) < 0) {
		printf("    cache: %s\n", err->message);
		return FALSE;
	}
	if (c.address != NULL) {
		g_autofree char *t = when(c.updated, now);

		printf("    address: %s, accepted %s\n", c.address, t);
	} else {
		printf("    address: never updated\n");
	}
	if (c.has_result) {
		g_autofree char *t = when(c.attempted, now);

		g_autofree char *code = c.code != NULL ? g_strdup_printf(" (%s)", c.code) : NULL;

		printf("    last request: %s for %s: %s%s\n", t, c.sent != NULL ? c.sent : "-",
		       outcome_word(c.outcome), code != NULL ? code : "");
		if (c.outcome != HM_DYN_OK && c.text != NULL)
			printf("      %s\n", c.text);
	}
	if (c.backoff_until > now) {
		g_autofree char *t = when(c.backoff_until, now);

		printf("    next request not before %s\n", t);
	}
	hm_dyn_cache_clear(&c);
	return TRUE;
}

static gboolean
show_dyndns(const HmConfig *cfg)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gboolean ok = TRUE;

	if (cfg->dyndns.n_records == 0) {
		printf("dyndns: no records configured\n");
		return TRUE;
	}
	printf("dyndns:\n");
	for (gsize i = 0; i < cfg->dyndns.n_records; i++) {
		const HmDnsRecordConf *rec = &cfg->dyndns.records[i];

		if (rec->ipv4)
			ok &= show_record(cfg, rec, AF_INET, now);
		if (rec->ipv6)
			ok &= show_record(cfg, rec, AF_INET6, now);
	}
	return ok;
}

static gboolean
show_queue(const HmConfig *cfg)
{
	g_autofree char *dir = g_build_filename(cfg->state_dir, "queue", NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) ids = NULL;

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		printf("relay queue: not created yet (the relay has not run)\n");
		return TRUE;
	}
	if ((ids = relay_queue_list(dir, &err)) == NULL) {
		printf("relay queue: %s\n", err->message);
		return FALSE;
	}
	printf("relay queue: %u message%s%s\n", ids->len, ids->len == 1 ? "" : "s",
	       ids->len > 0 ? " (homemail queue lists them)" : "");
	return TRUE;
}

int
hm_cmd_status(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath, "configuration file", "FILE" },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new(NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	gboolean ok;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "homemail status: %s\n",
		        err != NULL ? err->message : "no arguments expected");
		return 2;
	}
	if ((cfg = hm_cmd_load_config(cpath, opts, NULL)) == NULL)
		return 1;
	ok = show_queue(cfg);
	ok &= show_dyndns(cfg);
	return ok ? 0 : 1;
}
