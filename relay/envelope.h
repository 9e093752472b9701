/* The envelope vocabulary every part of the relay shares: the SMTP
 * parser fills it from MAIL/RCPT parameters, the queue keeps it with the
 * message, the DSN builder honours it (RFC 3461, RFC 6152, RFC 6531). */
#ifndef RELAY_ENVELOPE_H
#define RELAY_ENVELOPE_H

#include <glib.h>

/* RCPT NOTIFY= (RFC 3461 4.1), a bit set. 0 (no NOTIFY given) means what
 * the RFC makes the default: FAILURE and, at the MTA's choice, DELAY; we
 * send both. NEVER excludes the others. */
typedef enum {
	RELAY_NOTIFY_NEVER = 1 << 0,
	RELAY_NOTIFY_SUCCESS = 1 << 1,
	RELAY_NOTIFY_FAILURE = 1 << 2,
	RELAY_NOTIFY_DELAY = 1 << 3,
} RelayNotify;

/* MAIL RET= (RFC 3461 4.3): what of the message a failure DSN returns.
 * DEFAULT is ours to choose: the headers only (Postfix does the same for
 * delay notices, and a bounce of a large attachment should not travel
 * twice). */
typedef enum { RELAY_RET_DEFAULT, RELAY_RET_FULL, RELAY_RET_HDRS } RelayRet;

/* MAIL BODY= (RFC 6152, RFC 3030). */
typedef enum { RELAY_BODY_7BIT, RELAY_BODY_8BITMIME, RELAY_BODY_BINARYMIME } RelayBody;

/* Parses a NOTIFY value ("SUCCESS,FAILURE", any case) into *out. Returns
 * 0, or -1 for an empty list, an unknown or repeated keyword, or NEVER
 * with another keyword (*out untouched). */
int relay_notify_parse(const char *value, guint *out);

/* Appends the canonical form ("NEVER", "SUCCESS,FAILURE,DELAY") of a
 * non-zero notify set; nothing for 0. */
void relay_notify_format(guint notify, GString *out);

/* TRUE if a DSN of kind (one of SUCCESS, FAILURE, DELAY) is wanted for a
 * recipient with this notify set, default included. */
gboolean relay_notify_wants(guint notify, RelayNotify kind);

/* "FULL", "HDRS", or NULL for DEFAULT; and back (any case), -1 unknown. */
const char *relay_ret_name(RelayRet ret);
int relay_ret_parse(const char *value, RelayRet *out);

/* "7BIT", "8BITMIME", "BINARYMIME"; and back (any case), -1 unknown. */
const char *relay_body_name(RelayBody body);
int relay_body_parse(const char *value, RelayBody *out);

#endif
