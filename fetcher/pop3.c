/* The POP3 fetch backend (RFC 1939; CAPA, PIPELINING and STLS from RFC
 * 2449/2595, AUTH PLAIN from RFC 5034). Replies are parsed by
 * pop3-reply.c; this file speaks the protocol: it sends the commands,
 * keeps a window of up to p->window of them in flight when the server
 * allows pipelining, and reads the replies back in order. */
#include <config.h>

#include <string.h>

#include "fetcher/connect.h"
#include "fetcher/fetch.h"
#include "fetcher/pop3-reply.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/pingpong.h"
#include "lib/sasl.h"

/* RFC 5034 section 4: an AUTH command with its initial response may not
 * exceed 255 octets; a longer response goes on its own line. */
#define AUTH_LINE_MAX 255

struct HmFetchSession {
	HmFetchParams p;
	HmPingpong pp;           /* the connection and whether it is broken */
	HmPop3Capa capa;
	/* DELE was sent for at least one message: QUIT would commit it. */
	gboolean deleting;
	/* The last status line ended in a bare LF: so may its multi-line
	 * reply (read_data_line()). */
	gboolean lf_status;
	/* Untracked messages were logged: once per session, commit included. */
	gboolean warned;
};

static int G_GNUC_PRINTF(3, 4)
fail(GError **err, HmFetchError code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		g_propagate_error(err, g_error_new_valist(HM_FETCH_ERROR, code, fmt, ap));
		va_end(ap);
	}
	return -1;
}

/* A malformed or hostile reply: report it, and trust nothing after it. */
static int G_GNUC_PRINTF(3, 4)
fail_protocol(HmFetchSession *s, GError **err, const char *fmt, ...)
{
	va_list ap;

	s->pp.broken = TRUE;
	if (err != NULL) {
		va_start(ap, fmt);
		g_propagate_error(err, g_error_new_valist(HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL,
		                                          fmt, ap));
		va_end(ap);
	}
	return -1;
}

/* Queues one command line (sent by the next flush). */
static int
send_cmd(HmFetchSession *s, const char *cmd, GError **err)
{
	return hm_fetch_lib(hm_pp_send(&s->pp, cmd, NULL, err), err);
}

static int
flush(HmFetchSession *s, GError **err)
{
	return hm_fetch_lib(hm_pp_flush(&s->pp, err), err);
}

static int
send_flush(HmFetchSession *s, const char *cmd, GError **err)
{
	return send_cmd(s, cmd, err) < 0 ? -1 : flush(s, err);
}

/* Reads one reply line of at most HM_POP3_MAX_REPLY_LINE octets. */
static int
read_reply_line(HmFetchSession *s, const char *what, HmLine *l, GError **err)
{
	return hm_fetch_lib(hm_pp_read(&s->pp, HM_POP3_MAX_REPLY_LINE, 0, what, l, err), err);
}

/* Reads a status line: *ok for +OK, *text the rest (valid until the next
 * read). A line that is neither +OK nor -ERR is a protocol error. */
static int
read_status(HmFetchSession *s, const char *what, gboolean *ok, const char **text, GError **err)
{
	const char *why = NULL;
	HmLine l;

	if (read_reply_line(s, what, &l, err) < 0)
		return -1;
	s->lf_status = l.bare_lf;
	if (hm_pop3_status_parse(l.data, ok, text, &why) < 0) {
		g_autofree char *q = hm_pop3_quote(l.data);

		return fail_protocol(s, err, "malformed %s (%s): \"%s\"", what, why, q);
	}
	return 0;
}

/* Reads one line of a multi-line reply, dot-unstuffed (RFC 1939 section
 * 3), or with HM_LINE_SEGMENTS in flags one segment of a message line;
 * *end is set instead at the terminating "." line. Dots count only at the
 * start of a line (at_start: the previous read ended one). Only ".\r\n"
 * ends a reply, or ".\n" after a status line that ended in a bare LF too
 * (a server that speaks bare LF throughout): a "." line a server did not
 * dot-stuff is content, and cannot cut a message short. */
static int
read_data_line(HmFetchSession *s, const char *what, guint flags, gboolean at_start, HmLine *l,
               gboolean *end, GError **err)
{
	gsize max = (flags & HM_LINE_SEGMENTS) ? HM_POP3_BODY_SEGMENT : HM_POP3_MAX_REPLY_LINE;

	if (hm_fetch_lib(hm_pp_read_data(&s->pp, max, flags, what, l, err), err) < 0)
		return -1;
	*end = at_start && !l->partial && l->len == 1 && l->data[0] == '.' &&
	       (!l->bare_lf || s->lf_status);
	/* A lone "." that does not end the reply was not stuffed: keep it. */
	if (at_start && l->len > 1 && l->data[0] == '.') {
		l->data++;
		l->len--;
	}
	return 0;
}

/* The server's text for an error message ("(no reason given)" if none). */
static char *
quote_text(const char *text)
{
	return *text != '\0' ? hm_pop3_quote(text) : g_strdup("(no reason given)");
}

/* Reads a status line that must be +OK; -ERR fails with code and
 * "refusal: server text". */
static int
expect_ok(HmFetchSession *s, const char *what, HmFetchError code, const char *refusal,
          GError **err)
{
	gboolean ok;
	const char *text;

	if (read_status(s, what, &ok, &text, err) < 0)
		return -1;
	if (!ok) {
		g_autofree char *q = quote_text(text);

		return fail(err, code, "%s: %s", refusal, q);
	}
	return 0;
}

/* --- open: greeting, CAPA, STLS, login ----------------------------------- */

static int
greeting(HmFetchSession *s, GError **err)
{
	return expect_ok(s, "greeting", HM_FETCH_ERROR_SERVER, "server refused the connection",
	                 err);
}

static int
capa(HmFetchSession *s, GError **err)
{
	gboolean ok, end = FALSE;
	const char *text, *why = NULL;
	HmLine l;

	if (send_flush(s, "CAPA", err) < 0 || read_status(s, "CAPA reply", &ok, &text, err) < 0)
		return -1;
	if (!ok) {
		hm_pop3_capa_assume(&s->capa);
		return 0;
	}
	hm_pop3_capa_clear(&s->capa);
	for (;;) {
		if (read_data_line(s, "CAPA reply", 0, TRUE, &l, &end, err) < 0)
			return -1;
		if (end)
			return 0;
		hm_fetch_trace(&s->p, FALSE, l.data);
		if (hm_pop3_capa_add(&s->capa, l.data, &why) < 0)
			return fail_protocol(s, err, "CAPA reply: %s", why);
	}
}

/* RFC 2595 section 4: STLS, then the handshake, then CAPA again (what was
 * said in clear cannot be trusted). Without STLS nothing more is sent. */
static int
stls(HmFetchSession *s, GError **err)
{
	if (!s->capa.stls)
		return fail(err, HM_FETCH_ERROR_TLS, "TLS: server does not offer STLS");
	if (send_flush(s, "STLS", err) < 0 ||
	    expect_ok(s, "STLS reply", HM_FETCH_ERROR_TLS, "TLS: server refused STLS", err) < 0)
		return -1;
	if (hm_fetch_starttls(&s->p, s->pp.conn, err) < 0) {
		s->pp.broken = TRUE;
		return -1;
	}
	return capa(s, err);
}

/* The reply to a login step: -ERR means the credentials were refused. */
static int
login_reply(HmFetchSession *s, const char *what, GError **err)
{
	return expect_ok(s, what, HM_FETCH_ERROR_AUTH, "login refused", err);
}

static int
user_pass(HmFetchSession *s, GError **err)
{
	const HmAccountConf *a = s->p.acct;
	g_autofree char *user = g_strdup_printf("USER %s", a->ep.user);
	char *pass;
	int rc;

	if (send_flush(s, user, err) < 0 || login_reply(s, "USER reply", err) < 0)
		return -1;
	pass = g_strdup_printf("PASS %s", a->ep.password.value);
	rc = send_flush(s, pass, err);
	hm_sasl_free_secret(pass);
	return rc < 0 ? -1 : login_reply(s, "PASS reply", err);
}

/* The SASL framing of POP3 AUTH (RFC 5034) for lib/sasl-client.c. */
static int
auth_line(gpointer io, const char *line, const char *shown, GError **err)
{
	HmFetchSession *s = io;

	if (hm_fetch_lib(hm_pp_send(&s->pp, line, shown, err), err) < 0)
		return -1;
	return flush(s, err);
}

static int
auth_start(gpointer io, const char *args, const char *shown, GError **err)
{
	char *line = g_strconcat("AUTH ", args, NULL);
	g_autofree char *shown_line = g_strconcat("AUTH ", shown, NULL);
	int rc = auth_line(io, line, shown_line, err);

	hm_sasl_free_secret(line);
	return rc;
}

static int
auth_reply(gpointer io, HmSaslVerdict *verdict, char **text, GError **err)
{
	HmFetchSession *s = io;
	const char *rest, *why = NULL;
	gboolean ok;
	HmLine l;

	if (read_reply_line(s, "AUTH reply", &l, err) < 0)
		return -1;
	if (hm_pop3_is_continuation(l.data)) {
		*verdict = HM_SASL_CONTINUE;
		*text = g_strdup(l.data[1] == ' ' ? l.data + 2 : "");
		return 0;
	}
	if (hm_pop3_status_parse(l.data, &ok, &rest, &why) < 0) {
		g_autofree char *q = hm_pop3_quote(l.data);

		return fail_protocol(s, err, "malformed AUTH reply (%s): \"%s\"", why, q);
	}
	*verdict = ok ? HM_SASL_SUCCESS : HM_SASL_FAILURE;
	*text = quote_text(rest);
	return 0;
}

static const HmSaslProto pop3_sasl = {
	.send_start = auth_start,
	.send_line = auth_line,
	.read_reply = auth_reply,
	.max_start_line = AUTH_LINE_MAX,
};

/* AUTH with the mechanism lib/sasl picks among those CAPA listed. */
static int
auth(HmFetchSession *s, const HmSaslMech *mech, GError **err)
{
	HmSaslCreds creds = hm_fetch_creds(&s->p);
	HmSaslOauthError refusal = { 0 };

	if (hm_sasl_client_run_creds(&pop3_sasl, s, mech, &creds, TRUE, &refusal, err) == 0)
		return 0;
	if (g_error_matches(*err, HM_ERROR, HM_ERROR_AUTH) && s->p.acct->ep.auth == HM_AUTH_OAUTH2)
		return hm_fetch_oauth_refused(err, &refusal, (*err)->message);
	if (g_error_matches(*err, HM_ERROR, HM_ERROR_AUTH))
		g_prefix_error(err, "login refused: ");
	/* A challenge the mechanism could not answer: the exchange was
	 * cancelled, but the session's state is not to be trusted. */
	if (g_error_matches(*err, HM_ERROR, HM_ERROR_PROTOCOL))
		s->pp.broken = TRUE;
	hm_fetch_error_from_lib(err);
	return -1;
}

/* PLAIN where CAPA lists it; else USER/PASS, which every server has,
 * unless CAPA leaves it out and lists another mechanism we have. */
static int
login(HmFetchSession *s, GError **err)
{
	const HmAccountConf *a = s->p.acct;
	const char *offered[HM_POP3_CAPA_MECHS + 1] = { NULL };
	const HmSaslMech *mech;

	if (!hm_fetch_may_send_password(&s->p, s->pp.conn))
		return fail(err, HM_FETCH_ERROR_TLS,
		            "refusing to send the password in clear to %s (use tls, or "
		            "allow_plaintext = true)", a->ep.host);
	for (guint i = 0; i < MIN(s->capa.n_sasl, HM_POP3_CAPA_MECHS); i++)
		offered[i] = s->capa.sasl[i];
	mech = hm_fetch_pick_mech(&s->p, offered);
	if (a->ep.auth == HM_AUTH_OAUTH2)
		return mech != NULL ? auth(s, mech, err)
		                    : fail(err, HM_FETCH_ERROR_AUTH, "the server offers neither "
		                           "SASL XOAUTH2 nor OAUTHBEARER (CAPA)");
	if (mech != NULL && (s->capa.sasl_plain || !s->capa.user))
		return auth(s, mech, err);
	return user_pass(s, err);
}

static void pop3_abort(HmFetchSession *s);

static void
trace(gboolean from_client, const char *line, gpointer data)
{
	hm_fetch_trace(data, from_client, line);
}

/* A session on conn, traced as from p's account. */
static HmFetchSession *
session_new(const HmFetchParams *p, HmConn *conn)
{
	HmFetchSession *s = g_new0(HmFetchSession, 1);

	s->p = *p;
	hm_pp_init(&s->pp, conn, "reply");
	s->pp.trace = trace;
	s->pp.trace_data = &s->p;
	return s;
}

static HmFetchSession *
pop3_open(const HmFetchParams *p, GError **err)
{
	const HmAccountConf *a = p->acct;
	HmFetchSession *s;
	HmConn *conn;

	if (hm_fetch_secret(p) == NULL || a->ep.user == NULL) {
		fail(err, HM_FETCH_ERROR_AUTH, a->ep.user == NULL ? "no user configured"
		                                               : "no password configured");
		return NULL;
	}
	/* A line break would end the command early and smuggle in another. */
	if (strpbrk(a->ep.user, "\r\n") != NULL || strpbrk(hm_fetch_secret(p), "\r\n") != NULL) {
		fail(err, HM_FETCH_ERROR_AUTH, "user name or password contains a line break");
		return NULL;
	}
	if ((conn = hm_fetch_connect(p, err)) == NULL)
		return NULL;
	s = session_new(p, conn);
	if (greeting(s, err) < 0 || capa(s, err) < 0 ||
	    (a->ep.tls == HM_TLS_MODE_STARTTLS && stls(s, err) < 0) || login(s, err) < 0) {
		pop3_abort(s);
		return NULL;
	}
	hm_debug("%s: logged in (pipelining=%s)", a->name, s->capa.pipelining ? "yes" : "no");
	return s;
}

/* --- select: STAT, UIDL, LIST ---------------------------------------------- */

static int
usable(HmFetchSession *s, GError **err)
{
	if (s->pp.broken)
		return fail(err, HM_FETCH_ERROR_PROTOCOL, "session unusable after an earlier error");
	return 0;
}

static int
read_stat(HmFetchSession *s, guint32 *count, GError **err)
{
	gboolean ok;
	const char *text, *why = NULL;
	guint64 size;

	if (read_status(s, "STAT reply", &ok, &text, err) < 0)
		return -1;
	if (!ok) {
		g_autofree char *q = quote_text(text);

		/* With UIDL and LIST in flight the replies are out of step now. */
		s->pp.broken = s->pp.broken || s->capa.pipelining;
		return fail(err, HM_FETCH_ERROR_SERVER, "STAT refused: %s", q);
	}
	if (hm_pop3_stat_parse(text, count, &size, &why) < 0) {
		g_autofree char *q = hm_pop3_quote(text);

		return fail_protocol(s, err, "STAT reply: %s: \"%s\"", why, q);
	}
	return 0;
}

typedef int (*ListingLineFunc)(HmPop3Listing *l, const char *line, GError **err);

/* Reads a LIST or UIDL listing into l (which bounds it to STAT's count). */
static int
read_listing(HmFetchSession *s, const char *what, HmPop3Listing *l, ListingLineFunc add,
             GError **err)
{
	gboolean end = FALSE;
	HmLine line;

	for (;;) {
		if (read_data_line(s, what, 0, TRUE, &line, &end, err) < 0)
			return -1;
		if (end)
			return 0;
		if (add(l, line.data, err) < 0) {
			s->pp.broken = TRUE;
			return -1;
		}
	}
}

static int
read_uidl(HmFetchSession *s, HmPop3Listing *l, gboolean *have_uidl, GError **err)
{
	gboolean ok;
	const char *text;

	if (read_status(s, "UIDL reply", &ok, &text, err) < 0)
		return -1;
	*have_uidl = ok;
	if (!ok) {
		hm_debug("%s: server refused UIDL; messages have no UID", s->p.acct->name);
		return 0;
	}
	return read_listing(s, "UIDL reply", l, hm_pop3_listing_add_uidl, err);
}

static int
read_list(HmFetchSession *s, HmPop3Listing *l, GError **err)
{
	if (expect_ok(s, "LIST reply", HM_FETCH_ERROR_SERVER, "LIST refused", err) < 0)
		return -1;
	return read_listing(s, "LIST reply", l, hm_pop3_listing_add_scan, err);
}

/* STAT, UIDL and LIST, all three at once when the server pipelines. */
static int
list_maildrop(HmFetchSession *s, HmPop3Listing *l, GError **err)
{
	gboolean pipelined = s->capa.pipelining, have_uidl = FALSE;
	guint32 count = 0;

	if (send_cmd(s, "STAT", err) < 0 ||
	    (pipelined && (send_cmd(s, "UIDL", err) < 0 || send_cmd(s, "LIST", err) < 0)) ||
	    flush(s, err) < 0 || read_stat(s, &count, err) < 0)
		return -1;
	hm_pop3_listing_init(l, count);
	/* Every failure below but a refused LIST leaves the session broken. */
	if ((!pipelined && send_flush(s, "UIDL", err) < 0) || read_uidl(s, l, &have_uidl, err) < 0 ||
	    (!pipelined && send_flush(s, "LIST", err) < 0) || read_list(s, l, err) < 0)
		return -1;
	if (hm_pop3_listing_finish(l, have_uidl, err) < 0) {
		s->pp.broken = TRUE;
		return -1;
	}
	return 0;
}

/* Logs why messages are untracked (left upstream), once per session: a
 * commit lists the maildrop again. */
static void
warn_untracked(HmFetchSession *s, const HmPop3Listing *l)
{
	g_autoptr(GPtrArray) problems = NULL;

	if (s->warned)
		return;
	problems = hm_pop3_listing_problems(l);
	s->warned = problems->len > 0;
	for (guint i = 0; i < problems->len; i++)
		hm_warn("%s: %s: left on the server", s->p.acct->name, (char *)problems->pdata[i]);
}

static int
pop3_select(HmFetchSession *s, const char *folder, guint32 first_uid, guint32 *uidvalidity,
            GPtrArray **items, GError **err)
{
	HmPop3Listing l = { 0 };
	GPtrArray *out;

	(void)first_uid;  /* POP3 lists everything */
	*items = NULL;
	if (g_ascii_strcasecmp(folder, "INBOX") != 0)
		return fail(err, HM_FETCH_ERROR_SERVER, "POP3 has no folder \"%s\" (only INBOX)",
		            folder);
	if (usable(s, err) < 0)
		return -1;
	if (list_maildrop(s, &l, err) < 0) {
		hm_pop3_listing_clear(&l);
		return -1;
	}
	out = g_ptr_array_new_full(l.count, (GDestroyNotify)hm_fetch_item_free);
	for (guint32 num = 1; num <= l.count; num++) {
		HmFetchItem *item = g_new0(HmFetchItem, 1);

		item->num = num;
		item->size = l.sizes[num - 1];
		item->untracked = hm_pop3_listing_untracked(&l, num) != NULL;
		item->uid = hm_pop3_listing_steal_uid(&l, num);
		g_ptr_array_add(out, item);
	}
	warn_untracked(s, &l);
	hm_pop3_listing_clear(&l);
	*uidvalidity = 0;
	*items = out;
	return 0;
}

/* --- retrieve and remove: pipelined RETR / DELE ------------------------- */

/* Reads the rest of a +OK RETR reply into out (NULL: discard), CRLF line
 * ends whatever the server used, within HM_FETCH_MAX_MESSAGE. Lines of any
 * length stream in, segment by segment. Past keep_max octets (0: no such
 * bound) out is emptied and the rest is read and dropped, so the session
 * stays in step: *total (may be NULL) says how much arrived, and a total
 * over keep_max that nothing was kept. */
static int
read_body(HmFetchSession *s, const char *what, GString *out, guint64 keep_max, guint64 *total,
          GError **err)
{
	guint64 got = 0;
	gboolean end = FALSE, at_start = TRUE;
	HmLine l;

	for (;;) {
		if (read_data_line(s, what, HM_LINE_ALLOW_NUL | HM_LINE_SEGMENTS, at_start, &l,
		                   &end, err) < 0)
			return -1;
		if (end)
			break;
		got += l.len + (l.partial ? 0 : 2);
		if (got > HM_FETCH_MAX_MESSAGE)
			return fail_protocol(s, err, "%s: message larger than %u MiB", what,
			                     HM_FETCH_MAX_MESSAGE / (1024 * 1024));
		if (out != NULL && keep_max > 0 && got > keep_max) {
			g_string_truncate(out, 0);
			out = NULL;
		}
		if (out != NULL) {
			g_string_append_len(out, l.data, (gssize)l.len);
			if (!l.partial)
				g_string_append_len(out, "\r\n", 2);
		}
		at_start = !l.partial;
	}
	if (total != NULL)
		*total = got;
	return 0;
}

/* Handles the reply to one pipelined command for item. */
typedef int (*ReplyFunc)(HmFetchSession *s, const HmFetchItem *item, gpointer data,
                         GError **err);

/* After a failed reply, reads and drops the replies to the n commands
 * still in flight, so that the session stays in step and close() can
 * still QUIT. The caller's error stands; a failure here only leaves the
 * session broken. */
static void
drain(HmFetchSession *s, const char *verb, gboolean multiline, HmFetchItem *const *items,
      guint n)
{
	for (guint i = 0; i < n && !s->pp.broken; i++) {
		g_autoptr(GError) lerr = NULL;
		g_autofree char *what = g_strdup_printf("%s %u reply", verb, items[i]->num);
		gboolean ok;
		const char *text;

		if (read_status(s, what, &ok, &text, &lerr) < 0 ||
		    (ok && multiline && read_body(s, what, NULL, 0, NULL, &lerr) < 0))
			hm_debug("%s: while draining: %s", s->p.acct->name, lerr->message);
	}
}

/* Sends "VERB num" for each item, up to the window ahead of the replies
 * (p->window with PIPELINING, else 1), topping the window up as each reply
 * is handled. On a failed reply nothing more is sent and the replies in
 * flight are drained. */
static int
pipeline(HmFetchSession *s, const char *verb, gboolean multiline, HmFetchItem *const *items,
         guint n, ReplyFunc reply, gpointer data, GError **err)
{
	/* The window bounds the message data in flight (RETR); one-line
	 * replies (DELE) are tiny, so they all go at once: one round trip
	 * for a whole mailbox's deletions instead of one per window. */
	guint window = !s->capa.pipelining ? 1 : multiline ? MAX(s->p.window, 1u) : MAX(n, 1u);
	guint sent = 0, done = 0;

	if (usable(s, err) < 0)
		return -1;
	while (done < n) {
		for (; sent < n && sent - done < window; sent++) {
			g_autofree char *cmd = g_strdup_printf("%s %u", verb, items[sent]->num);

			if (send_cmd(s, cmd, err) < 0)
				return -1;
		}
		if (flush(s, err) < 0)
			return -1;
		if (reply(s, items[done], data, err) < 0) {
			done++;
			if (!s->pp.broken)
				drain(s, verb, multiline, items + done, sent - done);
			return -1;
		}
		done++;
	}
	return 0;
}

typedef struct {
	HmFetchMessageFunc fn;
	gpointer user_data;
	GString *buf;
} RetrCtx;

static int
retr_reply(HmFetchSession *s, const HmFetchItem *item, gpointer data, GError **err)
{
	RetrCtx *c = data;
	g_autofree char *what = g_strdup_printf("RETR %u reply", item->num);
	g_autofree char *refusal = NULL;
	guint64 max = s->p.acct->max_size, total = 0;
	gboolean over;

	if (item->uid == NULL)
		refusal = g_strdup_printf("RETR %u refused", item->num);
	else
		refusal = g_strdup_printf("RETR %u (UID %s) refused", item->num, item->uid);
	if (expect_ok(s, what, HM_FETCH_ERROR_SERVER, refusal, err) < 0)
		return -1;
	g_string_truncate(c->buf, 0);
	/* A listing may understate a size: max_size holds for what arrives,
	 * and what is over it is not kept. */
	if (read_body(s, what, c->buf, max, &total, err) < 0)
		return -1;
	over = max > 0 && total > max;
	if (c->fn(item, over ? NULL : c->buf->str, over ? (gsize)total : c->buf->len, c->user_data,
	          err) < 0) {
		if (err != NULL && *err == NULL)
			fail(err, HM_FETCH_ERROR_LOCAL, "message %u was not accepted", item->num);
		return -1;
	}
	return 0;
}

static int
pop3_retrieve(HmFetchSession *s, HmFetchItem *const *items, guint n, HmFetchMessageFunc fn,
              gpointer user_data, GError **err)
{
	RetrCtx c = { fn, user_data, g_string_sized_new(64 * 1024) };
	int rc = pipeline(s, "RETR", TRUE, items, n, retr_reply, &c, err);

	g_string_free(c.buf, TRUE);
	return rc;
}

static int
dele_reply(HmFetchSession *s, const HmFetchItem *item, gpointer data, GError **err)
{
	g_autofree char *what = g_strdup_printf("DELE %u reply", item->num);
	g_autofree char *refusal = g_strdup_printf("DELE %u refused", item->num);

	(void)data;
	return expect_ok(s, what, HM_FETCH_ERROR_SERVER, refusal, err);
}

static int
pop3_remove(HmFetchSession *s, HmFetchItem *const *items, guint n, GError **err)
{
	if (n > 0 && !s->pp.broken)
		s->deleting = TRUE;
	return pipeline(s, "DELE", FALSE, items, n, dele_reply, NULL, err);
}

/* --- close ----------------------------------------------------------------- */

static void
pop3_abort(HmFetchSession *s)
{
	if (s == NULL)
		return;
	hm_conn_free(s->pp.conn);
	g_free(s);
}

/* QUIT enters the UPDATE state (RFC 1939 section 6): only its +OK says
 * the deletions took effect. */
static int
quit(HmFetchSession *s, GError **err)
{
	if (s->pp.broken) {
		if (!s->deleting)
			return 0;
		return fail(err, HM_FETCH_ERROR_PROTOCOL,
		            "session unusable after an earlier error: deletions were not committed");
	}
	if (send_flush(s, "QUIT", err) < 0)
		return -1;
	return expect_ok(s, "QUIT reply", HM_FETCH_ERROR_SERVER,
	                 "QUIT refused: deletions were not committed", err);
}

/* QUIT commits the DELEs sent so far; the session then goes on over a
 * new connection, logged in again. */
static int
pop3_commit(HmFetchSession *s, GError **err)
{
	HmFetchSession *fresh;

	if (usable(s, err) < 0)
		return -1;
	if (quit(s, err) < 0) {
		s->pp.broken = TRUE;
		return -1;
	}
	hm_conn_free(s->pp.conn);
	s->pp.conn = NULL;
	s->deleting = FALSE;
	fresh = pop3_open(&s->p, err);
	if (fresh == NULL) {
		s->pp.broken = TRUE;
		return -1;
	}
	fresh->warned = s->warned;
	*s = *fresh;
	s->pp.trace_data = &s->p;  /* it pointed into fresh */
	g_free(fresh);
	return 0;
}

static int
pop3_close(HmFetchSession *s, GError **err)
{
	int rc;

	if (s == NULL)
		return 0;
	rc = quit(s, err);
	pop3_abort(s);
	return rc;
}

const HmFetchBackend hm_fetch_pop3 = {
	.name = "pop3",
	.open = pop3_open,
	.select = pop3_select,
	.identify = NULL,
	.retrieve = pop3_retrieve,
	.remove = pop3_remove,
	.commit = pop3_commit,
	.can_wait = NULL,
	.wait = NULL,
	.close = pop3_close,
	.abort = pop3_abort,
};
