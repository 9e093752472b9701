/* Handing each fetched message to the local side and recording it: the
 * injector's three ways (one by one, staged for a group commit, sent back
 * to back with BDAT) and what a refusal or a temporary failure means for
 * the message and the run. */
#include <config.h>

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "fetcher/account-private.h"
#include "lib/header.h"
#include "lib/log.h"
#include "lib/received.h"

/* The envelope sender: the message's own Return-Path (what the upstream
 * MTA recorded), else the account's address, as fetchmail does. */
static char *
envelope_sender(const HmAccountConf *acct, const char *msg, gsize len, char **message_id)
{
	HmHeaderIter it;
	HmHeaderField f;
	char *sender = NULL;

	*message_id = NULL;
	hm_header_iter_init(&it, msg, hm_header_section_end(msg, len));
	while (hm_header_next(&it, &f) == 1 && (sender == NULL || *message_id == NULL)) {
		if (sender == NULL && hm_header_is(&f, "Return-Path")) {
			g_autofree char *v = hm_header_value(&f);
			char *addr = hm_header_addr_spec(v);
			gboolean ok = strlen(addr) <= 254;

			for (const char *p = addr; ok && *p != '\0'; p++)
				ok = (guchar)*p > ' ' && *p != 0x7f && *p != '<' && *p != '>';
			if (ok)
				sender = addr;
			else
				g_free(addr);
		} else if (*message_id == NULL && hm_header_is(&f, "Message-ID")) {
			*message_id = hm_header_value(&f);
		}
	}
	if (sender != NULL)
		return sender;
	if (strchr(acct->ep.user, '@') != NULL)
		return g_strdup(acct->ep.user);
	return g_strdup_printf("%s@%s", acct->ep.user, acct->ep.host);
}

static void
append_received(GString *out, const FolderRun *r, const char *rcpt)
{
	const HmAccount *a = r->a;
	g_autofree char *comment = g_strdup_printf("homemail-fetcher, account %s", a->acct->name);
	const char *with = a->acct->protocol == HM_PROTO_IMAP ? (r->tls ? "IMAPS" : "IMAP")
	                                                      : (r->tls ? "POP3S" : "POP3");
	HmReceived rcv = {
		.from = a->acct->ep.host, .by = a->cfg->hostname, .comment = comment, .with = with,
		.for_addr = rcpt,
	};

	hm_received_append(out, &rcv, time(NULL));
}

/* Stops the run over a temporary failure of the local side (why). -1. */
static int
local_temp(GError **err, const GError *why)
{
	g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_LOCAL,
	            "local delivery failed temporarily, stopping (undelivered mail stays upstream): %s",
	            why->message);
	return -1;
}

/* What goes to the local side with a message: its envelope sender (the
 * returned string), its Message-ID in *message_id, and our Received:
 * field appended to head. The recipient is the account's rcpt_of(). */
static char *
prepare(FolderRun *r, const char *data, gsize len, char **message_id, GString *head)
{
	append_received(head, r, r->a->rcpt);
	return envelope_sender(r->a->acct, data, len, message_id);
}

/* A bare user name goes to local delivery as it is (Delivered-To then
 * names the user's canonical address). */
static const char *
rcpt_of(const HmAccount *a)
{
	return strchr(a->acct->to, '@') != NULL ? a->rcpt : a->acct->to;
}

/* A message sent to the local side back to back with others, waiting for
 * the group's replies. */
typedef struct {
	const HmFetchItem *item;
	char *message_id;
	gsize len;
} Queued;

static void
queued_clear(gpointer p)
{
	g_free(((Queued *)p)->message_id);
}

static void note_report(FolderRun *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Notes the first message a person has to see to, for the folder's
 * result (the message itself was logged as it happened). */
static void
note_report(FolderRun *r, const char *fmt, ...)
{
	va_list ap;

	if (r->report != NULL)
		return;
	va_start(ap, fmt);
	r->report = g_error_new_valist(HM_FETCH_ERROR, HM_FETCH_ERROR_LOCAL, fmt, ap);
	va_end(ap);
}

/* Records a message the local side refused for good: it stays upstream,
 * is tried again after HM_FETCH_RETRY_AFTER or a change of the
 * configuration, and the run reports it at the end. */
static int
refused(FolderRun *r, const HmFetchItem *item, const GError *why, GError **err)
{
	hm_err("%s: %s: message %s refused by the local side, left on the server (tried again "
	       "in a day, or once the configuration changes): %s",
	       r->a->acct->name, r->folder, item->uid ? item->uid : "", why->message);
	note_report(r, "message %s refused by the local side: %s", item->uid ? item->uid : "",
	       why->message);
	r->stats->refused++;
	if (item->uid == NULL)
		return 0;
	return hm_fetch_state_record_retry(r->st, item->uid, g_get_real_time() / G_USEC_PER_SEC,
	                                   err);
}

/* Settles the first max (at most) of the messages sent back to back: each
 * one the local side holds is recorded (one state sync for the group) and
 * queued for removal like any delivered message; a refused one is
 * recorded as skipped; a temporary failure stops the run after the
 * others are recorded. */
int
hm_handover_settle(FolderRun *r, guint max, GError **err)
{
	guint n = r->queued != NULL ? MIN(r->queued->len, max) : 0;
	g_autofree HmInjectResult *res = g_new0(HmInjectResult, MAX(n, 1));
	g_autofree GError **errs = g_new0(GError *, MAX(n, 1));
	GError *temp = NULL;
	int rc = 0;

	if (n == 0)
		return 0;
	hm_injector_collect(r->a->inj, res, errs, n);
	for (guint i = 0; i < n; i++) {
		Queued *q = &g_array_index(r->queued, Queued, i);

		if (res[i] == HM_INJECT_OK && rc == 0) {
			rc = hm_fetch_state_record_unsynced(r->st, q->item->uid, q->item->size,
			                                    q->message_id, err);
			r->stats->delivered++;
			r->stats->octets += q->len;
			g_ptr_array_add(r->a->acct->keep ? r->committed : r->to_remove,
			                (gpointer)q->item);
		} else if (res[i] == HM_INJECT_PERM && rc == 0) {
			rc = refused(r, q->item, errs[i], err);
		} else if (res[i] == HM_INJECT_TEMP && temp == NULL) {
			temp = g_error_copy(errs[i]);
		}
		g_clear_error(&errs[i]);
	}
	g_array_remove_range(r->queued, 0, n);
	if (rc == 0)
		rc = hm_fetch_state_sync(r->st, err);
	if (rc == 0 && temp != NULL)
		rc = local_temp(err, temp);
	g_clear_error(&temp);
	return rc;
}

/* Sends the message back to back with others when the injector can
 * (pipelined BDAT to the relay); settled in groups of HM_FETCH_GROUP,
 * each one only once the group after it has been sent: the relay makes a
 * group durable while the next one is on its way, and its flush does not
 * stall the retrieval (a crash may then duplicate two groups, never lose
 * one). */
static int
queue_message(FolderRun *r, const HmFetchItem *item, const char *data, gsize len, GError **err)
{
	Queued q = { .item = item, .len = len };
	g_autoptr(GString) head = g_string_sized_new(256);
	g_autofree char *sender = prepare(r, data, len, &q.message_id, head);
	g_autoptr(GError) ierr = NULL;
	HmInjectResult res;

	res = hm_injector_queue(r->a->inj, sender, rcpt_of(r->a), head->str, head->len, data, len,
	                        &ierr);
	if (res == HM_INJECT_OK) {
		if (r->queued == NULL) {
			r->queued = g_array_new(FALSE, TRUE, sizeof(Queued));
			g_array_set_clear_func(r->queued, queued_clear);
		}
		g_array_append_val(r->queued, q);
		return r->queued->len >= 2 * HM_FETCH_GROUP ? hm_handover_settle(r, HM_FETCH_GROUP, err)
		                                            : 0;
	}
	g_free(q.message_id);
	/* What went before is settled first: it may be held already. */
	if (hm_handover_settle(r, G_MAXUINT, err) < 0)
		return -1;
	if (res == HM_INJECT_PERM)
		return refused(r, item, ierr, err);
	return local_temp(err, ierr);
}

/* Hands the message over through the open injector; with staged set
 * (group commit) it is only staged when the injector can, and
 * staged->tmp_path says whether it was. */
static HmInjectResult
inject(FolderRun *r, const char *data, gsize len, char **message_id, HmDeliverStaged *staged,
       GError **err)
{
	HmAccount *a = r->a;
	g_autoptr(GString) head = g_string_sized_new(256);
	g_autofree char *sender = prepare(r, data, len, message_id, head);
	const char *to = rcpt_of(a);

	if (staged != NULL && hm_injector_can_stage(a->inj)) {
		if (r->batch == NULL)
			r->batch = hm_fetch_batch_new(r->st, a->inj);
		return hm_injector_stage(a->inj, sender, to, head->str, head->len, data, len, staged,
		                         err);
	}
	return hm_injector_send(a->inj, sender, to, head->str, head->len, data, len, err);
}

/* Commits the group: durable, published, recorded; then queued for
 * removal like any delivered message. */
int
hm_handover_commit_batch(FolderRun *r, GError **err)
{
	if (r->batch == NULL || hm_fetch_batch_len(r->batch) == 0)
		return 0;
	if (hm_fetch_batch_commit(r->batch, r->a->acct->keep ? r->committed : r->to_remove,
	                          err) == 0)
		return 0;
	g_prefix_error(err, "local delivery failed temporarily, stopping (undelivered mail stays upstream): ");
	hm_fetch_error_recode(err, HM_FETCH_ERROR_LOCAL);
	return -1;
}

/* Sets aside room in the state for the record of this message and of
 * those handed over and not yet recorded (queued, staged), before the
 * hand-over: a message the local side holds but the state cannot name
 * would be fetched and delivered again on every run while the disk stays
 * full. Without room the run stops with the message still upstream. */
static int
reserve_record(FolderRun *r, GError **err)
{
	guint pending = 1 + (r->queued != NULL ? r->queued->len : 0) +
	                (r->batch != NULL ? hm_fetch_batch_len(r->batch) : 0);

	if (hm_fetch_state_reserve(r->st, pending, err) == 0)
		return 0;
	g_prefix_error(err, "no room for the fetch state, stopping before handing the message "
	               "over (it stays upstream): ");
	hm_fetch_error_recode(err, HM_FETCH_ERROR_LOCAL);
	return -1;
}

/* A message that arrived empty holds nothing to deliver: it stays
 * upstream, and is tried again as a refused one is (the server may serve
 * it whole another time). */
static int
left_empty(FolderRun *r, const HmFetchItem *item, GError **err)
{
	hm_warn("%s: %s: message %s arrived empty (listed as %" G_GUINT64_FORMAT " octets): not "
	        "delivered, left on the server", r->a->acct->name, r->folder,
	        item->uid ? item->uid : "", item->size);
	note_report(r, "message %s arrived empty (listed as %" G_GUINT64_FORMAT " octets): left "
	            "on the server", item->uid ? item->uid : "", item->size);
	r->stats->skipped++;
	if (item->uid == NULL)
		return 0;
	return hm_fetch_state_record_retry(r->st, item->uid, g_get_real_time() / G_USEC_PER_SEC,
	                                   err);
}

/* Whether a message of len octets, listed as listed, was cut off on the
 * way (HM_FETCH_SHORT_SLACK). */
static gboolean
cut_short(guint64 listed, gsize len)
{
	return len < listed / 2 && listed - len > HM_FETCH_SHORT_SLACK;
}

static void
note_short(FolderRun *r, const HmFetchItem *item, gsize len)
{
	note_report(r, "message %s arrived incomplete (%" G_GSIZE_FORMAT " of the %" G_GUINT64_FORMAT
	            " octets listed): left on the server", item->uid ? item->uid : "", len,
	            item->size);
}

/* A message cut off on the way: what arrived is delivered, so nothing
 * that arrived is lost, but the original stays upstream for good, where
 * the rest of it is. It goes alone, after what went before is settled,
 * and is recorded as partial: neither fetched nor removed again. Without
 * a UID it could not be recorded, and a copy would be delivered on every
 * run: it is only left upstream. */
static int
hand_over_short(FolderRun *r, const HmFetchItem *item, const char *data, gsize len,
                GError **err)
{
	const char *acct = r->a->acct->name, *uid = item->uid ? item->uid : "";
	g_autoptr(GError) ierr = NULL;
	g_autofree char *message_id = NULL;
	HmInjectResult res;

	if (item->uid == NULL) {
		note_short(r, item, len);
		hm_warn("%s: %s: message %s arrived with %" G_GSIZE_FORMAT " of the %" G_GUINT64_FORMAT
		        " octets listed: not delivered (without UIDL a copy would be delivered on "
		        "every run), left on the server", acct, r->folder, uid, len, item->size);
		r->stats->skipped++;
		return 0;
	}
	if (hm_handover_commit_batch(r, err) < 0 || hm_handover_settle(r, G_MAXUINT, err) < 0)
		return -1;
	res = inject(r, data, len, &message_id, NULL, &ierr);
	if (res == HM_INJECT_TEMP)
		return local_temp(err, ierr);
	if (res == HM_INJECT_PERM)
		return refused(r, item, ierr, err);
	hm_warn("%s: %s: message %s arrived with %" G_GSIZE_FORMAT " of the %" G_GUINT64_FORMAT
	        " octets listed: delivered as it arrived, the original left on the server", acct,
	        r->folder, uid, len, item->size);
	note_short(r, item, len);
	r->stats->delivered++;
	r->stats->octets += len;
	if (hm_fetch_state_record(r->st, item->uid, HM_FETCH_MARK_PARTIAL, item->size, NULL,
	                          err) < 0) {
		g_prefix_error(err, "state: ");
		return -1;
	}
	return 0;
}

/* Called by the backend for each message: inject, then record, so the
 * state never names a message the local side does not hold. */
int
hm_handover_message(const HmFetchItem *item, const char *data, gsize len, gpointer user_data,
                    GError **err)
{
	FolderRun *r = user_data;
	g_autoptr(GError) ierr = NULL;
	g_autofree char *message_id = NULL;
	HmDeliverStaged staged = { NULL, NULL };
	HmInjectResult res;

	/* The listed size may have understated it. */
	if (data == NULL || hm_account_too_big(r->a->acct, len))
		return hm_account_skip_big(r, item, len, err);
	if (len == 0)
		return left_empty(r, item, err);
	if (item->uid != NULL && reserve_record(r, err) < 0)
		return -1;
	if (r->a->inj == NULL && (r->a->inj = hm_injector_open(r->a->cfg, &ierr)) == NULL)
		return local_temp(err, ierr);
	if (cut_short(item->size, len))
		return hand_over_short(r, item, data, len, err);
	if (item->uid != NULL && hm_injector_can_queue(r->a->inj))
		return queue_message(r, item, data, len, err);
	res = inject(r, data, len, &message_id, item->uid != NULL ? &staged : NULL, &ierr);

	if (res == HM_INJECT_TEMP)
		return local_temp(err, ierr);
	if (res == HM_INJECT_PERM)
		return refused(r, item, ierr, err);
	r->stats->delivered++;
	r->stats->octets += len;
	if (staged.tmp_path != NULL) {
		hm_fetch_batch_add(r->batch, item, message_id, &staged);
		hm_deliver_staged_clear(&staged);
		return hm_fetch_batch_len(r->batch) >= HM_FETCH_GROUP ? hm_handover_commit_batch(r, err)
		                                                      : 0;
	}
	hm_deliver_staged_clear(&staged);
	if (item->uid != NULL &&
	    hm_fetch_state_record(r->st, item->uid, HM_FETCH_MARK_DELIVERED, item->size,
	                          message_id, err) < 0) {
		g_prefix_error(err, "state: ");
		return -1;
	}
	if (!r->a->acct->keep)
		g_ptr_array_add(r->to_remove, (gpointer)item);
	return 0;
}
