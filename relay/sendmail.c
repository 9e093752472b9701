/* homemail-sendmail: the sendmail command of the box. Local programs
 * (cron, mail(1), scripts) hand it a message on stdin; it leaves the
 * message in the relay's drop folder, durably, and wakes the relay: it
 * works while the relay is down. Command line as sendmail's and Postfix's
 * sendmail, so programs that call /usr/sbin/sendmail just work; their
 * other common flags are accepted and ignored. Exit codes: sysexits(3). */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "lib/address.h"
#include "lib/error.h"
#include "lib/header.h"
#include "lib/log.h"
#include "lib/net.h"
#include "relay/addrlist.h"
#include "relay/drop.h"
#include "relay/queue-show.h"
#include "relay/spool.h"

/* Without a configured relay.max_message_size, what stdin may bring. */
#define SENDMAIL_DEFAULT_MAX (50 * 1024 * 1024)

typedef struct {
	const char *config;      /* -C */
	gboolean extract;        /* -t: recipients from To:, Cc:, Bcc: */
	const char *sender;      /* -f / -r */
	const char *fullname;    /* -F */
	gboolean dot_ok;         /* -i / -oi: a lone "." does not end the input */
	const char *notify;      /* -N */
	const char *ret;         /* -R */
	const char *envid;       /* -V */
	char mode;               /* -b: 'm' send, 'p' list the queue, 'i' newaliases; 'q': -q */
	int verbose;
	GPtrArray *rcpts;
} Args;

static int
usage(const char *why)
{
	FILE *to = why != NULL ? stderr : stdout;

	if (why != NULL)
		fprintf(stderr, "homemail-sendmail: %s\n", why);
	fprintf(to, "usage: homemail-sendmail [-C FILE] [-t] [-i] [-f SENDER] [-F NAME] "
	                "[-N DSN] [-R RET] [-V ENVID] [RCPT...]\n"
	                "       homemail-sendmail -bp | -q\n");
	return EX_USAGE;
}

/* The value of option c: attached ("-fsender") or the next argument. */
static const char *
value(int argc, char **argv, int *i, const char *attached)
{
	if (attached[0] != '\0')
		return attached;
	return *i + 1 < argc ? argv[++*i] : NULL;
}

/* Parses argv as sendmail does: options first, then recipients. Returns
 * 0, or an exit status (-1: --help or --version done). */
static int
parse_args(int argc, char **argv, Args *a)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *arg = argv[i], *rest = arg + 2, *v = NULL;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(arg, "--help") == 0) {
			usage(NULL);
			return -1;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("homemail-sendmail %s\n", PACKAGE_VERSION);
			return -1;
		}
		switch (arg[1]) {
		case 'C': case 'f': case 'r': case 'F': case 'N': case 'R': case 'V':
		case 'B': case 'h': case 'L': case 'O': case 'X':
			if ((v = value(argc, argv, &i, rest)) == NULL)
				return usage("an option needs a value");
			if (arg[1] == 'C')
				a->config = v;
			else if (arg[1] == 'f' || arg[1] == 'r')
				a->sender = v;
			else if (arg[1] == 'F')
				a->fullname = v;
			else if (arg[1] == 'N')
				a->notify = v;
			else if (arg[1] == 'R')
				a->ret = v;
			else if (arg[1] == 'V')
				a->envid = v;
			break;  /* -B, -h, -L, -O, -X: accepted, ignored */
		case 'o':
			if ((v = value(argc, argv, &i, rest)) == NULL)
				return usage("-o needs a value");
			a->dot_ok |= strcmp(v, "i") == 0;
			break;  /* -odi, -oem, -oep...: ignored */
		case 'b':
			if ((v = value(argc, argv, &i, rest)) == NULL || strlen(v) != 1 ||
			    strchr("mpis", v[0]) == NULL)
				return usage("supported modes: -bm (send), -bp (list the queue), -bs "
				             "(SMTP on stdin), -bi (no aliases database: nothing to do)");
			a->mode = v[0];
			break;
		case 'q':
			a->mode = 'q';
			break;
		case 'i':
			a->dot_ok = TRUE;
			break;
		case 't':
			a->extract = TRUE;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'c': case 'd': case 'e': case 'm': case 'n': case 'U': case 'G': case 'x':
			break;  /* accepted and ignored, as Postfix's sendmail does */
		default:
			return usage("unknown option");
		}
	}
	for (; i < argc; i++)
		g_ptr_array_add(a->rcpts, g_strdup(argv[i]));
	return 0;
}

/* Where the content ends before a line holding a lone "." (ended by LF
 * or CRLF) that starts in buf[from..len): the offset just past the LF
 * before it, or -1. A bounded search, since the input may hold NULs. */
static gssize
dot_line(const char *buf, gsize len, gsize from)
{
	const char *end = buf + len;

	for (const char *p = buf + from;
	     p < end && (p = memmem(p, (gsize)(end - p), "\n.", 2)) != NULL; p++) {
		gsize left = (gsize)(end - p);

		if ((left >= 3 && p[2] == '\n') || (left >= 4 && p[2] == '\r' && p[3] == '\n'))
			return p - buf + 1;
	}
	return -1;
}

/* Reads the message from stdin: to its end, or (without -i) to a line
 * holding a lone ".". NULL with *status set when it is too large. */
static GString *
read_message(gboolean dot_ok, guint64 max, int *status)
{
	GString *msg = g_string_new(NULL);
	char buf[65536];
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) != 0) {
		/* "\n.\r\n" may have begun in the last read, its 3 octets before. */
		gsize scan_from = msg->len > 3 ? msg->len - 3 : 0;
		gssize dot;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "homemail-sendmail: stdin: %s\n", g_strerror(errno));
			*status = EX_IOERR;
			g_string_free(msg, TRUE);
			return NULL;
		}
		g_string_append_len(msg, buf, n);
		if (!dot_ok) {
			if (g_str_has_prefix(msg->str, ".\n") || g_str_has_prefix(msg->str, ".\r\n")) {
				g_string_truncate(msg, 0);
				break;
			}
			if ((dot = dot_line(msg->str, msg->len, scan_from)) >= 0) {
				g_string_truncate(msg, (gsize)dot);
				break;
			}
		}
		/* A lower bound of the size the relay counts (relay_drop_write()
		 * applies the exact one): stdin is not read without end. */
		if (msg->len > max) {
			fprintf(stderr, "homemail-sendmail: message larger than %" G_GUINT64_FORMAT
			                " octets (relay.max_message_size)\n", max);
			*status = EX_DATAERR;
			g_string_free(msg, TRUE);
			return NULL;
		}
	}
	return msg;
}

/* The items of a list value split at its commas, those outside quoted
 * strings, comments and angle brackets; comments left out. */
static GPtrArray *
split_list(const char *value)
{
	GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
	GString *item = g_string_new(NULL);
	gboolean quoted = FALSE;
	guint comment = 0, angle = 0;

	for (const char *p = value;; p++) {
		if (*p == '\0' || (*p == ',' && !quoted && comment == 0 && angle == 0)) {
			g_ptr_array_add(items, g_string_free(g_steal_pointer(&item), FALSE));
			if (*p == '\0')
				return items;
			item = g_string_new(NULL);
			continue;
		}
		if (*p == '\\' && (quoted || comment > 0) && p[1] != '\0') {
			if (comment == 0)
				g_string_append_len(item, p, 2);
			p++;
			continue;
		}
		if (quoted) {
			quoted = *p != '"';
		} else if (*p == '(' || comment > 0) {
			if (*p == '(')
				comment++;
			else if (*p == ')')
				comment--;
			continue;
		} else if (*p == '"') {
			quoted = TRUE;
		} else if (*p == '<') {
			angle++;
		} else if (*p == '>' && angle > 0) {
			angle--;
		}
		g_string_append_c(item, *p);
	}
}

/* Local programs write "To: root, alice" (bare local names in a list),
 * which RFC 5322 does not allow: each item of the list is taken on its
 * own, as sendmail does. */
static void
add_loose(GPtrArray *rcpts, const HmHeaderField *f)
{
	g_autofree char *value = hm_header_value(f);
	g_autoptr(GPtrArray) items = split_list(value);

	for (guint i = 0; i < items->len; i++) {
		g_autofree char *addr = hm_header_addr_spec(g_strstrip((char *)items->pdata[i]));

		if (addr[0] != '\0')
			g_ptr_array_add(rcpts, g_steal_pointer(&addr));
	}
}

/* -t: the recipients of To:, Cc: and Bcc:, and the message without its
 * Bcc: fields (they must not reach the recipients). */
static int
extract_rcpts(GString *msg, GPtrArray *rcpts)
{
	gsize end = hm_header_section_end(msg->str, msg->len);
	HmHeaderIter it;
	HmHeaderField f;
	GArray *bcc = g_array_new(FALSE, FALSE, sizeof(gsize) * 2);

	hm_header_iter_init(&it, msg->str, end);
	while (hm_header_next(&it, &f) == 1) {
		GArray *spans;

		if (!hm_header_is(&f, "To") && !hm_header_is(&f, "Cc") && !hm_header_is(&f, "Bcc"))
			continue;
		spans = relay_addrlist_parse(f.value, f.value_len);
		if (spans != NULL) {
			for (guint i = 0; i < spans->len; i++)
				g_ptr_array_add(rcpts, g_strdup(g_array_index(spans, RelayAddrSpan, i).addr));
			g_array_unref(spans);
		} else {
			add_loose(rcpts, &f);
		}
		if (hm_header_is(&f, "Bcc")) {
			gsize range[2] = { (gsize)(f.name - msg->str), (gsize)(it.p - msg->str) };

			g_array_append_val(bcc, range);
		}
	}
	for (guint i = bcc->len; i-- > 0;) {
		gsize *range = &g_array_index(bcc, gsize, 2 * i);

		g_string_erase(msg, (gssize)range[0], (gssize)(range[1] - range[0]));
	}
	g_array_unref(bcc);
	return 0;
}

/* The envelope sender: login@hostname, or -f f checked as the SMTP
 * server checks MAIL FROM (and as recipients are: a bare local name, as
 * in "-f root", is one of ours, qualified as the default is, as Postfix
 * appends its origin). "" and "<>" are the null sender, "<a@b>" is a@b,
 * as sendmail takes them. NULL, said on stderr, when f is no address:
 * the relay could not take it, or it would add envelope lines. */
static char *
envelope_sender(const char *f, const HmConfig *cfg, const char *login)
{
	const guint flags = HM_ADDR_UTF8 | HM_ADDR_NO_DOMAIN;
	g_autoptr(GError) err = NULL;
	g_autofree char *shown = NULL;
	HmAddress addr = { 0 };
	gboolean is_null = FALSE, ok;
	gsize end = 0;
	char *sender;

	if (f == NULL)
		return relay_drop_local_address(cfg, login);
	if (f[0] == '\0')
		return g_strdup("");
	if (f[0] == '<')
		ok = hm_path_parse(f, flags, &addr, &is_null, &end, &err) == 0 && f[end] == '\0';
	else
		ok = hm_address_parse(f, strlen(f), flags, &addr, &err) == 0;
	if (ok) {
		sender = is_null               ? g_strdup("")
		         : addr.domain == NULL ? relay_drop_local_address(cfg, addr.local)
		                               : hm_address_format(&addr);
		hm_address_clear(&addr);
		return sender;
	}
	hm_address_clear(&addr);
	shown = g_strescape(f, NULL);
	fprintf(stderr, "homemail-sendmail: -f \"%s\": bad sender address: %s\n", shown,
	        err != NULL ? err->message : "junk after the path");
	return NULL;
}

/* A From: for a message without one (as Postfix adds). */
static void
add_from(GString *msg, const char *sender, const char *fullname)
{
	gsize end = hm_header_section_end(msg->str, msg->len);
	HmHeaderIter it;
	HmHeaderField f;
	g_autofree char *field = NULL;

	hm_header_iter_init(&it, msg->str, end);
	while (hm_header_next(&it, &f) == 1)
		if (hm_header_is(&f, "From"))
			return;
	if (sender[0] == '\0')
		return;
	field = fullname != NULL && fullname[0] != '\0' && strpbrk(fullname, "\"\\\r\n") == NULL
	                ? g_strdup_printf("From: \"%s\" <%s>\n", fullname, sender)
	                : g_strdup_printf("From: <%s>\n", sender);
	g_string_prepend(msg, field);
}

/* Copies what is readable on from to to. FALSE at end of input or on
 * an error. */
static gboolean
pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return TRUE;
	if (n <= 0)
		return FALSE;
	for (ssize_t done = 0; done < n;) {
		ssize_t w = write(to, buf + done, (size_t)(n - done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return FALSE;
		done += w;
	}
	return TRUE;
}

/* -bs: SMTP on stdin and stdout (as programs that speak SMTP to a pipe
 * expect). The drop folder cannot carry a dialogue, so this talks to the
 * running relay on its first listener without TLS, copying both ways
 * until either side ends. The relay then sees a loopback client, which
 * any local user could be anyway by connecting to it. */
static int
smtp_on_stdio(const HmConfig *cfg)
{
	g_autoptr(GError) err = NULL;
	const char *host;
	const HmListenSpec *l = hm_config_relay_local(&cfg->relay, &host);
	int fd = l != NULL ? hm_connect_tcp(host, l->port, NULL, 10000, &err) : -1;
	struct pollfd pfd[2];

	if (fd < 0) {
		fprintf(stderr, "homemail-sendmail: -bs: the relay does not answer%s%s\n",
		        err != NULL ? ": " : "", err != NULL ? err->message : "");
		return EX_UNAVAILABLE;
	}
	pfd[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = fd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if ((pfd[0].revents & (POLLIN | POLLHUP)) && !pump(0, fd)) {
			shutdown(fd, SHUT_WR);  /* the relay ends the session */
			pfd[0].fd = -1;
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP)) && !pump(fd, 1))
			break;
	}
	close(fd);
	return EX_OK;
}

/* The envelope of the message: sender, recipients (each checked), DSN
 * parameters. An exit status when something is unusable, else 0. */
static int
make_envelope(const Args *a, const char *sender, RelayQueueEntry *e)
{
	guint notify = 0;

	if (a->notify != NULL && relay_notify_parse(a->notify, &notify) < 0)
		return usage("-N takes NEVER, or SUCCESS, FAILURE and DELAY separated by commas");
	if (a->ret != NULL && relay_ret_parse(a->ret, &e->ret) < 0)
		return usage("-R takes FULL or HDRS");
	e->sender = g_strdup(sender);
	e->envid = g_strdup(a->envid);
	e->origin = RELAY_ORIGIN_SENDMAIL;
	for (guint i = 0; i < a->rcpts->len; i++) {
		const char *r = a->rcpts->pdata[i];
		HmAddress addr = { 0 };
		g_autoptr(GError) err = NULL;

		/* Recipients may be lists, as "a@x, b@y" in one argument. */
		if (strchr(r, ',') != NULL) {
			g_auto(GStrv) parts = g_strsplit(r, ",", -1);

			for (char **p = parts; *p != NULL; p++)
				if (g_strstrip(*p)[0] != '\0')
					g_ptr_array_add(a->rcpts, g_strdup(*p));
			continue;
		}
		/* The rule the SMTP server's RCPT applies (hm_path_parse() parses
		 * the address with hm_address_parse()), lengths included: what it
		 * refuses could never leave. The whole command is refused, as
		 * for any bad recipient: the caller learns at once, and nothing
		 * goes half-sent. */
		if (hm_address_parse(r, strlen(r), HM_ADDR_UTF8 | HM_ADDR_NO_DOMAIN, &addr, &err) < 0) {
			fprintf(stderr, "homemail-sendmail: <%s>: %s\n", r, err->message);
			return EX_DATAERR;
		}
		hm_address_clear(&addr);
		relay_queue_entry_add_rcpt(e, r, notify, NULL);
		e->smtputf8 |= !g_str_is_ascii(r);
	}
	if (e->rcpts->len == 0) {
		fprintf(stderr, "homemail-sendmail: no recipients\n");
		return EX_USAGE;
	}
	e->smtputf8 |= !g_str_is_ascii(sender);
	return 0;
}

static int
send_message(const Args *a, const HmConfig *cfg, const char *login)
{
	g_autofree char *queue_dir = g_build_filename(cfg->state_dir, "queue", NULL);
	g_autofree char *sender = envelope_sender(a->sender, cfg, login);
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *name = NULL;
	guint64 max = cfg->relay.max_message_size ? cfg->relay.max_message_size : SENDMAIL_DEFAULT_MAX;
	int status = 0;
	GString *msg;

	if (sender == NULL)
		return EX_DATAERR;
	if ((msg = read_message(a->dot_ok, max, &status)) == NULL)
		return status;
	if (a->extract)
		extract_rcpts(msg, a->rcpts);
	add_from(msg, sender, a->fullname);
	if ((status = make_envelope(a, sender, e)) != 0) {
		g_string_free(msg, TRUE);
		return status;
	}
	status = relay_drop_write(queue_dir, e, msg->str, msg->len, cfg->relay.max_message_size,
	                          &name, &err);
	g_string_free(msg, TRUE);
	if (status < 0 && g_error_matches(err, HM_ERROR, HM_ERROR_PARSE)) {
		/* More than the relay takes: refused here, not lost there. */
		fprintf(stderr, "homemail-sendmail: %s\n", err->message);
		return EX_DATAERR;
	}
	if (status < 0) {
		fprintf(stderr, "homemail-sendmail: cannot queue the message: %s\n", err->message);
		return g_error_matches(err, HM_ERROR, HM_ERROR_NOSPACE) || errno == ENOENT
		               ? EX_TEMPFAIL
		               : EX_CANTCREAT;
	}
	hm_debug("queued as drop/%s", name);
	/* No relay listening: it imports the message when it starts. */
	relay_spool_poke(queue_dir, 'm', NULL);
	return EX_OK;
}

/* Secrets are the daemons' business: any user may run this. A user who
 * may not read the config (setup makes it root:homemail 0640, for the
 * password hashes in it) gets what the relay published for them. */
static HmConfig *
load_config(const char *path, GError **err)
{
	HmConfig *cfg = hm_config_load_flags(path, HM_CONFIG_NO_SECRETS, NULL, NULL, err);
	g_autoptr(GError) why = NULL;

	if (cfg != NULL || access(path, R_OK) == 0 || errno != EACCES)
		return cfg;
	g_clear_error(err);
	cfg = relay_spool_load_published(&why);
	if (cfg == NULL)
		g_set_error(err, why->domain, why->code,
		            "%s: %s, and the relay's settings for local users cannot be used: %s",
		            path, g_strerror(EACCES), why->message);
	return cfg;
}

/* -q: the running relay tries its whole queue now. */
static int
flush(const char *queue_dir)
{
	g_autoptr(GError) err = NULL;

	switch (relay_spool_poke(queue_dir, 'f', &err)) {
	case RELAY_POKE_SENT:
		return EX_OK;
	case RELAY_POKE_DOWN:
		fprintf(stderr, "homemail-sendmail: the relay is not running\n");
		return EX_UNAVAILABLE;
	case RELAY_POKE_FAILED:
		break;
	}
	fprintf(stderr, "homemail-sendmail: %s\n", err->message);
	return EX_NOPERM;
}

int
main(int argc, char **argv)
{
	Args a = { .mode = 'm', .rcpts = g_ptr_array_new_with_free_func(g_free) };
	g_autoptr(HmConfig) cfg = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *queue_dir = NULL;
	struct passwd *pw = getpwuid(getuid());
	g_autofree char *login = pw != NULL ? g_strdup(pw->pw_name)
	                                    : g_strdup_printf("uid%u", (guint)getuid());
	g_autofree char *called = g_path_get_basename(argv[0]);
	int status = parse_args(argc, argv, &a);

	hm_log_init("homemail-sendmail", FALSE, a.verbose);
	if (status != 0)
		goto out;
	/* Linked as mailq or newaliases, as sendmail is. */
	if (strcmp(called, "mailq") == 0)
		a.mode = 'p';
	else if (strcmp(called, "newaliases") == 0)
		a.mode = 'i';
	cfg = load_config(a.config != NULL ? a.config : hm_config_default_path(), &err);
	if (cfg == NULL) {
		fprintf(stderr, "homemail-sendmail: %s\n", err->message);
		status = EX_CONFIG;
		goto out;
	}
	queue_dir = g_build_filename(cfg->state_dir, "queue", NULL);
	switch (a.mode) {
	case 'p':
		status = relay_queue_show_list(queue_dir, stdout, &err) == 0 ? EX_OK : EX_NOPERM;
		if (status != EX_OK)
			fprintf(stderr, "homemail-sendmail: %s\n", err->message);
		break;
	case 'q':
		status = flush(queue_dir);
		break;
	case 'i':
		status = EX_OK;  /* aliases live in the config: nothing to rebuild */
		break;
	case 's':
		status = smtp_on_stdio(cfg);
		break;
	default:
		status = send_message(&a, cfg, login);
	}
out:
	g_ptr_array_unref(a.rcpts);
	return status < 0 ? 0 : status;
}
