/* Fuzzes the CIDR parser; a parsed range must print as text that parses
 * back to the same range and matches its own network address. */
#include <config.h>

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size);
	g_autofree char *canon = NULL;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	HmCidr r, again;

	if (hm_cidr_parse(text, &r, NULL) < 0)
		return 0;
	canon = hm_cidr_to_string(&r);
	if (hm_cidr_parse(canon, &again, NULL) < 0 || again.family != r.family ||
	    again.prefix != r.prefix || memcmp(again.addr, r.addr, sizeof(r.addr)) != 0)
		abort();
	memcpy(&sin.sin_addr, r.addr, 4);
	memcpy(&sin6.sin6_addr, r.addr, 16);
	if (!hm_cidr_match(&r, r.family == AF_INET ? (struct sockaddr *)&sin :
	                                              (struct sockaddr *)&sin6))
		abort();
	return 0;
}
