/* What fetcher/state.c shares with fetcher/lock.c. */
#ifndef HM_FETCH_STATE_PRIVATE_H
#define HM_FETCH_STATE_PRIVATE_H

#include <glib.h>

/* Checks the account name, creates <state_dir>/fetch (and state_dir if
 * need be) and returns its path (g_free()), with the escaped account name
 * in *acct (g_free()). NULL with *err on failure. */
char *hm_fetch_dir(const char *state_dir, const char *account, char **acct, GError **err);

#endif
