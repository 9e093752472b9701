/* What homemail-dyndns remembers per record and address family, in
 * state_dir/dyndns/HOSTNAME-PROVIDER-A (or -AAAA): the last address the
 * provider accepted and when, the last answer, and any hold or back-off.
 * One small key=value file each, replaced atomically. */
#ifndef HM_DYN_CACHE_H
#define HM_DYN_CACHE_H

#include <glib.h>

#include "lib/atomic.h"

#include "conf/hmconfig.h"
#include "dyndns/provider.h"

typedef struct {
	char *address;               /* last address the provider accepted, or NULL */
	gint64 updated;              /* when (Unix time); 0: never */
	char *sent;                  /* address of the last request, or NULL */
	gint64 attempted;            /* when; 0: never */
	gboolean has_result;
	HmDynOutcome outcome;        /* of the last request */
	char *code;                  /* the provider's word, or NULL */
	char *text;                  /* the last result in words, or NULL */
	char *held_config;           /* HM_DYN_HOLD: fingerprint of the config then */
	gint64 backoff_until;        /* no request before this; 0: none */
	guint backoff_s;             /* the current back-off step; 0: none */
} HmDynCache;

/* state_dir/dyndns/HOSTNAME-PROVIDER-A or -AAAA. */
char *hm_dyn_cache_path(const char *state_dir, const HmDnsRecordConf *rec, int family);

/* Loads path into *c (zeroed first). A missing file is an empty cache
 * (0); a file that is not a regular file, too large or unreadable is -1
 * with *err. Unknown keys and bad lines are skipped: the worst a damaged
 * cache can cause is one update too many. */
int hm_dyn_cache_load(const char *path, HmDynCache *c, GError **err);

/* Writes *c to path atomically (0600), creating the directory (0700).
 * Returns 0, or -1 with *err. */
int hm_dyn_cache_save(const char *path, const HmDynCache *c, GError **err);

/* The two halves of hm_dyn_cache_save(): the new file of path begun with
 * its room reserved, before the update is sent — an answer that cannot
 * be recorded would be asked for again at every run (a refusal repeated
 * until the provider blocks the account) — and then written and put in
 * place. reserve returns NULL with *err (a full disk: HM_ERROR_NOSPACE);
 * commit consumes d and returns 0, or -1 with *err. hm_durable_abort()
 * drops a reserved file. */
HmDurable *hm_dyn_cache_reserve(const char *path, GError **err);
int hm_dyn_cache_commit(HmDurable *d, const HmDynCache *c, GError **err);

void hm_dyn_cache_clear(HmDynCache *c);

#endif
