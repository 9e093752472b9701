/* Thunderbird autoconfig files: fetch and read (see autoconfig.h). The
 * format: https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat
 *
 *   <clientConfig version="1.1"><emailProvider id="example.org">
 *     <displayName>Example</displayName>
 *     <incomingServer type="imap"><hostname>imap.example.org</hostname>
 *       <port>993</port><socketType>SSL</socketType>
 *       <username>%EMAILADDRESS%</username>
 *       <authentication>password-cleartext</authentication></incomingServer>
 *     <outgoingServer type="smtp">...</outgoingServer>
 *   </emailProvider></clientConfig>
 */
#include <config.h>

#include <string.h>

#include "admin/autoconfig.h"
#include "lib/error.h"
#include "lib/http.h"
#include "lib/parse.h"

/* Levels of the elements we read: clientConfig 1, emailProvider 2,
 * incomingServer/outgoingServer/displayName 3, their fields 4. */
enum { DEPTH_ROOT = 1, DEPTH_PROVIDER, DEPTH_SERVER, DEPTH_FIELD };

/* One incomingServer/outgoingServer as read, before it is judged. */
typedef struct {
	int proto; /* HmDiscProto, or -1 for a type we do not use */
	char *hostname, *port, *socket_type, *username;
	gboolean auth_password, auth_oauth2;
} Candidate;

typedef struct {
	const char *address;
	char *source; /* "autoconfig from URL" */
	int depth;
	int providers; /* emailProvider elements seen; only the first is read */
	gboolean in_provider, in_server, in_display_name;
	Candidate cur;
	GString *text; /* the text of the field being read */
	char *display_name;
	HmDiscovery found; /* filled in here, moved to the caller on success */
} Parse;

static void
candidate_clear(Candidate *c)
{
	g_free(c->hostname);
	g_free(c->port);
	g_free(c->socket_type);
	g_free(c->username);
	memset(c, 0, sizeof(*c));
}

static int
server_proto(const char *element, const char **names, const char **values)
{
	const char *type = NULL;

	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], "type") == 0)
			type = values[i];
	if (type == NULL)
		return -1;
	if (strcmp(element, "incomingServer") == 0)
		return strcmp(type, "imap") == 0   ? HM_DISC_IMAP
		       : strcmp(type, "pop3") == 0 ? HM_DISC_POP3
		                                   : -1;
	return strcmp(type, "smtp") == 0 ? HM_DISC_SMTP : -1;
}

static void
on_start(GMarkupParseContext *ctx, const char *element, const char **names, const char **values,
         gpointer user, GError **err)
{
	Parse *p = user;

	(void)ctx;
	if (++p->depth > HM_AUTOCONFIG_DEPTH_MAX) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "nested deeper than %d elements",
		            HM_AUTOCONFIG_DEPTH_MAX);
		return;
	}
	if (p->depth == DEPTH_ROOT && strcmp(element, "clientConfig") != 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "the root element is <%s>, not <clientConfig>", element);
	} else if (p->depth == DEPTH_PROVIDER && strcmp(element, "emailProvider") == 0) {
		p->in_provider = p->providers++ == 0;
	} else if (p->depth == DEPTH_SERVER && p->in_provider) {
		if (strcmp(element, "incomingServer") == 0 ||
		    strcmp(element, "outgoingServer") == 0) {
			p->in_server = TRUE;
			p->cur.proto = server_proto(element, names, values);
		}
		p->in_display_name = strcmp(element, "displayName") == 0;
	}
	g_string_truncate(p->text, 0);
}

/* Stores the text of a field of the current server. */
static void
server_field(Parse *p, const char *element, const char *text)
{
	char **slot = strcmp(element, "hostname") == 0     ? &p->cur.hostname
	              : strcmp(element, "port") == 0       ? &p->cur.port
	              : strcmp(element, "socketType") == 0 ? &p->cur.socket_type
	              : strcmp(element, "username") == 0   ? &p->cur.username
	                                                   : NULL;

	if (slot != NULL && *slot == NULL)
		*slot = g_strdup(text);
	if (strcmp(element, "authentication") == 0) {
		/* "plain" is the format's older name of password-cleartext. */
		if (strcmp(text, "password-cleartext") == 0 || strcmp(text, "plain") == 0)
			p->cur.auth_password = TRUE;
		else if (strcmp(text, "OAuth2") == 0)
			p->cur.auth_oauth2 = TRUE;
	}
}

static gboolean
parse_tls(const char *s, HmTlsMode *out)
{
	if (s == NULL)
		return FALSE;
	if (strcmp(s, "SSL") == 0)
		*out = HM_TLS_MODE_TLS;
	else if (strcmp(s, "STARTTLS") == 0)
		*out = HM_TLS_MODE_STARTTLS;
	else if (strcmp(s, "plain") == 0)
		*out = HM_TLS_MODE_NONE;
	else
		return FALSE;
	return TRUE;
}

/* The login form of the username template u (NULL: not given). */
static HmDiscLogin
login_form(const char *u)
{
	if (u == NULL || u[0] == '\0')
		return HM_DISC_LOGIN_UNKNOWN;
	if (strcmp(u, "%EMAILADDRESS%") == 0)
		return HM_DISC_LOGIN_ADDRESS;
	if (strcmp(u, "%EMAILLOCALPART%") == 0)
		return HM_DISC_LOGIN_LOCALPART;
	return HM_DISC_LOGIN_GIVEN;
}

/* Takes the finished candidate when homemail can use it and it is the
 * first for its protocol, or the first with TLS after a plain one. */
static void
judge(Parse *p, const char *source)
{
	Candidate *c = &p->cur;
	HmDiscServer *s;
	HmTlsMode tls;
	guint64 port;
	g_autofree char *host = NULL, *user = NULL;
	HmDiscLogin login = login_form(c->username);

	if (c->proto < 0 || (!c->auth_password && !c->auth_oauth2) ||
	    !parse_tls(c->socket_type, &tls) || c->port == NULL ||
	    hm_parse_uint(c->port, 1, 65535, &port) < 0 || c->hostname == NULL)
		return;
	host = hm_discover_expand(c->hostname, p->address);
	if (!hm_discover_host_ok(host))
		return;
	if (login != HM_DISC_LOGIN_UNKNOWN)
		user = hm_discover_expand(c->username, p->address);
	if (user != NULL &&
	    (strlen(user) > HM_AUTOCONFIG_TEXT_MAX || strpbrk(user, "\r\n") != NULL))
		return;
	s = &p->found.server[c->proto];
	if (s->host != NULL && !(s->tls == HM_TLS_MODE_NONE && tls != HM_TLS_MODE_NONE))
		return;
	/* A password is what setup can ask for; OAuth2 at an unknown provider
	 * needs its client registration and URLs first. */
	hm_disc_server_set(s, host, (guint16)port, tls, login, user,
	                   c->auth_password ? HM_DISC_AUTH_PASSWORD : HM_DISC_AUTH_OAUTH2, source);
}

static void
on_end(GMarkupParseContext *ctx, const char *element, gpointer user, GError **err)
{
	Parse *p = user;
	g_autofree char *text = g_strstrip(g_strdup(p->text->str));

	(void)ctx;
	(void)err;
	if (p->depth == DEPTH_FIELD && p->in_server) {
		server_field(p, element, text);
	} else if (p->depth == DEPTH_SERVER && p->in_server) {
		judge(p, p->source);
		candidate_clear(&p->cur);
		p->in_server = FALSE;
	} else if (p->depth == DEPTH_SERVER && p->in_display_name) {
		if (p->display_name == NULL && text[0] != '\0')
			p->display_name = g_steal_pointer(&text);
		p->in_display_name = FALSE;
	} else if (p->depth == DEPTH_PROVIDER) {
		p->in_provider = FALSE;
	}
	g_string_truncate(p->text, 0);
	p->depth--;
}

static void
on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer user, GError **err)
{
	Parse *p = user;

	(void)ctx;
	if (p->text->len + len > HM_AUTOCONFIG_TEXT_MAX) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "an element's text is longer than %d bytes", HM_AUTOCONFIG_TEXT_MAX);
		return;
	}
	g_string_append_len(p->text, text, (gssize)len);
}

/* Comments and processing instructions pass; a DTD does not: GMarkup
 * would not expand its entities, but a file that declares some is not
 * one we should guess about. */
static void
on_passthrough(GMarkupParseContext *ctx, const char *text, gsize len, gpointer user, GError **err)
{
	(void)ctx;
	(void)user;
	if (len >= 2 && text[0] == '<' && text[1] == '!' && !g_str_has_prefix(text, "<!--"))
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "a DTD or declaration is not accepted");
}

static const GMarkupParser parser = { on_start, on_end, on_text, on_passthrough, NULL };

/* Moves what p found into out's empty servers; returns how many. */
static int
move_found(Parse *p, HmDiscovery *out)
{
	int n = 0;

	for (int i = 0; i < HM_DISC_N; i++) {
		if (p->found.server[i].host == NULL || out->server[i].host != NULL)
			continue;
		out->server[i] = p->found.server[i];
		memset(&p->found.server[i], 0, sizeof(p->found.server[i]));
		n++;
	}
	if (n > 0 && out->provider == NULL)
		out->provider = g_steal_pointer(&p->display_name);
	return n;
}

static gboolean
found_any(const Parse *p)
{
	for (int i = 0; i < HM_DISC_N; i++)
		if (p->found.server[i].host != NULL)
			return TRUE;
	return FALSE;
}

int
hm_autoconfig_parse(const char *xml, gsize len, const char *address, const char *source_url,
                    HmDiscovery *out, GError **err)
{
	Parse p = { .address = address, .text = g_string_new(NULL) };
	GMarkupParseContext *ctx;
	GError *perr = NULL;
	int n = -1;

	if (len > HM_AUTOCONFIG_MAX) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "larger than %d bytes",
		            HM_AUTOCONFIG_MAX);
		g_string_free(p.text, TRUE);
		return -1;
	}
	p.source = g_strconcat("autoconfig from ", source_url, NULL);
	ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
	if (!g_markup_parse_context_parse(ctx, xml, (gssize)len, &perr) ||
	    !g_markup_parse_context_end_parse(ctx, &perr)) {
		/* Our own refusals (from the callbacks) say what is wrong already. */
		if (perr->domain == HM_ERROR)
			g_propagate_error(err, g_steal_pointer(&perr));
		else
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
			            "not a valid autoconfig file: %s", perr->message);
	} else if (p.providers == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "no <emailProvider> in <clientConfig>");
	} else if (!found_any(&p)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "no server homemail can use (IMAP, POP3 or SMTP with a port, a host "
		            "name, SSL, STARTTLS or plain, and password or OAuth2 authentication)");
	} else {
		n = move_found(&p, out);
	}
	g_clear_error(&perr);
	g_markup_parse_context_free(ctx);
	candidate_clear(&p.cur);
	g_string_free(p.text, TRUE);
	g_free(p.display_name);
	g_free(p.source);
	hm_discovery_clear(&p.found);
	return n;
}

/* Fetches url and reads it into out. Returns the number of servers
 * filled, or -1 with *why (a new string). */
static int
fetch_one(const char *url, const char *address, const HmDiscoverOptions *opt, HmDiscovery *out,
          char **why)
{
	HmHttpRequest req = {
		.url = url,
		.ca_file = opt->ca_file,
		.timeout_s = opt->timeout_s,
		.max_body = HM_AUTOCONFIG_MAX,
		.max_redirects = 3,
		.connect_to = opt->connect_to,
	};
	HmHttpResponse resp;
	g_autoptr(GError) err = NULL;
	gsize len = 0;
	const char *body;
	int n;

	if (hm_http_request(&req, &resp, &err) < 0) {
		*why = g_strdup(err->message);
		return -1;
	}
	if (resp.status != 200) {
		*why = g_strdup_printf("%s: HTTP %ld", resp.url, resp.status);
		hm_http_response_clear(&resp);
		return -1;
	}
	body = g_bytes_get_data(resp.body, &len);
	n = hm_autoconfig_parse(body != NULL ? body : "", len, address, resp.url, out, &err);
	if (n < 0)
		*why = g_strdup_printf("%s: %s", resp.url, err->message);
	hm_http_response_clear(&resp);
	return n;
}

int
hm_autoconfig_lookup(const char *address, const char *domain, const HmDiscoverOptions *opt,
                     HmDiscovery *out)
{
	g_autofree char *q = g_uri_escape_string(address, NULL, FALSE);
	g_autofree char *first = g_strdup_printf(
		"https://autoconfig.%s/mail/config-v1.1.xml?emailaddress=%s", domain, q);
	g_autofree char *second = g_strdup_printf(
		"https://%s/.well-known/autoconfig/mail/config-v1.1.xml", domain);
	const char *urls[] = { first, second };

	for (gsize i = 0; i < G_N_ELEMENTS(urls); i++) {
		char *why = NULL;
		int n = fetch_one(urls[i], address, opt, out, &why);

		if (n >= 0)
			return n;
		g_ptr_array_add(out->tried, why);
	}
	return 0;
}
