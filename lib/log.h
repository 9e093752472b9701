/* Logging for every homemail program: one event per line, to stderr (which
 * journald captures) or to syslog facility mail. */
#ifndef HM_LOG_H
#define HM_LOG_H

#include <glib.h>

typedef enum {
	HM_LOG_ERR,
	HM_LOG_WARN,
	HM_LOG_INFO,
	HM_LOG_DEBUG,
} HmLogLevel;

/* Sets the program name used as prefix, the target (stderr, or syslog
 * facility mail when use_syslog), and the verbosity: 0 logs ERR..INFO,
 * 1 (one -v) adds DEBUG. Safe to call again (e.g. after fork). */
void hm_log_init(const char *ident, gboolean use_syslog, int verbosity);

/* Logs one event. A message must never contain a secret; protocol traffic
 * goes through hm_log_mask_line() first. */
void hm_log(HmLogLevel level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#define hm_err(...)   hm_log(HM_LOG_ERR, __VA_ARGS__)
#define hm_warn(...)  hm_log(HM_LOG_WARN, __VA_ARGS__)
#define hm_info(...)  hm_log(HM_LOG_INFO, __VA_ARGS__)
#define hm_debug(...) hm_log(HM_LOG_DEBUG, __VA_ARGS__)

/* TRUE when DEBUG events are written (so callers can skip formatting). */
gboolean hm_log_debug_enabled(void);

/* Returns a newly allocated copy of one protocol line that is safe to log:
 * the credentials of PASS, AUTH <mech> <initial-response>, IMAP LOGIN and
 * AUTHENTICATE, and of SASL continuation lines (when in_sasl) are replaced by
 * "********"; control characters are shown as '?'. */
char *hm_log_mask_line(const char *line, gboolean in_sasl);

/* The protocol trace of the clients (-v): logs one line sent (from_client)
 * or received at DEBUG as "WHO: C: line" / "WHO: S: line", WHO from fmt,
 * the line through hm_log_mask_line(). Costs nothing when DEBUG is off. */
void hm_log_trace(gboolean from_client, const char *line, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

#endif
