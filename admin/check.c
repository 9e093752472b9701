/* `homemail check`: validate the configuration and summarise it. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "admin/commands.h"
#include "admin/live.h"
#include "conf/hmconfig.h"

static const char *
tls_name(HmTlsMode m)
{
	return m == HM_TLS_MODE_TLS ? "tls" : m == HM_TLS_MODE_STARTTLS ? "starttls" : "none";
}

static void
print_listeners(const char *what, const HmListenSpec *l, gsize n)
{
	printf("%s:", what);
	for (gsize i = 0; i < n; i++)
		printf(strchr(l[i].host, ':') != NULL ? " [%s]:%u%s" : " %s:%u%s", l[i].host,
		       l[i].port, l[i].tls ? "/tls" : "");
	printf("%s\n", n == 0 ? " none" : "");
}

/* How the endpoint logs in, as far as a summary line needs to say. */
static const char *
login_state(const HmEndpoint *ep)
{
	if (ep->auth == HM_AUTH_OAUTH2)
		return " oauth2";
	if (ep->password.value != NULL)
		return "";
	return ep->password.file != NULL ? " (password file not readable here)" : "";
}

static void
print_summary(const HmConfig *cfg)
{
	g_autofree char *domains = g_strjoinv(", ", cfg->local_domains);

	printf("config: %s\n", cfg->file);
	printf("hostname: %s\n", cfg->hostname);
	printf("local domains: %s\n", domains);
	printf("users: %" G_GSIZE_FORMAT "\n", cfg->n_users);
	print_listeners("relay listen", cfg->relay.listen, cfg->relay.n_listen);
	if (cfg->relay.n_smarthosts == 0)
		printf("smart hosts: none\n");
	for (gsize i = 0; i < cfg->relay.n_smarthosts; i++) {
		const HmSmarthostConf *h = &cfg->relay.smarthosts[i];

		printf("smart host %s: %s port %u %s%s%s\n", h->name, h->ep.host, h->ep.port,
		       tls_name(h->ep.tls), h->ep.has_pin ? " pinned" : "", login_state(&h->ep));
	}
	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++) {
		const HmAccountConf *a = &cfg->fetcher.accounts[i];

		printf("fetch account %s: %s %s port %u %s%s -> %s%s\n", a->name,
		       a->protocol == HM_PROTO_IMAP ? "imap" : "pop3", a->ep.host, a->ep.port,
		       tls_name(a->ep.tls), a->ep.has_pin ? " pinned" : "", a->to,
		       login_state(&a->ep));
	}
	if (cfg->fetcher.n_accounts == 0)
		printf("fetch accounts: none\n");
	print_listeners("popd listen", cfg->popd.listen, cfg->popd.n_listen);
	if (cfg->dyndns.n_records == 0)
		printf("dyndns records: none\n");
	for (gsize i = 0; i < cfg->dyndns.n_records; i++) {
		const HmDnsRecordConf *r = &cfg->dyndns.records[i];

		printf("dyndns record: %s %s%s%s\n", r->provider, r->hostname,
		       r->ipv4 ? " ipv4" : "", r->ipv6 ? " ipv6" : "");
	}
}

/* The exit status of `check --live` for a failed live check: the first
 * failure's kind (homemail(8)). */
static int
live_status(const GError *e)
{
	switch (e->code) {
	case HM_LIVE_ERROR_NETWORK:
		return 3;
	case HM_LIVE_ERROR_TLS:
		return 4;
	case HM_LIVE_ERROR_AUTH:
	case HM_LIVE_ERROR_SIGN_IN:
		return 5;
	default:
		return 6;
	}
}

/* Prints what r holds now (a check may wait for a slow server, so each
 * shows as soon as it is done) and keeps the first failure. */
static void
flush_report(GString *r, GError **first, GError *e)
{
	fputs(r->str, stdout);
	fflush(stdout);
	g_string_truncate(r, 0);
	if (*first == NULL)
		*first = e;
	else
		g_clear_error(&e);
}

/* Every server in turn, then the advice. Returns 0, or live_status() of
 * the first failure. */
static int
run_live(const HmConfig *cfg)
{
	g_autoptr(GString)
		r = g_string_new("\nlive checks (nothing is fetched, sent or updated):\n");
	g_autoptr(GError) first = NULL;
	GError *e = NULL;

	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++, e = NULL) {
		hm_live_account(cfg, &cfg->fetcher.accounts[i], r, &e);
		flush_report(r, &first, e);
	}
	for (gsize i = 0; i < cfg->relay.n_smarthosts; i++, e = NULL) {
		hm_live_smarthost(cfg, &cfg->relay.smarthosts[i], r, &e);
		flush_report(r, &first, e);
	}
	for (gsize i = 0; i < cfg->dyndns.n_records; i++, e = NULL) {
		hm_live_dyndns(cfg, &cfg->dyndns.records[i], r, &e);
		flush_report(r, &first, e);
	}
	if (cfg->fetcher.n_accounts + cfg->relay.n_smarthosts + cfg->dyndns.n_records == 0)
		g_string_append(r, "  no fetch account, smart host or dyndns record to test\n");
	g_string_append_c(r, '\n');
	hm_live_advise(cfg, r);
	fputs(r->str, stdout);
	return first != NULL ? live_status(first) : 0;
}

int
hm_cmd_check(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	gboolean live = FALSE;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath, "configuration file", "FILE" },
		{ "live", 0, 0, G_OPTION_ARG_NONE, &live,
		  "also log in to every server (nothing is fetched, sent or updated) and give advice",
		  NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("- validate the configuration");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err)) {
		fprintf(stderr, "homemail: check: %s\n", err->message);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "homemail: check: unexpected argument \"%s\"\n", argv[1]);
		return 2;
	}
	if ((cfg = hm_cmd_load_config(cpath, opts, NULL)) == NULL)
		return 1;
	print_summary(cfg);
	return live ? run_live(cfg) : 0;
}
