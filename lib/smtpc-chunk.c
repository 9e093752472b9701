/* Transactions back to back with BDAT (RFC 3030) and PIPELINING (RFC
 * 2920): MAIL, RCPT and "BDAT n LAST" with the message go out without
 * waiting, and the replies of the whole group are read at the end. The
 * server may then make the group durable with one flush (homemail-relay's
 * group commit does) instead of one per message, which DATA cannot allow:
 * its 354 must be awaited, and it comes only after the reply to the
 * message before. */
#include <config.h>

#include <string.h>

#include "dotstuff.h"
#include "error.h"
#include "smtpc-private.h"

/* Message bytes converted and queued per step. */
#define CHUNK_STEP (64 * 1024)

gboolean
hm_smtpc_can_chunk(const HmSmtpClient *c)
{
	guint need = HM_SMTP_EXT_PIPELINING | HM_SMTP_EXT_CHUNKING;

	return c->proto == HM_SMTP_PROTO_SMTP && (c->ext.flags & need) == need && !c->pp.broken;
}

int
hm_smtpc_send_chunked(HmSmtpClient *c, const char *sender, const char *rcpt, const char *head,
                      gsize head_len, const char *msg, gsize len, GError **err)
{
	g_autoptr(GString) mail = g_string_new(NULL);
	HmCrlfCounter cc;
	guint64 size;
	int rc;

	if (!hm_smtpc_usable_path(sender, TRUE) || !hm_smtpc_usable_path(rcpt, FALSE)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "unusable address");
		return -1;
	}
	if (!hm_smtpc_can_chunk(c)) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "the server takes no pipelined BDAT");
		return -1;
	}
	hm_crlf_counter_init(&cc);
	hm_crlf_counter_feed(&cc, head != NULL ? head : "", head != NULL ? head_len : 0);
	hm_crlf_counter_feed(&cc, msg, len);
	size = hm_crlf_counter_total(&cc);
	g_string_printf(mail, "MAIL FROM:<%s>", sender);
	if (c->ext.flags & HM_SMTP_EXT_SIZE)
		g_string_append_printf(mail, " SIZE=%" G_GUINT64_FORMAT, size);
	if (c->ext.flags & HM_SMTP_EXT_8BITMIME)
		g_string_append(mail, " BODY=8BITMIME");
	c->chunked++;
	rc = hm_pp_send(&c->pp, mail->str, NULL, err);
	if (rc == 0) {
		g_autofree char *rcpt_line = g_strdup_printf("RCPT TO:<%s>", rcpt);

		rc = hm_pp_send(&c->pp, rcpt_line, NULL, err);
	}
	/* A failed send has marked the session broken already. */
	return rc == 0 ? hm_smtpc_send_bdat(c, size, head, head != NULL ? head_len : 0, msg, len, err)
	               : -1;
}

int
hm_smtpc_send_bdat(HmSmtpClient *c, guint64 size, const char *head, gsize head_len,
                   const char *body, gsize body_len, GError **err)
{
	g_autoptr(GString) buf = g_string_sized_new(CHUNK_STEP + CHUNK_STEP / 2);
	g_autofree char *bdat = g_strdup_printf("BDAT %" G_GUINT64_FORMAT " LAST", size);
	HmDotStuffer ds;
	int rc = hm_pp_send(&c->pp, bdat, NULL, err);

	if (rc == 0 && c->pp.trace != NULL) {
		g_autofree char *note = g_strdup_printf("<message, %" G_GUINT64_FORMAT " octets>", size);

		c->pp.trace(TRUE, note, c->pp.trace_data);
	}
	hm_dotstuff_init_crlf(&ds);
	if (rc == 0 && head_len > 0)
		rc = hm_smtpc_send_stuffed(c, &ds, buf, head, head_len, err);
	if (rc == 0)
		rc = hm_smtpc_send_stuffed(c, &ds, buf, body, body_len, err);
	if (rc == 0) {
		hm_dotstuff_finish(&ds, buf);
		rc = hm_conn_write(c->pp.conn, buf->str, buf->len, err);
	}
	if (rc < 0)
		c->pp.broken = TRUE;
	return rc;
}

/* Reads the three replies of one transaction into *st: the first refusal
 * of MAIL or RCPT, else BDAT's reply. -1 when the session broke. */
static int
one_transaction(HmSmtpClient *c, HmSmtpRcptStatus *st, GError **err)
{
	for (int k = 0; k < 3; k++) {
		HmSmtpReply r;

		if (hm_smtpc_read_reply(c, &r, err) < 0)
			return -1;
		if (r.code < 200 || (r.code >= 300 && r.code < 400)) {
			g_autofree char *one = hm_smtp_reply_oneline(&r);

			hm_smtp_reply_clear(&r);
			c->pp.broken = TRUE;
			g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "unexpected reply: %s", one);
			return -1;
		}
		/* The first refusal decides; BDAT's reply settles the rest. */
		if (st->code == 0 && (r.code >= 400 || k == 2)) {
			st->code = r.code;
			st->reply = hm_smtp_reply_oneline(&r);
		}
		hm_smtp_reply_clear(&r);
	}
	return 0;
}

int
hm_smtpc_collect(HmSmtpClient *c, HmSmtpRcptStatus *status, guint n, GError **err)
{
	int rc = 0;

	memset(status, 0, sizeof(*status) * n);
	if (n > c->chunked) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%u transactions sent, %u to collect",
		            c->chunked, n);
		return -1;
	}
	c->chunked -= n;
	if (n == 0)
		return 0;
	if (hm_pp_flush(&c->pp, err) < 0)
		return -1;
	/* Postfix answers MAIL and RCPT before it reads the chunk, and holds
	 * BDAT's reply until that answer is acknowledged. */
	hm_conn_quickack(c->pp.conn);
	/* The server may make the whole group durable before it answers. */
	if (c->final_ms > 0)
		hm_conn_set_timeout(c->pp.conn, c->final_ms);
	for (guint i = 0; i < n && rc == 0; i++)
		rc = one_transaction(c, &status[i], err);
	if (c->final_ms > 0)
		hm_conn_set_timeout(c->pp.conn, c->command_ms);
	return rc;
}
