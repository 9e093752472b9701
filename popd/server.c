#include <config.h>

#include "conf/login.h"
#include "lib/cidr.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/server.h"
#include "lib/tls.h"
#include "popd/limits.h"
#include "popd/server.h"
#include "popd/session.h"

typedef struct {
	const HmConfig *cfg;
	HmTlsServer *tls;
	char *dummy_hash;
	HmServer *server;
} Popd;

static int
session(HmConn *conn, const HmServerPeer *peer, gpointer data)
{
	Popd *pd = data;
	PopdSessionParams p = {
		.cfg = pd->cfg,
		.tls = pd->tls,
		.plaintext_ok = hm_cidr_list_match(pd->cfg->popd.allow_plaintext_from,
		                                   pd->cfg->popd.n_allow_plaintext_from, peer->addr),
		.peer = peer->ip,
		.bar = hm_server_login_bar(pd->server),
		.dummy_hash = pd->dummy_hash,
		.auth_fail_delay_ms = POPD_AUTH_FAIL_DELAY_MS,
	};

	hm_conn_set_timeout(conn, POPD_IDLE_TIMEOUT_MS);
	return popd_session_run(conn, &p) == 0 ? 0 : 1;
}

int
popd_server_run(const HmConfig *cfg, GError **err)
{
	Popd pd = { .cfg = cfg };
	HmServerParams sp = {
		.name = "popd",
		.listen = cfg->popd.listen,
		.n_listen = cfg->popd.n_listen,
		.max_sessions = POPD_MAX_SESSIONS,
		.max_sessions_per_ip = POPD_MAX_SESSIONS_PER_IP,
		.max_auth_fails = POPD_MAX_AUTH_FAILS_PER_IP,
		.auth_fail_window_s = POPD_AUTH_FAIL_WINDOW_S,
		.handshake_timeout_ms = POPD_HANDSHAKE_TIMEOUT_MS,
		.run_as = cfg->run_as,
		.busy_reply = "-ERR [SYS/TEMP] Too many connections, try again later.\r\n",
		.barred_reply = "-ERR [AUTH] Too many failed logins, try again later.\r\n",
		.session = session,
		.data = &pd,
	};
	int rc = -1;

	if (cfg->popd.n_listen == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "popd.listen: no address to listen on");
		return -1;
	}
	if (cfg->tls_cert != NULL && cfg->tls_key != NULL &&
	    (pd.tls = hm_tls_server_new(cfg->tls_cert, cfg->tls_key, cfg->tls_profile, err)) == NULL)
		return -1;
	sp.tls = pd.tls;
	/* Once, before the sessions fork: a login for an unknown user then
	 * costs one hash computation, as for a known one. */
	pd.dummy_hash = hm_login_dummy_hash(cfg);
	pd.server = hm_server_new(&sp, err);
	if (pd.server != NULL) {
		/* Type=notify (systemd/): the listeners are open. */
		hm_notify_ready("popd");
		hm_server_run(pd.server);
		rc = 0;
	}
	hm_server_free(pd.server);
	g_free(pd.dummy_hash);
	hm_tls_server_free(pd.tls);
	return rc;
}
