#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int
relay_drop_write(const char *queue_dir, RelayQueueEntry *e, const char *msg, gsize len,
                 char **name, GError **err)
{
	g_autofree char *base = g_strdup_printf("%08x%08x%08x%08x", g_random_int(), g_random_int(),
	                                        g_random_int(), g_random_int());
	g_autofree char *path = g_build_filename(queue_dir, "drop", base, NULL);
	g_autoptr(GString) env = g_string_new(NULL);
	HmDurable *d;

	e->size = len;
	relay_queue_envelope_format(e, env);
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
	g_autofree char *own = g_strdup_printf("%s@%s", login, cfg->hostname);
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
 * symlink, not too large. Returns the mapping, *st filled. */
static GMappedFile *
open_drop(const char *path, guint64 max, struct stat *st, GError **err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	GMappedFile *m = NULL;

	if (fd < 0) {
		hm_set_error_errno(err, errno, "%s", path);
		return NULL;
	}
	if (fstat(fd, st) < 0)
		hm_set_error_errno(err, errno, "%s", path);
	else if (!S_ISREG(st->st_mode) || st->st_nlink != 1)
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: not a regular file with one link", path);
	else if (max != 0 && (guint64)st->st_size > max)
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: larger than %" G_GUINT64_FORMAT " octets",
		            path, max);
	else if ((m = g_mapped_file_new_from_fd(fd, FALSE, NULL)) == NULL)
		hm_set_error_errno(err, errno, "%s: cannot map", path);
	close(fd);
	return m;
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

/* Imports one drop file. -1 with *err and *bad TRUE when the file is at
 * fault, FALSE when the queue is (full disk, I/O error: try later). */
static int
import_one(const HmConfig *cfg, const RelayRewriter *rw, const char *queue_dir,
           HmGroupCommit *gc, const char *path, gboolean *bad, GError **err)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(GMappedFile) m = NULL;
	g_autofree char *trace = NULL, *login = NULL;
	guint64 max = cfg->relay.max_message_size;
	struct stat st;
	struct passwd *pw;
	RelayMsgWriter *w;
	const char *data;
	gsize len, hl;
	RelayMsgParams mp = { .max_size = max, .add_missing = TRUE, .hostname = cfg->hostname };

	*bad = TRUE;
	if ((m = open_drop(path, max != 0 ? max + 1024 * 1024 : 0, &st, err)) == NULL)
		return -1;
	data = g_mapped_file_get_contents(m);
	len = g_mapped_file_get_length(m);
	if (relay_queue_envelope_parse(data, len, e, &hl, err) < 0)
		return -1;
	if (len - hl != e->size) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: cut short", path);
		return -1;
	}
	pw = getpwuid(st.st_uid);
	login = pw != NULL ? g_strdup(pw->pw_name) : g_strdup_printf("uid%u", (guint)st.st_uid);
	check_sender(cfg, rw, e, st.st_uid, login);
	e->origin = RELAY_ORIGIN_SENDMAIL;
	g_free(e->client);
	e->client = g_strdup_printf("uid %u", (guint)st.st_uid);
	g_free(e->auth_user);
	e->auth_user = g_steal_pointer(&login);
	e->id = relay_queue_new_id();
	trace = trace_field(cfg, e->id, st.st_uid);
	*bad = FALSE;
	mp.trace = trace;
	if ((w = relay_msg_writer_new(queue_dir, e, &mp, err)) == NULL)
		return -1;
	relay_msg_writer_bytes(w, data + hl, len - hl);
	*bad = relay_msg_writer_too_big(w);
	if (relay_msg_writer_finish(w, err) < 0)
		return -1;
	if (hm_group_commit_sync(gc, err) < 0) {
		relay_queue_remove(queue_dir, e->id, NULL);
		return -1;
	}
	hm_info("relay queued id=%s from=<%s> uid=%u (sendmail)", e->id, e->sender, (guint)st.st_uid);
	return 0;
}

/* A temporary file left by a sendmail that was killed mid-write. */
static void
clear_stale(const char *dir, const char *name)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);
	struct stat st;

	if (g_str_has_prefix(name, ".") && !g_str_has_prefix(name, ".bad.") &&
	    lstat(path, &st) == 0 && time(NULL) - st.st_mtime > DROP_STALE_S)
		unlink(path);
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
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autoptr(GError) err = NULL;
		gboolean bad = FALSE;

		if (!drop_name(name)) {
			clear_stale(dir, name);
			continue;
		}
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
