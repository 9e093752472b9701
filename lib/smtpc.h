/* The SMTP and LMTP client engine: reply assembly (the parsers are in
 * smtp-reply.h), EHLO/LHLO, STARTTLS, AUTH (lib/sasl), and one mail transaction
 * at a time, pipelined where the server allows (RFC 5321, 2033, 2920,
 * 1870, 6152, 3207, 4954, 2034), with DSN and SMTPUTF8 parameters when
 * the caller passes them (RFC 3461, 6531). Used by the fetcher's injector and the
 * relay's smart-host client; it knows nothing of configs or queues.
 *
 * Errors: a refusal by the server is HM_SMTP_ERROR with the reply code as
 * the error code (4xx temporary, 5xx permanent) and the reply on one line
 * as the message ("550 5.1.1 <bob@x>: unknown user"); anything that breaks
 * the session is HM_ERROR (HM_ERROR_TIMEOUT, HM_ERROR_IO for a lost
 * connection, HM_ERROR_PROTOCOL for a malformed or unexpected reply,
 * HM_ERROR_TLS), after which hm_smtpc_broken() is TRUE and the client can
 * only be freed. */
#ifndef HM_SMTPC_H
#define HM_SMTPC_H

#include <glib.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "sasl.h"
#include "smtp-reply.h"

/* Longest path we put in MAIL FROM/RCPT TO, "<>" included (RFC 5321
 * 4.5.3.1.3): what lib/address.h's HM_ADDR_PATH_MAX lets a server take. */
#define HM_SMTP_PATH_MAX 256

#define HM_SMTP_ERROR hm_smtp_error_quark()
GQuark hm_smtp_error_quark(void);

/* ---- the client ---- */

typedef enum { HM_SMTP_PROTO_SMTP, HM_SMTP_PROTO_LMTP } HmSmtpProto;

typedef struct HmSmtpClient HmSmtpClient;

/* Receives each protocol line, without its line end, for debug logs. AUTH
 * credentials arrive already masked; the message itself is shown as one
 * "<message, N octets>" line. Server text is raw: a tracer must make it
 * printable (hm_log_mask_line()). */
typedef void (*HmSmtpTraceFunc)(gboolean from_client, const char *line, gpointer data);

/* A client on a connected conn (ownership passes to the client).
 * helo_name is our host name for EHLO/LHLO/HELO. Nothing is sent yet. */
HmSmtpClient *hm_smtpc_new(HmConn *conn, HmSmtpProto proto, const char *helo_name);

/* Closes the connection without QUIT and frees. NULL-safe. */
void hm_smtpc_free(HmSmtpClient *c);

void hm_smtpc_set_trace(HmSmtpClient *c, HmSmtpTraceFunc fn, gpointer data);

/* Deadlines: command_ms for each read and write (it is set on the
 * connection), final_ms (both > 0) for the reply to the final "." of a message, which
 * the server may only send after an fsync or a delivery (RFC 5321
 * 4.5.3.2.6 suggests 10 minutes). Without this call both are the
 * connection's own timeout. */
void hm_smtpc_set_timeouts(HmSmtpClient *c, int command_ms, int final_ms);

HmConn *hm_smtpc_conn(HmSmtpClient *c);
const HmSmtpExt *hm_smtpc_ext(const HmSmtpClient *c);

/* TRUE when an idle session has something to read: the server closed it
 * (its idle timeout) or said 421 on its own. Either way it cannot carry
 * the next message; finding out before sending spares that message a
 * failed attempt. Only meaningful while no reply is awaited. */
gboolean hm_smtpc_idle_gone(HmSmtpClient *c);

/* TRUE after an error that left the session unusable (I/O, timeout,
 * malformed reply, 421 "closing"): free the client and connect anew. */
gboolean hm_smtpc_broken(const HmSmtpClient *c);

/* Reads the greeting (220 expected) and says EHLO (LMTP: LHLO) to learn
 * the extensions; an SMTP server answering EHLO with 5xx gets HELO
 * instead (no extensions then). Returns 0, or -1 with *err (HM_SMTP_ERROR
 * for a refused greeting or hello). */
int hm_smtpc_start(HmSmtpClient *c, GError **err);

/* STARTTLS (RFC 3207): requires the extension (else HM_ERROR_TLS "server
 * does not offer STARTTLS"; nothing is sent), expects 220, runs the TLS
 * handshake with hm_conn_start_tls_client(ctx, host, pin) and says
 * EHLO/LHLO again, since the extensions may change. Any failure leaves the
 * client broken: there is no going on in clear text. Returns 0 or -1. */
int hm_smtpc_starttls(HmSmtpClient *c, SSL_CTX *ctx, const char *host, const guint8 *pin,
                      GError **err);

/* AUTH (RFC 4954) with the best mechanism of lib/sasl the server offers
 * (PLAIN, with its initial response; else LOGIN). The caller decides
 * whether the connection is safe for a password. Returns 0 on 235; -1
 * with *err: HM_SMTP_ERROR with the refusal's code (535, or a temporary
 * 454...), HM_ERROR_FAILED when no mechanism fits (nothing is sent), or
 * what broke the session. Credentials never reach the trace. */
int hm_smtpc_auth(HmSmtpClient *c, const char *user, const char *password, GError **err);

/* The AUTH mechanisms the server's EHLO listed (NULL-terminated). */
const char *const *hm_smtpc_mechs(const HmSmtpClient *c);

/* As hm_smtpc_auth() with mech and creds (an OAuth2 mechanism of
 * hm_sasl_client_pick_oauth(hm_smtpc_mechs(c)) and a token); what an
 * OAuth2 failure challenge said goes into *refusal (may be NULL). */
int hm_smtpc_auth_creds(HmSmtpClient *c, const HmSaslMech *mech, const HmSaslCreds *creds,
                        HmSaslOauthError *refusal, GError **err);

/* The outcome for one recipient of a transaction. */
typedef struct {
	guint code;   /* the reply that decided it: 2xx from the end of data
	               * (LMTP: this recipient's own reply), or the refusal of
	               * MAIL, RCPT or DATA; 0 when unknown (the session broke) */
	char *reply;  /* that reply on one line; NULL with code 0 */
	gboolean unusable; /* never sent: the address or its RCPT parameters
	                    * cannot go on a command line (code 0) */
} HmSmtpRcptStatus;

void hm_smtp_rcpt_status_clear(HmSmtpRcptStatus *st, guint n);

/* One mail transaction: MAIL FROM:<sender> (with SIZE=n and BODY=8BITMIME
 * where offered), RCPT TO:<r> for each of the n recipients, DATA — sent as
 * one group when the server offers PIPELINING — then head and msg back to
 * back as one message (wire form without dot-stuffing: bare LF line ends
 * become CRLF, a final CRLF is added when missing, dots are doubled; head
 * may be NULL, and lets a caller put trace fields in front of a large
 * message without copying it) and the reply to "." (SMTP: one
 * for all; LMTP: one per accepted recipient). An SMTP server that offers
 * PIPELINING and CHUNKING gets "BDAT n LAST" and the message (nothing
 * stuffed) in the group instead of DATA: one round trip, where DATA's 354
 * costs a second. After a refusal the session
 * is RSET so it can carry the next transaction. sender is the address
 * without <> ("" for the null sender). status must have n entries; it is
 * overwritten (not freed) and filled in every case; free it with
 * hm_smtp_rcpt_status_clear().
 * A recipient whose address is unusable (control characters, <>, or a
 * path longer than HM_SMTP_PATH_MAX) is left out and marked
 * status[i].unusable; the transaction goes to the others.
 * Returns 0 when the transaction ran to its end (each status[i] tells
 * whether recipient i was accepted or was left out); -1 with *err when the
 * sender or every recipient is unusable (HM_ERROR_PARSE; nothing sent, the
 * session stays usable) or the session broke (status[] then still holds
 * what was learnt: an LMTP server may have delivered to some
 * recipients). */
int hm_smtpc_transaction(HmSmtpClient *c, const char *sender, const char *const *rcpts,
                         guint n, const char *head, gsize head_len, const char *msg,
                         gsize len, HmSmtpRcptStatus *status, GError **err);

/* TRUE when the last transaction (hm_smtpc_transaction*()) broke before
 * the server answered its MAIL command with anything but 421: the
 * connection was found closed or reset (HM_ERROR_IO), or MAIL got 421.
 * The server then holds nothing of that message, so a caller that sent
 * it over a session kept idle (which the server may close at any time)
 * may send it again at once over a new session, without a duplicate and
 * without counting a failed attempt. FALSE after a timeout, a malformed
 * reply or any later failure, when the server may have the message; and
 * FALSE when the message went out whole with MAIL (BDAT) and MAIL got no
 * 421, since a server may answer the group only once it holds it. */
gboolean hm_smtpc_lost_at_mail(const HmSmtpClient *c);

/* What a transaction may add to MAIL and RCPT (RFC 3461 DSN, RFC 6531
 * SMTPUTF8, RFC 6152 BODY). A zeroed struct is what
 * hm_smtpc_transaction() sends. The client does not check that the
 * server offers what the parameters name: the caller decides with
 * hm_smtpc_ext(), since only it knows what to do without (bounce, leave
 * out, send anyway). */
typedef struct {
	/* Appended, after a space, to "MAIL FROM:<s> [SIZE=n] [BODY=8BITMIME]":
	 * "RET=HDRS ENVID=x+2Bq SMTPUTF8". NULL for nothing. */
	const char *mail_params;
	/* NULL, or n entries, each NULL or appended after a space to RCPT TO
	 * of the recipient of the same index: "NOTIFY=SUCCESS,FAILURE
	 * ORCPT=rfc822;bob@x". */
	const char *const *rcpt_params;
	/* The message is 7-bit: no BODY=8BITMIME. Without it BODY=8BITMIME is
	 * said whenever offered, as suits a message of unknown content (a
	 * fetched one); RFC 6152 lets a 7-bit message carry it too. */
	gboolean body_7bit;
} HmSmtpTxnParams;

/* hm_smtpc_transaction() with params (NULL: none). Parameters must be
 * printable ASCII and spaces (xtext-encode values: RFC 3461 4); anything
 * else is treated as an unusable address: in MAIL, HM_ERROR_PARSE with
 * nothing sent; in a recipient's RCPT, that recipient is left out. */
int hm_smtpc_transaction_params(HmSmtpClient *c, const char *sender, const char *const *rcpts,
                                guint n, const HmSmtpTxnParams *params, const char *head,
                                gsize head_len, const char *msg, gsize len,
                                HmSmtpRcptStatus *status, GError **err);

/* hm_smtpc_transaction() for one recipient: 0 when it was accepted, else
 * -1 with *err (HM_SMTP_ERROR with the deciding reply, or as the
 * transaction's own error). */
int hm_smtpc_send_one(HmSmtpClient *c, const char *sender, const char *rcpt,
                      const char *head, gsize head_len, const char *msg, gsize len,
                      GError **err);

/* ---- transactions back to back (BDAT) ----------------------------------- */

/* TRUE when the server offers PIPELINING and CHUNKING (SMTP only) and the
 * session is sound: hm_smtpc_send_chunked() may be used. */
gboolean hm_smtpc_can_chunk(const HmSmtpClient *c);

/* Sends one transaction for one recipient — MAIL (SIZE, BODY=8BITMIME
 * where offered), RCPT, "BDAT n LAST" and the message (head then msg, CRLF
 * line ends, nothing else changed) — without reading any reply; output is
 * flushed only as it grows. hm_smtpc_collect() reads the replies. Returns
 * 0, or -1 with *err: an unusable address or a server that takes no
 * pipelined BDAT (HM_ERROR_PARSE / HM_ERROR_FAILED, nothing sent), or
 * the session broke. */
int hm_smtpc_send_chunked(HmSmtpClient *c, const char *sender, const char *rcpt,
                          const char *head, gsize head_len, const char *msg, gsize len,
                          GError **err);

/* Flushes and reads the replies of the first n transactions sent with
 * hm_smtpc_send_chunked() and not yet collected, in order, within the
 * final deadline: status[i] is the first refusal of MAIL or RCPT, else
 * the reply to BDAT (2xx: the server holds the message). Those sent after
 * them stay to be collected by a later call, so a caller may send the next
 * group while the server makes this one durable. Returns 0; or -1 with
 * *err when fewer than n are outstanding or the session broke (status
 * holds what was read: code 0 for the rest). Clear status with
 * hm_smtp_rcpt_status_clear(). */
int hm_smtpc_collect(HmSmtpClient *c, HmSmtpRcptStatus *status, guint n, GError **err);

/* Says QUIT and waits (within the connection's timeout) for the reply,
 * which is not checked: everything before it was already settled. Best
 * effort; then the client can only be freed. */
void hm_smtpc_quit(HmSmtpClient *c);

#endif
