/* Fuzzes the Cloudflare API answer reader and what reads its result (the
 * zone id, the record lookup), and DuckDNS's answer reader: the first byte
 * picks the HTTP status, the rest is the body. Whatever is accepted keeps
 * its promises: ids fit a URL path, texts are one printable line. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "dyndns/cloudflare.h"
#include "dyndns/duckdns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 201, 400, 401, 403, 404, 429, 500, 503 };

static void
check_id(const char *id)
{
	if (id == NULL)
		return;
	if (id[0] == '\0' || strlen(id) > 64)
		__builtin_trap();
	for (const char *p = id; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p))
			__builtin_trap();
}

static void
check_text(const HmDynResult *res)
{
	if (res->text == NULL)
		__builtin_trap();
	for (const char *p = res->text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HmDynResult res = { 0 };
	JsonNode *result;
	long status;
	char *id = NULL, *content = NULL, *body;

	if (size < 1)
		return 0;
	status = statuses[data[0] % G_N_ELEMENTS(statuses)];
	result = hm_dyn_cf_answer(status, (const char *)data + 1, size - 1, &res);
	if (result == NULL) {
		check_text(&res);
		if (res.outcome != HM_DYN_HOLD && res.outcome != HM_DYN_BACKOFF)
			__builtin_trap();
	} else {
		int n = hm_dyn_cf_find_record(result, "A", "box.example.com", &id, &content);

		if (res.text != NULL || (n > 0) != (id != NULL))
			__builtin_trap();
		check_id(id);
		g_free(id);
		g_free(content);
		id = hm_dyn_cf_zone_id(result, "example.com");
		check_id(id);
		g_free(id);
		json_node_unref(result);
	}
	hm_dyn_result_clear(&res);
	body = g_strndup((const char *)data + 1, size - 1);
	hm_dyn_duckdns_parse(status, body, &res);
	check_text(&res);
	hm_dyn_result_clear(&res);
	g_free(body);
	return 0;
}
