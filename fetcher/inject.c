#include <config.h>

#include <string.h>

#include "fetcher/inject-private.h"

/* Indexed by HmDeliverKind. */
static const HmInjectorOps *const injectors[] = {
	[HM_DELIVER_SMTP] = &hm_injector_smtp,
	[HM_DELIVER_LMTP] = &hm_injector_lmtp,
	[HM_DELIVER_LOCAL] = &hm_injector_local,
};

static char *
describe(const HmFetcherConf *f, const char *name)
{
	if (f->deliver_kind == HM_DELIVER_LOCAL)
		return g_strdup(name);
	if (f->deliver_socket != NULL)
		return g_strdup_printf("%s:%s", name, f->deliver_socket);
	if (strchr(f->deliver_host, ':') != NULL)
		return g_strdup_printf("%s:[%s]:%u", name, f->deliver_host, f->deliver_port);
	return g_strdup_printf("%s:%s:%u", name, f->deliver_host, f->deliver_port);
}

HmInjector *
hm_injector_open(const HmConfig *cfg, GError **err)
{
	HmInjector *inj;
	guint kind = cfg->fetcher.deliver_kind;

	g_return_val_if_fail(kind < G_N_ELEMENTS(injectors), NULL);
	inj = g_new0(HmInjector, 1);
	inj->ops = injectors[kind];
	inj->cfg = cfg;
	inj->describe = describe(&cfg->fetcher, inj->ops->name);
	if (inj->ops->open(inj, err) < 0) {
		g_prefix_error(err, "relay %s: ", inj->describe);
		g_free(inj->describe);
		g_free(inj);
		return NULL;
	}
	return inj;
}

HmInjectResult
hm_injector_send(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
                 gsize head_len, const char *msg, gsize len, GError **err)
{
	return inj->ops->send(inj, sender, rcpt, head, head_len, msg, len, err);
}

gboolean
hm_injector_can_stage(const HmInjector *inj)
{
	return inj->ops->stage != NULL;
}

HmInjectResult
hm_injector_stage(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
                  gsize head_len, const char *msg, gsize len, HmDeliverStaged *staged,
                  GError **err)
{
	g_return_val_if_fail(inj->ops->stage != NULL, HM_INJECT_TEMP);
	return inj->ops->stage(inj, sender, rcpt, head, head_len, msg, len, staged, err);
}

int
hm_injector_sync(HmInjector *inj, GError **err)
{
	return inj->ops->sync != NULL ? inj->ops->sync(inj, err) : 0;
}

gboolean
hm_injector_can_queue(HmInjector *inj)
{
	return inj->ops->can_queue != NULL && inj->ops->can_queue(inj);
}

HmInjectResult
hm_injector_queue(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
                  gsize head_len, const char *msg, gsize len, GError **err)
{
	g_return_val_if_fail(inj->ops->queue != NULL, HM_INJECT_TEMP);
	return inj->ops->queue(inj, sender, rcpt, head, head_len, msg, len, err);
}

void
hm_injector_collect(HmInjector *inj, HmInjectResult *results, GError **errors, guint n)
{
	g_return_if_fail(inj->ops->collect != NULL || n == 0);
	if (n > 0)
		inj->ops->collect(inj, results, errors, n);
}

void
hm_injector_close(HmInjector *inj)
{
	if (inj == NULL)
		return;
	inj->ops->close(inj);
	g_free(inj->describe);
	g_free(inj);
}

const char *
hm_injector_describe(const HmInjector *inj)
{
	return inj->describe;
}
