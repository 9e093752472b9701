/* Delivery at once: a session hands a message whose every recipient is a
 * local Maildir user straight to the Maildirs, and never queues it.
 *
 * Why: most mail a home box receives comes from its own fetcher and stays
 * on the box. Through the queue, each such message is written twice (the
 * queue file, then the Maildir), is synced twice and costs the runner a
 * load, a state change and a removal. Here it is written once, and its
 * 250 still leaves only once it is durable (DESIGN.md invariant 2): the
 * session stages the copies in tmp/, the flush makes the mail file system
 * durable (lib/groupcommit) and links them into new/, then answers.
 *
 * Anything else goes through the queue as before, where the runner has
 * the answers for it: a remote or forwarded recipient, an mbox user, a
 * request for a success notice (NOTIFY=SUCCESS), and any delivery that
 * fails (unknown user, a full disk, a quota): then nothing is left in the
 * Maildirs and the message is queued, so the runner retries or bounces
 * it as it would have. */
#ifndef RELAY_INLINE_H
#define RELAY_INLINE_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "relay/queue.h"
#include "relay/rewrite.h"

typedef struct RelayInline RelayInline;

/* Stages msg (stored form, CRLF line ends) for each recipient of e into
 * its Maildir's tmp/, or returns NULL, leaving nothing behind, when the
 * message must be queued instead (see above; a failed delivery is logged
 * at debug level, the queue reports it). */
RelayInline *relay_inline_stage(const HmConfig *cfg, const RelayRewriter *rw,
                                const RelayQueueEntry *e, const char *msg, gsize len);

/* After the caller made the mail file system durable: links each staged
 * copy into new/ and adds its directory to dirs (a set of paths, which
 * the caller fsyncs once each). 0, or -1 with *err when a link failed:
 * the copies not linked are removed (those linked stay delivered). */
int relay_inline_publish(RelayInline *in, GHashTable *dirs, GError **err);

/* Removes what is still staged and frees in. NULL-safe. */
void relay_inline_free(RelayInline *in);

#endif
