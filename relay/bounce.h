/* Puts DSNs (relay/dsn.h) into the queue as messages of their own, from
 * the null sender: bounces, delay notices and success notices for a queue
 * entry's recipients. Null-sender mail is never bounced (RFC 5321
 * 6.1/RFC 3464); when it fails, postmaster is told instead, once: a
 * notice to postmaster that fails is only logged. */
#ifndef RELAY_BOUNCE_H
#define RELAY_BOUNCE_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "lib/groupcommit.h"
#include "relay/dsn.h"
#include "relay/queue.h"
#include "relay/rewrite.h"
#include "relay/smarthost.h"

/* Where the runner keeps the outcome of a recipient for the notice:
 * each recipient's status and diagnostic come from its queue state
 * (reply), remote_mta from the attempt just made (NULL if unknown). */
typedef struct {
	const HmConfig *cfg;
	const char *queue_dir;
	HmGroupCommit *gc;      /* makes the notice durable before the state
	                         * that says it was sent */
	const RelayRewriter *rw; /* tells a local notice recipient from a remote
	                          * one; NULL: every one is remote */
	RelaySmarthosts *const *sh; /* the smart-host clients (n_sh of them):
	                             * what SIZE the smart host announced */
	guint n_sh;
} RelayBounceCtx;

/* Queues one DSN of kind action for e's recipients idx[0..n) whose
 * NOTIFY wants it. A bounce with RET=FULL returns the whole message only
 * when the DSN then fits relay.max_message_size and, for a remote sender,
 * the SIZE the smart host last announced (ctx->sh); else its header
 * section (RFC 3461 4.3), so that it still reaches the sender. remote_mta[i] (may be NULL, or an entry NULL) names
 * the smart host that answered for idx[i]. Sets *queued_id (may be NULL;
 * g_free()) to the new entry, NULL when no notice was due. 0, or -1 with
 * *err (nothing queued: the caller retries later). */
int relay_bounce_queue(const RelayBounceCtx *ctx, const RelayQueueEntry *e, GBytes *msg,
                       RelayDsnAction action, const guint *idx, guint n,
                       const char *const *remote_mta, gint64 now, char **queued_id,
                       GError **err);

/* The RFC 3463 status of a reply line ("550 5.1.1 ..." -> "5.1.1"), or
 * the class's X.0.0 when it has none; of our own words, the status they
 * begin with ("5.1.1 no such user" -> "5.1.1"), or without one the given
 * fallback. */
char *relay_bounce_status(const char *reply, const char *fallback);

#endif
