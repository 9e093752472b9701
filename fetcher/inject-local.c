/* The local injector (fetcher.deliver = "local"): in-process delivery
 * through deliver/, as homemail-deliver does it, with no relay between. */
#include "config.h"

#include <string.h>

#include "deliver/deliver.h"
#include "fetcher/inject-private.h"

static int
local_open(HmInjector *inj, GError **err)
{
	return 0;
}

static HmInjectResult
mapped(GError **err, GError *e)
{
	gboolean temp = g_error_matches(e, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP);

	g_propagate_error(err, e);
	return temp ? HM_INJECT_TEMP : HM_INJECT_PERM;
}

static HmInjectResult
local_send(HmInjector *inj, const char *sender, const char *rcpt, const char *msg, gsize len,
           GError **err)
{
	GError *e = NULL;
	g_autofree char *user = hm_recipient_resolve(inj->cfg, rcpt, &e);

	if (user == NULL)
		return mapped(err, e);
	/* A bare user name has no address of its own: Delivered-To then
	 * names the user's canonical one. */
	if (hm_deliver_message(inj->cfg, user, strchr(rcpt, '@') != NULL ? rcpt : NULL, sender,
	                       msg, len, NULL, &e) < 0)
		return mapped(err, e);
	return HM_INJECT_OK;
}

static void
local_close(HmInjector *inj)
{
}

const HmInjectorOps hm_injector_local = {
	.name = "local",
	.open = local_open,
	.send = local_send,
	.close = local_close,
};
