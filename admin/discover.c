/* Settings for an e-mail address: presets, autoconfig, SRV (see
 * discover.h). */
#include <config.h>

#include <string.h>

#include "admin/autoconfig.h"
#include "admin/discover.h"
#include "admin/presets.h"
#include "admin/srv.h"
#include "lib/error.h"

/* RFC 5321 4.5.3.1: 64 octets of local part, 255 of domain. */
#define LOCAL_MAX 64
#define HOST_MAX 253

const char *
hm_disc_proto_name(HmDiscProto p)
{
	static const char *const names[HM_DISC_N] = { "imap", "pop3", "smtp" };

	return p < HM_DISC_N ? names[p] : "?";
}

gboolean
hm_discover_host_ok(const char *s)
{
	gsize len = s != NULL ? strlen(s) : 0;
	gsize label = 0;

	if (len == 0 || len > HOST_MAX || s[0] == '-')
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return FALSE;
			label = 0;
		} else if (g_ascii_isalnum(s[i]) || s[i] == '-') {
			if (++label > 63)
				return FALSE;
		} else {
			return FALSE;
		}
	}
	return label > 0;
}

int
hm_discover_split(const char *address, char **local, char **domain, GError **err)
{
	const char *at = address != NULL ? strrchr(address, '@') : NULL;
	g_autofree char *dom = NULL;

	if (at == NULL || at == address || at - address > LOCAL_MAX) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "'%s' is not an e-mail address (NAME@DOMAIN)", address ? address : "");
		return -1;
	}
	for (const char *p = address; p < at; p++)
		if ((guchar)*p <= ' ' || *p == 0x7f) {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
			            "'%s': the name part holds a space or a control character",
			            address);
			return -1;
		}
	dom = g_ascii_strdown(at + 1, -1);
	if (!hm_discover_host_ok(dom)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "'%s': '%s' is not a domain name",
		            address, at + 1);
		return -1;
	}
	*local = g_strndup(address, (gsize)(at - address));
	*domain = g_steal_pointer(&dom);
	return 0;
}

char *
hm_discover_expand(const char *tmpl, const char *address)
{
	g_autofree char *local = NULL, *domain = NULL, *full = NULL;
	GString *out;

	if (hm_discover_split(address, &local, &domain, NULL) < 0)
		return NULL;
	full = g_strconcat(local, "@", domain, NULL);
	out = g_string_new(NULL);
	for (const char *p = tmpl; *p != '\0';) {
		if (g_str_has_prefix(p, "%EMAILADDRESS%")) {
			g_string_append(out, full);
			p += strlen("%EMAILADDRESS%");
		} else if (g_str_has_prefix(p, "%EMAILLOCALPART%")) {
			g_string_append(out, local);
			p += strlen("%EMAILLOCALPART%");
		} else if (g_str_has_prefix(p, "%EMAILDOMAIN%")) {
			g_string_append(out, domain);
			p += strlen("%EMAILDOMAIN%");
		} else {
			g_string_append_c(out, *p++);
		}
	}
	return g_string_free(out, FALSE);
}

void
hm_disc_server_clear(HmDiscServer *s)
{
	g_free(s->host);
	g_free(s->user);
	g_free(s->oauth2_provider);
	g_free(s->source);
	memset(s, 0, sizeof(*s));
}

void
hm_disc_server_set(HmDiscServer *s, const char *host, guint16 port, HmTlsMode tls,
                   HmDiscLogin login, const char *user, HmDiscAuth auth, const char *source)
{
	hm_disc_server_clear(s);
	s->host = g_strdup(host);
	s->port = port;
	s->tls = tls;
	s->login = login;
	s->user = g_strdup(user);
	s->auth = auth;
	s->source = g_strdup(source);
}

void
hm_discovery_clear(HmDiscovery *d)
{
	g_free(d->address);
	g_free(d->provider);
	g_free(d->note);
	for (int i = 0; i < HM_DISC_N; i++)
		hm_disc_server_clear(&d->server[i]);
	if (d->tried != NULL)
		g_ptr_array_unref(d->tried);
	memset(d, 0, sizeof(*d));
}

void
hm_discover_endpoint(const HmDiscServer *s, HmEndpoint *ep)
{
	hm_endpoint_clear(ep);
	ep->host = g_strdup(s->host);
	ep->port = s->port;
	ep->tls = s->tls;
	ep->user = g_strdup(s->user);
	ep->auth = s->auth == HM_DISC_AUTH_OAUTH2 ? HM_AUTH_OAUTH2 : HM_AUTH_PASSWORD;
	if (ep->auth == HM_AUTH_OAUTH2 && s->oauth2_provider != NULL)
		ep->oauth2.provider = g_strdup(s->oauth2_provider);
}

const HmPreset *
hm_preset_for_domain(const char *domain)
{
	for (gsize i = 0; domain != NULL && i < hm_n_presets; i++)
		for (const char *const *d = hm_presets[i].domains; *d != NULL; d++)
			if (g_ascii_strcasecmp(*d, domain) == 0)
				return &hm_presets[i];
	return NULL;
}

const HmPreset *
hm_preset_by_id(const char *id)
{
	for (gsize i = 0; id != NULL && i < hm_n_presets; i++)
		if (strcmp(hm_presets[i].id, id) == 0)
			return &hm_presets[i];
	return NULL;
}

int
hm_preset_apply(const HmPreset *p, const char *address, HmDiscovery *d)
{
	g_autofree char *source = g_strconcat("preset ", p->name, NULL);
	int n = 0;

	for (int i = 0; i < HM_DISC_N; i++) {
		const HmPresetServer *ps = &p->server[i];
		g_autofree char *user = NULL;

		hm_disc_server_clear(&d->server[i]);
		if (ps->host == NULL)
			continue;
		user = hm_discover_expand(ps->login == HM_DISC_LOGIN_LOCALPART ? "%EMAILLOCALPART%"
		                                                               : "%EMAILADDRESS%",
		                          address);
		hm_disc_server_set(&d->server[i], ps->host, ps->port, ps->tls, ps->login, user,
		                   p->auth, source);
		d->server[i].oauth2_provider = g_strdup(p->oauth2_provider);
		n++;
	}
	g_free(d->provider);
	d->provider = g_strdup(p->name);
	g_free(d->note);
	d->note = g_strdup(p->note);
	return n;
}

/* opt with each unset test hook taken from the environment. */
static HmDiscoverOptions
effective_options(const HmDiscoverOptions *opt)
{
	HmDiscoverOptions o = { 0 };

	if (opt != NULL)
		o = *opt;
	if (o.resolver == NULL)
		o.resolver = g_getenv("HM_DISCOVER_RESOLVER");
	if (o.connect_to == NULL)
		o.connect_to = g_getenv("HM_DISCOVER_CONNECT_TO");
	if (o.ca_file == NULL)
		o.ca_file = g_getenv("HM_DISCOVER_CA_FILE");
	if (o.timeout_s == 0)
		o.timeout_s = HM_DISCOVER_TIMEOUT_S;
	return o;
}

static gboolean
has(const HmDiscovery *d, HmDiscProto p)
{
	return d->server[p].host != NULL;
}

int
hm_discover(const char *address, const HmDiscoverOptions *opt, HmDiscovery *out, GError **err)
{
	HmDiscoverOptions o = effective_options(opt);
	g_autofree char *local = NULL, *domain = NULL;
	const HmPreset *preset;

	memset(out, 0, sizeof(*out));
	out->tried = g_ptr_array_new_with_free_func(g_free);
	if (hm_discover_split(address, &local, &domain, err) < 0)
		return -1;
	out->address = g_strconcat(local, "@", domain, NULL);
	preset = hm_preset_for_domain(domain);
	if (preset != NULL) {
		hm_preset_apply(preset, out->address, out);
		return 0;
	}
	if (!o.presets_only) {
		hm_autoconfig_lookup(out->address, domain, &o, out);
		if ((!has(out, HM_DISC_IMAP) && !has(out, HM_DISC_POP3)) || !has(out, HM_DISC_SMTP))
			hm_srv_lookup(domain, &o, out);
	}
	for (int i = 0; i < HM_DISC_N; i++)
		if (has(out, i))
			return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "no settings published for %s%s", domain,
	            o.presets_only ? " in the presets" : "");
	return -1;
}
