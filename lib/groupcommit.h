/* Group commit across processes: the relay runs a process per SMTP
 * session, and each may answer 250 to DATA only once its queue file is
 * durable (DESIGN.md invariant 2). Each session writes its file without
 * syncing and then asks for a commit; one of the waiting sessions (the
 * leader) runs a single syncfs(2) that covers every file written before
 * the others asked, and wakes them all. Under load one flush serves many
 * messages; alone, a session pays one syncfs, about one fsync.
 *
 * The state lives in shared memory made before the sessions are forked,
 * with a robust process-shared mutex: a leader killed mid-flush is taken
 * over by a waiter, so a kill -9 of one session never stalls the others. */
#ifndef HM_GROUPCOMMIT_H
#define HM_GROUPCOMMIT_H

#include <glib.h>

typedef struct HmGroupCommit HmGroupCommit;

/* A group commit for the file system that holds dir. Opens dir once: the
 * forked sessions share that open file description, so a write-back
 * error is reported to the flush that first sees it whichever process
 * runs it. Must be made before the sessions are forked. NULL with *err
 * when dir cannot be opened or the shared memory cannot be had. */
HmGroupCommit *hm_group_commit_new(const char *dir, GError **err);

/* Closes and unmaps (in the calling process). NULL-safe. */
void hm_group_commit_free(HmGroupCommit *gc);

/* Returns once every file written (and renamed or linked) in the file
 * system before this call is durable: a flush that started after the
 * call has ended. 0, or -1 with *err (HM_ERROR_IO, errno kept) when that
 * flush failed; the caller must then treat what it wrote as not stored
 * (unlink it, answer 451). A failure is reported to every caller whose
 * files the failed flush may have covered, and to the callers of the
 * next flush too: a write-back error is reported only once by the
 * kernel, and the page it concerned may belong to a file whose writer
 * asked after the failed flush had begun. */
int hm_group_commit_sync(HmGroupCommit *gc, GError **err);

/* Flushes done and callers served so far, for tests and benchmarks. */
void hm_group_commit_stats(HmGroupCommit *gc, guint64 *flushes, guint64 *callers);

#endif
