/* The text format of the fetch state (see state-private.h): parsing and
 * replaying the base file and the journal into the in-memory model, and
 * writing the base file. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/parse.h"
#include "fetcher/state-private.h"

/* A base file of 100,000 POP3 entries is under 10 MB; anything past this
 * is not ours, and reading it whole would only exhaust memory. */
#define STATE_FILE_MAX (512u * 1024 * 1024)

/* One file being parsed, for "FILE:LINE: ..." errors. */
typedef struct {
	const char *p, *end;
	const char *path;
	guint line;
} Cursor;

#define FIELDS_MAX 3

typedef struct {
	const char *s[FIELDS_MAX];
	gsize len[FIELDS_MAX];
	guint n;
} Fields;

static void parse_error(GError **err, const Cursor *c, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
parse_error(GError **err, const Cursor *c, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s:%u: %s", c->path, c->line, msg);
}

/* The next whole line (without its LF). FALSE at the end, or when what is
 * left has no LF: *torn then says whether bytes were left over. */
static gboolean
next_line(Cursor *c, const char **line, gsize *len, gboolean *torn)
{
	/* An empty GBytes may have a NULL data pointer. */
	const char *nl = c->p < c->end ? memchr(c->p, '\n', (gsize)(c->end - c->p)) : NULL;

	*torn = nl == NULL && c->p < c->end;
	if (nl == NULL)
		return FALSE;
	*line = c->p;
	*len = (gsize)(nl - c->p);
	c->p = nl + 1;
	c->line++;
	return TRUE;
}

/* Splits a line at single spaces; empty fields (leading, trailing or
 * doubled spaces) and more than FIELDS_MAX fields are refused. */
static gboolean
split_fields(const char *line, gsize len, Fields *f)
{
	const char *p = line, *end = line + len;

	f->n = 0;
	for (;;) {
		const char *sp = memchr(p, ' ', (gsize)(end - p));
		const char *stop = sp != NULL ? sp : end;

		if (stop == p || f->n == FIELDS_MAX)
			return FALSE;
		f->s[f->n] = p;
		f->len[f->n++] = (gsize)(stop - p);
		if (sp == NULL)
			return TRUE;
		p = sp + 1;
	}
}

static gboolean
field_is(const Fields *f, guint i, const char *word)
{
	return f->len[i] == strlen(word) && memcmp(f->s[i], word, f->len[i]) == 0;
}

gboolean
hm_fetch_uid_valid(const char *uid, gsize len)
{
	if (len == 0 || len > HM_FETCH_UID_MAX)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if ((guchar)uid[i] < 0x21 || (guchar)uid[i] > 0x7e)
			return FALSE;
	return TRUE;
}

static gboolean
parse_hex64(const char *s, gsize len, guint64 *out)
{
	guint64 v = 0;

	if (len != 16)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		/* Lowercase only: one spelling per value keeps files comparable. */
		int d = g_ascii_xdigit_value(s[i]);

		if (d < 0 || g_ascii_isupper(s[i]))
			return FALSE;
		v = v << 4 | (guint64)d;
	}
	*out = v;
	return TRUE;
}

/* The first 64 bits of SHA-256 over "<size>\n<message-id>": a collision
 * between two different messages is a 2^-64 event per pair. */
guint64
hm_fetch_fingerprint(guint64 size, const char *message_id)
{
	g_autoptr(GChecksum) ck = g_checksum_new(G_CHECKSUM_SHA256);
	char num[32];
	guint8 digest[32];
	gsize dlen = sizeof(digest);
	guint64 fp = 0;

	g_snprintf(num, sizeof(num), "%" G_GUINT64_FORMAT "\n", size);
	g_checksum_update(ck, (const guchar *)num, (gssize)strlen(num));
	g_checksum_update(ck, (const guchar *)message_id, (gssize)strlen(message_id));
	g_checksum_get_digest(ck, digest, &dlen);
	for (int i = 0; i < 8; i++)
		fp = fp << 8 | digest[i];
	return fp;
}

/* --- the in-memory state: every change goes through these, live or replayed */

/* Adds delta (+1, -1) to the number of this epoch's entries carrying
 * fp, or with delta 0 notes it as a fingerprint of an earlier epoch. */
void
hm_fetch_fp_adjust(HmFetchState *st, guint64 fp, int delta)
{
	HmStateFp *f = g_hash_table_lookup(st->fps, &fp);

	if (f == NULL) {
		f = g_new0(HmStateFp, 1);
		f->fp = fp;
		g_hash_table_add(st->fps, f);
	}
	f->v = delta == 0 ? f->v | 1 : f->v + (gsize)(2 * delta);
	if (f->v == 0)
		g_hash_table_remove(st->fps, &fp);
}

void
hm_fetch_apply_record(HmFetchState *st, const char *uid, gsize len, int mark, gboolean has_fp,
                      guint64 fp)
{
	HmStateEntry *e = g_hash_table_lookup(st->entries, uid);

	if (e != NULL) {
		if (e->has_fp)
			hm_fetch_fp_adjust(st, e->fp, -1);
	} else {
		e = g_malloc(sizeof(HmStateEntry) + len + 1);
		memcpy(e->uid, uid, len);
		e->uid[len] = '\0';
		g_hash_table_insert(st->entries, e->uid, e);
	}
	e->mark = (guint8)mark;
	e->has_fp = has_fp;
	e->fp = fp;
	if (has_fp)
		hm_fetch_fp_adjust(st, fp, 1);
}

void
hm_fetch_apply_forget(HmFetchState *st, const char *uid)
{
	HmStateEntry *e = g_hash_table_lookup(st->entries, uid);

	if (e == NULL)
		return;
	if (e->has_fp)
		hm_fetch_fp_adjust(st, e->fp, -1);
	g_hash_table_remove(st->entries, uid);
}

/* Every fingerprint becomes one of an earlier epoch. Earlier epochs are
 * merged, not replaced: after two changes without a compaction between,
 * mail of the first epoch not yet re-recorded must still be recognised. */
void
hm_fetch_apply_uidvalidity(HmFetchState *st, guint32 uidvalidity)
{
	GHashTableIter it;
	gpointer f;

	g_hash_table_iter_init(&it, st->fps);
	while (g_hash_table_iter_next(&it, &f, NULL))
		((HmStateFp *)f)->v = 1;
	g_hash_table_remove_all(st->entries);
	st->uidvalidity = uidvalidity;
	st->watermark = 0;
}

/* --- reading -------------------------------------------------------------- */

/* The next line, split; FALSE at the end or on a malformed line. */
static gboolean
next_fields(Cursor *c, Fields *f)
{
	const char *line;
	gsize len;
	gboolean torn;

	return next_line(c, &line, &len, &torn) && split_fields(line, len, f);
}

/* Checks "<magic> 1" and reads "generation G" from the first two lines. */
static int
parse_header(Cursor *c, const char *magic, const char *what, guint64 *gen, GError **err)
{
	Fields f;
	guint64 version;

	if (!next_fields(c, &f) || f.n != 2 || !field_is(&f, 0, magic) ||
	    hm_parse_uint_n(f.s[1], f.len[1], 0, G_MAXUINT64, &version) < 0) {
		c->line = 1;
		parse_error(err, c, "not a homemail %s file", what);
		return -1;
	}
	if (version != HM_FETCH_STATE_VERSION) {
		parse_error(err, c, "%s format version %" G_GUINT64_FORMAT " is not supported "
		            "(this homemail reads version %d)", what, version, HM_FETCH_STATE_VERSION);
		return -1;
	}
	if (!next_fields(c, &f) || f.n != 2 || !field_is(&f, 0, "generation") ||
	    hm_parse_uint_n(f.s[1], f.len[1], 0, G_MAXUINT64, gen) < 0) {
		c->line = 2;
		parse_error(err, c, "expected \"generation N\"");
		return -1;
	}
	return 0;
}

/* The mark a record's op letter stands for; 0 for none ('-' included). */
static int
mark_of(char op)
{
	switch (op) {
	case 'D':
		return HM_FETCH_MARK_DELIVERED;
	case 'S':
		return HM_FETCH_MARK_SKIPPED;
	case 'R':
		return HM_FETCH_MARK_RETRY;
	case 'P':
		return HM_FETCH_MARK_PARTIAL;
	default:
		return 0;
	}
}

/* Applies "UID D [FP]", "UID S [SIZE]", "UID R TIME", "UID P" or "UID -". */
static int
replay_entry(HmFetchState *st, const Cursor *c, const Fields *f, GError **err)
{
	char uid[HM_FETCH_UID_MAX + 1];
	char op = f->s[1][0];
	int mark = mark_of(op);
	guint64 v = 0;

	if (!hm_fetch_uid_valid(f->s[0], f->len[0])) {
		parse_error(err, c, "invalid UID");
		return -1;
	}
	if ((f->n == 3 && (op == '-' || op == 'P')) || (f->n == 2 && op == 'R')) {
		parse_error(err, c, "malformed record");
		return -1;
	}
	if (f->n == 3 && op == 'D' && !parse_hex64(f->s[2], f->len[2], &v)) {
		parse_error(err, c, "invalid fingerprint (16 lowercase hex digits)");
		return -1;
	}
	if (f->n == 3 && op != 'D' &&
	    hm_parse_uint_n(f->s[2], f->len[2], 0, G_MAXUINT64, &v) < 0) {
		parse_error(err, c, "invalid %s (a decimal number)", op == 'S' ? "size" : "time");
		return -1;
	}
	memcpy(uid, f->s[0], f->len[0]);
	uid[f->len[0]] = '\0';
	if (mark == 0)
		hm_fetch_apply_forget(st, uid);
	else
		hm_fetch_apply_record(st, uid, f->len[0], mark, f->n == 3 && op == 'D', v);
	return 0;
}

/* Applies one line after the generation, of the base or the journal. */
static int
replay_line(HmFetchState *st, const Cursor *c, const char *line, gsize len, GError **err)
{
	Fields f;
	guint64 v;

	if (!split_fields(line, len, &f) || f.n < 2) {
		parse_error(err, c, "malformed record");
		return -1;
	}
	if (f.len[1] == 1 && (mark_of(f.s[1][0]) != 0 || f.s[1][0] == '-'))
		return replay_entry(st, c, &f, err);
	if (f.n == 2 && field_is(&f, 0, "previous") && parse_hex64(f.s[1], f.len[1], &v)) {
		hm_fetch_fp_adjust(st, v, 0);
		return 0;
	}
	if (f.n == 2 && hm_parse_uint_n(f.s[1], f.len[1], 0, G_MAXUINT32, &v) == 0) {
		if (field_is(&f, 0, "watermark")) {
			st->watermark = (guint32)v;
			return 0;
		}
		if (field_is(&f, 0, "uidvalidity")) {
			hm_fetch_apply_uidvalidity(st, (guint32)v);
			return 0;
		}
	}
	parse_error(err, c, "malformed record");
	return -1;
}

/* Reads the base (journal FALSE) or the journal into st. A missing base
 * is an empty state. A missing, empty or stale journal (its generation
 * is already folded into the base) is left for the first write to
 * replace, and a torn last journal line (crash mid-append) is ignored
 * here and cut off at the first write. */
int
hm_fetch_state_load(HmFetchState *st, gboolean journal, GError **err)
{
	const char *path = journal ? st->journal_path : st->base_path;
	g_autoptr(GError) local = NULL;
	struct stat sb;
	/* Never through a link, nor from a FIFO or device (refused, without
	 * waiting): these files are only ever renamed into place by us, and
	 * `homemail status` reads them as root. */
	g_autoptr(GBytes) bytes =
		hm_read_file_flags(path, STATE_FILE_MAX, HM_OPEN_NOFOLLOW, &sb, &local);
	Cursor c = { NULL, NULL, path, 0 };
	const char *line, *start;
	gsize len;
	gboolean torn;
	guint64 gen;

	if (bytes == NULL && errno == ENOENT)
		return 0;
	if (bytes == NULL) {
		g_propagate_error(err, g_steal_pointer(&local));
		return -1;
	}
	start = c.p = g_bytes_get_data(bytes, &len);
	c.end = c.p + len;
	if (journal && len == 0)
		return 0;
	if (parse_header(&c, journal ? HM_FETCH_JOURNAL_MAGIC : HM_FETCH_STATE_MAGIC,
	                 journal ? "fetch journal" : "fetch state",
	                 journal ? &gen : &st->generation, err) < 0)
		return -1;
	if (journal && gen < st->generation)
		return 0;
	if (journal && gen > st->generation) {
		parse_error(err, &c, "journal generation %" G_GUINT64_FORMAT " is newer than "
		            "the state file's (%" G_GUINT64_FORMAT "): was %s replaced or removed?",
		            gen, st->generation, st->base_path);
		return -1;
	}
	while (next_line(&c, &line, &len, &torn))
		if (replay_line(st, &c, line, len, err) < 0)
			return -1;
	if (torn && !journal) {
		c.line++;
		parse_error(err, &c, "last line is incomplete");
		return -1;
	}
	if (journal) {
		st->jlen = (gsize)(c.p - start);
		st->jreset = FALSE;
	}
	return 0;
}

/* The base file text for generation gen. */
GString *
hm_fetch_state_format_base(const HmFetchState *st, guint64 gen)
{
	GString *out = g_string_sized_new(128 + g_hash_table_size(st->entries) * 32 +
	                                  g_hash_table_size(st->fps) * 26);
	GHashTableIter it;
	gpointer val;

	g_string_append_printf(out, HM_FETCH_STATE_MAGIC " %d\ngeneration %" G_GUINT64_FORMAT
	                       "\nuidvalidity %" G_GUINT32_FORMAT "\nwatermark %" G_GUINT32_FORMAT
	                       "\n", HM_FETCH_STATE_VERSION, gen, st->uidvalidity, st->watermark);
	g_hash_table_iter_init(&it, st->fps);
	while (g_hash_table_iter_next(&it, &val, NULL))
		if (((const HmStateFp *)val)->v & 1)
			g_string_append_printf(out, "previous %016" G_GINT64_MODIFIER "x\n",
			                       ((const HmStateFp *)val)->fp);
	g_hash_table_iter_init(&it, st->entries);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		const HmStateEntry *e = val;

		g_string_append(out, e->uid);
		if (e->has_fp)
			g_string_append_printf(out, " D %016" G_GINT64_MODIFIER "x\n", e->fp);
		else if (e->mark == HM_FETCH_MARK_DELIVERED)
			g_string_append(out, " D\n");
		else if (e->mark == HM_FETCH_MARK_PARTIAL)
			g_string_append(out, " P\n");
		else if (e->fp != 0 || e->mark == HM_FETCH_MARK_RETRY)
			g_string_append_printf(out, " %c %" G_GUINT64_FORMAT "\n",
			                       e->mark == HM_FETCH_MARK_RETRY ? 'R' : 'S', e->fp);
		else
			g_string_append(out, " S\n");
	}
	return out;
}
