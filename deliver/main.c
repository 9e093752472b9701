/* homemail-deliver: the MDA. Reads one message on stdin and delivers it to
 * local users; exit codes per sysexits(3) so that any MTA (Postfix
 * mailbox_command, fetchmail mda, Exim pipe) knows whether to retry. */
#include <config.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/program.h"
#include "deliver/deliver.h"
#include "lib/atomic.h"
#include "lib/log.h"
#include "lib/privs.h"

#define EX_OK_ 0
#define EX_USAGE_ 64
#define EX_TEMPFAIL_ 75

typedef struct {
	HmProgram prog;      /* -c, -v, --version */
	char *sender;        /* -f; NULL: take it from the message */
	char *user;          /* -d */
	char **rcpts;        /* the remaining arguments */
	gboolean use_syslog; /* from the config: the reason also goes to stderr */
} Opts;

/* The options are taken as raw bytes (FILENAME): GOption's conversion of
 * STRING arguments from the locale's charset costs an iconv set-up (a third
 * of our own start-up), and fails on the UTF-8 address of an SMTPUTF8
 * recipient when an MTA runs us in the C locale, as they do. So an
 * argument that is UTF-8 already (ASCII included) is taken as it is; only
 * other bytes go through the locale's conversion. */
static gboolean
locale_to_utf8(char **s, GError **err)
{
	char *u;

	if (*s == NULL || g_utf8_validate(*s, -1, NULL))
		return TRUE;
	if ((u = g_locale_to_utf8(*s, -1, NULL, NULL, err)) == NULL)
		return FALSE;
	g_free(*s);
	*s = u;
	return TRUE;
}

static gboolean
args_to_utf8(Opts *o, GError **err)
{
	if (!locale_to_utf8(&o->sender, err) || !locale_to_utf8(&o->user, err))
		return FALSE;
	for (char **r = o->rcpts; r != NULL && *r != NULL; r++)
		if (!locale_to_utf8(r, err))
			return FALSE;
	return TRUE;
}

static int
parse_options(int *argc, char ***argv, Opts *o)
{
	const GOptionEntry entries[] = {
		{ "from", 'f', 0, G_OPTION_ARG_FILENAME, &o->sender,
		  "envelope sender (default: the message's Return-Path, else <>)", "SENDER" },
		{ "user", 'd', 0, G_OPTION_ARG_FILENAME, &o->user, "deliver to this local user",
		  "USER" },
		{ G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->rcpts, NULL,
		  "RCPT..." },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GError) err = NULL;
	int status = EX_OK_;

	o->prog = (HmProgram){
		.name = "homemail-deliver",
		.params = "[-d USER | RCPT...]",
		.summary = "Delivers the message on standard input to local mailboxes.",
		.description = "Exit status (sysexits): 0 delivered, 65 malformed message or mail "
		               "loop, 67 unknown user, 75 temporary failure (retry later).",
		.entries = entries,
		/* Delivery needs no secret: reading the fetch accounts' and
		 * smart hosts' password files would cost system calls on every
		 * message and fail for an MTA running us as a user who may not
		 * read them. */
		.load_flags = HM_CONFIG_NO_SECRETS,
		.usage_status = EX_USAGE_,
		/* A broken config is the admin's to fix: the mail waits. */
		.config_status = EX_TEMPFAIL_,
	};
	if (!hm_program_parse(&o->prog, argc, argv, &status))
		return status == EX_OK_ ? -1 : status;
	if (!args_to_utf8(o, &err)) {
		fprintf(stderr, "homemail-deliver: %s\n", err->message);
		return EX_USAGE_;
	}
	if ((o->user == NULL) == (o->rcpts == NULL || o->rcpts[0] == NULL)) {
		fprintf(stderr, "homemail-deliver: give either -d USER or recipient addresses "
		        "(see --help)\n");
		return EX_USAGE_;
	}
	return EX_OK_;
}

/* Reads stdin whole, refusing more than max bytes (a malformed message
 * for the MTA, which then bounces it; a read error is temporary). */
static GBytes *
read_message(guint64 max, GError **err)
{
	g_autoptr(GError) rerr = NULL;
	GBytes *msg = hm_read_fd(STDIN_FILENO, (gsize)MIN(max, G_MAXSIZE), "stdin", &rerr);

	if (msg != NULL)
		return msg;
	if (errno == EFBIG)
		g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_MALFORMED,
		            "message larger than relay.max_message_size (%" G_GUINT64_FORMAT " bytes)",
		            max);
	else
		g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP, "reading the message: %s",
		            rerr->message);
	return NULL;
}

/* The one-line reason the MTA shows in its log or bounce. */
static int
fail(const Opts *o, const GError *err)
{
	hm_err("%s", err->message);
	if (o->use_syslog)
		fprintf(stderr, "homemail-deliver: %s\n", err->message);
	return hm_deliver_exit_code(err);
}

/* Which of two exit codes to report for several recipients: a temporary
 * failure wins, so the MTA keeps the message and retries (recipients that
 * already got it may get it twice, which beats losing it for the others);
 * then unknown user, then malformed. */
static int
worse(int a, int b)
{
	static const int rank[] = { EX_OK_, 65, 67, EX_TEMPFAIL_ };
	int ra = 0, rb = 0;

	for (int i = 0; i < (int)G_N_ELEMENTS(rank); i++) {
		if (rank[i] == a)
			ra = i;
		if (rank[i] == b)
			rb = i;
	}
	return ra >= rb ? a : b;
}

/* "<a@b>" -> "a@b", "<>" -> "": envelope addresses as MTAs pass them. */
static char *
strip_angle(const char *s)
{
	g_autofree char *t = g_strstrip(g_strdup(s));
	gsize len = strlen(t);

	if (len >= 2 && t[0] == '<' && t[len - 1] == '>')
		return g_strndup(t + 1, len - 2);
	return g_steal_pointer(&t);
}

static int
deliver_one(const HmConfig *cfg, const Opts *o, const char *who, gboolean is_rcpt,
            GBytes *msg, GHashTable *done)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *user = hm_recipient_resolve(cfg, who, &err);
	g_autofree char *where = NULL;
	g_autofree char *sender = o->sender != NULL ? strip_angle(o->sender) : NULL;
	g_autofree char *addr = strip_angle(who);
	const char *rcpt = strchr(addr, '@') != NULL ? addr : NULL;
	gsize len;
	const char *data = g_bytes_get_data(msg, &len);

	if (user == NULL)
		return fail(o, err);
	/* One copy per user, however many of its addresses were named. */
	if (g_hash_table_contains(done, user))
		return EX_OK_;
	if (hm_deliver_message(cfg, user, rcpt, sender, NULL, 0, data != NULL ? data : "", len,
	                       &where, &err) < 0)
		return fail(o, err);
	/* On stderr the MTA reads our output as the failure reason (Postfix
	 * puts it in the bounce), so successes show there only with -v. */
	hm_log(o->use_syslog ? HM_LOG_INFO : HM_LOG_DEBUG,
	       "delivered %s=%s user=%s file=%s size=%" G_GSIZE_FORMAT, is_rcpt ? "rcpt" : "d", who,
	       user, where, len);
	g_hash_table_add(done, g_steal_pointer(&user));
	return EX_OK_;
}

/* The name of mail_dir's owner when we run as root and it is another
 * user, else NULL. */
static char *
mail_dir_owner(const char *mail_dir)
{
	struct stat st;
	const struct passwd *pw;

	if (geteuid() != 0 || stat(mail_dir, &st) < 0 || st.st_uid == 0 ||
	    (pw = getpwuid(st.st_uid)) == NULL)
		return NULL;
	return g_strdup(pw->pw_name);
}

static int
run(Opts *o)
{
	g_autoptr(HmConfig) cfg = NULL;
	g_autoptr(GBytes) msg = NULL;
	g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GError) err = NULL;
	g_autofree char *user = NULL;
	int rc = EX_OK_;

	if ((cfg = hm_program_load(&o->prog, &rc)) == NULL)
		return rc;
	o->use_syslog = cfg->use_syslog;
	/* Run as root (a cron job, an admin by hand) the mail must still be
	 * the service user's, as what the daemons deliver is: a file or a
	 * Maildir made by root is one popd, running as run_as, cannot read,
	 * and one later deliveries cannot write into. With run_as unset (the
	 * systemd units run the daemons as their User= instead) the service
	 * user is mail_dir's owner. An MDA says nothing on success, so no
	 * warning when there is no one to become. */
	user = cfg->run_as != NULL ? g_strdup(cfg->run_as) : mail_dir_owner(cfg->mail_dir);
	if (user != NULL && hm_drop_privileges(user, &err) < 0)
		return fail(o, err);
	msg = read_message(cfg->relay.max_message_size, &err);
	if (msg == NULL)
		return fail(o, err);
	if (o->user != NULL)
		return deliver_one(cfg, o, o->user, FALSE, msg, done);
	for (char **r = o->rcpts; *r != NULL; r++)
		rc = worse(rc, deliver_one(cfg, o, *r, TRUE, msg, done));
	return rc;
}

int
main(int argc, char **argv)
{
	Opts o = { 0 };
	int rc = parse_options(&argc, &argv, &o);

	if (rc == EX_OK_)
		rc = run(&o);
	else if (rc < 0)  /* --version, printed */
		rc = EX_OK_;
	hm_program_clear(&o.prog);
	g_free(o.sender);
	g_free(o.user);
	g_strfreev(o.rcpts);
	return rc;
}
