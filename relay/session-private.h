/* What the parts of an SMTP session share: session.c (commands and
 * replies), session-data.c (DATA and BDAT into the queue), session-auth.c
 * (AUTH). */
#ifndef RELAY_SESSION_PRIVATE_H
#define RELAY_SESSION_PRIVATE_H

#include "relay/inline.h"
#include "relay/msgwriter.h"
#include "relay/queue.h"
#include "relay/session.h"
#include "relay/smtp-parse.h"

enum {
	ST_START = 1 << 0,  /* before HELO/EHLO */
	ST_READY = 1 << 1,  /* no transaction */
	ST_MAIL = 1 << 2,   /* after MAIL */
	ST_RCPT = 1 << 3,   /* after a recipient was accepted */
};

typedef struct {
	HmConn *conn;
	const RelaySessionParams *p;
	char id[9];                /* for the log lines */
	guint state;
	gboolean esmtp;
	char *helo;
	char *auth_user;
	guint bad_commands;
	guint refused_rcpts;
	guint auth_fails;
	gboolean done;
	int dnsbl_verdict;         /* -1: not checked yet */
	char *dnsbl_reply;         /* the 554 text when listed */
	/* The transaction: envelope and whether it leaves the box. */
	RelayQueueEntry *tx;
	gboolean tx_remote;
	/* A BDAT transfer under way (RFC 3030), and whether it failed. */
	RelayMsgWriter *bdat;
	GError *bdat_error;        /* the queue could not take it: its chunks are dropped */
	/* Replies waiting for a commit: once a message is in the queue but
	 * not yet durable, its reply and every reply after it wait here, in
	 * order, until the flush (see flush_replies()). */
	GPtrArray *held;
} Session;

/* Queues a reply line "CODE ENHANCED TEXT" (held behind a pending commit
 * when there is one). Returns 0, or -1 when the connection failed. */
int session_reply(Session *s, guint code, const char *enhanced, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
/* Queues the reply a parser or policy check filled. */
int session_reply_text(Session *s, const RelayReplyText *r);
/* Queues the reply for a message just put in the queue (in NULL) or
 * staged for delivery at once: 250 with its ID once the commit succeeds,
 * 451 (and the file or the copies removed) if it fails. Takes in. */
void session_hold_commit(Session *s, const char *id, gsize size, RelayInline *in);
/* Makes held messages durable and sends every queued reply. -1 when the
 * connection failed. */
int session_flush(Session *s);
/* Counts a bad command; TRUE when the client used up its allowance
 * (the caller ends the session). */
gboolean session_bad_command(Session *s);
/* Ends the transaction (RSET, after a message, after HELO). */
void session_reset(Session *s);

/* DATA and BDAT (session-data.c). */
int session_cmd_data(Session *s, const char *args);
int session_cmd_bdat(Session *s, const char *args);
/* AUTH (session-auth.c). */
int session_cmd_auth(Session *s, const char *args);

#endif
