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
 * Of the smart hosts and the dyndns records setup edits one: the first
 * smart host, and the first record of a provider the dialogue offers. The
 * other elements of these lists are the person's: each is kept whole, as
 * it is, in its place in the list, and the commas between the elements are
 * put right.
 *
 * A setting that shares a line with one setup manages (`a = 1; b = 2;`)
 * goes with it; setup itself never writes two on a line. */
#include <config.h>

#include <string.h>

#include "admin/setup.h"

/* The settings setup writes in a smart host or an account, in its oauth2
 * group and in a dyndns record: where a path below ends in "*" for a
 * setting name, the others there are the person's (ca_file, senders,
 * allow_plaintext, scope, zone, ttl...). */
static const char *const endpoint_keys[] = {
	"name",          "protocol", "host", "port", "tls", "fingerprint", "user",
	"auth",          "password_file", "oauth2", "to", "keep", NULL,
};
static const char *const oauth2_keys[] = {
	"provider",  "client_id",  "client_secret_file", "token_url",
	"device_url", "authorize_url", "ca_file",        NULL,
};
static const char *const record_keys[] = {
	"provider", "hostname", "server", "user", "password_file", "token_file", NULL,
};

/* The paths setup writes ("*" is any list element, or any setting of
 * keys). */
static const struct {
	const char *path;
	const char *const *keys;
} owned[] = {
	{ "hostname", NULL },
	{ "state_dir", NULL },
	{ "mail_dir", NULL },
	{ "local_domains", NULL },
	{ "tls", NULL },
	{ "tls/cert", NULL },
	{ "tls/key", NULL },
	{ "run_as", NULL },
	{ "users", NULL },
	{ "users/*", NULL },
	{ "users/*/name", NULL },
	{ "users/*/password", NULL },
	{ "users/*/send_as", NULL },
	{ "aliases", NULL },
	{ "aliases/postmaster", NULL },
	{ "aliases/root", NULL },
	{ "relay", NULL },
	{ "relay/listen", NULL },
	{ "relay/trusted_networks", NULL },
	{ "relay/allow_plaintext_from", NULL },
	{ "relay/smarthosts", NULL },
	{ "relay/smarthosts/*", NULL },
	{ "relay/smarthosts/*/*", endpoint_keys },
	{ "relay/smarthosts/*/oauth2/*", oauth2_keys },
	{ "fetcher", NULL },
	{ "fetcher/accounts", NULL },
	{ "fetcher/accounts/*", NULL },
	{ "fetcher/accounts/*/*", endpoint_keys },
	{ "fetcher/accounts/*/oauth2/*", oauth2_keys },
	{ "popd", NULL },
	{ "popd/listen", NULL },
	{ "popd/allow_plaintext_from", NULL },
	{ "dyndns", NULL },
	{ "dyndns/detect", NULL },
	{ "dyndns/detect_url4", NULL },
	{ "dyndns/records", NULL },
	{ "dyndns/records/*", NULL },
	{ "dyndns/records/*/*", record_keys },
};

/* The lists of which setup edits one element: the first whose provider
 * edited() takes (NULL: the first of all). */
static const struct {
	const char *path;
	gboolean (*edited)(const char *provider);
} partial[] = {
	{ "relay/smarthosts", NULL },
	{ "dyndns/records", hm_setup_dyndns_provider_asked },
};

/* The name of the element setup edits in a list of partial[], in the old
 * text and the new alike, whatever its `name`. */
#define EDITED_ELEMENT "[setup]"

typedef struct Frame Frame;
struct Frame {
	Frame *parent;
	char *comp;       /* "relay", "[#0]", "[alice]"; "" for the top */
	guint nelem;      /* elements opened so far (lists) */
	gboolean element; /* a list element: named by its first `name` */
	gboolean named;
	gboolean opaque; /* its lines belong to the line that opened it */
	char *provider;  /* an element's first `provider` */
	int partial;     /* a list of partial[]: its index, else -1 */
	gboolean kept;   /* an element of such a list setup does not edit */
};

typedef enum { LN_BLANK, LN_COMMENT, LN_SET, LN_ELEM, LN_END, LN_CONT } LineKind;

typedef struct {
	char *text;
	LineKind kind;
	Frame *frame;      /* LN_SET: the group it is in; LN_ELEM, LN_END: its own */
	Frame *context;    /* the innermost frame at the start of the line */
	char *name;        /* LN_SET */
	gssize comment_at; /* where a comment after a setting starts, or -1 */
	GArray *shut;      /* of Shut: the frames the line closes */
	char *key;         /* filled after the scan */
	char *container;
	gboolean owned;
	Frame *block;      /* the kept element whose lines this one continues */
	gboolean opens;    /* opens an element of a list of partial[] */
	gssize closes;     /* where the last bracket that closes an element of
	                    * such a list is, or -1 */
	gboolean ends;     /* closes such a list */
} Line;

typedef struct {
	Frame *frame;
	gsize at;
} Shut;

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
		g_auto(GStrv) want = g_strsplit(owned[i].path, "/", -1);
		gboolean match = g_strv_length(want) == n;

		for (guint j = 0; match && j < n; j++)
			match = strcmp(want[j], "*") == 0 || strcmp(want[j], have[j]) == 0;
		/* A "*" that stands for a setting name, not an element. */
		if (match && owned[i].keys != NULL)
			match = have[n - 1][0] != '[' && g_strv_contains(owned[i].keys, have[n - 1]);
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
	f->partial = -1;
	g_ptr_array_add(sc->t->frames, f);
	sc->top = f;
	return f;
}

/* A string literal at line[i]; returns the index after it. Names an
 * element by its `name` setting, and notes its `provider`. */
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
	if (sc->pending != NULL && strcmp(sc->pending, "provider") == 0 && sc->top != NULL &&
	    sc->top->element && sc->top->provider == NULL)
		sc->top->provider = g_strndup(line + start, i - start);
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
scan_close(Scanner *sc, Line *l, gsize at)
{
	Shut shut = { sc->top, at };

	if (l->kind == LN_BLANK) {
		l->kind = LN_END;
		l->frame = sc->top;
	}
	g_array_append_val(l->shut, shut);
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
			scan_close(sc, l, i);
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
	g_array_unref(l->shut);
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
	g_free(f->provider);
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
	l->owned = path_owned(path) && !(l->kind == LN_ELEM && l->frame->kept);
}

static Frame *
kept_element(Frame *f)
{
	for (; f != NULL; f = f->parent)
		if (f->kept)
			return f;
	return NULL;
}

/* In each list of partial[], names the element setup edits EDITED_ELEMENT
 * and marks the others kept: every line inside one continues the line
 * that opens it. */
static void
mark_partial(Text *t)
{
	for (guint i = 0; i < t->frames->len; i++) {
		Frame *list = g_ptr_array_index(t->frames, i);
		g_autofree char *path = list->element ? NULL : frame_path(list);
		gboolean found = FALSE;

		for (gsize k = 0; path != NULL && k < G_N_ELEMENTS(partial); k++)
			if (strcmp(path, partial[k].path) == 0)
				list->partial = (int)k;
		for (guint j = i + 1; list->partial >= 0 && j < t->frames->len; j++) {
			Frame *f = g_ptr_array_index(t->frames, j);

			if (f->parent != list)
				continue;
			if (!found && (partial[list->partial].edited == NULL ||
			               partial[list->partial].edited(f->provider))) {
				g_free(f->comp);
				f->comp = g_strdup(EDITED_ELEMENT);
				found = TRUE;
			} else {
				f->kept = TRUE;
			}
		}
	}
	for (guint i = 0; i < t->lines->len; i++) {
		Line *l = g_ptr_array_index(t->lines, i);

		l->opens = l->kind == LN_ELEM && l->frame->parent->partial >= 0;
		l->closes = -1;
		for (guint j = 0; j < l->shut->len; j++) {
			const Shut *sh = &g_array_index(l->shut, Shut, j);

			if (sh->frame->element && sh->frame->parent->partial >= 0)
				l->closes = (gssize)sh->at;
			l->ends |= sh->frame->partial >= 0;
		}
		if ((l->block = kept_element(l->context)) != NULL)
			l->kind = LN_CONT;
	}
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
		l->shut = g_array_new(FALSE, FALSE, sizeof(Shut));
		scan_line(&sc, l);
		g_ptr_array_add(t->lines, l);
	}
	g_free(sc.pending);
	mark_partial(t);
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
	g_ptr_array_add(a, (gpointer)l);
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
		/* A kept element that does not open on a line of its own
		 * (hm_setup_split_elements() leaves only "( {" so) goes with the line
		 * it shares: counted, not kept. */
		if (l->kind == LN_CONT && replaced) {
			dropped += l->block != NULL;
			continue;
		}
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

typedef struct {
	GString *text;
	const Line *line; /* the line it came from, new or old */
} Out;

static void
out_free(gpointer p)
{
	Out *o = p;

	g_string_free(o->text, TRUE);
	g_free(o);
}

static void
put(GPtrArray *out, const Line *l, const char *comment)
{
	Out *o = g_new0(Out, 1);

	o->text = g_string_new(l->text);
	if (comment != NULL)
		g_string_append(o->text, comment);
	o->line = l;
	g_ptr_array_add(out, o);
}

/* The new line, with the comment the old one had after it. */
static void
emit_head(GPtrArray *out, const Line *l, GHashTable *trailing)
{
	const char *comment = g_hash_table_lookup(trailing, l->key);

	put(out, l, comment != NULL && l->comment_at < 0 ? comment : NULL);
}

static void
emit_kept(GPtrArray *out, GHashTable *anchored, const char *key)
{
	GPtrArray *a = g_hash_table_lookup(anchored, key);

	for (guint i = 0; a != NULL && i < a->len; i++)
		put(out, g_ptr_array_index(a, i), NULL);
}

/* The comma after the bracket that closes an element, wanted or not. */
static void
set_comma(Out *o, gboolean want)
{
	gsize at = (gsize)o->line->closes + 1, i = at;

	while (i < o->text->len && (o->text->str[i] == ' ' || o->text->str[i] == '\t'))
		i++;
	if (want && (i >= o->text->len || o->text->str[i] != ','))
		g_string_insert_c(o->text, (gssize)at, ',');
	else if (!want && i < o->text->len && o->text->str[i] == ',')
		g_string_erase(o->text, (gssize)i, 1);
}

/* In the lists of partial[], where kept elements now stand beside the one
 * setup wrote: a comma after every element but the last. */
static void
fix_commas(GPtrArray *out)
{
	Out *last = NULL; /* the element closed last, in the list open */

	for (guint i = 0; i < out->len; i++) {
		Out *o = g_ptr_array_index(out, i);

		/* A line may open an element, close it, and close the list,
		 * in this order. */
		if (last != NULL && (o->line->opens || o->line->closes >= 0)) {
			set_comma(last, TRUE);
			last = NULL;
		}
		if (o->line->closes >= 0)
			last = o;
		if (last != NULL && o->line->ends) {
			set_comma(last, FALSE);
			last = NULL;
		}
	}
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
	g_autofree char *split = hm_setup_split_elements(old_text);
	Text *old = scan(split), *new = scan(new_text);
	g_autoptr(GHashTable) new_keys = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) old_keys = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) anchored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                                       (GDestroyNotify)g_ptr_array_unref);
	g_autoptr(GHashTable)
		trailing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(out_free);
	GString *text = g_string_new(NULL);

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
			put(out, l, NULL);
		}
	}
	emit_kept(out, anchored, "eof");
	fix_commas(out);
	for (guint i = 0; i < out->len; i++)
		g_string_append_printf(text, "%s\n", ((Out *)g_ptr_array_index(out, i))->text->str);
	text_free(old);
	text_free(new);
	return g_string_free(text, FALSE);
}

char *
hm_setup_text(const HmSetup *s, guint *dropped)
{
	char *text = hm_setup_render(s);
	char *merged;

	*dropped = 0;
	if (s->old_text == NULL)
		return text;
	merged = hm_setup_merge(s->old_text, text, dropped);
	g_free(text);
	return merged;
}
