/* The schema of the dyndns section: providers and their required keys. */
#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "conf/config-private.h"

/* What each provider cannot work without. */
static int
record_requirements(HmCfgCtx *ctx, const config_setting_t *g, HmDnsRecordConf *r,
                    GError **err)
{
	gboolean rfc2136 = strcmp(r->provider, "rfc2136") == 0;
	gboolean dyndns2 = strcmp(r->provider, "dyndns2") == 0;

	if ((rfc2136 || dyndns2) && r->server == NULL)
		return hm_cfg_fail_at(ctx, g, "server", err, "required for %s", r->provider);
	if ((rfc2136 || strcmp(r->provider, "cloudflare") == 0) && r->zone == NULL)
		return hm_cfg_fail_at(ctx, g, "zone", err, "required for %s", r->provider);
	if (dyndns2 && r->user == NULL)
		return hm_cfg_fail_at(ctx, g, "user", err, "required for dyndns2");
	if (!rfc2136 && r->password.value == NULL && r->password.file == NULL)
		return hm_cfg_fail_at(ctx, g, "password_file", err, "required for %s (or password)",
		                      r->provider);
	if (rfc2136 && r->tsig_name == NULL)
		return hm_cfg_fail_at(ctx, g, "tsig_name", err, "required for rfc2136");
	if (rfc2136 && r->tsig_secret.value == NULL && r->tsig_secret.file == NULL)
		return hm_cfg_fail_at(ctx, g, "tsig_secret_file", err, "required for rfc2136");
	if (!r->ipv4 && !r->ipv6)
		return hm_cfg_fail_at(ctx, g, "ipv4", err, "ipv4 and ipv6 are both false");
	return 0;
}

static int
read_record(HmCfgCtx *ctx, const config_setting_t *g, HmDnsRecordConf *r, GError **err)
{
	static const char *const keys[] = {
		"provider", "server", "zone", "hostname", "user", "password", "password_file",
		"tsig_name", "tsig_algorithm", "tsig_secret", "tsig_secret_file", "ttl", "ipv4",
		"ipv6", "ca_file", NULL,
	};
	static const char *const providers[] = { "dyndns2", "duckdns", "cloudflare", "rfc2136", NULL };
	static const char *const algs[] = {
		"hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", NULL,
	};
	int prov = -1, alg = 0;
	guint64 ttl = 60;

	hm_cfg_check_keys(ctx, g, keys);
	r->line = (int)config_setting_source_line(g);
	r->ipv4 = TRUE;
	if (hm_cfg_pick(ctx, g, "provider", providers, &prov, err) < 0)
		return -1;
	if (prov < 0)
		return hm_cfg_fail_at(ctx, g, "provider", err, "required");
	r->provider = g_strdup(providers[prov]);
	if (hm_cfg_host_member(ctx, g, "hostname", &r->hostname, err) < 0 ||
	    hm_cfg_string(ctx, g, "server", &r->server, err) < 0 ||
	    hm_cfg_string(ctx, g, "zone", &r->zone, err) < 0 ||
	    hm_cfg_string(ctx, g, "user", &r->user, err) < 0 ||
	    hm_cfg_secret(ctx, g, "password", "password_file", &r->password, err) < 0 ||
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

static int
check_url(HmCfgCtx *ctx, const config_setting_t *g, const char *name, char **url,
          GError **err)
{
	if (hm_cfg_string(ctx, g, name, url, err) < 0)
		return -1;
	if (*url != NULL && **url == '\0')
		g_clear_pointer(url, g_free);
	if (*url != NULL && !g_str_has_prefix(*url, "https://") && !g_str_has_prefix(*url, "http://"))
		return hm_cfg_fail(ctx, config_setting_get_member(g, name), err,
		                   "must be an http:// or https:// URL");
	return 0;
}

int
hm_cfg_read_dyndns(HmCfgCtx *ctx, const config_setting_t *root, HmDyndnsConf *d, GError **err)
{
	static const char *const keys[] = {
		"interval", "detect", "detect_url4", "detect_url6", "records", NULL,
	};
	const config_setting_t *g, *list;
	guint64 interval = 300;

	d->interval = (guint)interval;
	d->detect = g_strdup("web");
	if (hm_cfg_group(ctx, root, "dyndns", &g, err) < 0)
		return -1;
	hm_cfg_check_keys(ctx, g, keys);
	if (hm_cfg_uint(ctx, g, "interval", HM_CFG_INTERVAL_MIN, HM_CFG_INTERVAL_MAX, &interval,
	                err) < 0 ||
	    hm_cfg_string(ctx, g, "detect", &d->detect, err) < 0 ||
	    check_url(ctx, g, "detect_url4", &d->detect_url4, err) < 0 ||
	    check_url(ctx, g, "detect_url6", &d->detect_url6, err) < 0 ||
	    hm_cfg_group_list(ctx, g, "records", &list, err) < 0)
		return -1;
	d->interval = (guint)interval;
	if (strcmp(d->detect, "web") != 0 &&
	    (!g_str_has_prefix(d->detect, "interface:") || strlen(d->detect) == 10 ||
	     strlen(d->detect) > 10 + 15))
		return hm_cfg_fail(ctx, config_setting_get_member(g, "detect"), err,
		                   "must be \"web\" or \"interface:NAME\"");
	if (list == NULL)
		return 0;
	d->n_records = (gsize)config_setting_length(list);
	d->records = g_new0(HmDnsRecordConf, d->n_records);
	for (guint i = 0; i < d->n_records; i++)
		if (read_record(ctx, config_setting_get_elem(list, i), &d->records[i], err) < 0)
			return -1;
	if (d->n_records > 0 && strcmp(d->detect, "web") == 0 && d->detect_url4 == NULL &&
	    d->detect_url6 == NULL)
		return hm_cfg_fail_at(ctx, g, "detect_url4", err,
		                      "detect = \"web\" needs detect_url4 or detect_url6");
	return 0;
}
