/* What makes an answer of `homemail setup` valid: each check explains a
 * bad answer in one sentence, which the dialogue shows before asking again
 * and --answers reports with the question's id. */
#include <config.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

#include "lib/address.h"
#include "lib/cidr.h"
#include "lib/error.h"
#include "lib/fingerprint.h"
#include "lib/net.h"
#include "lib/parse.h"
#include "admin/setup.h"
#include "conf/hmconfig.h"

static gboolean bad(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
bad(GError **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_propagate_error(err, g_error_new_valist(HM_ERROR, HM_ERROR_PARSE, fmt, ap));
	va_end(ap);
	return FALSE;
}

static gboolean
dns_name_ok(const char *v)
{
	gsize label = 0, len = strlen(v);

	if (len == 0 || len > 253 || v[0] == '.' || v[len - 1] == '.')
		return FALSE;
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return FALSE;
			label = 0;
		} else if (g_ascii_isalnum(*p) || (*p == '-' && label > 0)) {
			if (++label > 63)
				return FALSE;
		} else {
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
hm_setup_valid_dns_name(const HmSetup *s, const char *item, const char *v, GError **err)
{
	if (!dns_name_ok(v))
		return bad(err, "\"%s\" is not a host name (letters, digits, '-' and dots).", v);
	return TRUE;
}

gboolean
hm_setup_valid_domains(const HmSetup *s, const char *item, const char *v, GError **err)
{
	g_auto(GStrv) names = hm_setup_split(v);

	for (char **n = names; *n != NULL; n++)
		if (!hm_setup_valid_dns_name(s, item, *n, err))
			return FALSE;
	return TRUE;
}

gboolean
hm_setup_valid_ip(const HmSetup *s, const char *item, const char *v, GError **err)
{
	guint8 buf[16];

	if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
		return bad(err, "\"%s\" is not an IPv4 or IPv6 address.", v);
	return TRUE;
}

gboolean
hm_setup_valid_cidr(const HmSetup *s, const char *item, const char *v, GError **err)
{
	HmCidr c;

	if (hm_cidr_parse(v, &c, err) < 0) {
		g_prefix_error(err, "\"%s\" is not a network like 192.168.1.0/24: ", v);
		return FALSE;
	}
	return TRUE;
}

gboolean
hm_setup_valid_listen(const HmSetup *s, const char *item, const char *v, GError **err)
{
	g_auto(GStrv) specs = hm_setup_split(v);

	for (char **p = specs; *p != NULL; p++) {
		HmListenSpec spec;

		if (hm_listen_spec_parse(*p, &spec, err) < 0) {
			g_prefix_error(
				err,
				"\"%s\" is not ADDRESS:PORT (\"/tls\" for implicit TLS): ", *p);
			return FALSE;
		}
		hm_listen_spec_clear(&spec);
	}
	return TRUE;
}

gboolean
hm_setup_valid_port(const HmSetup *s, const char *item, const char *v, GError **err)
{
	guint64 port;

	if (hm_parse_uint(v, 1, 65535, &port) < 0)
		return bad(err, "\"%s\" is not a port: give a number from 1 to 65535.", v);
	return TRUE;
}

gboolean
hm_setup_valid_address(const HmSetup *s, const char *item, const char *v, GError **err)
{
	HmAddress a;
	g_autoptr(GError) why = NULL;

	if (hm_address_parse(v, strlen(v), 0, &a, &why) < 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "\"%s\" is not an e-mail address (%s).",
		            v, why->message);
		return FALSE;
	}
	hm_address_clear(&a);
	return TRUE;
}

/* Names that become file names and ids: no dots, so an id's parts stay
 * apart. */
gboolean
hm_setup_valid_names(const HmSetup *s, const char *item, const char *v, GError **err)
{
	g_auto(GStrv) names = hm_setup_split(v);

	for (char **n = names; *n != NULL; n++) {
		if (strlen(*n) > 32 || !g_ascii_isalnum(**n) ||
		    strspn(*n,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		            strlen(*n))
			return bad(err,
			           "\"%s\" is not a name: letters, digits, '-' and '_', up to 32.",
			           *n);
		for (char **m = names; m < n; m++)
			if (strcmp(*m, *n) == 0)
				return bad(err, "\"%s\" is named twice.", *n);
	}
	return TRUE;
}

/* What the loader takes for `to`: an address, or the name of a user or
 * alias of the config written. Its aliases are postmaster and root (setup
 * writes them) and those of the existing config (the merge keeps them). */
gboolean
hm_setup_valid_to(const HmSetup *s, const char *item, const char *v, GError **err)
{
	g_auto(GStrv) users = hm_setup_split(hm_setup_value(s, "users"));
	g_auto(GStrv) aliases = hm_setup_split(hm_setup_value(s, "aliases"));

	if (strchr(v, '@') != NULL)
		return hm_setup_valid_address(s, item, v, err);
	if (g_strv_contains((const char *const *)users, v) ||
	    g_strv_contains((const char *const *)aliases, v) ||
	    (users[0] != NULL && (strcmp(v, "postmaster") == 0 || strcmp(v, "root") == 0)))
		return TRUE;
	return bad(err, "\"%s\" is not one of the local users or aliases (or an address).", v);
}

gboolean
hm_setup_valid_url(const HmSetup *s, const char *item, const char *v, GError **err)
{
	if (!g_str_has_prefix(v, "https://") && !g_str_has_prefix(v, "http://"))
		return bad(err, "\"%s\" is not a URL (https://...).", v);
	return TRUE;
}

gboolean
hm_setup_valid_urls(const HmSetup *s, const char *item, const char *v, GError **err)
{
	g_auto(GStrv) urls = hm_setup_split(v);

	for (char **u = urls; *u != NULL; u++)
		if (!hm_setup_valid_url(s, item, *u, err))
			return FALSE;
	return TRUE;
}

gboolean
hm_setup_valid_https(const HmSetup *s, const char *item, const char *v, GError **err)
{
	if (!g_str_has_prefix(v, "https://") || v[strlen("https://")] == '\0')
		return bad(err, "\"%s\" is not an https URL (https://...).", v);
	return TRUE;
}

gboolean
hm_setup_valid_detect(const HmSetup *s, const char *item, const char *v, GError **err)
{
	g_auto(GStrv) ways = hm_setup_split(v);

	for (char **w = ways; *w != NULL; w++)
		if (strcmp(*w, "router") != 0 && strcmp(*w, "web") != 0 &&
		    !g_str_has_prefix(*w, "interface:") && !g_str_has_prefix(*w, "static:"))
			return bad(err,
			           "\"%s\": say router, web, interface:NAME or static:ADDRESS.",
			           *w);
	return TRUE;
}

gboolean
hm_setup_valid_fingerprint(const HmSetup *s, const char *item, const char *v, GError **err)
{
	guint8 fp[HM_SHA256_LEN];
	g_autoptr(GError) why = NULL;

	if (hm_tls_fingerprint_parse(v, fp, &why) < 0)
		return bad(err, "%s.", why->message);
	return TRUE;
}

/* "none" where the loader takes it: to a loopback host, or where the
 * config sets allow_plaintext for this server (the merge keeps it). */
gboolean
hm_setup_valid_tls(const HmSetup *s, const char *item, const char *v, GError **err)
{
	g_autofree char *host_id = g_strconcat(item, ".host", NULL);
	g_autofree char *allow_id = g_strconcat(item, ".allow_plaintext", NULL);
	const char *host = hm_setup_value(s, host_id);
	const char *allow = hm_setup_value(s, allow_id);
	g_autofree char *refused = NULL;

	if (strcmp(v, "none") != 0 || host == NULL)
		return TRUE;
	refused = hm_config_plaintext_refused(host, allow != NULL && strcmp(allow, "yes") == 0);
	if (refused != NULL)
		return bad(err, "%s.", refused);
	return TRUE;
}

gboolean
hm_setup_valid_system_user(const HmSetup *s, const char *item, const char *v, GError **err)
{
	if (strcmp(v, "homemail") == 0 && !hm_setup_service_user_exists())
		return bad(err,
		           "there is no system user \"%s\" (leave it empty to run as started).", v);
	return hm_setup_valid_names(s, item, v, err);
}
