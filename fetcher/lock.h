/* The per-account lock, so a timer run and a daemon never fetch the same
 * account at once. */
#ifndef HM_FETCH_LOCK_H
#define HM_FETCH_LOCK_H

#include <glib.h>

/* Takes the lock <state_dir>/fetch/<account>.lock (flock). Waits up
 * to wait_ms for it. Returns the lock fd (>= 0), or -1 with *err (already
 * held by another process: "account is being fetched by another
 * homemail-fetcher (pid N)" when the holder wrote its pid). */
int hm_fetch_lock(const char *state_dir, const char *account, int wait_ms, GError **err);
void hm_fetch_unlock(int fd);

#endif
