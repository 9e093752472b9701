#include <config.h>

#include <string.h>

#include "conf/login.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/passwd.h"
#include "lib/sasl.h"
#include "popd/command.h"
#include "popd/limits.h"
#include "popd/mailbox.h"
#include "popd/session.h"

typedef enum {
	ST_AUTHORIZATION = 1 << 0,
	ST_TRANSACTION = 1 << 1,
} State;

typedef struct {
	HmConn *conn;
	const PopdSessionParams *p;
	char id[9];
	State state;
	char *user_arg;            /* name given by USER, awaiting PASS */
	const HmUserConf *user;
	PopdMailbox *mb;
	guint bad_commands;
	guint auth_fails;
	/* The last line was AUTH with a mechanism and no initial response, and
	 * its continuation has not been read: the next line is a credential,
	 * even when the AUTH was refused (clients send it anyway). */
	gboolean secret_next;
	gboolean done;             /* QUIT answered, or the session must end */
} Session;

/* Handlers return 0 to go on, -1 when the session must end at once: also
 * when a reply could not be sent (the connection is then dead: see
 * hm_conn_flush), so no command is obeyed after the client lost a reply. */
typedef int (*Handler)(Session *s, Pop3Command *cmd);

static int reply(Session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int
reply(Session *s, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *line = NULL;

	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return hm_conn_printf(s->conn, NULL, "%s\r\n", line);
}

static gboolean
plaintext_allowed(const Session *s)
{
	return s->p->plaintext_ok || hm_conn_is_tls(s->conn);
}

/* Finishes a login for a checked user: locks and snapshots the maildrop. */
static int
open_maildrop(Session *s, const HmUserConf *u)
{
	g_autofree char *dir = g_build_filename(s->p->cfg->mail_dir, u->name, NULL);
	g_autoptr(GError) err = NULL;

	s->mb = popd_mailbox_open(dir, &err);
	if (s->mb == NULL) {
		hm_info("popd[%s] login refused user=%s: %s", s->id, u->name, err->message);
		if (g_error_matches(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_IN_USE))
			return reply(s, "-ERR [IN-USE] %s", err->message);
		return reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox.");
	}
	s->user = u;
	s->state = ST_TRANSACTION;
	hm_info("popd[%s] login user=%s peer=%s tls=%s messages=%u", s->id, u->name,
	        s->p->peer, hm_conn_is_tls(s->conn) ? "yes" : "no", popd_mailbox_count(s->mb));
	return reply(s, "+OK Logged in.");
}

/* A password longer than any that can be set can never be right: saying
 * so tells a guesser nothing, so it is neither delayed nor counted as a
 * failed login. */
static int
refuse_long_password(Session *s)
{
	hm_info("popd[%s] login refused peer=%s: password longer than %d octets", s->id, s->p->peer,
	        HM_PASSWORD_MAX);
	return reply(s, "-ERR [AUTH] Password longer than %d octets.", HM_PASSWORD_MAX);
}

static int
login(Session *s, const char *name, const char *password)
{
	HmLoginBar *bar = s->p->bar;
	const HmUserConf *u = NULL;
	HmLoginResult lr;

	if (strlen(password) > HM_PASSWORD_MAX)
		return refuse_long_password(s);
	lr = hm_login(s->p->cfg, bar, s->p->peer, POPD_AUTH_BAR_WAIT_MS, s->p->dummy_hash, name,
	              password, &u);
	if (lr == HM_LOGIN_BARRED) {
		hm_info("popd[%s] login refused peer=%s: too many failed logins", s->id, s->p->peer);
		reply(s, "-ERR [AUTH] Too many failed logins, try again later.");
		return -1;
	}
	if (lr == HM_LOGIN_OK)
		return open_maildrop(s, u);
	s->auth_fails++;
	hm_info("popd[%s] login failed peer=%s", s->id, s->p->peer);
	/* One process per session: this sleep delays only this client. */
	g_usleep((gulong)s->p->auth_fail_delay_ms * 1000);
	if (reply(s, "-ERR [AUTH] Authentication failed.") < 0)
		return -1;
	if (s->auth_fails >= POPD_MAX_AUTH_FAILS) {
		reply(s, "-ERR Too many failed logins.");
		return -1;
	}
	return 0;
}

static int
cmd_capa(Session *s, Pop3Command *cmd)
{
	gboolean auth = s->state == ST_AUTHORIZATION;

	if (reply(s, "+OK Capability list follows\r\n"
	             "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	             "EXPIRE NEVER\r\nIMPLEMENTATION homemail") < 0 ||
	    (auth && plaintext_allowed(s) && reply(s, "USER\r\nSASL " HM_SASL_SERVER_MECHS) < 0) ||
	    (auth && s->p->tls != NULL && !hm_conn_is_tls(s->conn) && reply(s, "STLS") < 0))
		return -1;
	return reply(s, ".");
}

static int
cmd_stls(Session *s, Pop3Command *cmd)
{
	g_autoptr(GError) err = NULL;

	if (s->p->tls == NULL || hm_conn_is_tls(s->conn))
		return reply(s, "-ERR TLS is not available here.");
	if (reply(s, "+OK Begin TLS negotiation now.") < 0 ||
	    hm_tls_server_start(s->p->tls, s->conn, &err) < 0) {
		hm_info("popd[%s] STLS failed peer=%s: %s", s->id, s->p->peer,
		        err != NULL ? err->message : "write failed");
		return -1;
	}
	/* RFC 2595: forget everything learnt before the handshake. */
	g_clear_pointer(&s->user_arg, g_free);
	return 0;
}

static int
cmd_user(Session *s, Pop3Command *cmd)
{
	if (cmd->nargs != 1)
		return reply(s, "-ERR Usage: USER name");
	g_free(s->user_arg);
	s->user_arg = g_strdup(cmd->args[0]);
	return reply(s, "+OK");
}

static int
cmd_pass(Session *s, Pop3Command *cmd)
{
	g_autofree char *name = g_steal_pointer(&s->user_arg);

	if (name == NULL)
		return reply(s, "-ERR No user name given (use USER first).");
	if (cmd->nargs != 1)
		return reply(s, "-ERR Usage: PASS password");
	return login(s, name, cmd->rest);
}

/* An AUTH exchange under way: the session, and how it goes on once the
 * exchange ended early. */
typedef struct {
	Session *s;
	int rc;
} Ask;

/* Sends the challenge ("+ B64") and reads the client's response. NULL
 * when cancelled or failed, ask->rc then saying how the session goes on
 * (HmSaslAskFunc). */
static char *
sasl_response(const char *challenge, gpointer data)
{
	Ask *ask = data;
	Session *s = ask->s;
	int *rc = &ask->rc;
	g_autoptr(GError) err = NULL;
	HmLine line;
	HmIoStatus st;

	*rc = 0;
	if (hm_conn_printf(s->conn, NULL, "+ %s\r\n", challenge) < 0 ||
	    hm_conn_flush(s->conn, NULL) < 0) {
		*rc = -1;
		return NULL;
	}
	st = hm_conn_read_line(s->conn, POPD_SASL_LINE_MAX, 0, &line, &err);
	s->secret_next = FALSE;
	if (st != HM_IO_OK) {
		*rc = st == HM_IO_TOO_LONG ? reply(s, "-ERR Response too long.") : -1;
		return NULL;
	}
	if (strcmp(line.data, "*") == 0) {
		*rc = reply(s, "-ERR Authentication cancelled.");
		return NULL;
	}
	return g_strdup(line.data);
}

/* AUTH (RFC 5034) with the mechanisms of lib/sasl: challenges until the
 * client has given its credentials, then the login as for USER/PASS. */
static int
cmd_auth(Session *s, Pop3Command *cmd)
{
	const HmSaslMech *mech;
	HmSaslServer *sv;
	Ask ask = { s, 0 };
	int step, rc;

	if (cmd->nargs == 0)
		return reply(s, "+OK\r\nPLAIN\r\nLOGIN\r\n.");
	if ((mech = hm_sasl_mech_find(cmd->args[0])) == NULL)
		return reply(s, "-ERR Unsupported authentication mechanism.");
	sv = hm_sasl_server_new(mech);
	step = hm_sasl_server_exchange(sv, cmd->nargs == 2 ? g_strdup(cmd->args[1]) : NULL,
	                               sasl_response, &ask);
	if (step == HM_SASL_OK)
		rc = login(s, hm_sasl_server_user(sv), hm_sasl_server_password(sv));
	else if (step == HM_SASL_PASSWORD_TOO_LONG)
		rc = refuse_long_password(s);
	else if (step == HM_SASL_ENDED)
		rc = ask.rc;
	else  /* malformed: a failed login, as a wrong password */
		rc = login(s, "", "");
	hm_sasl_server_free(sv);
	return rc;
}

static int
cmd_quit(Session *s, Pop3Command *cmd)
{
	g_autoptr(GError) err = NULL;
	int rc;

	s->done = TRUE;
	if (s->state == ST_AUTHORIZATION)
		return reply(s, "+OK Logging out.");
	/* UPDATE state (RFC 1939 section 6): only here is anything deleted. */
	rc = popd_mailbox_commit(s->mb, &err);
	/* Unlock before the reply goes out: a client that logs in again the
	 * moment it reads +OK must not find its own old session in the way. */
	g_clear_pointer(&s->mb, popd_mailbox_close);
	if (rc < 0) {
		hm_warn("popd[%s] update user=%s: %s", s->id, s->user->name, err->message);
		return reply(s, "-ERR [SYS/TEMP] Some deleted messages were not removed.");
	}
	return reply(s, "+OK Logging out.");
}

static int
cmd_noop(Session *s, Pop3Command *cmd)
{
	return reply(s, "+OK");
}

static int
cmd_stat(Session *s, Pop3Command *cmd)
{
	guint count;
	guint64 octets;

	popd_mailbox_stat(s->mb, &count, &octets);
	return reply(s, "+OK %u %" G_GUINT64_FORMAT, count, octets);
}

/* Resolves the message-number argument into *n; when it is bad, answers
 * -ERR itself and sets *n to 0 (the command is done). Returns 0, or -1
 * when that answer could not be sent. */
static int
msgnum(Session *s, const char *arg, guint *n)
{
	if (pop3_parse_msgnum(arg, popd_mailbox_count(s->mb), n) < 0) {
		*n = 0;
		return reply(s, "-ERR There is no such message.");
	}
	if (popd_mailbox_deleted(s->mb, *n)) {
		*n = 0;
		return reply(s, "-ERR Message is deleted.");
	}
	return 0;
}

/* LIST and UIDL: one message, or all that are not deleted. */
static int
listing(Session *s, Pop3Command *cmd, gboolean uidl)
{
	guint n;
	int rc;

	if (cmd->nargs > 1)
		return reply(s, "-ERR Too many arguments.");
	if (cmd->nargs == 1) {
		if ((rc = msgnum(s, cmd->args[0], &n)) < 0 || n == 0)
			return rc;
		if (uidl)
			return reply(s, "+OK %u %s", n, popd_mailbox_uidl(s->mb, n));
		return reply(s, "+OK %u %" G_GUINT64_FORMAT, n, popd_mailbox_size(s->mb, n));
	}
	rc = reply(s, "+OK");
	for (n = 1; rc == 0 && n <= popd_mailbox_count(s->mb); n++) {
		if (popd_mailbox_deleted(s->mb, n))
			continue;
		if (uidl)
			rc = reply(s, "%u %s", n, popd_mailbox_uidl(s->mb, n));
		else
			rc = reply(s, "%u %" G_GUINT64_FORMAT, n, popd_mailbox_size(s->mb, n));
	}
	return rc < 0 ? -1 : reply(s, ".");
}

static int cmd_list(Session *s, Pop3Command *cmd) { return listing(s, cmd, FALSE); }
static int cmd_uidl(Session *s, Pop3Command *cmd) { return listing(s, cmd, TRUE); }

static int
send_message(Session *s, guint n, gint64 lines)
{
	g_autoptr(GError) err = NULL;

	if (popd_mailbox_send(s->mb, n, lines, s->conn, &err) == 0)
		return 0;
	if (g_error_matches(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_GONE) ||
	    g_error_matches(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_UNREADABLE))
		return reply(s, "-ERR %s", err->message);
	hm_info("popd[%s] sending message %u failed: %s", s->id, n, err->message);
	return -1;
}

static int
cmd_retr(Session *s, Pop3Command *cmd)
{
	guint n;
	int rc;

	if (cmd->nargs != 1)
		return reply(s, "-ERR Usage: RETR msg");
	if ((rc = msgnum(s, cmd->args[0], &n)) < 0 || n == 0)
		return rc;
	return send_message(s, n, -1);
}

static int
cmd_top(Session *s, Pop3Command *cmd)
{
	guint n;
	guint64 lines;
	gsize len;
	int rc;

	if (cmd->nargs != 2)
		return reply(s, "-ERR Usage: TOP msg lines");
	len = strlen(cmd->args[1]);
	if (hm_parse_uint_n(cmd->args[1], len, 0, G_MAXINT64, &lines) < 0)
		return reply(s, "-ERR Invalid number of lines.");
	if ((rc = msgnum(s, cmd->args[0], &n)) < 0 || n == 0)
		return rc;
	return send_message(s, n, (gint64)lines);
}

static int
cmd_dele(Session *s, Pop3Command *cmd)
{
	guint n;
	int rc;

	if (cmd->nargs != 1)
		return reply(s, "-ERR Usage: DELE msg");
	if ((rc = msgnum(s, cmd->args[0], &n)) < 0 || n == 0)
		return rc;
	popd_mailbox_delete(s->mb, n);
	return reply(s, "+OK Marked to be deleted.");
}

static int
cmd_rset(Session *s, Pop3Command *cmd)
{
	popd_mailbox_reset(s->mb);
	return reply(s, "+OK");
}

enum {
	NEEDS_PLAINTEXT_OK = 1 << 0,  /* carries a password: TLS or allowed peer */
	NO_ARGS = 1 << 1,
};

static const struct {
	const char *name;
	Handler handler;
	guint states;
	guint flags;
} commands[] = {
	{ "CAPA", cmd_capa, ST_AUTHORIZATION | ST_TRANSACTION, NO_ARGS },
	{ "QUIT", cmd_quit, ST_AUTHORIZATION | ST_TRANSACTION, NO_ARGS },
	{ "NOOP", cmd_noop, ST_AUTHORIZATION | ST_TRANSACTION, NO_ARGS },
	{ "STLS", cmd_stls, ST_AUTHORIZATION, NO_ARGS },
	{ "USER", cmd_user, ST_AUTHORIZATION, NEEDS_PLAINTEXT_OK },
	{ "PASS", cmd_pass, ST_AUTHORIZATION, NEEDS_PLAINTEXT_OK },
	{ "AUTH", cmd_auth, ST_AUTHORIZATION, NEEDS_PLAINTEXT_OK },
	{ "STAT", cmd_stat, ST_TRANSACTION, NO_ARGS },
	{ "LIST", cmd_list, ST_TRANSACTION, 0 },
	{ "UIDL", cmd_uidl, ST_TRANSACTION, 0 },
	{ "RETR", cmd_retr, ST_TRANSACTION, 0 },
	{ "TOP", cmd_top, ST_TRANSACTION, 0 },
	{ "DELE", cmd_dele, ST_TRANSACTION, 0 },
	{ "RSET", cmd_rset, ST_TRANSACTION, NO_ARGS },
};

/* Counts a bad command; TRUE when the client has used up its allowance. */
static gboolean
bad_command(Session *s)
{
	return ++s->bad_commands >= POPD_MAX_BAD_COMMANDS;
}

/* Check (state, syntax, policy; answers the error) then proceed. */
static int
dispatch(Session *s, char *line)
{
	Pop3Command cmd;
	const char *why = NULL;

	if (pop3_command_parse(line, &cmd, &why) < 0)
		return reply(s, "-ERR %s", why) < 0 || bad_command(s) ? -1 : 0;
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(commands[i].name, cmd.keyword) != 0)
			continue;
		if (!(commands[i].states & s->state))
			return reply(s, "-ERR %s is not allowed %s.", cmd.keyword,
			             s->state == ST_AUTHORIZATION ? "before login" : "after login");
		if ((commands[i].flags & NO_ARGS) && cmd.nargs > 0)
			return reply(s, "-ERR %s takes no arguments.", cmd.keyword);
		if ((commands[i].flags & NEEDS_PLAINTEXT_OK) && !plaintext_allowed(s))
			return reply(s, "-ERR [AUTH] Plaintext authentication disallowed on "
			                "non-secure (SSL/TLS) connections.");
		return commands[i].handler(s, &cmd);
	}
	return reply(s, "-ERR Unknown command.") < 0 || bad_command(s) ? -1 : 0;
}

/* The command of the table whose name is the n letters at line, or NULL. */
static const char *
known_keyword(const char *line, gsize n)
{
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strlen(commands[i].name) == n &&
		    g_ascii_strncasecmp(commands[i].name, line, n) == 0)
			return commands[i].name;
	return NULL;
}

/* TRUE when rest (" ARG ARG") holds only spaces and digits. */
static gboolean
numeric_args(const char *rest)
{
	return strspn(rest, " 0123456789") == strlen(rest);
}

/* The form of a client line that the -v log may show. Lines carry
 * passwords, and clients err (PASS with a tab, a password sent after a
 * refused AUTH, two commands in one line split by a bare CR), so the log
 * shows only what is known to be harmless: a command keyword, the
 * mechanism of AUTH, and after login numeric arguments; anything else is
 * "********". secret: the line answers an AUTH challenge. */
static char *
shown_line(const Session *s, const char *line, gboolean secret)
{
	gsize n = 0, mech;
	const char *kw, *rest;

	while (n < 4 && g_ascii_isalpha(line[n]))
		n++;
	kw = secret || g_ascii_isalpha(line[n]) ? NULL : known_keyword(line, n);
	if (kw == NULL)
		return g_strdup("********");
	rest = line + n;
	if (*rest == '\0' || (s->state == ST_TRANSACTION && numeric_args(rest)))
		return g_strconcat(kw, rest, NULL);
	mech = strspn(rest + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
	if (strcmp(kw, "AUTH") == 0 && *rest == ' ' && mech > 0 && mech <= 20)
		return g_strdup_printf("AUTH %.*s%s", (int)mech, rest + 1,
		                       rest[1 + mech] != '\0' ? " ********" : "");
	return g_strconcat(kw, " ********", NULL);
}

/* TRUE for "AUTH MECH" without an initial response: the client's next
 * line will be its response. */
static gboolean
awaits_sasl_response(const char *line)
{
	const char *sp = strchr(line, ' ');

	return sp != NULL && sp - line == 4 && g_ascii_strncasecmp(line, "AUTH", 4) == 0 &&
	       sp[1] != '\0' && strchr(sp + 1, ' ') == NULL;
}

/* Reads and serves commands until the session ends. */
static int
serve(Session *s)
{
	for (;;) {
		g_autoptr(GError) err = NULL;
		HmLine line;
		HmIoStatus st;
		gboolean secret;

		/* Replies to pipelined commands go out together, once the
		 * client has nothing more queued (RFC 2449 PIPELINING). */
		if (hm_conn_pending(s->conn) == 0 && hm_conn_flush(s->conn, NULL) < 0)
			return -1;
		if (s->done)
			return 0;
		st = hm_conn_read_line(s->conn, POPD_LINE_MAX, 0, &line, &err);
		if (st == HM_IO_TOO_LONG || st == HM_IO_NUL) {
			s->secret_next = FALSE;
			if (reply(s, "-ERR %s", st == HM_IO_NUL ? "NUL byte in command."
			                                         : "Input line too long.") < 0 ||
			    bad_command(s))
				break;
			continue;
		}
		if (st == HM_IO_TIMEOUT) {
			reply(s, "-ERR Disconnected for inactivity.");
			break;
		}
		if (st != HM_IO_OK)
			return -1;
		secret = s->secret_next;
		s->secret_next = awaits_sasl_response(line.data);
		if (hm_log_debug_enabled()) {
			g_autofree char *shown = shown_line(s, line.data, secret);

			hm_debug("popd[%s] C: %s", s->id, shown);
		}
		if (dispatch(s, line.data) < 0)
			break;
	}
	hm_conn_flush(s->conn, NULL);
	return -1;
}

int
popd_session_run(HmConn *conn, const PopdSessionParams *p)
{
	Session s = { .conn = conn, .p = p, .state = ST_AUTHORIZATION };
	int rc;

	g_snprintf(s.id, sizeof(s.id), "%08x", g_random_int());
	hm_debug("popd[%s] connect peer=%s tls=%s", s.id, p->peer,
	         hm_conn_is_tls(conn) ? "yes" : "no");
	rc = reply(&s, "+OK homemail POP3 ready.") < 0 ? -1 : serve(&s);
	if (hm_conn_write_failure(conn) != NULL)
		hm_info("popd[%s] sending failed peer=%s: %s", s.id, p->peer,
		        hm_conn_write_failure(conn));
	if (s.mb != NULL && !s.done)
		hm_info("popd[%s] disconnected user=%s: nothing deleted", s.id, s.user->name);
	popd_mailbox_close(s.mb);
	g_free(s.user_arg);
	return rc;
}
