/* The queue's two text formats: the envelope at the head of a message
 * file and the delivery state in ID.s. Both are line-based, one key per
 * line, so that `homemail queue show` and a person with `less` can read
 * them, and strict when read back: a damaged file is reported, never
 * half-used. Values that may hold spaces or any octet (ENVID, ORCPT) are
 * xtext (RFC 3461 4); addresses stand last on their line between < >. */
#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "lib/parse.h"
#include "relay/queue.h"
#include "relay/smtp-parse.h"

#define ENVELOPE_MAGIC RELAY_QUEUE_MAGIC
#define STATE_MAGIC "HMS1"
#define SIZE_WIDTH RELAY_QUEUE_SIZE_WIDTH

static const char *const origin_names[] = { "smtp", "sendmail", "dsn" };
static const char *const state_names[] = { "pending", "delivered", "failed", "expired" };

/* Appends "<key> <value>\n" when value is set. */
static void
put(GString *out, const char *key, const char *value)
{
	if (value != NULL)
		g_string_append_printf(out, "%s %s\n", key, value);
}

void
relay_queue_envelope_format(const RelayQueueEntry *e, GString *out)
{
	g_string_append(out, ENVELOPE_MAGIC "\n");
	g_string_append_printf(out, "arrival %" G_GINT64_FORMAT "\n", e->arrival);
	put(out, "origin", origin_names[e->origin]);
	g_string_append_printf(out, "sender <%s>\n", e->sender);
	put(out, "client", e->client);
	put(out, "helo", e->helo);
	put(out, "auth", e->auth_user);
	put(out, "body", relay_body_name(e->body));
	if (e->smtputf8)
		g_string_append(out, "smtputf8\n");
	put(out, "ret", relay_ret_name(e->ret));
	if (e->envid != NULL) {
		g_string_append(out, "envid ");
		relay_xtext_encode(e->envid, out);
		g_string_append_c(out, '\n');
	}
	for (guint i = 0; i < e->rcpts->len; i++) {
		const RelayQueueRcpt *r = relay_queue_rcpt(e, i);

		g_string_append(out, "rcpt ");
		if (r->notify != 0)
			relay_notify_format(r->notify, out);
		else
			g_string_append_c(out, '-');
		g_string_append_c(out, ' ');
		if (r->orcpt != NULL)
			relay_xtext_encode(r->orcpt, out);
		else
			g_string_append_c(out, '-');
		g_string_append_printf(out, " <%s>\n", r->addr);
	}
	g_string_append_printf(out, "size %0*" G_GUINT64_FORMAT "\n\n", SIZE_WIDTH, e->size);
}

/* TRUE if s (NULL: not written) holds an octet below 0x20 or DEL. */
static gboolean
has_control(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((guchar)*s < 0x20 || *s == 0x7f)
			return TRUE;
	return FALSE;
}

int
relay_queue_envelope_check(const RelayQueueEntry *e, GError **err)
{
	const char *what = has_control(e->sender)      ? "sender"
	                   : has_control(e->client)    ? "client"
	                   : has_control(e->helo)      ? "helo"
	                   : has_control(e->auth_user) ? "auth"
	                                               : NULL;

	for (guint i = 0; what == NULL && i < e->rcpts->len; i++)
		if (has_control(relay_queue_rcpt(e, i)->addr))
			what = "recipient";
	if (what == NULL)
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "control character in the envelope's %s", what);
	return -1;
}

/* A parse error quoting the start of line; with line NULL, quoting
 * nothing: what does not begin as our file may be anything (a file a
 * link or a damaged disk put under a queue name), and an error message
 * must not show it to whoever reads the error (root, in the log). */
static int
bad(GError **err, const char *what, const char *line, gsize len)
{
	g_autofree char *shown = NULL;

	if (line == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s", what);
		return -1;
	}
	shown = g_strndup(line, MIN(len, 60));
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: \"%s\"", what, g_strdelimit(shown, "\r", '?'));
	return -1;
}

/* An address between < and > at the end of value, "" allowed. */
static char *
angle_addr(const char *value)
{
	gsize n = strlen(value);

	if (n < 2 || value[0] != '<' || value[n - 1] != '>')
		return NULL;
	return g_strndup(value + 1, n - 2);
}

static int
pick(const char *const *names, gsize n, const char *value)
{
	for (gsize i = 0; i < n; i++)
		if (strcmp(names[i], value) == 0)
			return (int)i;
	return -1;
}

static int
parse_rcpt(RelayQueueEntry *e, const char *value)
{
	g_auto(GStrv) parts = g_strsplit(value, " ", 3);
	g_autofree char *addr = NULL, *orcpt = NULL;
	guint notify = 0;

	if (g_strv_length(parts) != 3 || e->rcpts->len >= RELAY_QUEUE_MAX_RCPTS)
		return -1;
	if (strcmp(parts[0], "-") != 0 && relay_notify_parse(parts[0], &notify) < 0)
		return -1;
	if (strcmp(parts[1], "-") != 0 && (orcpt = relay_xtext_decode(parts[1], NULL)) == NULL)
		return -1;
	addr = angle_addr(parts[2]);
	if (addr == NULL || addr[0] == '\0')
		return -1;
	relay_queue_entry_add_rcpt(e, addr, notify, orcpt);
	return 0;
}

/* One "key value" line of the envelope into e. -1 when it is bad. */
static int
parse_field(RelayQueueEntry *e, const char *key, const char *value, gboolean *got_size)
{
	guint64 n;
	int i;

	if (strcmp(key, "arrival") == 0 && hm_parse_uint(value, 0, G_MAXINT64, &n) == 0)
		e->arrival = (gint64)n;
	else if (strcmp(key, "origin") == 0 &&
	         (i = pick(origin_names, G_N_ELEMENTS(origin_names), value)) >= 0)
		e->origin = (RelayOrigin)i;
	else if (strcmp(key, "sender") == 0 && e->sender == NULL)
		return (e->sender = angle_addr(value)) != NULL ? 0 : -1;
	else if (strcmp(key, "client") == 0 && e->client == NULL)
		e->client = g_strdup(value);
	else if (strcmp(key, "helo") == 0 && e->helo == NULL)
		e->helo = g_strdup(value);
	else if (strcmp(key, "auth") == 0 && e->auth_user == NULL)
		e->auth_user = g_strdup(value);
	else if (strcmp(key, "body") == 0)
		return relay_body_parse(value, &e->body);
	else if (strcmp(key, "smtputf8") == 0 && value[0] == '\0')
		e->smtputf8 = TRUE;
	else if (strcmp(key, "ret") == 0)
		return relay_ret_parse(value, &e->ret);
	else if (strcmp(key, "envid") == 0 && e->envid == NULL)
		return (e->envid = relay_xtext_decode(value, NULL)) != NULL ? 0 : -1;
	else if (strcmp(key, "rcpt") == 0)
		return parse_rcpt(e, value);
	else if (strcmp(key, "size") == 0 && strlen(value) == SIZE_WIDTH &&
	         hm_parse_uint(value, 0, G_MAXINT64, &e->size) == 0)
		*got_size = TRUE;
	else
		return -1;
	return 0;
}

int
relay_queue_envelope_parse(const char *buf, gsize len, RelayQueueEntry *e, gsize *header_len,
                           GError **err)
{
	gsize pos = 0;
	gboolean first = TRUE, got_size = FALSE;

	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		gsize n;
		g_autofree char *text = NULL;
		char *sp;

		if (nl == NULL)
			return bad(err, "queue file: envelope " RELAY_QUEUE_CUT_SHORT,
			           first ? NULL : line, len - pos);
		n = (gsize)(nl - line);
		pos += n + 1;
		if (first && (n != strlen(ENVELOPE_MAGIC) || memcmp(line, ENVELOPE_MAGIC, n) != 0))
			return bad(err, "not a queue file", NULL, 0);
		if (memchr(line, '\0', n) != NULL || memchr(line, '\r', n) != NULL)
			return bad(err, "queue file: bad envelope line", line, n);
		if (n == 0) {
			if (!got_size || e->sender == NULL || e->rcpts->len == 0)
				return bad(err, "queue file: incomplete envelope", NULL, 0);
			*header_len = pos;
			return 0;
		}
		if (first) {
			first = FALSE;
			continue;
		}
		text = g_strndup(line, n);
		sp = strchr(text, ' ');
		if (sp != NULL)
			*sp++ = '\0';
		if (parse_field(e, text, sp != NULL ? sp : "", &got_size) < 0)
			return bad(err, "queue file: bad envelope line", line, n);
	}
	return bad(err, "queue file: envelope " RELAY_QUEUE_CUT_SHORT, NULL, 0);
}

void
relay_queue_state_format(const RelayQueueEntry *e, GString *out)
{
	g_string_append(out, STATE_MAGIC "\n");
	for (guint i = 0; i < e->rcpts->len; i++) {
		const RelayQueueRcpt *r = relay_queue_rcpt(e, i);

		g_string_append_printf(out, "%u %s %u %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %d ", i,
		                       state_names[r->state], r->attempts, r->next_try, r->last_try,
		                       r->warned ? 1 : 0);
		if (r->reply != NULL)
			for (const char *p = r->reply; *p != '\0'; p++)
				g_string_append_c(out, (*p == '\r' || *p == '\n') ? ' ' : *p);
		g_string_append_c(out, '\n');
	}
}

/* One state line "INDEX STATE ATTEMPTS NEXT LAST WARNED REPLY" into e. */
static int
parse_state_line(RelayQueueEntry *e, const char *text)
{
	g_auto(GStrv) f = g_strsplit(text, " ", 7);
	guint64 idx, attempts, next, last, warned;
	RelayQueueRcpt *r;
	int state;

	if (g_strv_length(f) != 7 || hm_parse_uint(f[0], 0, e->rcpts->len - 1, &idx) < 0 ||
	    (state = pick(state_names, G_N_ELEMENTS(state_names), f[1])) < 0 ||
	    hm_parse_uint(f[2], 0, G_MAXUINT, &attempts) < 0 ||
	    hm_parse_uint(f[3], 0, G_MAXINT64, &next) < 0 ||
	    hm_parse_uint(f[4], 0, G_MAXINT64, &last) < 0 || hm_parse_uint(f[5], 0, 1, &warned) < 0)
		return -1;
	r = relay_queue_rcpt(e, (guint)idx);
	r->state = (RelayRcptState)state;
	r->attempts = (guint)attempts;
	r->next_try = (gint64)next;
	r->last_try = (gint64)last;
	r->warned = warned != 0;
	g_free(r->reply);
	r->reply = f[6][0] != '\0' ? g_strdup(f[6]) : NULL;
	return 0;
}

int
relay_queue_state_parse(const char *buf, gsize len, RelayQueueEntry *e, GError **err)
{
	g_autofree char *copy = g_strndup(buf, len);
	g_auto(GStrv) lines = NULL;
	guint n;

	if (strlen(copy) != len || len == 0 || buf[len - 1] != '\n' || e->rcpts->len == 0)
		return bad(err, "queue state: damaged", NULL, 0);
	copy[len - 1] = '\0';
	lines = g_strsplit(copy, "\n", -1);
	n = g_strv_length(lines);
	if (n == 0 || strcmp(lines[0], STATE_MAGIC) != 0)
		return bad(err, "queue state: damaged", NULL, 0);
	if (n - 1 != e->rcpts->len)
		return bad(err, "queue state: damaged", buf, len);
	for (guint i = 1; i < n; i++)
		if (strchr(lines[i], '\r') != NULL || parse_state_line(e, lines[i]) < 0)
			return bad(err, "queue state: bad line", lines[i], strlen(lines[i]));
	return 0;
}
