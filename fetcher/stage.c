#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetcher/stage.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/maildir.h"
#include "lib/parse.h"

/* An intent log is at most one batch of lines; anything bigger is not ours. */
#define INTENT_MAX (HM_FETCH_GROUP * 8192)

typedef struct {
	const HmFetchItem *item;
	char *message_id;
	char *tmp_path, *new_path;
} Staged;

struct HmFetchBatch {
	HmFetchState *st;
	HmInjector *inj;
	GArray *staged;      /* Staged */
};

static void
staged_clear(gpointer p)
{
	Staged *s = p;

	g_free(s->message_id);
	g_free(s->tmp_path);
	g_free(s->new_path);
}

HmFetchBatch *
hm_fetch_batch_new(HmFetchState *st, HmInjector *inj)
{
	HmFetchBatch *b = g_new0(HmFetchBatch, 1);

	b->st = st;
	b->inj = inj;
	b->staged = g_array_new(FALSE, TRUE, sizeof(Staged));
	g_array_set_clear_func(b->staged, staged_clear);
	return b;
}

void
hm_fetch_batch_add(HmFetchBatch *b, const HmFetchItem *item, const char *message_id,
                   HmDeliverStaged *staged)
{
	Staged s = { item, g_strdup(message_id), g_steal_pointer(&staged->tmp_path),
		     g_steal_pointer(&staged->new_path) };

	g_array_append_val(b->staged, s);
}

guint
hm_fetch_batch_len(const HmFetchBatch *b)
{
	return b->staged->len;
}

/* Removes the tmp/ files not published yet and empties the batch. */
static void
take_back(HmFetchBatch *b, guint from)
{
	for (guint i = from; i < b->staged->len; i++)
		unlink(g_array_index(b->staged, Staged, i).tmp_path);
	g_array_set_size(b->staged, 0);
}

void
hm_fetch_batch_free(HmFetchBatch *b)
{
	if (b == NULL)
		return;
	take_back(b, 0);
	g_array_unref(b->staged);
	g_free(b);
}

/* "UID SIZE NEW-PATH MESSAGE-ID", the last two URI-escaped ("-": none). */
static void
intent_line(GString *out, const Staged *s)
{
	g_autofree char *path = g_uri_escape_string(s->new_path, "/", FALSE);
	g_autofree char *mid = s->message_id != NULL && *s->message_id != '\0'
	                           ? g_uri_escape_string(s->message_id, NULL, FALSE)
	                           : g_strdup("-");

	g_string_append_printf(out, "%s %" G_GUINT64_FORMAT " %s %s\n", s->item->uid,
	                       s->item->size, path, mid);
}

/* Writes the intent log and makes it durable together with the staged
 * files: the log is put in place whole (never half-written over an older
 * one), then syncfs() of every file system involved. */
static int
write_intent(HmFetchBatch *b, const char *path, GError **err)
{
	g_autoptr(GString) text = g_string_new(NULL);
	HmDurable *d;

	for (guint i = 0; i < b->staged->len; i++)
		intent_line(text, &g_array_index(b->staged, Staged, i));
	if ((d = hm_durable_new(path, 0600, err)) == NULL)
		return -1;
	if (hm_durable_write(d, text->str, text->len, err) < 0) {
		hm_durable_abort(d);
		return -1;
	}
	if (hm_durable_commit(d, HM_DURABLE_NO_FSYNC | HM_DURABLE_NO_DIRSYNC, err) < 0)
		return -1;
	if (hm_syncfs(path, err) < 0 || hm_injector_sync(b->inj, err) < 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

/* fsyncs the new/ directory of each path in paths (once per directory). */
static int
sync_new_dirs(GPtrArray *paths, GError **err)
{
	g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < paths->len; i++) {
		char *dir = g_path_get_dirname(g_ptr_array_index(paths, i));

		if (!g_hash_table_add(done, dir))
			continue;
		if (hm_fsync_dir(dir, err) < 0)
			return -1;
	}
	return 0;
}

int
hm_fetch_batch_commit(HmFetchBatch *b, GPtrArray *done, GError **err)
{
	g_autofree char *intent = hm_fetch_state_sidecar(b->st, "staged");
	g_autoptr(GPtrArray) published = g_ptr_array_new();
	guint n = b->staged->len, i;
	int rc = 0;

	if (n == 0)
		return 0;
	if (write_intent(b, intent, err) < 0) {
		take_back(b, 0);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		Staged *s = &g_array_index(b->staged, Staged, i);

		rc = hm_maildir_publish(s->tmp_path, s->new_path, err);
		if (rc == 0)
			g_ptr_array_add(published, s->new_path);
	}
	/* Whatever was published is delivered once new/ is synced; record
	 * exactly that. If even that fails, the intent log settles it. */
	if (sync_new_dirs(published, rc == 0 ? err : NULL) < 0) {
		take_back(b, published->len);
		return -1;
	}
	for (i = 0; i < published->len; i++) {
		Staged *s = &g_array_index(b->staged, Staged, i);

		if (hm_fetch_state_record_unsynced(b->st, s->item->uid, s->item->size, s->message_id,
		                                   rc == 0 ? err : NULL) < 0) {
			take_back(b, published->len);
			return -1;
		}
		g_ptr_array_add(done, (gpointer)s->item);
	}
	if (hm_fetch_state_sync(b->st, rc == 0 ? err : NULL) == 0)
		unlink(intent);
	else
		rc = -1;
	take_back(b, published->len);
	return rc;
}

/* --- recovery ------------------------------------------------------------- */

/* TRUE if the message named by new_path is delivered: in new/, or
 * published now from tmp/, or already moved on to cur/ by a reader (popd
 * renames new/NAME to cur/NAME:2,S). */
static gboolean
settle_one(const char *new_path, GPtrArray *touched)
{
	g_autofree char *dir = g_path_get_dirname(new_path);
	g_autofree char *maildir = g_path_get_dirname(dir);
	g_autofree char *name = g_path_get_basename(new_path);
	g_autofree char *base = g_strndup(name, strcspn(name, ","));
	g_autofree char *tmp = g_build_filename(maildir, "tmp", base, NULL);
	g_autofree char *cur = g_build_filename(maildir, "cur", NULL);
	g_autoptr(GDir) d = NULL;
	const char *e;

	if (access(new_path, F_OK) == 0)
		return TRUE;
	if (access(tmp, F_OK) == 0 && hm_maildir_publish(tmp, new_path, NULL) == 0) {
		g_ptr_array_add(touched, g_strdup(new_path));
		return TRUE;
	}
	d = g_dir_open(cur, 0, NULL);
	while (d != NULL && (e = g_dir_read_name(d)) != NULL)
		if (g_str_has_prefix(e, name))
			return TRUE;
	return FALSE;
}

/* Applies one intent line: records the message when it is delivered. */
static int
recover_line(HmFetchState *st, const char *line, GPtrArray *touched, GError **err)
{
	g_auto(GStrv) f = g_strsplit(line, " ", 5);
	g_autofree char *path = NULL, *mid = NULL;
	guint64 size;

	if (g_strv_length(f) != 4 || hm_parse_uint(f[1], 0, G_MAXUINT64, &size) < 0 ||
	    (path = g_uri_unescape_string(f[2], NULL)) == NULL ||
	    (strcmp(f[3], "-") != 0 && (mid = g_uri_unescape_string(f[3], NULL)) == NULL)) {
		hm_warn("fetch intent log: malformed line ignored");
		return 0;
	}
	if (hm_fetch_state_lookup(st, f[0]) != 0 || !settle_one(path, touched))
		return 0;
	return hm_fetch_state_record_unsynced(st, f[0], size, mid, err);
}

int
hm_fetch_batch_recover(HmFetchState *st, GError **err)
{
	g_autofree char *intent = hm_fetch_state_sidecar(st, "staged");
	g_autoptr(GError) local = NULL;
	struct stat sb;
	/* As the fetch state (fetcher/state-format.c): a regular file, not
	 * through a link. */
	g_autoptr(GBytes) bytes =
		hm_read_file_flags(intent, INTENT_MAX, HM_OPEN_NOFOLLOW, &sb, &local);
	g_autoptr(GPtrArray) touched = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) lines = NULL;
	g_autofree char *copy = NULL;
	gsize len;
	const char *text;

	if (bytes == NULL && errno == ENOENT)
		return 0;
	if (bytes == NULL) {
		g_propagate_error(err, g_steal_pointer(&local));
		return -1;
	}
	text = g_bytes_get_data(bytes, &len);
	/* Empty when the crash came between creating and writing it. */
	copy = len > 0 ? g_strndup(text, len) : g_strdup("");
	lines = g_strsplit(copy, "\n", -1);
	/* The last element is "" after a final newline, or a torn line. */
	for (guint i = 0; lines[i] != NULL && lines[i + 1] != NULL; i++)
		if (recover_line(st, lines[i], touched, err) < 0)
			return -1;
	if (sync_new_dirs(touched, err) < 0 || hm_fetch_state_sync(st, err) < 0)
		return -1;
	if (len > 0)
		hm_info("fetch state: settled the batch a crash interrupted (%u message(s) "
		        "published now)", touched->len);
	unlink(intent);
	return 0;
}
