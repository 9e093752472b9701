/* Group commit for local delivery: a batch of messages is written to
 * tmp/ without syncing, made durable together with one syncfs(2), then
 * published into new/ and recorded in the fetch state with one journal
 * sync, instead of three syncs per message (DESIGN.md: durability is paid
 * in fsyncs, so batch them rather than weaken them).
 *
 * The invariant still holds message by message: before any message of a
 * batch is published, an intent log "<state>.staged" naming each UID and
 * its new/ path is durable (same syncfs). A crash before that leaves only
 * unpublished tmp/ files: nothing was delivered, nothing recorded, so the
 * messages are fetched again — no loss, no duplicate. A crash after it is
 * settled by hm_fetch_batch_recover() on the next run: each logged message
 * is published from tmp/ if it is not in new/ yet and recorded, so it is
 * neither lost nor fetched twice. */
#ifndef HM_FETCH_STAGE_H
#define HM_FETCH_STAGE_H

#include "fetcher/fetch.h"
#include "fetcher/inject.h"
#include "fetcher/state.h"

/* Messages per batch: past ~50 the syncfs cost per message hardly drops,
 * while a batch still holds a bounded number of open tmp/ files. */
#define HM_FETCH_GROUP 64

typedef struct HmFetchBatch HmFetchBatch;

HmFetchBatch *hm_fetch_batch_new(HmFetchState *st, HmInjector *inj);

/* Adds a staged message (takes the paths out of *staged). item must stay
 * valid until the batch is committed or freed. */
void hm_fetch_batch_add(HmFetchBatch *b, const HmFetchItem *item, const char *message_id,
                        HmDeliverStaged *staged);

guint hm_fetch_batch_len(const HmFetchBatch *b);

/* Makes the batch durable, publishes and records it, and appends each
 * item to done (the caller removes them upstream later). An empty batch
 * is a no-op. On failure the messages not yet published are taken back
 * (their tmp/ files removed) and -1 is returned with *err; the batch is
 * empty afterwards either way. */
int hm_fetch_batch_commit(HmFetchBatch *b, GPtrArray *done, GError **err);

/* Takes back what was staged and not committed, and frees b. NULL-safe. */
void hm_fetch_batch_free(HmFetchBatch *b);

/* Settles an intent log a crash left behind (see above). Returns 0 (also
 * when there is none), or -1 with *err. */
int hm_fetch_batch_recover(HmFetchState *st, GError **err);

#endif
