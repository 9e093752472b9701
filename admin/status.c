/* `homemail status`: what the bundle's programs last did, read from their
 * state files, so it works whoever runs it and whether or not they run:
 * whether each listener accepts, the relay's queue, each account's last
 * fetch, each dyndns record, and the OAuth2 tokens. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/commands.h"
#include "admin/oauth-status.h"
#include "dyndns/cache.h"
#include "fetcher/lastrun.h"
#include "lib/net.h"
#include "lib/printable.h"
#include "relay/queue-show.h"
#include "relay/queue.h"

/* A listener that does not accept a connection on loopback this fast is
 * as good as down. */
#define CONNECT_TIMEOUT_MS 2000

/* "3 h" for s >= 0 seconds; g_free() it. */
static char *
span(gint64 s)
{
	if (s < 120)
		return g_strdup_printf("%" G_GINT64_FORMAT " s", s);
	if (s < 2 * 3600)
		return g_strdup_printf("%" G_GINT64_FORMAT " min", s / 60);
	if (s < 2 * 86400)
		return g_strdup_printf("%" G_GINT64_FORMAT " h", s / 3600);
	return g_strdup_printf("%" G_GINT64_FORMAT " days", s / 86400);
}

/* "2026-12-05 10:00 UTC (3 h ago)" for Unix time t; g_free() it. What
 * is planned (planned) is "(in 3 h)" while ahead of now and "(due 3 h
 * ago)" after. What happened and is ahead of now tells of a clock set
 * back since, or wrong. */
static char *
at_time(gint64 t, gint64 now, gboolean planned)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	g_autofree char *at = dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M %Z") : NULL;
	g_autofree char *d = span(ABS(now - t));

	if (at == NULL)
		return g_strdup_printf("@%" G_GINT64_FORMAT, t);
	if (t > now)
		return planned ? g_strdup_printf("%s (in %s)", at, d)
		               : g_strdup_printf("%s (in the future: check the clock)", at);
	return g_strdup_printf(planned ? "%s (due %s ago)" : "%s (%s ago)", at, d);
}

/* When something happened. */
static char *
when(gint64 t, gint64 now)
{
	return at_time(t, now, FALSE);
}

/* When something is planned: a retry, the end of a back-off. */
static char *
when_due(gint64 t, gint64 now)
{
	return at_time(t, now, TRUE);
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
	/* Every field as the terminal must show it: the file is the service
	 * user's, and the code and text are what the provider answered. */
	if (c.address != NULL) {
		g_autofree char *t = when(c.updated, now);
		g_autofree char *address = hm_printable(c.address, -1);

		printf("    address: %s, accepted %s\n", address, t);
	} else {
		printf("    address: never updated\n");
	}
	if (c.has_result) {
		g_autofree char *t = when(c.attempted, now);
		g_autofree char *sent = hm_printable(c.sent != NULL ? c.sent : "-", -1);
		g_autofree char *code = hm_printable(c.code, -1);
		g_autofree char *text = hm_printable(c.text, -1);

		printf("    last request: %s for %s: %s%s%s%s\n", t, sent, outcome_word(c.outcome),
		       code != NULL ? " (" : "", code != NULL ? code : "", code != NULL ? ")" : "");
		if (c.outcome != HM_DYN_OK && text != NULL)
			printf("      %s\n", text);
	}
	if (c.backoff_until > now) {
		g_autofree char *t = when_due(c.backoff_until, now);

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
show_queue(const HmConfig *cfg, gint64 now)
{
	g_autofree char *dir = g_build_filename(cfg->state_dir, "queue", NULL);
	g_autoptr(GError) err = NULL;
	RelayQueueSummary sum;
	struct stat st;

	/* Only a queue that is not there is one the relay has not made yet:
	 * one that cannot be looked at (EACCES, for a user who may not enter
	 * state_dir) is named. */
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT) {
			printf("relay queue: not created yet (the relay has not run)\n");
			return TRUE;
		}
		printf("relay queue: %s: %s\n", dir, g_strerror(errno));
		return FALSE;
	}
	if (relay_queue_summary(dir, &sum, &err) < 0) {
		printf("relay queue: %s\n", err->message);
		return FALSE;
	}
	printf("relay queue: %u message%s", sum.count, sum.count == 1 ? "" : "s");
	if (sum.count > 0)
		printf(", %" G_GUINT64_FORMAT " KB (homemail queue lists them)",
		       (sum.octets + 1023) / 1024);
	printf("\n");
	if (sum.unreadable > 0)
		printf("  %u unreadable (homemail queue shows why)\n", sum.unreadable);
	if (sum.oldest != 0) {
		g_autofree char *t = when(sum.oldest, now);

		printf("  oldest: %s\n", t);
	}
	if (sum.due_now) {
		printf("  next retry: at the next queue run\n");
	} else if (sum.next_try != 0) {
		g_autofree char *t = when_due(sum.next_try, now);

		printf("  next retry: %s\n", t);
	}
	return sum.unreadable == 0;
}

/* Whether something accepts a connection on l (closed at once); a
 * wildcard address is tried on the loopback address of its family. */
static gboolean
show_listener(const HmListenSpec *l)
{
	g_autoptr(GError) err = NULL;
	const char *host = l->host;
	int fd;

	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	fd = hm_connect_tcp(host, l->port, NULL, CONNECT_TIMEOUT_MS, &err);
	printf(strchr(l->host, ':') != NULL ? "  [%s]:%u%s: " : "  %s:%u%s: ", l->host, l->port,
	       l->tls ? "/tls" : "");
	if (fd < 0) {
		printf("nothing accepts (%s)\n", err->message);
		return FALSE;
	}
	close(fd);
	printf("accepting\n");
	return TRUE;
}

static gboolean
show_listeners(const char *what, const HmListenSpec *l, gsize n, gboolean present)
{
	gboolean ok = TRUE;

	if (!present)
		return TRUE;
	printf("%s:\n", what);
	for (gsize i = 0; i < n; i++)
		ok &= show_listener(&l[i]);
	return ok;
}

static gboolean
show_fetches(const HmConfig *cfg, gint64 now)
{
	gboolean ok = TRUE;

	if (cfg->fetcher.n_accounts == 0)
		return TRUE;
	printf("fetcher:\n");
	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++) {
		const HmAccountConf *a = &cfg->fetcher.accounts[i];
		g_autoptr(GError) err = NULL;
		g_autofree char *t = NULL;
		HmFetchLast last;
		int rc = hm_fetch_last_load(cfg->state_dir, a->name, &last, &err);

		printf("  %s (%s@%s): ", a->name, a->ep.user != NULL ? a->ep.user : "?",
		       a->ep.host);
		if (rc <= 0) {
			printf("%s\n", rc == 0 ? "never fetched" : err->message);
			ok &= rc == 0;
			continue;
		}
		t = when(last.time, now);
		if (last.ok) {
			printf("last fetch %s: ok, %u new\n", t, last.fetched);
		} else {
			/* A server's words, kept in a file of the service user. */
			g_autofree char *why = hm_printable(last.error, -1);

			printf("last fetch %s: failed: %s\n", t, why);
		}
		hm_fetch_last_clear(&last);
	}
	return ok;
}

static void
show_tokens(const HmConfig *cfg, gint64 now)
{
	g_autoptr(GArray) all = hm_oauth_targets(cfg);

	if (all->len == 0)
		return;
	printf("oauth2:\n");
	for (guint i = 0; i < all->len; i++)
		hm_oauth_print_status(cfg, &g_array_index(all, HmOauthTarget, i), now);
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
	gint64 now;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err) || argc > 1) {
		fprintf(stderr, "homemail status: %s\n",
		        err != NULL ? err->message : "no arguments expected");
		return 2;
	}
	if ((cfg = hm_cmd_load_config(cpath, opts, NULL)) == NULL)
		return 1;
	now = g_get_real_time() / G_USEC_PER_SEC;
	ok = show_listeners("relay", cfg->relay.listen, cfg->relay.n_listen, cfg->relay.present);
	ok &= show_listeners("popd", cfg->popd.listen, cfg->popd.n_listen, cfg->popd.present);
	ok &= show_queue(cfg, now);
	ok &= show_fetches(cfg, now);
	ok &= show_dyndns(cfg);
	show_tokens(cfg, now);
	return ok ? 0 : 1;
}
