/* Least privilege for the daemons: started as root, drop to run_as. */
#ifndef HM_PRIVS_H
#define HM_PRIVS_H

#include <glib.h>

/* When running as root: with run_as set, switch to that user (groups,
 * gid, uid) and verify root cannot be regained; with run_as NULL, stay
 * and log one warning. Does nothing when not root. Returns 0 or -1 with
 * *err set. */
int hm_drop_privileges(const char *run_as, GError **err);

#endif
