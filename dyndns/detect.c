/* Trying the detection methods in order (see detect.h). */
#include <config.h>

#include <string.h>
#include <sys/socket.h>

#include "dyndns/detect.h"
#include "lib/error.h"
#include "lib/log.h"

static const char *
family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

static int
run_method(const HmDyndnsConf *d, const char *m, int family, HmIpAddr *out, GError **err)
{
	if (strcmp(m, "web") == 0)
		return hm_dyn_detect_web(d, family, out, err);
	if (strcmp(m, "router") == 0)
		return hm_dyn_detect_router(d, family, out, err);
	if (g_str_has_prefix(m, "interface:"))
		return hm_dyn_detect_interface(d, m + 10, family, out, err);
	/* static:ADDR, checked by the config loader */
	if (!hm_ip_parse(m + 7, out) || out->family != family) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "not an %s address",
		            family_name(family));
		return -1;
	}
	return 0;
}

/* Whether an answer of method m may be published. */
static gboolean
plausible(const HmDyndnsConf *d, const char *m, const HmIpAddr *a, char **why)
{
	HmIpKind kind = hm_ip_kind(a);
	g_autofree char *text = hm_ip_to_string(a);

	if (kind == HM_IP_GLOBAL)
		return TRUE;
	if (kind == HM_IP_PRIVATE && a->family == AF_INET && d->allow_private &&
	    g_str_has_prefix(m, "interface:"))
		return TRUE;
	if (kind == HM_IP_CGNAT || (kind == HM_IP_PRIVATE && strcmp(m, "router") == 0))
		*why = g_strdup_printf("%s is %s, so this box is behind carrier NAT: a DNS name "
		                       "cannot reach this box; not published", text,
		                       hm_ip_kind_text(kind));
	else
		*why = g_strdup_printf("%s is %s, not a public one; not published", text,
		                       hm_ip_kind_text(kind));
	return FALSE;
}

gboolean
hm_dyn_detect(const HmDyndnsConf *d, int family, HmIpAddr *out, char **source)
{
	for (guint i = 0; d->detect[i] != NULL; i++) {
		const char *m = d->detect[i];
		g_autoptr(GError) err = NULL;
		g_autofree char *why = NULL;
		HmIpAddr a;

		if (run_method(d, m, family, &a, &err) < 0) {
			hm_warn("detect %s (%s): %s", family_name(family), m, err->message);
			continue;
		}
		if (!plausible(d, m, &a, &why)) {
			hm_warn("detect %s (%s): %s", family_name(family), m, why);
			continue;
		}
		*out = a;
		*source = g_strdup(m);
		return TRUE;
	}
	return FALSE;
}
