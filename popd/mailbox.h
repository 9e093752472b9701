/* A POP3 maildrop: the snapshot of a user's Maildir taken at login, the
 * deletion marks of the session, and the UPDATE state that applies them.
 * UIDLs are the unique part of each Maildir file name: stable across
 * sessions, restarts and new/ -> cur/ moves, and never reused, because
 * Maildir names never are (time, microseconds, pid, counter, host). */
#ifndef POPD_MAILBOX_H
#define POPD_MAILBOX_H

#include <glib.h>

#include "lib/conn.h"

#define POPD_MAILBOX_ERROR popd_mailbox_error_quark()
GQuark popd_mailbox_error_quark(void);

typedef enum {
	POPD_MAILBOX_IN_USE,    /* another session holds the maildrop lock */
	POPD_MAILBOX_GONE,      /* the message file vanished under us */
	POPD_MAILBOX_FAILED,
} PopdMailboxError;

typedef struct PopdMailbox PopdMailbox;

/* Locks the Maildir dir (created if missing) for this session and takes
 * the snapshot of its regular files (hm_maildir_scan(): what is not one is
 * skipped and logged): messages delivered later are not seen until the
 * next login. Returns NULL with *err (POPD_MAILBOX_IN_USE when locked). */
PopdMailbox *popd_mailbox_open(const char *dir, GError **err);

/* Unlocks and frees, deleting nothing (a dropped connection). */
void popd_mailbox_close(PopdMailbox *mb);

/* Number of messages in the snapshot (deleted ones included: message
 * numbers never change within a session). */
guint popd_mailbox_count(const PopdMailbox *mb);

/* Count and total CRLF size of the messages not marked deleted. */
void popd_mailbox_stat(const PopdMailbox *mb, guint *count, guint64 *octets);

/* Per message n (1-based, <= count): */
gboolean popd_mailbox_deleted(const PopdMailbox *mb, guint n);
guint64 popd_mailbox_size(const PopdMailbox *mb, guint n);
const char *popd_mailbox_uidl(const PopdMailbox *mb, guint n);
void popd_mailbox_delete(PopdMailbox *mb, guint n);

/* Clears every deletion mark (RSET). */
void popd_mailbox_reset(PopdMailbox *mb);

/* Sends message n in the wire form (CRLF, dot-stuffed, ".\r\n" at the
 * end): whole when body_lines < 0, else the header and that many body
 * lines (TOP). Only a regular file is sent (hm_maildir_open_message()):
 * nothing is sent when the file is gone or was replaced by a symbolic
 * link, a FIFO or the like (POPD_MAILBOX_GONE: the caller then answers
 * -ERR); a failure while sending returns -1 too, and the connection is
 * then unusable. */
int popd_mailbox_send(PopdMailbox *mb, guint n, gint64 body_lines, HmConn *conn,
                      GError **err);

/* UPDATE state: removes the messages marked deleted and moves the ones
 * retrieved from new/ to cur/ (flag S), then fsyncs both directories.
 * Returns 0, or -1 with *err when some could not be removed. */
int popd_mailbox_commit(PopdMailbox *mb, GError **err);

#endif
