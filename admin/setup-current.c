/* A re-run of `homemail setup` starts from the config it finds: each value
 * becomes the default of the question that would write it. What setup
 * writes without asking (the smart host's name, the trusted networks
 * beside the LAN, the aliases, where plain-text logins are allowed) is
 * carried the same way, so that a re-run writes it back unchanged; the
 * smart hosts and dyndns records the dialogue does not edit are left to
 * the merge (setup-merge.c), which keeps them as they are. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/cidr.h"
#include "lib/error.h"
#include "admin/setup.h"
#include "conf/hmconfig.h"

static void
put(HmSetup *s, const char *prefix, const char *suffix, const char *value)
{
	if (value != NULL)
		g_hash_table_replace(s->current, g_strconcat(prefix, suffix, NULL),
		                     g_strdup(value));
}

static void
put_take(HmSetup *s, const char *prefix, const char *suffix, char *value)
{
	put(s, prefix, suffix, value);
	g_free(value);
}

static const char *
tls_word(HmTlsMode m)
{
	return m == HM_TLS_MODE_TLS ? "tls" : m == HM_TLS_MODE_STARTTLS ? "starttls" : "none";
}

static char *
listen_text(const HmListenSpec *l, gsize n)
{
	GString *t = g_string_new(NULL);

	for (gsize i = 0; i < n; i++)
		g_string_append_printf(t, strchr(l[i].host, ':') ? "%s[%s]:%u%s" : "%s%s:%u%s",
		                       i > 0 ? " " : "", l[i].host, l[i].port,
		                       l[i].tls ? "/tls" : "");
	return g_string_free(t, FALSE);
}

static char *
cidrs_text(const HmCidr *c, gsize n)
{
	GString *t = g_string_new(NULL);

	for (gsize i = 0; i < n; i++) {
		g_autofree char *net = hm_cidr_to_string(&c[i]);

		g_string_append_printf(t, "%s%s", i > 0 ? " " : "", net);
	}
	return g_string_free(t, FALSE);
}

static gboolean
lan_host(const char *host)
{
	return strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0 &&
	       !g_str_has_prefix(host, "127.") && strcmp(host, "::1") != 0;
}

/* TRUE if the network holds the address. */
static gboolean
holds(const HmCidr *net, const char *address)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, address, &sin.sin_addr) == 1)
		return hm_cidr_match(net, (const struct sockaddr *)&sin);
	if (inet_pton(AF_INET6, address, &sin6.sin6_addr) == 1)
		return hm_cidr_match(net, (const struct sockaddr *)&sin6);
	return FALSE;
}

/* The LAN as the config shows it: the first listener not on loopback
 * (else the address the last run saved; else none), and the trusted
 * network that holds its address (else the first that is not loopback).
 * The trusted networks besides these and loopback, which setup writes
 * anyway, are carried as "relay.trusted_networks". */
static void
put_lan(HmSetup *s, const HmConfig *cfg)
{
	const char *lan = NULL;
	gssize pick = -1;
	g_autoptr(GString) others = g_string_new(NULL);

	for (gsize i = 0; i < cfg->relay.n_listen && lan == NULL; i++)
		if (lan_host(cfg->relay.listen[i].host))
			lan = cfg->relay.listen[i].host;
	if (lan != NULL || g_hash_table_lookup(s->current, "lan_address") == NULL)
		put(s, "", "lan_address", lan != NULL ? lan : "");
	lan = g_hash_table_lookup(s->current, "lan_address");
	for (gsize i = 0; i < cfg->relay.n_trusted_networks && *lan != '\0'; i++) {
		g_autofree char *net = hm_cidr_to_string(&cfg->relay.trusted_networks[i]);

		if (holds(&cfg->relay.trusted_networks[i], lan) ||
		    (pick < 0 && strcmp(net, "127.0.0.1/32") != 0 && strcmp(net, "::1/128") != 0))
			pick = (gssize)i;
		if (holds(&cfg->relay.trusted_networks[i], lan))
			break;
	}
	for (gsize i = 0; i < cfg->relay.n_trusted_networks; i++) {
		g_autofree char *net = hm_cidr_to_string(&cfg->relay.trusted_networks[i]);

		if ((gssize)i == pick)
			put(s, "", "lan_network", net);
		else if (strcmp(net, "127.0.0.1/32") != 0 && strcmp(net, "::1/128") != 0)
			g_string_append_printf(others, "%s%s", others->len > 0 ? " " : "", net);
	}
	put(s, "", "relay.trusted_networks", others->str);
	put_take(s, "", "relay.allow_plaintext_from",
	         cidrs_text(cfg->relay.allow_plaintext_from, cfg->relay.n_allow_plaintext_from));
}

static void
put_endpoint(HmSetup *s, const char *prefix, const HmEndpoint *ep)
{
	put(s, prefix, ".host", ep->host);
	put(s, prefix, ".tls", tls_word(ep->tls));
	put(s, prefix, ".allow_plaintext", ep->allow_plaintext ? "yes" : "no");
	put_take(s, prefix, ".port", g_strdup_printf("%u", ep->port));
	if (ep->has_pin)
		put_take(s, prefix, ".fingerprint", hm_tls_fingerprint_format(ep->pin));
	put(s, prefix, ".user", ep->user);
	put(s, prefix, ".auth", ep->auth == HM_AUTH_OAUTH2 ? "oauth2" : "password");
	put(s, prefix, ".password_file", ep->password.file);
	if (ep->auth == HM_AUTH_OAUTH2) {
		put(s, prefix, ".oauth2_provider", ep->oauth2.provider);
		put(s, prefix, ".client_id", ep->oauth2.client_id);
		put(s, prefix, ".client_secret_file", ep->oauth2.client_secret.file);
	}
	if (ep->auth == HM_AUTH_OAUTH2 && strcmp(ep->oauth2.provider, "custom") == 0) {
		put(s, prefix, ".token_url", ep->oauth2.token_url);
		put(s, prefix, ".device_url", ep->oauth2.device_url);
		put(s, prefix, ".authorize_url", ep->oauth2.authorize_url);
		put(s, prefix, ".oauth2_ca_file", ep->oauth2.ca_file);
	}
}

static void
put_users(HmSetup *s, const HmConfig *cfg)
{
	g_autoptr(GString) names = g_string_new(NULL);

	for (gsize i = 0; i < cfg->n_users; i++) {
		const HmUserConf *u = &cfg->users[i];
		g_autofree char *prefix = g_strconcat("user.", u->name, NULL);

		g_string_append_printf(names, "%s%s", i > 0 ? " " : "", u->name);
		put(s, prefix, ".password_hash", u->password_hash);
		put(s, prefix, ".send_as", u->send_as != NULL ? u->send_as : "");
	}
	if (cfg->n_users > 0)
		put(s, "", "users", names->str);
}

/* The aliases' names (an account may deliver to one), and the targets of
 * the two setup writes. */
static void
put_aliases(HmSetup *s, const HmConfig *cfg)
{
	g_autoptr(GString) names = g_string_new(NULL);

	for (gsize i = 0; i < cfg->n_aliases; i++) {
		const HmAliasConf *a = &cfg->aliases[i];

		g_string_append_printf(names, "%s%s", i > 0 ? " " : "", a->name);
		if (strcmp(a->name, "postmaster") == 0 || strcmp(a->name, "root") == 0)
			put(s, "alias.", a->name, a->target);
	}
	put(s, "", "aliases", names->str);
}

static void
put_accounts(HmSetup *s, const HmConfig *cfg)
{
	g_autoptr(GString) names = g_string_new(NULL);

	for (gsize i = 0; i < cfg->fetcher.n_accounts; i++) {
		const HmAccountConf *a = &cfg->fetcher.accounts[i];
		g_autofree char *prefix = g_strconcat("account.", a->name, NULL);

		g_string_append_printf(names, "%s%s", i > 0 ? " " : "", a->name);
		if (a->ep.user != NULL && strchr(a->ep.user, '@') != NULL)
			put(s, prefix, ".address", a->ep.user);
		put(s, prefix, ".protocol", a->protocol == HM_PROTO_POP3 ? "pop3" : "imap");
		put_endpoint(s, prefix, &a->ep);
		put(s, prefix, ".to", a->to);
		put(s, prefix, ".keep", a->keep ? "yes" : "no");
	}
	if (cfg->fetcher.n_accounts > 0)
		put(s, "", "accounts", names->str);
}

/* The providers the dialogue offers (dyn_providers in
 * setup-questions.c). */
gboolean
hm_setup_dyndns_provider_asked(const char *provider)
{
	static const char *const asked[] = { "dyndns2", "duckdns", "cloudflare", NULL };

	return provider != NULL && g_strv_contains(asked, provider);
}

/* The smart host the dialogue edits is the first (the default one); the
 * others stay as they are. */
static void
put_smarthosts(HmSetup *s, const HmConfig *cfg)
{
	if (cfg->relay.n_smarthosts == 0)
		return;
	put_endpoint(s, "smarthost", &cfg->relay.smarthosts[0].ep);
	put(s, "", "smarthost.name", cfg->relay.smarthosts[0].name);
	for (gsize i = 1; i < cfg->relay.n_smarthosts; i++)
		printf("homemail: setup: smart host %s is kept as it is (the questions are about "
		       "the first one, %s)\n",
		       cfg->relay.smarthosts[i].name, cfg->relay.smarthosts[0].name);
}

/* The record the dialogue edits: the first of a provider it offers. The
 * others stay as they are, and so does how the address is found when
 * there are such others. */
static void
put_dyndns(HmSetup *s, const HmConfig *cfg)
{
	const HmDnsRecordConf *r = NULL;
	gboolean others = FALSE;

	for (gsize i = 0; i < cfg->dyndns.n_records; i++) {
		const HmDnsRecordConf *rec = &cfg->dyndns.records[i];

		if (r == NULL && hm_setup_dyndns_provider_asked(rec->provider)) {
			r = rec;
			continue;
		}
		others = TRUE;
		printf("homemail: setup: dyndns record %s (%s) is kept as it is (the questions "
		       "are about the first dyndns2, duckdns or cloudflare record)\n",
		       rec->hostname, rec->provider);
	}
	put(s, "", "dyndns.others", others ? "yes" : "no");
	if (others || r != NULL) {
		put_take(s, "", "dyndns.detect", g_strjoinv(" ", cfg->dyndns.detect));
		if (cfg->dyndns.detect_url4 != NULL)
			put_take(s, "", "dyndns.detect_url4", g_strjoinv(" ", cfg->dyndns.detect_url4));
	}
	if (r == NULL) {
		put(s, "", "dyndns.provider", "none");
		return;
	}
	put(s, "", "dyndns.provider", r->provider);
	put(s, "", "dns_name", r->hostname);
	put(s, "", "dyndns.hostname", r->hostname);
	put(s, "", "dyndns.server", r->server);
	put(s, "", "dyndns.user", r->user);
	put(s, "", "dyndns.password_file", r->password.file);
}

static void
put_config(HmSetup *s, const HmConfig *cfg)
{
	put(s, "", "mail_type",
	    cfg->relay.n_smarthosts > 0   ? "smarthost"
	    : cfg->fetcher.n_accounts > 0 ? "fetch"
	                                  : "local");
	put(s, "", "hostname", cfg->hostname);
	put_take(s, "", "local_domains", g_strjoinv(" ", cfg->local_domains));
	put_lan(s, cfg);
	put_take(s, "", "relay.listen", listen_text(cfg->relay.listen, cfg->relay.n_listen));
	put(s, "", "state_dir", cfg->state_dir);
	put(s, "", "mail_dir", cfg->mail_dir);
	put(s, "", "run_as", cfg->run_as != NULL ? cfg->run_as : "");
	put_users(s, cfg);
	put_aliases(s, cfg);
	put_accounts(s, cfg);
	put_smarthosts(s, cfg);
	put_take(s, "", "popd.listen", listen_text(cfg->popd.listen, cfg->popd.n_listen));
	put_take(s, "", "popd.allow_plaintext_from",
	         cidrs_text(cfg->popd.allow_plaintext_from, cfg->popd.n_allow_plaintext_from));
	put(s, "", "tls.cert", cfg->tls_cert);
	put(s, "", "tls.key", cfg->tls_key);
	put_dyndns(s, cfg);
}

static void
ignore_warning(const char *line, gpointer data)
{
}

/* A config that is a symbolic link is edited where it points, as
 * `homemail passwd` does: replacing the link with a file would leave the
 * file it pointed to, which something else may read, behind. It is
 * still read through the link (load_path), as the daemons read it, so
 * that its relative paths keep meaning what they mean to them. */
static int
follow_link(HmSetup *s, GError **err)
{
	struct stat st;
	char *real;

	if (lstat(s->config_path, &st) < 0 || !S_ISLNK(st.st_mode))
		return 0;
	if ((real = realpath(s->config_path, NULL)) == NULL) {
		hm_set_error_errno(err, errno, "%s: a symbolic link to nothing that can be edited",
		                   s->config_path);
		return -1;
	}
	g_free(s->config_path);
	s->config_path = real;
	return 0;
}

static void
copy_table(GHashTable *to, GHashTable *from)
{
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, from);
	while (g_hash_table_iter_next(&it, &key, &value))
		g_hash_table_replace(to, g_strdup(key), g_strdup(value));
}

/* Setup edits the main file only. Before a single question, the config
 * it would write if every answer were the default must load: otherwise
 * (a setting it manages, `users` say, set in an @included file, which
 * the rewrite then sets twice) the person would learn it only after
 * answering every question. A config whose defaults do not make a whole
 * set of answers (a secret missing) is not judged here. */
static int
check_round_trip(const HmSetup *s, GError **err)
{
	g_autoptr(HmSetup) dry = hm_setup_new(s->config_path);
	g_autofree char *text = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	g_autoptr(GError) why = NULL;
	guint dropped;

	copy_table(dry->current, s->current);
	copy_table(dry->found, s->found);
	dry->old_text = g_strdup(s->old_text);
	dry->no_check = TRUE;
	if (hm_setup_unattended(dry, &why) < 0)
		return 0;
	text = hm_setup_text(dry, &dropped);
	cfg = hm_setup_load_text(s, text, HM_CONFIG_NO_SECRETS, &why);
	if (cfg != NULL)
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
	            "%s cannot be edited by setup: written back as it is, it would not load (%s). "
	            "Setup rewrites the settings it manages in this file only; move any of them "
	            "that an @include'd file sets into this file, or edit the config by hand",
	            s->config_path, why->message);
	return -1;
}

int
hm_setup_load_current(HmSetup *s, GError **err)
{
	g_autoptr(HmConfig) cfg = NULL;
	g_autoptr(GBytes) text = NULL;
	g_autofree char *saved = NULL;
	g_autoptr(GError) why = NULL;

	if (follow_link(s, err) < 0)
		return -1;
	if (access(s->config_path, F_OK) < 0 && errno == ENOENT)
		return 0;
	text = hm_read_file(s->config_path, HM_CONFIG_FILE_MAX, err);
	if (text == NULL)
		return -1;
	cfg = hm_config_load_flags(s->load_path, HM_CONFIG_NO_SECRETS, ignore_warning, NULL, err);
	if (cfg == NULL) {
		g_prefix_error(err, "the existing config does not load (fix it or move it away): ");
		return -1;
	}
	s->old_text = g_strndup(g_bytes_get_data(text, NULL), g_bytes_get_size(text));
	/* The config wins where both have a value: it may have been edited
	 * by hand since. A saved file that does not read is only missed. */
	saved = hm_setup_answers_path(s);
	if (access(saved, F_OK) == 0 && hm_setup_answers_read(s, saved, TRUE, &why) < 0)
		fprintf(stderr, "homemail: setup: warning: %s\n", why->message);
	put_config(s, cfg);
	return check_round_trip(s, err);
}
