/* DuckDNS: GET /update?domains=NAME[,NAME]&token=T&ip=A (or ipv6=A),
 * answered "OK" or "KO" for the whole request. The token travels in the
 * URL, so every URL that may be shown goes through hm_http_mask_query(). */
#include <config.h>

#include <string.h>
#include <sys/socket.h>

#include "dyndns/duckdns.h"
#include "lib/http.h"
#include "lib/log.h"

/* An answer is "OK" or "KO" (a few lines with verbose=true): anything
 * longer is not DuckDNS. */
#define DUCKDNS_MAX_ANSWER 4096

static const char *const secret_params[] = { "token", NULL };

void
hm_dyn_duckdns_parse(long status, const char *body, HmDynResult *res)
{
	g_autofree char *first = g_strndup(body, strcspn(body, "\r\n"));

	g_strstrip(first);
	if (status == 429 || status >= 500) {
		hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL,
		                  "HTTP %ld: DuckDNS has trouble or asks us to wait", status);
		return;
	}
	if (status == 200 && strcmp(first, "OK") == 0) {
		hm_dyn_result_set(res, HM_DYN_OK, "OK", "OK");
		return;
	}
	/* DuckDNS says KO for both, and nothing more: either way only the
	 * user can fix it. */
	if (strcmp(first, "KO") == 0) {
		hm_dyn_result_set(
			res, HM_DYN_HOLD, "KO",
			"KO: DuckDNS refused the token or the domain (is the token right, "
			"and the domain in this account?)");
		return;
	}
	/* The answer goes into a log line: nothing in it may start another. */
	for (char *p = first; *p != '\0'; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			*p = '?';
	hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL, "HTTP %ld, unexpected answer \"%.60s\"",
	                  status, first);
}

char *
hm_dyn_duckdns_name(const char *hostname)
{
	if (g_str_has_suffix(hostname, ".duckdns.org"))
		return g_strndup(hostname, strlen(hostname) - strlen(".duckdns.org"));
	return g_strdup(hostname);
}

/* server plus /update unless it names a path of its own. */
static char *
update_url(const HmDynUpdate *u, guint n)
{
	const char *server = u[0].rec->server != NULL ? u[0].rec->server : HM_DYN_DUCKDNS_SERVER;
	const char *path = strstr(server, "://");
	g_autofree char *addr = hm_ip_to_string(&u[0].addr);
	g_autoptr(GString) names = g_string_new("");
	g_autofree char *esc = NULL;
	g_autofree char *token = g_uri_escape_string(u[0].secret, NULL, FALSE);
	gboolean has_path;

	path = path != NULL ? strchr(path + 3, '/') : NULL;
	has_path = path != NULL && path[1] != '\0';
	for (guint i = 0; i < n; i++) {
		g_autofree char *name = hm_dyn_duckdns_name(u[i].rec->hostname);

		g_string_append_printf(names, "%s%s", i > 0 ? "," : "", name);
	}
	esc = g_uri_escape_string(names->str, ",", FALSE);
	return g_strdup_printf("%s%s%sdomains=%s&token=%s&%s=%s", server,
	                       has_path ? ""
	                                : (g_str_has_suffix(server, "/") ? "update" : "/update"),
	                       has_path && strchr(path, '?') != NULL ? "&" : "?", esc, token,
	                       u[0].addr.family == AF_INET6 ? "ipv6" : "ip", addr);
}

/* One request for u[0..n-1]; the one answer is every record's. */
static void
send_request(const HmDynUpdate *u, guint n, HmDynResult *res)
{
	g_autofree char *url = update_url(u, n);
	g_autofree char *shown = hm_http_mask_query(url, secret_params);
	HmHttpRequest req = {
		.url = url,
		.log_url = shown,
		.secret = TRUE,
		.ca_file = u[0].rec->ca_file,
		.max_body = DUCKDNS_MAX_ANSWER,
	};
	long status = 0;
	g_autofree char *body = hm_dyn_http_text(&req, n, res, &status);

	if (body == NULL)
		return;
	hm_dyn_duckdns_parse(status, body, &res[0]);
	for (guint i = 1; i < n; i++)
		hm_dyn_result_set(&res[i], res[0].outcome, res[0].code, "%s", res[0].text);
}

static void
update(const HmDynUpdate *u, guint n, HmDynResult *res)
{
	send_request(u, n, res);
	/* One KO for a batch does not say which domain is wrong: asking for
	 * each alone holds only that one, not its good neighbours. */
	if (n > 1 && res[0].outcome == HM_DYN_HOLD) {
		hm_debug("duckdns: KO for %u domains at once; asking for each alone", n);
		for (guint i = 0; i < n; i++)
			send_request(&u[i], 1, &res[i]);
	}
}

static char *
describe(const HmDynUpdate *u)
{
	g_autofree char *url = update_url(u, 1);
	g_autofree char *shown = hm_http_mask_query(url, secret_params);

	return g_strdup_printf("GET %s", shown);
}

static gboolean
can_batch(const HmDynUpdate *u, const HmDynUpdate *v)
{
	return g_strcmp0(u->rec->server, v->rec->server) == 0 &&
	       g_strcmp0(u->secret, v->secret) == 0 &&
	       g_strcmp0(u->rec->ca_file, v->rec->ca_file) == 0 && hm_ip_equal(&u->addr, &v->addr);
}

const HmDynProvider hm_dyn_duckdns = {
	.name = "duckdns",
	.update = update,
	.describe = describe,
	.can_batch = can_batch,
};
