/* The pid file of `homemail up`, <state_dir>/up.pid: how `homemail
 * network-up` finds the running `up` of a config. `up` holds an flock on
 * it while it runs, so a file left by an `up` that was killed is known
 * stale and no unrelated process that got its PID is ever signalled. */
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

/* The PID of the `up` running for state_dir: > 0; 0 when none runs (no
 * file, or nobody holds its lock); -1 while one is starting (the file is
 * locked but holds no PID yet). */
pid_t hm_uppid_running(const char *state_dir);

#endif
