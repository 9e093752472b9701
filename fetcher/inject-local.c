/* The local injector (fetcher.deliver = "local"): in-process delivery
 * through deliver/, as homemail-deliver does it, with no relay between.
 * It can also stage deliveries for a group commit: the fetcher writes a
 * batch of messages, makes them durable with one syncfs(2) and then
 * publishes them (DESIGN.md: ~4,500 messages/s instead of ~1,300 with an
 * fsync per message). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "deliver/deliver.h"
#include "fetcher/inject-private.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/maildir.h"

typedef struct {
	GHashTable *dirty;     /* tmp/ directories written to since the last sync */
	GHashTable *swept;     /* tmp/ directories already cleaned this run */
} Local;

static int
local_open(HmInjector *inj, GError **err)
{
	Local *l = g_new0(Local, 1);

	l->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	l->swept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	inj->priv = l;
	return 0;
}

static HmInjectResult
mapped(GError **err, GError *e)
{
	gboolean temp = g_error_matches(e, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP);

	g_propagate_error(err, e);
	return temp ? HM_INJECT_TEMP : HM_INJECT_PERM;
}

/* Removes abandoned files from the tmp/ directory dir, once per run: a
 * message staged before a crash is one (never delivered, so fetched
 * again). */
static void
sweep_tmp(Local *l, const char *dir)
{
	g_autofree char *maildir = NULL;

	if (!g_hash_table_add(l->swept, g_strdup(dir)))
		return;
	maildir = g_path_get_dirname(dir);
	hm_maildir_sweep_tmp(maildir);
}

static HmInjectResult
deliver(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
        gsize head_len, const char *msg, gsize len, HmDeliverStaged *staged, GError **err)
{
	GError *e = NULL;
	g_autofree char *user = hm_recipient_resolve(inj->cfg, rcpt, &e);
	/* A bare user name has no address of its own: Delivered-To then
	 * names the user's canonical one. */
	const char *addr = strchr(rcpt, '@') != NULL ? rcpt : NULL;
	int rc;

	if (user == NULL)
		return mapped(err, e);
	if (staged != NULL)
		rc = hm_deliver_message_staged(inj->cfg, user, addr, sender, head, head_len, msg,
		                               len, staged, &e);
	else
		rc = hm_deliver_message(inj->cfg, user, addr, sender, head, head_len, msg, len,
		                        NULL, &e);
	if (rc < 0)
		return mapped(err, e);
	if (staged != NULL && staged->tmp_path != NULL) {
		Local *l = inj->priv;
		char *dir = g_path_get_dirname(staged->tmp_path);

		sweep_tmp(l, dir);
		g_hash_table_add(l->dirty, dir);
	}
	return HM_INJECT_OK;
}

static HmInjectResult
local_send(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
           gsize head_len, const char *msg, gsize len, GError **err)
{
	return deliver(inj, sender, rcpt, head, head_len, msg, len, NULL, err);
}

static HmInjectResult
local_stage(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
            gsize head_len, const char *msg, gsize len, HmDeliverStaged *staged, GError **err)
{
	return deliver(inj, sender, rcpt, head, head_len, msg, len, staged, err);
}

static int
local_sync(HmInjector *inj, GError **err)
{
	Local *l = inj->priv;
	GHashTableIter it;
	gpointer dir;

	g_hash_table_iter_init(&it, l->dirty);
	while (g_hash_table_iter_next(&it, &dir, NULL)) {
		/* One journal commit per file system makes the whole batch
		 * durable at the cost of about one fsync. */
		if (hm_syncfs(dir, err) < 0)
			return -1;
		g_hash_table_iter_remove(&it);
	}
	return 0;
}

static void
local_close(HmInjector *inj)
{
	Local *l = inj->priv;

	if (l != NULL) {
		g_hash_table_unref(l->dirty);
		g_hash_table_unref(l->swept);
	}
	g_free(l);
	inj->priv = NULL;
}

const HmInjectorOps hm_injector_local = {
	.name = "local",
	.open = local_open,
	.send = local_send,
	.stage = local_stage,
	.sync = local_sync,
	.close = local_close,
};
