#include <config.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "deliver/deliver.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/maildir.h"
#include "relay/bounce.h"
#include "relay/drop.h"
#include "relay/limits.h"
#include "relay/policy.h"
#include "relay/queue.h"
#include "relay/runner-private.h"
#include "relay/runner.h"
#include "relay/smarthost.h"
#include "relay/spool.h"

/* Messages whose local deliveries share one syncfs (as the fetcher's
 * HM_FETCH_GROUP: past ~50 the cost per message hardly drops). */
#define RUNNER_BATCH 64

/* Finished entries wait in done/ until the runner has had nothing to do
 * for this long (µs), or until there are this many: removing them costs
 * more than delivering on some disks (relay_queue_retire()). */
#define RUNNER_REAP_IDLE_US (G_USEC_PER_SEC / 2)
#define RUNNER_REAP_MAX 4096
/* Temporary files that a session killed mid-DATA left in the queue are
 * looked for when a runner starts and then this often (seconds): the
 * relay's start clears them all, but a relay runs for months. */
#define RUNNER_SWEEP_S 3600

/* What the runner knows of a queue entry without loading it. */
typedef struct {
	gint64 due;   /* the earliest next_try of its pending recipients */
	guint listed; /* the pass whose listing last showed it */
} Known;

struct RelayRunner {
	RelayRunnerParams p;
	/* One connection cache per smart-host session a pass may have open at
	 * once; [0] carries every message when only one is due. */
	RelaySmarthosts *sh[RELAY_SMARTHOST_SESSIONS];
	RelayBounceCtx bc;
	int stop_fd;             /* readable once SIGTERM came; -1: none */
	gboolean queued;         /* this pass queued notices: they are due now */
	/* id -> Known, for every entry loaded or attempted: a pass loads only
	 * what is new or due, so a deferred queue of N entries does not cost
	 * each new message N loads. Only the runner changes delivery state;
	 * what others do (homemail queue flush, delete) comes as a forced
	 * pass or as a name gone from the listing. */
	GHashTable *known;
	/* id -> RelayQueueEntry whose state finish() could not save (a full
	 * disk): its ID.s says less than the runner knows (what was delivered
	 * since), so the runner goes by this copy until a save succeeds, and
	 * delivers nothing twice meanwhile. */
	GHashTable *unsaved;
	guint pass;
	guint listed;            /* entries the last pass found in the queue */
	guint retired;           /* entries put in done/ since the last reap */
	gint64 swept;            /* when stale temporary files were last looked for */
};

static void
item_free(gpointer p)
{
	Item *it = p;

	for (guint i = 0; i < it->staged->len; i++)
		hm_deliver_staged_clear(&g_array_index(it->staged, Staged, i).staged);
	g_array_unref(it->staged);
	g_array_unref(it->failed);
	g_array_unref(it->delivered);
	g_ptr_array_unref(it->remote_mta);
	g_array_unref(it->remote);
	g_array_unref(it->fwd);
	g_bytes_unref(it->msg);
	relay_queue_entry_free(it->e);
	g_free(it);
}

RelayRunner *
relay_runner_new(const RelayRunnerParams *p)
{
	RelayRunner *r = g_new0(RelayRunner, 1);

	r->p = *p;
	r->stop_fd = -1;
	for (guint k = 0; k < RELAY_SMARTHOST_SESSIONS; k++)
		r->sh[k] = relay_smarthosts_new(p->cfg, p->rw);
	r->bc = (RelayBounceCtx){ .cfg = p->cfg, .queue_dir = p->queue_dir, .gc = p->gc,
		                  .rw = p->rw, .sh = r->sh, .n_sh = RELAY_SMARTHOST_SESSIONS };
	r->known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->unsaved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                   (GDestroyNotify)relay_queue_entry_free);
	r->retired = 1;  /* what a crash may have left in done/ */
	return r;
}

/* Saves what finish() could not (r->unsaved): the state, or for a
 * finished entry its retirement. The entries saved leave r->unsaved. */
static void
save_unsaved(RelayRunner *r)
{
	GHashTableIter hi;
	gpointer id, e;

	g_hash_table_iter_init(&hi, r->unsaved);
	while (g_hash_table_iter_next(&hi, &id, &e)) {
		gboolean done = relay_queue_entry_done(e);

		if ((done ? relay_queue_retire(r->p.queue_dir, id, NULL)
		          : relay_queue_save_state(r->p.queue_dir, e, NULL)) < 0)
			continue;
		hm_info("relay %s: state saved", (const char *)id);
		r->retired += done ? 1 : 0;
		g_hash_table_iter_remove(&hi);
	}
}

void
relay_runner_free(RelayRunner *r)
{
	GHashTableIter hi;
	gpointer id;

	if (r == NULL)
		return;
	for (guint k = 0; k < RELAY_SMARTHOST_SESSIONS; k++)
		relay_smarthosts_free(r->sh[k]);
	save_unsaved(r);
	g_hash_table_iter_init(&hi, r->unsaved);
	while (g_hash_table_iter_next(&hi, &id, NULL))
		hm_warn("relay %s: state still not saved: the next runner may deliver again what "
		        "was delivered since the last save",
		        (const char *)id);
	g_hash_table_unref(r->unsaved);
	g_hash_table_unref(r->known);
	g_free(r);
}

guint
relay_runner_backoff(const HmRetryConf *retry, guint attempts)
{
	guint64 d = MAX(retry->first, 1);

	for (guint i = 1; i < attempts && d < retry->max_interval; i++)
		d *= 2;
	return (guint)MIN(d, MAX(retry->max_interval, retry->first));
}

void
relay_runner_outcome(Item *it, guint i, guint code, const char *reply)
{
	RelayQueueRcpt *r = relay_queue_rcpt(it->e, i);

	g_free(r->reply);
	r->reply = g_strdup(reply);
	if (code >= 200 && code < 300) {
		r->state = RELAY_RCPT_DELIVERED;
		g_array_append_val(it->delivered, i);
	} else if (code >= 500 && code < 600) {
		r->state = RELAY_RCPT_FAILED;
		g_array_append_val(it->failed, i);
	} else {
		r->attempts++;  /* a temporary failure, scheduled by finish() */
		r->next_try = -1;
	}
}

/* A local recipient: staged into its Maildir, or its outcome. An alias
 * that forwards off the box sets *forward instead (g_free()). */
static void
deliver_local(RelayRunner *r, Item *it, guint i, char **forward)
{
	const RelayQueueRcpt *q = relay_queue_rcpt(it->e, i);
	g_autoptr(GError) err = NULL;
	g_autofree char *user = NULL;
	Staged st = { .rcpt = i };
	g_autofree char *why = NULL;
	gboolean temp;

	if (hm_recipient_expand(r->p.cfg, q->addr, &user, forward, &err) == 0 && *forward != NULL)
		return;
	if (user != NULL &&
	    hm_deliver_message_staged(r->p.cfg, user, q->addr, it->e->sender, NULL, 0,
	                              g_bytes_get_data(it->msg, NULL), g_bytes_get_size(it->msg),
	                              &st.staged, &err) == 0) {
		if (st.staged.tmp_path == NULL)
			relay_runner_outcome(it, i, 250, NULL); /* mbox: complete already */
		else
			g_array_append_val(it->staged, st);
		return;
	}
	temp = g_error_matches(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP) ||
	       err->domain != HM_DELIVER_ERROR;
	why = g_strdup_printf("%s %s", temp ? "4.3.0" : "5.1.1", err->message);
	hm_info("relay %s to=<%s> %s: %s", it->e->id, q->addr, temp ? "deferred" : "failed",
	        err->message);
	relay_runner_outcome(it, i, temp ? 450 : 550, why);
}

/* Records when e is next due: the earliest next_try of its pending
 * recipients (G_MAXINT64 when none is pending: the pass that settles it
 * removes it), and returns it. */
static gint64
learn(RelayRunner *r, const RelayQueueEntry *e)
{
	Known *k = g_hash_table_lookup(r->known, e->id);

	if (k == NULL) {
		k = g_new0(Known, 1);
		g_hash_table_insert(r->known, g_strdup(e->id), k);
	}
	k->due = G_MAXINT64;
	k->listed = r->pass;
	for (guint i = 0; i < e->rcpts->len; i++) {
		const RelayQueueRcpt *q = relay_queue_rcpt(e, i);

		if (q->state == RELAY_RCPT_PENDING)
			k->due = MIN(k->due, q->next_try);
	}
	return k->due;
}

/* Entry id as the runner knows it: taken out of r->unsaved (the caller
 * puts it back with keep_unsaved() unless it saves it), else loaded from
 * the queue. NULL when it cannot be loaded. */
static RelayQueueEntry *
fetch(RelayRunner *r, const char *id)
{
	g_autoptr(GError) err = NULL;
	gpointer key, kept;
	RelayQueueEntry *e;

	if (g_hash_table_steal_extended(r->unsaved, id, &key, &kept)) {
		g_free(key);
		return kept;
	}
	if ((e = relay_queue_load(r->p.queue_dir, id, &err)) != NULL)
		return e;
	/* Cut short: linked, never committed, so never answered 250. */
	if (relay_queue_error_uncommitted(err)) {
		hm_warn("relay %s", err->message);
		relay_queue_remove(r->p.queue_dir, id, NULL);
	} else if (!(g_error_matches(err, HM_ERROR, HM_ERROR_IO) && errno == ENOENT)) {
		hm_warn("relay queue: %s", err->message);
	}
	return NULL;
}

/* Keeps e (taken over) in r->unsaved: its state is not on disk yet. */
static void
keep_unsaved(RelayRunner *r, RelayQueueEntry *e)
{
	g_hash_table_replace(r->unsaved, g_strdup(e->id), e);
}

/* Loads entry id for the batch, or NULL when nothing of it is due (then
 * *next is lowered to its next attempt) or it cannot be used. */
static Item *
load(RelayRunner *r, const char *id, gint64 now, gboolean force, gint64 *next)
{
	g_autoptr(GError) err = NULL;
	gboolean kept = g_hash_table_contains(r->unsaved, id);
	RelayQueueEntry *e = fetch(r, id);
	gboolean due = FALSE;
	Item *it;

	if (e == NULL)
		return NULL;
	learn(r, e);
	for (guint i = 0; i < e->rcpts->len; i++) {
		const RelayQueueRcpt *q = relay_queue_rcpt(e, i);

		if (q->state != RELAY_RCPT_PENDING)
			continue;
		if (force || q->next_try <= now)
			due = TRUE;
		else
			*next = MIN(*next, q->next_try);
	}
	if (!due) {
		if (kept)
			keep_unsaved(r, e);
		else
			relay_queue_entry_free(e);
		return NULL;
	}
	it = g_new0(Item, 1);
	it->e = e;
	it->staged = g_array_new(FALSE, FALSE, sizeof(Staged));
	it->failed = g_array_new(FALSE, FALSE, sizeof(guint));
	it->delivered = g_array_new(FALSE, FALSE, sizeof(guint));
	it->remote_mta = g_ptr_array_new();
	g_ptr_array_set_size(it->remote_mta, (gint)e->rcpts->len);
	it->remote = g_array_new(FALSE, FALSE, sizeof(guint));
	it->fwd = g_array_new(FALSE, FALSE, sizeof(Forwarded));
	if ((it->msg = relay_queue_message(r->p.queue_dir, e, &err)) == NULL) {
		hm_warn("relay queue: %s", err->message);
		if (kept)
			keep_unsaved(r, g_steal_pointer(&it->e));
		item_free(it);
		return NULL;
	}
	return it;
}

/* Attempts every due recipient of the item that is local (staged), and
 * lists the others in it->remote for relay_runner_send(). A forwarded one goes
 * to the smart host under its new address only for the sending (see
 * unforward()). */
static void
attempt(RelayRunner *r, Item *it, gint64 now, gboolean force)
{
	GArray *remote = it->remote, *fwd = it->fwd;

	for (guint i = 0; i < it->e->rcpts->len; i++) {
		RelayQueueRcpt *q = relay_queue_rcpt(it->e, i);
		char *forward = NULL;

		if (q->state != RELAY_RCPT_PENDING || (!force && q->next_try > now))
			continue;
		q->last_try = now;
		if (!relay_policy_is_local(r->p.cfg, r->p.rw, q->addr)) {
			g_array_append_val(remote, i);
			continue;
		}
		deliver_local(r, it, i, &forward);
		if (forward != NULL) {
			Forwarded f = { .rcpt = i, .addr = q->addr, .orcpt = q->orcpt };

			hm_debug("relay %s to=<%s> forwarded to <%s>", it->e->id, q->addr, forward);
			g_array_append_val(fwd, f);
			q->orcpt = f.orcpt != NULL ? g_strdup(f.orcpt) : g_strconcat("rfc822;", q->addr, NULL);
			q->addr = forward;
			g_array_append_val(remote, i);
		}
	}
}

/* After the sending, forwarded recipients get back the address the sender
 * used: notices name that one, and ORCPT told the next hop what it was. */
static void
unforward(Item *it)
{
	for (guint k = 0; k < it->fwd->len; k++) {
		Forwarded *f = &g_array_index(it->fwd, Forwarded, k);
		RelayQueueRcpt *q = relay_queue_rcpt(it->e, f->rcpt);

		g_free(q->addr);
		g_free(q->orcpt);
		q->addr = f->addr;
		q->orcpt = f->orcpt;
	}
	g_array_set_size(it->fwd, 0);
	g_array_set_size(it->remote, 0);
}

/* Makes the batch's local deliveries durable with one syncfs, then
 * publishes them; on failure they are temporary failures. */
static void
publish(RelayRunner *r, GPtrArray *batch)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GHashTable) dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	gboolean any = FALSE, synced;

	for (guint b = 0; b < batch->len && !any; b++)
		any = ((Item *)batch->pdata[b])->staged->len > 0;
	if (!any)
		return;
	synced = hm_syncfs(r->p.cfg->mail_dir, &err) == 0;
	if (!synced)
		hm_warn("relay deliver: %s", err->message);
	for (guint b = 0; b < batch->len; b++) {
		Item *it = batch->pdata[b];

		for (guint k = 0; k < it->staged->len; k++) {
			Staged *st = &g_array_index(it->staged, Staged, k);
			g_autoptr(GError) perr = NULL;

			if (!synced || hm_maildir_publish(st->staged.tmp_path, st->staged.new_path, &perr) < 0) {
				unlink(st->staged.tmp_path);
				relay_runner_outcome(it, st->rcpt, 450,
				                     perr != NULL ? perr->message
				                                  : "4.3.0 mailbox not durable");
				continue;
			}
			g_hash_table_add(dirs, g_path_get_dirname(st->staged.new_path));
			relay_runner_outcome(it, st->rcpt, 250, NULL);
		}
	}
	/* One directory fsync per Maildir makes every link in it durable. */
	GHashTableIter hi;
	gpointer dir;

	g_hash_table_iter_init(&hi, dirs);
	while (g_hash_table_iter_next(&hi, &dir, NULL))
		if (hm_fsync_dir(dir, &err) < 0) {
			hm_warn("relay deliver: %s", err->message);
			g_clear_error(&err);
		}
}

/* The temporary failures of this attempt: next try, or given up. */
static void
schedule(RelayRunner *r, Item *it, gint64 now)
{
	const HmRetryConf *retry = &r->p.cfg->relay.retry;

	for (guint i = 0; i < it->e->rcpts->len; i++) {
		RelayQueueRcpt *q = relay_queue_rcpt(it->e, i);

		if (q->state != RELAY_RCPT_PENDING || q->next_try != -1)
			continue;
		if (now - it->e->arrival >= (gint64)retry->give_up_after) {
			q->state = RELAY_RCPT_EXPIRED;
			g_array_append_val(it->failed, i);
			hm_info("relay %s to=<%s> expired: gave up after %u s", it->e->id, q->addr,
			        retry->give_up_after);
			continue;
		}
		q->next_try = now + relay_runner_backoff(retry, q->attempts);
	}
}

/* The delay notice, once, to recipients still waiting after warn_after. */
static int
warn_delayed(RelayRunner *r, Item *it, gint64 now, GError **err)
{
	g_autoptr(GArray) late = g_array_new(FALSE, FALSE, sizeof(guint));
	g_autofree char *notice = NULL;

	if (now - it->e->arrival < (gint64)r->p.cfg->relay.retry.warn_after)
		return 0;
	for (guint i = 0; i < it->e->rcpts->len; i++) {
		RelayQueueRcpt *q = relay_queue_rcpt(it->e, i);

		if (q->state == RELAY_RCPT_PENDING && !q->warned)
			g_array_append_val(late, i);
	}
	if (late->len == 0)
		return 0;
	if (relay_bounce_queue(&r->bc, it->e, it->msg, RELAY_DSN_DELAYED,
	                       relay_runner_indexes(late), late->len, NULL, now, &notice, err) < 0)
		return -1;
	r->queued |= notice != NULL;
	for (guint k = 0; k < late->len; k++)
		relay_queue_rcpt(it->e, g_array_index(late, guint, k))->warned = TRUE;
	return 0;
}

/* The notices this attempt owes, made durable before the state that
 * says they were sent. */
static int
notify(RelayRunner *r, Item *it, gint64 now, GError **err)
{
	g_autofree const char **mta = g_new0(const char *, it->failed->len + 1);
	RelayDsnAction success = it->dsn_passed ? RELAY_DSN_DELIVERED : RELAY_DSN_RELAYED;

	for (guint k = 0; k < it->failed->len; k++)
		mta[k] = g_ptr_array_index(it->remote_mta, g_array_index(it->failed, guint, k));
	g_autofree char *bounce = NULL, *report = NULL;
	int rc = 0;

	if (it->failed->len > 0 && relay_bounce_queue(&r->bc, it->e, it->msg, RELAY_DSN_FAILED,
	                                              relay_runner_indexes(it->failed),
	                                              it->failed->len, mta, now, &bounce, err) < 0)
		return -1;
	/* Success notices for local deliveries are ours; for remote ones only
	 * when the smart host did not take the NOTIFY (RFC 3461 5.2.2). */
	if (it->delivered->len > 0 && !it->dsn_passed &&
	    relay_bounce_queue(&r->bc, it->e, it->msg, success, relay_runner_indexes(it->delivered),
	                       it->delivered->len, NULL, now, &report, err) < 0)
		rc = -1;
	if (rc == 0)
		rc = warn_delayed(r, it, now, err);
	r->queued |= bounce != NULL || report != NULL;
	return rc;
}

/* Settles one item after its attempt: notices, then state or removal.
 * Returns when the entry is next due (learn()). */
static gint64
finish(RelayRunner *r, Item *it, gint64 now)
{
	g_autoptr(GError) err = NULL;
	const char *dir = r->p.queue_dir;
	gboolean done;
	gint64 due;

	if (it->retired) {
		r->retired++;
		hm_debug("relay %s done", it->e->id);
		return learn(r, it->e);
	}
	schedule(r, it, now);
	if (notify(r, it, now, &err) < 0) {
		/* Without the notice the failure must not be final: try again. */
		hm_warn("relay %s: notice not queued: %s", it->e->id, err->message);
		for (guint k = 0; k < it->failed->len; k++) {
			RelayQueueRcpt *q = relay_queue_rcpt(it->e, g_array_index(it->failed, guint, k));

			q->state = RELAY_RCPT_PENDING;
			q->next_try = now + relay_runner_backoff(&r->p.cfg->relay.retry, 1);
		}
		g_clear_error(&err);
	}
	due = learn(r, it->e);
	done = relay_queue_entry_done(it->e);
	if ((done ? relay_queue_retire(dir, it->e->id, &err)
	          : relay_queue_save_state(dir, it->e, &err)) < 0) {
		/* The file says less than the runner knows now: it goes by what it
		 * knows (save_unsaved() tries again each pass), so that what was
		 * delivered is not delivered again. */
		hm_warn("relay %s: state not saved (kept, tried again at each pass): %s", it->e->id,
		        err->message);
		keep_unsaved(r, g_steal_pointer(&it->e));
	} else if (done) {
		r->retired++;
		hm_debug("relay %s done", it->e->id);
	}
	return due;
}

static void
settle(RelayRunner *r, GPtrArray *items, gint64 now, gint64 *next)
{
	for (guint b = 0; b < items->len; b++) {
		gint64 due = finish(r, items->pdata[b], now);

		*next = MIN(*next, due);
	}
}

/* Local deliveries first: the batch's local recipients are in their
 * Maildirs, and the entries with nothing for a smart host settled, before
 * any message goes to one, which may take minutes to answer. The local
 * outcomes of an entry that waits for the smart host are noted as its
 * remote ones will be (relay_runner_record()). */
static void
run_batch(RelayRunner *r, GPtrArray *batch, gint64 now, gboolean force, gint64 *next)
{
	g_autoptr(GPtrArray) local = g_ptr_array_new();
	g_autoptr(GPtrArray) remote = g_ptr_array_new();

	for (guint b = 0; b < batch->len; b++) {
		Item *it = batch->pdata[b];

		attempt(r, it, now, force);
		g_ptr_array_add(it->remote->len > 0 ? remote : local, it);
	}
	publish(r, batch);
	settle(r, local, now, next);
	for (guint b = 0; b < remote->len; b++)
		if (((Item *)remote->pdata[b])->delivered->len > 0)
			relay_runner_record(r->p.queue_dir, remote->pdata[b]);
	relay_runner_send(r->sh, r->p.queue_dir, r->stop_fd, remote);
	for (guint b = 0; b < remote->len; b++)
		unforward(remote->pdata[b]);
	settle(r, remote, now, next);
	g_ptr_array_set_size(batch, 0);
}

gboolean
relay_runner_stop_asked(int stop_fd)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };

	return stop_fd >= 0 && poll(&pfd, 1, 0) > 0;
}

static void
reap(RelayRunner *r)
{
	guint n = relay_queue_reap(r->p.queue_dir);

	if (n > 0)
		hm_debug("relay queue: %u finished entries removed", n);
	r->retired = 0;
}

/* Removes what sessions and runners killed mid-write left in the queue
 * (relay/spool.h): only files old enough that no one still writes them,
 * since sessions run beside the runner. */
static void
sweep(RelayRunner *r, gint64 now)
{
	if (r->swept != 0 && now - r->swept < RUNNER_SWEEP_S)
		return;
	r->swept = now;
	relay_spool_clear_stale(r->p.queue_dir, RELAY_STALE_TEMP_S);
}

static gboolean
unlisted(gpointer key, gpointer value, gpointer data)
{
	const Known *k = value;
	const RelayRunner *r = data;

	return k->listed != r->pass;
}

static gboolean
unknown(gpointer key, gpointer value, gpointer data)
{
	const RelayRunner *r = data;

	return !g_hash_table_contains(r->known, key);
}

/* Entries gone from the queue (delivered, deleted by homemail queue, or a
 * pass cut short by SIGTERM left them unlisted: they are learnt again;
 * what r->unsaved holds of them is dropped only after a whole listing). */
static void
forget_unlisted(RelayRunner *r, gboolean whole)
{
	g_hash_table_foreach_remove(r->known, unlisted, r);
	if (whole)
		g_hash_table_foreach_remove(r->unsaved, unknown, r);
}

gint64
relay_runner_pass(RelayRunner *r, gint64 now, gboolean force)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func(item_free);
	gint64 next = G_MAXINT64;
	guint i;

	r->queued = FALSE;
	save_unsaved(r);
	if (force)
		for (guint k = 0; k < RELAY_SMARTHOST_SESSIONS; k++)
			relay_smarthosts_forget_down(r->sh[k]);
	sweep(r, now);
	/* What homemail-sendmail left goes into the queue first. */
	relay_drop_import(r->p.cfg, r->p.rw, r->p.queue_dir, r->p.gc);
	if ((ids = relay_queue_list(r->p.queue_dir, &err)) == NULL) {
		hm_warn("relay queue: %s", err->message);
		return now + RELAY_RUNNER_IDLE_S;
	}
	r->pass++;
	r->listed = ids->len;
	for (i = 0; i < ids->len && !relay_runner_stop_asked(r->stop_fd); i++) {
		Known *k = g_hash_table_lookup(r->known, ids->pdata[i]);
		Item *it;

		if (k != NULL)
			k->listed = r->pass;
		if (k != NULL && !force && k->due > now) {
			next = MIN(next, k->due);
			continue;
		}
		if ((it = load(r, ids->pdata[i], now, force, &next)) != NULL)
			g_ptr_array_add(batch, it);
		if (batch->len >= RUNNER_BATCH)
			run_batch(r, batch, now, force, &next);
	}
	run_batch(r, batch, now, force, &next);
	forget_unlisted(r, i == ids->len);
	if (r->retired >= RUNNER_REAP_MAX)
		reap(r);
	/* Notices queued by this pass are due at once. */
	if (r->queued) {
		r->queued = FALSE;
		return now;
	}
	return next;
}

/* Reads what woke us on the FIFO, so it does not wake us again. TRUE
 * when it asked for a forced pass. */
static gboolean
drain(int fd)
{
	char buf[512];
	ssize_t n;
	gboolean force = FALSE;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		force |= memchr(buf, 'f', (size_t)n) != NULL;
	return force;
}

gint64
relay_runner_idle(RelayRunner *r, gint64 mono_now)
{
	gint64 next = G_MAXINT64;

	for (guint k = 0; k < RELAY_SMARTHOST_SESSIONS; k++)
		next = MIN(next, relay_smarthosts_expire(r->sh[k], mono_now));
	return next;
}

/* Milliseconds to wait for: the next due attempt (real seconds), the
 * next idle smart-host session's end or the end of the linger
 * (monotonic microseconds), at most RELAY_RUNNER_IDLE_S. */
static int
wait_ms(gint64 due, gint64 idle_end)
{
	gint64 ms = MIN(due - g_get_real_time() / G_USEC_PER_SEC, RELAY_RUNNER_IDLE_S) * 1000;

	if (idle_end != G_MAXINT64)
		ms = MIN(ms, (idle_end - g_get_monotonic_time() + 999) / 1000);
	return (int)MAX(ms, 0);
}

/* Whether the runner may end until the next wake-up: nothing in the
 * queue, no smart-host connection kept, and nothing to do for
 * RELAY_RUNNER_LINGER_S (busy_since: the monotonic µs of the last work;
 * 0 when there was none since the start, which ends at once). Sets
 * *linger_end to when it may, if it cannot yet. */
static gboolean
may_sleep(const RelayRunner *r, gint64 idle_end, gint64 busy_at, gint64 *linger_end)
{
	*linger_end = G_MAXINT64;
	if (r->listed > 0 || idle_end != G_MAXINT64)
		return FALSE;
	if (busy_at == 0 || g_get_monotonic_time() - busy_at >= RELAY_RUNNER_LINGER_S * G_USEC_PER_SEC)
		return TRUE;
	*linger_end = busy_at + RELAY_RUNNER_LINGER_S * G_USEC_PER_SEC;
	return FALSE;
}

int
relay_runner_loop(RelayRunner *r, int pickup_fd, int stop_fd)
{
	gboolean force = TRUE;  /* a start catches up with everything */
	gboolean woken = TRUE;
	gint64 next = 0, last = 0, busy_at = 0, linger_end;

	r->stop_fd = stop_fd;
	for (;;) {
		gint64 now = g_get_real_time() / G_USEC_PER_SEC;
		struct pollfd pfd[2] = { { .fd = pickup_fd, .events = POLLIN },
			                 { .fd = stop_fd, .events = POLLIN } };
		struct signalfd_siginfo si;
		gint64 idle_end;

		/* A wake-up only for the smart-host sessions' idle end needs no
		 * pass; every other one does, and one every RELAY_RUNNER_IDLE_S
		 * at least (homemail-sendmail may have left a message while no
		 * one listened). */
		if (woken || force || now >= next || now - last >= RELAY_RUNNER_IDLE_S) {
			next = relay_runner_pass(r, now, force);
			last = now;
			if (r->listed > 0)
				busy_at = g_get_monotonic_time();
		}
		idle_end = relay_runner_idle(r, g_get_monotonic_time());
		force = woken = FALSE;
		if (r->retired > 0 && g_get_monotonic_time() - busy_at >= RUNNER_REAP_IDLE_US)
			reap(r);
		if (may_sleep(r, idle_end, busy_at, &linger_end))
			return RELAY_RUNNER_SLEEP;
		if (r->retired > 0)
			idle_end = MIN(idle_end, busy_at + RUNNER_REAP_IDLE_US);
		if (poll(pfd, 2, wait_ms(next, MIN(idle_end, linger_end))) < 0 && errno != EINTR)
			return -1;
		if (pfd[0].revents & POLLIN) {
			woken = TRUE;
			force = drain(pickup_fd);
		}
		while (read(stop_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				return 0;
	}
}
