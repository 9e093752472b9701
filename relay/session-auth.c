/* AUTH (RFC 4954) with the mechanisms of lib/sasl, against the same users
 * and hashes as popd (conf/login.h), behind the failed-login bar that all
 * sessions share. Offered and accepted only over TLS or from
 * relay.allow_plaintext_from (DESIGN.md invariant 4). */
#include <config.h>

#include <string.h>

#include "conf/login.h"
#include "lib/log.h"
#include "lib/passwd.h"
#include "lib/sasl.h"
#include "relay/limits.h"
#include "relay/session-private.h"

/* An AUTH exchange under way: the session, and how it goes on once the
 * exchange ended early. */
typedef struct {
	Session *s;
	int rc;
} Ask;

/* Sends a challenge and reads the client's response. NULL when the
 * exchange ended (cancelled, too long, connection lost); ask->rc then
 * says how the session goes on (HmSaslAskFunc). */
static char *
sasl_response(const char *challenge, gpointer data)
{
	Ask *ask = data;
	Session *s = ask->s;
	int *rc = &ask->rc;
	g_autoptr(GError) err = NULL;
	HmLine line;
	HmIoStatus st;

	*rc = 0;
	if (session_reply(s, 334, NULL, "%s", challenge) < 0 || session_flush(s) < 0) {
		*rc = -1;
		return NULL;
	}
	st = hm_conn_read_line(s->conn, RELAY_LINE_MAX, 0, &line, &err);
	if (st != HM_IO_OK) {
		if (st == HM_IO_TOO_LONG || st == HM_IO_NUL)
			*rc = session_reply(s, 500, "5.5.6", "Authentication exchange line is too long");
		else
			*rc = -1;
		return NULL;
	}
	if (strcmp(line.data, "*") == 0) {
		*rc = session_reply(s, 501, "5.7.0", "Authentication cancelled");
		return NULL;
	}
	return g_strdup(line.data);
}

static int
login(Session *s, const char *name, const char *password)
{
	const HmUserConf *u = NULL;
	HmLoginResult lr;

	lr = hm_login(s->p->cfg, s->p->bar, s->p->peer, RELAY_AUTH_BAR_WAIT_MS, s->p->dummy_hash,
	              name, password, &u);
	if (lr == HM_LOGIN_BARRED) {
		hm_info("relay[%s] auth refused peer=%s: too many failed logins", s->id, s->p->peer);
		session_reply(s, 421, "4.7.0", "%s Error: too many failed logins, try again later",
		              s->p->cfg->hostname);
		return -1;
	}
	if (lr == HM_LOGIN_OK) {
		s->auth_user = g_strdup(u->name);
		hm_info("relay[%s] auth user=%s peer=%s tls=%s", s->id, u->name, s->p->peer,
		        hm_conn_is_tls(s->conn) ? "yes" : "no");
		return session_reply(s, 235, "2.7.0", "Authentication successful");
	}
	s->auth_fails++;
	hm_info("relay[%s] auth failed peer=%s", s->id, s->p->peer);
	/* One process per session: this sleep delays only this client. */
	g_usleep((gulong)s->p->auth_fail_delay_ms * 1000);
	if (session_reply(s, 535, "5.7.8", "Error: authentication failed") < 0)
		return -1;
	if (s->auth_fails >= RELAY_MAX_AUTH_FAILS) {
		session_reply(s, 421, "4.7.0", "%s Error: too many failed logins", s->p->cfg->hostname);
		return -1;
	}
	return 0;
}

int
session_cmd_auth(Session *s, const char *args)
{
	g_autofree char *mech_name = NULL;
	const HmSaslMech *mech;
	HmSaslServer *sv;
	RelayReplyText r;
	char *resp = NULL;
	Ask ask = { s, 0 };
	int step, rc;

	if (!hm_conn_is_tls(s->conn) && !s->p->plaintext_ok)
		return session_reply(s, 538, "5.7.11", "Encryption required for requested "
		                                       "authentication mechanism");
	if (relay_parse_auth(args, &mech_name, &resp, &r) < 0)
		return session_reply_text(s, &r);
	if ((mech = hm_sasl_mech_find(mech_name)) == NULL) {
		hm_sasl_free_secret(resp);
		return session_reply(s, 504, "5.5.4", "Unsupported authentication mechanism");
	}
	sv = hm_sasl_server_new(mech);
	step = hm_sasl_server_exchange(sv, resp, sasl_response, &ask);
	if (step == HM_SASL_OK)
		rc = login(s, hm_sasl_server_user(sv), hm_sasl_server_password(sv));
	else if (step == HM_SASL_PASSWORD_TOO_LONG)
		/* Never right, so telling says nothing to a guesser. */
		rc = session_reply(s, 535, "5.7.8", "Error: password longer than %d octets",
		                   HM_PASSWORD_MAX);
	else if (step == HM_SASL_ENDED)
		rc = ask.rc;
	else  /* malformed: a failed login, as a wrong password */
		rc = login(s, "", "");
	hm_sasl_server_free(sv);
	return rc;
}
