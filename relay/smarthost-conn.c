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
#include "lib/oauth2-token.h"
#include "relay/limits.h"
#include "relay/smarthost-private.h"
#include "relay/smarthost.h"

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

/* Sets *err for a token that could not be had (e from the token store);
 * h->needs_login tells whether only a new sign-in helps. */
static void
token_failed(RelaySmarthostConn *h, const GError *e, GError **err)
{
	h->needs_login = hm_oauth2_error_needs_login(e);
	g_set_error(err, HM_ERROR, HM_ERROR_AUTH, "OAuth2: %s%s%s", e->message,
	            h->needs_login ? "; run homemail oauth login " : "",
	            h->needs_login ? h->conf->name : "");
}

/* The access token for h's login from the token store (force: refreshed
 * first), or NULL with *err in words. One at a time in the process: the
 * runner's sessions to a smart host log in from threads of their own, and
 * two refreshes at once would spend the same refresh token twice, which a
 * provider that rotates them takes for a stolen one. */
static char *
take_token(RelaySmarthostConn *h, gboolean force, GError **err)
{
	static GMutex one_at_a_time;
	const HmEndpoint *ep = &h->conf->ep;
	g_autoptr(GError) e = NULL;
	char *token;

	g_mutex_lock(&one_at_a_time);
	token = hm_oauth2_access_token(h->state_dir, &ep->oauth2, ep->user,
	                               g_get_real_time() / G_USEC_PER_SEC, force, &e);
	g_mutex_unlock(&one_at_a_time);
	if (token == NULL)
		token_failed(h, e, err);
	return token;
}

/* One AUTH with the stored access token (force: refreshed first). 0; 1
 * when the server refused a token a refresh may mend; -1 with *err. */
static int
auth_token(RelaySmarthostConn *h, const HmSaslMech *mech, gboolean force, GError **err)
{
	const HmEndpoint *ep = &h->conf->ep;
	g_autoptr(GError) e = NULL;
	HmSaslOauthError refusal = { 0 };
	char *token = take_token(h, force, err);
	HmSaslCreds creds = { ep->user, token, ep->host, ep->port };
	int rc;

	if (token == NULL)
		return -1;
	rc = hm_smtpc_auth_creds(h->smtp, mech, &creds, &refusal, &e);
	hm_sasl_free_secret(token);
	if (rc == 0)
		return 0;
	if (e->domain == HM_SMTP_ERROR && !force && hm_sasl_oauth_may_be_token(&refusal)) {
		hm_info("smarthost %s: token refused (%s); refreshing it once", h->conf->name,
		        e->message);
		return 1;
	}
	if (e->domain == HM_SMTP_ERROR) {
		g_autofree char *why = refusal.kind != HM_SASL_OAUTH_NONE
		                               ? hm_sasl_oauth_error_describe(&refusal)
		                               : g_strdup("no reason given");

		h->refused = TRUE;
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "AUTH as %s with an OAuth2 token refused (%s; %s)", ep->user,
		            e->message, why);
		return -1;
	}
	g_propagate_prefixed_error(err, g_steal_pointer(&e), "AUTH as %s: ", ep->user);
	return -1;
}

/* AUTH with an OAuth2 access token: OAUTHBEARER, else XOAUTH2; a refused
 * token is refreshed once. Failures keep the mail queued, as for a
 * password. */
static int
auth_oauth2(RelaySmarthostConn *h, GError **err)
{
	const HmSaslMech *mech = hm_sasl_client_pick_oauth(hm_smtpc_mechs(h->smtp));
	int rc;

	if (mech == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "%s offers neither AUTH XOAUTH2 nor OAUTHBEARER", h->conf->ep.host);
		return -1;
	}
	if (!hm_endpoint_may_send_password(&h->conf->ep, hm_smtpc_conn(h->smtp))) {
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "refusing to send the token in clear text to %s: use tls = \"tls\" or "
		            "\"starttls\"", h->conf->ep.host);
		return -1;
	}
	rc = auth_token(h, mech, FALSE, err);
	return rc == 1 ? auth_token(h, mech, TRUE, err) : rc;
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

	if (ep->auth == HM_AUTH_OAUTH2)
		return auth_oauth2(h, err);
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
	h->refused = aerr->domain == HM_SMTP_ERROR;
	if (h->refused)
		g_set_error(err, HM_ERROR, HM_ERROR_AUTH,
		            "AUTH as %s refused (%s): check user and password of "
		            "relay.smarthosts [%s]",
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

	h->needs_login = h->refused = FALSE;
	/* Without a sign-in, the smart host is not worth a connection. */
	if (ep->auth == HM_AUTH_OAUTH2 && ep->user != NULL) {
		g_autoptr(GError) e = NULL;

		if (!hm_oauth2_signed_in(h->state_dir, &ep->oauth2, ep->user,
		                         g_get_real_time() / G_USEC_PER_SEC, &e)) {
			token_failed(h, e, err);
			return -1;
		}
	}
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
		h->size_max = (hm_smtpc_ext(h->smtp)->flags & HM_SMTP_EXT_SIZE)
		                      ? hm_smtpc_ext(h->smtp)->size_max
		                      : 0;
		return h->smtp;
	}
	/* A refused login is no reason to bounce: the password is in our
	 * config, not in the message. */
	h->down_reason = g_strdup_printf("smart host %s: %s%s", h->conf->name, err->message,
	                                 g_error_matches(err, HM_ERROR, HM_ERROR_AUTH)
	                                         ? "; the mail waits in the queue"
	                                         : "");
	h->down_until = h->needs_login ? now : now + (gint64)RELAY_SMARTHOST_DOWN_MS * 1000;
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

void
relay_smarthost_probe_clear(RelaySmarthostProbe *p)
{
	g_free(p->tls);
	memset(p, 0, sizeof(*p));
}

int
relay_smarthost_probe(const HmConfig *cfg, const HmSmarthostConf *conf, RelaySmarthostProbe *out,
                      GError **err)
{
	RelaySmarthostConn h = { .conf = conf,
		                 .helo_name = cfg->hostname,
		                 .state_dir = cfg->state_dir };
	int rc = open_session(&h, err);

	memset(out, 0, sizeof(*out));
	out->refused = h.refused;
	out->needs_login = h.needs_login;
	if (rc == 0) {
		SSL *ssl = hm_conn_ssl(hm_smtpc_conn(h.smtp));

		if (ssl != NULL)
			out->tls = g_strdup_printf("%s %s", SSL_get_version(ssl),
			                           SSL_get_cipher_name(ssl));
		out->logged_in = conf->ep.user != NULL;
	}
	relay_smarthost_conn_clear(&h);
	return rc;
}
