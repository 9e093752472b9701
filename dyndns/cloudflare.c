/* Cloudflare API v4: find the zone (GET /zones?name=ZONE), then the
 * record (GET /zones/ID/dns_records?type=A&name=HOST), then create it
 * (POST), leave it (same content) or change its content (PATCH). The API
 * token travels in an Authorization header, which nothing logs. */
#include <config.h>

#include <string.h>

#include "dyndns/cloudflare.h"
#include "lib/http.h"
#include "lib/json-load.h"
#include "lib/log.h"

typedef struct {
	const HmDynUpdate *u;
	char *base; /* the server URL without a trailing '/' */
	char *auth; /* "Authorization: Bearer TOKEN" */
} Api;

static char *
base_url(const HmDnsRecordConf *rec)
{
	const char *s = rec->server != NULL ? rec->server : HM_DYN_CF_SERVER;
	gsize n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		n--;
	return g_strndup(s, n);
}

/* One API call; returns its result, or NULL with *res set. */
static JsonNode *
call(const Api *api, const char *method, const char *path, const char *body, HmDynResult *res)
{
	g_autofree char *url = g_strconcat(api->base, path, NULL);
	const char *headers[] = { api->auth, "Content-Type: application/json",
		                  "Accept: application/json", NULL };
	HmHttpRequest req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.secret = TRUE,
		.ca_file = api->u->rec->ca_file,
		.max_body = HM_DYN_CF_MAX_ANSWER,
	};
	HmHttpResponse resp;
	g_autoptr(GError) err = NULL;
	JsonNode *result;
	gsize len = 0;
	const char *data;

	if (hm_http_request(&req, &resp, &err) < 0) {
		hm_dyn_result_set(res, HM_DYN_RETRY, NULL, "%s", err->message);
		return NULL;
	}
	data = g_bytes_get_data(resp.body, &len);
	result = hm_dyn_cf_answer(resp.status, data != NULL ? data : "", len, res);
	hm_http_response_clear(&resp);
	return result;
}

static gboolean
in_zone(const char *host, const char *zone)
{
	gsize h = strlen(host), z = strlen(zone);

	return g_ascii_strcasecmp(host, zone) == 0 ||
	       (h > z && host[h - z - 1] == '.' && g_ascii_strcasecmp(host + h - z, zone) == 0);
}

/* The zone's id, or NULL with *res set. */
static char *
find_zone(const Api *api, HmDynResult *res)
{
	const HmDnsRecordConf *rec = api->u->rec;
	g_auto(GStrv) zones = NULL;

	if (rec->zone != NULL) {
		if (!in_zone(rec->hostname, rec->zone)) {
			hm_dyn_result_set(res, HM_DYN_HOLD, NULL, "%s is not in zone %s",
			                  rec->hostname, rec->zone);
			return NULL;
		}
		zones = g_strdupv((char *[]){ rec->zone, NULL });
	} else {
		zones = hm_dyn_cf_zone_candidates(rec->hostname);
	}
	for (guint i = 0; zones[i] != NULL; i++) {
		g_autofree char *esc = g_uri_escape_string(zones[i], NULL, FALSE);
		g_autofree char *path = g_strconcat("/zones?name=", esc, NULL);
		g_autoptr(JsonNode) result = call(api, "GET", path, NULL, res);
		char *id;

		if (result == NULL)
			return NULL;
		id = hm_dyn_cf_zone_id(result, zones[i]);
		if (id != NULL) {
			hm_debug("%s: Cloudflare zone %s", rec->hostname, zones[i]);
			return id;
		}
	}
	hm_dyn_result_set(res, HM_DYN_HOLD, "nozone",
	                  "no Cloudflare zone for %s in this account (or the token may not "
	                  "read zones: give it Zone:Read, or set zone)",
	                  rec->hostname);
	return NULL;
}

static gboolean
same_address(const char *content, const HmIpAddr *addr)
{
	HmIpAddr a;

	return hm_ip_parse(content, &a) && hm_ip_equal(&a, addr);
}

/* Writes the address (POST or PATCH) and says so in *res. */
static void
write_record(const Api *api, const char *zone_id, const char *rec_id, const char *old,
             HmDynResult *res)
{
	const HmDnsRecordConf *rec = api->u->rec;
	const char *rr = hm_dyn_rrtype(&api->u->addr);
	g_autofree char *addr = hm_ip_to_string(&api->u->addr);
	g_autofree char *path = NULL;
	g_autofree char *body = NULL;
	g_autoptr(JsonNode) result = NULL;

	if (rec_id == NULL) {
		path = g_strdup_printf("/zones/%s/dns_records", zone_id);
		body = hm_dyn_cf_create_body(rr, rec->hostname, addr, rec->ttl);
	} else {
		path = g_strdup_printf("/zones/%s/dns_records/%s", zone_id, rec_id);
		body = hm_dyn_cf_patch_body(addr);
	}
	result = call(api, rec_id == NULL ? "POST" : "PATCH", path, body, res);
	if (result == NULL)
		return;
	if (rec_id == NULL)
		hm_dyn_result_set(res, HM_DYN_OK, "created", "created %s %s", rr, addr);
	else
		hm_dyn_result_set(res, HM_DYN_OK, "changed", "changed %s from %s to %s", rr, old,
		                  addr);
}

static void
update_one(const Api *api, HmDynResult *res)
{
	const HmDnsRecordConf *rec = api->u->rec;
	const char *rr = hm_dyn_rrtype(&api->u->addr);
	g_autofree char *zone_id = find_zone(api, res);
	g_autofree char *host = g_uri_escape_string(rec->hostname, NULL, FALSE);
	g_autofree char *path = NULL;
	g_autofree char *id = NULL;
	g_autofree char *content = NULL;
	g_autoptr(JsonNode) result = NULL;
	int n;

	if (zone_id == NULL)
		return;
	path = g_strdup_printf("/zones/%s/dns_records?type=%s&name=%s", zone_id, rr, host);
	result = call(api, "GET", path, NULL, res);
	if (result == NULL)
		return;
	n = hm_dyn_cf_find_record(result, rr, rec->hostname, &id, &content);
	if (n < 0)
		hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL,
		                  "Cloudflare's list of %s records is not what the API documents",
		                  rr);
	else if (n > 1)
		hm_dyn_result_set(res, HM_DYN_HOLD, "several",
		                  "several %s records for %s: homemail will not choose", rr,
		                  rec->hostname);
	else if (n == 1 && same_address(content, &api->u->addr))
		hm_dyn_result_set(res, HM_DYN_OK, "nochg", "%s %s already", rr, content);
	else
		write_record(api, zone_id, n == 1 ? id : NULL, content, res);
}

static void
update(const HmDynUpdate *u, guint n, HmDynResult *res)
{
	g_autoptr(GError) err = NULL;

	/* Without json-glib nothing is sent: the answers could not be read. */
	if (hm_json_load(&err) < 0) {
		for (guint i = 0; i < n; i++)
			hm_dyn_result_set(&res[i], HM_DYN_RETRY, NULL, "%s", err->message);
		return;
	}
	for (guint i = 0; i < n; i++) {
		Api api = { &u[i], base_url(u[i].rec), NULL };

		/* A line break in the token would end the header and start
		 * another one of the token's choosing. */
		if (strpbrk(u[i].secret, "\r\n") != NULL)
			hm_dyn_result_set(&res[i], HM_DYN_HOLD, NULL,
			                  "the API token contains a line break");
		else {
			api.auth = g_strconcat("Authorization: Bearer ", u[i].secret, NULL);
			update_one(&api, &res[i]);
		}
		g_free(api.base);
		if (api.auth != NULL)
			memset(api.auth, 0, strlen(api.auth));
		g_free(api.auth);
	}
}

static char *
describe(const HmDynUpdate *u)
{
	g_autofree char *base = base_url(u->rec);
	g_autofree char *addr = hm_ip_to_string(&u->addr);
	const char *rr = hm_dyn_rrtype(&u->addr);

	return g_strdup_printf(
		"GET %s/zones?name=%s%s, GET %s/zones/ZONE_ID/dns_records?type=%s&name=%s, "
		"then POST (create) or PATCH content %s unless it is so already "
		"(Authorization: Bearer ********)",
		base, u->rec->zone != NULL ? u->rec->zone : u->rec->hostname,
		u->rec->zone != NULL ? "" : " (then its parent domains)", base, rr,
		u->rec->hostname, addr);
}

const HmDynProvider hm_dyn_cloudflare = {
	.name = "cloudflare",
	.update = update,
	.describe = describe,
};
