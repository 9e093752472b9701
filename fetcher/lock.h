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

/* The account lock shared by the threads of one process that fetch the
 * folders of one account side by side (the daemon's IDLE workers, one per
 * folder). Each folder has its own state files, so they need not exclude
 * each other, but a flock taken by each would (flock excludes every other
 * open of the file, in the same process too): one folder's slow pass
 * locked the others out for good. Shared, the first holder takes the
 * flock and the last one to let go releases it, so another process still
 * waits for them all. */
typedef struct {
	GMutex mutex;
	int fd;          /* the flock while held, else -1 */
	guint holders;
} HmFetchLockShare;

void hm_fetch_lock_share_init(HmFetchLockShare *sh);
/* sh must not be held. */
void hm_fetch_lock_share_clear(HmFetchLockShare *sh);

/* Takes the account lock for one more holder of sh: at once when another
 * thread holds it through sh, else as hm_fetch_lock() (waiting up to
 * wait_ms; meanwhile the other threads of sh wait for the outcome).
 * Returns 0, or -1 with *err as hm_fetch_lock(). */
int hm_fetch_lock_shared(HmFetchLockShare *sh, const char *state_dir, const char *account,
                         int wait_ms, GError **err);
/* Lets go of one hold on sh; the last one releases the flock. */
void hm_fetch_unlock_shared(HmFetchLockShare *sh);

#endif
