/* The skeleton of homemail's servers (popd, the relay): listeners, a
 * process per session (reused for later sessions when the server allows
 * it), caps on sessions in total and per client address, the failed-login
 * bar shared by all sessions, signal handling, and the drop of privileges
 * once the listeners are open. The protocol is the caller's: it gets a
 * connection in a process of its own, never two at once. */
#ifndef HM_SERVER_H
#define HM_SERVER_H

#include <sys/socket.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "loginbar.h"
#include "net.h"
#include "tls.h"

/* Who a session talks to and how it came in. */
typedef struct {
	const struct sockaddr *addr;
	const char *ip;              /* numeric, for logs and the bar */
	const HmListenSpec *listen;  /* the listener it came through */
} HmServerPeer;

/* Serves one client on conn (TLS already running for implicit-TLS
 * listeners), in a process of its own. Returns the exit status of that
 * process (0 after an orderly end). With max_use above 1 the process may
 * serve another client afterwards: the function must leave nothing of the
 * session behind (every fd closed, every allocation freed). */
typedef int (*HmServerSessionFunc)(HmConn *conn, const HmServerPeer *peer, gpointer data);

typedef struct {
	const char *name;            /* "popd": prefix of the log lines */
	const HmListenSpec *listen;  /* numeric addresses (hm_listen_open) */
	gsize n_listen;
	HmTlsServer *tls;            /* for "/tls" listeners; NULL when none is configured */
	guint max_sessions;          /* in total */
	guint max_sessions_per_ip;
	/* Sessions one process serves before it exits (0 or 1: one each, a
	 * fresh process for every client). A process that may serve more waits
	 * between two for up to max_idle_s, then exits. A reload retires them
	 * all: sessions after it run in processes forked with its result. */
	guint max_use;
	/* A process that has served only one client waits for the next for
	 * HM_SERVER_FIRST_IDLE_S at most: a box that sees a client every few
	 * minutes would otherwise hold a process of megabytes for nothing,
	 * while under load the second client comes within milliseconds. */
	guint max_idle_s;
	guint max_auth_fails;        /* per address within auth_fail_window_s */
	guint auth_fail_window_s;
	int handshake_timeout_ms;    /* for implicit TLS, before the session runs */
	/* SIGTERM (a stop) ends a session only where it waits for input on a
	 * stoppable connection (hm_conn_set_stop(): the read returns
	 * HM_IO_STOPPED; the session says goodbye and returns), never in the
	 * middle of a message; FALSE: a stop ends it at once. */
	gboolean finish_on_stop;
	/* How long a stop waits for the helpers (SIGTERM: they finish the work
	 * they are in) before it kills them (SIGKILL), so that none outlives
	 * the server; 0: as long as for the sessions (5 s). */
	int helper_stop_wait_ms;
	const char *run_as;          /* user to drop to after listening; NULL: stay */
	/* What a client refused without a session is told (one line with its
	 * CRLF; not sent on implicit-TLS listeners, which have no TLS yet):
	 * over the session caps, or while its address is barred. */
	const char *busy_reply;
	const char *barred_reply;
	HmServerSessionFunc session;
	gpointer data;
	/* SIGHUP: called in the server process, between two accepts (re-read
	 * the config). NULL: SIGHUP is ignored. */
	void (*reload)(gpointer data);
} HmServerParams;

typedef struct HmServer HmServer;

/* Opens every listener and the failed-login bar, then (started as root
 * with run_as set) drops to that user. Nothing is served yet. Returns NULL
 * with *err when a listener cannot be opened or the drop fails. */
HmServer *hm_server_new(const HmServerParams *params, GError **err);

/* The bar the sessions share: a session calls hm_login_bar_begin() and
 * hm_login_bar_end() around each password check. */
HmLoginBar *hm_server_login_bar(HmServer *sv);

/* Accepts and hands each connection to an idle session process or a new
 * one until SIGTERM or SIGINT, then sends SIGTERM to the session processes
 * and waits up to 5 s for them. */
void hm_server_run(HmServer *sv);

/* The body of a helper process; its return value is the exit status. */
typedef int (*HmServerHelperFunc)(gpointer data);

/* Starts fn(data) in a process of its own beside the sessions (the
 * relay's queue runner), without the listeners, with SIGTERM, SIGINT,
 * SIGHUP and SIGCHLD blocked so that it takes them through a signalfd of
 * its own. While the server runs, a helper that exits is
 * started again (after HM_SERVER_HELPER_BACKOFF_S when it lived shorter
 * than that); when the server stops it gets SIGTERM and is waited for
 * (helper_stop_wait_ms), then killed. A helper never outlives the server
 * by more than its stop: when the server process dies, even by kill -9,
 * the helper gets SIGTERM (PR_SET_PDEATHSIG). Returns its pid, or -1 when
 * fork() failed (it is then tried again as if it had exited). */
pid_t hm_server_add_helper(HmServer *sv, const char *name, HmServerHelperFunc fn, gpointer data);

#define HM_SERVER_HELPER_BACKOFF_S 10

/* The exit status by which an on-demand helper says it has nothing to do. */
#define HM_SERVER_HELPER_IDLE 100

/* As hm_server_add_helper(), for a helper that need not always run (the
 * relay's queue runner while the queue is empty, so that an idle server
 * is one process): when it exits with HM_SERVER_HELPER_IDLE it is started
 * again only once wake_fd is readable. The server process keeps wake_fd
 * open (a FIFO's read end: writers never find it without a reader) and
 * polls it only while the helper does not run; the helper inherits it and
 * must read what woke it. Any other exit restarts it as above. */
pid_t hm_server_add_helper_on_demand(HmServer *sv, const char *name, HmServerHelperFunc fn,
                                     gpointer data, int wake_fd);

/* See HmServerParams.max_idle_s. */
#define HM_SERVER_FIRST_IDLE_S 2

/* Sends sig to every helper (SIGTERM after a reload: the helper exits and
 * is started again with what the reload changed). */
void hm_server_signal_helpers(HmServer *sv, int sig);

/* Closes the listeners and frees. NULL-safe. */
void hm_server_free(HmServer *sv);

#endif
