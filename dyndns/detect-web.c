/* The public address as a check-IP page sees it (dyndns.detect "web"). */
#include <config.h>

#include <sys/socket.h>

#include "dyndns/detect.h"
#include "lib/error.h"
#include "lib/http.h"

/* A check-IP page is a line or a small HTML page. */
#define CHECKIP_MAX 16384
#define CHECKIP_TIMEOUT_S 15

static int
ask(const HmDyndnsConf *d, const char *url, int family, HmIpAddr *out, GError **err)
{
	HmHttpRequest req = {
		.url = url,
		.ca_file = d->ca_file,
		.family = family,
		.timeout_s = CHECKIP_TIMEOUT_S,
		.max_body = CHECKIP_MAX,
	};
	HmHttpResponse resp;
	g_autofree char *body = NULL;
	const char *why = NULL;

	if (hm_http_request(&req, &resp, err) < 0)
		return -1;
	body = hm_http_body_text(&resp);
	hm_http_response_clear(&resp);
	if (resp.status != 200) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "%s: HTTP status %ld", url,
		            resp.status);
		return -1;
	}
	/* Only the body counts: an address in a header (X-Forwarded-For...)
	 * may be anybody's. */
	if (!hm_ip_from_page(body, family, out, &why)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: %s", url, why);
		return -1;
	}
	/* A page that sees us from inside (a proxy, a LAN service) is no
	 * use, but the next URL may be. */
	if (hm_ip_kind(out) != HM_IP_GLOBAL) {
		g_autofree char *text = hm_ip_to_string(out);

		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: answered %s, %s", url, text,
		            hm_ip_kind_text(hm_ip_kind(out)));
		return -1;
	}
	return 0;
}

int
hm_dyn_detect_web(const HmDyndnsConf *d, int family, HmIpAddr *out, GError **err)
{
	char **urls = family == AF_INET6 ? d->detect_url6 : d->detect_url4;
	g_autoptr(GString) why = g_string_new("");

	if (urls == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "no %s set",
		            family == AF_INET6 ? "detect_url6" : "detect_url4");
		return -1;
	}
	for (guint i = 0; urls[i] != NULL; i++) {
		g_autoptr(GError) e = NULL;

		if (ask(d, urls[i], family, out, &e) == 0)
			return 0;
		g_string_append_printf(why, "%s%s", why->len > 0 ? "; " : "", e->message);
	}
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s", why->str);
	return -1;
}
