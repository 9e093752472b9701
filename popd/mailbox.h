/* A POP3 maildrop: the snapshot of a user's Maildir taken at login, the
 * deletion marks of the session, and the UPDATE state that applies them.
 *
 * UIDLs are unique within a listing and valid for RFC 1939 (1-70
 * characters in 0x21..0x7E) whatever the file names hold, and come from
 * the names alone, so they are the same in every session:
 *  - A message's UIDL is the unique part of its file name (up to the first
 *    ',' or ':') when that is a valid UIDL and no other message has the
 *    same unique part: every name homemail-deliver and other MDAs write.
 *    The move to cur/ and flag changes leave it alone, and it is never
 *    reused, because Maildir names never are (time, microseconds, pid,
 *    counter, host). These UIDLs are given out first.
 *  - Otherwise (spaces, CR LF, 8-bit bytes, over 70 characters, empty, or
 *    shared, as by new/X beside cur/X:2,S) it is the SHA-256 in hex (64
 *    characters) of the stem (hm_maildir_stem(): the name without new/ or
 *    cur/ and without the ":2,FLAGS" info), which the move to cur/ and
 *    flag changes leave alone too.
 *  - Where that is taken (two files with one stem), the SHA-256 of the
 *    stem, a NUL and 1, 2, ...: the first one free, in listing order.
 * A UIDL of the last two kinds changes when the names that clash change
 * (one of them deleted): telling them apart for ever would need a UIDL
 * database, and such names come only from outside homemail. */
#ifndef POPD_MAILBOX_H
#define POPD_MAILBOX_H

#include <glib.h>

#include "lib/conn.h"

#define POPD_MAILBOX_ERROR popd_mailbox_error_quark()
GQuark popd_mailbox_error_quark(void);

typedef enum {
	POPD_MAILBOX_IN_USE,    /* another session holds the maildrop lock */
	POPD_MAILBOX_GONE,      /* the message file vanished under us */
	POPD_MAILBOX_UNREADABLE, /* it is there but is no regular file any more,
	                          * or may not be read (logged) */
	POPD_MAILBOX_FAILED,
} PopdMailboxError;

typedef struct PopdMailbox PopdMailbox;

/* Locks the Maildir dir (created if missing; a symbolic link only when
 * root or we own it: hm_maildir_create()) for this session and takes
 * the snapshot of its regular files (hm_maildir_scan(): what is not one is
 * skipped and logged): messages delivered later are not seen until the
 * next login. Files abandoned in tmp/ for 36 hours are removed
 * (hm_maildir_sweep_tmp()). Returns NULL with *err (POPD_MAILBOX_IN_USE
 * when locked). */
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
 * nothing is sent when the file is gone (POPD_MAILBOX_GONE), or was
 * replaced by a symbolic link, a FIFO or the like, or may not be read
 * (POPD_MAILBOX_UNREADABLE, and logged): the caller then answers -ERR
 * with the message of *err. A failure while sending returns -1 too, and
 * the connection is then unusable. */
int popd_mailbox_send(PopdMailbox *mb, guint n, gint64 body_lines, HmConn *conn,
                      GError **err);

/* UPDATE state: removes the messages marked deleted and moves the ones
 * retrieved from new/ to cur/ (flag S), then fsyncs both directories.
 * Returns 0, or -1 with *err when some could not be removed. */
int popd_mailbox_commit(PopdMailbox *mb, GError **err);

#endif
