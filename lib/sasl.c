/* The SASL mechanisms, each a descriptor with its client and server
 * steps, and the server side's state. */
#include <config.h>

#include <string.h>

#include "base64.h"
#include "error.h"
#include "passwd.h"
#include "sasl-private.h"

/* The decoded PLAIN message: at most three fields, two NULs. */
#define SASL_PLAIN_MAX (2 * HM_SASL_FIELD_MAX + HM_PASSWORD_MAX + 2)

struct HmSaslServer {
	const HmSaslMech *mech;
	guint step;
	char *user;
	char *password;
};

HmSaslSecret *
hm_sasl_secret_new(const void *data, gsize len)
{
	HmSaslSecret *s = g_new0(HmSaslSecret, 1);

	s->data = g_malloc(len + 1);
	memcpy(s->data, data, len);
	s->data[len] = '\0';
	s->len = len;
	return s;
}

void
hm_sasl_secret_free(HmSaslSecret *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s->data, s->len);
	g_free(s->data);
	g_free(s);
}

void
hm_sasl_free_secret(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	g_free(secret);
}

static int
bad_as(GError **err, HmSaslStatus st, const char *mech, const char *why)
{
	g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "bad SASL %s response: %s", mech, why);
	return st;
}

static int
bad(GError **err, const char *mech, const char *why)
{
	return bad_as(err, HM_SASL_BAD, mech, why);
}

static int
password_too_long(GError **err, const char *mech)
{
	return bad_as(err, HM_SASL_PASSWORD_TOO_LONG, mech,
	              "password longer than " G_STRINGIFY(HM_PASSWORD_MAX) " octets");
}

/* An identity: 1..HM_SASL_FIELD_MAX octets of UTF-8 (it ends up in logs
 * and user lookups). */
static gboolean
identity_ok(const char *s, gsize len)
{
	return len > 0 && len <= HM_SASL_FIELD_MAX && g_utf8_validate(s, (gssize)len, NULL);
}

/* --- PLAIN (RFC 4616) ---------------------------------------------------- */

/* Splits msg[0..len) at its two NULs into the three fields. */
static int
plain_split(const char *msg, gsize len, HmSaslPlain *out, GError **err)
{
	const char *nul1, *nul2, *end = msg + len;
	const char *authcid, *password;

	nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		return bad(err, "PLAIN", "no NUL separator");
	authcid = nul1 + 1;
	nul2 = memchr(authcid, '\0', (gsize)(end - authcid));
	if (nul2 == NULL)
		return bad(err, "PLAIN", "only one NUL separator");
	password = nul2 + 1;
	if (memchr(password, '\0', (gsize)(end - password)) != NULL)
		return bad(err, "PLAIN", "more than two NUL separators");
	if (nul1 - msg > HM_SASL_FIELD_MAX || nul2 - authcid > HM_SASL_FIELD_MAX)
		return bad(err, "PLAIN", "identity longer than 255 octets");
	if (nul2 == authcid)
		return bad(err, "PLAIN", "empty authentication identity");
	if (password == end)
		return bad(err, "PLAIN", "empty password");
	/* The password is compared as the bytes it is. */
	if ((nul1 > msg && !identity_ok(msg, (gsize)(nul1 - msg))) ||
	    !identity_ok(authcid, (gsize)(nul2 - authcid)))
		return bad(err, "PLAIN", "identity is not UTF-8");
	if (end - password > HM_PASSWORD_MAX)
		return password_too_long(err, "PLAIN");
	out->authzid = g_strndup(msg, (gsize)(nul1 - msg));
	out->authcid = g_strndup(authcid, (gsize)(nul2 - authcid));
	out->password = g_strndup(password, (gsize)(end - password));
	return 0;
}

static HmSaslSecret *
plain_message(const char *user, const char *password)
{
	gsize ulen = strlen(user), plen = strlen(password);
	g_autofree char *msg = g_malloc(ulen + plen + 2);
	HmSaslSecret *s;

	msg[0] = '\0';
	memcpy(msg + 1, user, ulen);
	msg[1 + ulen] = '\0';
	memcpy(msg + 2 + ulen, password, plen);
	s = hm_sasl_secret_new(msg, ulen + plen + 2);
	explicit_bzero(msg, ulen + plen + 2);
	return s;
}

static HmSaslSecret *
plain_client_start(const HmSaslCreds *creds)
{
	return plain_message(creds->user, creds->secret);
}

static int
plain_server_step(HmSaslServer *s, const HmSaslSecret *resp, HmSaslSecret **challenge,
                  GError **err)
{
	HmSaslPlain p = { 0 };
	int rc;

	if (resp == NULL) {
		*challenge = hm_sasl_secret_new("", 0);
		return 1;
	}
	if (resp->len == 0)
		return bad(err, "PLAIN", "empty");
	if ((rc = plain_split(resp->data, resp->len, &p, err)) < 0)
		return rc;
	if (p.authzid[0] != '\0' && strcmp(p.authzid, p.authcid) != 0) {
		hm_sasl_plain_clear(&p);
		return bad(err, "PLAIN", "acting for another user is not supported");
	}
	s->user = g_steal_pointer(&p.authcid);
	s->password = g_steal_pointer(&p.password);
	hm_sasl_plain_clear(&p);
	return 0;
}

/* --- LOGIN (draft-murchison-sasl-login) ----------------------------------- */

/* The client answers the challenges in order, whatever their words
 * (servers say "Username:" and "Password:", not all in English). */
static HmSaslSecret *
login_client_step(HmSaslClient *c, guint step, const HmSaslSecret *chal, GError **err)
{
	(void)chal;
	if (step == 0)
		return hm_sasl_secret_new(c->creds->user, strlen(c->creds->user));
	if (step == 1)
		return hm_sasl_secret_new(c->creds->secret, strlen(c->creds->secret));
	g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "LOGIN: unexpected third challenge");
	return NULL;
}

/* A client may send the user name as an initial response. */
static int
login_server_step(HmSaslServer *s, const HmSaslSecret *resp, HmSaslSecret **challenge,
                  GError **err)
{
	if (s->user == NULL && resp == NULL) {
		*challenge = hm_sasl_secret_new("Username:", 9);
		return 1;
	}
	if (s->user == NULL) {
		if (memchr(resp->data, '\0', resp->len) != NULL || !identity_ok(resp->data, resp->len))
			return bad(err, "LOGIN", "not a user name");
		s->user = g_strndup(resp->data, resp->len);
		*challenge = hm_sasl_secret_new("Password:", 9);
		return 1;
	}
	if (resp == NULL || resp->len == 0)
		return bad(err, "LOGIN", "empty password");
	if (memchr(resp->data, '\0', resp->len) != NULL)
		return bad(err, "LOGIN", "not a password");
	if (resp->len > HM_PASSWORD_MAX)
		return password_too_long(err, "LOGIN");
	s->password = g_strndup(resp->data, resp->len);
	return 0;
}

/* --- the descriptors ----------------------------------------------------- */

static const HmSaslMech mechs[] = {
	{ "PLAIN", NULL, plain_client_start, NULL, plain_server_step },
	{ "LOGIN", NULL, NULL, login_client_step, login_server_step },
};

const HmSaslMech *
hm_sasl_mech_find(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(mechs); i++)
		if (g_ascii_strcasecmp(mechs[i].name, name) == 0)
			return &mechs[i];
	return NULL;
}

const char *
hm_sasl_mech_name(const HmSaslMech *mech)
{
	return mech->name;
}

const HmSaslMech *
hm_sasl_client_pick(const char *const *offered)
{
	for (gsize i = 0; i < G_N_ELEMENTS(mechs); i++)
		for (gsize j = 0; offered != NULL && offered[j] != NULL; j++)
			if (g_ascii_strcasecmp(mechs[i].name, offered[j]) == 0)
				return &mechs[i];
	return NULL;
}

/* --- the server side ------------------------------------------------------ */

HmSaslServer *
hm_sasl_server_new(const HmSaslMech *mech)
{
	HmSaslServer *s = g_new0(HmSaslServer, 1);

	s->mech = mech;
	return s;
}

void
hm_sasl_server_free(HmSaslServer *s)
{
	if (s == NULL)
		return;
	g_free(s->user);
	hm_sasl_free_secret(s->password);
	g_free(s);
}

HmSaslSecret *
hm_sasl_decode(const char *b64, gsize max, const char *mech, GError **err)
{
	gsize len = strlen(b64), n = 0;
	GBytes *bytes;
	HmSaslSecret *s;
	char *data;

	if (strcmp(b64, "=") == 0)
		return hm_sasl_secret_new("", 0);
	if (len > (max + 2) / 3 * 4) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "SASL %s data over %zu octets: too long",
		            mech, max);
		return NULL;
	}
	if ((bytes = hm_base64_decode(b64, len, err)) == NULL)
		return NULL;
	data = g_bytes_unref_to_data(bytes, &n);
	s = hm_sasl_secret_new(data != NULL ? data : "", n);
	if (data != NULL)
		explicit_bzero(data, n);
	g_free(data);
	return s;
}

int
hm_sasl_server_step(HmSaslServer *s, const char *response, char **challenge, GError **err)
{
	HmSaslSecret *resp = NULL, *chal = NULL;
	int rc;

	*challenge = NULL;
	/* PLAIN takes one response, LOGIN two: more is a confused client. */
	if (s->step++ > 2 || s->password != NULL)
		return bad(err, s->mech->name, "too many steps");
	if (response != NULL &&
	    (resp = hm_sasl_decode(response, SASL_PLAIN_MAX, s->mech->name, err)) == NULL)
		return -1;
	rc = s->mech->server_step(s, resp, &chal, err);
	hm_sasl_secret_free(resp);
	if (rc == 1)
		*challenge = hm_base64_encode(chal->data, chal->len);
	hm_sasl_secret_free(chal);
	return rc;
}

int
hm_sasl_server_exchange(HmSaslServer *s, char *initial, HmSaslAskFunc ask, gpointer data)
{
	char *resp = initial;

	for (;;) {
		g_autofree char *challenge = NULL;
		int step = hm_sasl_server_step(s, resp, &challenge, NULL);

		hm_sasl_free_secret(resp);
		if (step != 1)
			return step;
		if ((resp = ask(challenge, data)) == NULL)
			return HM_SASL_ENDED;
	}
}

const char *
hm_sasl_server_user(const HmSaslServer *s)
{
	return s->user;
}

const char *
hm_sasl_server_password(const HmSaslServer *s)
{
	return s->password;
}

/* --- PLAIN by hand ---------------------------------------------------------- */

HmSaslStatus
hm_sasl_plain_decode(const char *b64, gsize len, HmSaslPlain *out, GError **err)
{
	g_autofree char *text = g_strndup(b64, len);
	HmSaslSecret *msg;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(text) != len)
		return bad(err, "PLAIN", "NUL in base64");
	if ((msg = hm_sasl_decode(text, SASL_PLAIN_MAX, "PLAIN", err)) == NULL)
		return HM_SASL_BAD;
	rc = msg->len == 0 ? bad(err, "PLAIN", "empty") : plain_split(msg->data, msg->len, out, err);
	hm_sasl_secret_free(msg);
	return rc;
}

void
hm_sasl_plain_clear(HmSaslPlain *p)
{
	g_clear_pointer(&p->authzid, g_free);
	g_clear_pointer(&p->authcid, g_free);
	hm_sasl_free_secret(p->password);
	p->password = NULL;
}

char *
hm_sasl_plain_encode(const char *authcid, const char *password)
{
	HmSaslSecret *msg = plain_message(authcid, password);
	char *b64 = hm_base64_encode(msg->data, msg->len);

	hm_sasl_secret_free(msg);
	return b64;
}
