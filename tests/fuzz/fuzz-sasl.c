/* Fuzzes the SASL PLAIN decoder: whatever it accepts must obey RFC 4616
 * (fields within 255 octets, non-empty authcid and password, no NUL in
 * any) and re-encode to the same text when the authzid is empty. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "lib/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HmSaslPlain p;
	char *again;

	if (hm_sasl_plain_decode((const char *)data, size, &p, NULL) < 0) {
		if (p.authzid != NULL || p.authcid != NULL || p.password != NULL)
			__builtin_trap();
		hm_sasl_plain_clear(&p);
		return 0;
	}
	if (strlen(p.authzid) > 255 || strlen(p.authcid) > 255 || strlen(p.password) > 255 ||
	    p.authcid[0] == '\0' || p.password[0] == '\0')
		__builtin_trap();
	if (strlen(p.authzid) + strlen(p.authcid) + strlen(p.password) + 2 != size / 4 * 3 -
	    (size > 0 && data[size - 1] == '=') - (size > 1 && data[size - 2] == '='))
		__builtin_trap();
	if (p.authzid[0] == '\0') {
		again = hm_sasl_plain_encode(p.authcid, p.password);
		if (strlen(again) != size || memcmp(again, data, size) != 0)
			__builtin_trap();
		hm_sasl_free_secret(again);
	}
	hm_sasl_plain_clear(&p);
	return 0;
}
