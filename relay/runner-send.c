#include <config.h>

#include "lib/log.h"
#include "relay/limits.h"
#include "relay/runner-private.h"

/* Sends the item's remote recipients through sh. Touches nothing but the
 * item: items go out from more than one thread (relay_runner_send()). */
static void
deliver_remote(RelaySmarthosts *sh, Item *it)
{
	GArray *idx = it->remote;
	g_autofree RelayRcptResult *res = g_new0(RelayRcptResult, idx->len);

	relay_smarthosts_send(sh, it->e, it->msg, relay_runner_indexes(idx), idx->len, res);
	for (guint k = 0; k < idx->len; k++) {
		guint i = g_array_index(idx, guint, k);

		hm_info("relay %s to=<%s> via=%s: %s", it->e->id, relay_queue_rcpt(it->e, i)->addr,
		        res[k].remote_mta != NULL ? res[k].remote_mta : "-",
		        res[k].reply != NULL ? res[k].reply : "accepted");
		g_ptr_array_index(it->remote_mta, i) = (gpointer)res[k].remote_mta;
		it->dsn_passed |= res[k].dsn_passed;
		relay_runner_outcome(it, i, res[k].code, res[k].reply);
		relay_rcpt_result_clear(&res[k]);
	}
}

/* TRUE if recipient i, delivered now, is owed a success notice: it is
 * final only once the runner queued that (notify() in runner.c). */
static gboolean
owes_success(const Item *it, guint i)
{
	return !it->dsn_passed && it->e->sender[0] != '\0' &&
	       relay_notify_wants(relay_queue_rcpt(it->e, i)->notify, RELAY_NOTIFY_SUCCESS);
}

/* The item's state as a kill now must find it: what was settled is final
 * unless it still owes a notice, and a temporary failure is due again.
 * view->rcpts is a shallow copy: free the array only. */
static void
recordable(const Item *it, RelayQueueEntry *view)
{
	RelayQueueRcpt *q;

	*view = *it->e;
	view->rcpts = g_array_sized_new(FALSE, FALSE, sizeof(RelayQueueRcpt), it->e->rcpts->len);
	g_array_append_vals(view->rcpts, it->e->rcpts->data, it->e->rcpts->len);
	for (guint k = 0; k < it->failed->len; k++)
		relay_queue_rcpt(view, g_array_index(it->failed, guint, k))->state =
			RELAY_RCPT_PENDING;
	for (guint k = 0; k < it->delivered->len; k++) {
		guint i = g_array_index(it->delivered, guint, k);

		if (owes_success(it, i))
			relay_queue_rcpt(view, i)->state = RELAY_RCPT_PENDING;
	}
	for (guint i = 0; i < view->rcpts->len; i++)
		if ((q = relay_queue_rcpt(view, i))->state == RELAY_RCPT_PENDING && q->next_try < 0)
			q->next_try = q->last_try;
}

void
relay_runner_record(const char *dir, Item *it)
{
	g_autoptr(GError) err = NULL;
	RelayQueueEntry view;
	gboolean owed = it->failed->len > 0;

	for (guint k = 0; k < it->delivered->len && !owed; k++)
		owed = owes_success(it, g_array_index(it->delivered, guint, k));
	if (!owed && relay_queue_entry_done(it->e)) {
		it->retired = relay_queue_retire(dir, it->e->id, &err) == 0;
	} else {
		recordable(it, &view);
		relay_queue_note_state(dir, &view, &err);
		g_array_unref(view.rcpts);
	}
	if (err != NULL)
		hm_debug("relay %s: not recorded before the batch ends: %s", it->e->id,
		         err->message);
}

/* The batch's items with recipients for a smart host, and the next one to
 * take: each sender takes them one at a time, so a slow message holds up
 * only its own session. */
typedef struct {
	GPtrArray *work;
	gint next;
	const char *queue_dir;
	int stop_fd;
} Sending;

typedef struct {
	Sending *s;
	RelaySmarthosts *sh;
} Sender;

static gpointer
sender_run(gpointer p)
{
	Sender *t = p;
	guint k;

	while (!relay_runner_stop_asked(t->s->stop_fd) &&
	       (k = (guint)g_atomic_int_add(&t->s->next, 1)) < t->s->work->len) {
		deliver_remote(t->sh, t->s->work->pdata[k]);
		relay_runner_record(t->s->queue_dir, t->s->work->pdata[k]);
	}
	return NULL;
}

/* relay/limits.h says why RELAY_SMARTHOST_SESSIONS. The runner's own
 * thread is the first sender and the only one for a single message, so a
 * message at a time keeps one session; the others are threads that live
 * for this batch only. */
void
relay_runner_send(RelaySmarthosts *const *sh, const char *queue_dir, int stop_fd, GPtrArray *batch)
{
	g_autoptr(GPtrArray) work = g_ptr_array_new();
	GThread *helper[RELAY_SMARTHOST_SESSIONS] = { NULL };
	Sender sender[RELAY_SMARTHOST_SESSIONS];
	Sending s = { .work = work, .next = 0, .queue_dir = queue_dir, .stop_fd = stop_fd };
	guint n;

	for (guint b = 0; b < batch->len; b++)
		if (((Item *)batch->pdata[b])->remote->len > 0)
			g_ptr_array_add(work, batch->pdata[b]);
	n = MIN(work->len, RELAY_SMARTHOST_SESSIONS);
	for (guint k = 0; k < n; k++)
		sender[k] = (Sender){ .s = &s, .sh = sh[k] };
	/* A thread that cannot be had leaves its share to the others. */
	for (guint k = 1; k < n; k++)
		helper[k] = g_thread_try_new("smarthost", sender_run, &sender[k], NULL);
	if (n > 0)
		sender_run(&sender[0]);
	for (guint k = 1; k < n; k++)
		if (helper[k] != NULL)
			g_thread_join(helper[k]);
}
