#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/login.h"
#include "lib/cidr.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/notify.h"
#include "lib/server.h"
#include "lib/tls.h"
#include "relay/limits.h"
#include "relay/runner.h"
#include "relay/server.h"
#include "relay/session.h"
#include "relay/spool.h"

typedef struct {
	HmProgram *prog;
	HmConfig *orig;          /* the caller's */
	HmConfig *cfg;           /* in use: orig (the listeners point into it, so it
	                          * stays), or the last one SIGHUP loaded */
	RelayRewriter *rw;
	HmTlsServer *tls;
	char *dummy_hash;
	char *queue_dir;
	HmGroupCommit *gc;
	HmGroupCommit *mail_gc;  /* NULL: local mail is queued too */
	HmServer *server;
	int pickup_fd;
} Relay;

static int
session(HmConn *conn, const HmServerPeer *peer, gpointer data)
{
	Relay *rl = data;
	const HmRelayConf *rc = &rl->cfg->relay;
	RelaySessionParams p = {
		.cfg = rl->cfg,
		.rw = rl->rw,
		.tls = rl->tls,
		.peer = peer->ip,
		.trusted = hm_cidr_list_match(rc->trusted_networks, rc->n_trusted_networks, peer->addr),
		.plaintext_ok = hm_cidr_list_match(rc->allow_plaintext_from, rc->n_allow_plaintext_from,
		                                   peer->addr),
		.queue_dir = rl->queue_dir,
		.gc = rl->gc,
		.mail_gc = rl->mail_gc,
		.bar = hm_server_login_bar(rl->server),
		.dummy_hash = rl->dummy_hash,
		.auth_fail_delay_ms = RELAY_AUTH_FAIL_DELAY_MS,
		.pickup_fd = rl->pickup_fd,
		.dns_resolver = rc->dns_resolver,
	};

	hm_conn_set_timeout(conn, RELAY_COMMAND_TIMEOUT_MS);
	return relay_session_run(conn, &p) == 0 ? 0 : 1;
}

/* Takes the queue for this runner (relay_spool_lock()), waiting while
 * another holds it: the runner of a relay stopped or killed before may
 * still finish its message. The lock's fd, or -1: SIGTERM came first
 * (*stopped), or the lock failed. */
static int
take_queue(const char *queue_dir, int stop_fd, gboolean *stopped)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	gboolean waited = FALSE;

	*stopped = FALSE;
	for (;;) {
		g_autoptr(GError) err = NULL;
		int fd = relay_spool_lock(queue_dir, &err);

		if (fd >= 0) {
			if (waited)
				hm_info("relay runner: the queue is free now");
			return fd;
		}
		if (!g_error_matches(err, HM_ERROR, HM_ERROR_TIMEOUT)) {
			hm_err("relay runner: %s", err->message);
			return -1;
		}
		if (!waited)
			hm_info("relay runner: %s (an earlier relay's, finishing its message); waiting",
			        err->message);
		waited = TRUE;
		if (poll(&pfd, 1, RELAY_RUNNER_LOCK_POLL_MS) > 0) {
			*stopped = TRUE;
			return -1;
		}
	}
}

/* The queue runner's process (lib/server.h helper). */
static int
runner(gpointer data)
{
	Relay *rl = data;
	RelayRunnerParams rp = {
		.cfg = rl->cfg, .rw = rl->rw, .queue_dir = rl->queue_dir, .gc = rl->gc,
	};
	RelayRunner *r;
	sigset_t set;
	int stop_fd, lock_fd, rc;
	gboolean stopped;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	stop_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (stop_fd < 0) {
		hm_err("relay runner: signalfd: %s", g_strerror(errno));
		return 1;
	}
	if ((lock_fd = take_queue(rl->queue_dir, stop_fd, &stopped)) < 0) {
		close(stop_fd);
		return stopped ? 0 : 1;
	}
	hm_debug("relay runner started");
	r = relay_runner_new(&rp);
	rc = relay_runner_loop(r, rl->pickup_fd, stop_fd);
	relay_runner_free(r);
	close(lock_fd);
	close(stop_fd);
	if (rc == RELAY_RUNNER_SLEEP) {
		hm_debug("relay runner: queue empty, sleeping until woken");
		return HM_SERVER_HELPER_IDLE;
	}
	return rc == 0 ? 0 : 1;
}

/* No session or runner of ours is forked yet: whatever temporary file is
 * in the queue now is a crash's, unless the runner of a relay before us
 * still holds the queue (relay_spool_lock()) and may be writing one: then
 * only those old enough to have no writer go. */
static void
clear_left_behind(const char *queue_dir)
{
	int lock_fd = relay_spool_lock(queue_dir, NULL);

	relay_spool_clear_stale(queue_dir, lock_fd >= 0 ? 0 : RELAY_STALE_TEMP_S);
	if (lock_fd >= 0)
		close(lock_fd);
}

static RelayRewriter *
new_rewriter(const HmConfig *cfg)
{
	char host[256] = "";
	const char *names[3] = { "localhost", NULL, NULL };

	if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0')
		names[1] = host;
	return relay_rewriter_new(cfg, names);
}

/* What homemail-sendmail reads when the config is not readable to its
 * user. Failing to write it (a full disk) is no reason not to relay. */
static void
publish_for_sendmail(const HmConfig *cfg)
{
	g_autoptr(GError) err = NULL;

	if (relay_spool_publish(cfg, &err) < 0)
		hm_warn("relay: %s (homemail-sendmail run by users who may not read the config "
		        "keeps what was written before)",
		        err->message);
}

/* The group commit for the messages sessions deliver at once
 * (relay/inline.h), on the file system of mail_dir, which is made here
 * when missing as the first delivery would make it. Without it (mail_dir
 * not the run_as user's to make or open) local mail goes through the
 * queue, as any other. */
static void
open_mail_gc(Relay *rl)
{
	const char *dir = rl->cfg->mail_dir;
	g_autoptr(GError) err = NULL;

	hm_group_commit_free(rl->mail_gc);
	rl->mail_gc = NULL;
	if (g_mkdir_with_parents(dir, 0700) < 0)
		hm_set_error_errno(&err, errno, "create %s", dir);
	else
		rl->mail_gc = hm_group_commit_new(dir, &err);
	if (rl->mail_gc == NULL)
		hm_info("relay: local mail is queued before delivery: %s", err->message);
}

/* SIGHUP: a new config for the sessions to come and a new runner; the
 * listeners stay (they may need privileges we dropped). */
static void
reload(gpointer data)
{
	Relay *rl = data;
	g_autoptr(GError) err = NULL;
	HmConfig *cfg = hm_config_load_flags(rl->prog->config_path ? rl->prog->config_path
	                                                           : hm_config_default_path(),
	                                     rl->prog->load_flags, NULL, NULL, &err);

	if (cfg == NULL) {
		hm_warn("relay reload: %s (keeping the config in use)", err->message);
		return;
	}
	/* The sessions and the runner are processes with their own copies:
	 * what the parent frees here is no longer in use. */
	relay_rewriter_free(rl->rw);
	if (rl->cfg != rl->orig)
		hm_config_free(rl->cfg);
	rl->cfg = cfg;
	rl->rw = new_rewriter(cfg);
	g_free(rl->dummy_hash);
	rl->dummy_hash = hm_login_dummy_hash(cfg);
	open_mail_gc(rl);
	publish_for_sendmail(cfg);
	hm_info("relay reloaded %s", cfg->file);
	hm_server_signal_helpers(rl->server, SIGTERM);
}

static HmServerParams
server_params(Relay *rl)
{
	HmServerParams sp = {
		.name = "relay",
		.listen = rl->cfg->relay.listen,
		.n_listen = rl->cfg->relay.n_listen,
		.tls = rl->tls,
		.max_sessions = RELAY_MAX_SESSIONS,
		.max_sessions_per_ip = RELAY_MAX_SESSIONS_PER_IP,
		.max_use = RELAY_SESSION_MAX_USE,
		.max_idle_s = RELAY_SESSION_MAX_IDLE_S,
		.finish_on_stop = TRUE,
		.helper_stop_wait_ms = RELAY_RUNNER_STOP_WAIT_MS,
		.max_auth_fails = RELAY_MAX_AUTH_FAILS_PER_IP,
		.auth_fail_window_s = RELAY_AUTH_FAIL_WINDOW_S,
		.handshake_timeout_ms = RELAY_HANDSHAKE_TIMEOUT_MS,
		.run_as = rl->cfg->run_as,
		.busy_reply = "421 4.7.0 Error: too many connections, try again later\r\n",
		.barred_reply = "421 4.7.0 Error: too many failed logins, try again later\r\n",
		.session = session,
		.data = rl,
		.reload = reload,
	};

	return sp;
}

static void
relay_clear(Relay *rl)
{
	hm_server_free(rl->server);
	hm_group_commit_free(rl->gc);
	hm_group_commit_free(rl->mail_gc);
	if (rl->pickup_fd >= 0)
		close(rl->pickup_fd);
	relay_rewriter_free(rl->rw);
	hm_tls_server_free(rl->tls);
	g_free(rl->dummy_hash);
	g_free(rl->queue_dir);
}

int
relay_server_run(HmProgram *prog, HmConfig *cfg, GError **err)
{
	Relay rl = { .prog = prog, .orig = cfg, .cfg = cfg, .pickup_fd = -1 };
	HmServerParams sp;
	int rc = -1;

	rl.queue_dir = g_build_filename(cfg->state_dir, "queue", NULL);
	if (cfg->tls_cert != NULL && cfg->tls_key != NULL &&
	    (rl.tls = hm_tls_server_new(cfg->tls_cert, cfg->tls_key, cfg->tls_profile, err)) == NULL)
		goto out;
	rl.rw = new_rewriter(cfg);
	/* Once, before the sessions fork: an AUTH for an unknown user then
	 * costs one hash computation, as for a known one. */
	rl.dummy_hash = hm_login_dummy_hash(cfg);
	sp = server_params(&rl);
	if ((rl.server = hm_server_new(&sp, err)) == NULL)
		goto out;
	/* After the drop of privileges: the queue is the run_as user's. */
	if (relay_spool_prepare(cfg->state_dir, err) < 0 ||
	    (rl.pickup_fd = relay_spool_open_pickup(rl.queue_dir, err)) < 0 ||
	    (rl.gc = hm_group_commit_new(rl.queue_dir, err)) == NULL)
		goto out;
	clear_left_behind(rl.queue_dir);
	open_mail_gc(&rl);
	publish_for_sendmail(cfg);
	hm_server_add_helper_on_demand(rl.server, "runner", runner, &rl, rl.pickup_fd);
	/* Type=notify (systemd/): the listeners are open, mail can come. */
	hm_notify_ready("the relay");
	hm_server_run(rl.server);
	rc = 0;
out:
	relay_clear(&rl);
	/* The config handed in is the caller's; a reloaded one is ours. */
	if (rl.cfg != cfg)
		hm_config_free(rl.cfg);
	return rc;
}
