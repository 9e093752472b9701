/* The queue runner: delivers what the sessions queued. Local recipients
 * go to the deliver library in-process, a batch of messages made durable
 * with one syncfs; the rest to the smart host (relay/smarthost.h).
 * Temporary failures are retried on the relay.retry schedule (first,
 * doubling up to max_interval); after warn_after the sender gets a delay
 * notice, after give_up_after a bounce; permanent failures bounce at
 * once (DESIGN.md invariant 3). A queue entry goes when every recipient
 * is final. Each step is made durable before the state that records it,
 * so a kill -9 at any moment costs at most a duplicate, never a loss; what
 * the smart host answered is recorded message by message (unsynced, the
 * sync comes once per batch), so such a kill resends only the message
 * whose answer was in flight. */
#ifndef RELAY_RUNNER_H
#define RELAY_RUNNER_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "lib/groupcommit.h"
#include "relay/rewrite.h"

typedef struct {
	const HmConfig *cfg;
	const RelayRewriter *rw;
	const char *queue_dir;
	HmGroupCommit *gc;
} RelayRunnerParams;

typedef struct RelayRunner RelayRunner;

RelayRunner *relay_runner_new(const RelayRunnerParams *p);

/* Closes the smart-host connections (QUIT) and frees. NULL-safe. */
void relay_runner_free(RelayRunner *r);

/* One pass over the queue at time now (seconds since the epoch; tests
 * pass a clock of their own): every pending recipient whose next attempt
 * is due (all of them with force) is attempted. An entry this runner
 * loaded before and knows not to be due is not read again unless force.
 * Smart-host connections stay open after it (relay_runner_idle()).
 * Returns when the next attempt falls due (G_MAXINT64: nothing waits). */
gint64 relay_runner_pass(RelayRunner *r, gint64 now, gboolean force);

/* The seconds before the next attempt after the given number of failed
 * ones (1 and up). */
guint relay_runner_backoff(const HmRetryConf *retry, guint attempts);

/* The smart-host connections a pass leaves open for the next one: hangs
 * up (QUIT) those idle for RELAY_SMARTHOST_IDLE_S by mono_now (a
 * g_get_monotonic_time() value) or past their reuse limits
 * (relay/limits.h). Returns when the next one will be idle that long
 * (monotonic microseconds; G_MAXINT64: none is open). */
gint64 relay_runner_idle(RelayRunner *r, gint64 mono_now);

/* Runs passes until SIGTERM arrives on stop_fd (a signalfd; returns 0:
 * a pass then loads no more entries and sends no further message, so the
 * stop waits only for the messages in flight, which are recorded),
 * or until it has nothing to do (returns RELAY_RUNNER_SLEEP: the queue
 * is empty, no smart-host connection is open, and nothing came for
 * RELAY_RUNNER_LINGER_S; at once when the first pass finds nothing), so
 * that an idle relay is one process: the relay starts it again when
 * pickup_fd is written to. -1 when poll fails. Passes run after each
 * wake-up through pickup_fd (a FIFO any process may write to), when the
 * next attempt falls due, and at least every RELAY_RUNNER_IDLE_S seconds
 * (homemail-sendmail may have left a message while no one listened);
 * between them it hangs up smart-host connections whose idle time ran
 * out (relay_runner_idle()), so it also wakes for that. An "f" written
 * to the FIFO (`homemail queue flush`) makes the next pass a forced one.
 * A pass loads only the queue entries that are new or due (all on a
 * forced pass, and the first); the others it knows from earlier passes. */
int relay_runner_loop(RelayRunner *r, int pickup_fd, int stop_fd);

#define RELAY_RUNNER_IDLE_S 60
/* A burst of mail comes in pieces (a mail client's outbox, the
 * fetcher's run): a runner that just had work stays this long rather
 * than being forked again for the next message. */
#define RELAY_RUNNER_LINGER_S 10
#define RELAY_RUNNER_SLEEP 2

#endif
