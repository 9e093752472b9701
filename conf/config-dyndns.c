/* The schema of the dyndns section: providers and their required keys. */
#include <config.h>

#include <string.h>

#include "lib/base64.h"
#include "lib/error.h"
#include "lib/net.h"
#include "conf/config-private.h"

/* A TSIG secret: canonical base64 of at least one byte. */
static gboolean
valid_base64_key(const char *text)
{
	g_autoptr(GBytes) key = hm_base64_decode(text, strlen(text), NULL);

	return key != NULL && g_bytes_get_size(key) > 0;
}

/* A TSIG key name is a domain name, but BIND's keys are often named
 * "host_key": '_' is allowed, as it is in DNS names. */
static gboolean
valid_key_name(const char *s)
{
	gsize len = strlen(s), label = 0;

	if (len == 0 || len > 253 || s[0] == '.')
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return FALSE;
			label = 0;
		} else if ((g_ascii_isalnum(s[i]) || s[i] == '-' || s[i] == '_') && ++label <= 63) {
			continue;
		} else {
			return FALSE;
		}
	}
	return TRUE;
}

enum {
	HM_DYN_PROVIDER_DYNDNS2,
	HM_DYN_PROVIDER_DUCKDNS,
	HM_DYN_PROVIDER_CLOUDFLARE,
	HM_DYN_PROVIDER_RFC2136,
};

/* The zone must hold the host name: a DNS server refuses (NOTZONE) an
 * update of a name outside the zone it is sent to. */
static gboolean
in_zone(const char *host, const char *zone)
{
	gsize h = strlen(host), z = strlen(zone);

	return g_ascii_strcasecmp(host, zone) == 0 ||
	       (h > z && host[h - z - 1] == '.' && g_ascii_strcasecmp(host + h - z, zone) == 0);
}

/* The server is "HOST[:PORT]" (IPv6 in brackets); absent, the zone's
 * primary (SOA MNAME) is asked through the system's resolvers. */
static int
rfc2136_server(HmCfgCtx *ctx, const config_setting_t *g, const HmDnsRecordConf *r,
               GError **err)
{
	g_autoptr(GError) perr = NULL;
	g_autofree char *host = NULL;
	guint16 port;

	if (r->server == NULL)
		return 0;
	if (hm_host_port_parse(r->server, 53, &host, &port, &perr) < 0)
		return hm_cfg_fail(ctx, hm_cfg_member(g, "server"), err, "%s", perr->message);
	if (!hm_cfg_valid_host(host))
		return hm_cfg_fail(ctx, hm_cfg_member(g, "server"), err,
		                   "\"%s\" is not a host name or IP address", host);
	return 0;
}

static int
rfc2136_requirements(HmCfgCtx *ctx, const config_setting_t *g, HmDnsRecordConf *r,
                     GError **err)
{
	const config_setting_t *sec;

	if (!hm_cfg_valid_domain(r->hostname) || hm_cfg_is_ip_literal(r->hostname))
		return hm_cfg_fail(ctx, hm_cfg_member(g, "hostname"), err,
		                   "\"%s\" is not a domain name (rfc2136 updates a name in a zone)",
		                   r->hostname);
	if (r->zone == NULL && strchr(r->hostname, '.') == NULL)
		return hm_cfg_fail_at(ctx, g, "zone", err,
		                      "required: \"%s\" has no parent domain to use as the zone",
		                      r->hostname);
	if (r->zone != NULL && !hm_cfg_valid_domain(r->zone))
		return hm_cfg_fail(ctx, hm_cfg_member(g, "zone"), err,
		                   "\"%s\" is not a domain name", r->zone);
	if (r->zone != NULL && !in_zone(r->hostname, r->zone))
		return hm_cfg_fail(ctx, hm_cfg_member(g, "zone"), err,
		                   "hostname \"%s\" is not inside zone \"%s\"", r->hostname, r->zone);
	if (rfc2136_server(ctx, g, r, err) < 0)
		return -1;
	if (r->tsig_name == NULL)
		return hm_cfg_fail_at(ctx, g, "tsig_name", err, "required for rfc2136");
	if (!valid_key_name(r->tsig_name))
		return hm_cfg_fail(ctx, hm_cfg_member(g, "tsig_name"), err,
		                   "\"%s\" is not a key name (a domain name, as in BIND's key "
		                   "\"NAME\" { })",
		                   r->tsig_name);
	if (r->tsig_secret.value == NULL && r->tsig_secret.file == NULL)
		return hm_cfg_fail_at(ctx, g, "tsig_secret_file", err, "required for rfc2136");
	/* Checked here rather than at the first update: a typo must show
	 * with its line. The value itself is never printed. */
	if (r->tsig_secret.value != NULL && !valid_base64_key(r->tsig_secret.value)) {
		sec = hm_cfg_member(g, "tsig_secret") != NULL ? hm_cfg_member(g, "tsig_secret")
		                                              : hm_cfg_member(g, "tsig_secret_file");
		return hm_cfg_fail(ctx, sec, err,
		                   "the TSIG secret is not base64 (the secret \"...\" of a BIND key "
		                   "file, as tsig-keygen writes it)");
	}
	return 0;
}

/* What each provider cannot work without. */
static int
record_requirements(HmCfgCtx *ctx, const config_setting_t *g, HmDnsRecordConf *r,
                    GError **err)
{
	gboolean rfc2136 = strcmp(r->provider, "rfc2136") == 0;
	gboolean dyndns2 = strcmp(r->provider, "dyndns2") == 0;

	if (dyndns2 && r->server == NULL)
		return hm_cfg_fail_at(ctx, g, "server", err, "required for %s", r->provider);
	/* Without a zone, cloudflare finds it among the host name's parents and
	 * rfc2136 takes the host name's parent domain. */
	if (dyndns2 && r->user == NULL)
		return hm_cfg_fail_at(ctx, g, "user", err, "required for dyndns2");
	if (!rfc2136 && r->password.value == NULL && r->password.file == NULL)
		return hm_cfg_fail_at(ctx, g, dyndns2 ? "password_file" : "token_file", err,
		                      "required for %s (or %s)", r->provider,
		                      dyndns2 ? "password" : "token");
	if (rfc2136 && rfc2136_requirements(ctx, g, r, err) < 0)
		return -1;
	if (!r->ipv4 && !r->ipv6)
		return hm_cfg_fail_at(ctx, g, "ipv4", err, "ipv4 and ipv6 are both false");
	return 0;
}

/* dyndns2 signs in with user and password; duckdns and cloudflare with
 * an API token (token, token_file; password is accepted for it too). */
static int
read_credential(HmCfgCtx *ctx, const config_setting_t *g, int prov, HmSecret *out,
                GError **err)
{

	const config_setting_t *t = hm_cfg_member(g, "token") != NULL ? hm_cfg_member(g, "token")
	                                                              : hm_cfg_member(g, "token_file");

	if (t != NULL && (prov == HM_DYN_PROVIDER_DYNDNS2 || prov == HM_DYN_PROVIDER_RFC2136))
		return hm_cfg_fail(ctx, t, err, "not used by this provider");
	if (t != NULL && (hm_cfg_member(g, "password") || hm_cfg_member(g, "password_file")))
		return hm_cfg_fail(ctx, t, err, "give a token or a password, not both");
	if (t != NULL)
		return hm_cfg_secret(ctx, g, "token", "token_file", out, err);
	return hm_cfg_secret(ctx, g, "password", "password_file", out, err);
}

static int
read_record(HmCfgCtx *ctx, const config_setting_t *g, HmDnsRecordConf *r, GError **err)
{
	static const char *const keys[] = {
		"provider", "server", "zone", "hostname", "user", "password", "password_file",
		"token", "token_file", "tsig_name", "tsig_algorithm", "tsig_secret",
		"tsig_secret_file", "ttl", "ipv4", "ipv6", "ca_file", NULL,
	};
	/* In the order of HM_DYN_PROVIDER_*. */
	static const char *const providers[] = { "dyndns2", "duckdns", "cloudflare", "rfc2136", NULL };
	static const char *const algs[] = {
		"hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", NULL,
	};
	int prov = -1, alg = 0;
	guint64 ttl;

	hm_cfg_check_keys(ctx, g, keys);
	r->line = (int)config_setting_source_line(g);
	r->ipv4 = TRUE;
	if (hm_cfg_pick(ctx, g, "provider", providers, &prov, err) < 0)
		return -1;
	if (prov < 0)
		return hm_cfg_fail_at(ctx, g, "provider", err, "required");
	r->provider = g_strdup(providers[prov]);
	/* Cloudflare's 1 means "automatic", its own default. */
	ttl = prov == HM_DYN_PROVIDER_CLOUDFLARE ? 1 : 60;
	if (hm_cfg_host_member(ctx, g, "hostname", &r->hostname, err) < 0 ||
	    hm_cfg_string(ctx, g, "server", &r->server, err) < 0 ||
	    hm_cfg_string(ctx, g, "zone", &r->zone, err) < 0 ||
	    hm_cfg_string(ctx, g, "user", &r->user, err) < 0 ||
	    read_credential(ctx, g, prov, &r->password, err) < 0 ||
	    hm_cfg_string(ctx, g, "tsig_name", &r->tsig_name, err) < 0 ||
	    hm_cfg_pick(ctx, g, "tsig_algorithm", algs, &alg, err) < 0 ||
	    hm_cfg_secret(ctx, g, "tsig_secret", "tsig_secret_file", &r->tsig_secret, err) < 0 ||
	    hm_cfg_uint(ctx, g, "ttl", 1, 86400, &ttl, err) < 0 ||
	    hm_cfg_bool(ctx, g, "ipv4", &r->ipv4, err) < 0 ||
	    hm_cfg_bool(ctx, g, "ipv6", &r->ipv6, err) < 0 ||
	    hm_cfg_path(ctx, g, "ca_file", &r->ca_file, err) < 0)
		return -1;
	hm_cfg_lower_in_place(r->hostname);
	r->tsig_algorithm = g_strdup(algs[alg]);
	r->ttl = (guint)ttl;
	return record_requirements(ctx, g, r, err);
}

/* A string or a list of strings, as a NULL-terminated vector (untouched
 * when absent); an empty string or list reads as absent. */
static int
string_or_list(HmCfgCtx *ctx, const config_setting_t *g, const char *name, char ***out,
               GError **err)
{
	const config_setting_t *s = hm_cfg_member(g, name);

	if (s != NULL && config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		g_strfreev(*out);
		*out = NULL;
		if (*v != '\0')
			*out = g_strdupv((char *[]){ (char *)v, NULL });
		return 0;
	}
	if (hm_cfg_strv(ctx, g, name, out, err) < 0)
		return -1;
	if (*out != NULL && (*out)[0] == NULL)
		g_clear_pointer(out, g_strfreev);
	return 0;
}

static int
check_urls(HmCfgCtx *ctx, const config_setting_t *g, const char *name, char ***urls,
           GError **err)
{
	if (string_or_list(ctx, g, name, urls, err) < 0)
		return -1;
	for (guint i = 0; *urls != NULL && (*urls)[i] != NULL; i++)
		if (!g_str_has_prefix((*urls)[i], "https://") &&
		    !g_str_has_prefix((*urls)[i], "http://"))
			return hm_cfg_fail(ctx, hm_cfg_member(g, name), err,
			                   "\"%s\" is not an http:// or https:// URL", (*urls)[i]);
	return 0;
}

/* One entry of dyndns.detect. */
static gboolean
valid_method(const char *m)
{
	if (strcmp(m, "web") == 0 || strcmp(m, "router") == 0)
		return TRUE;
	if (g_str_has_prefix(m, "interface:"))
		return strlen(m) > 10 && strlen(m) <= 10 + 15;
	if (g_str_has_prefix(m, "static:"))
		return hm_cfg_is_ip_literal(m + 7);
	return FALSE;
}

static int
read_detect(HmCfgCtx *ctx, const config_setting_t *g, HmDyndnsConf *d, GError **err)
{
	gboolean web = FALSE;

	if (string_or_list(ctx, g, "detect", &d->detect, err) < 0)
		return -1;
	if (d->detect == NULL)
		return hm_cfg_fail_at(ctx, g, "detect", err, "must name at least one method");
	for (guint i = 0; d->detect[i] != NULL; i++) {
		if (!valid_method(d->detect[i]))
			return hm_cfg_fail(ctx, hm_cfg_member(g, "detect"), err,
			                   "\"%s\" is not a detection method (\"router\", \"web\", "
			                   "\"interface:NAME\" or \"static:ADDRESS\")",
			                   d->detect[i]);
		web |= strcmp(d->detect[i], "web") == 0;
	}
	if (web && d->n_records > 0 && d->detect_url4 == NULL && d->detect_url6 == NULL)
		return hm_cfg_fail_at(ctx, g, "detect_url4", err,
		                      "detect \"web\" needs detect_url4 or detect_url6");
	return 0;
}

int
hm_cfg_read_dyndns(HmCfgCtx *ctx, const config_setting_t *root, HmDyndnsConf *d, GError **err)
{
	static const char *const keys[] = {
		"interval", "detect", "detect_url4", "detect_url6", "ca_file", "router_url",
		"allow_private", "refresh_days", "records", NULL,
	};
	const config_setting_t *g, *list;
	guint64 interval = 300, refresh = 25;

	d->interval = (guint)interval;
	d->refresh_days = (guint)refresh;
	d->detect = g_strdupv((char *[]){ "web", NULL });
	if (hm_cfg_group(ctx, root, "dyndns", &g, err) < 0)
		return -1;
	hm_cfg_check_keys(ctx, g, keys);
	if (hm_cfg_uint(ctx, g, "interval", HM_CFG_INTERVAL_MIN, HM_CFG_INTERVAL_MAX, &interval,
	                err) < 0 ||
	    hm_cfg_uint(ctx, g, "refresh_days", 1, 365, &refresh, err) < 0 ||
	    check_urls(ctx, g, "detect_url4", &d->detect_url4, err) < 0 ||
	    check_urls(ctx, g, "detect_url6", &d->detect_url6, err) < 0 ||
	    hm_cfg_path(ctx, g, "ca_file", &d->ca_file, err) < 0 ||
	    hm_cfg_string(ctx, g, "router_url", &d->router_url, err) < 0 ||
	    hm_cfg_bool(ctx, g, "allow_private", &d->allow_private, err) < 0 ||
	    hm_cfg_group_list(ctx, g, "records", &list, err) < 0)
		return -1;
	d->interval = (guint)interval;
	d->refresh_days = (guint)refresh;
	if (d->router_url != NULL && *d->router_url == '\0')
		g_clear_pointer(&d->router_url, g_free); /* "" means: discover the router */
	if (d->router_url != NULL && !g_str_has_prefix(d->router_url, "http://") &&
	    !g_str_has_prefix(d->router_url, "natpmp://"))
		return hm_cfg_fail(ctx, hm_cfg_member(g, "router_url"), err,
		                   "must be the router's UPnP description URL (http://...) or "
		                   "natpmp://GATEWAY");
	if (list != NULL) {
		d->n_records = (gsize)config_setting_length(list);
		d->records = g_new0(HmDnsRecordConf, d->n_records);
		for (guint i = 0; i < d->n_records; i++)
			if (read_record(ctx, config_setting_get_elem(list, i), &d->records[i],
			                err) < 0)
				return -1;
	}
	return read_detect(ctx, g, d, err);
}
