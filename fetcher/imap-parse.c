#include <config.h>

#include <string.h>

#include "fetcher/fetch.h"
#include "fetcher/imap-parse.h"
#include "lib/error.h"
#include "lib/parse.h"

/* Literals are read in slices of this size, each with its own deadline, so
 * a large message on a slow link is bounded by progress, not by one
 * timeout for the whole literal. */
#define LITERAL_SLICE (64 * 1024)

typedef struct {
	const HmImapSource *src;
	const HmImapLimits *lim;
	gsize text_used;      /* octets of lines so far (each counted with 2 for
	                       * its CRLF, so empty lines are not free) */
	gsize literal_used;
	const char *p, *end;  /* the current line */
	HmImapResponse *r;
} Parser;

static void
token_free(gpointer data)
{
	HmImapToken *t = data;

	if (t == NULL)
		return;
	g_free(t->str);
	if (t->list != NULL)
		g_ptr_array_unref(t->list);
	g_free(t);
}

static GPtrArray *
token_list_new(void)
{
	return g_ptr_array_new_with_free_func(token_free);
}

void
hm_imap_response_free(HmImapResponse *r)
{
	if (r == NULL)
		return;
	g_free(r->tag);
	g_free(r->keyword);
	g_free(r->code);
	g_ptr_array_unref(r->code_args);
	g_free(r->rest);
	g_free(r->text);
	g_ptr_array_unref(r->args);
	g_free(r);
}

void
hm_imap_limits_init(HmImapLimits *lim, gsize max_literal)
{
	lim->max_text = HM_IMAP_MAX_TEXT;
	lim->max_literal = max_literal;
	lim->max_literals = max_literal + HM_IMAP_MAX_TEXT;
	lim->max_depth = HM_IMAP_MAX_DEPTH;
}

static int G_GNUC_PRINTF(2, 3)
fail(GError **err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	g_assert(*err == NULL);
	*err = g_error_new_valist(HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL, fmt, ap);
	va_end(ap);
	return -1;
}

/* Pulls the next line of the response from the source. */
static int
next_line(Parser *ps, GError **err)
{
	const char *line;
	gsize len;

	if (ps->text_used >= ps->lim->max_text)
		return fail(err, "response line too long");
	if (ps->src->line(ps->src->data, ps->lim->max_text - ps->text_used, &line, &len, err) < 0)
		return -1;
	if (len > ps->lim->max_text - ps->text_used)
		return fail(err, "response line too long");
	if (memchr(line, '\0', len) != NULL)
		return fail(err, "NUL byte in a response line");
	ps->text_used += len + 2;
	ps->p = line;
	ps->end = line + len;
	return 0;
}

static gboolean
is_ctl(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

/* What may follow a token: a space, a list's end, the line's end, or the
 * end of a response code. */
static gboolean
at_separator(const Parser *ps, gboolean in_code)
{
	return ps->p == ps->end || *ps->p == ' ' || *ps->p == ')' || (in_code && *ps->p == ']');
}

static HmImapToken *
token_new(HmImapType type, const char *s, gsize len)
{
	HmImapToken *t = g_new0(HmImapToken, 1);

	t->type = type;
	if (s != NULL) {
		t->str = g_strndup(s, len);
		t->len = len;
	}
	return t;
}

/* An atom runs to a space, a parenthesis, a quote or a control character;
 * a '[' takes everything to its ']' along (BODY[HEADER.FIELDS (A B)]). */
static HmImapToken *
parse_atom(Parser *ps, gboolean in_code, GError **err)
{
	const char *start = ps->p;
	HmImapToken *t;
	guint64 v;

	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == ' ' || c == '(' || c == ')' || c == '"' || c == '{' || is_ctl(c) ||
		    (c == ']' && in_code))
			break;
		if (c == '[') {
			const char *close = memchr(ps->p, ']', (gsize)(ps->end - ps->p));

			if (close == NULL) {
				fail(err, "unterminated '[' in an atom");
				return NULL;
			}
			ps->p = close;
		}
		ps->p++;
	}
	if (ps->p == start) {
		fail(err, "unexpected character 0x%02x in a response", (unsigned char)*start);
		return NULL;
	}
	if (hm_parse_uint_n(start, (gsize)(ps->p - start), 0, G_MAXUINT32, &v) == 0) {
		t = token_new(HM_IMAP_NUMBER, start, (gsize)(ps->p - start));
		t->num = (guint32)v;
		return t;
	}
	if (ps->p - start == 3 && g_ascii_strncasecmp(start, "NIL", 3) == 0)
		return token_new(HM_IMAP_NIL, NULL, 0);
	return token_new(HM_IMAP_ATOM, start, (gsize)(ps->p - start));
}

/* A quoted string; only \" and \\ are escapes (RFC 3501 section 9). */
static HmImapToken *
parse_quoted(Parser *ps, GError **err)
{
	GString *s = g_string_new(NULL);
	HmImapToken *t;

	ps->p++;
	for (;;) {
		char c;

		if (ps->p == ps->end) {
			g_string_free(s, TRUE);
			fail(err, "unterminated quoted string");
			return NULL;
		}
		c = *ps->p++;
		if (c == '"')
			break;
		if (c == '\\') {
			if (ps->p == ps->end || (*ps->p != '"' && *ps->p != '\\')) {
				g_string_free(s, TRUE);
				fail(err, "bad escape in a quoted string");
				return NULL;
			}
			c = *ps->p++;
		}
		g_string_append_c(s, c);
	}
	t = g_new0(HmImapToken, 1);
	t->type = HM_IMAP_STRING;
	t->len = s->len;
	t->str = g_string_free(s, FALSE);
	return t;
}

/* "{n}" at the end of a line: reads n octets and moves on to the line
 * that follows them. The size is checked before anything is read. */
static HmImapToken *
parse_literal(Parser *ps, GError **err)
{
	const char *start = ++ps->p, *close = memchr(start, '}', (gsize)(ps->end - start));
	HmImapToken *t;
	guint64 n;

	if (close == NULL || close + 1 != ps->end) {
		fail(err, "malformed literal");
		return NULL;
	}
	if (close > start && close[-1] == '+') {
		fail(err, "non-synchronising literal from the server");
		return NULL;
	}
	if (hm_parse_uint_n(start, (gsize)(close - start), 0, G_MAXUINT64, &n) < 0) {
		fail(err, "bad literal length");
		return NULL;
	}
	if (n > ps->lim->max_literal) {
		fail(err, "literal of %" G_GUINT64_FORMAT " octets exceeds the limit", n);
		return NULL;
	}
	if (n > ps->lim->max_literals - MIN(ps->literal_used, ps->lim->max_literals)) {
		fail(err, "the literals of one response exceed the limit");
		return NULL;
	}
	t = g_new0(HmImapToken, 1);
	t->type = HM_IMAP_STRING;
	t->literal = TRUE;
	t->len = (gsize)n;
	t->str = g_malloc((gsize)n + 1);
	t->str[n] = '\0';
	ps->literal_used += (gsize)n;
	ps->r->literal_octets += (gsize)n;
	if (ps->src->literal(ps->src->data, t->str, (gsize)n, err) < 0 || next_line(ps, err) < 0) {
		token_free(t);
		return NULL;
	}
	return t;
}

/* One token that is not a list. */
static HmImapToken *
parse_scalar(Parser *ps, gboolean in_code, GError **err)
{
	if (*ps->p == '"')
		return parse_quoted(ps, err);
	if (*ps->p == '{') {
		if (in_code) {
			fail(err, "literal in a response code");
			return NULL;
		}
		return parse_literal(ps, err);
	}
	return parse_atom(ps, in_code, err);
}

/* Tokens into top until the end of the response, or (in_code) until the
 * ']' that ends a response code, which is left unread. */
static int
parse_tokens(Parser *ps, GPtrArray *top, gboolean in_code, GError **err)
{
	g_autoptr(GPtrArray) stack = g_ptr_array_new();
	GPtrArray *cur = top;

	for (;;) {
		HmImapToken *t;

		if (ps->p == ps->end || (in_code && *ps->p == ']')) {
			if (stack->len > 0)
				return fail(err, "unterminated list");
			if (in_code && ps->p == ps->end)
				return fail(err, "unterminated response code");
			return 0;
		}
		if (*ps->p == ' ') {
			ps->p++;
			continue;
		}
		if (*ps->p == ')') {
			if (stack->len == 0)
				return fail(err, "unbalanced ')'");
			cur = g_ptr_array_steal_index(stack, stack->len - 1);
			ps->p++;
		} else if (*ps->p == '(') {
			if (stack->len >= ps->lim->max_depth)
				return fail(err, "lists nested too deeply");
			t = token_new(HM_IMAP_LIST, NULL, 0);
			t->list = token_list_new();
			g_ptr_array_add(cur, t);
			g_ptr_array_add(stack, cur);
			cur = t->list;
			ps->p++;
			continue;
		} else {
			if ((t = parse_scalar(ps, in_code, err)) == NULL)
				return -1;
			g_ptr_array_add(cur, t);
		}
		if (!at_separator(ps, in_code))
			return fail(err, "missing space after a token");
	}
}

/* The next word up to a space (or the line's end), upper-cased. */
static char *
next_word(Parser *ps)
{
	const char *start = ps->p;

	while (ps->p < ps->end && *ps->p != ' ')
		ps->p++;
	return g_ascii_strup(start, ps->p - start);
}

static HmImapStatus
status_of(const char *word)
{
	static const struct { const char *word; HmImapStatus st; } map[] = {
		{ "OK", HM_IMAP_OK }, { "NO", HM_IMAP_NO }, { "BAD", HM_IMAP_BAD },
		{ "BYE", HM_IMAP_BYE }, { "PREAUTH", HM_IMAP_PREAUTH },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
		if (strcmp(word, map[i].word) == 0)
			return map[i].st;
	return HM_IMAP_DATA;
}

/* resp-text: an optional "[CODE args]" and free text. */
static int
parse_resp_text(Parser *ps, GError **err)
{
	HmImapResponse *r = ps->r;
	const char *start;

	if (ps->p < ps->end && *ps->p == ' ')
		ps->p++;
	r->rest = g_strndup(ps->p, (gsize)(ps->end - ps->p));
	if (ps->p < ps->end && *ps->p == '[') {
		start = ++ps->p;
		while (ps->p < ps->end && *ps->p != ' ' && *ps->p != ']' && !is_ctl(*ps->p) &&
		       *ps->p != '(' && *ps->p != '"' && *ps->p != '[')
			ps->p++;
		if (ps->p == start)
			return fail(err, "malformed response code");
		r->code = g_ascii_strup(start, ps->p - start);
		if (ps->p < ps->end && *ps->p == ' ' &&
		    parse_tokens(ps, r->code_args, TRUE, err) < 0)
			return -1;
		if (ps->p == ps->end || *ps->p != ']')
			return fail(err, "malformed response code");
		ps->p++;
		if (ps->p < ps->end && *ps->p == ' ')
			ps->p++;
	}
	r->text = g_strndup(ps->p, (gsize)(ps->end - ps->p));
	return 0;
}

static gboolean
is_keyword(const char *w)
{
	if (!g_ascii_isalpha(w[0]))
		return FALSE;
	for (const char *p = w; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
			return FALSE;
	return TRUE;
}

/* "* [n] KEYWORD ..." after the "* ". */
static int
parse_untagged(Parser *ps, GError **err)
{
	HmImapResponse *r = ps->r;
	g_autofree char *word = next_word(ps);
	guint64 v;

	if (g_ascii_isdigit(word[0])) {
		if (hm_parse_uint(word, 0, G_MAXUINT32, &v) < 0)
			return fail(err, "bad number in an untagged response");
		r->has_number = TRUE;
		r->number = (guint32)v;
		if (ps->p < ps->end)
			ps->p++;
		g_free(word);
		word = next_word(ps);
	}
	if (!is_keyword(word))
		return fail(err, "malformed untagged response");
	r->keyword = g_steal_pointer(&word);
	if (!r->has_number && (r->status = status_of(r->keyword)) != HM_IMAP_DATA)
		return parse_resp_text(ps, err);
	return parse_tokens(ps, r->args, FALSE, err);
}

/* "TAG OK|NO|BAD resp-text". */
static int
parse_tagged(Parser *ps, GError **err)
{
	HmImapResponse *r = ps->r;
	const char *start = ps->p;

	while (ps->p < ps->end && *ps->p != ' ' && !is_ctl(*ps->p) && *ps->p != '(' &&
	       *ps->p != ')' && *ps->p != '{' && *ps->p != '"' && *ps->p != '+')
		ps->p++;
	if (ps->p == start || ps->p == ps->end || *ps->p != ' ')
		return fail(err, "malformed response");
	r->tag = g_strndup(start, (gsize)(ps->p - start));
	ps->p++;
	r->keyword = next_word(ps);
	r->status = status_of(r->keyword);
	if (r->status != HM_IMAP_OK && r->status != HM_IMAP_NO && r->status != HM_IMAP_BAD)
		return fail(err, "malformed tagged response");
	return parse_resp_text(ps, err);
}

int
hm_imap_parse(const HmImapSource *src, const HmImapLimits *lim, HmImapResponse **out,
              GError **err)
{
	g_autoptr(HmImapResponse) r = g_new0(HmImapResponse, 1);
	Parser ps = { .src = src, .lim = lim, .r = r };
	int rc;

	r->code_args = token_list_new();
	r->args = token_list_new();
	if (next_line(&ps, err) < 0)
		return -1;
	if (ps.p < ps.end && *ps.p == '+') {
		r->kind = HM_IMAP_CONTINUE;
		ps.p++;
		if (ps.p < ps.end && *ps.p == ' ')
			ps.p++;
		r->rest = g_strndup(ps.p, (gsize)(ps.end - ps.p));
		r->text = g_strdup(r->rest);
		rc = 0;
	} else if (ps.end - ps.p >= 2 && ps.p[0] == '*' && ps.p[1] == ' ') {
		r->kind = HM_IMAP_UNTAGGED;
		ps.p += 2;
		rc = parse_untagged(&ps, err);
	} else {
		r->kind = HM_IMAP_TAGGED;
		rc = parse_tagged(&ps, err);
	}
	if (rc < 0)
		return -1;
	r->text_octets = ps.text_used;
	*out = g_steal_pointer(&r);
	return 0;
}

/* --- parsing from a buffer ------------------------------------------------ */

typedef struct {
	const char *p, *end;
	gboolean short_input;  /* the buffer ended first */
	char *line;            /* the last line, NUL-terminated */
} BufSource;

static int
buf_line(gpointer data, gsize max, const char **line, gsize *len, GError **err)
{
	BufSource *b = data;
	const char *lf = memchr(b->p, '\n', (gsize)(b->end - b->p));
	gsize n;

	if (lf == NULL) {
		if ((gsize)(b->end - b->p) > max + 1)
			return fail(err, "response line too long");
		b->short_input = TRUE;
		return fail(err, "response ends early");
	}
	n = (gsize)(lf - b->p);
	if (n > 0 && lf[-1] == '\r')
		n--;
	g_free(b->line);
	b->line = g_strndup(b->p, n);
	b->p = lf + 1;
	*line = b->line;
	*len = n;
	return 0;
}

static int
buf_literal(gpointer data, char *buf, gsize n, GError **err)
{
	BufSource *b = data;

	if ((gsize)(b->end - b->p) < n) {
		b->short_input = TRUE;
		return fail(err, "response ends early");
	}
	memcpy(buf, b->p, n);
	b->p += n;
	return 0;
}

int
hm_imap_parse_buffer(const char *buf, gsize len, const HmImapLimits *lim, gsize *used,
                     HmImapResponse **out, GError **err)
{
	BufSource b = { .p = buf, .end = buf + len };
	HmImapSource src = { buf_line, buf_literal, &b };
	GError *perr = NULL;
	int rc = hm_imap_parse(&src, lim, out, &perr);

	g_free(b.line);
	if (rc == 0) {
		*used = (gsize)(b.p - buf);
		return 0;
	}
	if (b.short_input) {
		g_error_free(perr);
		return 1;
	}
	g_propagate_error(err, perr);
	return -1;
}

/* --- reading from a connection --------------------------------------------- */

typedef struct {
	HmImapReader *r;
	int first_ms;
	gboolean started;        /* the first line was read */
	gboolean first_timeout;  /* it did not come within first_ms */
} ConnSource;

static int
conn_line(gpointer data, gsize max, const char **line, gsize *len, GError **err)
{
	ConnSource *cs = data;
	HmImapReader *r = cs->r;
	g_autoptr(GError) lerr = NULL;
	HmLine l;

	hm_conn_set_timeout(r->pp->conn,
	                    cs->started || cs->first_ms < 0 ? r->timeout_ms : cs->first_ms);
	if (hm_pp_read(r->pp, max + 2, 0, "a response", &l, &lerr) < 0) {
		cs->first_timeout = !cs->started && g_error_matches(lerr, HM_ERROR, HM_ERROR_TIMEOUT);
		g_propagate_error(err, g_steal_pointer(&lerr));
		return hm_fetch_lib(-1, err);
	}
	cs->started = TRUE;
	*line = l.data;
	*len = l.len;
	return 0;
}

static int
conn_literal(gpointer data, char *buf, gsize n, GError **err)
{
	ConnSource *cs = data;

	hm_conn_set_timeout(cs->r->pp->conn, cs->r->timeout_ms);
	for (gsize off = 0; off < n; off += LITERAL_SLICE)
		if (hm_pp_read_exact(cs->r->pp, buf + off, MIN(LITERAL_SLICE, n - off), "a literal",
		                     err) < 0)
			return hm_fetch_lib(-1, err);
	return 0;
}

int
hm_imap_read(HmImapReader *r, int first_ms, HmImapResponse **out, GError **err)
{
	ConnSource cs = { .r = r, .first_ms = first_ms };
	HmImapSource src = { conn_line, conn_literal, &cs };
	GError *perr = NULL;
	int rc = hm_imap_parse(&src, &r->limits, out, &perr);

	hm_conn_set_timeout(r->pp->conn, r->timeout_ms);
	if (rc == 0)
		return 0;
	if (cs.first_timeout && first_ms >= 0) {
		/* Nothing of a response came within first_ms (IDLE's slices):
		 * the session is as much in step as before. */
		r->pp->broken = FALSE;
		g_error_free(perr);
		return 1;
	}
	g_propagate_error(err, perr);
	return -1;
}

/* --- access ---------------------------------------------------------------- */

gboolean
hm_imap_token_is(const HmImapToken *t, const char *s)
{
	return t != NULL && t->type == HM_IMAP_ATOM && g_ascii_strcasecmp(t->str, s) == 0;
}

static const HmImapToken *
fetch_att(const HmImapResponse *r, const char *name, gboolean prefix)
{
	const HmImapToken *l;

	if (r->args->len < 1)
		return NULL;
	l = g_ptr_array_index(r->args, 0);
	if (l->type != HM_IMAP_LIST)
		return NULL;
	for (guint i = 0; i + 1 < l->list->len; i += 2) {
		const HmImapToken *k = g_ptr_array_index(l->list, i);

		if (k->type != HM_IMAP_ATOM)
			continue;
		if (prefix ? g_ascii_strncasecmp(k->str, name, strlen(name)) == 0
		           : g_ascii_strcasecmp(k->str, name) == 0)
			return g_ptr_array_index(l->list, i + 1);
	}
	return NULL;
}

const HmImapToken *
hm_imap_fetch_att(const HmImapResponse *r, const char *name)
{
	return fetch_att(r, name, FALSE);
}

const HmImapToken *
hm_imap_fetch_att_prefix(const HmImapResponse *r, const char *prefix)
{
	return fetch_att(r, prefix, TRUE);
}

int
hm_imap_fetch_uid(const HmImapResponse *r, guint32 *uid, GError **err)
{
	const HmImapToken *t;

	if (!r->has_number || strcmp(r->keyword, "FETCH") != 0 ||
	    (t = hm_imap_fetch_att(r, "UID")) == NULL)
		return 0;
	if (t->type != HM_IMAP_NUMBER || t->num == 0)
		return fail(err, "bad UID in a FETCH reply");
	*uid = t->num;
	return 1;
}

/* --- the client side of the syntax ---------------------------------------- */

char *
hm_imap_clean_text(const char *text, gsize max)
{
	g_autoptr(GString) o = g_string_new(NULL);
	const char *p = text != NULL ? text : "";

	for (; *p != '\0' && o->len < max; p++)
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			g_string_append_c(o, *p);
	if (*p != '\0')
		g_string_append(o, "...");
	return g_utf8_make_valid(o->str, (gssize)o->len);
}

GPtrArray *
hm_imap_uid_commands(const guint32 *uids, guint n, const char *prefix, const char *suffix,
                     gsize max)
{
	GPtrArray *cmds = g_ptr_array_new_with_free_func(g_free);
	gsize fixed = strlen(prefix) + strlen(suffix);
	g_autoptr(GString) set = g_string_new(NULL);

	for (guint i = 0; i < n;) {
		guint j = i;
		char part[32];

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j > i)
			g_snprintf(part, sizeof(part), "%u:%u", uids[i], uids[j]);
		else
			g_snprintf(part, sizeof(part), "%u", uids[i]);
		if (set->len > 0 && fixed + set->len + 1 + strlen(part) >= max) {
			g_ptr_array_add(cmds, g_strdup_printf("%s%s%s", prefix, set->str, suffix));
			g_string_truncate(set, 0);
		}
		if (set->len > 0)
			g_string_append_c(set, ',');
		g_string_append(set, part);
		i = j + 1;
	}
	if (set->len > 0)
		g_ptr_array_add(cmds, g_strdup_printf("%s%s%s", prefix, set->str, suffix));
	return cmds;
}

HmImapArgForm
hm_imap_arg_form(const char *s, gboolean atom_ok)
{
	gboolean atom = atom_ok && *s != '\0';

	if (strlen(s) > 1024)
		return HM_IMAP_ARG_LITERAL;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 0x80 || c == '\r' || c == '\n')
			return HM_IMAP_ARG_LITERAL;
		/* atom-specials of RFC 3501 section 9, besides controls */
		if (c <= 0x20 || c == 0x7f || strchr("(){%*\"\\]", c) != NULL)
			atom = FALSE;
	}
	return atom ? HM_IMAP_ARG_ATOM : HM_IMAP_ARG_QUOTED;
}

void
hm_imap_append_arg(GString *out, const char *s, HmImapArgForm form)
{
	if (form == HM_IMAP_ARG_ATOM) {
		g_string_append(out, s);
		return;
	}
	g_string_append_c(out, '"');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}
