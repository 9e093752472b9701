#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "printable.h"

/* Written once at start-up (and again after fork), read everywhere: the one
 * piece of process-wide state besides the loaded config. */
static struct {
	char ident[64];
	gboolean use_syslog;
	int verbosity;
} log_state = { "homemail", FALSE, 0 };

void
hm_log_init(const char *ident, gboolean use_syslog, int verbosity)
{
	g_strlcpy(log_state.ident, ident, sizeof(log_state.ident));
	if (log_state.use_syslog)
		closelog();
	log_state.use_syslog = use_syslog;
	log_state.verbosity = verbosity;
	if (use_syslog)
		openlog(log_state.ident, LOG_PID, LOG_MAIL);
}

gboolean
hm_log_debug_enabled(void)
{
	return log_state.verbosity > 0;
}

void
hm_log(HmLogLevel level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	g_autofree char *msg = NULL, *shown = NULL;
	va_list ap;

	if (level == HM_LOG_DEBUG && !hm_log_debug_enabled())
		return;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* One event per line: an embedded newline would let a peer forge log
	 * lines (shown as a space); any other control character, or octet
	 * that is no UTF-8, would let it drive the terminal of whoever reads
	 * the log (shown as '?'). */
	g_strdelimit(msg, "\r\n\t", ' ');
	shown = hm_printable(msg, -1);
	if (log_state.use_syslog)
		syslog(prio[level], "%s%s", tag[level], shown);
	else
		fprintf(stderr, "%s: %s%s\n", log_state.ident, tag[level], shown);
}

/* Commands whose arguments after the n-th word are secrets. */
static const struct {
	const char *verb;   /* upper case; matched case-insensitively */
	int keep_words;     /* words shown before the mask */
} secret_cmds[] = {
	{ "PASS", 1 },          /* POP3 */
	{ "AUTH", 2 },          /* SMTP/POP3: AUTH PLAIN <initial response> */
	{ "APOP", 2 },          /* POP3: APOP user digest */
	{ "LOGIN", 3 },         /* IMAP: tag LOGIN user password (tag counted) */
	{ "AUTHENTICATE", 3 },  /* IMAP: tag AUTHENTICATE PLAIN <ir> */
};

/* Offset where word n (0-based) starts, or -1 when there are fewer words. */
static gssize
word_offset(const char *s, int n)
{
	const char *p = s;

	for (int i = 0; ; i++) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return -1;
		if (i == n)
			return p - s;
		while (*p != '\0' && *p != ' ')
			p++;
	}
}

static gboolean
word_is(const char *s, gssize off, const char *verb)
{
	gsize n = strlen(verb);

	return off >= 0 && g_ascii_strncasecmp(s + off, verb, n) == 0 &&
	    (s[off + n] == ' ' || s[off + n] == '\0');
}

char *
hm_log_mask_line(const char *line, gboolean in_sasl)
{
	GString *out;
	gssize cut = -1;

	if (in_sasl)
		cut = 0;
	for (gsize i = 0; cut < 0 && i < G_N_ELEMENTS(secret_cmds); i++) {
		/* IMAP commands carry a tag first. */
		int verb_word = secret_cmds[i].keep_words == 3 ? 1 : 0;

		if (word_is(line, word_offset(line, verb_word), secret_cmds[i].verb))
			cut = word_offset(line, secret_cmds[i].keep_words);
	}
	out = g_string_new(NULL);
	for (const char *p = line; *p != '\0' && (cut < 0 || p - line < cut); p++)
		g_string_append_c(out, g_ascii_iscntrl(*p) ? '?' : *p);
	if (cut >= 0)
		g_string_append(out, "********");
	return g_string_free(out, FALSE);
}

void
hm_log_trace(gboolean from_client, const char *line, const char *fmt, ...)
{
	g_autofree char *who = NULL, *safe = NULL;
	va_list ap;

	if (!hm_log_debug_enabled())
		return;
	va_start(ap, fmt);
	who = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	safe = hm_log_mask_line(line, FALSE);
	hm_log(HM_LOG_DEBUG, "%s: %s %s", who, from_client ? "C:" : "S:", safe);
}
