/* hm-dnsbl-check: relay/dnsbl.c's check from the command line, so the
 * integration tests can ask a real BIND 9 through it. Not installed.
 *
 *   hm-dnsbl-check [--resolver HOST:PORT] [--timeout MS] --zone Z [--zone Z2] IP
 *
 * Prints "verdict=...", "zone=...", "reason=..." (one per line; zone and
 * reason empty for a clean address). Exit status: 0 clean, 1 listed,
 * 2 refused, 3 error, 64 usage. */
#include <config.h>

#include <stdio.h>

#include "relay/dnsbl.h"

static const int exit_codes[] = {
	[RELAY_DNSBL_CLEAN] = 0,
	[RELAY_DNSBL_LISTED] = 1,
	[RELAY_DNSBL_REFUSED] = 2,
	[RELAY_DNSBL_ERROR] = 3,
};

int
main(int argc, char **argv)
{
	g_autofree char *resolver = NULL;
	g_auto(GStrv) zones = NULL;
	int timeout = RELAY_DNSBL_TIMEOUT_MS;
	GOptionEntry entries[] = {
		{ "resolver", 0, 0, G_OPTION_ARG_STRING, &resolver, "DNS server (default: resolv.conf)",
		  "HOST:PORT" },
		{ "zone", 0, 0, G_OPTION_ARG_STRING_ARRAY, &zones, "blocklist zone (repeatable)", "ZONE" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "per-query timeout", "MS" },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("IP - ask DNS blocklists about IP");
	g_autoptr(GError) err = NULL;
	RelayDnsblResult res = { 0 };
	RelayDnsblVerdict v;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 2 || zones == NULL ||
	    timeout < 1) {
		fprintf(stderr, "hm-dnsbl-check: %s\n", err ? err->message : "usage: see --help");
		return 64;
	}
	v = relay_dnsbl_check((const char *const *)zones, argv[1], resolver, (guint)timeout, &res);
	printf("verdict=%s\nzone=%s\nreason=%s\n", relay_dnsbl_verdict_name(v),
	       res.zone ? res.zone : "", res.reason ? res.reason : "");
	relay_dnsbl_result_clear(&res);
	return exit_codes[v];
}
