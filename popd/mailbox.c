#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/dotstuff.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/maildir.h"
#include "popd/mailbox.h"

/* A dot file: Maildir readers skip it, and it never moves, so the lock
 * holds for the whole session whatever happens to new/ and cur/. */
#define LOCK_NAME ".homemail-pop3.lock"
#define READ_CHUNK (64 * 1024)

G_DEFINE_QUARK(popd-mailbox-error-quark, popd_mailbox_error)

/* RFC 1939 section 7: a UIDL is 1 to 70 characters in 0x21..0x7E. */
#define UIDL_MAX 70

typedef struct {
	HmMaildirEntry *e;
	char *uidl;
	guint64 vsize;
	gboolean deleted, retrieved;
} Message;

struct PopdMailbox {
	char *dir;
	int lock_fd;
	GArray *entries;   /* HmMaildirEntry, owned */
	GArray *msgs;      /* Message, pointing into entries */
};

static Message *
msg(const PopdMailbox *mb, guint n)
{
	g_assert(n >= 1 && n <= mb->msgs->len);
	return &g_array_index(mb->msgs, Message, n - 1);
}

static int
lock_maildrop(PopdMailbox *mb, GError **err)
{
	g_autofree char *path = g_build_filename(mb->dir, LOCK_NAME, NULL);

	mb->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (mb->lock_fd < 0) {
		hm_set_error_errno(err, errno, "open %s", path);
		return -1;
	}
	/* flock() is released by the kernel when the session process dies,
	 * however it dies: no stale locks after kill -9. */
	if (flock(mb->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			g_set_error(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_IN_USE,
			            "Mailbox is locked by another POP3 session.");
		else
			hm_set_error_errno(err, errno, "lock %s", path);
		return -1;
	}
	return 0;
}

/* The CRLF size of a file whose name does not carry ",W=" (delivered by
 * another program). Returns FALSE when the file is gone, or is no longer
 * a regular file, or cannot be read; all but the first are logged, since
 * the message is then left out of the session without a word to the
 * client. */
static gboolean
measure(const char *dir, const char *name, guint64 *out)
{
	char buf[READ_CHUNK];
	HmCrlfCounter c;
	int fd = hm_maildir_open_message(dir, name, NULL);
	ssize_t n;

	if (fd < 0)
		return FALSE;
	hm_crlf_counter_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		hm_crlf_counter_feed(&c, buf, (gsize)n);
	if (n < 0) {
		g_autofree char *shown = g_strescape(name, NULL);

		hm_warn("maildir %s: cannot read %s: %s", dir, shown, g_strerror(errno));
	}
	close(fd);
	*out = hm_crlf_counter_total(&c);
	return n == 0;
}

static gboolean
uidl_valid(const char *s)
{
	gsize len = strlen(s);

	if (len < 1 || len > UIDL_MAX)
		return FALSE;
	for (; *s != '\0'; s++)
		if ((guchar)*s < 0x21 || (guchar)*s > 0x7e)
			return FALSE;
	return TRUE;
}

/* The hex SHA-256 of stem (round 0), or of stem, a NUL and the round's
 * number: no file name holds a NUL, so what a later round hashes is never
 * another file's stem. */
static char *
hashed_uidl(const char *stem, guint round)
{
	g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);

	g_checksum_update(c, (const guchar *)stem, (gssize)strlen(stem));
	if (round > 0) {
		char num[16];

		g_snprintf(num, sizeof(num), "%u", round);
		g_checksum_update(c, (const guchar *)"", 1);
		g_checksum_update(c, (const guchar *)num, -1);
	}
	return g_strdup(g_checksum_get_string(c));
}

/* The first hashed UIDL of stem that is not taken yet. */
static char *
free_hashed_uidl(const char *stem, GHashTable *taken)
{
	char *uidl = hashed_uidl(stem, 0);

	for (guint round = 1; g_hash_table_contains(taken, uidl); round++) {
		g_free(uidl);
		uidl = hashed_uidl(stem, round);
	}
	return uidl;
}

/* Gives every message its UIDL by the rules of mailbox.h. */
static void
assign_uidls(PopdMailbox *mb)
{
	g_autoptr(GHashTable) uses = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) taken = g_hash_table_new(g_str_hash, g_str_equal);
	guint n;

	for (n = 1; n <= mb->msgs->len; n++) {
		const char *uid = msg(mb, n)->e->uid;
		guint count = GPOINTER_TO_UINT(g_hash_table_lookup(uses, uid));

		g_hash_table_insert(uses, (gpointer)uid, GUINT_TO_POINTER(count + 1));
	}
	/* The plain names first, so that no hash can take one of them. */
	for (n = 1; n <= mb->msgs->len; n++) {
		Message *m = msg(mb, n);

		if (uidl_valid(m->e->uid) &&
		    GPOINTER_TO_UINT(g_hash_table_lookup(uses, m->e->uid)) == 1) {
			m->uidl = g_strdup(m->e->uid);
			g_hash_table_add(taken, m->uidl);
		}
	}
	for (n = 1; n <= mb->msgs->len; n++) {
		Message *m = msg(mb, n);
		g_autofree char *stem = NULL;

		if (m->uidl != NULL)
			continue;
		stem = hm_maildir_stem(m->e);
		m->uidl = free_hashed_uidl(stem, taken);
		g_hash_table_add(taken, m->uidl);
	}
}

static void
message_clear(gpointer p)
{
	g_free(((Message *)p)->uidl);
}

PopdMailbox *
popd_mailbox_open(const char *dir, GError **err)
{
	PopdMailbox *mb = g_new0(PopdMailbox, 1);
	guint swept;

	mb->dir = g_strdup(dir);
	mb->lock_fd = -1;
	if (hm_maildir_create(dir, err) < 0 || lock_maildrop(mb, err) < 0)
		goto fail;
	/* Deliveries cut short (kill -9, a crash) leave their tmp/ file; the
	 * fetcher sweeps the Maildirs it writes, but mail that only the
	 * relay or homemail-deliver writes has no one else to clean up after
	 * it, so the reader does, as Dovecot's does when it opens a Maildir. */
	if ((swept = hm_maildir_sweep_tmp(dir)) > 0)
		hm_info("maildir %s: removed %u files abandoned in tmp/", dir, swept);
	mb->entries = hm_maildir_scan(dir, err);
	if (mb->entries == NULL)
		goto fail;
	mb->msgs = g_array_sized_new(FALSE, TRUE, sizeof(Message), mb->entries->len);
	g_array_set_clear_func(mb->msgs, message_clear);
	for (guint i = 0; i < mb->entries->len; i++) {
		Message m = { .e = &g_array_index(mb->entries, HmMaildirEntry, i) };

		m.vsize = m.e->vsize;
		if (m.vsize == G_MAXUINT64 && !measure(dir, m.e->name, &m.vsize))
			continue; /* gone or replaced since the scan: not in the snapshot */
		g_array_append_val(mb->msgs, m);
	}
	assign_uidls(mb);
	return mb;
fail:
	popd_mailbox_close(mb);
	return NULL;
}

void
popd_mailbox_close(PopdMailbox *mb)
{
	if (mb == NULL)
		return;
	if (mb->lock_fd >= 0)
		close(mb->lock_fd);
	if (mb->msgs != NULL)
		g_array_unref(mb->msgs);
	if (mb->entries != NULL)
		g_array_unref(mb->entries);
	g_free(mb->dir);
	g_free(mb);
}

guint popd_mailbox_count(const PopdMailbox *mb) { return mb->msgs->len; }
gboolean popd_mailbox_deleted(const PopdMailbox *mb, guint n) { return msg(mb, n)->deleted; }
guint64 popd_mailbox_size(const PopdMailbox *mb, guint n) { return msg(mb, n)->vsize; }
void popd_mailbox_delete(PopdMailbox *mb, guint n) { msg(mb, n)->deleted = TRUE; }

const char *
popd_mailbox_uidl(const PopdMailbox *mb, guint n)
{
	return msg(mb, n)->uidl;
}

void
popd_mailbox_stat(const PopdMailbox *mb, guint *count, guint64 *octets)
{
	*count = 0;
	*octets = 0;
	for (guint n = 1; n <= mb->msgs->len; n++) {
		if (!msg(mb, n)->deleted) {
			(*count)++;
			*octets += msg(mb, n)->vsize;
		}
	}
}

void
popd_mailbox_reset(PopdMailbox *mb)
{
	for (guint n = 1; n <= mb->msgs->len; n++)
		msg(mb, n)->deleted = FALSE;
}

/* Where TOP stops: after the header, its empty line, and `left` lines. */
typedef struct {
	gboolean in_body;
	gboolean line_has_text;
	gint64 left;
	gboolean done;
} TopCut;

/* How many bytes of chunk belong to the TOP output. */
static gsize
top_take(TopCut *t, const char *chunk, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (t->in_body && t->left == 0) {
			t->done = TRUE;
			return i;
		}
		if (chunk[i] != '\n') {
			if (chunk[i] != '\r')
				t->line_has_text = TRUE;
			continue;
		}
		if (t->in_body)
			t->left--;
		else if (!t->line_has_text)
			t->in_body = TRUE;
		t->line_has_text = FALSE;
	}
	if (t->in_body && t->left == 0)
		t->done = TRUE;
	return len;
}

/* Streams the file through the dot-stuffer onto the connection. */
static int
stream_file(int fd, gint64 body_lines, HmConn *conn, GError **err)
{
	g_autofree char *buf = g_malloc(READ_CHUNK);
	g_autoptr(GString) out = g_string_sized_new(READ_CHUNK + READ_CHUNK / 8);
	TopCut top = { .left = body_lines };
	HmDotStuffer st;
	ssize_t n;

	hm_dotstuff_init(&st);
	while (!top.done && (n = read(fd, buf, READ_CHUNK)) != 0) {
		gsize take;

		if (n < 0) {
			hm_set_error_errno(err, errno, "read message");
			return -1;
		}
		take = body_lines < 0 ? (gsize)n : top_take(&top, buf, (gsize)n);
		g_string_truncate(out, 0);
		hm_dotstuff_feed(&st, buf, take, out);
		if (hm_conn_write(conn, out->str, out->len, err) < 0)
			return -1;
	}
	g_string_truncate(out, 0);
	hm_dotstuff_finish(&st, out);
	return hm_conn_write(conn, out->str, out->len, err);
}

int
popd_mailbox_send(PopdMailbox *mb, guint n, gint64 body_lines, HmConn *conn, GError **err)
{
	Message *m = msg(mb, n);
	g_autoptr(GError) oerr = NULL;
	int fd = hm_maildir_open_message(mb->dir, m->e->name, &oerr);
	int rc;

	if (fd < 0 && g_error_matches(oerr, HM_ERROR, HM_ERROR_IO)) {
		g_set_error(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_GONE,
		            "Message %u is no longer there.", n);
		return -1;
	}
	if (fd < 0) {
		g_set_error(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_UNREADABLE,
		            "[SYS/TEMP] Message %u cannot be read.", n);
		return -1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (hm_conn_printf(conn, err, "+OK %" G_GUINT64_FORMAT " octets\r\n", m->vsize) < 0)
		rc = -1;
	else
		rc = stream_file(fd, body_lines, conn, err);
	close(fd);
	if (rc == 0 && body_lines < 0)
		m->retrieved = TRUE;
	return rc;
}

static gboolean
has_update(const Message *m)
{
	return m->deleted || (m->retrieved && m->e->in_new);
}

int
popd_mailbox_commit(PopdMailbox *mb, GError **err)
{
	guint failed = 0, changed = 0;
	HmMaildirSubs subs = { NULL, -1, -1 };
	int rc = 0;

	for (guint n = 1; n <= mb->msgs->len; n++) {
		Message *m = msg(mb, n);

		if (!has_update(m))
			continue;
		/* Through descriptors of new/ and cur/, opened at the first
		 * change (a session that changed nothing opens nothing), never
		 * following a link put there since the scan. */
		if (subs.dir == NULL && hm_maildir_subs_open(mb->dir, &subs, err) < 0)
			return -1;
		if (m->deleted) {
			if (hm_maildir_remove(&subs, m->e->name) == 0)
				changed++;
			else if (errno != ENOENT)
				failed++;
		} else {
			g_autoptr(GError) e = NULL;

			/* Not an error for the client: the message stays in new/. */
			if (hm_maildir_mark_seen(&subs, m->e->name, &e) == 0)
				changed++;
			else
				hm_warn("popd %s", e->message);
		}
	}
	if (subs.dir == NULL)
		return 0;
	if (changed > 0)
		rc = hm_maildir_subs_sync(&subs, err);
	hm_maildir_subs_close(&subs);
	if (rc == 0 && failed > 0) {
		g_set_error(err, POPD_MAILBOX_ERROR, POPD_MAILBOX_FAILED,
		            "%u messages could not be removed", failed);
		rc = -1;
	}
	return rc;
}
