/* Opening and keeping the smart-host sessions: lib/endpoint's connect
 * policy (implicit TLS or STARTTLS, never a fallback to clear text; the
 * certificate verified or pinned; a password only where it cannot be read
 * on the way), then lib/smtpc. */
#include <config.h>

#include <poll.h>
#include <string.h>

#include "lib/endpoint.h"
#include "lib/error.h"
#include "lib/log.h"
#include "relay/limits.h"
#include "relay/smarthost-private.h"

static void
trace(gboolean from_client, const char *line, gpointer data)
{
	const RelaySmarthostConn *h = data;

	hm_log_trace(from_client, line, "smarthost %s", h->conf->name);
}

/* STARTTLS where configured. lib/smtpc refuses before sending anything
 * when the server does not offer it; that is said in words a user can act
 * on, since it usually means a wrong port or a middlebox stripping it. */
static int
starttls(RelaySmarthostConn *h, GError **err)
{
	const HmEndpoint *ep = &h->conf->ep;

	if (!(hm_smtpc_ext(h->smtp)->flags & HM_SMTP_EXT_STARTTLS)) {
		g_set_error(err, HM_ERROR, HM_ERROR_TLS,
		            "TLS: %s port %u does not offer STARTTLS, which tls = \"starttls\" "
		            "requires; nothing was sent in clear text",
		            ep->host, ep->port);
		return -1;
	}
	if (hm_smtpc_starttls(h->smtp, h->tls, ep->host, ep->has_pin ? ep->pin : NULL, err) == 0) {
		hm_debug("smarthost %s: TLS %s %s", h->conf->name,
		         SSL_get_version(hm_conn_ssl(hm_smtpc_conn(h->smtp))),
		         SSL_get_cipher_name(hm_conn_ssl(hm_smtpc_conn(h->smtp))));
		return 0;
	}
	/* lib/tls says "TLS: ..." for verification failures (with the
	 * fingerprint to pin); a refused STARTTLS or a timeout does not. */
	if (err != NULL && *err != NULL && !g_str_has_prefix((*err)->message, "TLS"))
		g_prefix_error(err, "TLS: ");
	return -1;
}

/* AUTH with the configured user and password. A refusal, even 535, is
 * reported as a failure to reach the smart host, so its messages wait in
 * the queue: the password is in our config, not in the message, and a
 * wrong one must not bounce every message sent until it is fixed. */
static int
auth(RelaySmarthostConn *h, GError **err)
{
	const HmEndpoint *ep = &h->conf->ep;
	GError *aerr = NULL;

	if (ep->auth == HM_AUTH_OAUTH2) {
		/* Issue 12 in progress: the mail waits in the queue meanwhile. */
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "auth = \"oauth2\" is not supported by this version yet; the mail "
		            "waits in the queue");
		return -1;
	}
	if (ep->password.value == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "no password for user %s (password_file %s)", ep->user,
		            ep->password.file != NULL ? ep->password.file : "not set");
		return -1;
	}
	if (!hm_endpoint_may_send_password(ep, hm_smtpc_conn(h->smtp))) {
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "refusing to send the password in clear text to %s: use tls = \"tls\" "
		            "or \"starttls\"",
		            ep->host);
		return -1;
	}
	if (hm_smtpc_auth(h->smtp, ep->user, ep->password.value, &aerr) == 0)
		return 0;
	if (aerr->domain == HM_SMTP_ERROR)
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "AUTH as %s refused (%s): check user and password of "
		            "relay.smarthosts [%s]; the mail waits in the queue",
		            ep->user, aerr->message, h->conf->name);
	else
		g_propagate_prefixed_error(err, g_steal_pointer(&aerr), "AUTH as %s: ", ep->user);
	g_clear_error(&aerr);
	return -1;
}

/* Connect, greeting, EHLO, STARTTLS, AUTH. On failure h->smtp is NULL. */
static int
open_session(RelaySmarthostConn *h, GError **err)
{
	const HmEndpoint *ep = &h->conf->ep;
	HmConn *conn;

	if (h->tls == NULL && ep->tls != HM_TLS_MODE_NONE &&
	    (h->tls = hm_endpoint_tls_ctx(ep, err)) == NULL)
		return -1;
	conn = hm_endpoint_connect(ep, h->tls, RELAY_SMARTHOST_CONNECT_TIMEOUT_MS, err);
	if (conn == NULL)
		return -1;
	h->smtp = hm_smtpc_new(conn, HM_SMTP_PROTO_SMTP, h->helo_name);
	hm_smtpc_set_timeouts(h->smtp, RELAY_SMARTHOST_COMMAND_TIMEOUT_MS,
	                      RELAY_SMARTHOST_FINAL_TIMEOUT_MS);
	hm_smtpc_set_trace(h->smtp, trace, h);
	if (hm_smtpc_start(h->smtp, err) == 0 &&
	    (ep->tls != HM_TLS_MODE_STARTTLS || starttls(h, err) == 0) &&
	    (ep->user == NULL || auth(h, err) == 0))
		return 0;
	/* A server that refused us still deserves its QUIT; after a broken
	 * session or TLS failure hm_smtpc_quit() sends nothing. */
	hm_smtpc_quit(h->smtp);
	hm_smtpc_free(h->smtp);
	h->smtp = NULL;
	return -1;
}

/* TRUE when h's session may not carry another message: too old or too
 * used (RELAY_SMARTHOST_REUSE_*). */
static gboolean
worn_out(const RelaySmarthostConn *h, gint64 now)
{
	return h->used >= RELAY_SMARTHOST_REUSE_MAX ||
	       now - h->opened >= (gint64)RELAY_SMARTHOST_REUSE_S * G_USEC_PER_SEC;
}

/* Frees h's session without a word: the server is gone already. */
static void
drop(RelaySmarthostConn *h)
{
	hm_smtpc_free(h->smtp);
	h->smtp = NULL;
}

HmSmtpClient *
relay_smarthost_session(RelaySmarthostConn *h, char **why)
{
	g_autoptr(GError) err = NULL;
	gint64 now = g_get_monotonic_time();

	if (h->smtp != NULL && hm_smtpc_idle_gone(h->smtp)) {
		hm_debug("smarthost %s: session went away while idle; reconnecting", h->conf->name);
		drop(h);
	}
	if (h->smtp != NULL && worn_out(h, now)) {
		hm_debug("smarthost %s: session used %u times; reconnecting", h->conf->name,
		         h->used);
		relay_smarthost_hangup(h);
	}
	if (h->smtp != NULL)
		return h->smtp;
	if (h->down_reason != NULL && now < h->down_until) {
		*why = g_strdup(h->down_reason);
		return NULL;
	}
	g_clear_pointer(&h->down_reason, g_free);
	if (open_session(h, &err) == 0) {
		hm_debug("smarthost %s: session open to %s port %u", h->conf->name,
		         h->conf->ep.host, h->conf->ep.port);
		h->opened = h->last_used = now;
		h->used = 0;
		return h->smtp;
	}
	h->down_reason = g_strdup_printf("smart host %s: %s", h->conf->name, err->message);
	h->down_until = now + (gint64)RELAY_SMARTHOST_DOWN_MS * 1000;
	*why = g_strdup(h->down_reason);
	return NULL;
}

void
relay_smarthost_release(RelaySmarthostConn *h)
{
	h->used++;
	h->last_used = g_get_monotonic_time();
	if (h->smtp != NULL && hm_smtpc_broken(h->smtp))
		drop(h);
}

void
relay_smarthost_hangup(RelaySmarthostConn *h)
{
	if (h->smtp != NULL) {
		hm_smtpc_quit(h->smtp);
		drop(h);
	}
}

gint64
relay_smarthost_expire(RelaySmarthostConn *h, gint64 now)
{
	gint64 idle_end = h->last_used + (gint64)RELAY_SMARTHOST_IDLE_S * G_USEC_PER_SEC;

	if (h->smtp == NULL)
		return G_MAXINT64;
	if (hm_smtpc_idle_gone(h->smtp)) {
		hm_debug("smarthost %s: session closed by the server while idle", h->conf->name);
		drop(h);
		return G_MAXINT64;
	}
	if (now < idle_end && !worn_out(h, now))
		return idle_end;
	hm_debug("smarthost %s: closing the session after %u messages", h->conf->name, h->used);
	relay_smarthost_hangup(h);
	return G_MAXINT64;
}

void
relay_smarthost_conn_clear(RelaySmarthostConn *h)
{
	relay_smarthost_hangup(h);
	if (h->tls != NULL)
		SSL_CTX_free(h->tls);
	g_free(h->down_reason);
	memset(h, 0, sizeof(*h));
}
