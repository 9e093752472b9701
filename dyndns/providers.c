/* The provider table and the result helpers every provider uses. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>

#include "dyndns/provider.h"

const HmDynProvider *
hm_dyn_provider(const char *name)
{
	static const HmDynProvider *const all[] = {
		&hm_dyn_dyndns2, &hm_dyn_duckdns, &hm_dyn_cloudflare, &hm_dyn_rfc2136,
	};

	for (guint i = 0; i < G_N_ELEMENTS(all); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

const char *
hm_dyn_record_secret(const HmDnsRecordConf *r)
{
	return strcmp(r->provider, "rfc2136") == 0 ? r->tsig_secret.value : r->password.value;
}

void
hm_dyn_result_set(HmDynResult *res, HmDynOutcome outcome, const char *code, const char *fmt,
                  ...)
{
	va_list ap;
	char *new_code = g_strdup(code);
	char *text;

	/* code and the arguments may point into res itself: copy first. */
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	hm_dyn_result_clear(res);
	res->outcome = outcome;
	res->code = new_code;
	res->text = text;
}

void
hm_dyn_result_clear(HmDynResult *res)
{
	g_clear_pointer(&res->code, g_free);
	g_clear_pointer(&res->text, g_free);
}

const char *
hm_dyn_rrtype(const HmIpAddr *a)
{
	return a->family == AF_INET6 ? "AAAA" : "A";
}

char *
hm_dyn_http_text(const HmHttpRequest *req, guint n, HmDynResult *res, long *status)
{
	HmHttpResponse resp;
	g_autoptr(GError) err = NULL;
	char *body;

	if (hm_http_request(req, &resp, &err) < 0) {
		for (guint i = 0; i < n; i++)
			hm_dyn_result_set(&res[i], HM_DYN_RETRY, NULL, "%s", err->message);
		return NULL;
	}
	body = hm_http_body_text(&resp);
	*status = resp.status;
	hm_http_response_clear(&resp);
	return body;
}
