#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/log.h"
#include "relay/queue.h"

/* An envelope is a few hundred octets per recipient; this bounds what a
 * damaged file can make us read before its blank line. */
#define ENVELOPE_MAX (64 + RELAY_QUEUE_MAX_RCPTS * 1200)
/* Queue files up to this size are read into memory rather than mapped. */
#define QUEUE_READ_MAX (4 * 1024 * 1024)

static void
rcpt_clear(gpointer p)
{
	RelayQueueRcpt *r = p;

	g_free(r->addr);
	g_free(r->orcpt);
	g_free(r->reply);
}

RelayQueueEntry *
relay_queue_entry_new(void)
{
	RelayQueueEntry *e = g_new0(RelayQueueEntry, 1);

	e->arrival = g_get_real_time() / G_USEC_PER_SEC;
	e->rcpts = g_array_new(FALSE, TRUE, sizeof(RelayQueueRcpt));
	g_array_set_clear_func(e->rcpts, rcpt_clear);
	return e;
}

void
relay_queue_entry_free(RelayQueueEntry *e)
{
	if (e == NULL)
		return;
	g_free(e->id);
	g_free(e->sender);
	g_free(e->client);
	g_free(e->helo);
	g_free(e->auth_user);
	g_free(e->envid);
	g_array_unref(e->rcpts);
	if (e->file != NULL)
		g_bytes_unref(e->file);
	g_free(e);
}

void
relay_queue_entry_add_rcpt(RelayQueueEntry *e, const char *addr, guint notify, const char *orcpt)
{
	RelayQueueRcpt r = { 0 };

	r.addr = g_strdup(addr);
	r.notify = notify;
	r.orcpt = g_strdup(orcpt);
	g_array_append_val(e->rcpts, r);
}

gboolean
relay_queue_entry_done(const RelayQueueEntry *e)
{
	for (guint i = 0; i < e->rcpts->len; i++)
		if (relay_queue_rcpt(e, i)->state == RELAY_RCPT_PENDING)
			return FALSE;
	return TRUE;
}

gboolean
relay_queue_id_valid(const char *id)
{
	gsize n = 0;

	for (; id[n] != '\0'; n++)
		if (!g_ascii_isxdigit(id[n]) || g_ascii_islower(id[n]))
			return FALSE;
	return n == 16;
}

char *
relay_queue_new_id(void)
{
	/* Seconds (9 digits last to 2106), microseconds (5), and 2 digits of
	 * a per-process counter mixed with the pid: two sessions can clash
	 * in the same microsecond; link() refuses the second, which then
	 * takes another (relay_queue_file_commit()). */
	static guint counter;
	gint64 now = g_get_real_time();

	counter++;
	return g_strdup_printf("%09" G_GINT64_MODIFIER "X%05X%02X",
	                       (now / G_USEC_PER_SEC) & G_GINT64_CONSTANT(0xFFFFFFFFF),
	                       (guint)(now % G_USEC_PER_SEC), (counter + (guint)getpid()) & 0xFF);
}

struct RelayQueueFile {
	HmDurable *d;           /* NULL while the file is held in memory */
	char *path;
	GString *held;          /* the file's bytes until it is written */
	gsize hold_max;
	gsize size_at;          /* offset of the size digits */
	gsize data_at;          /* offset of the message */
	guint64 size;
	RelayQueueEntry *e;     /* whose id names the file */
};

/* Writes a held file out (nothing when it is written already). 0, or -1
 * with *err; qf can then only be aborted. */
static int
spill(RelayQueueFile *qf, GError **err)
{
	if (qf->d != NULL)
		return 0;
	if ((qf->d = hm_durable_new(qf->path, 0600, err)) == NULL)
		return -1;
	if (hm_durable_write(qf->d, qf->held->str, qf->held->len, err) < 0) {
		hm_durable_abort(qf->d);
		qf->d = NULL;
		return -1;
	}
	g_string_free(g_steal_pointer(&qf->held), TRUE);
	return 0;
}

RelayQueueFile *
relay_queue_file_new_held(const char *dir, RelayQueueEntry *e, gsize hold_max, GError **err)
{
	RelayQueueFile *qf;

	if (relay_queue_envelope_check(e, err) < 0)
		return NULL;
	qf = g_new0(RelayQueueFile, 1);
	if (e->id == NULL)
		e->id = relay_queue_new_id();
	e->size = 0;
	qf->path = g_build_filename(dir, e->id, NULL);
	qf->e = e;
	qf->hold_max = hold_max;
	qf->held = g_string_new(NULL);
	relay_queue_envelope_format(e, qf->held);
	qf->data_at = qf->held->len;
	qf->size_at = qf->data_at - RELAY_QUEUE_SIZE_WIDTH - 2;
	if (hold_max == 0 && spill(qf, err) < 0) {
		relay_queue_file_abort(qf);
		return NULL;
	}
	return qf;
}

RelayQueueFile *
relay_queue_file_new(const char *dir, RelayQueueEntry *e, GError **err)
{
	return relay_queue_file_new_held(dir, e, 0, err);
}

int
relay_queue_file_write(RelayQueueFile *qf, const void *data, gsize len, GError **err)
{
	if (qf->d == NULL) {
		g_string_append_len(qf->held, data, (gssize)len);
		qf->size += len;
		return qf->size > qf->hold_max ? spill(qf, err) : 0;
	}
	if (hm_durable_write(qf->d, data, len, err) < 0)
		return -1;
	qf->size += len;
	return 0;
}

guint64
relay_queue_file_size(const RelayQueueFile *qf)
{
	return qf->size;
}

const char *
relay_queue_file_held(const RelayQueueFile *qf, gsize *len)
{
	if (qf->d != NULL)
		return NULL;
	*len = qf->held->len - qf->data_at;
	return qf->held->str + qf->data_at;
}

static void
file_free(RelayQueueFile *qf)
{
	if (qf->held != NULL)
		g_string_free(qf->held, TRUE);
	g_free(qf->path);
	g_free(qf);
}

/* The next name for a file whose ID another message took meanwhile. */
static char *
another_id(gpointer data)
{
	RelayQueueEntry *e = data;
	g_autofree char *taken = e->id;

	e->id = relay_queue_new_id();
	hm_info("relay queue: ID %s taken in the same microsecond; stored as %s", taken, e->id);
	return g_strdup(e->id);
}

int
relay_queue_file_commit(RelayQueueFile *qf, GError **err)
{
	char digits[RELAY_QUEUE_SIZE_WIDTH + 1];
	int rc = -1;

	g_snprintf(digits, sizeof(digits), "%0*" G_GUINT64_FORMAT, RELAY_QUEUE_SIZE_WIDTH, qf->size);
	if (spill(qf, err) == 0) {
		if (hm_durable_pwrite(qf->d, digits, RELAY_QUEUE_SIZE_WIDTH, (goffset)qf->size_at,
		                      err) < 0)
			hm_durable_abort(qf->d);
		else
			rc = hm_durable_commit_unique(qf->d, HM_DURABLE_NO_FSYNC | HM_DURABLE_NO_DIRSYNC,
			                              another_id, qf->e, err);
	}
	file_free(qf);
	return rc;
}

void
relay_queue_file_abort(RelayQueueFile *qf)
{
	if (qf == NULL)
		return;
	if (qf->d != NULL)
		hm_durable_abort(qf->d);
	file_free(qf);
}

/* Opens dir/name, a regular file and not a link (relay_queue_load()
 * says why); *path receives the path. */
static int
open_entry(const char *dir, const char *name, struct stat *st, char **path, GError **err)
{
	*path = g_build_filename(dir, name, NULL);
	return hm_open_regular_flags(*path, HM_OPEN_NOFOLLOW, st, err);
}

/* Reads len octets at off of fd into buf; a file that ends before is an
 * error (EIO), since a queue file never changes. 0, or -1 with *err. */
static int
pread_all(int fd, const char *path, char *buf, gsize len, goffset off, GError **err)
{
	gsize got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + (goffset)got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			hm_set_error_errno(err, n < 0 ? errno : EIO, "%s: cannot read", path);
			return -1;
		}
		got += (gsize)n;
	}
	return 0;
}

/* The first max bytes of dir/name (all of a smaller file), and its
 * length in *len; NULL with *err. Read, not mapped: a runner loads
 * thousands of small files, and a mapping costs a fault per page and, in
 * a virtual machine, an expensive TLB shootdown when it goes. */
static GBytes *
read_head(const char *dir, const char *name, gsize max, gsize *len, GError **err)
{
	g_autofree char *path = NULL;
	struct stat st;
	int fd = open_entry(dir, name, &st, &path, err);
	gsize want;
	char *buf;

	if (fd < 0)
		return NULL;
	*len = (gsize)st.st_size;
	want = MIN(*len, max);
	buf = g_malloc(want + 1);
	if (pread_all(fd, path, buf, want, 0, err) < 0) {
		g_free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	return g_bytes_new_take(buf, want);
}

/* Maps dir/name; NULL with *err. */
static GMappedFile *
map(const char *dir, const char *name, GError **err)
{
	g_autofree char *path = NULL;
	struct stat st;
	GMappedFile *m;
	int fd = open_entry(dir, name, &st, &path, err);

	if (fd < 0)
		return NULL;
	m = g_mapped_file_new_from_fd(fd, FALSE, NULL);
	if (m == NULL)
		hm_set_error_errno(err, errno, "%s: cannot map", path);
	close(fd);
	return m;
}

GBytes *
relay_queue_envelope_read(int fd, gsize max, RelayQueueEntry *e, gsize *header_len, GError **err)
{
	g_autoptr(GByteArray) buf = g_byte_array_new();
	const gsize magic = strlen(RELAY_QUEUE_MAGIC "\n");
	gsize scanned = 0; /* where the blank line is looked for next */
	gboolean blank = FALSE;
	g_autofree guint8 *chunk = g_malloc(RELAY_QUEUE_ENVELOPE_CHUNK);

	while (buf->len < max) {
		ssize_t n = read(fd, chunk, MIN(RELAY_QUEUE_ENVELOPE_CHUNK, max - buf->len));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hm_set_error_errno(err, errno, "cannot read");
			return NULL;
		}
		if (n == 0)
			break;
		g_byte_array_append(buf, chunk, (guint)n);
		/* Only a queue file is read on: anything else has shown enough. */
		if (buf->len >= magic && memcmp(buf->data, RELAY_QUEUE_MAGIC "\n", magic) != 0)
			break;
		if ((blank = memmem(buf->data + scanned, buf->len - scanned, "\n\n", 2) != NULL))
			break;
		scanned = buf->len - 1;
	}
	if (!blank && buf->len >= max) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "envelope larger than %" G_GSIZE_FORMAT " octets", max);
		return NULL;
	}
	if (relay_queue_envelope_parse((const char *)buf->data, buf->len, e, header_len, err) < 0)
		return NULL;
	return g_byte_array_free_to_bytes(g_steal_pointer(&buf));
}

/* Reads the envelope of dir/id into e; the file's size in *len. NULL
 * with *err (prefixed with id). */
static GBytes *
load_envelope(const char *dir, const char *id, RelayQueueEntry *e, gsize *header_len, gsize *len,
              GError **err)
{
	g_autofree char *path = NULL;
	struct stat st;
	int fd = open_entry(dir, id, &st, &path, err);
	GBytes *head;

	if (fd < 0)
		return NULL;
	head = relay_queue_envelope_read(fd, ENVELOPE_MAX, e, header_len, err);
	close(fd);
	if (head == NULL) {
		g_prefix_error(err, "%s: ", id);
		return NULL;
	}
	*len = (gsize)st.st_size;
	return head;
}

RelayQueueEntry *
relay_queue_load(const char *dir, const char *id, GError **err)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GBytes) head = NULL;
	g_autofree char *state_name = g_strconcat(id, ".s", NULL);
	g_autoptr(GError) state_err = NULL;
	g_autoptr(GBytes) state = NULL;
	g_autofree char *state_path = NULL;
	struct stat st;
	gsize len = 0, header_len = 0;

	if (!relay_queue_id_valid(id)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: not a queue ID", id);
		return NULL;
	}
	if ((head = load_envelope(dir, id, e, &header_len, &len, err)) == NULL)
		return NULL;
	/* The size the file has, not what was read of it: a file cut short
	 * by a crash before its commit is found without reading the message. */
	if (len < header_len || len - header_len != e->size) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "%s: queue file " RELAY_QUEUE_CUT_SHORT " (%" G_GSIZE_FORMAT
		            " of %" G_GUINT64_FORMAT " octets): it was never committed",
		            id, len - MIN(len, header_len), e->size);
		return NULL;
	}
	e->data_offset = (goffset)header_len;
	e->id = g_strdup(id);
	/* A small file came whole with its envelope: the message needs no
	 * second read. */
	if (g_bytes_get_size(head) == len)
		e->file = g_bytes_ref(head);
	state_path = g_build_filename(dir, state_name, NULL);
	state = hm_read_file_flags(state_path, ENVELOPE_MAX, HM_OPEN_NOFOLLOW, &st, &state_err);
	/* No state file: no attempt yet. */
	if (state == NULL && (errno != ENOENT || !g_error_matches(state_err, HM_ERROR, HM_ERROR_IO))) {
		g_propagate_error(err, g_steal_pointer(&state_err));
		return NULL;
	}
	if (state != NULL &&
	    relay_queue_state_parse(g_bytes_get_data(state, NULL), g_bytes_get_size(state), e, err) <
	            0) {
		g_prefix_error(err, "%s: ", id);
		return NULL;
	}
	return g_steal_pointer(&e);
}

gboolean
relay_queue_error_uncommitted(const GError *err)
{
	return g_error_matches(err, HM_ERROR, HM_ERROR_PARSE) &&
	       strstr(err->message, RELAY_QUEUE_CUT_SHORT) != NULL;
}

GBytes *
relay_queue_message(const char *dir, const RelayQueueEntry *e, GError **err)
{
	gsize len = (gsize)e->data_offset + e->size;
	GMappedFile *m;
	GBytes *all;
	GBytes *msg;

	if (e->file != NULL && g_bytes_get_size(e->file) == len)
		return g_bytes_new_from_bytes(e->file, (gsize)e->data_offset, e->size);
	/* Small files are read (see read_head()); large ones mapped, so a
	 * big message does not sit in the runner's memory twice. */
	if (len <= QUEUE_READ_MAX) {
		gsize flen = 0;

		if ((all = read_head(dir, e->id, len, &flen, err)) == NULL)
			return NULL;
		if (flen != len) {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: queue file changed size", e->id);
			g_bytes_unref(all);
			return NULL;
		}
		msg = g_bytes_new_from_bytes(all, (gsize)e->data_offset, e->size);
		g_bytes_unref(all);
		return msg;
	}
	if ((m = map(dir, e->id, err)) == NULL)
		return NULL;
	if (g_mapped_file_get_length(m) != (gsize)e->data_offset + e->size) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: queue file changed size", e->id);
		g_mapped_file_unref(m);
		return NULL;
	}
	all = g_mapped_file_get_bytes(m);
	g_mapped_file_unref(m);
	msg = g_bytes_new_from_bytes(all, (gsize)e->data_offset, e->size);
	g_bytes_unref(all);
	return msg;
}

GBytes *
relay_queue_message_head(const char *dir, const RelayQueueEntry *e, gsize max, GError **err)
{
	gsize want = (gsize)MIN((guint64)max, e->size);
	g_autofree char *path = NULL;
	struct stat st;
	char *buf;
	int fd;

	if (e->file != NULL)
		return g_bytes_new_from_bytes(e->file, (gsize)e->data_offset, want);
	if ((fd = open_entry(dir, e->id, &st, &path, err)) < 0)
		return NULL;
	buf = g_malloc(want + 1);
	if (pread_all(fd, path, buf, want, e->data_offset, err) < 0) {
		g_free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	return g_bytes_new_take(buf, want);
}

int
relay_queue_save_state(const char *dir, const RelayQueueEntry *e, GError **err)
{
	g_autoptr(GString) text = g_string_new(NULL);
	g_autofree char *name = g_strconcat(e->id, ".s", NULL);
	g_autofree char *path = g_build_filename(dir, name, NULL);

	relay_queue_state_format(e, text);
	return hm_atomic_write(path, text->str, text->len, 0600, err);
}

int
relay_queue_note_state(const char *dir, const RelayQueueEntry *e, GError **err)
{
	g_autoptr(GString) text = g_string_new(NULL);
	g_autofree char *name = g_strconcat(e->id, ".s", NULL);
	g_autofree char *path = g_build_filename(dir, name, NULL);
	HmDurable *d = hm_durable_new(path, 0600, err);

	if (d == NULL)
		return -1;
	relay_queue_state_format(e, text);
	if (hm_durable_write(d, text->str, text->len, err) < 0) {
		hm_durable_abort(d);
		return -1;
	}
	return hm_durable_commit(d, HM_DURABLE_NO_FSYNC | HM_DURABLE_NO_DIRSYNC, err);
}

int
relay_queue_entry_check(const char *dir, const char *id, GError **err)
{
	g_autofree char *path = NULL;
	g_autoptr(GError) why = NULL;
	struct stat st;
	int fd, saved;

	if (!relay_queue_id_valid(id)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: no such queue entry (not a queue ID)", id);
		errno = ENOENT;
		return -1;
	}
	if ((fd = open_entry(dir, id, &st, &path, &why)) >= 0) {
		close(fd);
		return 0;
	}
	saved = errno;
	if (saved == ENOENT)
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: no such queue entry", id);
	else
		g_propagate_error(err, g_steal_pointer(&why));
	errno = saved;
	return -1;
}

static int
unlink_quiet(const char *dir, const char *name, GError **err)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	if (unlink(path) < 0 && errno != ENOENT) {
		hm_set_error_errno(err, errno, "remove %s", path);
		return -1;
	}
	return 0;
}

int
relay_queue_remove(const char *dir, const char *id, GError **err)
{
	g_autofree char *state_name = g_strconcat(id, ".s", NULL);

	if (!relay_queue_id_valid(id)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: not a queue ID", id);
		return -1;
	}
	if (unlink_quiet(dir, id, err) < 0)
		return -1;
	return unlink_quiet(dir, state_name, err);
}

int
relay_queue_retire(const char *dir, const char *id, GError **err)
{
	g_autofree char *from = g_build_filename(dir, id, NULL);
	g_autofree char *to = g_build_filename(dir, RELAY_QUEUE_DONE, id, NULL);
	g_autofree char *state_name = g_strconcat(id, ".s", NULL);

	if (!relay_queue_id_valid(id)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: not a queue ID", id);
		return -1;
	}
	if (rename(from, to) < 0)
		return relay_queue_remove(dir, id, err);
	return unlink_quiet(dir, state_name, err);
}

guint
relay_queue_reap(const char *dir)
{
	g_autofree char *path = g_build_filename(dir, RELAY_QUEUE_DONE, NULL);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	guint n = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    unlinkat(fd, de->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
}

static int
compare_ids(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *
relay_queue_list(const char *dir, GError **err)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, err);
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter it;
	gpointer key;
	const char *name;

	if (d == NULL)
		return NULL;
	while ((name = g_dir_read_name(d)) != NULL) {
		gsize n = strlen(name);

		if (relay_queue_id_valid(name))
			g_ptr_array_add(ids, g_strdup(name));
		else if (n == 18 && g_str_has_suffix(name, ".s"))
			g_hash_table_add(states, g_strndup(name, 16));
	}
	for (guint i = 0; i < ids->len; i++)
		g_hash_table_remove(states, ids->pdata[i]);
	/* A state file without its message: what a crash inside
	 * relay_queue_remove() leaves. */
	g_hash_table_iter_init(&it, states);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		g_autofree char *state_name = g_strconcat(key, ".s", NULL);

		unlink_quiet(dir, state_name, NULL);
	}
	/* IDs begin with the time in fixed-width hex: sorted is oldest first. */
	g_ptr_array_sort(ids, compare_ids);
	return g_steal_pointer(&ids);
}
