/* Maildir (https://cr.yp.to/proto/maildir.html, with Maildir++ ",S=" and
 * Dovecot's ",W=" size fields): unique names, durable delivery, reading.
 * Delivery writes to tmp/, fsyncs, links into new/ and fsyncs new/, so a
 * message is either wholly in new/ or not there at all. */
#ifndef HM_MAILDIR_H
#define HM_MAILDIR_H

#include <glib.h>

/* Creates dir and its cur/ new/ tmp/ (mode 0700) where missing, parents
 * included (0700 too). Returns 0 or -1 with *err set. A dir that is a
 * symbolic link is followed only when the link belongs to root or to the
 * user we run as (fs.protected_symlinks' rule): one that another user
 * made (in a mail_dir others may write to) is an error naming it, and
 * nothing is created. The readers open the Maildir through this first;
 * deliveries apply the same rule (hm_maildir_delivery_begin()). */
int hm_maildir_create(const char *dir, GError **err);

/* Gives the Maildir of user in mail_dir (mail_dir/user and its cur/, new/
 * and tmp/) to uid:gid. Each level is opened from the one above it with
 * O_NOFOLLOW, starting at mail_dir, and changed through its descriptor:
 * mail_dir and the Maildirs belong to the service user, and a symlink one
 * of its processes puts at any level, even between two of these steps,
 * is refused, never followed (hm_chown_at()). What is above mail_dir is
 * taken as it is. Returns 0, or -1 with *err. */
int hm_maildir_chown(const char *mail_dir, const char *user, uid_t uid, gid_t gid,
                     GError **err);

/* A new unique base name "SECS.MUSECPPIDQCOUNT.HOST" (the host with '/' and
 * ':' escaped as \057 and \072, as the spec asks); g_free() it. */
char *hm_maildir_unique_name(void);

typedef struct HmMaildirDelivery HmMaildirDelivery;

/* Starts a delivery into dir (created if missing): opens a fresh file in
 * tmp/. Returns NULL with *err set (HM_ERROR_NOSPACE for a full disk; a
 * dir that is a symbolic link of another user is refused as by
 * hm_maildir_create()). */
HmMaildirDelivery *hm_maildir_delivery_begin(const char *dir, GError **err);

/* Appends message bytes (as stored: LF line ends). Returns 0 or -1. */
int hm_maildir_delivery_write(HmMaildirDelivery *d, const void *data, gsize len,
                              GError **err);

/* Makes the message durable and visible: fdatasync + close, link to
 * new/BASE,S=<size>,W=<crlf size>, unlink the tmp/ name, fsync new/.
 * *name_out (may be NULL) receives "new/BASE,S=..,W=..". Frees d whether
 * or not it succeeds; on failure nothing is left in new/ or tmp/. */
int hm_maildir_delivery_commit(HmMaildirDelivery *d, char **name_out, GError **err);

/* Abandons the delivery: unlinks the tmp/ file and frees d. */
void hm_maildir_delivery_abort(HmMaildirDelivery *d);

/* Group commit, step 1: closes the written file WITHOUT syncing it and
 * frees d (whether or not it succeeds). *tmp_path receives the file's
 * path, *new_path the path hm_maildir_publish() will give it
 * ("DIR/new/BASE,S=..,W=.."). The caller makes a whole batch durable at
 * once (syncfs(2)) before publishing; until then the message is not
 * delivered. Returns 0, or -1 with *err (the tmp file is removed). */
int hm_maildir_delivery_stage(HmMaildirDelivery *d, char **tmp_path, char **new_path,
                              GError **err);

/* Group commit, step 2: links a staged file that is already durable to
 * new_path and removes its tmp/ name. Idempotent, for recovery after a
 * crash: when new_path exists already, only tmp_path is removed. Does not
 * fsync new/ (the caller does that once per batch). Returns 0, or -1 with
 * *err (its message names ENOENT when neither file exists: the message
 * never became durable). */
int hm_maildir_publish(const char *tmp_path, const char *new_path, GError **err);

/* begin + write + commit in one call. */
int hm_maildir_deliver(const char *dir, const void *data, gsize len, char **name_out,
                       GError **err);

/* Removes the files of dir's tmp/ that were neither modified nor read for
 * 36 hours: deliveries abandoned by a crash, which the specification lets
 * any Maildir user clean up (a younger file may still be being written).
 * Only regular files go; best effort. Returns how many were removed. */
guint hm_maildir_sweep_tmp(const char *dir);

typedef struct {
	char *name;       /* relative to the Maildir: "new/BASE" or "cur/BASE:2,FLAGS" */
	char *uid;        /* the unique part: BASE up to its first ',' or ':' */
	guint64 size;     /* ",S=" from the name, else G_MAXUINT64 (unknown) */
	guint64 vsize;    /* ",W=" (size with CRLF line ends), else G_MAXUINT64 */
	gint64 secs;      /* the leading delivery time of BASE, 0 if none */
	gboolean in_new;
} HmMaildirEntry;

/* Lists the messages in new/ and cur/ (not tmp/, no dot files), ordered by
 * delivery time then name, from names alone (no open, and no stat where
 * readdir() tells the file type): what a 10,000-message STAT needs. Only
 * regular files are messages: symbolic links, FIFOs, directories and the
 * like are left out and logged. A new/ or cur/ that is a symbolic link is
 * an error, not followed. Returns an array of HmMaildirEntry (free it with
 * g_array_unref: entries are cleared), or NULL with *err set. A missing
 * Maildir is an empty list. */
GArray *hm_maildir_scan(const char *dir, GError **err);

/* The name of e without "new/" or "cur/" and, in cur/, without the info
 * from its last ':' on (":2,FLAGS"): what stays the same when
 * hm_maildir_mark_seen() moves a message and when a reader changes its
 * flags. g_free() it. */
char *hm_maildir_stem(const HmMaildirEntry *e);

/* Opens the message name ("new/BASE" or "cur/BASE", as listed) of the
 * Maildir dir for reading, following no symbolic link (neither the entry
 * nor new/ or cur/) and never blocking: the entry may have been replaced
 * since it was listed. Returns the descriptor of a regular file, or -1
 * with *err set: HM_ERROR_IO when it is gone (ENOENT), else
 * HM_ERROR_FAILED and a warning logged: the entry is there but is not a
 * regular file, or cannot be opened (EACCES: a file of another owner). */
int hm_maildir_open_message(const char *dir, const char *name, GError **err);

/* new/ and cur/ of a Maildir, opened once, as the readers open them (a
 * symbolic link is refused), by a reader that moves or removes many
 * messages at the end of a session. */
typedef struct {
	char *dir;
	int new_fd;
	int cur_fd;
} HmMaildirSubs;

/* Opens dir's new/ and cur/ into s. Returns 0, or -1 with *err set (and
 * s needs no closing). */
int hm_maildir_subs_open(const char *dir, HmMaildirSubs *s, GError **err);

void hm_maildir_subs_close(HmMaildirSubs *s);

/* Marks a message seen, as a Maildir reader does once a client has it:
 * renames name ("new/BASE") to "cur/BASE:2,S", never over an existing
 * file of that name (the message then stays in new/). Returns 0, or -1
 * with *err set. */
int hm_maildir_mark_seen(const HmMaildirSubs *s, const char *name, GError **err);

/* Removes the message name ("new/BASE" or "cur/BASE"). Returns 0, or -1
 * with errno set. */
int hm_maildir_remove(const HmMaildirSubs *s, const char *name);

/* fsyncs new/ and cur/, which makes the moves and removals durable.
 * Returns 0, or -1 with *err set. */
int hm_maildir_subs_sync(const HmMaildirSubs *s, GError **err);

#endif
