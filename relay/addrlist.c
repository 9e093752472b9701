/* RFC 5322 address lists: a lexer that skips CFWS and keeps each token's
 * byte range, and a parser over the tokens that finds the addr-specs. */
#include <config.h>

#include <string.h>

#include "relay/addrlist.h"

typedef enum { TOK_ATOM, TOK_QUOTED, TOK_LITERAL, TOK_SPECIAL } TokKind;

typedef struct {
	TokKind kind;
	char c;           /* the special character, for TOK_SPECIAL */
	gsize start, end; /* quotes and brackets included */
} Tok;

typedef struct {
	const char *v;
	const Tok *t;
	guint n;
	guint i;
	gboolean in_group;
	GArray *out;
} Parser;

/* atext (3.2.3), and any non-ASCII byte: RFC 6532 allows UTF-8 there. */
static gboolean
is_atext(guchar c)
{
	if (c >= 0x80 || g_ascii_isalnum(c))
		return TRUE;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static gboolean
is_fws(guchar c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips a comment starting at v[i] == '('; returns the offset after its
 * closing ')', or 0 when it is unbalanced or nested too deeply. */
static gsize
skip_comment(const char *v, gsize len, gsize i)
{
	guint depth = 0;

	for (; i < len; i++) {
		if (v[i] == '\0')
			return 0;
		if (v[i] == '\\') {
			i++;
		} else if (v[i] == '(') {
			if (++depth > RELAY_ADDRLIST_MAX_COMMENT_DEPTH)
				return 0;
		} else if (v[i] == ')' && --depth == 0) {
			return i + 1;
		}
	}
	return 0;
}

/* The end of a quoted string or domain literal opened at v[i]; 0 when it
 * is not closed (or holds a NUL, or a literal holds a '['). */
static gsize
skip_delimited(const char *v, gsize len, gsize i, char close)
{
	for (i++; i < len; i++) {
		if (v[i] == '\0' || (close == ']' && v[i] == '['))
			return 0;
		if (v[i] == '\\')
			i++;
		else if (v[i] == close)
			return i + 1;
	}
	return 0;
}

static int
lex(const char *v, gsize len, GArray *toks)
{
	gsize i = 0;

	while (i < len) {
		guchar c = (guchar)v[i];
		Tok t = { TOK_SPECIAL, (char)c, i, i + 1 };

		if (is_fws(c)) {
			i++;
			continue;
		}
		if (c == '(') {
			if ((i = skip_comment(v, len, i)) == 0)
				return -1;
			continue;
		}
		if (c == '"' || c == '[') {
			t.kind = c == '"' ? TOK_QUOTED : TOK_LITERAL;
			if ((t.end = skip_delimited(v, len, i, c == '"' ? '"' : ']')) == 0)
				return -1;
		} else if (is_atext(c)) {
			t.kind = TOK_ATOM;
			while (t.end < len && is_atext((guchar)v[t.end]))
				t.end++;
		} else if (strchr("<>@,;:.", c) == NULL || c == '\0') {
			return -1;
		}
		g_array_append_val(toks, t);
		i = t.end;
	}
	return 0;
}

static gboolean
is_special(const Parser *p, guint i, char c)
{
	return i < p->n && p->t[i].kind == TOK_SPECIAL && p->t[i].c == c;
}

static gboolean
is_word(const Parser *p, guint i)
{
	return i < p->n && (p->t[i].kind == TOK_ATOM || p->t[i].kind == TOK_QUOTED);
}

/* TRUE if tokens [from, to) are word *("." word): a local part. */
static gboolean
is_dotted_words(const Parser *p, guint from, guint to)
{
	if (from >= to)
		return FALSE;
	for (guint i = from; i < to; i++)
		if ((i - from) % 2 == 0 ? !is_word(p, i) : !is_special(p, i, '.'))
			return FALSE;
	return (to - from) % 2 == 1;
}

/* A domain at token i: a domain literal, or atom *("." atom). Returns the
 * index after it, or 0 when there is none. */
static guint
parse_domain(const Parser *p, guint i)
{
	if (i < p->n && p->t[i].kind == TOK_LITERAL)
		return i + 1;
	if (i >= p->n || p->t[i].kind != TOK_ATOM)
		return 0;
	i++;
	while (is_special(p, i, '.') && i + 1 < p->n && p->t[i + 1].kind == TOK_ATOM)
		i += 2;
	return i;
}

/* Appends tokens [from, to) without the CFWS between them or the folds
 * inside a quoted string. */
static void
append_tokens(const Parser *p, guint from, guint to, GString *s)
{
	for (guint i = from; i < to; i++)
		for (gsize j = p->t[i].start; j < p->t[i].end; j++)
			if (p->v[j] != '\r' && p->v[j] != '\n')
				g_string_append_c(s, p->v[j]);
}

static void
add_span(Parser *p, guint local, guint end, gsize outer_start, gsize outer_end, gboolean no_domain)
{
	RelayAddrSpan sp = { 0 };
	GString *s = g_string_new(NULL);

	sp.start = p->t[local].start;
	sp.end = p->t[end - 1].end;
	sp.outer_start = outer_start;
	sp.outer_end = outer_end;
	sp.no_domain = no_domain;
	append_tokens(p, local, end, s);
	sp.addr = g_string_free(s, FALSE);
	g_array_append_val(p->out, sp);
}

/* An addr-spec whose local part is tokens [from, at) and whose "@" is at
 * token at. Returns the index after the domain, or 0. */
static guint
parse_addr_spec(Parser *p, guint from, guint at, gboolean angle)
{
	guint end;

	if (!is_dotted_words(p, from, at) || !is_special(p, at, '@') ||
	    (end = parse_domain(p, at + 1)) == 0)
		return 0;
	if (!angle)
		add_span(p, from, end, p->t[from].start, p->t[end - 1].end, FALSE);
	return end;
}

/* An angle-addr at token i ('<'): "<>", or an optional obsolete route then
 * an addr-spec, then '>'. Returns the index after '>', or 0. */
static guint
parse_angle(Parser *p, guint i)
{
	guint open = i, from, at, end;

	i++;
	if (is_special(p, i, '>'))
		return i + 1;
	if (is_special(p, i, '@')) {
		while (i < p->n && !is_special(p, i, ':') && !is_special(p, i, '>'))
			i++;
		if (!is_special(p, i, ':'))
			return 0;
		i++;
	}
	from = i;
	for (at = i; is_word(p, at) || is_special(p, at, '.'); at++)
		;
	if ((end = parse_addr_spec(p, from, at, TRUE)) == 0 || !is_special(p, end, '>'))
		return 0;
	add_span(p, from, end, p->t[open].start, p->t[end].end, FALSE);
	return end + 1;
}

/* One element of the list at p->i: a mailbox, the start of a group, or a
 * lone local part when it is the whole list. Advances p->i past it;
 * returns 1 when it opened a group, 0 after a mailbox, -1 when it is none
 * of these. */
static int
parse_element(Parser *p)
{
	guint i = p->i, j = i, end;

	while (is_word(p, j) || is_special(p, j, '.'))
		j++;
	if (is_special(p, j, '<')) {
		end = parse_angle(p, j);
	} else if (is_special(p, j, ':')) {
		if (p->in_group || j == i)
			return -1;
		p->in_group = TRUE;
		p->i = j + 1;
		return 1;
	} else if (is_special(p, j, '@')) {
		end = parse_addr_spec(p, i, j, FALSE);
	} else if (i == 0 && j == p->n && is_dotted_words(p, i, j)) {
		add_span(p, i, j, p->t[i].start, p->t[j - 1].end, TRUE);
		end = j;
	} else {
		return -1;
	}
	if (end == 0)
		return -1;
	p->i = end;
	return 0;
}

/* Empty elements (",,") and a missing ';' at the end of a group are
 * obsolete or sloppy forms that real mail has; both are tolerated. */
static int
parse_list(Parser *p)
{
	while (p->i < p->n) {
		int rc = 0;

		if (is_special(p, p->i, ',')) {
			p->i++;
			continue;
		}
		if (is_special(p, p->i, ';')) {
			if (!p->in_group)
				return -1;
			p->in_group = FALSE;
			p->i++;
		} else if ((rc = parse_element(p)) < 0) {
			return -1;
		}
		if (rc == 1)
			continue;
		if (p->i < p->n && !is_special(p, p->i, ',') &&
		    !(p->in_group && is_special(p, p->i, ';')))
			return -1;
	}
	return 0;
}

static void
clear_span(gpointer data)
{
	g_free(((RelayAddrSpan *)data)->addr);
}

GArray *
relay_addrlist_parse(const char *value, gsize len)
{
	g_autoptr(GArray) toks = g_array_new(FALSE, FALSE, sizeof(Tok));
	GArray *out = g_array_new(FALSE, FALSE, sizeof(RelayAddrSpan));
	Parser p = { 0 };

	g_array_set_clear_func(out, clear_span);
	if (lex(value, len, toks) < 0) {
		g_array_unref(out);
		return NULL;
	}
	p.v = value;
	p.t = (const Tok *)(void *)toks->data;
	p.n = toks->len;
	p.out = out;
	if (parse_list(&p) < 0) {
		g_array_unref(out);
		return NULL;
	}
	return out;
}
