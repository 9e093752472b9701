/* The dyndns2 protocol (DynDNS, No-IP, Dynu, deSEC, OVH, Strato and most
 * routers' "custom" setting): GET /nic/update?hostname=H1,H2&myip=ADDR
 * with Basic authentication, answered with one code per host name. */
#include <config.h>

#include <string.h>

#include "dyndns/dyndns2.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/printable.h"

/* What each refusal means; asking again cannot change any of them. */
static const struct {
	const char *code;
	HmDynOutcome outcome;
	const char *text;
} codes[] = {
	{ "badauth", HM_DYN_HOLD, "the user name or password is wrong" },
	{ "notfqdn", HM_DYN_HOLD, "the host name is not a fully qualified domain name" },
	{ "nohost", HM_DYN_HOLD, "the host name does not exist in this account" },
	{ "numhost", HM_DYN_HOLD, "the provider refuses the number of host names" },
	{ "abuse", HM_DYN_HOLD, "the provider blocked the host name for abuse" },
	{ "!donator", HM_DYN_HOLD, "the account does not have the feature this update needs" },
	{ "badagent", HM_DYN_HOLD, "the provider refuses this client" },
	{ "!yours", HM_DYN_HOLD, "the host name belongs to another account" },
	{ "badsys", HM_DYN_HOLD, "the provider refuses the update system" },
	{ "dnserr", HM_DYN_BACKOFF, "the provider's DNS has a problem" },
	{ "911", HM_DYN_BACKOFF, "the provider has trouble or is down for maintenance" },
};

/* Whether the address a "good"/"nochg" answer echoes (NULL when it
 * gives none) is the one sent; compared as addresses, since a provider
 * may spell an IPv6 address differently. */
static gboolean
echoes(const char *echo, const char *sent)
{
	HmIpAddr a, b;

	if (echo == NULL || *echo == '\0')
		return TRUE;
	if (!hm_ip_parse(echo, &a) || !hm_ip_parse(sent, &b))
		return g_strcmp0(echo, sent) == 0;
	return hm_ip_equal(&a, &b);
}

/* One answer line: "good ADDR", "nochg ADDR", or a code. */
static void
parse_line(const char *line, const char *sent, HmDynResult *res)
{
	g_auto(GStrv) w = g_strsplit_set(line, " \t", 3);
	const char *code = w[0] != NULL ? w[0] : "";

	if (strcmp(code, "good") == 0 || strcmp(code, "nochg") == 0) {
		/* "good 127.0.0.1": DynDNS's way of ignoring a client it
		 * considers broken. */
		if (w[1] != NULL && strcmp(w[1], "127.0.0.1") == 0 && strcmp(sent, "127.0.0.1") != 0)
			hm_dyn_result_set(res, HM_DYN_HOLD, code,
			                  "the provider ignored the update (answered good 127.0.0.1)");
		else if (!echoes(w[1], sent)) {
			g_autofree char *said = hm_printable(line, MIN(strlen(line), 80));

			/* The record does not hold what we sent (a proxy's
			 * address taken instead of myip, or a broken provider):
			 * not published, so the next run is not skipped. */
			hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL,
			                  "the provider answered \"%s\" to an update to %s", said, sent);
		} else
			hm_dyn_result_set(res, HM_DYN_OK, code, "%s %s", code, sent);
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS(codes); i++)
		if (strcmp(code, codes[i].code) == 0) {
			hm_dyn_result_set(res, codes[i].outcome, code, "%s: %s", code, codes[i].text);
			return;
		}
	/* Not in the protocol: waiting is safer than asking again at once. */
	hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL, "unexpected answer \"%.60s\"", line);
}

void
hm_dyn_dyndns2_parse(long status, const char *body, const char *sent, guint n,
                     HmDynResult *res)
{
	g_auto(GStrv) lines = g_strsplit(body, "\n", -1);
	guint got = 0;

	for (guint i = 0; lines[i] != NULL && got < n; i++) {
		g_strstrip(lines[i]);
		if (lines[i][0] != '\0')
			parse_line(lines[i], sent, &res[got++]);
	}
	for (guint i = got; i < n; i++) {
		if (status == 401 || status == 403)
			hm_dyn_result_set(&res[i], HM_DYN_HOLD, "badauth",
			                  "HTTP %ld: the user name or password is wrong", status);
		else if (status >= 500 || status == 429)
			hm_dyn_result_set(&res[i], HM_DYN_BACKOFF, NULL,
			                  "HTTP %ld: the provider has trouble", status);
		else
			hm_dyn_result_set(&res[i], HM_DYN_BACKOFF, NULL,
			                  "HTTP %ld without an answer for this host name", status);
	}
	/* A code answered with an HTTP error still counts; "good" under an
	 * error status does not. */
	for (guint i = 0; i < got; i++)
		if (res[i].outcome == HM_DYN_OK && status != 200)
			hm_dyn_result_set(&res[i], HM_DYN_BACKOFF, res[i].code,
			                  "HTTP %ld with answer %s", status, res[i].code);
}

/* server plus /nic/update unless it names a path of its own. */
static char *
update_url(const HmDynUpdate *u, guint n)
{
	const char *server = u[0].rec->server;
	const char *path = strstr(server, "://");
	g_autofree char *addr = hm_ip_to_string(&u[0].addr);
	g_autoptr(GString) hosts = g_string_new("");
	g_autofree char *esc = NULL;
	gboolean has_path;

	path = path != NULL ? strchr(path + 3, '/') : NULL;
	has_path = path != NULL && path[1] != '\0';
	for (guint i = 0; i < n; i++)
		g_string_append_printf(hosts, "%s%s", i > 0 ? "," : "", u[i].rec->hostname);
	esc = g_uri_escape_string(hosts->str, ",", FALSE);
	return g_strdup_printf("%s%s%shostname=%s&myip=%s", server,
	                       has_path ? "" : (g_str_has_suffix(server, "/") ? "nic/update"
	                                                                      : "/nic/update"),
	                       has_path && strchr(path, '?') != NULL ? "&" : "?", esc, addr);
}

static void
update(const HmDynUpdate *u, guint n, HmDynResult *res)
{
	g_autofree char *url = update_url(u, n);
	g_autofree char *addr = hm_ip_to_string(&u[0].addr);
	HmHttpRequest req = {
		.url = url,
		.user = u[0].rec->user,
		.password = u[0].secret,
		.ca_file = u[0].rec->ca_file,
	};
	long status = 0;
	g_autofree char *body = hm_dyn_http_text(&req, n, res, &status);

	if (body != NULL)
		hm_dyn_dyndns2_parse(status, body, addr, n, res);
}

static char *
describe(const HmDynUpdate *u)
{
	g_autofree char *url = update_url(u, 1);

	return g_strdup_printf("GET %s (Basic authentication as %s, password ********)", url,
	                       u->rec->user);
}

static gboolean
can_batch(const HmDynUpdate *u, const HmDynUpdate *v)
{
	return strcmp(u->rec->server, v->rec->server) == 0 &&
	       g_strcmp0(u->rec->user, v->rec->user) == 0 &&
	       g_strcmp0(u->secret, v->secret) == 0 &&
	       g_strcmp0(u->rec->ca_file, v->rec->ca_file) == 0 && hm_ip_equal(&u->addr, &v->addr);
}

const HmDynProvider hm_dyn_dyndns2 = {
	.name = "dyndns2",
	.update = update,
	.describe = describe,
	.can_batch = can_batch,
};
