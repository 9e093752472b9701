/* mbox delivery (mail_format = "mbox"): the "mboxrd" flavour, where a
 * "From " line separates messages and body lines matching ^>*From  get one
 * more '>' so that readers can undo the quoting exactly. */
#ifndef HM_DELIVER_MBOX_H
#define HM_DELIVER_MBOX_H

#include <glib.h>

/* How long a delivery waits for another program's lock on the mbox before
 * it gives up with a temporary failure (the MTA retries later): long enough
 * for a mail reader rewriting a big mbox, short enough not to pile up
 * deliveries. */
#define HM_MBOX_LOCK_TIMEOUT_MS 10000

/* Appends one message (stored form: LF line ends, ending with a LF) to the
 * mbox file path (created 0600 if missing; its directory too, 0700),
 * preceded by "From SENDER DATE" (SENDER "MAILER-DAEMON" when sender is
 * empty) and followed by an empty line. Locks the file with an fcntl write
 * lock (open file description lock, which conflicts with the POSIX fcntl
 * locks mail readers such as mutt take), waiting at most timeout_ms.
 * Durable (fsync) when it returns 0; on failure the file is truncated back
 * to its old size, so no partial message remains. Returns 0, or -1 with
 * *err set in HM_ERROR (HM_ERROR_TIMEOUT for a lock not obtained,
 * HM_ERROR_NOSPACE for a full disk, HM_ERROR_IO otherwise). */
int hm_mbox_deliver(const char *path, const char *sender, const char *msg, gsize len,
                    guint timeout_ms, GError **err);

/* Appends to out the mboxrd form of msg: each line matching ^>*From  gets
 * a leading '>'. Exposed for tests. */
void hm_mbox_quote(const char *msg, gsize len, GString *out);

#endif
