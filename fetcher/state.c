/* The fetch state's files and API: names and directories, opening, the
 * append-only journal, compaction (the format is in state-format.c). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "fetcher/state-private.h"

/* File names stay well under NAME_MAX (255) with ".journal" and the
 * ".<name>.tmp.<pid>.<rand>" of hm_atomic_write() added; a longer escaped
 * name is cut and given a hash of the whole name instead. */
#define NAME_ESCAPED_MAX 180
#define NAME_KEPT 160

/* Journal room set aside at once (hm_fetch_state_reserve()): ~170
 * records, so a run reserves about once per 170 messages, not per
 * message. */
#define JOURNAL_ROOM (16 * 1024)

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
	if (hm_mkdir_durable(dir, 0700, err) < 0)
		return NULL;
	*acct = escape_name(account, TRUE);
	return g_steal_pointer(&dir);
}

char *
hm_fetch_account_file(const char *state_dir, const char *account, const char *suffix)
{
	g_autofree char *acct = escape_name(account, TRUE);
	g_autofree char *name = g_strconcat(acct, suffix, NULL);

	return g_build_filename(state_dir, "fetch", name, NULL);
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
	if (hm_mkdir_durable(dir, 0700, err) < 0)
		return NULL;
	name = escape_name(folder, FALSE);
	st = g_new0(HmFetchState, 1);
	st->base_path = g_strdup_printf("%s/%s.state", dir, name);
	st->journal_path = g_strdup_printf("%s/%s.journal", dir, name);
	st->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	st->fps = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	st->jfd = -1;
	st->jreset = TRUE;
	if (hm_fetch_state_load(st, FALSE, err) < 0 || hm_fetch_state_load(st, TRUE, err) < 0) {
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
	g_autofree char *head = g_strdup_printf(HM_FETCH_JOURNAL_MAGIC " %d\ngeneration %" G_GUINT64_FORMAT
	                                        "\n", HM_FETCH_STATE_VERSION, st->generation);

	if (st->jfd >= 0) {
		close(st->jfd);
		st->jfd = -1;
	}
	st->jreset = TRUE;
	if (hm_atomic_write(st->journal_path, head, strlen(head), 0600, err) < 0)
		return -1;
	st->jlen = strlen(head);
	st->jroom = 0;
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
		/* Truncation may give reserved room back (ext4 does). */
		st->jroom = 0;
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
	hm_fetch_apply_uidvalidity(st, uidvalidity);
	return 0;
}

int
hm_fetch_state_lookup(const HmFetchState *st, const char *uid)
{
	const HmStateEntry *e = g_hash_table_lookup(st->entries, uid);

	return e != NULL ? e->mark : 0;
}

int
hm_fetch_state_lookup_value(const HmFetchState *st, const char *uid, guint64 *value)
{
	const HmStateEntry *e = g_hash_table_lookup(st->entries, uid);

	*value = e != NULL && !e->has_fp ? e->fp : 0;
	return e != NULL ? e->mark : 0;
}

gboolean
hm_fetch_state_has_fingerprint(const HmFetchState *st, guint64 size, const char *message_id)
{
	guint64 fp;

	if (message_id == NULL || *message_id == '\0')
		return FALSE;
	fp = hm_fetch_fingerprint(size, message_id);
	return g_hash_table_contains(st->fps, &fp);
}

/* Appends "UID <op>[ <field>]" and applies it; value is the fingerprint
 * when has_fp, else the entry's value, written when non-zero. */
static int
record_line(HmFetchState *st, const char *uid, HmFetchMark mark, gboolean has_fp,
            guint64 value, gboolean sync, GError **err)
{
	static const char op[] = { [HM_FETCH_MARK_DELIVERED] = 'D', [HM_FETCH_MARK_SKIPPED] = 'S',
		                   [HM_FETCH_MARK_RETRY] = 'R', [HM_FETCH_MARK_PARTIAL] = 'P' };
	char line[HM_FETCH_RECORD_MAX + 1];
	gsize len = strlen(uid);
	int n;

	if (!hm_fetch_uid_valid(uid, len)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "invalid UID (%" G_GSIZE_FORMAT
		            " octets; must be 1-%d printable ASCII characters without spaces)",
		            len, HM_FETCH_UID_MAX);
		return -1;
	}
	if (has_fp)
		n = g_snprintf(line, sizeof(line), "%s D %016" G_GINT64_MODIFIER "x\n", uid, value);
	else if (value != 0 || mark == HM_FETCH_MARK_RETRY)
		n = g_snprintf(line, sizeof(line), "%s %c %" G_GUINT64_FORMAT "\n", uid, op[mark],
		               value);
	else
		n = g_snprintf(line, sizeof(line), "%s %c\n", uid, op[mark]);
	g_assert(n > 0 && (gsize)n < sizeof(line));
	if (journal_append(st, line, (gsize)n, sync, err) < 0)
		return -1;
	hm_fetch_apply_record(st, uid, len, mark, has_fp, value);
	return 0;
}

static int
record(HmFetchState *st, const char *uid, HmFetchMark mark, guint64 size,
       const char *message_id, gboolean sync, GError **err)
{
	/* An empty Message-ID would make every empty one of that size match. */
	gboolean has_fp = mark == HM_FETCH_MARK_DELIVERED && message_id != NULL &&
	                  *message_id != '\0';

	if (mark != HM_FETCH_MARK_DELIVERED && mark != HM_FETCH_MARK_SKIPPED &&
	    mark != HM_FETCH_MARK_PARTIAL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "invalid fetch mark %d", (int)mark);
		return -1;
	}
	return record_line(st, uid, mark, has_fp,
	                   has_fp ? hm_fetch_fingerprint(size, message_id)
	                          : mark == HM_FETCH_MARK_SKIPPED ? size : 0,
	                   sync, err);
}

int
hm_fetch_state_record(HmFetchState *st, const char *uid, HmFetchMark mark, guint64 size,
                      const char *message_id, GError **err)
{
	return record(st, uid, mark, size, message_id, TRUE, err);
}

int
hm_fetch_state_record_retry(HmFetchState *st, const char *uid, gint64 when, GError **err)
{
	return record_line(st, uid, HM_FETCH_MARK_RETRY, FALSE, (guint64)MAX(when, 0), TRUE, err);
}

int
hm_fetch_state_record_unsynced(HmFetchState *st, const char *uid, guint64 size,
                               const char *message_id, GError **err)
{
	return record(st, uid, HM_FETCH_MARK_DELIVERED, size, message_id, FALSE, err);
}

int
hm_fetch_state_reserve(HmFetchState *st, guint n, GError **err)
{
	gsize need = (gsize)n * HM_FETCH_RECORD_MAX;
	g_autoptr(GError) e = NULL;

	if (journal_prepare(st, err) < 0)
		return -1;
	if (st->jroom >= st->jlen + need)
		return 0;
	/* A nearly full disk may still hold what is needed now, if not a
	 * whole JOURNAL_ROOM. */
	if (hm_reserve_space(st->jfd, (goffset)st->jlen, MAX(need, JOURNAL_ROOM), st->journal_path,
	                     &e) == 0) {
		st->jroom = st->jlen + MAX(need, JOURNAL_ROOM);
		return 0;
	}
	if (hm_reserve_space(st->jfd, (goffset)st->jlen, need, st->journal_path, err) < 0)
		return -1;
	st->jroom = st->jlen + need;
	return 0;
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
	char line[HM_FETCH_UID_MAX + 4];
	int n;

	/* Unknown (and so any invalid) UIDs need no record. */
	if (!g_hash_table_contains(st->entries, uid))
		return 0;
	n = g_snprintf(line, sizeof(line), "%s -\n", uid);
	if (journal_append(st, line, (gsize)n, FALSE, err) < 0)
		return -1;
	hm_fetch_apply_forget(st, uid);
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

void
hm_fetch_state_foreach(const HmFetchState *st, HmFetchStateFunc fn, gpointer data)
{
	GHashTableIter it;
	gpointer val;

	g_hash_table_iter_init(&it, st->entries);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		const HmStateEntry *e = val;

		fn(e->uid, e->mark, e->has_fp ? 0 : e->fp, data);
	}
}

guint
hm_fetch_state_count(const HmFetchState *st)
{
	return g_hash_table_size(st->entries);
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
		HmStateFp *f = val;

		f->v &= ~(gsize)1;
		if (f->v == 0)
			g_hash_table_iter_remove(&it);
	}
	if (present != NULL) {
		g_hash_table_iter_init(&it, st->entries);
		while (g_hash_table_iter_next(&it, NULL, &val)) {
			const HmStateEntry *e = val;

			if (g_hash_table_contains(present, e->uid))
				continue;
			if (e->has_fp)
				hm_fetch_fp_adjust(st, e->fp, -1);
			g_hash_table_iter_remove(&it);
		}
	}
	out = hm_fetch_state_format_base(st, st->generation + 1);
	if (hm_atomic_write(st->base_path, out->str, out->len, 0600, err) < 0)
		return -1;
	st->generation++;
	return journal_reset(st, err);
}

