/* The SMTP client's mail transactions (lib/smtpc.h): MAIL, RCPT and the
 * message by DATA, or by BDAT where the server takes it pipelined; the
 * session they run in is smtpc.c's. */
#include <config.h>

#include <string.h>

#include "dotstuff.h"
#include "error.h"
#include "smtpc-private.h"
#include "smtpc.h"

/* Message bytes dot-stuffed and queued per step, so a large message never
 * needs a second, stuffed copy in memory. */
#define SMTPC_BODY_CHUNK (64 * 1024)

/* How long replies are awaited after the group could not be sent: what a
 * server said before it closed or reset the connection is already here;
 * this only bounds the wait on one that stopped reading. */
#define SMTPC_AFTER_LOSS_MS 2000

/* ---- the client: one transaction ----------------------------------------- */

void
hm_smtp_rcpt_status_clear(HmSmtpRcptStatus *st, guint n)
{
	for (guint i = 0; i < n; i++) {
		g_free(st[i].reply);
		st[i].reply = NULL;
		st[i].code = 0;
		st[i].unusable = FALSE;
	}
}

gboolean
hm_smtpc_usable_path(const char *addr, gboolean may_be_empty)
{
	gsize len = strlen(addr);

	/* The path is the address and its "<>". */
	if (len + 2 > HM_SMTP_PATH_MAX || (len == 0 && !may_be_empty))
		return FALSE;
	for (const char *p = addr; *p != '\0'; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return FALSE;
	return TRUE;
}

typedef struct {
	HmSmtpClient *c;
	guint n;
	HmSmtpRcptStatus *status;
	gboolean *accepted;    /* RCPT got 2xx; outcome still open */
	guint n_accepted;
	gboolean refused;      /* some refusal happened: RSET afterwards */
	guint mail_code;       /* MAIL's reply, 0 before it */
	gboolean chunk_sent;   /* the message went out with MAIL (BDAT), whole */
	guint64 size;          /* the message's wire size (CRLF), 0 before wire_size() */
	const char *head;      /* the message: head then body, back to back */
	gsize head_len;
	const char *body;
	gsize body_len;
	const HmSmtpTxnParams *params; /* never NULL */
} Txn;

static void
set_status(Txn *t, guint i, const HmSmtpReply *r)
{
	g_free(t->status[i].reply);
	t->status[i].code = r->code;
	t->status[i].reply = hm_smtp_reply_oneline(r);
	if (r->code >= 300)
		t->refused = TRUE;
}

/* The message's size on the wire, line ends made CRLF: SIZE= and BDAT
 * both need it, and counting means reading the whole message. */
static guint64
wire_size(Txn *t)
{
	if (t->size == 0) {
		HmCrlfCounter cc;

		hm_crlf_counter_init(&cc);
		hm_crlf_counter_feed(&cc, t->head, t->head_len);
		hm_crlf_counter_feed(&cc, t->body, t->body_len);
		t->size = hm_crlf_counter_total(&cc);
	}
	return t->size;
}

static int
send_mail_from(Txn *t, const char *sender, GError **err)
{
	HmSmtpClient *c = t->c;
	g_autoptr(GString) cmd = g_string_new(NULL);

	g_string_printf(cmd, "MAIL FROM:<%s>", sender);
	if (c->ext.flags & HM_SMTP_EXT_SIZE)
		g_string_append_printf(cmd, " SIZE=%" G_GUINT64_FORMAT, wire_size(t));
	if ((c->ext.flags & HM_SMTP_EXT_8BITMIME) && !t->params->body_7bit)
		g_string_append(cmd, " BODY=8BITMIME");
	if (t->params->mail_params != NULL)
		g_string_append_printf(cmd, " %s", t->params->mail_params);
	return hm_smtpc_send_line(c, cmd->str, NULL, err);
}

static int
send_rcpt_to(Txn *t, const char *const *rcpts, guint i, GError **err)
{
	const char *const *extra = t->params->rcpt_params;

	if (extra != NULL && extra[i] != NULL)
		return hm_smtpc_send_cmd(t->c, err, "RCPT TO:<%s> %s", rcpts[i], extra[i]);
	return hm_smtpc_send_cmd(t->c, err, "RCPT TO:<%s>", rcpts[i]);
}

/* Reads the reply to MAIL (i < 0) or to RCPT i and records it. Returns 0
 * for a well-formed reply of any class we expect, -1 when the session broke. */
static int
envelope_reply(Txn *t, int i, gboolean *mail_ok, GError **err)
{
	HmSmtpReply r;
	int rc = hm_smtpc_read_reply(t->c, &r, err);

	if (rc == 0 && r.code < 400 && r.code / 100 != 2)
		rc = hm_smtpc_reply_error(t->c, &r, i < 0 ? "MAIL" : "RCPT", err);
	if (rc == 0 && i < 0) {
		t->mail_code = r.code;
		*mail_ok = r.code / 100 == 2;
		/* Every recipient fails with MAIL's refusal, not with the
		 * "503 need MAIL" that follows it. */
		for (guint k = 0; k < t->n && !*mail_ok; k++)
			set_status(t, k, &r);
	} else if (rc == 0 && *mail_ok) {
		if (r.code / 100 == 2) {
			t->accepted[i] = TRUE;
			t->n_accepted++;
		} else {
			set_status(t, (guint)i, &r);
		}
	}
	hm_smtp_reply_clear(&r);
	return rc;
}

/* Reads the reply to DATA. Returns 1 when the message may follow (354),
 * 0 when DATA was refused (accepted recipients fail with its reply), -1
 * when the session broke. */
static int
data_reply(Txn *t, GError **err)
{
	HmSmtpReply r;
	int rc = hm_smtpc_read_reply(t->c, &r, err);

	if (rc == 0 && r.code == 354)
		rc = 1;
	else if (rc == 0 && r.code < 400)
		rc = hm_smtpc_reply_error(t->c, &r, "DATA", err);
	for (guint i = 0; rc == 0 && i < t->n; i++)
		if (t->accepted[i]) {
			set_status(t, i, &r);
			t->accepted[i] = FALSE;
		}
	if (rc == 0)
		t->refused = TRUE;
	hm_smtp_reply_clear(&r);
	return rc;
}

/* MAIL, RCPT... and DATA as one group (RFC 2920: DATA last), then their
 * replies in order. Returns as data_reply(). */
static int
envelope_pipelined(Txn *t, const char *sender, const char *const *rcpts, GError **err)
{
	gboolean mail_ok = FALSE;

	if (send_mail_from(t, sender, err) < 0)
		return -1;
	for (guint i = 0; i < t->n; i++)
		if (send_rcpt_to(t, rcpts, i, err) < 0)
			return -1;
	if (hm_smtpc_send_cmd(t->c, err, "DATA") < 0 || hm_smtpc_flush(t->c, err) < 0)
		return -1;
	if (envelope_reply(t, -1, &mail_ok, err) < 0)
		return -1;
	for (guint i = 0; i < t->n; i++)
		if (envelope_reply(t, (int)i, &mail_ok, err) < 0)
			return -1;
	return data_reply(t, err);
}

/* The same one command at a time, for servers without PIPELINING. */
static int
envelope_stepwise(Txn *t, const char *sender, const char *const *rcpts, GError **err)
{
	gboolean mail_ok = FALSE;

	if (send_mail_from(t, sender, err) < 0 || hm_smtpc_flush(t->c, err) < 0 ||
	    envelope_reply(t, -1, &mail_ok, err) < 0)
		return -1;
	for (guint i = 0; mail_ok && i < t->n; i++)
		if (send_rcpt_to(t, rcpts, i, err) < 0 || hm_smtpc_flush(t->c, err) < 0 ||
		    envelope_reply(t, (int)i, &mail_ok, err) < 0)
			return -1;
	if (t->n_accepted == 0)
		return 0;
	if (hm_smtpc_send_cmd(t->c, err, "DATA") < 0 || hm_smtpc_flush(t->c, err) < 0)
		return -1;
	return data_reply(t, err);
}

int
hm_smtpc_send_stuffed(HmSmtpClient *c, HmDotStuffer *ds, GString *buf, const char *data,
                      gsize len, GError **err)
{
	for (gsize off = 0; off < len; off += SMTPC_BODY_CHUNK) {
		hm_dotstuff_feed(ds, data + off, MIN(SMTPC_BODY_CHUNK, len - off), buf);
		if (hm_conn_write(c->pp.conn, buf->str, buf->len, err) < 0)
			return -1;
		g_string_truncate(buf, 0);
	}
	return 0;
}

/* Sends the message (head, then body) dot-stuffed, and its final ".". */
static int
send_body(Txn *t, GError **err)
{
	HmSmtpClient *c = t->c;
	HmDotStuffer ds;
	g_autoptr(GString) buf = g_string_sized_new(SMTPC_BODY_CHUNK + SMTPC_BODY_CHUNK / 2);
	int rc;

	if (c->pp.trace != NULL) {
		g_autofree char *note = g_strdup_printf("<message, %" G_GSIZE_FORMAT " octets>",
		                                        t->head_len + t->body_len);

		c->pp.trace(TRUE, note, c->pp.trace_data);
	}
	hm_dotstuff_init(&ds);
	rc = hm_smtpc_send_stuffed(c, &ds, buf, t->head, t->head_len, err);
	if (rc == 0)
		rc = hm_smtpc_send_stuffed(c, &ds, buf, t->body, t->body_len, err);
	if (rc == 0) {
		hm_dotstuff_finish(&ds, buf);
		if (c->pp.trace != NULL)
			c->pp.trace(TRUE, ".", c->pp.trace_data);
		rc = hm_conn_write(c->pp.conn, buf->str, buf->len, err);
	}
	if (rc < 0) {
		c->pp.broken = TRUE;
		return -1;
	}
	return hm_smtpc_flush(c, err);
}

/* The reply (SMTP) or replies (LMTP, one per accepted recipient, in
 * order) to the final ".", read within the final deadline. */
static int
final_replies(Txn *t, GError **err)
{
	HmSmtpClient *c = t->c;
	gboolean lmtp = c->proto == HM_SMTP_PROTO_LMTP;

	for (guint i = 0; i < t->n; i++) {
		HmSmtpReply r;

		if (!t->accepted[i])
			continue;
		if (hm_smtpc_read_reply(c, &r, err) < 0)
			return -1;
		if (r.code / 100 != 2 && r.code < 400) {
			int rc = hm_smtpc_reply_error(c, &r, "end of data", err);

			hm_smtp_reply_clear(&r);
			return rc;
		}
		/* SMTP: the one reply settles every accepted recipient. */
		for (guint k = i; k < t->n; k++)
			if (t->accepted[k] && (k == i || !lmtp))
				set_status(t, k, &r);
		hm_smtp_reply_clear(&r);
		if (!lmtp)
			break;
	}
	return 0;
}

static void
rset(HmSmtpClient *c)
{
	HmSmtpReply r;

	if (hm_smtpc_send_cmd(c, NULL, "RSET") < 0 || hm_smtpc_roundtrip(c, &r, NULL) < 0)
		return;
	if (r.code / 100 != 2)
		c->pp.broken = TRUE;
	hm_smtp_reply_clear(&r);
}

/* A parameter string goes into a command line as it is: one CR or LF
 * would end the command and start another. */
static gboolean
usable_params(const char *params)
{
	for (const char *p = params; p != NULL && *p != '\0'; p++)
		if ((guchar)*p < 0x20 || (guchar)*p > 0x7e)
			return FALSE;
	return TRUE;
}

/* What fails the whole transaction before anything is sent: the sender
 * or the MAIL parameters. */
static int
check_envelope(const char *sender, const HmSmtpTxnParams *params, GError **err)
{
	if (!hm_smtpc_usable_path(sender, TRUE)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "unusable sender address");
		return -1;
	}
	if (!usable_params(params->mail_params)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "unusable MAIL parameters");
		return -1;
	}
	return 0;
}

/* Marks the recipients whose address or RCPT parameters cannot go on a
 * command line (status[i].unusable) and lists the others in usable[].
 * Returns how many are usable; with none, -1 with *err. */
static int
check_rcpts(const char *const *rcpts, guint n, const HmSmtpTxnParams *params,
            HmSmtpRcptStatus *status, guint *usable, GError **err)
{
	const char *why = NULL;
	guint n_usable = 0;

	for (guint i = 0; i < n; i++) {
		const char *bad = NULL;

		if (!hm_smtpc_usable_path(rcpts[i], FALSE))
			bad = "unusable recipient address";
		else if (params->rcpt_params != NULL && !usable_params(params->rcpt_params[i]))
			bad = "unusable RCPT parameters";
		if (bad == NULL) {
			usable[n_usable++] = i;
		} else {
			status[i].unusable = TRUE;
			why = bad;
		}
	}
	if (n_usable > 0)
		return (int)n_usable;
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s", why);
	return -1;
}

int
hm_smtpc_transaction(HmSmtpClient *c, const char *sender, const char *const *rcpts,
                     guint n, const char *head, gsize head_len, const char *msg, gsize len,
                     HmSmtpRcptStatus *status, GError **err)
{
	return hm_smtpc_transaction_params(c, sender, rcpts, n, NULL, head, head_len, msg, len,
	                                   status, err);
}

/* MAIL, RCPT... and "BDAT n LAST" with the message as one group (RFC 3030
 * with RFC 2920), then every reply: one round trip where DATA takes two,
 * since its 354 must be awaited before the message may follow. The server
 * reads the chunk whatever it answered before it (RFC 3030 2), so a
 * refused MAIL or RCPT costs the message's bytes on the wire, nothing
 * else. When sending fails (a server that refused MAIL may close while a
 * large message is still going out), the replies already sent are read
 * all the same, so that refusal decides as it would after DATA. Returns 0
 * when every reply was read, -1 when the session broke. */
static int
txn_chunked(Txn *t, const char *sender, const char *const *rcpts, GError **err)
{
	HmSmtpClient *c = t->c;
	int saved_ms = hm_conn_timeout(c->pp.conn);
	GError *serr = NULL;
	HmSmtpReply r;
	gboolean mail_ok = FALSE;
	int sent, rc;

	sent = send_mail_from(t, sender, &serr);
	for (guint i = 0; sent == 0 && i < t->n; i++)
		sent = send_rcpt_to(t, rcpts, i, &serr);
	if (sent == 0)
		sent = hm_smtpc_send_bdat(c, wire_size(t), t->head, t->head_len, t->body,
		                          t->body_len, &serr);
	if (sent == 0)
		sent = hm_smtpc_flush(c, &serr);
	t->chunk_sent = sent == 0;
	/* Postfix answers MAIL and RCPT before it reads the chunk, and holds
	 * BDAT's reply until that answer is acknowledged. */
	hm_conn_quickack(c->pp.conn);
	/* The replies come once the server has made the message durable. */
	if (sent < 0) {
		hm_conn_read_after_write_failure(c->pp.conn);
		hm_conn_set_timeout(c->pp.conn, MIN(saved_ms, SMTPC_AFTER_LOSS_MS));
	}
	else if (c->final_ms > 0)
		hm_conn_set_timeout(c->pp.conn, c->final_ms);
	rc = envelope_reply(t, -1, &mail_ok, sent < 0 ? NULL : err);
	for (guint i = 0; rc == 0 && i < t->n; i++)
		rc = envelope_reply(t, (int)i, &mail_ok, sent < 0 ? NULL : err);
	if (rc == 0 && sent == 0)
		rc = hm_smtpc_read_reply(c, &r, err);
	hm_conn_set_timeout(c->pp.conn, saved_ms);
	if (sent < 0) {
		g_propagate_error(err, serr);
		return -1;
	}
	if (rc < 0)
		return -1;
	if (r.code < 400 && r.code / 100 != 2)
		rc = hm_smtpc_reply_error(c, &r, "BDAT", err);
	/* BDAT's reply settles the recipients RCPT accepted; with none, it
	 * is the server's "no valid recipients", already said by RCPT. */
	for (guint i = 0; rc == 0 && i < t->n; i++)
		if (t->accepted[i])
			set_status(t, i, &r);
	hm_smtp_reply_clear(&r);
	return rc;
}

/* The transaction once its input was checked: as
 * hm_smtpc_transaction_params(). */
static int
run_txn(Txn *t, const char *sender, const char *const *rcpts, GError **err)
{
	HmSmtpClient *c = t->c;
	int rc;

	if (hm_smtpc_can_chunk(c))
		rc = txn_chunked(t, sender, rcpts, err);
	else if (c->ext.flags & HM_SMTP_EXT_PIPELINING)
		rc = envelope_pipelined(t, sender, rcpts, err);
	else
		rc = envelope_stepwise(t, sender, rcpts, err);
	if (rc == 1 && t->n_accepted == 0) {
		/* DATA accepted with no recipient left (RFC 2920 3.1): end the
		 * empty message; its reply does not matter. */
		HmSmtpReply r = { 0 };

		t->refused = TRUE;
		rc = hm_smtpc_send_cmd(c, err, ".") == 0 && hm_smtpc_roundtrip(c, &r, err) == 0 ? 0 : -1;
		hm_smtp_reply_clear(&r);
	} else if (rc == 1) {
		rc = send_body(t, err);
		if (rc == 0 && c->final_ms > 0)
			hm_conn_set_timeout(c->pp.conn, c->final_ms);
		if (rc == 0)
			rc = final_replies(t, err);
		if (c->final_ms > 0)
			hm_conn_set_timeout(c->pp.conn, c->command_ms);
	}
	if (rc == 0 && t->refused && !c->pp.broken)
		rset(c);
	return rc;
}

/* The transaction for recipients that were all checked: as
 * hm_smtpc_transaction_params(). */
static int
txn_checked(HmSmtpClient *c, const char *sender, const char *const *rcpts, guint n,
            const HmSmtpTxnParams *params, const char *head, gsize head_len, const char *msg,
            gsize len, HmSmtpRcptStatus *status, GError **err)
{
	g_autofree gboolean *accepted = g_new0(gboolean, MAX(n, 1));
	Txn t = { .c = c,
		  .n = n,
		  .status = status,
		  .accepted = accepted,
		  .head = head,
		  .head_len = head != NULL ? head_len : 0,
		  .body = msg,
		  .body_len = len,
		  .params = params };
	GError *terr = NULL;
	int rc;

	rc = run_txn(&t, sender, rcpts, &terr);
	/* A closed connection shows as EOF or a reset (IO), or as a 421 read
	 * before it (stepwise: then nothing failed on our side). A message
	 * that went out whole with MAIL (BDAT) may be held by a server that
	 * answers only once it is durable, unless MAIL got 421. */
	c->lost_at_mail = c->pp.broken &&
	                  (t.mail_code == 421 || (t.mail_code == 0 && !t.chunk_sent)) &&
	                  (terr == NULL || g_error_matches(terr, HM_ERROR, HM_ERROR_IO));
	if (terr != NULL)
		g_propagate_error(err, terr);
	return rc;
}

int
hm_smtpc_transaction_params(HmSmtpClient *c, const char *sender, const char *const *rcpts, guint n,
                            const HmSmtpTxnParams *params, const char *head, gsize head_len,
                            const char *msg, gsize len, HmSmtpRcptStatus *status, GError **err)
{
	static const HmSmtpTxnParams none = { 0 };
	const HmSmtpTxnParams *prm = params != NULL ? params : &none;
	g_autofree guint *usable = g_new0(guint, MAX(n, 1));
	g_autofree const char **sub_rcpts = NULL;
	g_autofree const char **sub_params = NULL;
	g_autofree HmSmtpRcptStatus *sub_status = NULL;
	HmSmtpTxnParams sub_prm;
	int n_usable, rc;

	memset(status, 0, sizeof(*status) * n);
	c->lost_at_mail = FALSE;
	if (check_envelope(sender, prm, err) < 0)
		return -1;
	if (n == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "no recipients");
		return -1;
	}
	if ((n_usable = check_rcpts(rcpts, n, prm, status, usable, err)) < 0)
		return -1;
	if (c->pp.broken) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "session already broken");
		return -1;
	}
	if ((guint)n_usable == n)
		return txn_checked(c, sender, rcpts, n, prm, head, head_len, msg, len, status, err);
	/* One unusable recipient must not cost the others their delivery:
	 * the transaction goes to the usable ones alone. */
	sub_rcpts = g_new0(const char *, n_usable);
	sub_params = g_new0(const char *, n_usable);
	sub_status = g_new0(HmSmtpRcptStatus, n_usable);
	for (int k = 0; k < n_usable; k++) {
		sub_rcpts[k] = rcpts[usable[k]];
		sub_params[k] = prm->rcpt_params != NULL ? prm->rcpt_params[usable[k]] : NULL;
	}
	sub_prm = *prm;
	sub_prm.rcpt_params = prm->rcpt_params != NULL ? sub_params : NULL;
	rc = txn_checked(c, sender, sub_rcpts, (guint)n_usable, &sub_prm, head, head_len, msg, len,
	                 sub_status, err);
	for (int k = 0; k < n_usable; k++)
		status[usable[k]] = sub_status[k];
	return rc;
}

int
hm_smtpc_send_one(HmSmtpClient *c, const char *sender, const char *rcpt, const char *head,
                  gsize head_len, const char *msg, gsize len, GError **err)
{
	HmSmtpRcptStatus st;
	const char *rcpts[1] = { rcpt };
	GError *terr = NULL;
	int rc = hm_smtpc_transaction(c, sender, rcpts, 1, head, head_len, msg, len, &st,
	                              &terr);

	/* A refusal that arrived before the session broke (421 then EOF)
	 * says more than the broken connection does. */
	if (st.code != 0 && st.code / 100 != 2) {
		g_clear_error(&terr);
		g_set_error(err, HM_SMTP_ERROR, (gint)st.code, "%s", st.reply);
		rc = -1;
	} else if (rc < 0) {
		g_propagate_error(err, terr);
	} else if (st.code == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "no reply for the recipient");
		rc = -1;
	}
	hm_smtp_rcpt_status_clear(&st, 1);
	return rc;
}
