/* Fuzzes header iteration: every field stays inside the input, values
 * unfold and addr_spec extracts without reading past the end. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	HmHeaderIter it;
	HmHeaderField f;
	gsize end = hm_header_section_end(msg, size);

	hm_header_iter_init(&it, msg, size);
	while (hm_header_next(&it, &f) == 1) {
		g_autofree char *v = hm_header_value(&f);
		g_autofree char *a = hm_header_addr_spec(v);

		if (f.name < msg || f.value + f.value_len > msg + size || f.name_len == 0 ||
		    strlen(a) > f.value_len)
			abort();
	}
	if (end > size)
		abort();
	return 0;
}
