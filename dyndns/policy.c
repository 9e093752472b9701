/* When to send an update (see policy.h). */
#include <config.h>

#include <string.h>

#include "dyndns/policy.h"

gint64
hm_dyn_backoff_left(const HmDynCache *c, gint64 now)
{
	gint64 len = c->backoff_s > 0 ? MIN((gint64)c->backoff_s, HM_DYN_BACKOFF_MAX_S)
	                              : HM_DYN_BACKOFF_MAX_S;

	/* Ending further away than it lasts, it was set while the clock ran
	 * ahead: then it is over, as "updated" in the future is unknown age;
	 * else it would last for as long as the clock was wrong. A send
	 * that fails again sets it anew, by the right clock. */
	if (c->backoff_until <= now || c->backoff_until - now > len)
		return 0;
	return c->backoff_until - now;
}

HmDynDecision
hm_dyn_decide(const HmDynCache *c, const char *addr, const char *config, gint64 now,
              guint refresh_days, gboolean force)
{
	if (force)
		return HM_DYN_SEND;
	if (c->has_result && c->outcome == HM_DYN_HOLD &&
	    g_strcmp0(c->held_config, config) == 0)
		return HM_DYN_SKIP_HELD;
	if (hm_dyn_backoff_left(c, now) > 0)
		return HM_DYN_SKIP_BACKOFF;
	/* A clock that went backwards makes "updated" lie in the future:
	 * then the age is unknown and a refresh is the safe side. */
	if (g_strcmp0(c->address, addr) == 0 && c->updated <= now &&
	    now - c->updated < (gint64)refresh_days * 86400)
		return HM_DYN_SKIP_SAME;
	return HM_DYN_SEND;
}

void
hm_dyn_note_result(HmDynCache *c, const char *addr, const char *config,
                   const HmDynResult *res, gint64 now)
{
	g_free(c->sent);
	c->sent = g_strdup(addr);
	c->attempted = now;
	c->has_result = TRUE;
	c->outcome = res->outcome;
	g_free(c->code);
	c->code = g_strdup(res->code);
	g_free(c->text);
	c->text = g_strdup(res->text);
	g_clear_pointer(&c->held_config, g_free);
	switch (res->outcome) {
	case HM_DYN_OK:
		g_free(c->address);
		c->address = g_strdup(addr);
		c->updated = now;
		c->backoff_s = 0;
		c->backoff_until = 0;
		break;
	case HM_DYN_HOLD:
		c->held_config = g_strdup(config);
		c->backoff_s = 0;
		c->backoff_until = 0;
		break;
	case HM_DYN_BACKOFF:
		c->backoff_s = c->backoff_s == 0 ? HM_DYN_BACKOFF_FIRST_S
		                                 : MIN(c->backoff_s * 2, HM_DYN_BACKOFF_MAX_S);
		c->backoff_until = now + c->backoff_s;
		break;
	case HM_DYN_RETRY:
		/* Nothing reached the provider, or nothing we understood came
		 * back: the next run tries again, and an earlier back-off
		 * stays as it was. */
		break;
	}
}

char *
hm_dyn_config_fingerprint(const HmDnsRecordConf *rec, const char *secret)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	const char *parts[] = {
		rec->provider, rec->server, rec->zone, rec->hostname, rec->user, secret,
		rec->tsig_name, rec->tsig_algorithm,
	};

	/* Each part with its length, so that no two configs can run together
	 * into the same bytes. */
	for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
		char len[24];
		const char *p = parts[i] != NULL ? parts[i] : "";

		g_snprintf(len, sizeof(len), "%zu:", parts[i] != NULL ? strlen(p) : (gsize)-1);
		g_checksum_update(sum, (const guchar *)len, -1);
		g_checksum_update(sum, (const guchar *)p, -1);
	}
	return g_strdup(g_checksum_get_string(sum));
}
