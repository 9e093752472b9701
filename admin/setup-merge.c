/* A re-run of `homemail setup` rewrites the settings it manages and keeps
 * the rest of the old file. libconfig drops comments when it writes a
 * file, so setup writes its own text (setup-render.c) and carries over,
 * line by line, what the old file has that setup did not write:
 *
 *  - every line gets a key from a small scanner that follows the nesting
 *    of groups, lists and arrays: "set:relay/listen" for a line that
 *    starts a setting, "elem:users/[alice]" for one that opens a list
 *    element (named by its `name` setting), "end:relay" for one that
 *    closes a group; comments and blank lines have none, and the lines
 *    inside an array or inside a setting setup does not manage belong to
 *    the line that opened it;
 *  - a setting line is setup's when its path is in the table below; its
 *    old lines are dropped and the new ones take their place;
 *  - every other old line — comments, blank lines, settings setup does not
 *    manage — is put back before the first old setup line after it that
 *    is in the same group and still exists in the new text (so a comment
 *    stays above the setting it describes, and a setting added at the end
 *    of `relay` stays there). A line whose group is gone (a removed user's
 *    or account's) is dropped and counted;
 *  - setup's own comments and blank lines are written only where the old
 *    file had no such setting (the old ones stand in their place), and a
 *    comment after a setting on the same line stays after it.
 *
 * A setting that shares a line with one setup manages (`a = 1; b = 2;`)
 * goes with it; setup itself never writes two on a line. */
#include <config.h>

#include <string.h>

#include "admin/setup.h"

/* The paths setup writes ("*" is any list element). */
static const char *const owned[] = {
	"hostname",
	"state_dir",
	"mail_dir",
	"local_domains",
	"tls",
	"tls/cert",
	"tls/key",
	"run_as",
	"users",
	"users/*",
	"users/*/name",
	"users/*/password",
	"users/*/send_as",
	"aliases",
	"aliases/postmaster",
	"aliases/root",
	"relay",
	"relay/listen",
	"relay/trusted_networks",
	"relay/allow_plaintext_from",
	"relay/smarthosts",
	"relay/smarthosts/*",
	"relay/smarthosts/*/*",
	"relay/smarthosts/*/oauth2/*",
	"fetcher",
	"fetcher/accounts",
	"fetcher/accounts/*",
	"fetcher/accounts/*/*",
	"fetcher/accounts/*/oauth2/*",
	"popd",
	"popd/listen",
	"popd/allow_plaintext_from",
	"dyndns",
	"dyndns/detect",
	"dyndns/detect_url4",
	"dyndns/records",
	"dyndns/records/*",
	"dyndns/records/*/*",
};

/* The settings of a smart host, account or record that are not setup's:
 * "*" above would take them all. */
static const char *const endpoint_keys[] = {
	"name",
	"protocol",
	"host",
	"port",
	"tls",
	"fingerprint",
	"user",
	"auth",
	"password_file",
	"oauth2",
	"to",
	"keep",
	"provider",
	"hostname",
	"server",
	"token_file",
	"client_id",
	"client_secret_file",
	NULL,
};

typedef struct Frame Frame;
struct Frame {
	Frame *parent;
	char *comp;       /* "relay", "[#0]", "[alice]"; "" for the top */
	guint nelem;      /* elements opened so far (lists) */
	gboolean element; /* a list element: named by its first `name` */
	gboolean named;
	gboolean opaque; /* its lines belong to the line that opened it */
};

typedef enum { LN_BLANK, LN_COMMENT, LN_SET, LN_ELEM, LN_END, LN_CONT } LineKind;

typedef struct {
	char *text;
	LineKind kind;
	Frame *frame;      /* LN_SET: the group it is in; LN_ELEM, LN_END: its own */
	Frame *context;    /* the innermost frame at the start of the line */
	char *name;        /* LN_SET */
	gssize comment_at; /* where a comment after a setting starts, or -1 */
	char *key;         /* filled after the scan */
	char *container;
	gboolean owned;
} Line;

typedef struct {
	GPtrArray *lines;  /* of Line* */
	GPtrArray *frames; /* every frame, freed at the end */
} Text;

static char *
frame_path(const Frame *f)
{
	if (f == NULL || f->parent == NULL)
		return g_strdup("");
	{
		g_autofree char *up = frame_path(f->parent);

		return *up == '\0' ? g_strdup(f->comp) : g_strconcat(up, "/", f->comp, NULL);
	}
}

static gboolean
path_owned(const char *path)
{
	g_auto(GStrv) have = g_strsplit(path, "/", -1);
	guint n = g_strv_length(have);

	for (gsize i = 0; i < G_N_ELEMENTS(owned); i++) {
		g_auto(GStrv) want = g_strsplit(owned[i], "/", -1);
		gboolean match = g_strv_length(want) == n;

		for (guint j = 0; match && j < n; j++)
			match = strcmp(want[j], "*") == 0 || strcmp(want[j], have[j]) == 0;
		/* A "*" that stands for a setting name, not an element. */
		if (match && n >= 3 && strcmp(want[n - 1], "*") == 0 && have[n - 1][0] != '[')
			match = g_strv_contains(endpoint_keys, have[n - 1]);
		if (match)
			return TRUE;
	}
	return FALSE;
}

static gboolean
inside_opaque(const Frame *f)
{
	for (; f != NULL; f = f->parent)
		if (f->opaque)
			return TRUE;
	return FALSE;
}

typedef struct {
	Text *t;
	Frame *top;
	gboolean in_block; /* inside a comment across lines */
	char *pending;     /* a setting name waiting for its value */
} Scanner;

static Frame *
push(Scanner *sc, const char *comp, gboolean element)
{
	Frame *f = g_new0(Frame, 1);

	f->parent = sc->top;
	f->comp = g_strdup(comp);
	f->element = element;
	g_ptr_array_add(sc->t->frames, f);
	sc->top = f;
	return f;
}

/* A string literal at line[i]; returns the index after it. Names an
 * element by its `name` setting. */
static gsize
scan_string(Scanner *sc, const char *line, gsize i)
{
	gsize start = ++i;

	while (line[i] != '\0' && line[i] != '"')
		i += line[i] == '\\' && line[i + 1] != '\0' ? 2 : 1;
	if (sc->pending != NULL && strcmp(sc->pending, "name") == 0 && sc->top != NULL &&
	    sc->top->element && !sc->top->named) {
		g_free(sc->top->comp);
		sc->top->comp = g_strdup_printf("[%.*s]", (int)(i - start), line + start);
		sc->top->named = TRUE;
	}
	return line[i] == '"' ? i + 1 : i;
}

/* An opening bracket: a setting's group, list or array, or a list
 * element. */
static void
scan_open(Scanner *sc, Line *l, char c)
{
	Frame *f;

	if (sc->pending != NULL) {
		g_autofree char *up = frame_path(sc->top);
		g_autofree char *path = *up == '\0' ? g_strdup(sc->pending)
		                                    : g_strconcat(up, "/", sc->pending, NULL);

		f = push(sc, sc->pending, FALSE);
		f->opaque = c == '[' || !path_owned(path);
	} else {
		g_autofree char *comp = g_strdup_printf("[#%u]",
		                                        sc->top != NULL ? sc->top->nelem : 0);

		if (sc->top != NULL)
			sc->top->nelem++;
		f = push(sc, comp, TRUE);
		if (l->kind == LN_BLANK) {
			l->kind = LN_ELEM;
			l->frame = f;
		}
	}
	g_clear_pointer(&sc->pending, g_free);
}

static void
scan_close(Scanner *sc, Line *l)
{
	if (l->kind == LN_BLANK) {
		l->kind = LN_END;
		l->frame = sc->top;
	}
	if (sc->top != NULL && sc->top->parent != NULL)
		sc->top = sc->top->parent;
	g_clear_pointer(&sc->pending, g_free);
}

static gboolean
name_start(char c)
{
	return g_ascii_isalpha(c) || c == '*';
}

static gboolean
name_char(char c)
{
	return g_ascii_isalnum(c) || c == '*' || c == '-' || c == '_';
}

/* A setting name at line[i] if '=' or ':' follows it; returns the index
 * after the name. */
static gsize
scan_name(Scanner *sc, Line *l, const char *line, gsize i)
{
	gsize start = i, j;

	while (name_char(line[i]))
		i++;
	for (j = i; line[j] == ' ' || line[j] == '\t'; j++)
		;
	if (line[j] != '=' && line[j] != ':')
		return i;
	g_free(sc->pending);
	sc->pending = g_strndup(line + start, i - start);
	if (l->kind == LN_BLANK) {
		l->kind = LN_SET;
		l->frame = sc->top;
		l->name = g_strdup(sc->pending);
	}
	return j + 1;
}

static void
scan_line(Scanner *sc, Line *l)
{
	const char *s = l->text;
	gsize i = 0;
	gboolean comment = FALSE;

	l->context = sc->top;
	l->kind = LN_BLANK;
	l->comment_at = -1;
	while (s[i] != '\0') {
		if (sc->in_block) {
			const char *end = strstr(s + i, "*/");

			comment = TRUE;
			if (end == NULL)
				break;
			sc->in_block = FALSE;
			i = (gsize)(end - s) + 2;
		} else if (s[i] == '#' || (s[i] == '/' && s[i + 1] == '/')) {
			comment = TRUE;
			l->comment_at = (gssize)i;
			break;
		} else if (s[i] == '/' && s[i + 1] == '*') {
			sc->in_block = TRUE;
			i += 2;
		} else if (s[i] == '"') {
			i = scan_string(sc, s, i);
		} else if (name_start(s[i]) && (i == 0 || !name_char(s[i - 1]))) {
			i = scan_name(sc, l, s, i);
		} else if (s[i] == '{' || s[i] == '(' || s[i] == '[') {
			scan_open(sc, l, s[i++]);
		} else if (s[i] == '}' || s[i] == ')' || s[i] == ']') {
			scan_close(sc, l);
			i++;
		} else {
			if (s[i] == ';' || s[i] == ',')
				g_clear_pointer(&sc->pending, g_free);
			i++;
		}
	}
	if (l->kind == LN_BLANK && comment)
		l->kind = LN_COMMENT;
	if (l->kind == LN_COMMENT || l->kind == LN_BLANK)
		l->comment_at = -1;
	if (inside_opaque(l->context))
		l->kind = LN_CONT;
}

static void
line_free(gpointer p)
{
	Line *l = p;

	g_free(l->text);
	g_free(l->name);
	g_free(l->key);
	g_free(l->container);
	g_free(l);
}

static void
frame_free(gpointer p)
{
	Frame *f = p;

	g_free(f->comp);
	g_free(f);
}

/* Keys are made after the whole text is read: an element is named by a
 * `name` that may come lines after its opening. */
static void
make_key(Line *l)
{
	g_autofree char *path = NULL;

	if (l->kind == LN_SET) {
		g_autofree char *up = frame_path(l->frame);

		path = *up == '\0' ? g_strdup(l->name) : g_strconcat(up, "/", l->name, NULL);
		l->container = g_steal_pointer(&up);
		l->key = g_strconcat("set:", path, NULL);
	} else if (l->kind == LN_ELEM || l->kind == LN_END) {
		path = frame_path(l->frame);
		l->container = l->kind == LN_END ? g_strdup(path) : frame_path(l->frame->parent);
		l->key = g_strconcat(l->kind == LN_END ? "end:" : "elem:", path, NULL);
	} else {
		l->container = frame_path(l->context);
		return;
	}
	l->owned = path_owned(path);
}

static Text *
scan(const char *text)
{
	Text *t = g_new0(Text, 1);
	Scanner sc = { t, NULL, FALSE, NULL };
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);
	guint n = g_strv_length(lines);

	t->lines = g_ptr_array_new_with_free_func(line_free);
	t->frames = g_ptr_array_new_with_free_func(frame_free);
	push(&sc, "", FALSE);
	/* The piece after the last newline is empty for a file that ends
	 * with one. */
	if (n > 0 && *lines[n - 1] == '\0')
		n--;
	for (guint i = 0; i < n; i++) {
		Line *l = g_new0(Line, 1);

		l->text = g_strdup(lines[i]);
		scan_line(&sc, l);
		g_ptr_array_add(t->lines, l);
	}
	g_free(sc.pending);
	for (guint i = 0; i < t->lines->len; i++)
		make_key(g_ptr_array_index(t->lines, i));
	return t;
}

static void
text_free(Text *t)
{
	g_ptr_array_unref(t->lines);
	g_ptr_array_unref(t->frames);
	g_free(t);
}

static Line *
line_at(const Text *t, guint i)
{
	return g_ptr_array_index(t->lines, i);
}

static gboolean
is_head(const Line *l)
{
	return l->kind == LN_SET || l->kind == LN_ELEM || l->kind == LN_END;
}

/* Where the old lines [from, to) go: the key of the first owned old line
 * at or after `to` in the same group that the new text has; "eof" at the
 * end of the top level; NULL when the group is gone. */
static const char *
anchor(const Text *old, guint to, const char *container, GHashTable *new_keys)
{
	for (guint i = to; i < old->lines->len; i++) {
		const Line *l = line_at(old, i);

		if (!is_head(l) || !l->owned)
			continue;
		if (strcmp(l->container, container) == 0 && g_hash_table_contains(new_keys, l->key))
			return l->key;
		if (l->kind == LN_END && strcmp(l->container, container) == 0)
			return NULL;
	}
	return *container == '\0' ? "eof" : NULL;
}

static void
keep(GHashTable *anchored, const char *key, const Line *l)
{
	GPtrArray *a = g_hash_table_lookup(anchored, key);

	if (a == NULL) {
		a = g_ptr_array_new();
		g_hash_table_insert(anchored, g_strdup(key), a);
	}
	g_ptr_array_add(a, l->text);
}

/* Sorts the old lines that are not setup's by the key they go before;
 * records the comments after setup's settings. Returns the lines
 * dropped. */
static guint
collect(const Text *old, GHashTable *new_keys, GHashTable *anchored, GHashTable *trailing)
{
	const char *where = NULL;
	gboolean replaced = FALSE; /* in the lines of a setting setup writes anew */
	guint dropped = 0;

	for (guint i = 0; i < old->lines->len; i++) {
		const Line *l = line_at(old, i);

		if (is_head(l) && l->owned) {
			replaced = TRUE;
			if (l->comment_at >= 0) {
				gssize at = l->comment_at;

				while (at > 0 &&
				       (l->text[at - 1] == ' ' || l->text[at - 1] == '\t'))
					at--;
				g_hash_table_replace(trailing, g_strdup(l->key),
				                     g_strdup(l->text + at));
			}
			continue;
		}
		if (l->kind == LN_CONT && replaced)
			continue;
		if (l->kind != LN_CONT) {
			replaced = FALSE;
			where = anchor(old, i + 1, l->container, new_keys);
		}
		if (where != NULL)
			keep(anchored, where, l);
		else
			dropped++;
	}
	return dropped;
}

/* The new line, with the comment the old one had after it. */
static void
emit_head(GString *out, const Line *l, GHashTable *trailing)
{
	const char *comment = g_hash_table_lookup(trailing, l->key);

	g_string_append(out, l->text);
	if (comment != NULL && l->comment_at < 0)
		g_string_append(out, comment);
	g_string_append_c(out, '\n');
}

static void
emit_kept(GString *out, GHashTable *anchored, const char *key)
{
	GPtrArray *a = g_hash_table_lookup(anchored, key);

	for (guint i = 0; a != NULL && i < a->len; i++)
		g_string_append_printf(out, "%s\n", (const char *)g_ptr_array_index(a, i));
}

/* The key of the first setup line at or after i in the new text. */
static const char *
next_head(const Text *t, guint i)
{
	for (; i < t->lines->len; i++)
		if (is_head(line_at(t, i)))
			return line_at(t, i)->key;
	return "eof";
}

char *
hm_setup_merge(const char *old_text, const char *new_text, guint *dropped)
{
	Text *old = scan(old_text), *new = scan(new_text);
	g_autoptr(GHashTable) new_keys = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) old_keys = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) anchored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                                       (GDestroyNotify)g_ptr_array_unref);
	g_autoptr(GHashTable)
		trailing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < new->lines->len; i++)
		if (is_head(line_at(new, i)))
			g_hash_table_add(new_keys, line_at(new, i)->key);
	for (guint i = 0; i < old->lines->len; i++)
		if (is_head(line_at(old, i)) && line_at(old, i)->owned)
			g_hash_table_add(old_keys, line_at(old, i)->key);
	*dropped = collect(old, new_keys, anchored, trailing);
	for (guint i = 0; i < new->lines->len; i++) {
		const Line *l = line_at(new, i);

		if (is_head(l)) {
			emit_kept(out, anchored, l->key);
			emit_head(out, l, trailing);
		} else if (!g_hash_table_contains(old_keys, next_head(new, i))) {
			g_string_append_printf(out, "%s\n", l->text);
		}
	}
	emit_kept(out, anchored, "eof");
	text_free(old);
	text_free(new);
	return g_string_free(out, FALSE);
}
