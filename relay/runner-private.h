/* The queue runner's batch (relay/runner.c), shared with the sending of
 * its remote recipients to the smart hosts (relay/runner-send.c). */
#ifndef RELAY_RUNNER_PRIVATE_H
#define RELAY_RUNNER_PRIVATE_H

#include <glib.h>

#include "deliver/deliver.h"
#include "relay/queue.h"
#include "relay/smarthost.h"

/* The recipient indexes an array holds, as the callees take them. */
static inline const guint *
relay_runner_indexes(const GArray *a)
{
	return &g_array_index(a, guint, 0);
}

/* A local delivery written but not yet durable. */
typedef struct {
	guint rcpt;
	HmDeliverStaged staged;
} Staged;

/* One queue entry in the batch. */
typedef struct {
	RelayQueueEntry *e;
	GBytes *msg;
	GArray *staged;        /* of Staged */
	GArray *failed;        /* rcpt indexes that became final failures now */
	GArray *delivered;     /* rcpt indexes delivered now */
	GPtrArray *remote_mta; /* per rcpt (indexed like e->rcpts): who answered */
	gboolean dsn_passed;   /* the smart host took NOTIFY for the remote ones */
	GArray *remote;        /* rcpt indexes this attempt sends to a smart host */
	GArray *fwd;           /* of Forwarded: those sent under another address */
	gboolean retired;      /* relay_runner_send() took the finished entry
	                        * out of the queue (relay_queue_retire()) */
} Item;

/* A recipient sent under the address an alias forwards it to, and what
 * it had before. */
typedef struct {
	guint rcpt;
	char *addr, *orcpt;
} Forwarded;

/* Records an outcome for recipient i: 2xx delivered, 5xx failed,
 * anything else a temporary failure for the runner to schedule. */
void relay_runner_outcome(Item *it, guint i, guint code, const char *reply);

/* Sends the batch's remote recipients (each item's remote), over up to
 * RELAY_SMARTHOST_SESSIONS sessions at once (sh[0..]) when more than one
 * message is due, and records each outcome in its item and, as soon as
 * the smart host answered, in queue_dir: an entry finished with no
 * notice owed is retired at once (it->retired), the others get their
 * state noted without a sync (relay_queue_note_state()), for the runner
 * to save durably at the end of the batch. A recipient still owed a
 * notice (a bounce, a success notice) is noted as pending: a kill before
 * the notice is queued tries it again rather than lose the notice. Once
 * SIGTERM waits on stop_fd, no further message is begun: those left keep
 * their state, pending, for the next runner. */
void relay_runner_send(RelaySmarthosts *const *sh, const char *queue_dir, int stop_fd,
                       GPtrArray *batch);

/* Records the item's outcome so far in dir, before the batch ends, as
 * relay_runner_send() does after each message: a kill -9 later in the
 * batch must not deliver it again. A failure (logged at debug level)
 * only leaves it to the runner's save at the end of the batch. */
void relay_runner_record(const char *dir, Item *it);

/* TRUE once SIGTERM is waiting on stop_fd (-1: never; it is not read):
 * a pass loads no more entries and the senders take no further message,
 * so a stop waits only for the messages in flight, and never cuts one. */
gboolean relay_runner_stop_asked(int stop_fd);

#endif
