/* What the last fetch of an account did and when, for `homemail status`:
 * <state_dir>/fetch/<account>.last (the account name escaped as for its
 * state), replaced atomically after every pass of the account, whether
 * it fetched or failed. A text file, versioned on its first line:
 *
 *   homemail-fetch-last 1
 *   time 1767225600
 *   result ok | failed
 *   fetched 3
 *   error TEXT           (only after a failure; one line)
 */
#ifndef HM_FETCH_LASTRUN_H
#define HM_FETCH_LASTRUN_H

#include <glib.h>

/* An error message longer than this is cut: one line of a status. */
#define HM_FETCH_LAST_ERROR_MAX 400

typedef struct {
	gint64 time; /* Unix time the pass ended */
	gboolean ok;
	guint fetched; /* messages delivered by the pass */
	char *error;   /* NULL when ok */
} HmFetchLast;

/* Records a pass of account that ended at t: fetched messages, and error
 * (NULL: it succeeded; line breaks become spaces). 0, or -1 with *err. */
int hm_fetch_last_save(const char *state_dir, const char *account, gint64 t, guint fetched,
                       const char *error, GError **err);

/* Reads the record of account into *last. 1 when read, 0 when there is
 * none (the account was never fetched), -1 with *err when the file cannot
 * be read or is not ours. Creates nothing. Free with hm_fetch_last_clear(). */
int hm_fetch_last_load(const char *state_dir, const char *account, HmFetchLast *last, GError **err);
void hm_fetch_last_clear(HmFetchLast *last);

#endif
