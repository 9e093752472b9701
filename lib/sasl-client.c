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
answer(const HmSaslMech *mech, HmSaslClient *c, const HmSaslSecret *ir, guint n, const char *chal64,
       GError **err)
{
	HmSaslSecret *chal = hm_sasl_decode(chal64, SASL_CHALLENGE_MAX, mech->name, err);
	HmSaslSecret *resp = NULL;

	if (chal == NULL) {
		g_prefix_error(err, "the server's %s challenge: ", mech->name);
		return NULL;
	}
	if (n == 0 && ir != NULL && chal->len == 0) {
		resp = hm_sasl_secret_new(ir->data, ir->len);
		c->ir_asked = TRUE;
	} else if (mech->client_step != NULL) {
		resp = mech->client_step(c, c->ir_asked ? n - 1 : n, chal, err);
	} else {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "%s: unexpected challenge",
		            mech->name);
	}
	hm_sasl_secret_free(chal);
	return resp;
}

/* The refusal: the server's words, after what a failure challenge said. */
static int
refused(const HmSaslClient *c, const char *text, GError **err)
{
	const char *words = text != NULL && *text != '\0' ? text : "(no reason given)";

	if (c->why != NULL)
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH, "%s; the server said: %s", c->why, words);
	else
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH, "%s", words);
	return -1;
}

/* Reads replies and answers challenges until the verdict. */
static int
converse(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech, HmSaslClient *c,
         const HmSaslSecret *ir, GError **err)
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
		if (v == HM_SASL_FAILURE)
			return refused(c, text, err);
		if (n == SASL_MAX_CHALLENGES)
			g_set_error(&why, HM_ERROR, HM_ERROR_PROTOCOL, "%s: too many challenges",
			            mech->name);
		resp = why == NULL ? answer(mech, c, ir, n, text != NULL ? text : "", &why) : NULL;
		if (resp == NULL)
			return cancel(proto, io, why, err);
		rc = send_secret(proto, io, resp, err);
		hm_sasl_secret_free(resp);
		if (rc < 0)
			return -1;
	}
}

/* The start command's arguments: mech and, when ir_ok and it fits on the
 * line ("AUTH " mech " " ir CRLF), the initial response; else the server
 * asks for it. *shown is what a trace may show. */
static char *
start_args(const HmSaslProto *proto, const HmSaslMech *mech, const HmSaslSecret *ir, gboolean ir_ok,
           char **shown)
{
	char *ir64 = NULL, *args;

	if (ir != NULL && ir_ok)
		ir64 = ir->len > 0 ? hm_base64_encode(ir->data, ir->len) : g_strdup("=");
	if (ir64 != NULL && proto->max_start_line > 0 &&
	    5 + strlen(mech->name) + 1 + strlen(ir64) + 2 > proto->max_start_line) {
		hm_sasl_free_secret(ir64);
		ir64 = NULL;
	}
	args = g_strconcat(mech->name, ir64 != NULL ? " " : "", ir64, NULL);
	*shown = g_strconcat(mech->name, ir64 != NULL ? " ********" : "", NULL);
	hm_sasl_free_secret(ir64);
	return args;
}

int
hm_sasl_client_run_creds(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech,
                         const HmSaslCreds *creds, gboolean ir_ok, HmSaslOauthError *refusal,
                         GError **err)
{
	HmSaslClient c = { .creds = creds };
	HmSaslSecret *ir;
	g_autofree char *shown = NULL;
	char *args;
	int rc;

	if (refusal != NULL)
		memset(refusal, 0, sizeof(*refusal));
	if (mech->client_check != NULL && mech->client_check(creds, err) < 0)
		return -1;
	ir = mech->client_start != NULL ? mech->client_start(creds) : NULL;
	args = start_args(proto, mech, ir, ir_ok, &shown);
	rc = proto->send_start(io, args, shown, err);
	hm_sasl_free_secret(args);
	if (rc == 0)
		rc = converse(proto, io, mech, &c, ir, err);
	hm_sasl_secret_free(ir);
	if (refusal != NULL)
		*refusal = c.refusal;
	g_free(c.why);
	return rc;
}

int
hm_sasl_client_run(const HmSaslProto *proto, gpointer io, const HmSaslMech *mech, const char *user,
                   const char *password, gboolean ir_ok, GError **err)
{
	HmSaslCreds creds = { .user = user, .secret = password };

	return hm_sasl_client_run_creds(proto, io, mech, &creds, ir_ok, NULL, err);
}
