/* The questions of `homemail setup`, in the order of Debian's
 * `dpkg-reconfigure exim4-config` where it has one (type of configuration,
 * system mail name, listen addresses, other destinations, relay networks,
 * smart host), with what exim leaves out asked at the same place: users
 * and their passwords, the upstream mailboxes, the POP3 server, dyndns.
 *
 * A question's id names its item by prefix: "user.alice", "account.isp",
 * "smarthost"; the endpoint questions (host, TLS, port, user, password or
 * OAuth2) are one table used for the accounts and the smart host. */
#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "lib/parse.h"
#include "lib/passwd.h"
#include "admin/setup.h"

/* --- looking things up --------------------------------------------------- */

/* The value of item + suffix ("account.isp" + ".host"). */
static const char *
val(const HmSetup *s, const char *item, const char *suffix)
{
	g_autofree char *id = g_strconcat(item, suffix, NULL);

	return hm_setup_value(s, id);
}

static gboolean
is(const HmSetup *s, const char *item, const char *suffix, const char *want)
{
	const char *v = val(s, item, suffix);

	return v != NULL && strcmp(v, want) == 0;
}

static gboolean
is_account(const char *item)
{
	return g_str_has_prefix(item, "account.");
}

static char *
dup_or_null(const char *v)
{
	return v != NULL && *v != '\0' ? g_strdup(v) : NULL;
}

/* --- when a question applies --------------------------------------------- */

static gboolean
fetching(const HmSetup *s, const char *item)
{
	return !is(s, "", "mail_type", "local");
}

static gboolean
has_lan(const HmSetup *s, const char *item)
{
	const char *v = hm_setup_value(s, "lan_address");

	return v != NULL && *v != '\0';
}

static gboolean
account_only(const HmSetup *s, const char *item)
{
	return is_account(item);
}

static gboolean
password_auth(const HmSetup *s, const char *item)
{
	return !is(s, item, ".auth", "oauth2");
}

/* A pin is asked for only once there is one (the person chose to trust
 * a certificate a check showed, or the config has one): then it can be
 * kept or cleared. */
static gboolean
pinned(const HmSetup *s, const char *item)
{
	const char *v = val(s, item, ".fingerprint");

	return v != NULL && *v != '\0' && !is(s, item, ".tls", "none");
}

static gboolean
oauth2_auth(const HmSetup *s, const char *item)
{
	return is(s, item, ".auth", "oauth2");
}

static gboolean
google_auth(const HmSetup *s, const char *item)
{
	return oauth2_auth(s, item) && is(s, item, ".oauth2_provider", "google");
}

static gboolean
custom_auth(const HmSetup *s, const char *item)
{
	return oauth2_auth(s, item) && is(s, item, ".oauth2_provider", "custom");
}

/* Without a device flow, a custom provider signs in in a browser. */
static gboolean
custom_browser(const HmSetup *s, const char *item)
{
	const char *device = val(s, item, ".device_url");

	return custom_auth(s, item) && (device == NULL || *device == '\0');
}

static gboolean
dyndns_on(const HmSetup *s, const char *item)
{
	const char *v = hm_setup_value(s, "dyndns.provider");

	return v != NULL && strcmp(v, "none") != 0;
}

static gboolean
dyndns2_on(const HmSetup *s, const char *item)
{
	return is(s, "", "dyndns.provider", "dyndns2");
}

static gboolean
web_detect(const HmSetup *s, const char *item)
{
	g_auto(GStrv) ways = hm_setup_split(hm_setup_value(s, "dyndns.detect"));

	return dyndns_on(s, item) && ways != NULL &&
	       g_strv_contains((const char *const *)ways, "web");
}

/* --- defaults ------------------------------------------------------------ */

static char *
def_hostname(const HmSetup *s, const char *item)
{
	return hm_setup_detect_hostname();
}

static char *
def_domains(const HmSetup *s, const char *item)
{
	const char *host = hm_setup_value(s, "hostname"), *dns = hm_setup_value(s, "dns_name");
	GString *d = g_string_new(NULL);

	if (host != NULL)
		g_string_append_printf(d, "%s ", host);
	if (dns != NULL && *dns != '\0' && (host == NULL || strcmp(dns, host) != 0))
		g_string_append_printf(d, "%s ", dns);
	g_string_append(d, "localhost");
	return g_string_free(d, FALSE);
}

static char *
def_lan_address(const HmSetup *s, const char *item)
{
	char *addr = NULL, *net = NULL;

	if (hm_setup_detect_lan(&addr, &net))
		g_free(net);
	return addr;
}

static char *
def_lan_network(const HmSetup *s, const char *item)
{
	char *addr = NULL, *net = NULL;
	const char *lan = hm_setup_value(s, "lan_address");

	if (hm_setup_detect_lan(&addr, &net) && lan != NULL && strcmp(addr, lan) == 0) {
		g_free(addr);
		return net;
	}
	g_free(addr);
	g_free(net);
	return lan != NULL && strchr(lan, ':') == NULL ? g_strdup_printf("%s/32", lan) : NULL;
}

/* "127.0.0.1:PORT" and, on a LAN, "LAN:PORT" for each port given. */
static char *
listen_on(const HmSetup *s, const char *local, const char *lan_ports)
{
	const char *lan = hm_setup_value(s, "lan_address");
	g_auto(GStrv) ports = g_strsplit(lan_ports, " ", -1);
	GString *l = g_string_new(local);

	for (char **p = ports; *p != NULL; p++) {
		if (lan != NULL && *lan != '\0')
			g_string_append_printf(l, strchr(lan, ':') ? " [%s]:%s" : " %s:%s", lan,
			                       *p);
		else if (strchr(*p, '/') != NULL)
			g_string_append_printf(l, " 127.0.0.1:%s", *p);
	}
	return g_string_free(l, FALSE);
}

static char *
def_relay_listen(const HmSetup *s, const char *item)
{
	return listen_on(s, "127.0.0.1:25", "587");
}

static char *
def_popd_listen(const HmSetup *s, const char *item)
{
	return listen_on(s, "127.0.0.1:110", "110 995/tls");
}

static char *
def_state_dir(const HmSetup *s, const char *item)
{
	return g_strdup("/var/lib/homemail");
}

static char *
def_mail_dir(const HmSetup *s, const char *item)
{
	const char *state = hm_setup_value(s, "state_dir");

	return g_build_filename(state != NULL ? state : "/var/lib/homemail", "mail", NULL);
}

static char *
def_run_as(const HmSetup *s, const char *item)
{
	return hm_setup_service_user_exists() ? g_strdup("homemail") : NULL;
}

static char *
def_users(const HmSetup *s, const char *item)
{
	return hm_setup_detect_user();
}

static char *
def_accounts(const HmSetup *s, const char *item)
{
	return g_strdup("isp");
}

static char *
def_protocol(const HmSetup *s, const char *item)
{
	return g_strdup("imap");
}

static char *
def_tls(const HmSetup *s, const char *item)
{
	return g_strdup(is_account(item) ? "tls" : "starttls");
}

static char *
def_port(const HmSetup *s, const char *item)
{
	gboolean tls = is(s, item, ".tls", "tls");

	if (!is_account(item))
		return g_strdup(tls ? "465" : "587");
	if (is(s, item, ".protocol", "pop3"))
		return g_strdup(tls ? "995" : "110");
	return g_strdup(tls ? "993" : "143");
}

/* The first account's, in order. */
static const char *
first_account_value(const HmSetup *s, const char *suffix)
{
	g_auto(GStrv) names = hm_setup_split(hm_setup_value(s, "accounts"));
	g_autofree char *prefix = NULL;

	if (names == NULL || names[0] == NULL)
		return NULL;
	prefix = g_strconcat("account.", names[0], NULL);
	return val(s, prefix, suffix);
}

static char *
def_user(const HmSetup *s, const char *item)
{
	if (is_account(item))
		return dup_or_null(val(s, item, ".address"));
	return dup_or_null(first_account_value(s, ".user"));
}

static char *
def_auth(const HmSetup *s, const char *item)
{
	return g_strdup("password");
}

static char *
def_oauth2_provider(const HmSetup *s, const char *item)
{
	const char *host = val(s, item, ".host");

	return g_strdup(host != NULL && (strstr(host, "gmail") || strstr(host, "google"))
	                        ? "google"
	                        : "microsoft");
}

static char *
def_to(const HmSetup *s, const char *item)
{
	g_auto(GStrv) users = hm_setup_split(hm_setup_value(s, "users"));
	const char *addr = val(s, item, ".address");

	if (users == NULL || users[0] == NULL)
		return NULL;
	for (char **u = users; addr != NULL && *u != NULL; u++)
		if (g_str_has_prefix(addr, *u) && addr[strlen(*u)] == '@')
			return g_strdup(*u);
	return g_strdup(users[0]);
}

static char *
def_no(const HmSetup *s, const char *item)
{
	return g_strdup("no");
}

/* The address of the first account delivering to this user: the sender
 * the ISP accepts from it, so the sender map needs no typing. */
static char *
def_send_as(const HmSetup *s, const char *item)
{
	g_auto(GStrv) names = hm_setup_split(hm_setup_value(s, "accounts"));
	const char *user = item + strlen("user.");

	for (char **n = names; n != NULL && *n != NULL; n++) {
		g_autofree char *prefix = g_strconcat("account.", *n, NULL);

		if (is(s, prefix, ".to", user))
			return dup_or_null(val(s, prefix, ".address"));
	}
	return NULL;
}

static char *
def_cert(const HmSetup *s, const char *item)
{
	return g_build_filename(s->config_dir, "cert.pem", NULL);
}

static char *
def_key(const HmSetup *s, const char *item)
{
	return g_build_filename(s->config_dir, "key.pem", NULL);
}

static char *
def_smarthost(const HmSetup *s, const char *item)
{
	return g_strdup("smarthost");
}

static char *
def_none(const HmSetup *s, const char *item)
{
	return g_strdup("none");
}

static char *
def_dyn_hostname(const HmSetup *s, const char *item)
{
	return dup_or_null(hm_setup_value(s, "dns_name"));
}

static char *
def_detect(const HmSetup *s, const char *item)
{
	return g_strdup("router");
}

/* --- checks of their own ------------------------------------------------- */

/* A hash the config may hold: the answers file, or the config a re-run
 * starts from, could give anything there. */
static gboolean
valid_hash(const HmSetup *s, const char *item, const char *v, GError **err)
{
	if (hm_password_is_hash(v))
		return TRUE;
	g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE,
	                    "This is not a crypt(3) hash homemail can check (yescrypt, "
	                    "sha512-crypt, bcrypt): give the password itself instead.");
	return FALSE;
}

/* Relative paths are taken from the config's directory, as the loader
 * does. */
static gboolean
file_exists(const HmSetup *s, const char *path)
{
	g_autofree char *abs = g_path_is_absolute(path)
	                               ? g_strdup(path)
	                               : g_build_filename(s->config_dir, path, NULL);

	return g_file_test(abs, G_FILE_TEST_EXISTS);
}

/* The key, after the certificate: a self-signed pair is made only when
 * both are missing, so one that is there (a real certificate, a real
 * key) is never replaced. */
static gboolean
valid_key(const HmSetup *s, const char *item, const char *v, GError **err)
{
	const char *cert = hm_setup_value(s, "tls.cert");
	gboolean have_cert = cert != NULL && *cert != '\0' && file_exists(s, cert);

	if (have_cert == file_exists(s, v))
		return TRUE;
	if (have_cert)
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "%s does not exist, but the certificate %s does: give the key that "
		            "goes with it (setup makes a self-signed pair only when both are "
		            "missing).",
		            v, cert);
	else
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "The certificate %s does not exist, but this key does: give the "
		            "certificate that goes with it (setup makes a self-signed pair only "
		            "when both are missing).",
		            cert != NULL ? cert : "");
	return FALSE;
}

/* --- the tables ---------------------------------------------------------- */

static const HmChoice mail_types[] = {
	{ "smarthost", "mail sent by smarthost; received via homemail-fetcher" },
	{ "fetch", "received via homemail-fetcher; no mail leaves the box" },
	{ "local", "local delivery only; not on a network" },
	{ NULL, NULL },
};
static const HmChoice protocols[] = { { "imap", "IMAP" }, { "pop3", "POP3" }, { NULL, NULL } };
static const HmChoice tls_modes[] = {
	{ "tls", "implicit TLS (ports 993, 995, 465)" },
	{ "starttls", "STARTTLS on the plain port (143, 110, 587)" },
	{ "none", "no encryption (only on loopback)" },
	{ NULL, NULL },
};
static const HmChoice auths[] = {
	{ "password", "a password (or an app password)" },
	{ "oauth2", "OAuth2 sign-in (Microsoft 365, Outlook.com, Gmail)" },
	{ NULL, NULL },
};
static const HmChoice providers[] = {
	{ "microsoft", "Microsoft 365, Outlook.com" },
	{ "google", "Gmail" },
	{ "custom", "another provider: its URLs are asked" },
	{ NULL, NULL },
};
static const HmChoice yes_no[] = { { "no", "no" }, { "yes", "yes" }, { NULL, NULL } };
static const HmChoice dyn_providers[] = {
	{ "none", "no dynamic DNS" },
	{ "dyndns2", "the dyndns2 protocol (Dyn, No-IP, many others)" },
	{ "duckdns", "Duck DNS" },
	{ "cloudflare", "Cloudflare's API" },
	{ NULL, NULL },
};

static const HmQuestion q_head[] = {
	{ "mail_type", HM_Q_CHOICE, "General type of mail configuration",
	  "How mail comes to this box and leaves it.", mail_types, FALSE, NULL, def_smarthost,
	  NULL },
	{ "hostname", HM_Q_TEXT, "System mail name",
	  "The fully qualified name of this box, used in HELO and Received: lines; it "
	  "need not resolve anywhere.",
	  NULL, FALSE, NULL, def_hostname, hm_setup_valid_dns_name },
	{ "dns_name", HM_Q_TEXT, "The box's DNS name on the internet (empty: none)",
	  "A name that dynamic DNS keeps pointing at this box, if you have one.", NULL, TRUE, NULL,
	  NULL, hm_setup_valid_dns_name },
	{ "local_domains", HM_Q_LIST, "Other destinations for which mail is accepted",
	  "Mail to these domains is delivered on this box (separate them with spaces).", NULL,
	  FALSE, NULL, def_domains, hm_setup_valid_domains },
	{ "lan_address", HM_Q_TEXT, "LAN address of this box (empty: no LAN)",
	  "The address desktop mail clients on the LAN connect to.", NULL, TRUE, NULL,
	  def_lan_address, hm_setup_valid_ip },
	{ "lan_network", HM_Q_TEXT, "Machines to relay mail for",
	  "The LAN, which may send mail out without logging in.", NULL, FALSE, has_lan,
	  def_lan_network, hm_setup_valid_cidr },
	{ "relay.listen", HM_Q_LIST, "IP addresses and ports to listen on for incoming SMTP", NULL,
	  NULL, FALSE, NULL, def_relay_listen, hm_setup_valid_listen },
	{ "state_dir", HM_Q_TEXT, "Directory for the queue and state", NULL, NULL, FALSE, NULL,
	  def_state_dir, NULL },
	{ "mail_dir", HM_Q_TEXT, "Directory for the users' Maildirs", NULL, NULL, FALSE, NULL,
	  def_mail_dir, NULL },
	{ "run_as", HM_Q_TEXT, "System user the daemons run as (empty: as started)", NULL, NULL,
	  TRUE, NULL, def_run_as, hm_setup_valid_system_user },
	{ "users", HM_Q_LIST, "Local users",
	  "The people who read mail on this box (names separated by spaces).", NULL, FALSE, NULL,
	  def_users, hm_setup_valid_names },
};

static const HmQuestion q_user[] = {
	{ "*.password_hash", HM_Q_PASSWORD, "Password", NULL, NULL, FALSE, NULL, NULL, valid_hash },
};

static const HmQuestion q_accounts[] = {
	{ "accounts", HM_Q_LIST, "Upstream mailboxes",
	  "A short name for each mailbox to fetch from, separated by spaces (e.g. \"isp work\").",
	  NULL, FALSE, fetching, def_accounts, hm_setup_valid_names },
};

static const HmQuestion q_endpoint[] = {
	{ "*.address", HM_Q_TEXT, "E-mail address", NULL, NULL, FALSE, account_only, NULL,
	  hm_setup_valid_address },
	{ "*.protocol", HM_Q_CHOICE, "Protocol", NULL, protocols, FALSE, account_only, def_protocol,
	  NULL },
	{ "*.host", HM_Q_TEXT, "Server", NULL, NULL, FALSE, NULL, NULL, hm_setup_valid_dns_name },
	{ "*.tls", HM_Q_CHOICE, "Encryption", NULL, tls_modes, FALSE, NULL, def_tls,
	  hm_setup_valid_tls },
	{ "*.port", HM_Q_TEXT, "Port", NULL, NULL, FALSE, NULL, def_port, hm_setup_valid_port },
	{ "*.fingerprint", HM_Q_TEXT, "Certificate pin (empty: trust the usual authorities)",
	  NULL, NULL, TRUE, pinned, NULL, hm_setup_valid_fingerprint },
	{ "*.user", HM_Q_TEXT, "User name", NULL, NULL, FALSE, NULL, def_user, NULL },
	{ "*.auth", HM_Q_CHOICE, "Log in with", NULL, auths, FALSE, NULL, def_auth, NULL },
	{ "*.password_file", HM_Q_SECRET, "Password (not shown)", NULL, NULL, FALSE, password_auth,
	  NULL, NULL },
	{ "*.oauth2_provider", HM_Q_CHOICE, "OAuth2 provider", NULL, providers, FALSE, oauth2_auth,
	  def_oauth2_provider, NULL },
	{ "*.client_id", HM_Q_TEXT, "OAuth2 client ID (see README, OAuth2)", NULL, NULL, FALSE,
	  oauth2_auth, NULL, NULL },
	{ "*.client_secret_file", HM_Q_SECRET, "OAuth2 client secret (not shown)", NULL, NULL,
	  FALSE, google_auth, NULL, NULL },
	{ "*.token_url", HM_Q_TEXT, "OAuth2 token URL", NULL, NULL, FALSE, custom_auth, NULL,
	  hm_setup_valid_https },
	{ "*.device_url", HM_Q_TEXT, "OAuth2 device authorization URL (empty: sign in in a browser)",
	  NULL, NULL, TRUE, custom_auth, NULL, hm_setup_valid_https },
	{ "*.authorize_url", HM_Q_TEXT, "OAuth2 authorization URL", NULL, NULL, FALSE,
	  custom_browser, NULL, hm_setup_valid_https },
	{ "*.oauth2_ca_file", HM_Q_TEXT,
	  "CA certificates of the identity provider (PEM; empty: the system's)", NULL, NULL, TRUE,
	  custom_auth, NULL, NULL },
	{ "*.to", HM_Q_TEXT, "Deliver its mail to local user", NULL, NULL, FALSE, account_only,
	  def_to, hm_setup_valid_to },
	{ "*.keep", HM_Q_CHOICE, "Leave fetched mail on the server", NULL, yes_no, FALSE,
	  account_only, def_no, NULL },
	{ "*.check", HM_Q_CHECK, NULL, NULL, NULL, FALSE, NULL, NULL, NULL },
};

static const HmQuestion q_send_as[] = {
	{ "*.send_as", HM_Q_TEXT, "Sender address on the internet (empty: keep the local one)",
	  NULL, NULL, TRUE, NULL, def_send_as, hm_setup_valid_address },
};

static const HmQuestion q_tail[] = {
	{ "popd.listen", HM_Q_LIST, "IP addresses and ports for the POP3 server",
	  "Where the LAN's mail clients fetch mail (\"/tls\": implicit TLS).", NULL, FALSE, NULL,
	  def_popd_listen, hm_setup_valid_listen },
	{ "tls.cert", HM_Q_TEXT, "TLS certificate (PEM; made self-signed when missing)", NULL, NULL,
	  FALSE, NULL, def_cert, NULL },
	{ "tls.key", HM_Q_TEXT, "TLS key (PEM)", NULL, NULL, FALSE, NULL, def_key, valid_key },
	{ "dyndns.provider", HM_Q_CHOICE, "Dynamic DNS provider", NULL, dyn_providers, FALSE, NULL,
	  def_none, NULL },
	{ "dyndns.hostname", HM_Q_TEXT, "Name to keep up to date", NULL, NULL, FALSE, dyndns_on,
	  def_dyn_hostname, hm_setup_valid_dns_name },
	{ "dyndns.server", HM_Q_TEXT, "Update server URL", NULL, NULL, FALSE, dyndns2_on, NULL,
	  hm_setup_valid_url },
	{ "dyndns.user", HM_Q_TEXT, "User name at the provider", NULL, NULL, FALSE, dyndns2_on,
	  NULL, NULL },
	{ "dyndns.password_file", HM_Q_SECRET, "Password or token (not shown)", NULL, NULL, FALSE,
	  dyndns_on, NULL, NULL },
	{ "dyndns.detect", HM_Q_LIST, "How to find the public address",
	  "In order: router (UPnP/NAT-PMP), web (a check-IP page), interface:NAME, "
	  "static:ADDRESS.",
	  NULL, FALSE, dyndns_on, def_detect, hm_setup_valid_detect },
	{ "dyndns.detect_url4", HM_Q_LIST, "Check-IP page(s) for IPv4",
	  "Tried in order until one answers.", NULL, FALSE, web_detect, NULL, hm_setup_valid_urls },
	{ "dyndns.check", HM_Q_CHECK, NULL, NULL, NULL, FALSE, dyndns_on, NULL, NULL },
};

/* --- the plan ------------------------------------------------------------ */

static void
step_free(gpointer p)
{
	HmStep *st = p;

	g_free(st->item);
	g_free(st->id);
	g_free(st);
}

static void
add(GPtrArray *plan, const HmSetup *s, const HmQuestion *qs, gsize n, const char *item)
{
	for (gsize i = 0; i < n; i++) {
		HmStep *st;

		if (qs[i].applies != NULL && !qs[i].applies(s, item))
			continue;
		st = g_new0(HmStep, 1);
		st->q = &qs[i];
		st->item = g_strdup(item);
		st->id = qs[i].id[0] == '*' ? g_strconcat(item, qs[i].id + 1, NULL)
		                            : g_strdup(qs[i].id);
		g_ptr_array_add(plan, st);
	}
}

/* Adds qs for "PREFIX.NAME" of each name in the list answer list_id. */
static void
add_each(GPtrArray *plan, const HmSetup *s, const HmQuestion *qs, gsize n, const char *list_id,
         const char *prefix)
{
	g_auto(GStrv) names = hm_setup_split(hm_setup_value(s, list_id));

	for (char **name = names; name != NULL && *name != NULL; name++) {
		g_autofree char *item = g_strconcat(prefix, *name, NULL);

		add(plan, s, qs, n, item);
	}
}

GPtrArray *
hm_setup_plan(const HmSetup *s)
{
	GPtrArray *plan = g_ptr_array_new_with_free_func(step_free);

	add(plan, s, q_head, G_N_ELEMENTS(q_head), "");
	add_each(plan, s, q_user, G_N_ELEMENTS(q_user), "users", "user.");
	if (fetching(s, "")) {
		add(plan, s, q_accounts, G_N_ELEMENTS(q_accounts), "");
		add_each(plan, s, q_endpoint, G_N_ELEMENTS(q_endpoint), "accounts", "account.");
	}
	if (is(s, "", "mail_type", "smarthost")) {
		add(plan, s, q_endpoint, G_N_ELEMENTS(q_endpoint), "smarthost");
		add_each(plan, s, q_send_as, G_N_ELEMENTS(q_send_as), "users", "user.");
	}
	add(plan, s, q_tail, G_N_ELEMENTS(q_tail), "");
	return plan;
}

/* --- defaults and answers ------------------------------------------------ */

char *
hm_setup_default(const HmSetup *s, const HmStep *st)
{
	const char *v = g_hash_table_lookup(s->answers, st->id);

	if (v == NULL)
		v = g_hash_table_lookup(s->current, st->id);
	if (v == NULL)
		v = g_hash_table_lookup(s->found, st->id);
	if (v != NULL)
		return g_strdup(v);
	if (st->q->kind == HM_Q_SECRET || st->q->fallback == NULL)
		return NULL;
	return st->q->fallback(s, st->item);
}

static char *
accept_choice(const HmStep *st, const char *value, GError **err)
{
	guint64 n;
	gsize count = 0;
	GString *words = g_string_new(NULL);

	for (const HmChoice *c = st->q->choices; c->word != NULL; c++, count++) {
		if (g_ascii_strcasecmp(c->word, value) == 0) {
			g_string_free(words, TRUE);
			return g_strdup(c->word);
		}
		g_string_append_printf(words, "%s%s", count > 0 ? ", " : "", c->word);
	}
	if (hm_parse_uint(value, 1, count, &n) == 0) {
		g_string_free(words, TRUE);
		return g_strdup(st->q->choices[n - 1].word);
	}
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
	            "\"%s\" is not one of the choices: give %s, "
	            "or its number.",
	            value, words->str);
	g_string_free(words, TRUE);
	return NULL;
}

/* What any answer may not hold: it becomes a quoted string in the config
 * and one line of the answers file. */
static gboolean
bad(GError **err, const char *msg)
{
	g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE, msg);
	return FALSE;
}

static gboolean
quotable(const char *value, GError **err)
{
	for (const char *p = value; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (guchar)*p < 0x20 || *p == 0x7f)
			return bad(err, "Quotes, backslashes and control characters cannot be "
			                "used here.");
	return TRUE;
}

char *
hm_setup_accept(const HmSetup *s, const HmStep *st, const char *value, GError **err)
{
	g_auto(GStrv) words = NULL;

	if (!quotable(value, err))
		return NULL;
	if (*value == '\0') {
		if (st->q->optional)
			return g_strdup("");
		g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE, "An answer is required here.");
		return NULL;
	}
	if (st->q->kind == HM_Q_CHOICE) {
		g_autofree char *word = accept_choice(st, value, err);

		/* A choice may still not fit the answers before it. */
		if (word == NULL || (st->q->valid != NULL && !st->q->valid(s, st->item, word, err)))
			return NULL;
		return g_steal_pointer(&word);
	}
	if (st->q->valid != NULL && !st->q->valid(s, st->item, value, err))
		return NULL;
	if (st->q->kind != HM_Q_LIST)
		return g_strdup(value);
	words = hm_setup_split(value);
	if (words[0] == NULL && !st->q->optional) {
		g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE, "An answer is required here.");
		return NULL;
	}
	return g_strjoinv(" ", words);
}

gboolean
hm_setup_step_saved(const HmStep *st)
{
	return st->q->kind != HM_Q_CHECK;
}
