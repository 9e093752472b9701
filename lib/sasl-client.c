/* The client side of a SASL exchange, written once over a protocol's
 * framing (HmSaslProto). */
#include <config.h>

#include <string.h>

#include "base64.h"
#include "error.h"
#include "sasl-private.h"

/* Challenges answered before we give up: LOGIN needs two. */
#define SASL_MAX_CHALLENGES 8
/* A challenge we decode is not a credential, but it is bounded all the
 * same (OAUTHBEARER's error JSON is the longest expected). */
#define SASL_CHALLENGE_MAX 4096

/* Sends resp (base64) as one response line. */
static int
send_secret(const HmSaslProto *proto, gpointer io, const HmSaslSecret *resp, GError **err)
{
	char *b64 = resp->len > 0 ? hm_base64_encode(resp->data, resp->len) : g_strdup("");
	int rc = proto->send_line(io, b64, "********", err);

	hm_sasl_free_secret(b64);
	return rc;
}

/* After a challenge we cannot answer: cancel ("*"), read the server's
 * answer to that (a refusal, normally), and fail with why. */
static int
cancel(const HmSaslProto *proto, gpointer io, GError *why, GError **err)
{
	HmSaslVerdict v;
	g_autofree char *text = NULL;

	if (proto->send_line(io, "*", "*", err) == 0)
		proto->read_reply(io, &v, &text, err);
	g_clear_error(err);
	g_propagate_error(err, why);
	return -1;
}

/* The answer to the n-th challenge (chal64, base64); the initial response
 * when the server asks for it with an empty first challenge. */
static HmSaslSecret *
answer(const HmSaslMech *mech, const char *user, const char *password, const HmSaslSecret *ir,
       guint n, const char *chal64, GError **err)
{
	HmSaslSecret *chal = hm_sasl_decode(chal64, SASL_CHALLENGE_MAX, mech->name, err);
	gboolean empty;

	if (chal == NULL)
		return NULL;
	empty = chal->len == 0;
	hm_sasl_secret_free(chal);
	if (n == 0 && ir != NULL && empty)
		return hm_sasl_secret_new(ir->data, ir->len);
	if (mech->client_step != NULL)
		return mech->client_step(user, password, ir != NULL ? n - 1 : n, err);
	g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "%s: unexpected challenge", mech->name);
	return NULL;
}

/* Reads replies and answers challenges until the verdict. */
static int
converse(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech, const char *user,
         const char *password, const HmSaslSecret *ir, GError **err)
{
	for (guint n = 0;; n++) {
		g_autofree char *text = NULL;
		GError *why = NULL;
		HmSaslSecret *resp;
		HmSaslVerdict v;
		int rc;

		if (proto->read_reply(io, &v, &text, err) < 0)
			return -1;
		if (v == HM_SASL_SUCCESS)
			return 0;
		if (v == HM_SASL_FAILURE) {
			g_set_error(err, HM_ERROR, HM_ERROR_AUTH, "%s",
			            text != NULL && *text != '\0' ? text : "(no reason given)");
			return -1;
		}
		if (n == SASL_MAX_CHALLENGES)
			g_set_error(&why, HM_ERROR, HM_ERROR_PROTOCOL, "%s: too many challenges",
			            mech->name);
		resp = why == NULL ? answer(mech, user, password, ir, n, text != NULL ? text : "",
		                            &why)
		                   : NULL;
		if (resp == NULL)
			return cancel(proto, io, why, err);
		rc = send_secret(proto, io, resp, err);
		hm_sasl_secret_free(resp);
		if (rc < 0)
			return -1;
	}
}

int
hm_sasl_client_run(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech,
                   const char *user, const char *password, gboolean ir_ok, GError **err)
{
	HmSaslSecret *ir = mech->client_start != NULL ? mech->client_start(user, password) : NULL;
	char *ir64 = NULL, *args;
	g_autofree char *shown = NULL;
	int rc;

	if (ir != NULL && ir_ok)
		ir64 = ir->len > 0 ? hm_base64_encode(ir->data, ir->len) : g_strdup("=");
	/* "AUTH " mech " " ir CRLF must fit, else the server asks for it. */
	if (ir64 != NULL && proto->max_start_line > 0 &&
	    5 + strlen(mech->name) + 1 + strlen(ir64) + 2 > proto->max_start_line) {
		hm_sasl_free_secret(ir64);
		ir64 = NULL;
	}
	args = g_strconcat(mech->name, ir64 != NULL ? " " : "", ir64, NULL);
	shown = g_strconcat(mech->name, ir64 != NULL ? " ********" : "", NULL);
	rc = proto->send_start(io, args, shown, err);
	hm_sasl_free_secret(args);
	hm_sasl_free_secret(ir64);
	if (rc == 0)
		rc = converse(proto, io, mech, user, password, ir, err);
	hm_sasl_secret_free(ir);
	return rc;
}
