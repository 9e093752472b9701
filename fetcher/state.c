#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/parse.h"
#include "state.h"
#include "state-private.h"

/* Both files are text, version 1, one record per line:
 *
 *	homemail-fetch-state 1        (the journal: homemail-fetch-journal 1)
 *	generation G                  which base generation this is / applies to
 *	uidvalidity V                 starts an epoch (in the base: the current one)
 *	watermark W
 *	previous FP                   a delivered fingerprint of an earlier epoch
 *	UID D [FP]                    delivered (with its fingerprint)
 *	UID S                         skipped
 *	UID -                         forgotten (journal only)
 *
 * A record is told from a keyword line by its second field (D, S or -),
 * so a UID may be any word, even "watermark". FP is 16 lowercase hex
 * digits. The base is replayed exactly as the journal is, so there is one
 * parser. The generation ties the journal to its base: compaction writes
 * base G+1, then an empty journal G+1, so a crash between the two leaves a
 * journal G that is already folded into the base and is ignored, never
 * replayed twice (a replayed "uidvalidity" would wipe what followed it). */
#define STATE_MAGIC "homemail-fetch-state"
#define JOURNAL_MAGIC "homemail-fetch-journal"
#define STATE_VERSION 1

/* RFC 1939: a UIDL is 1 to 70 characters in the range 0x21 to 0x7E. IMAP
 * UIDs in decimal fit the same rule. */
#define UID_MAX 70

/* A base file of 100,000 POP3 entries is under 10 MB; anything past this
 * is not ours, and reading it whole would only exhaust memory. */
#define STATE_FILE_MAX (512u * 1024 * 1024)

/* File names stay well under NAME_MAX (255) with ".journal" and the
 * ".<name>.tmp.<pid>.<rand>" of hm_atomic_write() added; a longer escaped
 * name is cut and given a hash of the whole name instead. */
#define NAME_ESCAPED_MAX 180
#define NAME_KEPT 160

typedef struct {
	guint64 fp;
	guint8 mark;     /* HmFetchMark */
	guint8 has_fp;
	char uid[];      /* the entries table's key points here */
} Entry;

/* A fingerprint and v = n << 1 | prev: n delivered entries of this epoch
 * carry it, prev says an earlier epoch had it. Counted, so a forget drops
 * exactly what it should. fp comes first: g_int64_hash() reads it. */
typedef struct {
	guint64 fp;
	gsize v;
} Fp;

struct HmFetchState {
	char *base_path;
	char *journal_path;
	guint64 generation;   /* of the base file (0: none written yet) */
	guint32 uidvalidity;
	guint32 watermark;
	GHashTable *entries;  /* uid -> Entry (owned; key inside it) */
	GHashTable *fps;      /* set of Fp (owned), hashed on fp */
	int jfd;              /* journal, open for appending; -1 until first write */
	gsize jlen;           /* journal bytes that are whole, valid lines */
	gboolean jreset;      /* journal missing or stale: write a fresh one first */
	gboolean jdirty;      /* a write failed part-way: cut back to jlen first */
};

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

static gboolean
uid_valid(const char *uid, gsize len)
{
	if (len == 0 || len > UID_MAX)
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
static guint64
fingerprint(guint64 size, const char *message_id)
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
static void
fp_adjust(HmFetchState *st, guint64 fp, int delta)
{
	Fp *f = g_hash_table_lookup(st->fps, &fp);

	if (f == NULL) {
		f = g_new0(Fp, 1);
		f->fp = fp;
		g_hash_table_add(st->fps, f);
	}
	f->v = delta == 0 ? f->v | 1 : f->v + (gsize)(2 * delta);
	if (f->v == 0)
		g_hash_table_remove(st->fps, &fp);
}

static void
apply_record(HmFetchState *st, const char *uid, gsize len, int mark, gboolean has_fp, guint64 fp)
{
	Entry *e = g_hash_table_lookup(st->entries, uid);

	if (e != NULL) {
		if (e->has_fp)
			fp_adjust(st, e->fp, -1);
	} else {
		e = g_malloc(sizeof(Entry) + len + 1);
		memcpy(e->uid, uid, len);
		e->uid[len] = '\0';
		g_hash_table_insert(st->entries, e->uid, e);
	}
	e->mark = (guint8)mark;
	e->has_fp = has_fp;
	e->fp = fp;
	if (has_fp)
		fp_adjust(st, fp, 1);
}

static void
apply_forget(HmFetchState *st, const char *uid)
{
	Entry *e = g_hash_table_lookup(st->entries, uid);

	if (e == NULL)
		return;
	if (e->has_fp)
		fp_adjust(st, e->fp, -1);
	g_hash_table_remove(st->entries, uid);
}

/* Every fingerprint becomes one of an earlier epoch. Earlier epochs are
 * merged, not replaced: after two changes without a compaction between,
 * mail of the first epoch not yet re-recorded must still be recognised. */
static void
apply_uidvalidity(HmFetchState *st, guint32 uidvalidity)
{
	GHashTableIter it;
	gpointer f;

	g_hash_table_iter_init(&it, st->fps);
	while (g_hash_table_iter_next(&it, &f, NULL))
		((Fp *)f)->v = 1;
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
	if (version != STATE_VERSION) {
		parse_error(err, c, "%s format version %" G_GUINT64_FORMAT " is not supported "
		            "(this homemail reads version %d)", what, version, STATE_VERSION);
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

/* Applies "UID D [FP]", "UID S" or "UID -". */
static int
replay_entry(HmFetchState *st, const Cursor *c, const Fields *f, GError **err)
{
	char uid[UID_MAX + 1];
	char op = f->s[1][0];
	guint64 fp = 0;

	if (!uid_valid(f->s[0], f->len[0])) {
		parse_error(err, c, "invalid UID");
		return -1;
	}
	if (f->n == 3 && op != 'D') {
		parse_error(err, c, "malformed record");
		return -1;
	}
	if (f->n == 3 && !parse_hex64(f->s[2], f->len[2], &fp)) {
		parse_error(err, c, "invalid fingerprint (16 lowercase hex digits)");
		return -1;
	}
	memcpy(uid, f->s[0], f->len[0]);
	uid[f->len[0]] = '\0';
	if (op == '-')
		apply_forget(st, uid);
	else
		apply_record(st, uid, f->len[0],
		             op == 'D' ? HM_FETCH_MARK_DELIVERED : HM_FETCH_MARK_SKIPPED,
		             f->n == 3, fp);
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
	if (f.len[1] == 1 && (f.s[1][0] == 'D' || f.s[1][0] == 'S' || f.s[1][0] == '-'))
		return replay_entry(st, c, &f, err);
	if (f.n == 2 && field_is(&f, 0, "previous") && parse_hex64(f.s[1], f.len[1], &v)) {
		fp_adjust(st, v, 0);
		return 0;
	}
	if (f.n == 2 && hm_parse_uint_n(f.s[1], f.len[1], 0, G_MAXUINT32, &v) == 0) {
		if (field_is(&f, 0, "watermark")) {
			st->watermark = (guint32)v;
			return 0;
		}
		if (field_is(&f, 0, "uidvalidity")) {
			apply_uidvalidity(st, (guint32)v);
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
static int
load_file(HmFetchState *st, gboolean journal, GError **err)
{
	const char *path = journal ? st->journal_path : st->base_path;
	g_autoptr(GError) local = NULL;
	g_autoptr(GBytes) bytes = hm_read_file(path, STATE_FILE_MAX, &local);
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
	if (parse_header(&c, journal ? JOURNAL_MAGIC : STATE_MAGIC,
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

/* --- file names and directories -------------------------------------------- */

/* A name as a file name: bytes outside [A-Za-z0-9._-] and a leading '.'
 * become %XX, so "../x" or "INBOX/Sent" stay inside the account directory
 * and never look like a hidden or temporary file. Account names also
 * escape every '.', so no account's directory "<a>" can be another
 * account's "<b>.lock". An over-long result is cut and completed with a
 * hash of the whole name ('~' appears in no escaped name). */
static char *
escape_name(const char *name, gboolean escape_dots)
{
	GString *out = g_string_sized_new(strlen(name) + 8);

	for (const char *p = name; *p != '\0'; p++) {
		guchar ch = (guchar)*p;

		if (g_ascii_isalnum(ch) || ch == '_' || ch == '-' ||
		    (ch == '.' && p != name && !escape_dots))
			g_string_append_c(out, (char)ch);
		else
			g_string_append_printf(out, "%%%02X", ch);
	}
	if (out->len > NAME_ESCAPED_MAX) {
		g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, name, -1);

		g_string_truncate(out, NAME_KEPT);
		g_string_append_printf(out, "~%.16s", sum);
	}
	return g_string_free(out, FALSE);
}

/* Creates dir (0700) unless it exists; a new directory's entry is made
 * durable by syncing its parent. */
static int
ensure_dir(const char *dir, GError **err)
{
	if (mkdir(dir, 0700) == 0) {
		g_autofree char *parent = g_path_get_dirname(dir);

		return hm_fsync_dir(parent, err);
	}
	/* Something else by that name fails the next open with ENOTDIR. */
	if (errno != EEXIST) {
		hm_set_error_errno(err, errno, "create directory %s", dir);
		return -1;
	}
	return 0;
}

/* Checks the account name, creates <state_dir>/fetch (and state_dir if
 * need be) and returns its path, with the escaped account name in *acct. */
char *
hm_fetch_dir(const char *state_dir, const char *account, char **acct, GError **err)
{
	g_autofree char *dir = g_build_filename(state_dir, "fetch", NULL);

	if (account == NULL || *account == '\0') {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "fetch state: empty account name");
		return NULL;
	}
	if (g_mkdir_with_parents(state_dir, 0700) < 0) {
		hm_set_error_errno(err, errno, "create directory %s", state_dir);
		return NULL;
	}
	if (ensure_dir(dir, err) < 0)
		return NULL;
	*acct = escape_name(account, TRUE);
	return g_steal_pointer(&dir);
}

/* --- the API -------------------------------------------------------------- */

HmFetchState *
hm_fetch_state_open(const char *state_dir, const char *account, const char *folder,
                    GError **err)
{
	g_autofree char *fdir = NULL, *acct = NULL, *dir = NULL, *name = NULL;
	HmFetchState *st;

	if (folder == NULL || *folder == '\0') {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "fetch state: empty folder name");
		return NULL;
	}
	if ((fdir = hm_fetch_dir(state_dir, account, &acct, err)) == NULL)
		return NULL;
	dir = g_build_filename(fdir, acct, NULL);
	if (ensure_dir(dir, err) < 0)
		return NULL;
	name = escape_name(folder, FALSE);
	st = g_new0(HmFetchState, 1);
	st->base_path = g_strdup_printf("%s/%s.state", dir, name);
	st->journal_path = g_strdup_printf("%s/%s.journal", dir, name);
	st->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	st->fps = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	st->jfd = -1;
	st->jreset = TRUE;
	if (load_file(st, FALSE, err) < 0 || load_file(st, TRUE, err) < 0) {
		hm_fetch_state_free(st);
		return NULL;
	}
	return st;
}

void
hm_fetch_state_free(HmFetchState *st)
{
	if (st == NULL)
		return;
	if (st->jfd >= 0)
		close(st->jfd);
	g_hash_table_destroy(st->entries);
	g_hash_table_destroy(st->fps);
	g_free(st->base_path);
	g_free(st->journal_path);
	g_free(st);
}

/* Replaces the journal by an empty one for the current generation. */
static int
journal_reset(HmFetchState *st, GError **err)
{
	g_autofree char *head = g_strdup_printf(JOURNAL_MAGIC " %d\ngeneration %" G_GUINT64_FORMAT
	                                        "\n", STATE_VERSION, st->generation);

	if (st->jfd >= 0) {
		close(st->jfd);
		st->jfd = -1;
	}
	st->jreset = TRUE;
	if (hm_atomic_write(st->journal_path, head, strlen(head), 0600, err) < 0)
		return -1;
	st->jlen = strlen(head);
	st->jreset = FALSE;
	st->jdirty = FALSE;
	return 0;
}

/* Makes st->jfd ready to append at st->jlen: creates the journal or
 * replaces a stale one, and cuts off a torn line (crash mid-append) or
 * the remains of a failed write, which the next record would otherwise
 * turn into a corrupt line in the middle. */
static int
journal_prepare(HmFetchState *st, GError **err)
{
	if (st->jfd < 0) {
		if (st->jreset && journal_reset(st, err) < 0)
			return -1;
		st->jfd = open(st->journal_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
		if (st->jfd < 0) {
			hm_set_error_errno(err, errno, "open %s", st->journal_path);
			return -1;
		}
		st->jdirty = TRUE;
	}
	if (st->jdirty) {
		if (ftruncate(st->jfd, (off_t)st->jlen) < 0) {
			hm_set_error_errno(err, errno, "truncate %s", st->journal_path);
			return -1;
		}
		st->jdirty = FALSE;
	}
	return 0;
}

/* Appends one record line; with sync, durable when it returns 0. */
static int
journal_append(HmFetchState *st, const char *line, gsize len, gboolean sync, GError **err)
{
	if (journal_prepare(st, err) < 0)
		return -1;
	if (hm_write_all(st->jfd, line, len) < 0) {
		st->jdirty = TRUE;
		hm_set_error_errno(err, errno, "write %s", st->journal_path);
		return -1;
	}
	if (sync && fdatasync(st->jfd) < 0) {
		/* Whether the line reached the disk is unknown: cut it, so
		 * file and memory agree on what was recorded. */
		st->jdirty = TRUE;
		hm_set_error_errno(err, errno, "fdatasync %s", st->journal_path);
		return -1;
	}
	st->jlen += len;
	return 0;
}

guint32
hm_fetch_state_uidvalidity(const HmFetchState *st)
{
	return st->uidvalidity;
}

int
hm_fetch_state_new_uidvalidity(HmFetchState *st, guint32 uidvalidity, GError **err)
{
	char line[32];
	int n = g_snprintf(line, sizeof(line), "uidvalidity %" G_GUINT32_FORMAT "\n", uidvalidity);

	if (journal_append(st, line, (gsize)n, TRUE, err) < 0)
		return -1;
	apply_uidvalidity(st, uidvalidity);
	return 0;
}

int
hm_fetch_state_lookup(const HmFetchState *st, const char *uid)
{
	const Entry *e = g_hash_table_lookup(st->entries, uid);

	return e != NULL ? e->mark : 0;
}

gboolean
hm_fetch_state_has_fingerprint(const HmFetchState *st, guint64 size, const char *message_id)
{
	guint64 fp;

	if (message_id == NULL || *message_id == '\0')
		return FALSE;
	fp = fingerprint(size, message_id);
	return g_hash_table_contains(st->fps, &fp);
}

static int
record(HmFetchState *st, const char *uid, HmFetchMark mark, guint64 size,
       const char *message_id, gboolean sync, GError **err)
{
	/* uid " D " 16 hex digits "\n" */
	char line[UID_MAX + 3 + 16 + 2];
	gsize len = strlen(uid);
	gboolean has_fp;
	guint64 fp = 0;
	int n;

	if (!uid_valid(uid, len)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "invalid UID (%" G_GSIZE_FORMAT
		            " octets; must be 1-%d printable ASCII characters without spaces)",
		            len, UID_MAX);
		return -1;
	}
	if (mark != HM_FETCH_MARK_DELIVERED && mark != HM_FETCH_MARK_SKIPPED) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "invalid fetch mark %d", (int)mark);
		return -1;
	}
	/* An empty Message-ID would make every empty one of that size match. */
	has_fp = mark == HM_FETCH_MARK_DELIVERED && message_id != NULL && *message_id != '\0';
	if (has_fp) {
		fp = fingerprint(size, message_id);
		n = g_snprintf(line, sizeof(line), "%s D %016" G_GINT64_MODIFIER "x\n", uid, fp);
	} else {
		n = g_snprintf(line, sizeof(line), "%s %c\n", uid,
		               mark == HM_FETCH_MARK_DELIVERED ? 'D' : 'S');
	}
	g_assert(n > 0 && (gsize)n < sizeof(line));
	if (journal_append(st, line, (gsize)n, sync, err) < 0)
		return -1;
	apply_record(st, uid, len, mark, has_fp, fp);
	return 0;
}

int
hm_fetch_state_record(HmFetchState *st, const char *uid, HmFetchMark mark, guint64 size,
                      const char *message_id, GError **err)
{
	return record(st, uid, mark, size, message_id, TRUE, err);
}

int
hm_fetch_state_record_unsynced(HmFetchState *st, const char *uid, guint64 size,
                               const char *message_id, GError **err)
{
	return record(st, uid, HM_FETCH_MARK_DELIVERED, size, message_id, FALSE, err);
}

int
hm_fetch_state_sync(HmFetchState *st, GError **err)
{
	if (st->jfd >= 0 && fdatasync(st->jfd) < 0) {
		hm_set_error_errno(err, errno, "fdatasync %s", st->journal_path);
		return -1;
	}
	return 0;
}

char *
hm_fetch_state_sidecar(const HmFetchState *st, const char *suffix)
{
	return g_strconcat(st->base_path, ".", suffix, NULL);
}

int
hm_fetch_state_forget(HmFetchState *st, const char *uid, GError **err)
{
	char line[UID_MAX + 4];
	int n;

	/* Unknown (and so any invalid) UIDs need no record. */
	if (!g_hash_table_contains(st->entries, uid))
		return 0;
	n = g_snprintf(line, sizeof(line), "%s -\n", uid);
	if (journal_append(st, line, (gsize)n, FALSE, err) < 0)
		return -1;
	apply_forget(st, uid);
	return 0;
}

guint32
hm_fetch_state_watermark(const HmFetchState *st)
{
	return st->watermark;
}

int
hm_fetch_state_set_watermark(HmFetchState *st, guint32 uid, GError **err)
{
	char line[32];
	int n;

	if (uid == st->watermark)
		return 0;
	n = g_snprintf(line, sizeof(line), "watermark %" G_GUINT32_FORMAT "\n", uid);
	if (journal_append(st, line, (gsize)n, TRUE, err) < 0)
		return -1;
	st->watermark = uid;
	return 0;
}

guint
hm_fetch_state_count(const HmFetchState *st)
{
	return g_hash_table_size(st->entries);
}

/* The base file text for generation gen. */
static GString *
base_format(const HmFetchState *st, guint64 gen)
{
	GString *out = g_string_sized_new(128 + g_hash_table_size(st->entries) * 32 +
	                                  g_hash_table_size(st->fps) * 26);
	GHashTableIter it;
	gpointer val;

	g_string_append_printf(out, STATE_MAGIC " %d\ngeneration %" G_GUINT64_FORMAT
	                       "\nuidvalidity %" G_GUINT32_FORMAT "\nwatermark %" G_GUINT32_FORMAT
	                       "\n", STATE_VERSION, gen, st->uidvalidity, st->watermark);
	g_hash_table_iter_init(&it, st->fps);
	while (g_hash_table_iter_next(&it, &val, NULL))
		if (((const Fp *)val)->v & 1)
			g_string_append_printf(out, "previous %016" G_GINT64_MODIFIER "x\n",
			                       ((const Fp *)val)->fp);
	g_hash_table_iter_init(&it, st->entries);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		const Entry *e = val;

		g_string_append(out, e->uid);
		if (e->has_fp)
			g_string_append_printf(out, " D %016" G_GINT64_MODIFIER "x\n", e->fp);
		else
			g_string_append(out, e->mark == HM_FETCH_MARK_DELIVERED ? " D\n" : " S\n");
	}
	return out;
}

int
hm_fetch_state_compact(HmFetchState *st, GHashTable *present, GError **err)
{
	g_autoptr(GString) out = NULL;
	GHashTableIter it;
	gpointer val;

	/* Earlier epochs' fingerprints go first: every compaction ends the
	 * grace period after a UIDVALIDITY change. */
	g_hash_table_iter_init(&it, st->fps);
	while (g_hash_table_iter_next(&it, &val, NULL)) {
		Fp *f = val;

		f->v &= ~(gsize)1;
		if (f->v == 0)
			g_hash_table_iter_remove(&it);
	}
	if (present != NULL) {
		g_hash_table_iter_init(&it, st->entries);
		while (g_hash_table_iter_next(&it, NULL, &val)) {
			const Entry *e = val;

			if (g_hash_table_contains(present, e->uid))
				continue;
			if (e->has_fp)
				fp_adjust(st, e->fp, -1);
			g_hash_table_iter_remove(&it);
		}
	}
	out = base_format(st, st->generation + 1);
	if (hm_atomic_write(st->base_path, out->str, out->len, 0600, err) < 0)
		return -1;
	st->generation++;
	return journal_reset(st, err);
}
