/* Fuzzes the decoder of the OAuth2 failure challenge (base64 JSON, RFC
 * 7628 section 3.2.2), fed as the base64 a server sends and as the JSON
 * inside it, and the client exchange that answers it: what the
 * decoder accepts has a status and fields within their bounds, in
 * printable ASCII; what it refuses leaves nothing behind; and the client,
 * whatever the challenge, answers it with the dummy response or cancels,
 * and then fails. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean
printable(const char *s, gsize max)
{
	gsize n = strlen(s);

	for (gsize i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return FALSE;
	return n <= max;
}

static void
check_parse(const uint8_t *data, size_t size)
{
	HmSaslOauthError e;
	char *words;

	if (!hm_sasl_oauth_error_parse((const char *)data, size, &e)) {
		if (e.kind != HM_SASL_OAUTH_UNREADABLE || e.status[0] != '\0' ||
		    e.scope[0] != '\0' || e.schemes[0] != '\0')
			__builtin_trap();
		return;
	}
	if (e.kind == HM_SASL_OAUTH_NONE || e.kind == HM_SASL_OAUTH_UNREADABLE ||
	    e.status[0] == '\0' || !printable(e.status, HM_SASL_OAUTH_STATUS_MAX) ||
	    !printable(e.scope, HM_SASL_OAUTH_SCOPE_MAX) ||
	    !printable(e.schemes, HM_SASL_OAUTH_SCHEMES_MAX))
		__builtin_trap();
	words = hm_sasl_oauth_error_describe(&e);
	if (strstr(words, e.status) == NULL)
		__builtin_trap();
	g_free(words);
}

/* A server that sends the input as its challenge, then refuses. */
typedef struct {
	const char *challenge;
	guint replies;
	guint lines;
	gboolean cancelled;
} Peer;

static int
peer_start(gpointer io, const char *args, const char *shown, GError **err)
{
	(void)io, (void)args, (void)shown, (void)err;
	return 0;
}

static int
peer_line(gpointer io, const char *line, const char *shown, GError **err)
{
	Peer *p = io;

	(void)shown, (void)err;
	p->lines++;
	if (strcmp(line, "*") == 0)
		p->cancelled = TRUE;
	else if (strcmp(line, "AQ==") != 0)
		__builtin_trap();
	return 0;
}

static int
peer_reply(gpointer io, HmSaslVerdict *v, char **text, GError **err)
{
	Peer *p = io;

	(void)err;
	*v = p->replies++ == 0 ? HM_SASL_CONTINUE : HM_SASL_FAILURE;
	*text = g_strdup(p->replies == 1 ? p->challenge : "NO");
	return 0;
}

static void
check_client(const uint8_t *data, size_t size)
{
	static const HmSaslProto proto = { peer_start, peer_line, peer_reply, 0 };
	HmSaslCreds creds = { "a,b=c", "tok", "host", 143 };
	char *chal = g_strndup((const char *)data, size);
	Peer p = { chal, 0, 0, FALSE };
	HmSaslOauthError e;
	GError *err = NULL;

	/* An empty challenge asks again for the initial response. */
	if (chal[0] == '\0' || strcmp(chal, "=") == 0) {
		g_free(chal);
		return;
	}
	if (hm_sasl_client_run_creds(&proto, &p, hm_sasl_oauth_mech_find("OAUTHBEARER"), &creds,
	                             TRUE, &e, &err) == 0 ||
	    err == NULL || p.lines != 1)
		__builtin_trap();
	if (!p.cancelled && e.kind == HM_SASL_OAUTH_NONE)
		__builtin_trap();
	g_error_free(err);
	g_free(chal);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b64 = hm_base64_encode(data, size);

	check_parse(data, size);
	/* The input as the JSON itself, so mutations reach the parser
	 * instead of breaking the base64. */
	check_parse((const uint8_t *)b64, strlen(b64));
	g_free(b64);
	check_client(data, size);
	return 0;
}
