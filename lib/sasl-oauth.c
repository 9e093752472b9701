/* The OAuth2 SASL mechanisms, client side: XOAUTH2 (Google's and
 * Microsoft's) and OAUTHBEARER (RFC 7628), and the decoder of their
 * failure challenge. A file of its own because the decoder links
 * json-glib (through lib/oauth2-json), which the programs that never sign
 * in with OAuth2 (popd, deliver, sendmail) must not load. */
#include <config.h>

#include <string.h>

#include "base64.h"
#include "error.h"
#include "oauth2-json.h"
#include "sasl-private.h"

/* RFC 7628 section 3.2.2's JSON is a few hundred octets; a server that
 * sends more is not one we trust to parse at length. */
#define OAUTH_CHALLENGE_MAX 4096

/* --- the initial responses ------------------------------------------------ */

/* Printable ASCII, as an RFC 6750 b64token is (and a JWT, which Microsoft
 * sends): a space or control character would break the framing. */
static gboolean
token_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return FALSE;
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return FALSE;
	return TRUE;
}

/* A user name goes between \x01 separators: no control characters. */
static gboolean
user_ok(const char *s)
{
	if (s == NULL || *s == '\0' || !g_utf8_validate(s, -1, NULL))
		return FALSE;
	for (; *s != '\0'; s++)
		if ((guchar)*s < 0x20 || *s == 0x7f)
			return FALSE;
	return TRUE;
}

static int
oauth_check(const HmSaslCreds *creds, GError **err)
{
	const char *bad = NULL;

	if (!user_ok(creds->user))
		bad = "the user name is empty or holds a control character";
	else if (!token_ok(creds->secret))
		bad = "the access token is empty or holds a space or control character";
	else if (creds->host != NULL && !token_ok(creds->host))
		bad = "the host name is empty or holds a space or control character";
	if (bad == NULL)
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "cannot sign in with OAuth2: %s", bad);
	return -1;
}

/* The bytes of msg as a secret; msg is wiped and freed. */
static HmSaslSecret *
secret_from_string(GString *msg)
{
	HmSaslSecret *s = hm_sasl_secret_new(msg->str, msg->len);

	explicit_bzero(msg->str, msg->len);
	g_string_free(msg, TRUE);
	return s;
}

/* user=USER ^A auth=Bearer TOKEN ^A ^A, as Google documents it. */
static HmSaslSecret *
xoauth2_start(const HmSaslCreds *creds)
{
	GString *msg = g_string_sized_new(64 + strlen(creds->secret));

	g_string_append_printf(msg, "user=%s\001auth=Bearer %s\001\001", creds->user,
	                       creds->secret);
	return secret_from_string(msg);
}

/* RFC 7628 section 3.1: a GS2 header naming the user (RFC 5801's saslname:
 * "," and "=" escaped), then key=value pairs each ended by ^A, then ^A. */
static HmSaslSecret *
oauthbearer_start(const HmSaslCreds *creds)
{
	GString *msg = g_string_sized_new(96 + strlen(creds->secret));

	g_string_append(msg, "n,a=");
	for (const char *p = creds->user; *p != '\0'; p++) {
		if (*p == ',')
			g_string_append(msg, "=2C");
		else if (*p == '=')
			g_string_append(msg, "=3D");
		else
			g_string_append_c(msg, *p);
	}
	g_string_append(msg, ",\001");
	if (creds->host != NULL)
		g_string_append_printf(msg, "host=%s\001", creds->host);
	if (creds->port != 0)
		g_string_append_printf(msg, "port=%u\001", (unsigned)creds->port);
	g_string_append_printf(msg, "auth=Bearer %s\001\001", creds->secret);
	return secret_from_string(msg);
}

/* --- the failure challenge ------------------------------------------------ */

/* Copies a printable ASCII string of at most max octets into out. */
static gboolean
copy_field(const char *s, char *out, gsize max)
{
	gsize n = strlen(s);

	if (n > max)
		return FALSE;
	for (gsize i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return FALSE;
	memcpy(out, s, n + 1);
	return TRUE;
}

/* An optional string member: absent, null or not a string is "" (the
 * status is what we act on), but a string we would print must be sane. */
static gboolean
string_member(JsonObject *o, const char *name, char *out, gsize max)
{
	const char *v = hm_oauth2_json_string(o, name);

	return v == NULL || copy_field(v, out, max);
}

/* The status: a string, or an integer (a "401" written as a number). */
static gboolean
status_member(JsonObject *o, char *out)
{
	const char *v = hm_oauth2_json_string(o, "status");
	gint64 n;
	char num[24];

	if (v == NULL) {
		if ((n = hm_oauth2_json_int(o, "status")) < 0)
			return FALSE;
		g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT, n);
		v = num;
	}
	return copy_field(v, out, HM_SASL_OAUTH_STATUS_MAX) && *out != '\0';
}

/* RFC 6750 section 3.1's error codes, and the HTTP statuses Google's
 * XOAUTH2 sends in their place. */
static HmSaslOauthKind
status_kind(const char *status)
{
	static const struct {
		const char *status;
		HmSaslOauthKind kind;
	} known[] = {
		{ "invalid_token", HM_SASL_OAUTH_INVALID_TOKEN },
		{ "401", HM_SASL_OAUTH_INVALID_TOKEN },
		{ "insufficient_scope", HM_SASL_OAUTH_INSUFFICIENT_SCOPE },
		{ "403", HM_SASL_OAUTH_INSUFFICIENT_SCOPE },
		{ "invalid_request", HM_SASL_OAUTH_INVALID_REQUEST },
		{ "400", HM_SASL_OAUTH_INVALID_REQUEST },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(known); i++)
		if (g_ascii_strcasecmp(status, known[i].status) == 0)
			return known[i].kind;
	return HM_SASL_OAUTH_OTHER;
}

/* Decodes the JSON of a failure challenge (data[len] is a NUL). */
static gboolean
parse_json(const char *data, gsize len, HmSaslOauthError *out)
{
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *o;

	memset(out, 0, sizeof(*out));
	out->kind = HM_SASL_OAUTH_UNREADABLE;
	/* json-glib would stop at a NUL and take the rest as read. */
	if (len == 0 || len > OAUTH_CHALLENGE_MAX || memchr(data, '\0', len) != NULL ||
	    hm_json_load(NULL) < 0)
		return FALSE;
	if ((o = hm_oauth2_json_object(data, len, &parser)) == NULL)
		return FALSE;
	if (!status_member(o, out->status) ||
	    !string_member(o, "scope", out->scope, HM_SASL_OAUTH_SCOPE_MAX) ||
	    !string_member(o, "schemes", out->schemes, HM_SASL_OAUTH_SCHEMES_MAX)) {
		memset(out, 0, sizeof(*out));
		out->kind = HM_SASL_OAUTH_UNREADABLE;
		return FALSE;
	}
	out->kind = status_kind(out->status);
	return TRUE;
}

gboolean
hm_sasl_oauth_error_parse(const char *b64, gsize len, HmSaslOauthError *out)
{
	g_autofree char *text = NULL;
	HmSaslSecret *json;
	gboolean ok;

	memset(out, 0, sizeof(*out));
	out->kind = HM_SASL_OAUTH_UNREADABLE;
	if (b64 == NULL || memchr(b64, '\0', len) != NULL)
		return FALSE;
	text = g_strndup(b64, len);
	if ((json = hm_sasl_decode(text, OAUTH_CHALLENGE_MAX, "OAUTHBEARER", NULL)) == NULL)
		return FALSE;
	ok = parse_json(json->data, json->len, out);
	hm_sasl_secret_free(json);
	return ok;
}

char *
hm_sasl_oauth_error_describe(const HmSaslOauthError *e)
{
	const char *what;

	switch (e->kind) {
	case HM_SASL_OAUTH_NONE:
		return g_strdup("no OAuth2 error");
	case HM_SASL_OAUTH_UNREADABLE:
		return g_strdup("the server refused the access token (its error challenge could "
		                "not be read)");
	case HM_SASL_OAUTH_INVALID_TOKEN:
		what = "the access token is invalid or expired";
		break;
	case HM_SASL_OAUTH_INSUFFICIENT_SCOPE:
		what = "the access token's scope is insufficient for this server";
		break;
	case HM_SASL_OAUTH_INVALID_REQUEST:
		what = "the server found the sign-in request malformed";
		break;
	default:
		what = "the server refused the access token";
		break;
	}
	if (e->scope[0] != '\0')
		return g_strdup_printf("%s (%s; scope %s)", what, e->status, e->scope);
	return g_strdup_printf("%s (%s)", what, e->status);
}

/* --- the exchange after the initial response ------------------------------ */

/* The only challenge after the initial response is the failure one: it
 * is decoded for the refusal's message, then answered with the response
 * the server waits for before its final refusal (dummy, dummy_len). */
static HmSaslSecret *
failure_step(HmSaslClient *c, guint step, const HmSaslSecret *chal, const char *mech,
             const char *dummy, gsize dummy_len, GError **err)
{
	if (step > 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL,
		            "%s: a challenge after the error challenge", mech);
		return NULL;
	}
	parse_json(chal->data, chal->len, &c->refusal);
	g_free(c->why);
	c->why = hm_sasl_oauth_error_describe(&c->refusal);
	return hm_sasl_secret_new(dummy, dummy_len);
}

/* Google: "the client should send an empty response". */
static HmSaslSecret *
xoauth2_step(HmSaslClient *c, guint step, const HmSaslSecret *chal, GError **err)
{
	return failure_step(c, step, chal, "XOAUTH2", "", 0, err);
}

/* RFC 7628 section 3.2.3: a single ^A. */
static HmSaslSecret *
oauthbearer_step(HmSaslClient *c, guint step, const HmSaslSecret *chal, GError **err)
{
	return failure_step(c, step, chal, "OAUTHBEARER", "\001", 1, err);
}

/* --- the descriptors, in our order of preference -------------------------- */

static const HmSaslMech oauth_mechs[] = {
	{ "OAUTHBEARER", oauth_check, oauthbearer_start, oauthbearer_step, NULL },
	{ "XOAUTH2", oauth_check, xoauth2_start, xoauth2_step, NULL },
};

gboolean
hm_sasl_oauth_may_be_token(const HmSaslOauthError *e)
{
	return e->kind == HM_SASL_OAUTH_INVALID_TOKEN || e->kind == HM_SASL_OAUTH_NONE ||
	       e->kind == HM_SASL_OAUTH_UNREADABLE;
}

const HmSaslMech *
hm_sasl_oauth_mech_find(const char *name)
{
	for (gsize i = 0; name != NULL && i < G_N_ELEMENTS(oauth_mechs); i++)
		if (g_ascii_strcasecmp(oauth_mechs[i].name, name) == 0)
			return &oauth_mechs[i];
	return NULL;
}

const HmSaslMech *
hm_sasl_client_pick_oauth(const char *const *offered)
{
	for (gsize i = 0; i < G_N_ELEMENTS(oauth_mechs); i++)
		for (gsize j = 0; offered != NULL && offered[j] != NULL; j++)
			if (g_ascii_strcasecmp(oauth_mechs[i].name, offered[j]) == 0)
				return &oauth_mechs[i];
	return NULL;
}
