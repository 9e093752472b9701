/* The SMTP command loop: a table of commands per state, each split into
 * a check (state, syntax, policy: relay/smtp-parse.c, relay/policy.c)
 * that answers errors, and the step that changes the session. */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "lib/address.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/log.h"
#include "relay/dnsbl.h"
#include "relay/limits.h"
#include "relay/policy.h"
#include "relay/session-private.h"

/* A reply waiting in s->held: text to send, or (id set) the place of a
 * message's 250 once its commit is known: a queued message's, or (in
 * set) one delivered at once, whose copies wait in tmp/. */
typedef struct {
	char *text;
	char *id;
	gsize size;
	RelayInline *in;
} Held;

static void
held_free(gpointer p)
{
	Held *h = p;

	g_free(h->text);
	g_free(h->id);
	relay_inline_free(h->in);
	g_free(h);
}

/* Replies are held only behind a message's commit marker, which comes
 * first: anything held means a commit is pending. */
static gboolean
commit_pending(const Session *s)
{
	return s->held->len > 0;
}

static int
send_text(Session *s, const char *text)
{
	if (commit_pending(s)) {
		Held *h = g_new0(Held, 1);

		h->text = g_strdup(text);
		g_ptr_array_add(s->held, h);
		return 0;
	}
	return hm_conn_write(s->conn, text, strlen(text), NULL);
}

int
session_reply(Session *s, guint code, const char *enhanced, const char *fmt, ...)
{
	g_autoptr(GString) line = g_string_new(NULL);
	va_list ap;

	g_string_append_printf(line, "%u ", code);
	if (enhanced != NULL)
		g_string_append_printf(line, "%s ", enhanced);
	va_start(ap, fmt);
	g_string_append_vprintf(line, fmt, ap);
	va_end(ap);
	hm_debug("relay[%s] S: %s", s->id, line->str);
	g_string_append(line, "\r\n");
	return send_text(s, line->str);
}

int
session_reply_text(Session *s, const RelayReplyText *r)
{
	return session_reply(s, r->code, r->enhanced, "%s", r->text);
}

void
session_hold_commit(Session *s, const char *id, gsize size, RelayInline *in)
{
	Held *h = g_new0(Held, 1);

	h->id = g_strdup(id);
	h->size = size;
	h->in = in;
	g_ptr_array_add(s->held, h);
}

/* The reply when a message could not be made durable: try again. */
static const char *
not_stored(const GError *err, gboolean delivering)
{
	if (g_error_matches(err, HM_ERROR, HM_ERROR_NOSPACE))
		return "452 4.3.1 Error: insufficient system storage\r\n";
	return delivering ? "451 4.3.0 Error: mailbox write error\r\n"
	                  : "451 4.3.0 Error: queue file write error\r\n";
}

/* The flush of each file system that holds messages of the group: the
 * queue's for queued ones, the mail's for those delivered at once. */
static void
commit(Session *s, GError **qerr, GError **merr, gboolean *queued)
{
	gboolean inline_any = FALSE;

	*queued = FALSE;
	for (guint i = 0; i < s->held->len; i++) {
		const Held *h = s->held->pdata[i];

		*queued |= h->id != NULL && h->in == NULL;
		inline_any |= h->in != NULL;
	}
	if (*queued)
		hm_group_commit_sync(s->p->gc, qerr);
	if (inline_any)
		hm_group_commit_sync(s->p->mail_gc, merr);
}

/* Links the durable copies of the messages delivered at once into new/
 * and makes the links durable: each one's error in its h->text (NULL:
 * delivered). */
static void
publish_inline(Session *s, const GError *merr)
{
	g_autoptr(GHashTable) dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GError) derr = NULL;
	GHashTableIter hi;
	gpointer dir;

	for (guint i = 0; i < s->held->len; i++) {
		Held *h = s->held->pdata[i];
		g_autoptr(GError) err = NULL;

		if (h->in == NULL)
			continue;
		if (merr == NULL && relay_inline_publish(h->in, dirs, &err) == 0)
			continue;
		hm_warn("relay[%s] deliver id=%s: %s", s->id, h->id, (merr != NULL ? merr : err)->message);
		h->text = g_strdup(not_stored(merr != NULL ? merr : err, TRUE));
	}
	/* One fsync per Maildir makes every link in it durable; without it
	 * nothing of this group may be answered 250 (the copies already
	 * linked stay: a client that sends again gets a duplicate, never a
	 * loss). */
	g_hash_table_iter_init(&hi, dirs);
	while (g_hash_table_iter_next(&hi, &dir, NULL) && derr == NULL)
		hm_fsync_dir(dir, &derr);
	for (guint i = 0; i < s->held->len && derr != NULL; i++) {
		Held *h = s->held->pdata[i];

		if (h->in != NULL && h->text == NULL) {
			hm_warn("relay[%s] deliver id=%s: %s", s->id, h->id, derr->message);
			h->text = g_strdup(not_stored(derr, TRUE));
		}
	}
}

/* The flushes for every message of the pipelined group, then the
 * replies in the order of the commands. */
int
session_flush(Session *s)
{
	g_autoptr(GError) qerr = NULL;
	g_autoptr(GError) merr = NULL;
	gboolean queued;
	guint n = s->held->len;

	commit(s, &qerr, &merr, &queued);
	publish_inline(s, merr);
	for (guint i = 0; i < n; i++) {
		Held *h = s->held->pdata[i];
		g_autofree char *text = NULL;

		if (h->id == NULL || h->text != NULL) {
			text = g_steal_pointer(&h->text);
		} else if (h->in != NULL) {
			hm_info("relay[%s] delivered id=%s size=%" G_GSIZE_FORMAT, s->id, h->id, h->size);
			text = g_strdup_printf("250 2.0.0 Ok: delivered as %s\r\n", h->id);
		} else if (qerr == NULL) {
			hm_info("relay[%s] queued id=%s size=%" G_GSIZE_FORMAT, s->id, h->id, h->size);
			text = g_strdup_printf("250 2.0.0 Ok: queued as %s\r\n", h->id);
		} else {
			hm_warn("relay[%s] queue id=%s: %s", s->id, h->id, qerr->message);
			relay_queue_remove(s->p->queue_dir, h->id, NULL);
			text = g_strdup(not_stored(qerr, FALSE));
		}
		if (hm_conn_write(s->conn, text, strlen(text), NULL) < 0)
			return -1;
	}
	g_ptr_array_set_size(s->held, 0);
	if (queued && qerr == NULL && s->p->pickup_fd >= 0) {
		/* Wakes the queue runner; a full pipe means it is awake. */
		if (write(s->p->pickup_fd, "m", 1) < 0 && errno != EAGAIN)
			hm_debug("relay[%s] pickup: %s", s->id, g_strerror(errno));
	}
	return hm_conn_flush(s->conn, NULL);
}

/* Counts one more error of a kind; at its limit says 421 (RFC 5321
 * 3.8: a server that closes on its own initiative says so) and returns
 * TRUE: the session ends. */
static gboolean
one_too_many(Session *s, guint *count, guint limit, const char *what)
{
	if (++*count < limit)
		return FALSE;
	session_reply(s, 421, "4.7.0", "%s Error: too many %s", s->p->cfg->hostname, what);
	return TRUE;
}

gboolean
session_bad_command(Session *s)
{
	return one_too_many(s, &s->bad_commands, RELAY_MAX_BAD_COMMANDS, "errors");
}

static gboolean
refused_rcpt(Session *s)
{
	return one_too_many(s, &s->refused_rcpts, RELAY_MAX_REFUSED_RCPTS, "refused recipients");
}

void
session_reset(Session *s)
{
	g_clear_pointer(&s->tx, relay_queue_entry_free);
	g_clear_pointer(&s->bdat, relay_msg_writer_abort);
	g_clear_error(&s->bdat_error);
	s->tx_remote = FALSE;
	if (s->state & (ST_MAIL | ST_RCPT))
		s->state = ST_READY;
}

static RelayClient
client_of(const Session *s)
{
	RelayClient c = {
		.cfg = s->p->cfg,
		.rw = s->p->rw,
		.trusted = s->p->trusted,
		.local = s->p->local,
		.auth_user = s->auth_user,
	};

	return c;
}

static int
cmd_helo_ehlo(Session *s, const char *args, gboolean ehlo)
{
	RelayReplyText r;
	char *domain = NULL;
	const HmConfig *cfg = s->p->cfg;
	gboolean tls = hm_conn_is_tls(s->conn);

	if (relay_parse_helo(args, ehlo, &domain, &r) < 0)
		return session_reply_text(s, &r);
	session_reset(s);
	g_free(s->helo);
	s->helo = domain;
	s->esmtp = ehlo;
	s->state = ST_READY;
	if (!ehlo)
		return session_reply(s, 250, NULL, "%s", cfg->hostname);
	send_text(s, "250-");
	send_text(s, cfg->hostname);
	send_text(s, "\r\n250-PIPELINING\r\n");
	if (cfg->relay.max_message_size > 0) {
		g_autofree char *size = g_strdup_printf("250-SIZE %" G_GUINT64_FORMAT "\r\n",
		                                        cfg->relay.max_message_size);
		send_text(s, size);
	} else {
		send_text(s, "250-SIZE\r\n");
	}
	if (s->p->tls != NULL && !tls)
		send_text(s, "250-STARTTLS\r\n");
	if (s->auth_user == NULL && (tls || s->p->plaintext_ok))
		send_text(s, "250-AUTH PLAIN LOGIN\r\n");
	return send_text(s, "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n"
	                    "250-DSN\r\n250 CHUNKING\r\n");
}

static int
cmd_helo(Session *s, const char *args)
{
	return cmd_helo_ehlo(s, args, FALSE);
}

static int
cmd_ehlo(Session *s, const char *args)
{
	return cmd_helo_ehlo(s, args, TRUE);
}

static int
cmd_mail(Session *s, const char *args)
{
	RelayMailArgs m = { 0 };
	RelayReplyText r;
	RelayClient c = client_of(s);
	g_autofree char *sender = NULL;

	if (relay_parse_mail_args(args, RELAY_PARSE_UTF8, s->p->cfg->relay.max_message_size, &m,
	                          &r) < 0) {
		relay_mail_args_clear(&m);
		return session_reply_text(s, &r);
	}
	sender = m.null_sender ? g_strdup("") : hm_address_format(&m.path);
	if (relay_policy_mail(&c, sender, &r) < 0) {
		relay_mail_args_clear(&m);
		return session_reply_text(s, &r);
	}
	s->tx = relay_queue_entry_new();
	s->tx->sender = g_steal_pointer(&sender);
	s->tx->body = m.body;
	s->tx->smtputf8 = m.smtputf8;
	s->tx->ret = m.ret;
	s->tx->envid = g_steal_pointer(&m.envid);
	s->tx->helo = g_strdup(s->helo);
	s->tx->client = g_strdup_printf("[%s]", s->p->peer);
	s->tx->auth_user = g_strdup(s->auth_user);
	s->tx->origin = s->p->local ? RELAY_ORIGIN_SENDMAIL : RELAY_ORIGIN_SMTP;
	s->state = ST_MAIL;
	hm_debug("relay[%s] mail from=<%s>", s->id, s->tx->sender);
	relay_mail_args_clear(&m);
	return session_reply(s, 250, "2.1.0", "Ok");
}

/* The DNSBL check, once per session and only when a recipient makes it
 * matter. TRUE when the client is listed (the reply is then sent). */
static gboolean
listed(Session *s)
{
	const HmRelayConf *rc = &s->p->cfg->relay;
	RelayDnsblResult res = { 0 };

	if (rc->dnsbl == NULL || s->p->trusted || s->auth_user != NULL || s->p->local)
		return FALSE;
	if (s->dnsbl_verdict < 0) {
		s->dnsbl_verdict = relay_dnsbl_check((const char *const *)rc->dnsbl, s->p->peer,
		                                     s->p->dns_resolver, RELAY_DNSBL_TIMEOUT_MS, &res);
		if (s->dnsbl_verdict == RELAY_DNSBL_LISTED)
			s->dnsbl_reply = g_strdup_printf("Service unavailable; client [%s] blocked using "
			                                 "%s; %s", s->p->peer, res.zone, res.reason);
		if (s->dnsbl_verdict != RELAY_DNSBL_CLEAN)
			hm_info("relay[%s] dnsbl peer=%s verdict=%s zone=%s", s->id, s->p->peer,
			        relay_dnsbl_verdict_name(s->dnsbl_verdict), res.zone ? res.zone : "-");
		relay_dnsbl_result_clear(&res);
	}
	if (s->dnsbl_verdict != RELAY_DNSBL_LISTED)
		return FALSE;
	session_reply(s, 554, "5.7.1", "%s", s->dnsbl_reply);
	return TRUE;
}

static int
cmd_rcpt(Session *s, const char *args)
{
	RelayRcptArgs a = { 0 };
	RelayReplyText r;
	RelayClient c = client_of(s);
	g_autofree char *user = NULL, *addr = NULL;
	int dest;

	if (s->tx->rcpts->len >= s->p->cfg->relay.max_recipients)
		return session_reply(s, 452, "4.5.3", "Error: too many recipients");
	if (relay_parse_rcpt_args(args, RELAY_PARSE_UTF8 | (s->tx->smtputf8 ? RELAY_PARSE_UTF8_TXN : 0),
	                          &a, &r) < 0) {
		relay_rcpt_args_clear(&a);
		return session_reply_text(s, &r);
	}
	/* <postmaster> has no domain: a local name. */
	addr = a.addr.domain != NULL ? hm_address_format(&a.addr) : g_strdup(a.addr.local);
	if (listed(s)) {
		relay_rcpt_args_clear(&a);
		return refused_rcpt(s) ? -1 : 0;
	}
	dest = relay_policy_rcpt(&c, s->tx->sender, addr, &user, &r);
	if (dest < 0) {
		hm_info("relay[%s] refused rcpt=<%s> from=<%s> peer=%s: %u %s", s->id, addr,
		        s->tx->sender, s->p->peer, r.code, r.text);
		relay_rcpt_args_clear(&a);
		if (session_reply_text(s, &r) < 0 || refused_rcpt(s))
			return -1;
		return 0;
	}
	s->tx_remote |= dest == RELAY_DEST_REMOTE;
	relay_queue_entry_add_rcpt(s->tx, addr, a.notify, a.orcpt);
	relay_rcpt_args_clear(&a);
	s->state = ST_RCPT;
	return session_reply(s, 250, "2.1.5", "Ok");
}

static int
cmd_rset(Session *s, const char *args)
{
	session_reset(s);
	return session_reply(s, 250, "2.0.0", "Ok");
}

static int
cmd_noop(Session *s, const char *args)
{
	return session_reply(s, 250, "2.0.0", "Ok");
}

static int
cmd_quit(Session *s, const char *args)
{
	s->done = TRUE;
	return session_reply(s, 221, "2.0.0", "Bye");
}

static int
cmd_vrfy(Session *s, const char *args)
{
	/* RFC 5321 3.5.3: do not tell which local names exist. */
	return session_reply(s, 252, "2.0.0", "Send some mail, I'll try my best");
}

static int
cmd_help(Session *s, const char *args)
{
	return session_reply(s, 214, "2.0.0", "See RFC 5321");
}

static int
cmd_starttls(Session *s, const char *args)
{
	g_autoptr(GError) err = NULL;

	gsize injected;

	if (s->p->tls == NULL || hm_conn_is_tls(s->conn))
		return session_reply(s, 454, "4.7.0", "TLS not available");
	if (session_reply(s, 220, "2.0.0", "Ready to start TLS") < 0 || session_flush(s) < 0)
		return -1;
	/* Commands sent after STARTTLS in clear (a man in the middle's
	 * injection, CVE-2011-0411) are dropped, never obeyed. */
	if ((injected = hm_conn_discard_input(s->conn)) > 0)
		hm_info("relay[%s] STARTTLS peer=%s: %" G_GSIZE_FORMAT " octets sent after it in "
		        "clear, discarded", s->id, s->p->peer, injected);
	/* The handshake gets the implicit-TLS listener's deadline, not a
	 * command's 5 minutes. */
	hm_conn_set_timeout(s->conn, RELAY_HANDSHAKE_TIMEOUT_MS);
	if (hm_tls_server_start(s->p->tls, s->conn, &err) < 0) {
		hm_info("relay[%s] STARTTLS failed peer=%s: %s", s->id, s->p->peer,
		        err != NULL ? err->message : "write failed");
		return -1;
	}
	hm_conn_set_timeout(s->conn, RELAY_COMMAND_TIMEOUT_MS);
	/* RFC 3207 4.2: forget everything learnt before the handshake. */
	session_reset(s);
	g_clear_pointer(&s->helo, g_free);
	g_clear_pointer(&s->auth_user, g_free);
	s->state = ST_START;
	return 0;
}

typedef int (*Handler)(Session *s, const char *args);

enum {
	NO_ARGS = 1 << 0,      /* arguments are an error */
	NEEDS_ARGS = 1 << 1,
	NOT_IN_BDAT = 1 << 2,  /* refused while a BDAT transfer is open */
};

static const struct {
	const char *name;
	Handler handler;
	guint states;
	guint flags;
} commands[] = {
	{ "EHLO", cmd_ehlo, ST_START | ST_READY | ST_MAIL | ST_RCPT, NOT_IN_BDAT },
	{ "HELO", cmd_helo, ST_START | ST_READY | ST_MAIL | ST_RCPT, NOT_IN_BDAT },
	{ "MAIL", cmd_mail, ST_READY, NEEDS_ARGS | NOT_IN_BDAT },
	{ "RCPT", cmd_rcpt, ST_MAIL | ST_RCPT, NEEDS_ARGS | NOT_IN_BDAT },
	{ "DATA", session_cmd_data, ST_RCPT, NO_ARGS | NOT_IN_BDAT },
	/* Allowed in every state: a BDAT out of sequence must still have its
	 * chunk read, or the data would be taken for commands. */
	{ "BDAT", session_cmd_bdat, ~0u, NEEDS_ARGS },
	{ "RSET", cmd_rset, ~0u, NO_ARGS },
	{ "NOOP", cmd_noop, ~0u, 0 },
	{ "QUIT", cmd_quit, ~0u, NO_ARGS },
	{ "VRFY", cmd_vrfy, ~0u, 0 },
	{ "HELP", cmd_help, ~0u, 0 },
	{ "STARTTLS", cmd_starttls, ST_START | ST_READY, NO_ARGS | NOT_IN_BDAT },
	{ "AUTH", session_cmd_auth, ST_READY, NEEDS_ARGS | NOT_IN_BDAT },
};

/* Why a command cannot come now (RFC 5321 4.3.2's 503 cases). */
static int
out_of_sequence(Session *s, const char *verb)
{
	if (s->state == ST_START)
		return session_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
	if (strcmp(verb, "MAIL") == 0)
		return session_reply(s, 503, "5.5.1", "Error: nested MAIL command");
	if (strcmp(verb, "RCPT") == 0)
		return session_reply(s, 503, "5.5.1", "Error: need MAIL command");
	if (strcmp(verb, "AUTH") == 0 && s->auth_user != NULL)
		return session_reply(s, 503, "5.5.1", "Error: already authenticated");
	if (strcmp(verb, "AUTH") == 0)
		return session_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
	return session_reply(s, 503, "5.5.1", "Error: need RCPT command");
}

static int
dispatch(Session *s, const char *line, gsize len)
{
	char verb[RELAY_VERB_MAX];
	const char *args = NULL;
	RelayReplyText r;

	if (relay_cmd_split(line, len, verb, sizeof(verb), &args, &r) < 0) {
		if (session_reply_text(s, &r) < 0)
			return -1;
		return session_bad_command(s) ? -1 : 0;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(commands[i].name, verb) != 0)
			continue;
		if ((commands[i].flags & NOT_IN_BDAT) && s->bdat != NULL)
			return session_reply(s, 503, "5.5.1", "Error: BDAT transfer in progress");
		if (!(commands[i].states & s->state) ||
		    (commands[i].handler == session_cmd_auth && s->auth_user != NULL))
			return out_of_sequence(s, verb);
		if ((commands[i].flags & NO_ARGS) && args != NULL)
			return session_reply(s, 501, "5.5.4", "Syntax: %s", verb);
		if ((commands[i].flags & NEEDS_ARGS) && args == NULL)
			return session_reply(s, 501, "5.5.4", "Syntax: %s needs arguments", verb);
		return commands[i].handler(s, args);
	}
	if (session_reply(s, 502, "5.5.2", "Error: command not recognized") < 0)
		return -1;
	return session_bad_command(s) ? -1 : 0;
}

/* The form of a command the -v log may show. AUTH lines may carry a
 * password, so they show only their mechanism; a line that is no command
 * we know is shown only by its length: it may be the next line of an AUTH
 * the client sent without waiting for our refusal (its password). */
static void
log_command(const Session *s, const char *line, gsize len)
{
	char verb[RELAY_VERB_MAX];
	const char *args = NULL;
	RelayReplyText r;
	gboolean known = FALSE;

	if (!hm_log_debug_enabled())
		return;
	if (relay_cmd_split(line, len, verb, sizeof(verb), &args, &r) == 0)
		for (gsize i = 0; i < G_N_ELEMENTS(commands) && !known; i++)
			known = strcmp(commands[i].name, verb) == 0;
	if (!known) {
		hm_debug("relay[%s] C: (no command, %" G_GSIZE_FORMAT " octets)", s->id, len);
	} else if (strcmp(verb, "AUTH") == 0) {
		gsize mech = args != NULL ? strspn(args, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                                         "abcdefghijklmnopqrstuvwxyz0123456789-_") : 0;

		hm_debug("relay[%s] C: AUTH %.*s%s", s->id, (int)(mech <= 20 ? mech : 0),
		         args != NULL ? args : "",
		         args != NULL && (mech > 20 || args[mech] != '\0') ? " ********" : "");
	} else {
		hm_debug("relay[%s] C: %s", s->id, line);
	}
}

static int
serve(Session *s)
{
	while (!s->done) {
		g_autoptr(GError) err = NULL;
		HmLine line;
		HmIoStatus st;

		/* Replies to pipelined commands go out together, once the
		 * client has sent everything it had (RFC 2920). */
		if (hm_conn_pending(s->conn) == 0 && session_flush(s) < 0)
			return -1;
		/* A stop (SIGTERM) ends the session only between transactions:
		 * a message under way is finished and answered first. */
		hm_conn_set_stoppable(s->conn, s->tx == NULL && s->bdat == NULL);
		st = hm_conn_read_line(s->conn, RELAY_LINE_MAX, 0, &line, &err);
		if (st == HM_IO_STOPPED) {
			session_reply(s, 421, "4.3.2", "%s Service shutting down", s->p->cfg->hostname);
			s->done = TRUE;
			break;
		}
		if (st == HM_IO_TOO_LONG || st == HM_IO_NUL) {
			session_reply(s, 500, "5.5.2", "Error: %s",
			              st == HM_IO_NUL ? "NUL byte in command" : "line too long");
			if (session_bad_command(s))
				break;
			continue;
		}
		if (st == HM_IO_TIMEOUT) {
			session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->p->cfg->hostname);
			break;
		}
		if (st != HM_IO_OK)
			return -1;
		log_command(s, line.data, line.len);
		if (dispatch(s, line.data, line.len) < 0)
			break;
	}
	return session_flush(s) < 0 || !s->done ? -1 : 0;
}

int
relay_session_run(HmConn *conn, const RelaySessionParams *p)
{
	Session s = { .conn = conn, .p = p, .state = ST_START, .dnsbl_verdict = -1 };
	int rc;

	g_snprintf(s.id, sizeof(s.id), "%08x", g_random_int());
	s.held = g_ptr_array_new_with_free_func(held_free);
	hm_debug("relay[%s] connect peer=%s tls=%s", s.id, p->peer, hm_conn_is_tls(conn) ? "yes" : "no");
	session_reply(&s, 220, NULL, "%s ESMTP homemail", p->cfg->hostname);
	rc = serve(&s);
	session_reset(&s);
	g_ptr_array_unref(s.held);
	g_free(s.helo);
	g_free(s.auth_user);
	g_free(s.dnsbl_reply);
	return rc;
}
