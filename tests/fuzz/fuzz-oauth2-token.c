/* Fuzzes what a token endpoint (or anyone between, were TLS broken)
 * controls: its answer, read by hm_oauth2_token_parse(), and a pasted or
 * browser-sent redirect, read by hm_oauth2_redirect_code(). The first byte
 * picks the HTTP status. Whatever is accepted keeps its promises: a
 * non-empty access token, and errors in a classified code. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "lib/oauth2-flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 400, 401, 429, 500, 503 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HmOauth2Token t = { 0 };
	GError *err = NULL;
	g_autofree char *text = NULL;
	char *code;
	long status;

	if (size < 1)
		return 0;
	status = statuses[data[0] % G_N_ELEMENTS(statuses)];
	if (hm_oauth2_token_parse(status, (const char *)data + 1, size - 1, 1796400000, &t, &err) ==
	    0) {
		if (status != 200 || t.access_token == NULL || t.access_token[0] == '\0' ||
		    t.expires_at < 0)
			__builtin_trap();
	} else if (err == NULL || err->domain != HM_OAUTH2_ERROR || t.access_token != NULL) {
		__builtin_trap();
	}
	g_clear_error(&err);
	hm_oauth2_token_clear(&t);
	text = g_strndup((const char *)data + 1, size - 1);
	code = hm_oauth2_redirect_code(text, "ST", &err);
	if ((code == NULL) == (err == NULL) || (code != NULL && code[0] == '\0'))
		__builtin_trap();
	g_free(code);
	g_clear_error(&err);
	return 0;
}
