#include <config.h>

#include <string.h>

#include "base64.h"
#include "error.h"
#include "passwd.h"
#include "sasl.h"

/* RFC 4616 section 2: authzid and authcid are at most 255 UTF-8 octets
 * each; the password is held to HM_PASSWORD_MAX, the same 255. */
#define SASL_PLAIN_FIELD_MAX 255

/* The decoded message: at most three fields, two NULs. */
#define SASL_PLAIN_MAX (2 * SASL_PLAIN_FIELD_MAX + HM_PASSWORD_MAX + 2)

static HmSaslStatus
plain_fail(GError **err, HmSaslStatus st, const char *why)
{
	g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "bad SASL PLAIN response: %s", why);
	return st;
}

/* Splits msg[0..len) at its two NULs into the three fields; checks the
 * rules of RFC 4616 section 2, then the password's length. */
static HmSaslStatus
plain_split(const char *msg, gsize len, HmSaslPlain *out, GError **err)
{
	const char *nul1, *nul2, *end = msg + len;
	const char *authcid, *password;

	nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		return plain_fail(err, HM_SASL_BAD, "no NUL separator");
	authcid = nul1 + 1;
	nul2 = memchr(authcid, '\0', (gsize)(end - authcid));
	if (nul2 == NULL)
		return plain_fail(err, HM_SASL_BAD, "only one NUL separator");
	password = nul2 + 1;
	if (memchr(password, '\0', (gsize)(end - password)) != NULL)
		return plain_fail(err, HM_SASL_BAD, "more than two NUL separators");
	if (nul1 - msg > SASL_PLAIN_FIELD_MAX || nul2 - authcid > SASL_PLAIN_FIELD_MAX)
		return plain_fail(err, HM_SASL_BAD, "identity longer than 255 octets");
	if (nul2 == authcid)
		return plain_fail(err, HM_SASL_BAD, "empty authentication identity");
	if (password == end)
		return plain_fail(err, HM_SASL_BAD, "empty password");
	/* The identities end up in logs and user lookups; the password is
	 * compared as the bytes it is. */
	if (!g_utf8_validate(msg, nul1 - msg, NULL) ||
	    !g_utf8_validate(authcid, nul2 - authcid, NULL))
		return plain_fail(err, HM_SASL_BAD, "identity is not UTF-8");
	if (end - password > HM_PASSWORD_MAX)
		return plain_fail(err, HM_SASL_PASSWORD_TOO_LONG,
		                  "password longer than " G_STRINGIFY(HM_PASSWORD_MAX) " octets");
	out->authzid = g_strndup(msg, (gsize)(nul1 - msg));
	out->authcid = g_strndup(authcid, (gsize)(nul2 - authcid));
	out->password = g_strndup(password, (gsize)(end - password));
	return HM_SASL_OK;
}

HmSaslStatus
hm_sasl_plain_decode(const char *b64, gsize len, HmSaslPlain *out, GError **err)
{
	GBytes *bytes;
	char *msg;
	gsize n;
	HmSaslStatus rc;

	memset(out, 0, sizeof(*out));
	/* Refused before decoding so a huge response costs nothing. */
	if (len > (SASL_PLAIN_MAX + 2) / 3 * 4)
		return plain_fail(err, HM_SASL_BAD, "too long");
	bytes = hm_base64_decode(b64, len, err);
	if (bytes == NULL)
		return HM_SASL_BAD;
	msg = g_bytes_unref_to_data(bytes, &n);
	if (msg == NULL || n == 0) {
		g_free(msg);
		return plain_fail(err, HM_SASL_BAD, "empty");
	}
	rc = plain_split(msg, n, out, err);
	/* The decoded text holds the password. */
	explicit_bzero(msg, n);
	g_free(msg);
	return rc;
}

void
hm_sasl_free_secret(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	g_free(secret);
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
	gsize clen = strlen(authcid), plen = strlen(password);
	gsize len = 1 + clen + 1 + plen;
	char *msg = g_malloc(len);
	char *b64;

	msg[0] = '\0';
	memcpy(msg + 1, authcid, clen);
	msg[1 + clen] = '\0';
	memcpy(msg + 2 + clen, password, plen);
	b64 = hm_base64_encode(msg, len);
	explicit_bzero(msg, len);
	g_free(msg);
	return b64;
}
