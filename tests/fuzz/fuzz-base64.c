/* Fuzzes the strict base64 decoder: whatever it accepts must be the one
 * canonical encoding of the bytes it yields. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GBytes) dec = hm_base64_decode((const char *)data, size, NULL);
	g_autofree char *enc = NULL;
	const guint8 *out;
	gsize len;

	if (dec == NULL)
		return 0;
	out = g_bytes_get_data(dec, &len);
	/* The promised NUL after the data. */
	if (out == NULL || out[len] != 0)
		abort();
	enc = hm_base64_encode(out, len);
	if (strlen(enc) != size || memcmp(enc, data, size) != 0)
		abort();
	return 0;
}
