#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "lib/log.h"
#include "relay/bounce.h"
#include "relay/policy.h"

/* The length of the RFC 3463 status at the start of s ("5.1.1": class 2,
 * 4 or 5, then two groups of 1 to 3 digits) when a space or the end
 * follows it, else 0. */
static gsize
status_len(const char *s)
{
	gsize n = 2;

	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (int group = 0; group < 2; group++) {
		gsize digits = 0;

		while (g_ascii_isdigit(s[n]) && digits <= 3) {
			n++;
			digits++;
		}
		if (digits < 1 || digits > 3 || (group == 0 && s[n++] != '.'))
			return 0;
	}
	return s[n] == ' ' || s[n] == '\0' ? n : 0;
}

char *
relay_bounce_status(const char *reply, const char *fallback)
{
	const char *p = reply;
	gsize n;

	if (reply == NULL)
		return g_strdup(fallback);
	/* Our own words, "5.1.1 text" (local delivery, our refusals). */
	if ((n = status_len(p)) > 0)
		return g_strndup(p, n);
	if (!g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]) ||
	    (p[3] != ' ' && p[3] != '-' && p[3] != '\0'))
		return g_strdup(fallback);
	/* "550 5.1.1 text": the enhanced code must agree with the class. */
	if (p[3] != '\0' && p[4] == p[0] && (n = status_len(p + 4)) > 0)
		return g_strndup(p + 4, n);
	return g_strdup_printf("%c.0.0", p[0]);
}

/* The diagnostic of a reply: a remote's words are "smtp; ..." (RFC 3464
 * 2.3.6), ours get relay/dsn.c's own type, without the status they begin
 * with, which is the notice's Status: field. */
static char *
diagnostic(const char *reply)
{
	gsize n;

	if (reply == NULL)
		return NULL;
	if (g_ascii_isdigit(reply[0]) && g_ascii_isdigit(reply[1]) && g_ascii_isdigit(reply[2]))
		return g_strconcat("smtp; ", reply, NULL);
	if ((n = status_len(reply)) > 0 && reply[n] == ' ')
		return g_strdup(reply + n + 1);
	return g_strdup(reply);
}

/* Whom the notice goes to: the sender, or for null-sender mail
 * postmaster, unless the mail was already a notice to postmaster. */
static char *
notice_to(const RelayBounceCtx *ctx, const RelayQueueEntry *e, RelayDsnAction action)
{
	if (e->sender[0] != '\0')
		return g_strdup(e->sender);
	if (action != RELAY_DSN_FAILED)
		return NULL;
	for (guint i = 0; i < e->rcpts->len; i++)
		if (g_ascii_strncasecmp(relay_queue_rcpt(e, i)->addr, "postmaster@", 11) == 0) {
			hm_warn("relay %s: notice to postmaster failed; dropped", e->id);
			return NULL;
		}
	return g_strconcat("postmaster@", ctx->cfg->hostname, NULL);
}

/* The most octets a notice to to may have: relay.max_message_size (what
 * this relay takes) and, for a remote address, the SIZE announced by the
 * smart host a notice (the null sender) leaves through, when known; 0: no
 * limit. */
static guint64
notice_limit(const RelayBounceCtx *ctx, const char *to)
{
	guint64 limit = ctx->cfg->relay.max_message_size;

	if (ctx->rw != NULL && relay_policy_is_local(ctx->cfg, ctx->rw, to))
		return limit;
	for (guint k = 0; k < ctx->n_sh; k++) {
		guint64 size = relay_smarthosts_size_max(ctx->sh[k], "");

		if (size > 0 && (limit == 0 || size < limit))
			limit = size;
	}
	return limit;
}

/* Writes the notice into the queue and makes it durable. */
static int
enqueue(const RelayBounceCtx *ctx, const char *to, const RelayQueueEntry *orig, GString *dsn,
        char **queued_id, GError **err)
{
	g_autoptr(RelayQueueEntry) n = relay_queue_entry_new();
	RelayQueueFile *qf;

	n->sender = g_strdup("");
	n->origin = RELAY_ORIGIN_DSN;
	n->client = g_strdup(orig->id);  /* what the notice is about, for `homemail queue` */
	n->body = RELAY_BODY_8BITMIME;
	n->smtputf8 = orig->smtputf8;
	relay_queue_entry_add_rcpt(n, to, RELAY_NOTIFY_NEVER, NULL);
	n->size = dsn->len;
	if ((qf = relay_queue_file_new(ctx->queue_dir, n, err)) == NULL)
		return -1;
	if (relay_queue_file_write(qf, dsn->str, dsn->len, err) < 0) {
		relay_queue_file_abort(qf);
		return -1;
	}
	if (relay_queue_file_commit(qf, err) < 0)
		return -1;
	if (hm_group_commit_sync(ctx->gc, err) < 0) {
		relay_queue_remove(ctx->queue_dir, n->id, NULL);
		return -1;
	}
	if (queued_id != NULL)
		*queued_id = g_strdup(n->id);
	return 0;
}

int
relay_bounce_queue(const RelayBounceCtx *ctx, const RelayQueueEntry *e, GBytes *msg,
                   RelayDsnAction action, const guint *idx, guint n,
                   const char *const *remote_mta, gint64 now, char **queued_id, GError **err)
{
	g_autofree char *to = notice_to(ctx, e, action);
	g_autofree char *postmaster = g_strconcat("postmaster@", ctx->cfg->hostname, NULL);
	g_autofree char *seed = g_strdup_printf("%s.%d.%" G_GINT64_FORMAT, e->id, (int)action, now);
	g_autofree RelayDsnRcpt *rcpts = g_new0(RelayDsnRcpt, n);
	g_autofree guint *notify = g_new0(guint, n);
	g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) out = g_string_new(NULL);
	const char *fallback = action == RELAY_DSN_FAILED    ? "5.0.0"
	                       : action == RELAY_DSN_DELAYED ? "4.0.0"
	                                                     : "2.0.0";
	RelayDsnParams p = {
		.reporting_mta = ctx->cfg->hostname,
		.envid = e->envid,
		.sender = to,
		.postmaster = postmaster,
		.arrival = (time_t)e->arrival,
		.now = (time_t)now,
		.boundary_seed = seed,
		.ret = e->ret,
		.original = g_bytes_get_data(msg, NULL),
		.original_len = g_bytes_get_size(msg),
		.smtputf8 = e->smtputf8,
	};

	if (queued_id != NULL)
		*queued_id = NULL;
	if (to == NULL)
		return 0;
	p.max_size = notice_limit(ctx, to);
	for (guint i = 0; i < n; i++) {
		const RelayQueueRcpt *r = relay_queue_rcpt(e, idx[i]);
		char *status = relay_bounce_status(r->reply, fallback);

		/* A temporary failure that outlived give_up_after is a
		 * permanent one now: same detail, class 5. */
		if (action == RELAY_DSN_FAILED && status[0] == '4')
			status[0] = '5';
		char *diag = diagnostic(r->reply);

		g_ptr_array_add(owned, status);
		g_ptr_array_add(owned, diag);
		rcpts[i] = (RelayDsnRcpt){
			.address = r->addr,
			.orcpt = r->orcpt,
			.action = action,
			.status = status,
			.remote_mta = remote_mta != NULL ? remote_mta[i] : NULL,
			.diagnostic = diag,
			.last_attempt = (time_t)r->last_try,
			.will_retry_until = action == RELAY_DSN_DELAYED
			                            ? (time_t)(e->arrival + ctx->cfg->relay.retry.give_up_after)
			                            : 0,
		};
		/* A notice to postmaster about null-sender mail is always due. */
		notify[i] = e->sender[0] == '\0' ? 0 : r->notify;
	}
	if (relay_dsn_build(&p, rcpts, n, notify, out) == 0)
		return 0;
	return enqueue(ctx, to, e, out, queued_id, err);
}
