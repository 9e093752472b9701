#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/address.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/received.h"
#include "relay/drop.h"
#include "relay/limits.h"
#include "relay/msgwriter.h"
#include "relay/policy.h"

/* Drop file names: 32 hex digits, 128 random bits, so that a user who
 * may create files in the folder but not list it cannot guess another's. */
#define DROP_NAME_LEN 32
/* A temporary file of a sendmail that was killed is removed after this. */
#define DROP_STALE_S (24 * 3600)
/* A drop file's envelope may take this much: its recipients, mostly
 * (some 15,000 of ordinary length). sendmail refuses more, the import
 * keeps such a file aside; the message itself has relay.max_message_size. */
#define DROP_ENVELOPE_MAX (1024 * 1024)
/* The shortest recipient line takes 13 octets, so an envelope within
 * DROP_ENVELOPE_MAX is also within the queue format's recipient count. */
G_STATIC_ASSERT((sizeof("rcpt - - <a>\n") - 1) * RELAY_QUEUE_MAX_RCPTS > DROP_ENVELOPE_MAX);
/* A drop file is read in pieces of this size, each passed on at once. */
#define DROP_CHUNK (64 * 1024)

/* The limits the import applies, checked before anything is written:
 * HM_ERROR_PARSE when e and msg are more than it takes, or msg holds a
 * NUL octet. */
static int
check_limits(const RelayQueueEntry *e, gsize env_len, const char *msg, gsize len, guint64 max,
             GError **err)
{
	if (env_len > DROP_ENVELOPE_MAX) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "the envelope (%u recipients) is larger than the %u octets a local "
		            "submission may have",
		            e->rcpts->len, (guint)DROP_ENVELOPE_MAX);
		return -1;
	}
	if (max != 0 && relay_msg_stored_size(msg, len) > max) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "message larger than %" G_GUINT64_FORMAT
		            " octets (relay.max_message_size, counted with CRLF line ends)",
		            max);
		return -1;
	}
	if (memchr(msg, '\0', len) != NULL) {
		g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE, RELAY_MSG_NUL);
		return -1;
	}
	return 0;
}

char *
relay_drop_local_address(const HmConfig *cfg, const char *login)
{
	HmAddress addr = { .local = (char *)login, .domain = cfg->hostname };

	return hm_address_format(&addr);
}

int
relay_drop_write(const char *queue_dir, RelayQueueEntry *e, const char *msg, gsize len,
                 guint64 max_size, char **name, GError **err)
{
	g_autofree char *base = g_strdup_printf("%08x%08x%08x%08x", g_random_int(), g_random_int(),
	                                        g_random_int(), g_random_int());
	g_autofree char *path = g_build_filename(queue_dir, "drop", base, NULL);
	g_autoptr(GString) env = g_string_new(NULL);
	HmDurable *d;

	e->size = len;
	if (relay_queue_envelope_check(e, err) < 0)
		return -1;
	relay_queue_envelope_format(e, env);
	if (check_limits(e, env->len, msg, len, max_size, err) < 0)
		return -1;
	/* Readable by the relay, which is another user; the folder is not
	 * listable, so only who knows the name can open it. */
	if ((d = hm_durable_new(path, 0644, err)) == NULL)
		return -1;
	if (hm_durable_write(d, env->str, env->len, err) < 0 ||
	    hm_durable_write(d, msg, len, err) < 0) {
		hm_durable_abort(d);
		return -1;
	}
	/* The folder is not readable by the sender, so its fsync is out of
	 * reach; one syncfs through the file makes both the data and the
	 * link durable, where an fsync first would cost a second flush. A
	 * crash before it leaves at most a file shorter than its size field,
	 * which the import drops as the runner drops a session's (and this
	 * command has not said "sent"). */
	if (hm_durable_commit(d, HM_DURABLE_LINK | HM_DURABLE_NO_FSYNC | HM_DURABLE_NO_DIRSYNC,
	                      err) < 0 ||
	    hm_syncfs(path, err) < 0)
		return -1;
	if (name != NULL)
		*name = g_steal_pointer(&base);
	return 0;
}

static gboolean
drop_name(const char *name)
{
	gsize n = strspn(name, "0123456789abcdef");

	return n == DROP_NAME_LEN && name[n] == '\0';
}

/* A local user may not send as another: a sender address that belongs
 * to a local user other than the invoker (one of theirs or their
 * send_as, as at AUTH) becomes the invoker's own. root and the relay's
 * own user are trusted, as sendmail's trusted users. */
static void
check_sender(const HmConfig *cfg, const RelayRewriter *rw, RelayQueueEntry *e, uid_t uid,
             const char *login)
{
	g_autofree char *own = relay_drop_local_address(cfg, login);
	g_autofree char *mine = NULL;

	if (uid == 0 || uid == geteuid())
		return;
	mine = relay_sender_user(rw, own);
	if (relay_policy_sender_claim(cfg, rw, mine, e->sender) != RELAY_SENDER_OTHERS)
		return;
	hm_warn("relay drop: uid %u may not send as <%s>; sender set to <%s>", (guint)uid, e->sender,
	        own);
	g_free(e->sender);
	e->sender = g_steal_pointer(&own);
}

/* Opens a drop file the way it must be: a regular file, one link, not a
 * symlink, not too large. Returns the descriptor, *st filled. The file
 * is read, never mapped: its owner may truncate it while the relay reads,
 * and a mapping would then kill the runner with SIGBUS. */
static int
open_drop(const char *path, guint64 max, struct stat *st, GError **err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		hm_set_error_errno(err, errno, "%s", path);
		return -1;
	}
	if (fstat(fd, st) < 0)
		hm_set_error_errno(err, errno, "%s", path);
	else if (!S_ISREG(st->st_mode) || st->st_nlink != 1)
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: not a regular file with one link", path);
	else if (max != 0 && (guint64)st->st_size > max)
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: larger than %" G_GUINT64_FORMAT " octets",
		            path, max);
	else
		return fd;
	close(fd);
	return -1;
}

/* Reads up to DROP_CHUNK octets onto the end of buf. The count (0 at the
 * end of the file), or -1 with *err. */
static gssize
read_more(int fd, GString *buf, const char *path, GError **err)
{
	gsize old = buf->len;
	ssize_t n;

	g_string_set_size(buf, old + DROP_CHUNK);
	while ((n = read(fd, buf->str + old, DROP_CHUNK)) < 0 && errno == EINTR)
		;
	g_string_set_size(buf, old + (n > 0 ? (gsize)n : 0));
	if (n < 0)
		hm_set_error_errno(err, errno, "%s", path);
	return n;
}

/* Passes the message of a drop file to w, in pieces: size octets, the
 * first n of them already read (at data), the rest from fd. A file that
 * now ends before or after that was changed by its owner behind our back
 * and is refused. Stops early once w has more than it takes. */
static int
copy_message(int fd, RelayMsgWriter *w, const char *data, gsize n, guint64 size, const char *path,
             GError **err)
{
	g_autoptr(GString) buf = g_string_sized_new(DROP_CHUNK);
	guint64 done = 0;
	gssize got = (gssize)n;

	for (;;) {
		if ((guint64)got > size - done) {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: grew while it was read",
			            path);
			return -1;
		}
		relay_msg_writer_bytes(w, data, (gsize)got);
		done += (guint64)got;
		if (relay_msg_writer_too_big(w) || relay_msg_writer_has_nul(w))
			return 0;
		g_string_truncate(buf, 0);
		if ((got = read_more(fd, buf, path, err)) < 0)
			return -1;
		if (got == 0)
			break;
		data = buf->str;
	}
	if (done != size) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
		            "%s: " RELAY_QUEUE_CUT_SHORT " while it was read", path);
		return -1;
	}
	return 0;
}

/* The trace field of a local submission: no host, the user's ID. */
static char *
trace_field(const HmConfig *cfg, const char *id, uid_t uid)
{
	g_autofree char *comment = g_strdup_printf("homemail, from userid %u", (guint)uid);
	GString *out = g_string_new(NULL);
	HmReceived r = { .by = cfg->hostname, .comment = comment, .id = id };

	hm_received_append(out, &r, time(NULL));
	return g_string_free(out, FALSE);
}

/* Imports the drop file open on fd (st its fstat()), as import_one(). */
static int
import_fd(const HmConfig *cfg, const RelayRewriter *rw, const char *queue_dir, HmGroupCommit *gc,
          const char *path, int fd, const struct stat *st, gboolean *bad, GError **err)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GBytes) head = NULL;
	const char *data;
	gsize read_len;
	g_autofree char *trace = NULL, *login = NULL;
	struct passwd *pw;
	RelayMsgWriter *w;
	gsize hl;
	guint64 size;
	RelayMsgParams mp = { .max_size = cfg->relay.max_message_size,
		              .add_missing = TRUE,
		              .hostname = cfg->hostname };

	if ((head = relay_queue_envelope_read(fd, DROP_ENVELOPE_MAX, e, &hl, err)) == NULL) {
		g_prefix_error(err, "%s: ", path);
		return -1;
	}
	if (relay_queue_envelope_check(e, err) < 0)
		return -1;
	data = g_bytes_get_data(head, &read_len);
	/* The queue file counts e->size anew as it is written. */
	size = e->size;
	if ((guint64)st->st_size - hl != size) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: " RELAY_QUEUE_CUT_SHORT, path);
		return -1;
	}
	pw = getpwuid(st->st_uid);
	login = pw != NULL ? g_strdup(pw->pw_name) : g_strdup_printf("uid%u", (guint)st->st_uid);
	check_sender(cfg, rw, e, st->st_uid, login);
	e->origin = RELAY_ORIGIN_SENDMAIL;
	g_free(e->client);
	e->client = g_strdup_printf("uid %u", (guint)st->st_uid);
	g_free(e->auth_user);
	e->auth_user = g_steal_pointer(&login);
	e->id = relay_queue_new_id();
	trace = trace_field(cfg, e->id, st->st_uid);
	*bad = FALSE;
	mp.trace = trace;
	if ((w = relay_msg_writer_new(queue_dir, e, &mp, err)) == NULL)
		return -1;
	if (copy_message(fd, w, data + hl, read_len - hl, size, path, err) < 0) {
		relay_msg_writer_abort(w);
		*bad = TRUE;
		return -1;
	}
	*bad = relay_msg_writer_too_big(w) || relay_msg_writer_has_nul(w);
	if (relay_msg_writer_finish(w, err) < 0)
		return -1;
	if (hm_group_commit_sync(gc, err) < 0) {
		relay_queue_remove(queue_dir, e->id, NULL);
		return -1;
	}
	hm_info("relay queued id=%s from=<%s> uid=%u (sendmail)", e->id, e->sender,
	        (guint)st->st_uid);
	return 0;
}

/* Imports one drop file. -1 with *err and *bad TRUE when the file is at
 * fault, FALSE when the queue is (full disk, I/O error: try later). */
static int
import_one(const HmConfig *cfg, const RelayRewriter *rw, const char *queue_dir, HmGroupCommit *gc,
           const char *path, gboolean *bad, GError **err)
{
	guint64 max = cfg->relay.max_message_size;
	struct stat st;
	int fd, rc;

	*bad = TRUE;
	if ((fd = open_drop(path, max != 0 ? max + DROP_ENVELOPE_MAX : 0, &st, err)) < 0)
		return -1;
	rc = import_fd(cfg, rw, queue_dir, gc, path, fd, &st, bad, err);
	close(fd);
	return rc;
}

guint
relay_drop_import(const HmConfig *cfg, const RelayRewriter *rw, const char *queue_dir,
                  HmGroupCommit *gc)
{
	g_autofree char *dir = g_build_filename(queue_dir, "drop", NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint n = 0;

	if (d == NULL)
		return 0;
	hm_durable_clear_stale(dir, DROP_STALE_S);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autoptr(GError) err = NULL;
		gboolean bad = FALSE;

		if (!drop_name(name))
			continue;
		if (import_one(cfg, rw, queue_dir, gc, path, &bad, &err) == 0) {
			unlink(path);
			n++;
		} else if (!bad) {
			/* The queue cannot take it now: it waits where it is. */
			hm_warn("relay drop: %s", err->message);
			break;
		} else {
			g_autofree char *bad_name = g_strconcat(".bad.", name, NULL);
			g_autofree char *bad_path = g_build_filename(dir, bad_name, NULL);

			hm_warn("relay drop: %s (kept as %s)", err->message, bad_path);
			if (rename(path, bad_path) < 0)
				hm_warn("relay drop: rename %s: %s", path, g_strerror(errno));
		}
	}
	return n;
}
