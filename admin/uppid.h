/* The pid file of `homemail up`, <state_dir>/up.pid: how `homemail
 * network-up` finds the running `up` of a config. `up` holds an flock on
 * it while it runs, so a file left by an `up` that was killed is known
 * stale. The lock proves nothing about the PID in the file, though:
 * state_dir belongs to run_as, who may write any PID there and hold the
 * lock, so the process is checked before it is signalled. */
#ifndef HM_UPPID_H
#define HM_UPPID_H

#include <sys/types.h>

#include <glib.h>

/* Creates (0644) and locks state_dir/up.pid and writes our PID into it.
 * The fd to keep open while `up` runs (pass it to hm_uppid_release()), or
 * -1 with *err: another `up` holds it ("homemail up already runs for this
 * state_dir (pid N)") or the file cannot be created. */
int hm_uppid_acquire(const char *state_dir, GError **err);

/* Removes the file and closes fd. */
void hm_uppid_release(const char *state_dir, int fd);

/* What hm_uppid_signal() found. */
typedef enum {
	HM_UPPID_NONE,      /* no `up` runs: no file, or nobody holds its lock */
	HM_UPPID_STARTING,  /* the file is locked but holds no PID yet */
	HM_UPPID_SIGNALLED, /* the `up` that runs got the signal */
} HmUppidState;

/* Sends sig to the `up` running for state_dir. Only a process that is
 * one is signalled: its real uid is the owner of the pid file and it runs
 * the same program file as the caller; as root, the signal is sent with
 * the privileges of the file's owner. An HmUppidState (*pid is the PID
 * signalled), or -1 with *err: the file cannot be read (EACCES...), is
 * not a regular file, names a process that is not such an `up` (nothing
 * is signalled), or the signal could not be sent. */
int hm_uppid_signal(const char *state_dir, int sig, pid_t *pid, GError **err);

#endif
