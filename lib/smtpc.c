/* The SMTP/LMTP client (lib/smtpc.h): the session — greeting, EHLO or
 * LHLO, STARTTLS, AUTH, QUIT — and the command and reply plumbing its
 * transactions (smtpc-txn.c, smtpc-chunk.c) share. */
#include <config.h>

#include <poll.h>
#include <string.h>

#include "dotstuff.h"
#include "error.h"
#include "pingpong.h"
#include "sasl.h"
#include "smtpc-private.h"
#include "smtpc.h"

G_DEFINE_QUARK(hm-smtp-error-quark, hm_smtp_error)

HmSmtpClient *
hm_smtpc_new(HmConn *conn, HmSmtpProto proto, const char *helo_name)
{
	HmSmtpClient *c = g_new0(HmSmtpClient, 1);

	hm_pp_init(&c->pp, conn, "reply");
	c->proto = proto;
	c->helo_name = g_strdup(helo_name);
	return c;
}

void
hm_smtpc_free(HmSmtpClient *c)
{
	if (c == NULL)
		return;
	hm_conn_free(c->pp.conn);
	hm_smtp_ext_clear(&c->ext);
	g_free(c->helo_name);
	g_free(c);
}

void
hm_smtpc_set_trace(HmSmtpClient *c, HmSmtpTraceFunc fn, gpointer data)
{
	c->pp.trace = fn;
	c->pp.trace_data = data;
}

void
hm_smtpc_set_timeouts(HmSmtpClient *c, int command_ms, int final_ms)
{
	g_return_if_fail(command_ms > 0 && final_ms > 0);
	c->command_ms = command_ms;
	c->final_ms = final_ms;
	hm_conn_set_timeout(c->pp.conn, command_ms);
}

HmConn *hm_smtpc_conn(HmSmtpClient *c) { return c->pp.conn; }
const HmSmtpExt *hm_smtpc_ext(const HmSmtpClient *c) { return &c->ext; }
gboolean hm_smtpc_broken(const HmSmtpClient *c) { return c->pp.broken; }
gboolean
hm_smtpc_lost_at_mail(const HmSmtpClient *c)
{
	return c->lost_at_mail;
}

gboolean
hm_smtpc_idle_gone(HmSmtpClient *c)
{
	struct pollfd pfd = { .fd = hm_conn_fd(c->pp.conn), .events = POLLIN };

	return hm_conn_pending(c->pp.conn) > 0 || poll(&pfd, 1, 0) != 0;
}

/* ---- the client: commands and replies ------------------------------------ */

int
hm_smtpc_send_line(HmSmtpClient *c, const char *line, const char *shown, GError **err)
{
	return hm_pp_send(&c->pp, line, shown, err);
}

int
hm_smtpc_send_cmd(HmSmtpClient *c, GError **err, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *line = NULL;

	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return hm_smtpc_send_line(c, line, NULL, err);
}

int
hm_smtpc_flush(HmSmtpClient *c, GError **err)
{
	return hm_pp_flush(&c->pp, err);
}

int
hm_smtpc_read_reply(HmSmtpClient *c, HmSmtpReply *r, GError **err)
{
	hm_smtp_reply_init(r);
	for (;;) {
		HmLine line;
		int rc;

		if (hm_pp_read(&c->pp, HM_SMTP_REPLY_LINE_MAX, 0, "the reply", &line, err) < 0) {
			hm_smtp_reply_clear(r);
			return -1;
		}
		rc = hm_smtp_reply_feed(r, line.data, line.len, err);
		if (rc < 0) {
			c->pp.broken = TRUE;
			hm_smtp_reply_clear(r);
			return -1;
		}
		if (rc == 1)
			break;
	}
	if (r->code == 421)
		c->pp.broken = TRUE;
	return 0;
}

int
hm_smtpc_reply_error(HmSmtpClient *c, const HmSmtpReply *r, const char *after, GError **err)
{
	g_autofree char *one = hm_smtp_reply_oneline(r);

	if (r->code >= 400) {
		g_set_error(err, HM_SMTP_ERROR, (gint)r->code, "%s", one);
		return -1;
	}
	c->pp.broken = TRUE;
	g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "unexpected reply (%s): %s", after, one);
	return -1;
}

int
hm_smtpc_roundtrip(HmSmtpClient *c, HmSmtpReply *r, GError **err)
{
	memset(r, 0, sizeof(*r));
	if (hm_smtpc_flush(c, err) < 0)
		return -1;
	return hm_smtpc_read_reply(c, r, err);
}

/* hm_smtpc_roundtrip(), wanting code (or, with code < 10, any reply of
 * that class). */
static int
exchange(HmSmtpClient *c, const char *what, guint code, HmSmtpReply *r, GError **err)
{
	if (hm_smtpc_roundtrip(c, r, err) < 0)
		return -1;
	if (code < 10 ? r->code / 100 == code : r->code == code)
		return 0;
	return hm_smtpc_reply_error(c, r, what, err);
}

/* ---- the client: session set-up ------------------------------------------ */

static int
hello(HmSmtpClient *c, GError **err)
{
	gboolean lmtp = c->proto == HM_SMTP_PROTO_LMTP;
	HmSmtpReply r;
	int rc;

	hm_smtp_ext_clear(&c->ext);
	if (hm_smtpc_send_cmd(c, err, "%s %s", lmtp ? "LHLO" : "EHLO", c->helo_name) < 0)
		return -1;
	rc = exchange(c, lmtp ? "LHLO" : "EHLO", 2, &r, err);
	if (rc == 0) {
		hm_smtp_ext_parse(&r, &c->ext);
	} else if (!lmtp && !c->pp.broken && r.code >= 500) {
		/* An old server without ESMTP: plain HELO, no extensions. */
		g_clear_error(err);
		hm_smtp_reply_clear(&r);
		if (hm_smtpc_send_cmd(c, err, "HELO %s", c->helo_name) < 0)
			return -1;
		rc = exchange(c, "HELO", 2, &r, err);
	}
	hm_smtp_reply_clear(&r);
	return rc;
}

/* Wants 220 (the greeting, or the go-ahead after STARTTLS), runs the TLS
 * handshake when tls is set, then says hello. Any failure leaves the
 * session broken: a server that refused us is no use but for QUIT, and
 * after a failed STARTTLS there is no going on in clear text. */
static int
ready_then_hello(HmSmtpClient *c, const char *what, gboolean tls, SSL_CTX *ctx,
                 const char *host, const guint8 *pin, GError **err)
{
	HmSmtpReply r;
	int rc = exchange(c, what, 220, &r, err);

	hm_smtp_reply_clear(&r);
	if (rc == 0 && tls && hm_conn_start_tls_client(c->pp.conn, ctx, host, pin, err) < 0)
		rc = -1;
	if (rc == 0)
		rc = hello(c, err);
	if (rc < 0)
		c->pp.broken = TRUE;
	return rc;
}

int
hm_smtpc_start(HmSmtpClient *c, GError **err)
{
	return ready_then_hello(c, "greeting", FALSE, NULL, NULL, NULL, err);
}

int
hm_smtpc_starttls(HmSmtpClient *c, SSL_CTX *ctx, const char *host, const guint8 *pin,
                  GError **err)
{
	if (!(c->ext.flags & HM_SMTP_EXT_STARTTLS)) {
		g_set_error(err, HM_ERROR, HM_ERROR_TLS, "server does not offer STARTTLS");
		return -1;
	}
	if (hm_smtpc_send_cmd(c, err, "STARTTLS") < 0)
		return -1;
	return ready_then_hello(c, "STARTTLS", TRUE, ctx, host, pin, err);
}

/* The SASL framing of SMTP AUTH (RFC 4954) for lib/sasl-client.c. The
 * last reply is kept: a refusal is reported with its code (454 is
 * temporary, 535 is not). */
typedef struct {
	HmSmtpClient *c;
	HmSmtpReply last;
} AuthIo;

static int
auth_start(gpointer io, const char *args, const char *shown, GError **err)
{
	AuthIo *a = io;
	char *line = g_strconcat("AUTH ", args, NULL);
	g_autofree char *shown_line = g_strconcat("AUTH ", shown, NULL);
	int rc = hm_smtpc_send_line(a->c, line, shown_line, err);

	hm_sasl_free_secret(line);
	return rc;
}

static int
auth_line(gpointer io, const char *line, const char *shown, GError **err)
{
	AuthIo *a = io;

	return hm_smtpc_send_line(a->c, line, shown, err);
}

static int
auth_reply(gpointer io, HmSaslVerdict *verdict, char **text, GError **err)
{
	AuthIo *a = io;

	hm_smtp_reply_clear(&a->last);
	if (hm_smtpc_roundtrip(a->c, &a->last, err) < 0)
		return -1;
	if (a->last.code == 334) {
		*verdict = HM_SASL_CONTINUE;
		*text = g_strndup(a->last.text->str, strcspn(a->last.text->str, "\n"));
	} else if (a->last.code == 235 || a->last.code >= 400) {
		*verdict = a->last.code == 235 ? HM_SASL_SUCCESS : HM_SASL_FAILURE;
		*text = hm_smtp_reply_oneline(&a->last);
	} else {
		return hm_smtpc_reply_error(a->c, &a->last, "AUTH", err);
	}
	return 0;
}

static const HmSaslProto smtp_sasl = {
	.send_start = auth_start,
	.send_line = auth_line,
	.read_reply = auth_reply,
	/* RFC 4954 section 4: the AUTH command line within 512 octets. */
	.max_start_line = 512,
};

int
hm_smtpc_auth_creds(HmSmtpClient *c, const HmSaslMech *mech, const HmSaslCreds *creds,
                    HmSaslOauthError *refusal, GError **err)
{
	AuthIo io = { c, { 0 } };
	int rc;

	hm_smtp_reply_init(&io.last);
	rc = hm_sasl_client_run_creds(&smtp_sasl, &io, mech, creds, TRUE, refusal, err);
	/* A refusal keeps its code, as every other refusal of the server. */
	if (rc < 0 && g_error_matches(*err, HM_ERROR, HM_ERROR_AUTH) && io.last.code >= 400) {
		g_autofree char *one = hm_smtp_reply_oneline(&io.last);

		g_clear_error(err);
		g_set_error(err, HM_SMTP_ERROR, (gint)io.last.code, "%s", one);
	}
	hm_smtp_reply_clear(&io.last);
	return rc;
}

const char *const *
hm_smtpc_mechs(const HmSmtpClient *c)
{
	return (const char *const *)c->ext.auth_mechs;
}

int
hm_smtpc_auth(HmSmtpClient *c, const char *user, const char *password, GError **err)
{
	const HmSaslMech *mech = hm_sasl_client_pick(hm_smtpc_mechs(c));
	HmSaslCreds creds = { user, password, NULL, 0 };

	if (mech == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "server offers no AUTH mechanism we have (PLAIN or LOGIN)");
		return -1;
	}
	return hm_smtpc_auth_creds(c, mech, &creds, NULL, err);
}

void
hm_smtpc_quit(HmSmtpClient *c)
{
	HmSmtpReply r;

	if (!c->pp.broken && hm_smtpc_send_cmd(c, NULL, "QUIT") == 0 && hm_smtpc_roundtrip(c, &r, NULL) == 0)
		hm_smtp_reply_clear(&r);
	c->pp.broken = TRUE;
}
