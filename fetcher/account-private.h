/* What the parts of one account's fetch share: fetcher/account.c (list,
 * plan, remove, the passes) and fetcher/handover.c (each message handed
 * to the local side and recorded). Nothing else includes this. */
#ifndef HM_FETCH_ACCOUNT_PRIVATE_H
#define HM_FETCH_ACCOUNT_PRIVATE_H

#include "fetcher/account.h"
#include "fetcher/stage.h"
#include "fetcher/state.h"

/* One folder pass. */
typedef struct {
	HmAccount *a;
	HmFetchState *st;
	const char *folder;
	HmFetchStats *stats;
	GPtrArray *to_remove;    /* HmFetchItem* (borrowed from the listing) */
	GPtrArray *committed;    /* delivered by group commit (kept mail: not removed) */
	HmFetchBatch *batch;     /* group commit, when the injector stages (local) */
	GArray *queued;          /* Queued: sent back to back (BDAT), not settled */
	gboolean tls;
	GError *report;          /* the first message left for a person to see to
	                          * (refused for good, arrived short or empty),
	                          * reported at the end as the folder's error */
	gint64 now;              /* when the pass began (Unix time) */
	gint64 config_mtime;     /* when the configuration file last changed (0: unknown) */
	guint32 relisted_from;   /* keep = true IMAP: listed from this UID, below the
	                          * watermark, to look at messages left upstream
	                          * again (0: not) */
} FolderRun;

/* --- account.c ------------------------------------------------------------ */

/* Whether a message of size octets is over the account's max_size (or
 * HM_FETCH_MAX_MESSAGE). */
gboolean hm_account_too_big(const HmAccountConf *acct, guint64 size);

/* Leaves a message over max_size upstream: logged (with its listed size
 * when size, the octets that are over, differs), counted as skipped and
 * recorded with size, so later runs only fetch it once the limit lets it
 * through. 0, or -1 with *err when it cannot be recorded. */
int hm_account_skip_big(FolderRun *r, const HmFetchItem *item, guint64 size, GError **err);

/* --- handover.c ----------------------------------------------------------- */

/* The backend's HmFetchMessageFunc (user_data: the FolderRun): hands the
 * message to the local side, then records it, so the state never names a
 * message the local side does not hold; a delivered one is queued in
 * r->to_remove (keep = false). What is staged or sent back to back is
 * recorded when its group is settled (below). A permanent refusal is
 * recorded and noted in r->report, and the retrieval goes on; so is a
 * message that arrived empty (not delivered) or much shorter than listed
 * (delivered as it arrived, never removed); a temporary local failure
 * stops it (HM_FETCH_ERROR_LOCAL). */
int hm_handover_message(const HmFetchItem *item, const char *data, gsize len,
                        gpointer user_data, GError **err);

/* Settles the first max (at most) of the messages sent back to back:
 * each one the local side holds is recorded (one state sync for the
 * group) and queued for removal like any delivered message; a refused one
 * is recorded as such; a temporary failure makes the result -1
 * (HM_FETCH_ERROR_LOCAL) after the others are recorded. 0 when none. */
int hm_handover_settle(FolderRun *r, guint max, GError **err);

/* Commits the group of staged messages (local delivery): durable,
 * published, recorded, then queued for removal. 0 when none; -1 with
 * *err (HM_FETCH_ERROR_LOCAL). */
int hm_handover_commit_batch(FolderRun *r, GError **err);

#endif
