/* Fuzzes what the web server of an address's domain controls: its
 * autoconfig file, read by hm_autoconfig_parse(). Whatever is accepted
 * keeps its promises: at least one server, each with a valid host name,
 * a port and its source; a refusal leaves the discovery untouched. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "admin/autoconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HmDiscovery d = { 0 };
	GError *err = NULL;
	int n = hm_autoconfig_parse((const char *)data, size, "alice@example.org",
	                            "https://autoconfig.example.org/x", &d, &err);

	if ((n < 0) != (err != NULL) || n == 0)
		__builtin_trap();
	for (int i = 0; i < HM_DISC_N; i++) {
		const HmDiscServer *s = &d.server[i];

		if (n < 0 && s->host != NULL)
			__builtin_trap();
		if (s->host != NULL &&
		    (!hm_discover_host_ok(s->host) || s->port == 0 || s->source == NULL ||
		     (s->login != HM_DISC_LOGIN_UNKNOWN && s->user == NULL)))
			__builtin_trap();
	}
	g_clear_error(&err);
	hm_discovery_clear(&d);
	return 0;
}
