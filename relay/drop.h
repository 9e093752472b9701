/* The drop folder (queue/drop/, relay/spool.h): how homemail-sendmail,
 * run by any local user, hands a message to the relay even while the
 * relay is down. sendmail writes the message with its envelope in the
 * queue file format, durably, under an unguessable name, readable by the
 * relay only through that name (the folder cannot be listed by others);
 * the queue runner imports each file into the queue and removes it.
 *
 * The relay believes only what the kernel says about a drop file: its
 * owner is who sent it (a user may not claim another local user's
 * address as sender: it becomes their own), and it must be a regular
 * file with one link (a symlink or a hard link to someone else's file is
 * refused). */
#ifndef RELAY_DROP_H
#define RELAY_DROP_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "lib/groupcommit.h"
#include "relay/queue.h"
#include "relay/rewrite.h"

/* The address of the local user login on this box, login@hostname (the
 * local part quoted where it must be): homemail-sendmail's default
 * sender, what it makes of a bare -f name as Postfix appends its origin,
 * and the sender the import gives a user who claimed another's address.
 * g_free() it. */
char *relay_drop_local_address(const HmConfig *cfg, const char *login);

/* sendmail's side: writes e (sender, recipients, DSN parameters) and msg
 * (the message as read, LF or CRLF lines) into queue_dir/drop/, fsynced
 * before it returns 0; -1 with *err (HM_ERROR_NOSPACE for a full disk).
 * *name (may be NULL) receives the file's name. What the import would
 * refuse is refused here first, with HM_ERROR_PARSE and nothing written:
 * a message over max_size (relay.max_message_size, 0 for none) once its
 * lines end in CRLF, an envelope over the size a drop file may have (too
 * many recipients), a control character in an envelope field, a NUL
 * octet in msg. */
int relay_drop_write(const char *queue_dir, RelayQueueEntry *e, const char *msg, gsize len,
                     guint64 max_size, char **name, GError **err);

/* The relay's side: moves every complete drop file into the queue (its
 * Received: field, Message-ID: and Date: where missing, CRLF lines), made
 * durable with gc before the drop file goes. A file that cannot be
 * imported (over the limits relay_drop_write() names, damaged, or
 * changed by its owner while it was read) is renamed ".bad.NAME" and
 * logged, so it is kept for a person to look at but not tried again.
 * Returns the number imported. */
guint relay_drop_import(const HmConfig *cfg, const RelayRewriter *rw, const char *queue_dir,
                        HmGroupCommit *gc);

#endif
