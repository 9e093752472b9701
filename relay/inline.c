#include <config.h>

#include <unistd.h>

#include "deliver/deliver.h"
#include "lib/log.h"
#include "lib/maildir.h"
#include "relay/envelope.h"
#include "relay/inline.h"
#include "relay/policy.h"

struct RelayInline {
	GArray *staged;  /* of HmDeliverStaged; published ones are cleared */
};

/* The Maildir user rcpt reaches, or NULL when it is not delivered here
 * as a plain local one. */
static char *
maildir_user(const HmConfig *cfg, const RelayRewriter *rw, const RelayQueueRcpt *q)
{
	g_autofree char *user = NULL;
	g_autofree char *forward = NULL;
	const HmUserConf *u;

	if ((q->notify & RELAY_NOTIFY_SUCCESS) || !relay_policy_is_local(cfg, rw, q->addr))
		return NULL;
	if (hm_recipient_expand(cfg, q->addr, &user, &forward, NULL) < 0 || user == NULL)
		return NULL;
	u = hm_config_find_user(cfg, user);
	if (u == NULL || u->mail_format == HM_MAIL_FORMAT_MBOX)
		return NULL;
	return g_steal_pointer(&user);
}

RelayInline *
relay_inline_stage(const HmConfig *cfg, const RelayRewriter *rw, const RelayQueueEntry *e,
                   const char *msg, gsize len)
{
	RelayInline *in = g_new0(RelayInline, 1);

	in->staged = g_array_new(FALSE, TRUE, sizeof(HmDeliverStaged));
	for (guint i = 0; i < e->rcpts->len; i++) {
		const RelayQueueRcpt *q = relay_queue_rcpt(e, i);
		g_autofree char *user = maildir_user(cfg, rw, q);
		g_autoptr(GError) err = NULL;
		HmDeliverStaged st;

		if (user == NULL ||
		    hm_deliver_message_staged(cfg, user, q->addr, e->sender, NULL, 0, msg, len, &st,
		                              &err) < 0) {
			if (err != NULL)
				hm_debug("relay %s to=<%s>: queued: %s", e->id, q->addr, err->message);
			relay_inline_free(in);
			return NULL;
		}
		g_array_append_val(in->staged, st);
	}
	return in;
}

int
relay_inline_publish(RelayInline *in, GHashTable *dirs, GError **err)
{
	for (guint k = 0; k < in->staged->len; k++) {
		HmDeliverStaged *st = &g_array_index(in->staged, HmDeliverStaged, k);

		if (hm_maildir_publish(st->tmp_path, st->new_path, err) < 0)
			return -1;
		g_hash_table_add(dirs, g_path_get_dirname(st->new_path));
		hm_deliver_staged_clear(st);
	}
	return 0;
}

void
relay_inline_free(RelayInline *in)
{
	if (in == NULL)
		return;
	for (guint k = 0; k < in->staged->len; k++) {
		HmDeliverStaged *st = &g_array_index(in->staged, HmDeliverStaged, k);

		if (st->tmp_path != NULL)
			unlink(st->tmp_path);
		hm_deliver_staged_clear(st);
	}
	g_array_unref(in->staged);
	g_free(in);
}
