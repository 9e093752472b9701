/* When to send an update, and what a provider's answer means for the next
 * run: pure functions of the cache, the detected address and the clock
 * (check/proceed split, STYLE.md). */
#ifndef HM_DYN_POLICY_H
#define HM_DYN_POLICY_H

#include <glib.h>

#include "dyndns/cache.h"

/* Back-off after HM_DYN_BACKOFF: 30 minutes first (dyndns2's rule for
 * 911 and dnserr), doubling per answer of the kind, up to 8 hours. */
#define HM_DYN_BACKOFF_FIRST_S (30 * 60)
#define HM_DYN_BACKOFF_MAX_S (8 * 3600)

typedef enum {
	HM_DYN_SEND,
	HM_DYN_SKIP_SAME,            /* the provider has this address already */
	HM_DYN_SKIP_HELD,            /* refused as configured; config unchanged */
	HM_DYN_SKIP_BACKOFF,         /* waiting out a back-off */
} HmDynDecision;

/* Whether to send addr (text) for a record whose config fingerprint is
 * config, at time now. force sends anyway (--force, a person's one-off
 * request). An unchanged address is sent again once the last update is
 * refresh_days old. */
HmDynDecision hm_dyn_decide(const HmDynCache *c, const char *addr, const char *config,
                            gint64 now, guint refresh_days, gboolean force);

/* Seconds of c's back-off still to wait at time now: 0 when there is
 * none, or when it ends further away than the length it was set with
 * (the clock ran ahead when it was set). */
gint64 hm_dyn_backoff_left(const HmDynCache *c, gint64 now);

/* Records the answer res to sending addr at time now into c. */
void hm_dyn_note_result(HmDynCache *c, const char *addr, const char *config,
                        const HmDynResult *res, gint64 now);

/* The fingerprint of a record's config and secret (hex SHA-256): a held
 * record resumes when it changes. */
char *hm_dyn_config_fingerprint(const HmDnsRecordConf *rec, const char *secret);

#endif
