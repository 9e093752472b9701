#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "base64.h"
#include "error.h"
#include "oauth2-flow.h"
#include "oauth2-json.h"
#include "printable.h"

/* RFC 7636 4.1: 32 random octets give a 43-character verifier. */
#define VERIFIER_OCTETS 32

static int
random_bytes(guint8 *buf, gsize len, GError **err)
{
	gsize got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hm_set_error_errno(err, errno, "getrandom");
			return -1;
		}
		got += (gsize)n;
	}
	return 0;
}

/* BASE64URL without padding (RFC 7636 appendix A) into out. */
static void
base64url(const guint8 *data, gsize len, char *out, gsize size)
{
	g_autofree char *b = hm_base64_encode(data, len);
	gsize n = 0;

	for (const char *p = b; *p != '\0' && *p != '=' && n + 1 < size; p++)
		out[n++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	out[n] = '\0';
}

void
hm_oauth2_pkce_challenge(const char *verifier, char *out, gsize size)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 digest[32];
	gsize dlen = sizeof(digest);

	g_checksum_update(sum, (const guchar *)verifier, (gssize)strlen(verifier));
	g_checksum_get_digest(sum, digest, &dlen);
	base64url(digest, dlen, out, size);
}

int
hm_oauth2_pkce_new(HmOauth2Pkce *p, GError **err)
{
	guint8 v[VERIFIER_OCTETS], s[24];

	if (random_bytes(v, sizeof(v), err) < 0 || random_bytes(s, sizeof(s), err) < 0)
		return -1;
	base64url(v, sizeof(v), p->verifier, sizeof(p->verifier));
	base64url(s, sizeof(s), p->state, sizeof(p->state));
	hm_oauth2_pkce_challenge(p->verifier, p->challenge, sizeof(p->challenge));
	explicit_bzero(v, sizeof(v));
	return 0;
}

char *
hm_oauth2_authorize_url(const HmOauth2Conf *c, const char *redirect_uri, const HmOauth2Pkce *p)
{
	GString *url = g_string_new(c->authorize_url);

	/* After the "?" (or the URL's own query) each parameter comes as
	 * "&name=value", as in a form body. */
	g_string_append(url, strchr(c->authorize_url, '?') != NULL ? "&" : "?");
	g_string_append(url, "response_type=code");
	hm_oauth2_form_add(url, "client_id", c->client_id);
	hm_oauth2_form_add(url, "redirect_uri", redirect_uri);
	if (c->scope != NULL)
		hm_oauth2_form_add(url, "scope", c->scope);
	hm_oauth2_form_add(url, "state", p->state);
	hm_oauth2_form_add(url, "code_challenge", p->challenge);
	hm_oauth2_form_add(url, "code_challenge_method", "S256");
	if (g_strcmp0(c->provider, "google") == 0) {
		hm_oauth2_form_add(url, "access_type", "offline");
		hm_oauth2_form_add(url, "prompt", "consent");
	}
	return g_string_free(url, FALSE);
}

/* The value of name in query (form-decoded), or NULL. */
static char *
query_value(const char *query, const char *name)
{
	g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
	gsize n = strlen(name);

	for (guint i = 0; pairs[i] != NULL; i++)
		if (strncmp(pairs[i], name, n) == 0 && pairs[i][n] == '=') {
			g_strdelimit(pairs[i] + n + 1, "+", ' ');
			return g_uri_unescape_string(pairs[i] + n + 1, NULL);
		}
	return NULL;
}

char *
hm_oauth2_redirect_code(const char *text, const char *want_state, GError **err)
{
	g_autofree char *trimmed = g_strstrip(g_strdup(text));
	const char *q = strchr(trimmed, '?');
	g_autofree char *query = NULL, *error = NULL, *desc = NULL, *state = NULL;
	char *code;

	query = g_strdup(q != NULL ? q + 1 : trimmed);
	if (strchr(query, '#') != NULL)
		*strchr(query, '#') = '\0';
	error = query_value(query, "error");
	desc = query_value(query, "error_description");
	state = query_value(query, "state");
	if (g_strcmp0(state, want_state) != 0) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_STATE,
		            "the answer is not for this sign-in (its state %s)",
		            state == NULL ? "is missing" : "differs");
		return NULL;
	}
	if (error != NULL) {
		g_autofree char *words = g_strdup_printf("%s%s%s%s", error, desc != NULL ? " (" : "",
		                                         desc != NULL ? desc : "",
		                                         desc != NULL ? ")" : "");
		g_autofree char *safe = hm_printable(words, -1);

		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_REFUSED, "the sign-in was refused: %s",
		            safe);
		return NULL;
	}
	code = query_value(query, "code");
	if (code == NULL || *code == '\0') {
		g_free(code);
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL, "the answer holds no code");
		return NULL;
	}
	return code;
}

int
hm_oauth2_code_exchange(const HmOauth2Conf *c, const char *code, const char *redirect_uri,
                        const HmOauth2Pkce *p, HmOauth2Token *t, GError **err)
{
	g_autoptr(GString) form = g_string_new(NULL);

	hm_oauth2_form_add(form, "grant_type", "authorization_code");
	hm_oauth2_form_add(form, "code", code);
	hm_oauth2_form_add(form, "redirect_uri", redirect_uri);
	hm_oauth2_form_add(form, "code_verifier", p->verifier);
	return hm_oauth2_token_request(c, form, t, err);
}

void
hm_oauth2_device_clear(HmOauth2Device *d)
{
	if (d == NULL)
		return;
	g_free(d->device_code);
	g_free(d->user_code);
	g_free(d->verification_uri);
	g_free(d->verification_uri_complete);
	memset(d, 0, sizeof(*d));
}

int
hm_oauth2_device_start(const HmOauth2Conf *c, HmOauth2Device *d, GError **err)
{
	g_autoptr(GString) form = g_string_new(NULL);
	g_autoptr(JsonParser) parser = NULL;
	HmHttpResponse resp = { 0 };
	JsonObject *o;
	const char *body, *uri;
	gsize len;
	gint64 expires, interval;

	hm_oauth2_device_clear(d);
	if (hm_json_load(err) < 0)
		return -1;
	hm_oauth2_form_client(form, c);
	if (c->scope != NULL)
		hm_oauth2_form_add(form, "scope", c->scope);
	if (hm_oauth2_post(c, c->device_url, form, &resp, err) < 0)
		return -1;
	body = g_bytes_get_data(resp.body, &len);
	o = hm_oauth2_json_object(body, len, &parser);
	/* Google says verification_url (its older name). */
	uri = o == NULL ? NULL
	                : hm_oauth2_json_string(o, "verification_uri") != NULL
	                          ? hm_oauth2_json_string(o, "verification_uri")
	                          : hm_oauth2_json_string(o, "verification_url");
	if (resp.status != 200 || o == NULL || hm_oauth2_json_string(o, "device_code") == NULL ||
	    hm_oauth2_json_string(o, "user_code") == NULL || uri == NULL) {
		gboolean refused = o != NULL && hm_oauth2_json_string(o, "error") != NULL;
		g_autofree char *words = hm_oauth2_json_error_words(o, "without a device code");

		g_set_error(err, HM_OAUTH2_ERROR,
		            refused ? HM_OAUTH2_ERROR_REFUSED : HM_OAUTH2_ERROR_PROTOCOL,
		            "the device endpoint answered %ld %s", resp.status, words);
		hm_http_response_clear(&resp);
		return -1;
	}
	d->device_code = g_strdup(hm_oauth2_json_string(o, "device_code"));
	d->user_code = g_strdup(hm_oauth2_json_string(o, "user_code"));
	d->verification_uri = g_strdup(uri);
	d->verification_uri_complete = g_strdup(hm_oauth2_json_string(o, "verification_uri_complete"));
	expires = hm_oauth2_json_int(o, "expires_in");
	interval = hm_oauth2_json_int(o, "interval");
	/* RFC 8628 3.2: 5 s when the server names no interval. */
	d->interval = interval >= 1 ? (guint)MIN(interval, 60) : 5;
	/* RFC 8628 3.2 requires expires_in; without it, 15 minutes. A code
	 * is meant for minutes: more than an hour is taken as an hour, which
	 * also keeps a huge value from overflowing. */
	expires = expires > 0 ? MIN(expires, HM_OAUTH2_DEVICE_EXPIRES_MAX_S) : 900;
	d->expires_at = g_get_monotonic_time() + expires * G_USEC_PER_SEC;
	hm_http_response_clear(&resp);
	return 0;
}

HmOauth2Poll
hm_oauth2_device_poll(const HmOauth2Conf *c, HmOauth2Device *d, HmOauth2Token *t,
                      GError **err)
{
	g_autoptr(GString) form = g_string_new(NULL);
	g_autoptr(GError) e = NULL;

	if (g_get_monotonic_time() >= d->expires_at) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_REFUSED,
		            "the code expired before the sign-in was finished: start again");
		return HM_OAUTH2_POLL_FAILED;
	}
	hm_oauth2_form_add(form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
	hm_oauth2_form_add(form, "device_code", d->device_code);
	if (hm_oauth2_token_request(c, form, t, &e) == 0)
		return HM_OAUTH2_POLL_DONE;
	/* RFC 8628 3.5: two answers mean "not yet". */
	if (g_error_matches(e, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PENDING))
		return HM_OAUTH2_POLL_PENDING;
	if (g_error_matches(e, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_SLOW_DOWN)) {
		d->interval += 5;
		return HM_OAUTH2_POLL_SLOWER;
	}
	g_propagate_error(err, g_steal_pointer(&e));
	return HM_OAUTH2_POLL_FAILED;
}
