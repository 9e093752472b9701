/* hm-discover: hm_discover() from the command line, for the integration
 * tests (autoconfig over HTTPS, SRV records from BIND). Not installed.
 *
 *   hm-discover [--resolver HOST:PORT] [--connect-to HOST:PORT]
 *               [--ca-file FILE] [--timeout S] [--presets-only] ADDRESS
 *
 * Prints "provider=", "note=", one line per protocol
 *   PROTO host=H port=P tls=tls|starttls|none login=address|localpart|given|unknown
 *         user=U auth=password|app-password|oauth2|unknown oauth2=NAME source=...
 * or "PROTO none", then "tried=..." per failed step; exits 0. When nothing
 * is found: the tried lines and "error=MESSAGE", exit 1. 64 for usage. */
#include <config.h>

#include <stdio.h>

#include "admin/discover.h"
#include "lib/log.h"

static const char *
tls_name(HmTlsMode t)
{
	return t == HM_TLS_MODE_TLS ? "tls" : t == HM_TLS_MODE_STARTTLS ? "starttls" : "none";
}

static void
print_server(HmDiscProto p, const HmDiscServer *s)
{
	static const char *const logins[] = { "address", "localpart", "given", "unknown" };
	static const char *const auths[] = { "password", "app-password", "oauth2", "unknown" };

	if (s->host == NULL) {
		printf("%s none\n", hm_disc_proto_name(p));
		return;
	}
	printf("%s host=%s port=%u tls=%s login=%s user=%s auth=%s oauth2=%s source=%s\n",
	       hm_disc_proto_name(p), s->host, s->port, tls_name(s->tls), logins[s->login],
	       s->user ? s->user : "-", auths[s->auth],
	       s->oauth2_provider ? s->oauth2_provider : "-", s->source);
}

int
main(int argc, char **argv)
{
	HmDiscoverOptions opt = { 0 };
	g_autofree char *resolver = NULL, *connect_to = NULL, *ca_file = NULL;
	gint timeout = 0;
	gboolean presets_only = FALSE, verbose = FALSE;
	const GOptionEntry entries[] = {
		{ "resolver", 0, 0, G_OPTION_ARG_STRING, &resolver, "DNS server", "HOST:PORT" },
		{ "connect-to", 0, 0, G_OPTION_ARG_STRING, &connect_to, "HTTPS goes here", "HOST:PORT" },
		{ "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file, "trusted CAs", "FILE" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "per request", "S" },
		{ "presets-only", 0, 0, G_OPTION_ARG_NONE, &presets_only, "no network", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "debug log on stderr", NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("ADDRESS");
	g_autoptr(GError) err = NULL;
	HmDiscovery d;
	int rc;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err) || argc != 2 || timeout < 0) {
		fprintf(stderr, "usage: hm-discover [--resolver H:P] [--connect-to H:P] "
		                "[--ca-file F] [--timeout S] [--presets-only] ADDRESS\n");
		return 64;
	}
	hm_log_init("hm-discover", FALSE, verbose ? 2 : 0);
	opt.resolver = resolver;
	opt.connect_to = connect_to;
	opt.ca_file = ca_file;
	opt.timeout_s = (guint)timeout;
	opt.presets_only = presets_only;
	rc = hm_discover(argv[1], &opt, &d, &err);
	if (rc == 0) {
		printf("provider=%s\nnote=%s\n", d.provider ? d.provider : "-", d.note ? d.note : "-");
		for (int p = 0; p < HM_DISC_N; p++)
			print_server((HmDiscProto)p, &d.server[p]);
	}
	for (guint i = 0; d.tried != NULL && i < d.tried->len; i++)
		printf("tried=%s\n", (const char *)g_ptr_array_index(d.tried, i));
	if (rc < 0)
		printf("error=%s\n", err->message);
	hm_discovery_clear(&d);
	return rc == 0 ? 0 : 1;
}
