/* The IMAP folder listing under the fetch backend's select() (imap.c):
 * one UID FETCH n:* (UID RFC822.SIZE). Internal to the fetcher; every
 * error is HM_FETCH_ERROR. */
#ifndef HM_FETCH_IMAP_LIST_H
#define HM_FETCH_IMAP_LIST_H

#include "fetcher/imap-client.h"

/* Lists the messages of the selected folder with UID >= first (>= 1):
 * appends an HmFetchItem (uid, num, size) for each to items, ascending.
 * Returns 0, or -1 with *err: the engine's errors, and
 * HM_FETCH_ERROR_PROTOCOL for a malformed UID or RFC822.SIZE. */
int hm_imap_list(HmImapClient *ic, guint32 first, GPtrArray *items, GError **err);

#endif
