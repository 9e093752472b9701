#include <config.h>

#include <string.h>

#include <glib/gstdio.h>

#include "fetcher/account-private.h"
#include "fetcher/lastrun.h"
#include "fetcher/lock.h"
#include "fetcher/stage.h"
#include "fetcher/state.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/oauth2-token.h"
#include "lib/parse.h"
#include "lib/sasl.h"
#include "lib/tls.h"

int
hm_account_init(HmAccount *a, const HmConfig *cfg, const HmAccountConf *acct, GError **err)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->acct = acct;
	a->backend = hm_fetch_backend(acct);
	a->params.acct = acct;
	a->params.timeout_ms = HM_FETCH_TIMEOUT_MS;
	a->params.window = HM_FETCH_WINDOW;
	a->rcpt = strchr(acct->to, '@') != NULL ? g_strdup(acct->to)
	                                        : g_strdup_printf("%s@%s", acct->to, cfg->hostname);
	if (acct->ep.auth != HM_AUTH_OAUTH2 && acct->ep.password.value == NULL) {
		g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_AUTH,
		            acct->ep.password.file != NULL ? "cannot read password_file %s"
		                                        : "no password configured%s",
		            acct->ep.password.file != NULL ? acct->ep.password.file : "");
		return -1;
	}
	a->params.tls_ctx = hm_endpoint_tls_ctx(&acct->ep, err);
	return a->params.tls_ctx != NULL || acct->ep.tls == HM_TLS_MODE_NONE ? 0 : -1;
}

/* The access token for a's login into a->params.token; 0, or -1 with
 * *err as hm_account_open() describes. */
static int
take_token(HmAccount *a, gboolean force, GError **err)
{
	const HmEndpoint *ep = &a->acct->ep;
	g_autoptr(GError) e = NULL;
	char *token = hm_oauth2_access_token(a->cfg->state_dir, &ep->oauth2, ep->user,
	                                     g_get_real_time() / G_USEC_PER_SEC, force, &e);

	if (token != NULL) {
		a->params.token = token;
		return 0;
	}
	if (hm_oauth2_error_needs_login(e))
		g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_SIGN_IN,
		            "OAuth2: %s; run homemail oauth login %s (the mail stays upstream)",
		            e->message, a->acct->name);
	else
		g_set_error(err, HM_FETCH_ERROR,
		            g_error_matches(e, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_TEMPORARY)
		                    ? HM_FETCH_ERROR_NETWORK
		                    : HM_FETCH_ERROR_AUTH,
		            "OAuth2: %s", e->message);
	return -1;
}

static void
drop_token(HmAccount *a)
{
	hm_sasl_free_secret((char *)a->params.token);
	a->params.token = NULL;
}

HmFetchSession *
hm_account_open(HmAccount *a, GError **err)
{
	HmFetchSession *s;

	if (a->acct->ep.auth != HM_AUTH_OAUTH2)
		return a->backend->open(&a->params, err);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (take_token(a, attempt > 0, err) < 0)
			return NULL;
		s = a->backend->open(&a->params, err);
		drop_token(a);
		if (s != NULL || !g_error_matches(*err, HM_FETCH_ERROR, HM_FETCH_ERROR_TOKEN) ||
		    attempt > 0)
			break;
		hm_info("%s: %s; refreshing the access token once", a->acct->name, (*err)->message);
		g_clear_error(err);
	}
	if (s == NULL && g_error_matches(*err, HM_FETCH_ERROR, HM_FETCH_ERROR_TOKEN))
		(*err)->code = HM_FETCH_ERROR_AUTH;
	return s;
}

void
hm_account_clear(HmAccount *a)
{
	hm_injector_close(a->inj);
	a->inj = NULL;
	g_clear_pointer(&a->rcpt, g_free);
	if (a->params.tls_ctx != NULL)
		SSL_CTX_free(a->params.tls_ctx);
	a->params.tls_ctx = NULL;
}

gboolean
hm_account_too_big(const HmAccountConf *acct, guint64 size)
{
	return (acct->max_size > 0 && size > acct->max_size) || size > HM_FETCH_MAX_MESSAGE;
}

/* Whether a message the local side refused at when (Unix time) is to be
 * tried again now (HM_FETCH_RETRY_AFTER). */
static gboolean
retry_due(const FolderRun *r, guint64 when)
{
	gint64 t = (gint64)MIN(when, (guint64)G_MAXINT64 / 2);

	return r->now - t >= HM_FETCH_RETRY_AFTER || r->config_mtime > t;
}

/* Whether a message left upstream (recorded with mark and value) is to be
 * looked at again on this pass: one skipped for a size (as far as the
 * state knows it) that the limit of the day lets through, one refused
 * whose retry is due. */
static gboolean
due_again(const FolderRun *r, int mark, guint64 value)
{
	if (mark == HM_FETCH_MARK_SKIPPED)
		return !hm_account_too_big(r->a->acct, value);
	return mark == HM_FETCH_MARK_RETRY && retry_due(r, value);
}

typedef struct {
	const FolderRun *r;
	guint32 lowest;       /* the lowest UID due again */
	GHashTable *present;  /* with it: the listed UIDs, and gone collects the rest */
	GPtrArray *gone;
} DueScan;

static void
scan_due(const char *uid, int mark, guint64 value, gpointer data)
{
	DueScan *d = data;
	guint64 n;

	if (!due_again(d->r, mark, value) || hm_parse_uint(uid, 1, G_MAXUINT32, &n) < 0)
		return;
	if (d->present == NULL)
		d->lowest = MIN(d->lowest, (guint32)n);
	else if (n >= d->r->relisted_from && !g_hash_table_contains(d->present, uid))
		g_ptr_array_add(d->gone, g_strdup(uid));
}

/* keep = true IMAP lists only above the watermark, below which every
 * message is known; messages left upstream there that are due again are
 * listed too, from the lowest one's UID. G_MAXUINT32 when none. */
static guint32
lowest_due(const FolderRun *r)
{
	DueScan d = { .r = r, .lowest = G_MAXUINT32 };

	hm_fetch_state_foreach(r->st, scan_due, &d);
	return d.lowest;
}

/* After a UIDVALIDITY change the old UIDs mean nothing; messages whose size
 * and Message-ID match one delivered before are recorded, not fetched. */
static int
resync(FolderRun *r, HmFetchSession *s, GPtrArray *items, GError **err)
{
	const HmFetchBackend *b = r->a->backend;

	if (b->identify == NULL || items->len == 0)
		return 0;
	if (b->identify(s, items, err) < 0)
		return -1;
	for (guint i = 0; i < items->len; i++) {
		HmFetchItem *item = g_ptr_array_index(items, i);

		if (item->untracked ||
		    !hm_fetch_state_has_fingerprint(r->st, item->size, item->message_id))
			continue;
		if (hm_fetch_state_record(r->st, item->uid, HM_FETCH_MARK_DELIVERED, item->size,
		                          item->message_id, err) < 0)
			return -1;
		r->stats->recognised++;
	}
	return 0;
}

/* Lists the folder; handles a first run and a UIDVALIDITY change. */
static int
list_folder(FolderRun *r, HmFetchSession *s, GPtrArray **items, GError **err)
{
	const HmFetchBackend *b = r->a->backend;
	guint32 old = hm_fetch_state_uidvalidity(r->st), uidvalidity = 0;
	guint32 first = r->a->acct->keep ? hm_fetch_state_watermark(r->st) + 1 : 1;
	guint32 due = first > 1 && r->a->acct->protocol == HM_PROTO_IMAP ? lowest_due(r)
	                                                                   : G_MAXUINT32;

	r->relisted_from = due < first ? due : 0;
	first = MIN(first, due);
	if (b->select(s, r->folder, first, &uidvalidity, items, err) < 0)
		return -1;
	if (uidvalidity == old)
		return 0;
	if (hm_fetch_state_new_uidvalidity(r->st, uidvalidity, err) < 0)
		return -1;
	if (old == 0)
		return 0;
	hm_warn("%s: %s: UIDVALIDITY changed from %u to %u: matching messages by size and "
	        "Message-ID", r->a->acct->name, r->folder, old, uidvalidity);
	if (first > 1) {
		g_ptr_array_unref(*items);
		*items = NULL;
		if (b->select(s, r->folder, 1, &uidvalidity, items, err) < 0)
			return -1;
	}
	return resync(r, s, *items, err);
}

int
hm_account_skip_big(FolderRun *r, const HmFetchItem *item, guint64 size, GError **err)
{
	g_autofree char *listed = size != item->size ? g_strdup_printf(
		" (listed as %" G_GUINT64_FORMAT ")", item->size) : g_strdup("");

	hm_warn("%s: %s: message %s is %" G_GUINT64_FORMAT " octets%s, over max_size: left on "
	        "the server", r->a->acct->name, r->folder, item->uid ? item->uid : "", size,
	        listed);
	r->stats->skipped++;
	if (item->uid == NULL)
		return 0;
	return hm_fetch_state_record(r->st, item->uid, HM_FETCH_MARK_SKIPPED, size, NULL, err);
}

/* Sorts the listing into what to fetch; queues known, delivered messages
 * still upstream for removal (a previous run died before removing them).
 * Messages left upstream are looked at again: one over max_size against
 * the limit of the day (so raising it lets the message through), one the
 * local side refused once its retry is due. */
static int
plan(FolderRun *r, GPtrArray *items, GPtrArray *fetch, GError **err)
{
	const HmAccountConf *acct = r->a->acct;

	for (guint i = 0; i < items->len; i++) {
		HmFetchItem *item = g_ptr_array_index(items, i);
		guint64 value = 0;
		int mark = item->uid != NULL ? hm_fetch_state_lookup_value(r->st, item->uid, &value)
		                             : 0;

		if (item->untracked)
			continue; /* the backend said why; counted at the end */
		if (mark == HM_FETCH_MARK_DELIVERED) {
			if (!acct->keep)
				g_ptr_array_add(r->to_remove, item);
			continue;
		}
		if (mark == HM_FETCH_MARK_PARTIAL)
			continue; /* the whole is upstream, and stays there */
		if (mark == HM_FETCH_MARK_SKIPPED && hm_account_too_big(acct, MAX(item->size, value))) {
			/* Logged once already. A state written before sizes
			 * were kept learns this one. */
			if (value == 0 && item->size > 0 &&
			    hm_fetch_state_record(r->st, item->uid, HM_FETCH_MARK_SKIPPED, item->size,
			                          NULL, err) < 0)
				return -1;
			continue;
		}
		if (mark == HM_FETCH_MARK_RETRY && !retry_due(r, value))
			continue;
		if (hm_account_too_big(acct, item->size)) {
			if (hm_account_skip_big(r, item, item->size, err) < 0)
				return -1;
			continue;
		}
		if (mark == HM_FETCH_MARK_SKIPPED)
			hm_info("%s: %s: message %s (%" G_GUINT64_FORMAT " octets) is within max_size "
			        "now: fetching it", acct->name, r->folder, item->uid, MAX(item->size, value));
		else if (mark == HM_FETCH_MARK_RETRY)
			hm_info("%s: %s: message %s was left undelivered before (refused, or empty): "
			        "trying again", acct->name, r->folder, item->uid);
		g_ptr_array_add(fetch, item);
	}
	return 0;
}

/* Whether the listing may stand for the whole folder (fetch.h). */
static gboolean
listed_all(const FolderRun *r, HmFetchSession *s)
{
	const HmFetchBackend *b = r->a->backend;

	return b->listed_all == NULL || b->listed_all(s);
}

/* Every listed UID at or below the new watermark is known, so the next
 * keep = true run lists only what is above it. An untracked message
 * (its UID shared) stops it too: it is listed, and warned of, again. */
static int
advance_watermark(FolderRun *r, GPtrArray *items, GError **err)
{
	guint32 mark = hm_fetch_state_watermark(r->st);

	for (guint i = 0; i < items->len; i++) {
		HmFetchItem *item = g_ptr_array_index(items, i);

		if (item->untracked || hm_fetch_state_lookup(r->st, item->uid) == 0)
			break;
		mark = MAX(mark, item->num);
	}
	if (mark == hm_fetch_state_watermark(r->st))
		return 0;
	return hm_fetch_state_set_watermark(r->st, mark, err);
}

/* After a keep = true listing from r->relisted_from (lowest_due()), the
 * messages due again that a whole listing no longer shows are gone:
 * forgotten, or the folder would be listed from there on every run. */
static void
forget_gone(FolderRun *r, HmFetchSession *s, GPtrArray *items)
{
	g_autoptr(GHashTable) present = NULL;
	g_autoptr(GPtrArray) gone = NULL;
	DueScan d = { .r = r };

	if (r->relisted_from == 0 || !listed_all(r, s))
		return;
	present = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < items->len; i++)
		g_hash_table_add(present, ((HmFetchItem *)items->pdata[i])->uid);
	gone = g_ptr_array_new_with_free_func(g_free);
	d.present = present;
	d.gone = gone;
	hm_fetch_state_foreach(r->st, scan_due, &d);
	for (guint i = 0; i < gone->len; i++)
		hm_fetch_state_forget(r->st, gone->pdata[i], NULL);
}

/* Drops state entries for messages no longer upstream. Only a full
 * listing (POP3 always, IMAP with keep = false) that is not short of the
 * server's count says what is gone. */
static int
compact(FolderRun *r, HmFetchSession *s, GPtrArray *items, guint recorded, GError **err)
{
	g_autoptr(GHashTable) present = NULL;
	gboolean full = (r->a->acct->protocol == HM_PROTO_POP3 || !r->a->acct->keep) &&
	                listed_all(r, s);

	if (!full) {
		forget_gone(r, s, items);
		return recorded > 0 ? hm_fetch_state_compact(r->st, NULL, err) : 0;
	}
	if (recorded == 0 && hm_fetch_state_count(r->st) <= items->len)
		return 0;
	present = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < items->len; i++) {
		HmFetchItem *item = g_ptr_array_index(items, i);

		if (item->uid != NULL)
			g_hash_table_add(present, item->uid);
	}
	return hm_fetch_state_compact(r->st, present, err);
}

static int
remove_delivered(FolderRun *r, HmFetchSession *s, GError **err)
{
	const HmFetchBackend *b = r->a->backend;

	if (r->to_remove->len == 0)
		return 0;
	if (b->remove(s, (HmFetchItem *const *)r->to_remove->pdata, r->to_remove->len, err) < 0)
		return -1;
	r->stats->removed += r->to_remove->len;
	/* IMAP expunges now; POP3 deletes at QUIT, and compaction drops the
	 * entries once the listing no longer shows them. */
	if (r->a->acct->protocol == HM_PROTO_IMAP)
		for (guint i = 0; i < r->to_remove->len; i++)
			hm_fetch_state_forget(r->st, ((HmFetchItem *)r->to_remove->pdata[i])->uid, NULL);
	return 0;
}

static int
check_uidl(FolderRun *r, GPtrArray *items, GError **err)
{
	const HmFetchItem *first = items->len > 0 ? items->pdata[0] : NULL;

	/* Without UIDL no message has a UID, and none is untracked. */
	if (first == NULL || first->uid != NULL || first->untracked)
		return 0;
	if (r->a->acct->keep) {
		g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_SERVER,
		            "server does not support UIDL, which keep = true needs to tell new "
		            "mail from old; nothing fetched");
		return -1;
	}
	hm_warn("%s: server does not support UIDL: fetching and deleting every message "
	        "(a crash mid-run may duplicate mail)", r->a->acct->name);
	return 0;
}

/* Removes what an earlier run delivered but could not remove, before any
 * new mail is retrieved: a message that breaks every retrieval (a cut
 * connection, a message over HM_FETCH_MAX_MESSAGE) must not keep it
 * upstream for ever. Removals that wait for the end of the session (POP3)
 * are committed at once; then the folder is listed and planned again. */
static int
remove_leftovers(FolderRun *r, HmFetchSession *s, GPtrArray **items, GPtrArray *fetch, GError **err)
{
	const HmFetchBackend *b = r->a->backend;

	if (r->to_remove->len == 0 || fetch->len == 0)
		return 0;
	hm_debug("%s: %s: removing %u messages fetched before, then fetching %u", r->a->acct->name,
	         r->folder, r->to_remove->len, fetch->len);
	if (remove_delivered(r, s, err) < 0 || (b->commit != NULL && b->commit(s, err) < 0))
		return -1;
	g_ptr_array_set_size(r->to_remove, 0);
	g_ptr_array_set_size(fetch, 0);
	g_clear_pointer(items, g_ptr_array_unref);
	if (list_folder(r, s, items, err) < 0)
		return -1;
	return plan(r, *items, fetch, err);
}

/* Fetches what the listing *items holds that is new; *items may be
 * replaced by a new listing (remove_leftovers()), or NULL after a failure. */
static int
fetch_listed(FolderRun *r, HmFetchSession *s, GPtrArray **items, GError **err)
{
	g_autoptr(GPtrArray) fetch = g_ptr_array_new();
	const HmFetchBackend *b = r->a->backend;
	int rc;

	if (check_uidl(r, *items, err) < 0 || plan(r, *items, fetch, err) < 0 ||
	    remove_leftovers(r, s, items, fetch, err) < 0)
		return -1;
	rc = fetch->len == 0 ? 0
	                     : b->retrieve(s, (HmFetchItem *const *)fetch->pdata, fetch->len,
	                                   hm_handover_message, r, err);
	/* What is staged or queued is complete, whatever stopped the
	 * retrieval. */
	if (hm_handover_commit_batch(r, rc < 0 ? NULL : err) < 0 && rc == 0)
		rc = -1;
	if (hm_handover_settle(r, G_MAXUINT, rc < 0 ? NULL : err) < 0 && rc == 0)
		rc = -1;
	/* What was delivered is removed even when a local failure stopped the
	 * run: it is durable locally and recorded, so deleting it is safe, and
	 * the backend drained the connection. After an upstream failure the
	 * session is unusable; the next run removes them. */
	if (rc < 0 && !g_error_matches(*err, HM_FETCH_ERROR, HM_FETCH_ERROR_LOCAL))
		return -1;
	if (remove_delivered(r, s, rc < 0 ? NULL : err) < 0 && rc == 0)
		rc = -1;
	return rc;
}

/* Messages recorded in the state (delivered, skipped, refused or
 * recognised) since stats said before. */
static guint
recorded_since(const HmFetchStats *stats, guint before)
{
	return stats->delivered + stats->skipped + stats->refused + stats->recognised - before;
}

/* When the configuration file last changed: a refusal older than that is
 * tried again (retry_due()). 0 when unknown. */
static gint64
config_mtime(const HmConfig *cfg)
{
	GStatBuf sb;

	if (cfg->file == NULL || g_stat(cfg->file, &sb) < 0)
		return 0;
	return (gint64)sb.st_mtime;
}

int
hm_account_fetch_folder(HmAccount *a, HmFetchSession *s, const char *folder,
                        HmFetchStats *stats, GError **err)
{
	FolderRun r = { .a = a, .folder = folder, .stats = stats };
	g_autoptr(GPtrArray) items = NULL;
	guint before = recorded_since(stats, 0);
	int rc = -1;

	r.st = hm_fetch_state_open(a->cfg->state_dir, a->acct->name, folder, err);
	if (r.st == NULL)
		return -1;
	r.tls = a->acct->ep.tls != HM_TLS_MODE_NONE;
	r.now = g_get_real_time() / G_USEC_PER_SEC;
	r.config_mtime = config_mtime(a->cfg);
	r.to_remove = g_ptr_array_new();
	r.committed = g_ptr_array_new();
	if (hm_fetch_batch_recover(r.st, err) == 0 && list_folder(&r, s, &items, err) == 0) {
		rc = fetch_listed(&r, s, &items, err);
		if (rc == 0 && a->acct->protocol == HM_PROTO_IMAP && a->acct->keep &&
		    listed_all(&r, s))
			rc = advance_watermark(&r, items, err);
		if (rc == 0)
			rc = compact(&r, s, items, recorded_since(stats, before), err);
		for (guint i = 0; items != NULL && i < items->len; i++)
			stats->skipped += ((HmFetchItem *)items->pdata[i])->untracked;
		stats->listed += items != NULL ? items->len : 0;
	}
	if (rc == 0 && r.report != NULL) {
		g_propagate_error(err, r.report);
		r.report = NULL;
		rc = -1;
	}
	g_clear_error(&r.report);
	hm_fetch_batch_free(r.batch);
	if (r.queued != NULL)
		g_array_unref(r.queued);
	g_ptr_array_unref(r.committed);
	g_ptr_array_unref(r.to_remove);
	hm_fetch_state_free(r.st);
	return rc;
}

/* Logs what a pass did; a pass that failed before doing anything logs
 * nothing here (its error says what happened), and after a failure
 * nothing is called "no new mail": the mail may well be there. */
static void
log_summary(const HmAccount *a, const HmFetchStats *st, gint64 started, gboolean failed)
{
	double secs = (double)(g_get_monotonic_time() - started) / G_USEC_PER_SEC;

	if (st->delivered + st->skipped + st->refused + st->removed + st->recognised == 0) {
		if (!failed)
			hm_debug("%s: no new mail (%u upstream)", a->acct->name, st->listed);
		return;
	}
	hm_info("%s: fetched=%u octets=%" G_GUINT64_FORMAT " skipped=%u refused=%u removed=%u "
	        "recognised=%u upstream=%u secs=%.2f",
	        a->acct->name, st->delivered, st->octets, st->skipped, st->refused, st->removed,
	        st->recognised, st->listed, secs);
}

/* For `homemail status`: a record it cannot write costs only that line,
 * never the fetch. */
static void
record_pass(const HmAccount *a, const HmFetchStats *st, const GError *failure)
{
	g_autoptr(GError) err = NULL;

	if (hm_fetch_last_save(a->cfg->state_dir, a->acct->name, g_get_real_time() / G_USEC_PER_SEC,
	                       st->delivered, failure != NULL ? failure->message : NULL, &err) < 0)
		hm_warn("%s: %s", a->acct->name, err->message);
}

int
hm_account_pass_folder(HmAccount *a, HmFetchSession *s, const char *folder,
                       HmFetchLockShare *lock, int lock_wait_ms, GError **err)
{
	HmFetchStats stats = { 0 };
	gint64 started = g_get_monotonic_time();
	int rc;

	if (hm_fetch_lock_shared(lock, a->cfg->state_dir, a->acct->name, lock_wait_ms, err) < 0)
		return -1;
	rc = hm_account_fetch_folder(a, s, folder, &stats, err);
	hm_injector_close(a->inj);
	a->inj = NULL;
	record_pass(a, &stats, rc < 0 && err != NULL ? *err : NULL);
	hm_fetch_unlock_shared(lock);
	log_summary(a, &stats, started, rc < 0);
	return rc;
}

int
hm_account_run(HmAccount *a, int lock_wait_ms, GError **err)
{
	HmFetchStats stats = { 0 };
	gint64 started = g_get_monotonic_time();
	HmFetchSession *s;
	GError *first = NULL;
	gboolean broken = FALSE;
	int lock = hm_fetch_lock(a->cfg->state_dir, a->acct->name, lock_wait_ms, err);

	if (lock < 0)
		return -1;
	s = hm_account_open(a, err);
	if (s == NULL) {
		record_pass(a, &stats, *err);
		hm_fetch_unlock(lock);
		return -1;
	}
	for (char **f = a->acct->folders; *f != NULL; f++) {
		GError *ferr = NULL;
		gboolean local;

		if (hm_account_fetch_folder(a, s, *f, &stats, &ferr) == 0)
			continue;
		if (a->acct->folders[1] != NULL)
			g_prefix_error(&ferr, "%s: ", *f);
		local = g_error_matches(ferr, HM_FETCH_ERROR, HM_FETCH_ERROR_LOCAL);

		broken = !local && !g_error_matches(ferr, HM_FETCH_ERROR, HM_FETCH_ERROR_SERVER);
		if (first == NULL) {
			first = ferr;
		} else {
			hm_err("%s: %s", a->acct->name, ferr->message);
			g_error_free(ferr);
		}
		/* A broken or confused connection ends the pass, and so does a
		 * local failure (the relay is down: stop, try later); a folder
		 * the server refuses does not stop the others. */
		if (broken || local)
			break;
	}
	if (broken)
		a->backend->abort(s);
	else if (a->backend->close(s, first == NULL ? &first : NULL) < 0 && first != NULL)
		hm_debug("%s: close after an error failed too", a->acct->name);
	/* The injector's connection is kept only within one pass. */
	hm_injector_close(a->inj);
	a->inj = NULL;
	record_pass(a, &stats, first);
	hm_fetch_unlock(lock);
	log_summary(a, &stats, started, first != NULL);
	if (first != NULL) {
		g_propagate_error(err, first);
		return -1;
	}
	return 0;
}
