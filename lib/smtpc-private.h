/* The SMTP client's internals, shared by smtpc.c (one transaction at a
 * time) and smtpc-chunk.c (BDAT transactions back to back). */
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

/* Reads one whole reply into r (initialised here; the caller clears it;
 * left cleared on failure). 0, or -1 with *err (the session broke). A
 * 421 is a valid reply, but it marks the session broken. */
int hm_smtpc_read_reply(HmSmtpClient *c, HmSmtpReply *r, GError **err);

/* TRUE if addr can stand in MAIL FROM:<>/RCPT TO:<> as it is: no
 * control characters or angle brackets, at most HM_SMTP_PATH_MAX octets,
 * empty only when may_be_empty (the null sender). */
gboolean hm_smtpc_usable_path(const char *addr, gboolean may_be_empty);

/* Feeds data through ds (DATA's dot-stuffing, or BDAT's CRLF only) to
 * the connection in chunks, buf as scratch; a large message is never held
 * twice. 0, or -1 with *err. */
int hm_smtpc_send_stuffed(HmSmtpClient *c, HmDotStuffer *ds, GString *buf, const char *data,
                          gsize len, GError **err);

#endif
