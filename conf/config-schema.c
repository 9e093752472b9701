/* The schema: one reader per section of DESIGN.md's configuration, each
 * with its known keys, defaults and checks. */
#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "lib/passwd.h"
#include "conf/config-private.h"

/* Defaults that are lists. Loopback only: 127.0.0.2 stays "foreign" so
 * tests can play an outside client (DESIGN.md, Tests). */
static const char *const default_local_nets[] = { "127.0.0.1/32", "::1/128", NULL };
static const char *const default_relay_listen[] = { "127.0.0.1:25", NULL };
static const char *const default_popd_listen[] = { "127.0.0.1:110", NULL };

#define DEFAULT_STATE_DIR HM_STATE_DIR
#define DEFAULT_MAX_MESSAGE_SIZE 52428800u
#define MAX_MESSAGE_SIZE_MAX 2147483648u

void
hm_cfg_lower_in_place(char *s)
{
	for (; *s != '\0'; s++)
		*s = g_ascii_tolower(*s);
}

/* --- lists of listeners, ranges, domains --------------------------------- */

/* Implicit-TLS listeners need the certificate: have_cert says it is set. */
static int
read_listen(HmCfgCtx *ctx, const config_setting_t *g, const char *const *defaults,
            gboolean have_cert, HmListenSpec **out, gsize *n_out, GError **err)
{
	const config_setting_t *list;
	gsize n;

	if (hm_cfg_list(ctx, g, "listen", &list, err) < 0)
		return -1;
	n = list != NULL ? (gsize)config_setting_length(list) : g_strv_length((char **)defaults);
	*out = g_new0(HmListenSpec, n + 1);
	*n_out = n;  /* zeroed entries free cleanly if we stop half-way */
	for (gsize i = 0; i < n; i++) {
		const config_setting_t *e = list != NULL ? config_setting_get_elem(list, (guint)i) : NULL;
		const char *text = defaults[list != NULL ? 0 : i];
		g_autoptr(GError) lerr = NULL;

		if (e != NULL && hm_cfg_elem_string(ctx, e, &text, err) < 0)
			return -1;
		if (hm_listen_spec_parse(text, &(*out)[i], &lerr) < 0)
			return hm_cfg_fail(ctx, e, err, "%s", lerr->message);
		if (!hm_cfg_is_ip_literal((*out)[i].host))
			return hm_cfg_fail(ctx, e, err, "\"%s\": the host must be a numeric address "
			                   "(daemons do not resolve names at start-up)", text);
		if ((*out)[i].tls && !have_cert)
			return hm_cfg_fail(ctx, e, err, "implicit TLS needs tls.cert and tls.key");
	}
	return 0;
}

static int
read_cidrs(HmCfgCtx *ctx, const config_setting_t *g, const char *name, HmCidr **out,
           gsize *n_out, GError **err)
{
	const config_setting_t *list = NULL;
	gsize n;

	if (hm_cfg_list(ctx, g, name, &list, err) < 0)
		return -1;
	n = list != NULL ? (gsize)config_setting_length(list)
	                 : g_strv_length((char **)default_local_nets);
	*out = g_new0(HmCidr, n + 1);
	*n_out = n;
	for (gsize i = 0; i < n; i++) {
		const config_setting_t *e = list != NULL ? config_setting_get_elem(list, (guint)i) : NULL;
		const char *text = default_local_nets[list != NULL ? 0 : i];
		g_autoptr(GError) cerr = NULL;

		if (e != NULL && hm_cfg_elem_string(ctx, e, &text, err) < 0)
			return -1;
		if (hm_cidr_parse(text, &(*out)[i], &cerr) < 0)
			return hm_cfg_fail(ctx, e, err, "%s", cerr->message);
	}
	return 0;
}

static int
read_local_domains(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	const config_setting_t *list;

	if (hm_cfg_strv(ctx, root, "local_domains", &cfg->local_domains, err) < 0 ||
	    hm_cfg_list(ctx, root, "local_domains", &list, err) < 0)
		return -1;
	if (cfg->local_domains == NULL) {
		const char *const def[] = { cfg->hostname, "localhost", NULL };

		cfg->local_domains = g_strdupv((char **)def);
		return 0;
	}
	for (guint i = 0; cfg->local_domains[i] != NULL; i++) {
		char *d = cfg->local_domains[i];

		if (!hm_cfg_valid_domain(d))
			return hm_cfg_fail(ctx, config_setting_get_elem(list, i), err,
			                   "\"%s\" is not a domain name", d);
		hm_cfg_lower_in_place(d);
	}
	return 0;
}

/* --- users and aliases --------------------------------------------------- */

static int
read_user(HmCfgCtx *ctx, const config_setting_t *g, HmUserConf *u, GError **err)
{
	static const char *const keys[] = {
		"name", "password", "addresses", "send_as", "mail_format", NULL,
	};
	static const char *const formats[] = { "maildir", "mbox", NULL };
	const config_setting_t *list;
	int fmt = HM_MAIL_FORMAT_MAILDIR;

	hm_cfg_check_keys(ctx, g, keys);
	u->line = (int)config_setting_source_line(g);
	if (hm_cfg_required_string(ctx, g, "name", &u->name, err) < 0)
		return -1;
	if (!hm_cfg_valid_name(u->name))
		return hm_cfg_fail(ctx, config_setting_get_member(g, "name"), err,
		                   "must be 1-64 letters, digits, '.', '_' or '-', "
		                   "not starting with '.' or '-'");
	if (hm_cfg_string(ctx, g, "password", &u->password_hash, err) < 0)
		return -1;
	if (u->password_hash != NULL)
		u->password_line = (int)config_setting_source_line(
			config_setting_get_member(g, "password"));
	/* The check setup applies before it writes a hash: one that no login
	 * could ever match (plain text, a weak or unknown scheme, a mangled
	 * one) is an error here, not a silent refusal at each login. */
	if (u->password_hash != NULL && !hm_password_is_hash(u->password_hash))
		return hm_cfg_fail(ctx, config_setting_get_member(g, "password"), err,
		                   "must be a crypt(3) hash of a supported scheme (yescrypt, "
		                   "sha512-crypt...); set it with `homemail passwd`");
	if (hm_cfg_strv(ctx, g, "addresses", &u->addresses, err) < 0 ||
	    hm_cfg_list(ctx, g, "addresses", &list, err) < 0)
		return -1;
	for (guint i = 0; u->addresses != NULL && u->addresses[i] != NULL; i++)
		if (hm_cfg_address_value(ctx, config_setting_get_elem(list, i), u->addresses[i],
		                  &u->addresses[i], err) < 0)
			return -1;
	if (u->addresses == NULL)
		u->addresses = g_new0(char *, 1);
	if (hm_cfg_address_member(ctx, g, "send_as", &u->send_as, err) < 0 ||
	    hm_cfg_pick(ctx, g, "mail_format", formats, &fmt, err) < 0)
		return -1;
	u->mail_format = (HmMailFormat)fmt;
	return 0;
}

/* Names must be unique within a list: "--account isp" must mean one. */
static int
check_unique(HmCfgCtx *ctx, const config_setting_t *list, guint i, const char *name,
             const char *const *earlier_names, GError **err)
{
	for (guint j = 0; j < i; j++)
		if (strcmp(earlier_names[j], name) == 0) {
			const config_setting_t *e = config_setting_get_elem(list, i);
			const config_setting_t *n = config_setting_get_member(e, "name");

			return hm_cfg_fail(ctx, n != NULL ? n : e, err,
			                   "duplicate name \"%s\" (first at line %u)", name,
			                   config_setting_source_line(config_setting_get_elem(list, j)));
		}
	return 0;
}

static int
read_users(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	const config_setting_t *list;
	g_autofree const char **names = NULL;

	if (hm_cfg_group_list(ctx, root, "users", &list, err) < 0)
		return -1;
	if (list == NULL)
		return 0;
	cfg->n_users = (gsize)config_setting_length(list);
	cfg->users = g_new0(HmUserConf, cfg->n_users);
	names = g_new0(const char *, cfg->n_users + 1);
	for (guint i = 0; i < cfg->n_users; i++) {
		if (read_user(ctx, config_setting_get_elem(list, i), &cfg->users[i], err) < 0 ||
		    check_unique(ctx, list, i, cfg->users[i].name, names, err) < 0)
			return -1;
		names[i] = cfg->users[i].name;
	}
	return 0;
}

static gboolean
is_alias(const HmConfig *cfg, const char *name)
{
	for (gsize i = 0; i < cfg->n_aliases; i++)
		if (strcmp(cfg->aliases[i].name, name) == 0)
			return TRUE;
	return FALSE;
}

/* TRUE if target reaches someone: a user or alias by name, a local
 * address of one, or a non-local address (forwarded). */
static gboolean
target_exists(const HmConfig *cfg, const char *target)
{
	const char *at = strrchr(target, '@');
	g_autofree char *local = NULL;

	if (at == NULL)
		return hm_config_find_user(cfg, target) != NULL || is_alias(cfg, target);
	if (!hm_config_is_local_domain(cfg, at + 1))
		return TRUE;
	for (gsize i = 0; i < cfg->n_users; i++)
		if (g_strv_contains((const char *const *)cfg->users[i].addresses, target))
			return TRUE;
	local = g_strndup(target, (gsize)(at - target));
	return hm_config_find_user(cfg, local) != NULL || is_alias(cfg, local);
}

static int
read_aliases(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	const config_setting_t *g;

	if (hm_cfg_group(ctx, root, "aliases", &g, err) < 0)
		return -1;
	if (g == NULL)
		return 0;
	cfg->n_aliases = (gsize)config_setting_length(g);
	cfg->aliases = g_new0(HmAliasConf, cfg->n_aliases);
	for (guint i = 0; i < cfg->n_aliases; i++) {
		const config_setting_t *m = config_setting_get_elem(g, i);
		HmAliasConf *a = &cfg->aliases[i];
		const char *target;

		a->name = g_strdup(config_setting_name(m));
		a->line = (int)config_setting_source_line(m);
		if (hm_cfg_elem_string(ctx, m, &target, err) < 0)
			return -1;
		if (!hm_cfg_valid_name(a->name))
			return hm_cfg_fail(ctx, m, err, "not a valid local name");
		if (strchr(target, '@') != NULL) {
			if (hm_cfg_address_value(ctx, m, target, &a->target, err) < 0)
				return -1;
		} else if (!hm_cfg_valid_name(target)) {
			return hm_cfg_fail(ctx, m, err, "\"%s\" is neither a local name nor an address",
			                   target);
		} else {
			a->target = g_strdup(target);
		}
	}
	for (guint i = 0; i < cfg->n_aliases; i++)
		if (!target_exists(cfg, cfg->aliases[i].target))
			hm_cfg_warn(ctx, config_setting_get_elem(g, i),
			            "\"%s\" is no user, alias or address: mail to it will bounce",
			            cfg->aliases[i].target);
	return 0;
}

/* --- connections to servers (smart hosts, fetch accounts) ---------------- */

/* The defaults of an endpoint that depend on what it is: its ports by TLS
 * mode, and the mode when neither port nor tls is given. */
typedef struct {
	guint16 tls_port, plain_port;
	HmTlsMode default_tls;
} EndpointDefaults;

static int
endpoint_tls(HmCfgCtx *ctx, const config_setting_t *g, const EndpointDefaults *def,
             HmEndpoint *ep, GError **err)
{
	static const char *const modes[] = { "tls", "starttls", "none", NULL };
	const config_setting_t *ts = config_setting_get_member(g, "tls");
	const config_setting_t *fs = config_setting_get_member(g, "fingerprint");
	g_autofree char *fp = NULL;
	g_autofree char *refused = NULL;
	g_autoptr(GError) ferr = NULL;
	int mode = -1;
	guint64 port = 0;

	if (hm_cfg_pick(ctx, g, "tls", modes, &mode, err) < 0 ||
	    hm_cfg_uint(ctx, g, "port", 1, 65535, &port, err) < 0)
		return -1;
	if (mode < 0 && port == 0)
		mode = (int)def->default_tls;
	else if (mode < 0)
		mode = (port == 993 || port == 995 || port == 465) ? HM_TLS_MODE_TLS : HM_TLS_MODE_STARTTLS;
	if (port == 0)
		port = mode == HM_TLS_MODE_TLS ? def->tls_port : def->plain_port;
	ep->tls = (HmTlsMode)mode;
	ep->port = (guint16)port;
	if (hm_cfg_bool(ctx, g, "allow_plaintext", &ep->allow_plaintext, err) < 0 ||
	    hm_cfg_path(ctx, g, "ca_file", &ep->ca_file, err) < 0 ||
	    hm_cfg_string(ctx, g, "fingerprint", &fp, err) < 0)
		return -1;
	if (mode == HM_TLS_MODE_NONE &&
	    (refused = hm_config_plaintext_refused(ep->host, ep->allow_plaintext)) != NULL)
		return hm_cfg_fail(ctx, ts, err, "%s", refused);
	if (fp == NULL || *fp == '\0')
		return 0;
	if (hm_tls_fingerprint_parse(fp, ep->pin, &ferr) < 0)
		return hm_cfg_fail(ctx, fs, err, "%s", ferr->message);
	if (mode == HM_TLS_MODE_NONE)
		return hm_cfg_fail(ctx, fs, err, "needs tls = \"tls\" or \"starttls\"");
	ep->has_pin = TRUE;
	return 0;
}

char *
hm_config_plaintext_refused(const char *host, gboolean allow_plaintext)
{
	if (allow_plaintext || hm_host_is_loopback(host))
		return NULL;
	return g_strdup_printf("\"none\" would send the password in clear to %s; "
	                       "use \"tls\" or \"starttls\", or set allow_plaintext = true",
	                       host);
}

/* name defaults to host; user and secret are read by the caller. */
static int
endpoint_read(HmCfgCtx *ctx, const config_setting_t *g, char **name,
              const EndpointDefaults *def, HmEndpoint *ep, GError **err)
{
	if (hm_cfg_host_member(ctx, g, "host", &ep->host, err) < 0 ||
	    hm_cfg_string(ctx, g, "name", name, err) < 0)
		return -1;
	if (*name == NULL)
		*name = g_strdup(ep->host);
	else if (**name == '\0')
		return hm_cfg_fail(ctx, config_setting_get_member(g, "name"), err, "must not be empty");
	return endpoint_tls(ctx, g, def, ep, err);
}

static int
read_smarthost(HmCfgCtx *ctx, const config_setting_t *g, HmSmarthostConf *h, GError **err)
{
	static const char *const keys[] = {
		"name", "host", "port", "tls", "allow_plaintext", "user", "password",
		"password_file", "auth", "oauth2", "ca_file", "fingerprint", "senders", NULL,
	};
	const EndpointDefaults def = { 465, 587, HM_TLS_MODE_STARTTLS };
	const config_setting_t *list;

	hm_cfg_check_keys(ctx, g, keys);
	h->line = (int)config_setting_source_line(g);
	if (endpoint_read(ctx, g, &h->name, &def, &h->ep, err) < 0 ||
	    hm_cfg_read_auth(ctx, g, FALSE, &h->ep, err) < 0 ||
	    hm_cfg_strv(ctx, g, "senders", &h->senders, err) < 0 ||
	    hm_cfg_list(ctx, g, "senders", &list, err) < 0)
		return -1;
	if (h->senders == NULL)
		h->senders = g_new0(char *, 1);
	for (guint i = 0; h->senders[i] != NULL; i++)
		if (strchr(h->senders[i], '@') == NULL)
			return hm_cfg_fail(ctx, config_setting_get_elem(list, i), err,
			                   "must be an address pattern such as \"*@isp.example\"");
	return 0;
}

static int
read_retry(HmCfgCtx *ctx, const config_setting_t *relay, HmRetryConf *r, GError **err)
{
	static const char *const keys[] = {
		"first", "max_interval", "warn_after", "give_up_after", NULL,
	};
	const config_setting_t *g;
	guint64 v[4] = { 300, 3600, 14400, 432000 };

	if (hm_cfg_group(ctx, relay, "retry", &g, err) < 0)
		return -1;
	hm_cfg_check_keys(ctx, g, keys);
	for (int i = 0; i < 4; i++)
		if (hm_cfg_uint(ctx, g, keys[i], 1, HM_CFG_TIME_MAX, &v[i], err) < 0)
			return -1;
	if (v[0] > v[1])
		return hm_cfg_fail_at(ctx, g, "first", err, "must not exceed max_interval");
	if (v[2] >= v[3])
		return hm_cfg_fail_at(ctx, g, "warn_after", err, "must be less than give_up_after");
	r->first = (guint)v[0];
	r->max_interval = (guint)v[1];
	r->warn_after = (guint)v[2];
	r->give_up_after = (guint)v[3];
	return 0;
}

/* relay.dnsbl (zone names) and relay.dns_resolver ("HOST:PORT", a numeric
 * address: the resolver must not itself need resolving). */
static int
read_dnsbl(HmCfgCtx *ctx, const config_setting_t *g, HmRelayConf *r, GError **err)
{
	const config_setting_t *s;
	HmListenSpec spec;
	g_autoptr(GError) lerr = NULL;

	if (hm_cfg_strv(ctx, g, "dnsbl", &r->dnsbl, err) < 0 ||
	    hm_cfg_string(ctx, g, "dns_resolver", &r->dns_resolver, err) < 0)
		return -1;
	for (guint i = 0; r->dnsbl != NULL && r->dnsbl[i] != NULL; i++) {
		hm_cfg_lower_in_place(r->dnsbl[i]);
		if (!hm_cfg_valid_domain(r->dnsbl[i]))
			return hm_cfg_fail(ctx, config_setting_get_elem(hm_cfg_member(g, "dnsbl"), i),
			                   err, "not a DNS zone name: \"%s\"", r->dnsbl[i]);
	}
	if (r->dns_resolver == NULL)
		return 0;
	s = hm_cfg_member(g, "dns_resolver");
	if (hm_listen_spec_parse(r->dns_resolver, &spec, &lerr) < 0)
		return hm_cfg_fail(ctx, s, err, "%s", lerr->message);
	hm_listen_spec_clear(&spec);
	return 0;
}

static int
read_relay(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	static const char *const keys[] = {
		"listen", "trusted_networks", "allow_plaintext_from", "max_message_size",
		"rewrite_header_from", "smarthosts", "retry", "max_recipients", "dnsbl",
		"dns_resolver", "full_trace", NULL,
	};
	HmRelayConf *r = &cfg->relay;
	const config_setting_t *g, *list = NULL;
	g_autofree const char **names = NULL;
	guint64 size = DEFAULT_MAX_MESSAGE_SIZE, rcpts = 1000;

	r->rewrite_header_from = TRUE;
	if (hm_cfg_group(ctx, root, "relay", &g, err) < 0)
		return -1;
	r->present = g != NULL;
	hm_cfg_check_keys(ctx, g, keys);
	if (read_listen(ctx, g, default_relay_listen, cfg->tls_cert != NULL, &r->listen,
	                &r->n_listen, err) < 0 ||
	    read_cidrs(ctx, g, "trusted_networks", &r->trusted_networks, &r->n_trusted_networks, err) < 0 ||
	    read_cidrs(ctx, g, "allow_plaintext_from", &r->allow_plaintext_from,
	               &r->n_allow_plaintext_from, err) < 0 ||
	    hm_cfg_uint(ctx, g, "max_message_size", 1024, MAX_MESSAGE_SIZE_MAX, &size, err) < 0 ||
	    hm_cfg_bool(ctx, g, "rewrite_header_from", &r->rewrite_header_from, err) < 0 ||
	    read_retry(ctx, g, &r->retry, err) < 0 ||
	    hm_cfg_uint(ctx, g, "max_recipients", 100, 100000, &rcpts, err) < 0 ||
	    read_dnsbl(ctx, g, r, err) < 0 ||
	    hm_cfg_bool(ctx, g, "full_trace", &r->full_trace, err) < 0 ||
	    hm_cfg_group_list(ctx, g, "smarthosts", &list, err) < 0)
		return -1;
	r->max_message_size = size;
	r->max_recipients = (guint)rcpts;
	if (list == NULL)
		return 0;
	r->n_smarthosts = (gsize)config_setting_length(list);
	r->smarthosts = g_new0(HmSmarthostConf, r->n_smarthosts);
	names = g_new0(const char *, r->n_smarthosts + 1);
	for (guint i = 0; i < r->n_smarthosts; i++) {
		if (read_smarthost(ctx, config_setting_get_elem(list, i), &r->smarthosts[i], err) < 0 ||
		    check_unique(ctx, list, i, r->smarthosts[i].name, names, err) < 0)
			return -1;
		names[i] = r->smarthosts[i].name;
	}
	return 0;
}

/* --- fetcher ------------------------------------------------------------- */

/* "smtp:HOST:PORT", "lmtp:HOST:PORT", "lmtp:/path/socket" (a relative path
 * is taken against the config's directory) or "local". HOST:PORT is read
 * like a listener, so "[::1]:24" is IPv6. */
/* Where the fetcher injects by default: the relay of the same config,
 * on its first listener without implicit TLS (a wildcard address reached
 * through loopback), else 127.0.0.1:25. */
static char *
default_deliver(const HmRelayConf *relay)
{
	const char *host;
	const HmListenSpec *l = hm_config_relay_local(relay, &host);
	gboolean v6;

	if (l == NULL)
		return g_strdup("smtp:127.0.0.1:25");
	v6 = strchr(host, ':') != NULL;
	return g_strdup_printf("smtp:%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", l->port);
}

static int
read_deliver(HmCfgCtx *ctx, const config_setting_t *g, HmFetcherConf *f,
             const HmRelayConf *relay, GError **err)
{
	g_autofree char *v = NULL;
	g_autoptr(GError) lerr = NULL;
	const config_setting_t *s = g != NULL ? config_setting_get_member(g, "deliver") : NULL;
	HmListenSpec spec;
	const char *rest;

	if (hm_cfg_string(ctx, g, "deliver", &v, err) < 0)
		return -1;
	if (v == NULL)
		v = default_deliver(relay);
	if (strcmp(v, "local") == 0) {
		f->deliver_kind = HM_DELIVER_LOCAL;
		return 0;
	}
	if (g_str_has_prefix(v, "smtp:"))
		f->deliver_kind = HM_DELIVER_SMTP;
	else if (g_str_has_prefix(v, "lmtp:"))
		f->deliver_kind = HM_DELIVER_LMTP;
	else
		return hm_cfg_fail(ctx, s, err, "must be \"smtp:HOST:PORT\", \"lmtp:HOST:PORT\", "
		                   "\"lmtp:/path/socket\" or \"local\"");
	rest = v + 5;
	if (f->deliver_kind == HM_DELIVER_LMTP && strchr(rest, '/') != NULL && rest[0] != '[') {
		f->deliver_socket = g_canonicalize_filename(rest, ctx->dir);
		return 0;
	}
	if (hm_listen_spec_parse(rest, &spec, &lerr) < 0)
		return hm_cfg_fail(ctx, s, err, "%s", lerr->message);
	f->deliver_host = g_steal_pointer(&spec.host);
	f->deliver_port = spec.port;
	if (spec.tls)
		return hm_cfg_fail(ctx, s, err, "\"/tls\" is not supported here");
	return 0;
}

/* `to` names a local user or alias, or is an address. */
static int
read_account_to(HmCfgCtx *ctx, const config_setting_t *g, const HmConfig *cfg,
                HmAccountConf *a, GError **err)
{
	const config_setting_t *s;

	if (hm_cfg_required_string(ctx, g, "to", &a->to, err) < 0)
		return -1;
	s = config_setting_get_member(g, "to");
	if (strchr(a->to, '@') != NULL) {
		g_autofree char *text = g_steal_pointer(&a->to);

		return hm_cfg_address_value(ctx, s, text, &a->to, err);
	}
	if (hm_config_find_user(cfg, a->to) == NULL && !is_alias(cfg, a->to))
		return hm_cfg_fail(ctx, s, err, "no user or alias \"%s\"", a->to);
	return 0;
}

static int
read_account(HmCfgCtx *ctx, const config_setting_t *g, const HmConfig *cfg, HmAccountConf *a,
             GError **err)
{
	static const char *const keys[] = {
		"name", "protocol", "host", "port", "tls", "allow_plaintext", "ca_file",
		"fingerprint", "user", "password", "password_file", "auth", "oauth2", "folders",
		"keep", "idle", "max_size", "to", NULL,
	};
	static const char *const protos[] = { "pop3", "imap", NULL };
	EndpointDefaults def = { 993, 143, HM_TLS_MODE_TLS };
	int proto = -1;
	guint64 max = 0;

	hm_cfg_check_keys(ctx, g, keys);
	a->line = (int)config_setting_source_line(g);
	if (hm_cfg_pick(ctx, g, "protocol", protos, &proto, err) < 0)
		return -1;
	if (proto < 0)
		return hm_cfg_fail_at(ctx, g, "protocol", err, "required (\"pop3\" or \"imap\")");
	a->protocol = (HmFetchProto)proto;
	if (a->protocol == HM_PROTO_POP3) {
		def.tls_port = 995;
		def.plain_port = 110;
	}
	if (endpoint_read(ctx, g, &a->name, &def, &a->ep, err) < 0 ||
	    hm_cfg_read_auth(ctx, g, TRUE, &a->ep, err) < 0 ||
	    hm_cfg_strv(ctx, g, "folders", &a->folders, err) < 0 ||
	    hm_cfg_bool(ctx, g, "keep", &a->keep, err) < 0 ||
	    hm_cfg_bool(ctx, g, "idle", &a->idle, err) < 0 ||
	    hm_cfg_uint(ctx, g, "max_size", 0, G_MAXINT64, &max, err) < 0 ||
	    read_account_to(ctx, g, cfg, a, err) < 0)
		return -1;
	a->max_size = max;
	if (a->folders == NULL || a->folders[0] == NULL) {
		const char *const inbox[] = { "INBOX", NULL };

		if (a->folders != NULL)
			hm_cfg_warn(ctx, config_setting_get_member(g, "folders"), "empty; using INBOX");
		g_strfreev(a->folders);
		a->folders = g_strdupv((char **)inbox);
	}
	if (a->protocol == HM_PROTO_POP3 && config_setting_get_member(g, "folders") != NULL &&
	    (g_strv_length(a->folders) != 1 || g_ascii_strcasecmp(a->folders[0], "INBOX") != 0))
		return hm_cfg_fail(ctx, config_setting_get_member(g, "folders"), err,
		                   "POP3 has only INBOX");
	if (a->protocol == HM_PROTO_POP3 && a->idle)
		hm_cfg_warn(ctx, config_setting_get_member(g, "idle"), "ignored for POP3");
	return 0;
}

static int
read_fetcher(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	static const char *const keys[] = { "interval", "deliver", "accounts", NULL };
	HmFetcherConf *f = &cfg->fetcher;
	const config_setting_t *g, *list;
	g_autofree const char **names = NULL;
	guint64 interval = 300;

	if (hm_cfg_group(ctx, root, "fetcher", &g, err) < 0)
		return -1;
	hm_cfg_check_keys(ctx, g, keys);
	if (hm_cfg_uint(ctx, g, "interval", HM_CFG_INTERVAL_MIN, HM_CFG_INTERVAL_MAX, &interval,
	                err) < 0 ||
	    read_deliver(ctx, g, f, &cfg->relay, err) < 0 ||
	    hm_cfg_group_list(ctx, g, "accounts", &list, err) < 0)
		return -1;
	f->interval = (guint)interval;
	if (list == NULL)
		return 0;
	f->n_accounts = (gsize)config_setting_length(list);
	f->accounts = g_new0(HmAccountConf, f->n_accounts);
	names = g_new0(const char *, f->n_accounts + 1);
	for (guint i = 0; i < f->n_accounts; i++) {
		if (read_account(ctx, config_setting_get_elem(list, i), cfg, &f->accounts[i], err) < 0 ||
		    check_unique(ctx, list, i, f->accounts[i].name, names, err) < 0)
			return -1;
		names[i] = f->accounts[i].name;
	}
	return 0;
}

/* --- popd ---------------------------------------------------------------- */

static int
read_popd(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	static const char *const keys[] = { "listen", "allow_plaintext_from", NULL };
	HmPopdConf *p = &cfg->popd;
	const config_setting_t *g;

	if (hm_cfg_group(ctx, root, "popd", &g, err) < 0)
		return -1;
	p->present = g != NULL;
	hm_cfg_check_keys(ctx, g, keys);
	return read_listen(ctx, g, default_popd_listen, cfg->tls_cert != NULL, &p->listen,
	                   &p->n_listen, err) < 0 ||
	       read_cidrs(ctx, g, "allow_plaintext_from", &p->allow_plaintext_from,
	                  &p->n_allow_plaintext_from, err) < 0 ? -1 : 0;
}

/* --- the top level ------------------------------------------------------- */

static int
read_tls(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	static const char *const keys[] = { "cert", "key", "profile", NULL };
	/* In the order of HmTlsProfile. */
	static const char *const profiles[] = { "intermediate", "modern", "old", NULL };
	const config_setting_t *g;
	int profile = HM_TLS_PROFILE_INTERMEDIATE;

	if (hm_cfg_group(ctx, root, "tls", &g, err) < 0)
		return -1;
	if (g == NULL)
		return 0;
	hm_cfg_check_keys(ctx, g, keys);
	if (hm_cfg_path(ctx, g, "cert", &cfg->tls_cert, err) < 0 ||
	    hm_cfg_path(ctx, g, "key", &cfg->tls_key, err) < 0 ||
	    hm_cfg_pick(ctx, g, "profile", profiles, &profile, err) < 0)
		return -1;
	cfg->tls_profile = (HmTlsProfile)profile;
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		return hm_cfg_fail_at(ctx, g, cfg->tls_cert == NULL ? "cert" : "key", err,
		                      "required with %s", cfg->tls_cert == NULL ? "key" : "cert");
	if (cfg->tls_key != NULL)
		hm_cfg_check_secret_path(ctx, config_setting_get_member(g, "key"), cfg->tls_key);
	return 0;
}

static int
read_basics(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	static const char *const logs[] = { "stderr", "syslog", NULL };
	int log = 0;

	if (hm_cfg_required_string(ctx, root, "hostname", &cfg->hostname, err) < 0)
		return -1;
	if (!hm_cfg_valid_domain(cfg->hostname))
		return hm_cfg_fail(ctx, config_setting_get_member(root, "hostname"), err,
		                   "\"%s\" is not a domain name", cfg->hostname);
	hm_cfg_lower_in_place(cfg->hostname);
	cfg->state_dir = g_strdup(DEFAULT_STATE_DIR);
	if (hm_cfg_path(ctx, root, "state_dir", &cfg->state_dir, err) < 0)
		return -1;
	cfg->mail_dir = g_build_filename(cfg->state_dir, "mail", NULL);
	if (hm_cfg_path(ctx, root, "mail_dir", &cfg->mail_dir, err) < 0 ||
	    hm_cfg_string(ctx, root, "run_as", &cfg->run_as, err) < 0 ||
	    hm_cfg_pick(ctx, root, "log", logs, &log, err) < 0)
		return -1;
	if (cfg->run_as != NULL && *cfg->run_as == '\0')
		return hm_cfg_fail(ctx, config_setting_get_member(root, "run_as"), err,
		                   "must not be empty (leave it out to stay as started)");
	/* Read before any secret: the warnings about who can read them
	 * depend on it. */
	ctx->run_as = cfg->run_as;
	cfg->use_syslog = log == 1;
	return 0;
}

int
hm_cfg_read_root(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg, GError **err)
{
	static const char *const keys[] = {
		"hostname", "state_dir", "mail_dir", "local_domains", "tls", "run_as", "log",
		"users", "aliases", "relay", "fetcher", "popd", "dyndns", NULL,
	};

	hm_cfg_check_keys(ctx, root, keys);
	if (read_basics(ctx, root, cfg, err) < 0 ||
	    read_local_domains(ctx, root, cfg, err) < 0 ||
	    read_tls(ctx, root, cfg, err) < 0 ||
	    read_users(ctx, root, cfg, err) < 0 ||
	    read_aliases(ctx, root, cfg, err) < 0 ||
	    read_relay(ctx, root, cfg, err) < 0 ||
	    read_fetcher(ctx, root, cfg, err) < 0 ||
	    read_popd(ctx, root, cfg, err) < 0 ||
	    hm_cfg_read_dyndns(ctx, root, &cfg->dyndns, err) < 0)
		return -1;
	return 0;
}
