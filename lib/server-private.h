/* lib/server's insides, shared by the server process (server.c) and the
 * session processes it forks (server-worker.c). */
#ifndef HM_SERVER_PRIVATE_H
#define HM_SERVER_PRIVATE_H

#include <sys/socket.h>

#include "server.h"

typedef struct {
	int fd;
	const HmListenSpec *spec;
} Listener;

/* A session process, as the server process sees it. */
typedef struct {
	pid_t pid;
	int ctl;             /* our end of its control socket; -1: none (one
	                      * session only, or retired) */
	char *ip;            /* the client it serves; NULL while idle */
	guint generation;    /* sv->generation when it was forked */
	gint64 idle_since;   /* monotonic µs, while idle */
	guint served;        /* clients handed to it so far */
} Worker;

typedef struct {
	const char *name;
	HmServerHelperFunc fn;
	gpointer data;
	pid_t pid;             /* 0: not running */
	gint64 started;        /* monotonic seconds */
	gint64 restart_at;     /* monotonic seconds; 0: none pending */
	int wake_fd;           /* on demand: started when readable; -1: always runs */
	gboolean dormant;      /* exited with HM_SERVER_HELPER_IDLE, waits for wake_fd */
} Helper;

struct HmServer {
	HmServerParams p;
	GArray *helpers;       /* Helper */
	GArray *listeners;     /* Listener */
	int sig_fd;
	HmLoginBar *bar;
	GHashTable *workers;   /* pid -> Worker *, until reaped */
	GQueue *idle;          /* Worker *, the most recently idle first */
	guint busy;            /* workers serving a client */
	GHashTable *per_ip;    /* peer address -> open sessions (GUINT_TO_POINTER) */
	guint generation;      /* bumped by a reload */
	gboolean stopping;
};

/* The message that hands a connection to a session process: the
 * connection's fd travels beside it (SCM_RIGHTS). */
typedef struct {
	guint listener;                 /* index into sv->listeners */
	struct sockaddr_storage addr;
} HmServerHandoff;

/* In a process just forked from the server process: closes what belongs
 * to the server (listeners, signalfd, the control sockets of the other
 * session processes) so that only the server holds them. */
void hm_server_close_inherited(HmServer *sv, int keep_ctl);

/* Sends connection fd with h over ctl. 0, or -1 (errno) when the session
 * process is gone. */
int hm_server_handoff_send(int ctl, int fd, const HmServerHandoff *h);

/* The body of a session process, forked for the connection fd described
 * by h, with ctl its end of the control socket (-1: one session only).
 * Serves it, then, while max_use allows, says so over ctl and serves each
 * connection handed over, until ctl reaches end-of-file. */
G_GNUC_NORETURN void hm_server_worker_main(HmServer *sv, int fd, const HmServerHandoff *h,
                                           int ctl);

#endif
