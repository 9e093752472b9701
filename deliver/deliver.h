/* Local delivery: the library the relay and the fetcher call in-process,
 * and what homemail-deliver wraps. Messages go to <mail_dir>/<user>/
 * (Maildir) or <mail_dir>/<user>.mbox (mbox, when the user asks for it). */
#ifndef HM_DELIVER_H
#define HM_DELIVER_H

#include <glib.h>

#include "conf/hmconfig.h"

#define HM_DELIVER_ERROR hm_deliver_error_quark()
GQuark hm_deliver_error_quark(void);

typedef enum {
	HM_DELIVER_ERROR_UNKNOWN_USER,  /* permanent: no such local recipient (EX_NOUSER 67) */
	HM_DELIVER_ERROR_MALFORMED,     /* permanent: unusable input (EX_DATAERR 65) */
	HM_DELIVER_ERROR_LOOP,          /* permanent: Delivered-To already names the recipient (65) */
	HM_DELIVER_ERROR_TEMP,          /* temporary: disk full, I/O error, lock busy (EX_TEMPFAIL 75) */
} HmDeliverError;

/* Resolves address (user@local-domain, one of a user's addresses, an
 * alias, user+tag@local-domain, or a bare user/alias name) to a local user
 * name, following alias chains (loops and chains longer than 20 are
 * errors). Domains compare case-insensitively, and so do local parts.
 * Returns the user name (g_free()), or NULL with *err set:
 * HM_DELIVER_ERROR_UNKNOWN_USER for an unknown or non-local recipient
 * (including an alias whose target is a non-local address: forwarding is
 * the relay's job, not local delivery's); HM_DELIVER_ERROR_TEMP for an
 * alias loop or an over-long chain, because that is a configuration
 * mistake the admin can fix while the mail waits in the MTA's queue,
 * not the sender's fault (Postfix defers on configuration errors too). */
char *hm_recipient_resolve(const HmConfig *cfg, const char *address, GError **err);

/* As hm_recipient_resolve(), for the relay: an alias chain that ends at
 * a non-local address (root = "me@gmail.com") is a forward, not an
 * error. Returns 0 with either *user (the local user) or *forward (the
 * address to forward to) set (g_free()), or -1 with *err as
 * hm_recipient_resolve(). */
int hm_recipient_expand(const HmConfig *cfg, const char *address, char **user, char **forward,
                        GError **err);

/* Delivers one message (stored form: LF line ends; a CRLF input is
 * normalised, a leading mbox "From " line dropped) to user, prepending
 * "Return-Path: <sender>" and "Delivered-To: <rcpt>". rcpt is the address
 * the mail was sent to (the user's canonical address when NULL). Refuses
 * (HM_DELIVER_ERROR_LOOP) a message whose header already has a Delivered-To
 * naming rcpt (case-insensitive); when the message has Received: fields,
 * only a Delivered-To below the first of them counts, since those above
 * were added for this delivery by the MTA that runs us (Postfix's
 * mailbox_command gets one). Durable when it returns 0 (file and directory fsynced);
 * on failure nothing partial is left behind. *where_out (may be NULL)
 * receives the file written.
 * sender is the envelope sender without angle brackets ("" for the null
 * sender <>). When sender is NULL (no envelope known, as with a bare
 * `homemail-deliver` without -f) a Return-Path already in the message is
 * kept as it is and no second one is added; without one, "Return-Path: <>"
 * is prepended.
 * Malformed input (HM_DELIVER_ERROR_MALFORMED): an empty message, a NUL
 * byte, a first line (after an mbox "From " line) that is no header
 * field, or a sender/rcpt containing control characters. Every other
 * failure is HM_DELIVER_ERROR_TEMP (disk full, I/O error, mbox lock not
 * obtained within HM_MBOX_LOCK_TIMEOUT_MS) with the cause in the message.
 * head (may be NULL) is put in front of msg as if it were part of it: trace
 * fields a caller adds (the fetcher's Received:) without copying a large
 * message; the stored form is written as it is converted, so the message
 * is never held twice. */
int hm_deliver_message(const HmConfig *cfg, const char *user, const char *rcpt,
                       const char *sender, const char *head, gsize head_len,
                       const char *msg, gsize len, char **where_out, GError **err);

/* A Maildir delivery written but not yet durable (group commit). */
typedef struct {
	char *tmp_path;    /* NULL: the delivery is complete and durable already */
	char *new_path;
} HmDeliverStaged;

/* As hm_deliver_message(), for callers that deliver many messages in a
 * row and pay for durability once per batch (the fetcher): a Maildir
 * delivery is left staged in *staged (written to tmp/ and closed, not
 * synced); the message is delivered only once the caller has made it
 * durable (syncfs(2) of the file system holding tmp_path) and called
 * hm_maildir_publish(tmp_path, new_path) and fsynced new/. A delivery to
 * an mbox user is completed (durable) at once and leaves tmp_path NULL. */
int hm_deliver_message_staged(const HmConfig *cfg, const char *user, const char *rcpt,
                              const char *sender, const char *head, gsize head_len,
                              const char *msg, gsize len, HmDeliverStaged *staged,
                              GError **err);

/* Frees the paths of *staged (not the struct). */
void hm_deliver_staged_clear(HmDeliverStaged *staged);

/* The sysexits(3) code for a delivery error (0 when err is NULL). */
int hm_deliver_exit_code(const GError *err);

/* <mail_dir>/<user>: the user's Maildir; g_free() it. */
char *hm_deliver_maildir_path(const HmConfig *cfg, const char *user);

/* (Added for homemail-deliver -d and for rcpt == NULL.) The address that
 * names user in Delivered-To: the first of its `addresses`, else
 * user@<first local domain>, else user@<hostname>; g_free() it. */
char *hm_deliver_canonical_address(const HmConfig *cfg, const char *user);

#endif
