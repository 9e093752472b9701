/* One pass over the records (--once, the timer) and the daemon around it. */
#ifndef HM_DYN_RUN_H
#define HM_DYN_RUN_H

#include <glib.h>

#include "conf/hmconfig.h"

typedef struct {
	gboolean force;              /* --force: send even when unchanged */
	gboolean dry_run;            /* --dry-run: print what would be sent */
	gint64 now;                  /* 0: the real clock (tests fake it) */
} HmDynRunOptions;

/* Detects the addresses the records need and updates every record that
 * needs it. A record's failure never stops the others. Returns the number
 * of records that failed (detection failed for their family, or the
 * provider did not accept the update); a record skipped because it is
 * held or backing off counts as failed too, so the timer's unit shows it. */
guint hm_dyn_run_once(const HmConfig *cfg, const HmDynRunOptions *opt);

/* Runs a pass every dyndns.interval until SIGTERM or SIGINT; SIGHUP
 * re-reads the config from cfg->file and runs at once; SIGUSR1 (the
 * network is back) runs at once. Returns 0, or 1 if
 * a reloaded config was broken (the old one stays in use). */
int hm_dyn_daemon(HmConfig *cfg, const HmDynRunOptions *opt);

#endif
