/* The IMAP folder listing under the fetch backend's select() (imap.c):
 * one UID FETCH n:* (UID RFC822.SIZE), then a cross-check of what it
 * brought against the server's own count of messages (EXISTS), because a
 * server whose listing silently comes back short would otherwise look
 * like an empty folder for ever. Internal to the fetcher; every error is
 * HM_FETCH_ERROR. */
#ifndef HM_FETCH_IMAP_LIST_H
#define HM_FETCH_IMAP_LIST_H

#include "fetcher/imap-client.h"

/* The selected folder's size as the server reports it; the session keeps
 * it up to date from every untagged response, also while the listing
 * runs, so the check can allow for mail that comes or goes meanwhile. */
typedef struct {
	guint32 exists; /* the last EXISTS, less each EXPUNGE since */
	guint expunges; /* EXPUNGE responses seen in the session */
} HmImapCount;

/* Lists the messages of the selected folder with UID >= first (>= 1):
 * appends an HmFetchItem (uid, num, size) for each to items, ascending.
 * count is the session's, read before and after the command. A UID
 * listed again for another message (not the same one repeated, EXPUNGEs
 * meanwhile allowed for) is a server bug: both messages are listed
 * untracked, and one warning names the UIDs.
 *
 * The check: listed from UID 1, the listing must hold as many messages
 * as EXISTS counts; listed from a higher UID, it must at least hold the
 * folder's last message (RFC 3501 6.4.8: "n:*" always includes it), and
 * its message numbers must run without a gap up to EXISTS. A listing
 * that is provably short is logged (both numbers) and makes *whole
 * FALSE; what it did list is still returned. *whole is TRUE otherwise.
 *
 * The bound: the listing may name no more messages than the folder held
 * meanwhile (EXISTS, with the EXPUNGEs since it began) and a small margin
 * for mail arriving before its EXISTS, and never more than
 * HM_IMAP_MAX_MESSAGES; a server past that is cut off at once.
 *
 * Returns 0, or -1 with *err: the engine's errors, HM_FETCH_ERROR_PROTOCOL
 * for a malformed UID or RFC822.SIZE, or a listing past the bound ("INBOX:
 * the server lists more messages than EXISTS counted (1)"; the session is
 * then broken), and HM_FETCH_ERROR_SERVER when EXISTS is over
 * HM_IMAP_MAX_MESSAGES (nothing is sent) or the folder holds mail (EXISTS
 * > 0) but the listing named none of it (for a partial listing: none, and
 * the last message's UID, asked with FETCH *, is >= first or unknown).
 * The session stays usable after the latter two. */
int hm_imap_list(HmImapClient *ic, const HmImapCount *count, const char *folder, guint32 first,
                 GPtrArray *items, gboolean *whole, GError **err);

#endif
