/* The failed-login bar of the servers (popd, relay AUTH): at most max
 * password checks may fail per client address within a window, counted
 * across every session of that address. The servers run a process per
 * session, so the counts live in shared memory made before the first
 * fork; a session reserves a try before it checks a password, so even 64
 * sessions of one address guessing in parallel get no more answers than
 * the bar allows. */
#ifndef HM_LOGINBAR_H
#define HM_LOGINBAR_H

#include <glib.h>

typedef struct HmLoginBar HmLoginBar;

/* A bar allowing max_fails failed logins per address in window_s seconds
 * (the window starts at an address's first failure). Must be created
 * before the session processes are forked: they share it. Returns NULL
 * with *err when the shared memory cannot be had. */
HmLoginBar *hm_login_bar_new(guint max_fails, guint window_s, GError **err);
void hm_login_bar_free(HmLoginBar *bar);

/* TRUE while addr may not try a password: its failures within the window
 * reached the limit. */
gboolean hm_login_bar_barred(HmLoginBar *bar, const char *addr);

/* Reserves one password check for addr before it is made. While the
 * failures plus the checks under way reach the limit, it waits (up to
 * wait_ms) for one of those checks to end: parallel sessions cannot check
 * more passwords than may still fail, yet many good logins at once from
 * one address (an office behind NAT) only wait a moment. FALSE (nothing
 * reserved) when addr is barred or the wait ran out: answer without
 * checking. Every TRUE must be followed by hm_login_bar_end(). A session
 * that dies between the two holds its reservation until the window of
 * that address ends. */
gboolean hm_login_bar_begin(HmLoginBar *bar, const char *addr, int wait_ms);

/* Ends a reservation: failed says the password was wrong, which counts
 * toward the bar; a success only releases the reservation. */
void hm_login_bar_end(HmLoginBar *bar, const char *addr, gboolean failed);

#endif
