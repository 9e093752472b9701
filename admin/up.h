/* `homemail up`'s children: which programs a config needs, where they
 * are, starting them, and restarting one that died with a back-off. */
#ifndef HM_UP_H
#define HM_UP_H

#include <sys/types.h>

#include <glib.h>

#include "conf/hmconfig.h"

/* A crashed child is started again after 1 s, doubling up to a minute;
 * one that ran a minute before it died starts again after 1 s. */
#define HM_UP_BACKOFF_FIRST_S 1
#define HM_UP_BACKOFF_MAX_S 60
#define HM_UP_STABLE_S 60
/* How long the children have to end after SIGTERM before SIGKILL. */
#define HM_UP_STOP_WAIT_S 10
/* A child this young polls at its start anyway: no SIGUSR1 for it (its
 * handler may not be set up yet, and the default action ends it). */
#define HM_UP_YOUNG_S 2
/* How long the first start waits for the relay's or popd's READY=1 before
 * it starts the next anyway. */
#define HM_UP_READY_WAIT_S 10

typedef enum { HM_UP_RELAY, HM_UP_POPD, HM_UP_FETCHER, HM_UP_DYNDNS, HM_UP_N_CHILDREN } HmUpWhich;

typedef struct {
	const char *name;     /* "homemail-relay" */
	char *path;           /* the program to run */
	gboolean wanted;      /* the config gives it work */
	pid_t pid;            /* > 0 while it runs */
	gint64 started;       /* monotonic µs of the last start */
	guint delay;          /* the next back-off, s */
	gint64 restart_at;    /* monotonic µs; 0: no restart pending */
	gboolean restart_now; /* stopped on purpose (SIGHUP): start again at once */
} HmUpChild;

typedef struct {
	HmUpChild child[HM_UP_N_CHILDREN];
	const char *config_path; /* passed as -c to every child */
	int verbosity;           /* as many -v for every child */
	sigset_t old_mask;       /* the mask the children get back */
	char *notify_socket;     /* NOTIFY_SOCKET of relay and popd, or NULL */
} HmUp;

/* Fills up->child: which programs cfg gives work (relay: a relay group,
 * or fetcher accounts injecting into it; popd: a popd group; fetcher:
 * accounts; dyndns: records) and where each is: $HOMEMAIL_PROGRAM_DIR/NAME
 * when set, else beside this program in the build tree
 * (admin/../relay/homemail-relay) or installed (the same directory).
 * Returns how many are wanted. */
guint hm_up_plan(HmUp *up, const HmConfig *cfg);

/* Starts child c (its own process group; SIGTERM when `up` dies; stdin
 * from /dev/null; the signal mask `up` was started with, plus SIGHUP for
 * the relay and dyndns, which take it from a blocked set themselves, so
 * that one sent before they are ready waits for them; NOTIFY_SOCKET only
 * for the relay and popd, set to up->notify_socket, so no child talks to
 * a service manager `up` itself may run under). 0, or -1 after logging
 * why. */
int hm_up_start(HmUp *up, HmUpWhich c);

/* Handles the end of a child found by waitpid(): logs how it ended and,
 * unless stopping, schedules its restart. Kills what is left of its
 * process group. */
void hm_up_reaped(HmUp *up, pid_t pid, int status, gboolean stopping);

/* Starts every wanted child whose restart time has come. Returns the
 * milliseconds until the next pending restart, or -1 when none. */
int hm_up_restart_due(HmUp *up);

void hm_up_clear(HmUp *up);

#endif
