/* UPnP IGD: the router's WAN address by GetExternalIPAddress. libminiupnpc
 * discovers (SSDP) and parses (the root description, the SOAP answer);
 * the HTTP goes through lib/http.c (libcurl) because miniupnpc's
 * miniwget/soapPostSubmit bound each read, not the request: a router that
 * drips one byte every few seconds would hold them for ever. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpreplyparse.h>

#include "dyndns/router.h"
#include "lib/error.h"
#include "lib/http.h"
#include "lib/log.h"

/* Values from the network go into log lines: printable ASCII only. */
static char *
printable(const char *s)
{
	char *t = g_strdup(s);

	for (char *p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return t;
}

/* A service type goes into the SOAPAction header and the XML body. */
static gboolean
service_type_ok(const char *t)
{
	if (!g_str_has_prefix(t, "urn:"))
		return FALSE;
	for (const char *p = t; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && strchr(":-._", *p) == NULL)
			return FALSE;
	return TRUE;
}

int
hm_igd_wan_service(const char *desc, gsize len, const char *desc_url, int n, char **control_url,
                   char **service_type, GError **err)
{
	struct IGDdatas data;
	struct UPNPUrls urls;
	int rc = -1;

	memset(&data, 0, sizeof(data));
	memset(&urls, 0, sizeof(urls));
	parserootdesc(desc, (int)MIN(len, (gsize)HM_IGD_MAX_BODY), &data);
	if (n == 1)
		data.first = data.second;
	if (data.first.servicetype[0] == '\0' || data.first.controlurl[0] == '\0') {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            n == 0 ? "no WANIPConnection or WANPPPConnection service in the "
		                     "description: not an Internet gateway"
		                   : "no second WAN connection service");
		return -1;
	}
	if (!service_type_ok(data.first.servicetype)) {
		g_autofree char *t = printable(data.first.servicetype);

		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "unusable service type \"%s\"", t);
		return -1;
	}
	GetUPNPUrls(&urls, &data, desc_url, 0);
	if (urls.controlURL != NULL && (g_str_has_prefix(urls.controlURL, "http://") ||
	                                g_str_has_prefix(urls.controlURL, "https://"))) {
		*control_url = g_strdup(urls.controlURL);
		*service_type = g_strdup(data.first.servicetype);
		rc = 0;
	} else {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "no usable control URL");
	}
	FreeUPNPUrls(&urls);
	return rc;
}

static int
fault(struct NameValueParserData *pd, long status, GError **err)
{
	const char *code = GetValueFromNameValueList(pd, "errorCode");
	const char *desc = GetValueFromNameValueList(pd, "errorDescription");

	if (code != NULL) {
		g_autofree char *c = printable(code);
		g_autofree char *d = printable(desc != NULL ? desc : "");

		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "UPnP error %s (%s)", c, d);
	} else {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL,
		            "HTTP status %ld without NewExternalIPAddress", status);
	}
	return -1;
}

int
hm_igd_parse_external_ip(const char *body, gsize len, long status, HmIpAddr *out, GError **err)
{
	struct NameValueParserData pd;
	const char *ip;
	int rc = -1;

	memset(&pd, 0, sizeof(pd));
	ParseNameValue(body, (int)MIN(len, (gsize)HM_IGD_MAX_BODY), &pd);
	ip = GetValueFromNameValueList(&pd, "NewExternalIPAddress");
	if (status != 200 || ip == NULL) {
		rc = fault(&pd, status, err);
	} else if (*ip == '\0') {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL,
		            "the router has no external address (is its WAN link down?)");
	} else if (!hm_ip_parse(ip, out) || out->family != AF_INET) {
		g_autofree char *t = printable(ip);

		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL,
		            "the router answered \"%s\", not an IPv4 address", t);
	} else {
		rc = 0;
	}
	ClearNameValueList(&pd);
	return rc;
}

/* One request to the router, its timeout cut to what is left of deadline. */
static int
exchange(HmHttpRequest *req, gint64 deadline, HmHttpResponse *resp, GError **err)
{
	gint64 left_s = (deadline - g_get_monotonic_time()) / G_USEC_PER_SEC;

	if (left_s < 1) {
		g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT, "%s: out of time", req->url);
		return -1;
	}
	req->timeout_s = (guint)MIN(left_s, HM_IGD_HTTP_TIMEOUT_S);
	req->max_body = HM_IGD_MAX_BODY;
	req->family = AF_INET;
	req->direct = TRUE;
	return hm_http_request(req, resp, err);
}

static int
soap_external_ip(const char *control_url, const char *service_type, gint64 deadline,
                 HmIpAddr *out, GError **err)
{
	g_autofree char *action =
		g_strdup_printf("SOAPAction: \"%s#GetExternalIPAddress\"", service_type);
	g_autofree char *body = g_strdup_printf(
		"<?xml version=\"1.0\"?>\r\n"
		"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
		"s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
		"<s:Body><u:GetExternalIPAddress xmlns:u=\"%s\"></u:GetExternalIPAddress>"
		"</s:Body></s:Envelope>\r\n",
		service_type);
	const char *headers[] = { "Content-Type: text/xml; charset=\"utf-8\"", action, NULL };
	HmHttpRequest req = { .method = "POST", .url = control_url, .headers = headers,
		              .body = body };
	HmHttpResponse resp;
	gsize len;
	const char *data;
	int rc;

	if (exchange(&req, deadline, &resp, err) < 0)
		return -1;
	data = g_bytes_get_data(resp.body, &len);
	rc = hm_igd_parse_external_ip(data != NULL ? data : "", len, resp.status, out, err);
	hm_http_response_clear(&resp);
	if (rc < 0)
		g_prefix_error(err, "%s: ", control_url);
	return rc;
}

int
hm_igd_external_ip(const char *desc_url, gint64 deadline, HmIpAddr *out, GError **err)
{
	HmHttpRequest req = { .url = desc_url };
	HmHttpResponse resp;
	g_autoptr(GError) first = NULL;
	gsize len;
	const char *desc;
	int rc = -1;

	if (exchange(&req, deadline, &resp, err) < 0)
		return -1;
	if (resp.status != 200) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "%s: HTTP status %ld", desc_url,
		            resp.status);
		hm_http_response_clear(&resp);
		return -1;
	}
	desc = g_bytes_get_data(resp.body, &len);
	/* A device with both a WANIPConnection and a WANPPPConnection may
	 * have only one of them connected: ask the second when the first
	 * fails, and report the first's error when both do. */
	for (int n = 0; n < 2 && rc < 0; n++) {
		g_autofree char *control = NULL, *type = NULL;
		g_autoptr(GError) e = NULL;

		if (hm_igd_wan_service(desc != NULL ? desc : "", len, desc_url, n, &control, &type,
		                       &e) == 0) {
			hm_debug("router: %s: %s at %s", desc_url, type, control);
			rc = soap_external_ip(control, type, deadline, out, &e);
		}
		if (rc < 0 && first == NULL)
			first = g_steal_pointer(&e);
		if (rc < 0 && e != NULL && e->code != HM_ERROR_PARSE)
			hm_debug("router: %s", e->message);
	}
	hm_http_response_clear(&resp);
	if (rc < 0) {
		g_propagate_error(err, g_steal_pointer(&first));
		g_prefix_error(err, "%s: ", desc_url);
	}
	return rc;
}

char **
hm_igd_discover(GError **err)
{
	/* IGD:2 routers need not answer a search for IGD:1; the service
	 * types catch devices that announce only those. */
	static const char *const types[] = {
		"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
		"urn:schemas-upnp-org:device:InternetGatewayDevice:2",
		"urn:schemas-upnp-org:service:WANIPConnection:1",
		"urn:schemas-upnp-org:service:WANIPConnection:2",
		"urn:schemas-upnp-org:service:WANPPPConnection:1",
		NULL,
	};
	g_autoptr(GPtrArray) urls = g_ptr_array_new_with_free_func(g_free);
	struct UPNPDev *list;
	int error = 0;

	/* searchalltypes = 1: every M-SEARCH goes out at once and the wait
	 * is paid once, not once per type. */
	list = upnpDiscoverDevices(types, HM_SSDP_WAIT_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2,
	                           &error, 1);
	if (list == NULL && error != UPNPDISCOVER_SUCCESS) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "SSDP discovery failed (miniupnpc error %d)",
		            error);
		return NULL;
	}
	for (struct UPNPDev *d = list; d != NULL; d = d->pNext) {
		gboolean seen = FALSE;

		if (d->descURL == NULL || !g_str_has_prefix(d->descURL, "http://"))
			continue;
		for (guint i = 0; i < urls->len && !seen; i++)
			seen = strcmp(urls->pdata[i], d->descURL) == 0;
		if (!seen)
			g_ptr_array_add(urls, g_strdup(d->descURL));
	}
	freeUPNPDevlist(list);
	g_ptr_array_add(urls, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&urls), FALSE);
}
