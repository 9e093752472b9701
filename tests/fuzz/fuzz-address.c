/* Fuzzes the mailbox and path parsers under every flag combination; any
 * address that parses must survive format + parse unchanged. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const HmAddress *a, guint flags)
{
	g_autofree char *text = hm_address_format(a);
	HmAddress b;

	if (hm_address_parse(text, strlen(text), flags, &b, NULL) < 0)
		abort();
	if (g_strcmp0(a->local, b.local) != 0 || g_strcmp0(a->domain, b.domain) != 0)
		abort();
	hm_address_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *str = g_strndup((const char *)data, size);
	HmAddress a;
	gboolean is_null;
	gsize end;

	for (guint flags = 0; flags <= (HM_ADDR_UTF8 | HM_ADDR_NO_DOMAIN); flags++) {
		if (hm_address_parse((const char *)data, size, flags, &a, NULL) == 0) {
			round_trip(&a, flags);
			hm_address_clear(&a);
		}
		if (hm_path_parse(str, flags, &a, &is_null, &end, NULL) == 0) {
			if (end > strlen(str) || is_null != (a.local == NULL))
				abort();
			if (!is_null)
				round_trip(&a, flags);
			hm_address_clear(&a);
		}
	}
	return 0;
}
