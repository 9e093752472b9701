/* The SMTP client's internals, shared by smtpc.c (the session),
 * smtpc-txn.c (one transaction at a time) and smtpc-chunk.c (BDAT
 * transactions back to back). */
#ifndef HM_SMTPC_PRIVATE_H
#define HM_SMTPC_PRIVATE_H

#include "dotstuff.h"
#include "pingpong.h"
#include "smtpc.h"

struct HmSmtpClient {
	HmPingpong pp;             /* the connection, the broken flag, the trace */
	HmSmtpProto proto;
	char *helo_name;
	HmSmtpExt ext;
	int command_ms, final_ms;  /* 0: the connection's own timeout */
	guint chunked;             /* BDAT transactions sent, replies not yet read */
	gboolean lost_at_mail;     /* hm_smtpc_lost_at_mail() */
};

/* Queues one command line; shown, when not NULL, is what the trace gets
 * instead (credentials masked). Nothing is flushed. 0, or -1 with *err. */
int hm_smtpc_send_line(HmSmtpClient *c, const char *line, const char *shown, GError **err);
int hm_smtpc_send_cmd(HmSmtpClient *c, GError **err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
int hm_smtpc_flush(HmSmtpClient *c, GError **err);

/* Flushes what is queued and reads the reply into r (always safe to clear
 * afterwards). */
int hm_smtpc_roundtrip(HmSmtpClient *c, HmSmtpReply *r, GError **err);

/* The error for a reply we cannot go on from: a refusal (4xx/5xx) is
 * HM_SMTP_ERROR with its code; anything else breaks the session. Always
 * -1. */
int hm_smtpc_reply_error(HmSmtpClient *c, const HmSmtpReply *r, const char *after, GError **err);

/* Reads one whole reply into r (initialised here; the caller clears it;
 * left cleared on failure). 0, or -1 with *err (the session broke). A
 * 421 is a valid reply, but it marks the session broken. */
int hm_smtpc_read_reply(HmSmtpClient *c, HmSmtpReply *r, GError **err);

/* TRUE if addr can stand in MAIL FROM:<>/RCPT TO:<> as it is: no
 * control characters or angle brackets, at most HM_SMTP_PATH_MAX octets
 * with its "<>", empty only when may_be_empty (the null sender). */
gboolean hm_smtpc_usable_path(const char *addr, gboolean may_be_empty);

/* Feeds data through ds (DATA's dot-stuffing, or BDAT's CRLF only) to
 * the connection in chunks, buf as scratch; a large message is never held
 * twice. 0, or -1 with *err. */
int hm_smtpc_send_stuffed(HmSmtpClient *c, HmDotStuffer *ds, GString *buf, const char *data,
                          gsize len, GError **err);

/* Queues "BDAT size LAST" and the message (head, then body) as its data,
 * line ends made CRLF and nothing stuffed; size is what
 * hm_crlf_counter_total() gave for head and body. Marks the session
 * broken on failure. 0, or -1 with *err. */
int hm_smtpc_send_bdat(HmSmtpClient *c, guint64 size, const char *head, gsize head_len,
                       const char *body, gsize body_len, GError **err);

#endif
