/* The loader: reading the file with libconfig, messages with file:line and
 * key path, the typed getters the schema uses, and freeing. */
#include <config.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

#include "lib/address.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "conf/config-private.h"

/* --- messages ------------------------------------------------------------ */

char *
hm_cfg_key(const config_setting_t *s)
{
	GString *key = g_string_new(NULL);

	for (; s != NULL && !config_setting_is_root(s); s = config_setting_parent(s)) {
		g_autofree char *part = NULL;

		if (config_setting_name(s) != NULL)
			part = g_strdup(config_setting_name(s));
		else
			part = g_strdup_printf("[%d]", config_setting_index(s));
		if (key->len > 0)
			g_string_prepend_c(key, '.');
		g_string_prepend(key, part);
	}
	return g_string_free(key, FALSE);
}

static const char *
setting_file(HmCfgCtx *ctx, const config_setting_t *s)
{
	const char *f = s != NULL ? config_setting_source_file(s) : NULL;

	return f != NULL ? f : ctx->file;
}

/* "FILE:LINE: KEY: MSG", or "FILE: KEY: MSG" when s is the root (line 0). */
static char *
format_at(HmCfgCtx *ctx, const config_setting_t *s, const char *key, const char *msg)
{
	guint line = s != NULL ? config_setting_source_line(s) : 0;

	if (line == 0)
		return g_strdup_printf("%s: %s: %s", setting_file(ctx, s), key, msg);
	return g_strdup_printf("%s:%u: %s: %s", setting_file(ctx, s), line, key, msg);
}

static void
emit_warning(HmCfgCtx *ctx, const char *line)
{
	if (ctx->warn != NULL)
		ctx->warn(line, ctx->warn_data);
	else
		hm_warn("%s", line);
}

/* The message line for setting s (or, with name, for its absent member). */
static char *vline(HmCfgCtx *ctx, const config_setting_t *s, const char *name, const char *fmt,
                   va_list ap) G_GNUC_PRINTF(4, 0);

static char *
vline(HmCfgCtx *ctx, const config_setting_t *s, const char *name, const char *fmt, va_list ap)
{
	g_autofree char *msg = g_strdup_vprintf(fmt, ap), *key = hm_cfg_key(s);

	if (name != NULL) {
		char *full = *key != '\0' ? g_strconcat(key, ".", name, NULL) : g_strdup(name);

		g_free(key);
		key = full;
	}
	return format_at(ctx, s, key, msg);
}

void
hm_cfg_warn(HmCfgCtx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	g_autofree char *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	line = vline(ctx, s, NULL, fmt, ap);
	va_end(ap);
	emit_warning(ctx, line);
}

int
hm_cfg_fail(HmCfgCtx *ctx, const config_setting_t *s, GError **err, const char *fmt, ...)
{
	g_autofree char *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	line = vline(ctx, s, NULL, fmt, ap);
	va_end(ap);
	g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE, line);
	return -1;
}

int
hm_cfg_fail_at(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
               GError **err, const char *fmt, ...)
{
	g_autofree char *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	line = vline(ctx, group, name, fmt, ap);
	va_end(ap);
	g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE, line);
	return -1;
}

void
hm_cfg_check_keys(HmCfgCtx *ctx, const config_setting_t *group, const char *const *known)
{
	for (int i = 0; group != NULL && i < config_setting_length(group); i++) {
		const config_setting_t *m = config_setting_get_elem(group, (guint)i);

		if (!g_strv_contains(known, config_setting_name(m)))
			hm_cfg_warn(ctx, m, "unknown key");
	}
}

/* --- typed getters ------------------------------------------------------- */

/* An absent section reads as an empty one: every getter then returns its
 * default, so readers need no separate "section missing" branch. */
const config_setting_t *
hm_cfg_member(const config_setting_t *group, const char *name)
{
	return group != NULL ? config_setting_get_member(group, name) : NULL;
}

int
hm_cfg_string(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
              char **out, GError **err)
{
	const config_setting_t *s = hm_cfg_member(group, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return hm_cfg_fail(ctx, s, err, "must be a string");
	g_free(*out);
	*out = g_strdup(config_setting_get_string(s));
	return 0;
}

int
hm_cfg_bool(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
            gboolean *out, GError **err)
{
	const config_setting_t *s = hm_cfg_member(group, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return hm_cfg_fail(ctx, s, err, "must be a boolean (true or false)");
	*out = config_setting_get_bool(s) ? TRUE : FALSE;
	return 0;
}

char *
hm_cfg_wrapped_key(const char *file, guint line, const char *name)
{
	return g_strdup_printf("%s\n%u\n%s", file, line, name);
}

int
hm_cfg_uint(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
            guint64 min, guint64 max, guint64 *out, GError **err)
{
	const config_setting_t *s = hm_cfg_member(group, name);
	g_autofree char *wk = NULL;
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return hm_cfg_fail(ctx, s, err, "must be an integer");
	wk = hm_cfg_wrapped_key(setting_file(ctx, s), config_setting_source_line(s), name);
	v = config_setting_get_int64(s);
	if ((config_setting_type(s) == CONFIG_TYPE_INT && g_hash_table_contains(ctx->wrapped, wk)) ||
	    v < 0 || (guint64)v < min || (guint64)v > max)
		return hm_cfg_fail(ctx, s, err, "must be %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT,
		                   min, max);
	*out = (guint64)v;
	return 0;
}

int
hm_cfg_path(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
            char **out, GError **err)
{
	g_autofree char *s = NULL;

	if (hm_cfg_string(ctx, group, name, &s, err) < 0)
		return -1;
	if (s == NULL || *s == '\0')
		return 0;
	g_free(*out);
	*out = g_canonicalize_filename(s, ctx->dir);
	return 0;
}

int
hm_cfg_list(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
            const config_setting_t **out, GError **err)
{
	const config_setting_t *s = hm_cfg_member(group, name);

	*out = NULL;
	if (s == NULL)
		return 0;
	if (!config_setting_is_list(s) && !config_setting_is_array(s))
		return hm_cfg_fail(ctx, s, err, "must be a list ([ \"...\", ... ])");
	*out = s;
	return 0;
}

int
hm_cfg_group_list(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                  const config_setting_t **out, GError **err)
{
	const config_setting_t *s = hm_cfg_member(group, name);

	*out = NULL;
	if (s == NULL)
		return 0;
	if (!config_setting_is_list(s) && !(config_setting_is_array(s) && config_setting_length(s) == 0))
		return hm_cfg_fail(ctx, s, err, "must be a list of groups ( { ... }, ... )");
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (guint)i);

		if (!config_setting_is_group(e))
			return hm_cfg_fail(ctx, e, err, "must be a group ({ ... })");
	}
	*out = s;
	return 0;
}

int
hm_cfg_group(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
             const config_setting_t **out, GError **err)
{
	const config_setting_t *s = hm_cfg_member(group, name);

	*out = NULL;
	if (s == NULL)
		return 0;
	if (!config_setting_is_group(s))
		return hm_cfg_fail(ctx, s, err, "must be a group ({ ... })");
	*out = s;
	return 0;
}

int
hm_cfg_elem_string(HmCfgCtx *ctx, const config_setting_t *elem, const char **out,
                   GError **err)
{
	if (config_setting_type(elem) != CONFIG_TYPE_STRING)
		return hm_cfg_fail(ctx, elem, err, "must be a string");
	*out = config_setting_get_string(elem);
	return 0;
}

int
hm_cfg_strv(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
            char ***out, GError **err)
{
	const config_setting_t *list;
	g_autoptr(GStrvBuilder) b = NULL;

	if (hm_cfg_list(ctx, group, name, &list, err) < 0)
		return -1;
	if (list == NULL)
		return 0;
	b = g_strv_builder_new();
	for (int i = 0; i < config_setting_length(list); i++) {
		const char *v = NULL;

		if (hm_cfg_elem_string(ctx, config_setting_get_elem(list, (guint)i), &v, err) < 0)
			return -1;
		g_strv_builder_add(b, v);
	}
	g_strfreev(*out);
	*out = g_strv_builder_end(b);
	return 0;
}

/* --- load and free ------------------------------------------------------- */

static void
syntax_error(const char *path, const config_t *lc, GError **err)
{
	const char *file = config_error_file(lc) != NULL ? config_error_file(lc) : path;
	const char *text = config_error_text(lc) != NULL ? config_error_text(lc) : "unknown";

	if (strcmp(text, "syntax error") == 0)
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s:%d: syntax error", file,
		            config_error_line(lc));
	else
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s:%d: syntax error: %s", file,
		            config_error_line(lc), text);
}

/* Parses the files read into ctx->files and reads their settings; abs
 * (taken) is the main file's absolute path. */
static HmConfig *
parse(HmCfgCtx *ctx, const char *path, char *abs, GError **err)
{
	config_t lc;
	HmConfig *cfg = NULL;

	config_init(&lc);
	config_set_include_dir(&lc, ctx->dir);
	if (!config_read_file(&lc, path)) {
		syntax_error(path, &lc, err);
		g_free(abs);
	} else {
		hm_cfg_scan_wrapped(ctx);
		cfg = g_new0(HmConfig, 1);
		cfg->file = abs;
		if (hm_cfg_read_root(ctx, config_root_setting(&lc), cfg, err) < 0)
			g_clear_pointer(&cfg, hm_config_free);
	}
	config_destroy(&lc);
	return cfg;
}

HmConfig *
hm_config_load_flags(const char *path, guint flags, HmConfigWarnFunc warn,
                     gpointer warn_data, GError **err)
{
	char *abs = g_canonicalize_filename(path, NULL);
	HmCfgCtx ctx = { .file = path, .flags = flags, .warn = warn, .warn_data = warn_data };
	HmConfig *cfg = NULL;

	ctx.dir = g_path_get_dirname(abs);
	ctx.wrapped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	ctx.files = g_ptr_array_new_with_free_func(hm_cfg_file_free);
	/* Every file libconfig is about to open is read first: see
	 * config-files.c. */
	if (hm_cfg_read_files(&ctx, path, err) == 0)
		cfg = parse(&ctx, path, g_steal_pointer(&abs), err);
	g_free(abs);
	g_ptr_array_unref(ctx.files);
	g_hash_table_unref(ctx.wrapped);
	g_free(ctx.dir);
	return cfg;
}

HmConfig *
hm_config_load(const char *path, HmConfigWarnFunc warn, gpointer warn_data, GError **err)
{
	return hm_config_load_flags(path, 0, warn, warn_data, err);
}

static void
listen_free(HmListenSpec *l, gsize n)
{
	for (gsize i = 0; i < n; i++)
		hm_listen_spec_clear(&l[i]);
	g_free(l);
}

static void
relay_clear(HmRelayConf *r)
{
	listen_free(r->listen, r->n_listen);
	g_free(r->trusted_networks);
	g_free(r->allow_plaintext_from);
	for (gsize i = 0; i < r->n_smarthosts; i++) {
		HmSmarthostConf *h = &r->smarthosts[i];

		g_free(h->name);
		hm_endpoint_clear(&h->ep);
		g_strfreev(h->senders);
	}
	g_free(r->smarthosts);
	g_strfreev(r->dnsbl);
	g_free(r->dns_resolver);
}

static void
fetcher_clear(HmFetcherConf *f)
{
	g_free(f->deliver_host);
	g_free(f->deliver_socket);
	for (gsize i = 0; i < f->n_accounts; i++) {
		HmAccountConf *a = &f->accounts[i];

		g_free(a->name);
		hm_endpoint_clear(&a->ep);
		g_strfreev(a->folders);
		g_free(a->to);
	}
	g_free(f->accounts);
}

static void
dyndns_clear(HmDyndnsConf *d)
{
	g_strfreev(d->detect);
	g_strfreev(d->detect_url4);
	g_strfreev(d->detect_url6);
	g_free(d->ca_file);
	g_free(d->router_url);
	for (gsize i = 0; i < d->n_records; i++) {
		HmDnsRecordConf *r = &d->records[i];

		g_free(r->provider);
		g_free(r->server);
		g_free(r->zone);
		g_free(r->hostname);
		g_free(r->user);
		hm_secret_clear(&r->password);
		g_free(r->tsig_name);
		g_free(r->tsig_algorithm);
		hm_secret_clear(&r->tsig_secret);
		g_free(r->ca_file);
	}
	g_free(d->records);
}

void
hm_config_free(HmConfig *cfg)
{
	if (cfg == NULL)
		return;
	g_free(cfg->file);
	g_free(cfg->hostname);
	g_free(cfg->state_dir);
	g_free(cfg->mail_dir);
	g_strfreev(cfg->local_domains);
	g_free(cfg->tls_cert);
	g_free(cfg->tls_key);
	g_free(cfg->run_as);
	for (gsize i = 0; i < cfg->n_users; i++) {
		g_free(cfg->users[i].name);
		g_free(cfg->users[i].password_hash);
		g_strfreev(cfg->users[i].addresses);
		g_free(cfg->users[i].send_as);
	}
	g_free(cfg->users);
	for (gsize i = 0; i < cfg->n_aliases; i++) {
		g_free(cfg->aliases[i].name);
		g_free(cfg->aliases[i].target);
	}
	g_free(cfg->aliases);
	relay_clear(&cfg->relay);
	fetcher_clear(&cfg->fetcher);
	listen_free(cfg->popd.listen, cfg->popd.n_listen);
	g_free(cfg->popd.allow_plaintext_from);
	dyndns_clear(&cfg->dyndns);
	g_free(cfg);
}

const char *
hm_config_default_path(void)
{
	return SYSCONFDIR "/homemail/homemail.conf";
}

const HmUserConf *
hm_config_find_user(const HmConfig *cfg, const char *name)
{
	for (gsize i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

const HmUserConf *
hm_config_match_user(const HmConfig *cfg, const char *name)
{
	const HmUserConf *u = hm_config_find_user(cfg, name);

	/* Names are ASCII (letters, digits, '.', '_', '-'). */
	for (gsize i = 0; u == NULL && i < cfg->n_users; i++)
		if (g_ascii_strcasecmp(cfg->users[i].name, name) == 0)
			u = &cfg->users[i];
	return u;
}

const HmListenSpec *
hm_config_relay_local(const HmRelayConf *relay, const char **host)
{
	for (gsize i = 0; i < relay->n_listen; i++) {
		const HmListenSpec *l = &relay->listen[i];

		if (l->tls)
			continue;
		if (strcmp(l->host, "0.0.0.0") == 0)
			*host = "127.0.0.1";
		else if (strcmp(l->host, "::") == 0)
			*host = "::1";
		else
			*host = l->host;
		return l;
	}
	return NULL;
}

gboolean
hm_config_is_local_domain(const HmConfig *cfg, const char *domain)
{
	for (char **d = cfg->local_domains; d != NULL && *d != NULL; d++)
		if (g_ascii_strcasecmp(*d, domain) == 0)
			return TRUE;
	return FALSE;
}

gboolean
hm_cfg_valid_domain(const char *s)
{
	gsize len = strlen(s), label = 0;

	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return FALSE;
	for (gsize i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return FALSE;
			label = 0;
		} else if (g_ascii_isalnum(s[i]) || s[i] == '-') {
			label++;
		} else {
			return FALSE;
		}
	}
	return TRUE;
}
/* --- small validators ---------------------------------------------------- */

gboolean
hm_cfg_is_ip_literal(const char *s)
{
	guint8 buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

gboolean
hm_cfg_valid_host(const char *s)
{
	return hm_cfg_is_ip_literal(s) || hm_cfg_valid_domain(s);
}

/* User and alias names become directory names under mail_dir, so no '/',
 * no leading '.', nothing a shell or a Maildir would trip over. */
gboolean
hm_cfg_valid_name(const char *s)
{
	gsize len = strlen(s);

	if (len == 0 || len > 64 || s[0] == '.' || s[0] == '-')
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && strchr("._-", s[i]) == NULL)
			return FALSE;
	return TRUE;
}

/* One of choices (a NULL-terminated list); *out is its index. */
int
hm_cfg_pick(HmCfgCtx *ctx, const config_setting_t *g, const char *name, const char *const *choices,
     int *out, GError **err)
{
	g_autofree char *v = NULL;
	g_autoptr(GString) msg = NULL;

	if (hm_cfg_string(ctx, g, name, &v, err) < 0)
		return -1;
	if (v == NULL)
		return 0;
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(v, choices[i]) == 0) {
			*out = i;
			return 0;
		}
	msg = g_string_new("must be ");
	for (int i = 0; choices[i] != NULL; i++)
		g_string_append_printf(msg, "%s\"%s\"", i == 0 ? "" : choices[i + 1] ? ", " : " or ",
		                       choices[i]);
	return hm_cfg_fail(ctx, config_setting_get_member(g, name), err, "%s", msg->str);
}

int
hm_cfg_required_string(HmCfgCtx *ctx, const config_setting_t *g, const char *name, char **out,
                GError **err)
{
	if (hm_cfg_string(ctx, g, name, out, err) < 0)
		return -1;
	if (*out == NULL)
		return hm_cfg_fail_at(ctx, g, name, err, "required");
	if (**out == '\0')
		return hm_cfg_fail(ctx, config_setting_get_member(g, name), err, "must not be empty");
	return 0;
}

/* An address in canonical form (domain lower-cased) in *out. */
int
hm_cfg_address_value(HmCfgCtx *ctx, const config_setting_t *s, const char *text, char **out,
              GError **err)
{
	g_autoptr(GError) aerr = NULL;
	HmAddress a;

	if (hm_address_parse(text, strlen(text), 0, &a, &aerr) < 0)
		return hm_cfg_fail(ctx, s, err, "\"%s\": %s", text, aerr->message);
	g_free(*out);
	*out = hm_address_format(&a);
	hm_address_clear(&a);
	return 0;
}

int
hm_cfg_address_member(HmCfgCtx *ctx, const config_setting_t *g, const char *name, char **out,
               GError **err)
{
	g_autofree char *v = NULL;

	if (hm_cfg_string(ctx, g, name, &v, err) < 0)
		return -1;
	if (v == NULL)
		return 0;
	return hm_cfg_address_value(ctx, config_setting_get_member(g, name), v, out, err);
}

int
hm_cfg_host_member(HmCfgCtx *ctx, const config_setting_t *g, const char *name, char **out,
            GError **err)
{
	if (hm_cfg_required_string(ctx, g, name, out, err) < 0)
		return -1;
	if (!hm_cfg_valid_host(*out))
		return hm_cfg_fail(ctx, config_setting_get_member(g, name), err,
		                   "\"%s\" is not a host name or IP address", *out);
	return 0;
}

