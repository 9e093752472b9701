/* The smart-host client (relay/smarthost.h): sender rewriting, the choice
 * of smart host, what the server must offer for this message, and DSN
 * pass-through; the sessions are relay/smarthost-conn.c's. */
#include <config.h>

#include <string.h>

#include "lib/dotstuff.h"
#include "lib/error.h"
#include "lib/header.h"
#include "lib/log.h"
#include "relay/smarthost-private.h"
#include "relay/smarthost.h"
#include "relay/smtp-parse.h"

struct RelaySmarthosts {
	const HmConfig *cfg;
	const RelayRewriter *rw;
	RelaySmarthostConn *hosts; /* one per cfg->relay.smarthosts[] */
};

/* One message on its way out: the envelope as sent and the message as
 * head (the rewritten header section, or NULL) then body. */
typedef struct {
	const RelayQueueEntry *e;
	const guint *idx;
	guint n;
	char *sender; /* rewritten */
	char *user;   /* the local user sender was rewritten for; NULL: none */
	char *head;   /* NULL when the header section was not rewritten */
	gsize head_len;
	const char *body;
	gsize body_len;
	RelayRcptResult *results;
} Outgoing;

void
relay_rcpt_result_clear(RelayRcptResult *r)
{
	g_free(r->reply);
	memset(r, 0, sizeof(*r));
}

RelaySmarthosts *
relay_smarthosts_new(const HmConfig *cfg, const RelayRewriter *rw)
{
	RelaySmarthosts *sh = g_new0(RelaySmarthosts, 1);

	sh->cfg = cfg;
	sh->rw = rw;
	sh->hosts = g_new0(RelaySmarthostConn, MAX(cfg->relay.n_smarthosts, 1));
	for (gsize i = 0; i < cfg->relay.n_smarthosts; i++) {
		sh->hosts[i].conf = &cfg->relay.smarthosts[i];
		sh->hosts[i].helo_name = cfg->hostname;
		sh->hosts[i].state_dir = cfg->state_dir;
	}
	return sh;
}

gint64
relay_smarthosts_expire(RelaySmarthosts *sh, gint64 now)
{
	gint64 next = G_MAXINT64;

	for (gsize i = 0; i < sh->cfg->relay.n_smarthosts; i++)
		next = MIN(next, relay_smarthost_expire(&sh->hosts[i], now));
	return next;
}

void
relay_smarthosts_forget_down(RelaySmarthosts *sh)
{
	for (gsize i = 0; i < sh->cfg->relay.n_smarthosts; i++)
		g_clear_pointer(&sh->hosts[i].down_reason, g_free);
}

guint64
relay_smarthosts_size_max(const RelaySmarthosts *sh, const char *rewritten_sender)
{
	const HmSmarthostConf *conf = relay_smarthost_for(sh->cfg, rewritten_sender);

	return conf != NULL ? sh->hosts[conf - sh->cfg->relay.smarthosts].size_max : 0;
}

void
relay_smarthosts_free(RelaySmarthosts *sh)
{
	if (sh == NULL)
		return;
	for (gsize i = 0; i < sh->cfg->relay.n_smarthosts; i++)
		relay_smarthost_conn_clear(&sh->hosts[i]);
	g_free(sh->hosts);
	g_free(sh);
}

/* Every recipient gets the same outcome. */
static void all_results(Outgoing *o, guint code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void refuse_all(Outgoing *o, guint code, const char *status, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

static void
all_results(Outgoing *o, guint code, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *reply = NULL;

	va_start(ap, fmt);
	reply = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	for (guint i = 0; i < o->n; i++) {
		g_free(o->results[i].reply);
		o->results[i].code = code;
		o->results[i].reply = g_strdup(reply);
	}
}

/* The words of a refusal of our own: "5.3.4 this relay refused ...". No
 * reply code in front, so that the notice quotes it as this relay's
 * (relay/bounce.c), not as something the smart host answered. */
static char *
own_refusal(const char *status, const char *fmt, va_list ap) G_GNUC_PRINTF(2, 0);

static char *
own_refusal(const char *status, const char *fmt, va_list ap)
{
	g_autofree char *words = g_strdup_vprintf(fmt, ap);

	return g_strdup_printf("%s this relay refused %s", status, words);
}

/* Every recipient gets the same refusal of our own (own_refusal()): code
 * 5xx, and no smart host named as the one that answered. */
static void
refuse_all(Outgoing *o, guint code, const char *status, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *reply = NULL;

	va_start(ap, fmt);
	reply = own_refusal(status, fmt, ap);
	va_end(ap);
	for (guint i = 0; i < o->n; i++) {
		g_free(o->results[i].reply);
		o->results[i].code = code;
		o->results[i].reply = g_strdup(reply);
		o->results[i].remote_mta = NULL;
	}
}

/* TRUE when the message cannot go without SMTPUTF8: UTF-8 in the sender,
 * a recipient or the header section. A client may ask for SMTPUTF8 with
 * nothing in it that needs it; such a message goes as it is to a server
 * without the extension (Postfix's smtputf8_autodetect does the same). */
static gboolean
needs_smtputf8(const Outgoing *o)
{
	if (!o->e->smtputf8)
		return FALSE;
	if (hm_has_8bit(o->sender, strlen(o->sender)))
		return TRUE;
	for (guint i = 0; i < o->n; i++) {
		const char *a = relay_queue_rcpt(o->e, o->idx[i])->addr;

		if (hm_has_8bit(a, strlen(a)))
			return TRUE;
	}
	if (o->head != NULL)
		return hm_has_8bit(o->head, o->head_len);
	return hm_has_8bit(o->body, hm_header_section_end(o->body, o->body_len));
}

/* Octets as sent (CRLF line ends, a final CRLF), before dot-stuffing: what
 * SIZE counts (RFC 1870). */
static guint64
wire_size(const Outgoing *o)
{
	HmCrlfCounter cc;

	hm_crlf_counter_init(&cc);
	if (o->head != NULL)
		hm_crlf_counter_feed(&cc, o->head, o->head_len);
	hm_crlf_counter_feed(&cc, o->body, o->body_len);
	return hm_crlf_counter_total(&cc);
}

/* Our own refusals once the server's extensions are known: 0 when the
 * message may go. */
static int
check_offer(Outgoing *o, const RelaySmarthostConn *h, const HmSmtpExt *ext)
{
	const char *name = h->conf->name;
	guint64 size;

	/* BINARYMIME would need BDAT from the server however the message
	 * is sent, and lib/smtpc falls back to DATA; the SMTP server does
	 * not offer it either, so only a damaged queue gets here. */
	if (o->e->body == RELAY_BODY_BINARYMIME) {
		refuse_all(o, 554, "5.6.3",
		           "to send the message: BINARYMIME content cannot go to the smart host %s",
		           name);
		return -1;
	}
	/* RFC 6531 3.7.4.2 lets the message bounce: a downgrade would change
	 * addresses the sender chose. */
	if (!(ext->flags & HM_SMTP_EXT_SMTPUTF8) && needs_smtputf8(o)) {
		refuse_all(o, 553, "5.6.7",
		           "to send the message: it needs SMTPUTF8 (UTF-8 addresses), which the "
		           "smart host %s does not offer",
		           name);
		return -1;
	}
	if ((ext->flags & HM_SMTP_EXT_SIZE) && ext->size_max > 0 &&
	    (size = wire_size(o)) > ext->size_max) {
		refuse_all(o, 552, "5.3.4",
		           "to send the message: its size of %" G_GUINT64_FORMAT
		           " octets exceeds the limit of %" G_GUINT64_FORMAT
		           " octets that the smart host %s announces",
		           size, ext->size_max, name);
		return -1;
	}
	return 0;
}

/* "rfc822;bob@x" as "rfc822;" and the address in xtext (RFC 3461 4.2);
 * NULL for a value without its type. */
static char *
orcpt_param(const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	GString *out;

	if (semi == NULL || semi == orcpt)
		return NULL;
	out = g_string_new("ORCPT=");
	g_string_append_len(out, orcpt, semi - orcpt + 1);
	relay_xtext_encode(semi + 1, out);
	return g_string_free(out, FALSE);
}

/* The MAIL parameters, NULL for none: RET and ENVID where DSN is
 * offered (elsewhere the DSNs are ours: relay/dsn.c honours them), and
 * SMTPUTF8 where the message asked for it and the server offers it. */
static char *
mail_params(const Outgoing *o, const HmSmtpExt *ext)
{
	GString *p = g_string_new(NULL);
	const char *ret = relay_ret_name(o->e->ret);

	if ((ext->flags & HM_SMTP_EXT_DSN) && ret != NULL)
		g_string_append_printf(p, " RET=%s", ret);
	if ((ext->flags & HM_SMTP_EXT_DSN) && o->e->envid != NULL) {
		g_string_append(p, " ENVID=");
		relay_xtext_encode(o->e->envid, p);
	}
	if (o->e->smtputf8 && (ext->flags & HM_SMTP_EXT_SMTPUTF8))
		g_string_append(p, " SMTPUTF8");
	if (p->len == 0) {
		g_string_free(p, TRUE);
		return NULL;
	}
	g_string_erase(p, 0, 1);
	return g_string_free(p, FALSE);
}

/* RCPT parameters for recipient i, NULL for none; *notify is set when
 * NOTIFY is among them. */
static char *
rcpt_params(const Outgoing *o, const HmSmtpExt *ext, guint i, gboolean *notify)
{
	const RelayQueueRcpt *q = relay_queue_rcpt(o->e, o->idx[i]);
	GString *p;
	g_autofree char *orcpt = NULL;

	*notify = FALSE;
	if (!(ext->flags & HM_SMTP_EXT_DSN))
		return NULL;
	p = g_string_new(NULL);
	if (q->notify != 0) {
		g_string_append(p, " NOTIFY=");
		relay_notify_format(q->notify, p);
		*notify = TRUE;
	}
	if (q->orcpt != NULL && (orcpt = orcpt_param(q->orcpt)) != NULL)
		g_string_append_printf(p, " %s", orcpt);
	if (p->len == 0) {
		g_string_free(p, TRUE);
		return NULL;
	}
	g_string_erase(p, 0, 1);
	return g_string_free(p, FALSE);
}

/* The outcome of a transaction that ran (or broke: rc < 0 with err). */
static void
take_status(Outgoing *o, const RelaySmarthostConn *h, HmSmtpRcptStatus *st, int rc,
            const GError *err, const gboolean *notify)
{
	/* An address or parameter lib/smtpc cannot put on a command line
	 * will not go any better later: the sender's fails them all, a
	 * recipient's only that recipient. */
	gboolean all_unusable = rc < 0 && g_error_matches(err, HM_ERROR, HM_ERROR_PARSE);

	for (guint i = 0; i < o->n; i++) {
		RelayRcptResult *r = &o->results[i];
		gboolean unusable = all_unusable || st[i].unusable;

		g_free(r->reply);
		r->code = unusable ? 553 : st[i].code;
		r->dsn_passed = notify[i] && st[i].code / 100 == 2;
		if (unusable)
			r->remote_mta = NULL;
		if (st[i].code != 0)
			r->reply = g_steal_pointer(&st[i].reply);
		else if (st[i].unusable)
			r->reply = g_strdup("5.1.3 this relay refused to send to this address: no SMTP "
			                    "command can carry it (over 254 octets, or characters "
			                    "SMTP does not allow)");
		else if (unusable)
			r->reply = g_strdup_printf("5.1.3 this relay refused to send the message: no "
			                           "SMTP command can carry it (%s)",
			                           err->message);
		else if (rc < 0)
			r->reply = g_strdup_printf("smart host %s: session lost: %s", h->conf->name,
			                           err->message);
		else
			r->reply = g_strdup_printf("smart host %s: no reply for the recipient",
			                           h->conf->name);
	}
}

/* The transaction itself, over h's open session. Returns -1 when the
 * session broke at MAIL (hm_smtpc_lost_at_mail()): the server holds
 * nothing of the message. */
static int
transact(Outgoing *o, RelaySmarthostConn *h, HmSmtpClient *smtp)
{
	const HmSmtpExt *ext = hm_smtpc_ext(smtp);
	g_autofree const char **rcpts = g_new0(const char *, o->n);
	g_autofree char **rparams = g_new0(char *, o->n + 1);
	g_autofree gboolean *notify = g_new0(gboolean, o->n);
	g_autofree HmSmtpRcptStatus *st = g_new0(HmSmtpRcptStatus, o->n);
	g_autofree char *mparams = mail_params(o, ext);
	g_autoptr(GError) err = NULL;
	HmSmtpTxnParams prm = { mparams, (const char *const *)rparams, FALSE };
	int rc;

	for (guint i = 0; i < o->n; i++) {
		rcpts[i] = relay_queue_rcpt(o->e, o->idx[i])->addr;
		rparams[i] = rcpt_params(o, ext, i, &notify[i]);
	}
	/* BODY=8BITMIME only when the client said so. An 8-bit body that was
	 * not declared, or one for a server without 8BITMIME, goes as it is:
	 * Postfix does the same, and converting to 7 bits would break
	 * signatures. */
	prm.body_7bit = o->e->body == RELAY_BODY_7BIT;
	rc = hm_smtpc_transaction_params(smtp, o->sender, rcpts, o->n, &prm, o->head, o->head_len,
	                                 o->body, o->body_len, st, &err);
	take_status(o, h, st, rc, err, notify);
	hm_smtp_rcpt_status_clear(st, o->n);
	for (guint i = 0; i < o->n; i++)
		g_free(rparams[i]);
	return hm_smtpc_lost_at_mail(smtp) ? -1 : 0;
}

/* The envelope sender as it leaves the box, or -1 with every result set. */
static int
rewrite_sender(RelaySmarthosts *sh, Outgoing *o)
{
	g_autofree char *why = NULL;
	RelayRewriteResult rr = relay_rewrite_sender(sh->rw, o->e->sender, &o->sender, &o->user);

	if (rr == RELAY_REWRITE_FOREIGN || rr == RELAY_REWRITE_DONE)
		return 0;
	why = relay_rewrite_refusal(sh->rw, rr, o->e->sender, o->user);
	refuse_all(o, 553, "5.7.1", "to send the message: %s",
	           why != NULL ? why : "its sender cannot leave this box");
	return -1;
}

/* With relay.rewrite_header_from, From: and Sender: as they leave: only
 * the addresses of the user the envelope sender was rewritten for. */
static void
rewrite_headers(RelaySmarthosts *sh, Outgoing *o)
{
	gsize head_end = 0;

	if (!sh->cfg->relay.rewrite_header_from ||
	    relay_rewrite_headers(sh->rw, o->user, o->body, o->body_len, &o->head, &head_end) < 0 ||
	    o->head == NULL)
		return;
	o->head_len = strlen(o->head);
	o->body += head_end;
	o->body_len -= head_end;
}

/* Sends o through h's session. A kept session the server closed while
 * it sat idle, found only when MAIL went unanswered (the close raced the
 * check before use), costs the message nothing: it goes again at once
 * over a new session, and only that one's outcome counts. */
static void
send_over(Outgoing *o, RelaySmarthostConn *h)
{
	for (guint tries = 0;; tries++) {
		g_autofree char *why = NULL;
		HmSmtpClient *smtp = relay_smarthost_session(h, &why);
		gboolean kept = h->used > 0;
		int rc = 0;

		if (smtp == NULL) {
			all_results(o, 0, "%s", why);
			return;
		}
		for (guint i = 0; i < o->n; i++)
			o->results[i].remote_mta = h->conf->ep.host;
		if (check_offer(o, h, hm_smtpc_ext(smtp)) == 0)
			rc = transact(o, h, smtp);
		relay_smarthost_release(h);
		if (rc == 0 || !kept || tries > 0)
			return;
		hm_info("smarthost %s: kept session was closed by the server; sending %s again "
		        "over a new one",
		        h->conf->name, o->e->id);
	}
}

void
relay_smarthosts_send(RelaySmarthosts *sh, const RelayQueueEntry *e, GBytes *msg, const guint *idx,
                      guint n, RelayRcptResult *results)
{
	Outgoing o = { .e = e, .idx = idx, .n = n, .results = results };
	const HmSmarthostConf *conf;
	RelaySmarthostConn *h;

	memset(results, 0, sizeof(*results) * n);
	o.body = g_bytes_get_data(msg, &o.body_len);
	if (n == 0)
		return;
	if (sh->cfg->relay.n_smarthosts == 0) {
		all_results(&o, 0, "no smart host configured (relay.smarthosts)");
		return;
	}
	if (rewrite_sender(sh, &o) < 0) {
		g_free(o.user);
		return;
	}
	conf = relay_smarthost_for(sh->cfg, o.sender);
	h = &sh->hosts[conf - sh->cfg->relay.smarthosts];
	rewrite_headers(sh, &o);
	send_over(&o, h);
	g_free(o.sender);
	g_free(o.user);
	g_free(o.head);
}
