/* Fuzzes the listen specification parser ("HOST:PORT", "[V6]:PORT/tls"). */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>

#include "lib/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size);
	HmListenSpec spec = { 0 };

	if (hm_listen_spec_parse(text, &spec, NULL) == 0) {
		if (spec.host == NULL || spec.port == 0)
			abort();
		hm_listen_spec_clear(&spec);
	}
	return 0;
}
