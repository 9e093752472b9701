#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "dotstuff.h"
#include "error.h"
#include "log.h"
#include "maildir.h"
#include "parse.h"

/* How many names to try when link() or open(O_EXCL) meets an existing
 * file: a clash means a clock step back or a stale file, and a fresh
 * counter value resolves it at once; a loop without end would hide a bug. */
#define MAILDIR_NAME_TRIES 16

/* The specification's age after which a tmp/ file is abandoned: no
 * delivery takes that long, and a clock step cannot make a live one look
 * that old. */
#define MAILDIR_TMP_ABANDONED_S (36 * 3600)

static const char *
kind_of(mode_t mode)
{
	if (S_ISREG(mode))
		return "a file";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "a device";
}

/* Opens a Maildir subdirectory without following a symbolic link: a
 * link there could point a reader or a delivery (popd, the relay, the
 * fetcher or homemail-deliver running as root, while the Maildir belongs
 * to the service user or a mail user) at any directory of the system.
 * The Maildir itself may be a link (~/Maildir on another disk) when root
 * or we made it (check_link()). Returns the descriptor, or -1 with *err
 * set and errno kept. */
static int
open_sub(const char *path, GError **err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	struct stat sb;

	if (fd < 0 && (e == ENOTDIR || e == ELOOP) && lstat(path, &sb) == 0)
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s is %s, not a directory", path,
		            kind_of(sb.st_mode));
	else if (fd < 0)
		hm_set_error_errno(err, e, "open directory %s", path);
	errno = e;
	return fd;
}

/* Refuses a Maildir that is a symbolic link made by anyone but root or
 * the user we run as: in a mail_dir others may write to (the 1777 one an
 * MTA running the MDA as each recipient needs), one user's link named
 * after another user (mail/frank -> mail/bob) would serve bob's mail to
 * frank's login, and one to any directory would have us create a Maildir
 * and a lock file there. This is the kernel's fs.protected_symlinks rule
 * for sticky directories, which we apply whatever the directory and the
 * sysctl. Returns 0 (no link, a trusted one, or nothing there), or -1
 * with *err naming the link. */
static int
check_link(const char *dir, GError **err)
{
	struct stat sb;

	if (lstat(dir, &sb) < 0 || !S_ISLNK(sb.st_mode) || sb.st_uid == 0 ||
	    sb.st_uid == geteuid())
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
	            "%s is a symbolic link owned by uid %u, neither root nor uid %u that we run "
	            "as: not followed",
	            dir, (guint)sb.st_uid, (guint)geteuid());
	return -1;
}

struct HmMaildirDelivery {
	char *dir;
	char *base;          /* unique name of the tmp/ file */
	char *tmp_path;
	int tmp_fd;          /* tmp/ */
	int fd;              /* -1 once closed */
	guint64 size;
	HmCrlfCounter crlf;
};

static int
mkdir_0700(const char *path, gboolean *created, GError **err)
{
	if (mkdir(path, 0700) == 0) {
		*created = TRUE;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	hm_set_error_errno(err, errno, "create %s", path);
	return -1;
}

int
hm_maildir_create(const char *dir, GError **err)
{
	/* tmp/ last: deliveries create the Maildir only when tmp/ is missing,
	 * so a creation cut short (kill -9) must never leave tmp/ alone. */
	static const char *const subs[] = { "cur", "new", "tmp" };
	gboolean created = FALSE;

	if (check_link(dir, err) < 0)
		return -1;
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		if (g_mkdir_with_parents(dir, 0700) < 0) {
			hm_set_error_errno(err, errno, "create %s", dir);
			return -1;
		}
		created = TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(subs); i++) {
		g_autofree char *sub = g_build_filename(dir, subs[i], NULL);

		if (mkdir_0700(sub, &created, err) < 0)
			return -1;
	}
	if (created) {
		/* The new directories must survive a crash like the mail
		 * written into them: their names live in dir and its parent. */
		g_autofree char *parent = g_path_get_dirname(dir);

		if (hm_fsync_dir(dir, err) < 0 || hm_fsync_dir(parent, err) < 0)
			return -1;
	}
	return 0;
}

int
hm_maildir_chown(const char *mail_dir, const char *user, uid_t uid, gid_t gid, GError **err)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	g_autofree char *dir = g_build_filename(mail_dir, user, NULL);
	int top = open(mail_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), fd = -1;
	int rc = -1;

	if (top < 0) {
		hm_set_error_errno(err, errno, "%s", mail_dir);
		return -1;
	}
	if (hm_chown_at(top, user, dir, uid, gid, &fd, err) == 0) {
		rc = 0;
		for (gsize i = 0; i < G_N_ELEMENTS(subs) && rc == 0; i++) {
			g_autofree char *sub = g_build_filename(dir, subs[i], NULL);

			rc = hm_chown_at(fd, subs[i], sub, uid, gid, NULL, err);
		}
		close(fd);
	}
	close(top);
	return rc;
}

/* The host part of a unique name, with '/' and ':' escaped as the Maildir
 * specification asks (they would break paths and the ":2," info). */
static void
append_host(GString *s)
{
	char host[HOST_NAME_MAX + 1];

	if (gethostname(host, sizeof(host)) < 0)
		g_strlcpy(host, "localhost", sizeof(host));
	host[HOST_NAME_MAX] = '\0';
	for (const char *p = host; *p != '\0'; p++) {
		if (*p == '/')
			g_string_append(s, "\\057");
		else if (*p == ':')
			g_string_append(s, "\\072");
		else
			g_string_append_c(s, *p);
	}
}

char *
hm_maildir_unique_name(void)
{
	/* The per-process delivery counter the specification asks for (the
	 * "Q" part): names made in the same microsecond by one process must
	 * still differ. It is process-wide by definition, so it is the one
	 * static here; atomic so that threads share it safely. */
	static gint counter;
	gint64 now = g_get_real_time();
	GString *s = g_string_sized_new(64);

	g_string_printf(s, "%" G_GINT64_FORMAT ".M%06dP%ldQ%u.", now / G_USEC_PER_SEC,
	                (int)(now % G_USEC_PER_SEC), (long)getpid(),
	                (guint)g_atomic_int_add(&counter, 1) + 1);
	append_host(s);
	return g_string_free(s, FALSE);
}

static void
delivery_free(HmMaildirDelivery *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->tmp_fd >= 0)
		close(d->tmp_fd);
	g_free(d->dir);
	g_free(d->base);
	g_free(d->tmp_path);
	g_free(d);
}

/* Opens the Maildir dir's sub (tmp/ or new/) as open_sub() does, first
 * creating the Maildir when sub is missing. */
static int
open_sub_made(const char *dir, const char *sub, GError **err)
{
	g_autofree char *path = g_build_filename(dir, sub, NULL);
	g_autoptr(GError) local = NULL;
	int fd = open_sub(path, &local);

	if (fd < 0 && errno == ENOENT) {
		g_clear_error(&local);
		if (hm_maildir_create(dir, err) < 0)
			return -1;
		fd = open_sub(path, &local);
	}
	if (fd < 0)
		g_propagate_error(err, g_steal_pointer(&local));
	return fd;
}

/* Opens tmp/ and a fresh file in it for d. */
static int
open_tmp(HmMaildirDelivery *d, GError **err)
{
	if (check_link(d->dir, err) < 0 || (d->tmp_fd = open_sub_made(d->dir, "tmp", err)) < 0)
		return -1;
	for (int i = 0; i < MAILDIR_NAME_TRIES; i++) {
		g_free(d->base);
		g_free(d->tmp_path);
		d->base = hm_maildir_unique_name();
		d->tmp_path = g_strconcat(d->dir, "/tmp/", d->base, NULL);
		d->fd = openat(d->tmp_fd, d->base,
		               O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (d->fd >= 0)
			return 0;
		if (errno != EEXIST) {
			hm_set_error_errno(err, errno, "create %s", d->tmp_path);
			return -1;
		}
	}
	hm_set_error_errno(err, EEXIST, "create a unique file in %s/tmp", d->dir);
	return -1;
}

HmMaildirDelivery *
hm_maildir_delivery_begin(const char *dir, GError **err)
{
	HmMaildirDelivery *d = g_new0(HmMaildirDelivery, 1);

	d->dir = g_strdup(dir);
	d->fd = -1;
	d->tmp_fd = -1;
	hm_crlf_counter_init(&d->crlf);
	if (open_tmp(d, err) < 0) {
		delivery_free(d);
		return NULL;
	}
	return d;
}

int
hm_maildir_delivery_write(HmMaildirDelivery *d, const void *data, gsize len, GError **err)
{
	hm_crlf_counter_feed(&d->crlf, data, len);
	d->size += len;
	if (hm_write_all(d->fd, data, len) < 0) {
		hm_set_error_errno(err, errno, "write %s", d->tmp_path);
		return -1;
	}
	return 0;
}

/* fdatasync + close, each checked: NFS and some FUSE file systems report
 * write errors only there. */
static int
sync_close(HmMaildirDelivery *d, GError **err)
{
	int fd = d->fd;

	d->fd = -1;
	if (fdatasync(fd) < 0) {
		hm_set_error_errno(err, errno, "fdatasync %s", d->tmp_path);
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		hm_set_error_errno(err, errno, "close %s", d->tmp_path);
		return -1;
	}
	return 0;
}

/* Links the tmp/ file into new/ (new_fd) under a name carrying the sizes;
 * on EEXIST a new base name is tried. Returns the "new/..." name or NULL. */
static char *
link_new(HmMaildirDelivery *d, int new_fd, GError **err)
{
	guint64 vsize = hm_crlf_counter_total(&d->crlf);

	for (int i = 0; i < MAILDIR_NAME_TRIES; i++) {
		g_autofree char *base = i == 0 ? g_strdup(d->base) : hm_maildir_unique_name();
		g_autofree char *name = g_strdup_printf("new/%s,S=%" G_GUINT64_FORMAT
		                                        ",W=%" G_GUINT64_FORMAT,
		                                        base, d->size, vsize);

		if (linkat(d->tmp_fd, d->base, new_fd, name + strlen("new/"), 0) == 0)
			return g_steal_pointer(&name);
		if (errno != EEXIST) {
			hm_set_error_errno(err, errno, "link %s to %s/%s", d->tmp_path, d->dir, name);
			return NULL;
		}
	}
	hm_set_error_errno(err, EEXIST, "link %s into %s/new", d->tmp_path, d->dir);
	return NULL;
}

int
hm_maildir_delivery_commit(HmMaildirDelivery *d, char **name_out, GError **err)
{
	g_autofree char *name = NULL;
	int new_fd = -1;

	if (sync_close(d, err) < 0 || (new_fd = open_sub_made(d->dir, "new", err)) < 0 ||
	    (name = link_new(d, new_fd, err)) == NULL) {
		if (new_fd >= 0)
			close(new_fd);
		hm_maildir_delivery_abort(d);
		return -1;
	}
	/* The tmp/ name is only scaffolding now; failing to remove it does not
	 * undo a delivery (readers clean tmp/ after 36 hours). */
	unlinkat(d->tmp_fd, d->base, 0);
	if (fsync(new_fd) < 0) {
		/* Not durable, so not delivered: take it back so that the
		 * caller's retry cannot make a duplicate. */
		hm_set_error_errno(err, errno, "fsync %s/new", d->dir);
		unlinkat(new_fd, name + strlen("new/"), 0);
		close(new_fd);
		delivery_free(d);
		return -1;
	}
	close(new_fd);
	delivery_free(d);
	if (name_out != NULL)
		*name_out = g_steal_pointer(&name);
	return 0;
}

void
hm_maildir_delivery_abort(HmMaildirDelivery *d)
{
	if (d == NULL)
		return;
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	unlinkat(d->tmp_fd, d->base, 0);
	delivery_free(d);
}

int
hm_maildir_delivery_stage(HmMaildirDelivery *d, char **tmp_path, char **new_path, GError **err)
{
	int fd = d->fd;

	d->fd = -1;
	if (close(fd) < 0) {
		hm_set_error_errno(err, errno, "close %s", d->tmp_path);
		hm_maildir_delivery_abort(d);
		return -1;
	}
	*new_path = g_strdup_printf("%s/new/%s,S=%" G_GUINT64_FORMAT ",W=%" G_GUINT64_FORMAT,
	                            d->dir, d->base, d->size, hm_crlf_counter_total(&d->crlf));
	*tmp_path = g_steal_pointer(&d->tmp_path);
	delivery_free(d);
	return 0;
}

/* The directory of path ("DIR/tmp/X" or "DIR/new/X") opened as open_sub()
 * does, with *name pointing at path's last component. */
static int
open_parent(const char *path, const char **name, GError **err)
{
	const char *slash = strrchr(path, '/');
	g_autofree char *dir = NULL;

	g_return_val_if_fail(slash != NULL, -1);
	dir = g_strndup(path, (gsize)(slash - path));
	*name = slash + 1;
	return open_sub(dir, err);
}

static gboolean
exists_at(int dir_fd, const char *name)
{
	return faccessat(dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Creates what is missing of the Maildir that holds path ("DIR/new/X"). */
static int
repair(const char *path, GError **err)
{
	g_autofree char *sub = g_path_get_dirname(path);
	g_autofree char *dir = g_path_get_dirname(sub);

	return hm_maildir_create(dir, err);
}

/* Links tmp_name in tmp_fd to new_name in new_fd and removes the tmp/
 * name. Base names are unique, so an existing new name is this very
 * message, published before a crash. */
static int
publish_at(int tmp_fd, const char *tmp_name, int new_fd, const char *new_name)
{
	if (linkat(tmp_fd, tmp_name, new_fd, new_name, 0) == 0 || errno == EEXIST) {
		unlinkat(tmp_fd, tmp_name, 0);
		return 0;
	}
	if (errno == ENOENT && exists_at(new_fd, new_name))
		return 0;
	return -1;
}

int
hm_maildir_publish(const char *tmp_path, const char *new_path, GError **err)
{
	const char *tmp_name, *new_name;
	int tmp_fd = open_parent(tmp_path, &tmp_name, err), new_fd = -1, rc = -1;

	if (tmp_fd < 0)
		return -1;
	new_fd = open_parent(new_path, &new_name, err);
	/* A Maildir whose new/ is missing (its creation was cut short) is
	 * completed rather than left failing for ever. */
	if (new_fd < 0 && errno == ENOENT && exists_at(tmp_fd, tmp_name) &&
	    repair(new_path, NULL) == 0) {
		g_clear_error(err);
		new_fd = open_parent(new_path, &new_name, err);
	}
	if (new_fd >= 0) {
		rc = publish_at(tmp_fd, tmp_name, new_fd, new_name);
		if (rc < 0)
			hm_set_error_errno(err, errno, "link %s to %s", tmp_path, new_path);
		close(new_fd);
	}
	close(tmp_fd);
	return rc;
}

int
hm_maildir_deliver(const char *dir, const void *data, gsize len, char **name_out, GError **err)
{
	HmMaildirDelivery *d = hm_maildir_delivery_begin(dir, err);

	if (d == NULL)
		return -1;
	if (hm_maildir_delivery_write(d, data, len, err) < 0) {
		hm_maildir_delivery_abort(d);
		return -1;
	}
	return hm_maildir_delivery_commit(d, name_out, err);
}

guint
hm_maildir_sweep_tmp(const char *dir)
{
	g_autofree char *tmp = g_build_filename(dir, "tmp", NULL);
	int fd = open_sub(tmp, NULL);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	time_t old = time(NULL) - MAILDIR_TMP_ABANDONED_S;
	struct dirent *de;
	guint removed = 0;

	if (dp == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(dp)) != NULL) {
		struct stat sb;

		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_mtime < old && sb.st_atime < old && unlinkat(fd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(dp);
	return removed;
}

/* --- reading ------------------------------------------------------------ */

static void
entry_clear(gpointer p)
{
	HmMaildirEntry *e = p;

	g_free(e->name);
	g_free(e->uid);
}

/* Fills e from a directory entry's base name alone: the uid, the leading
 * seconds, and the ",S=" and ",W=" fields before the ":2," info. */
static void
entry_parse(HmMaildirEntry *e, const char *base)
{
	gsize uid_len = strcspn(base, ",:");
	gsize fields_end = strcspn(base, ":");
	gsize secs_len = strcspn(base, ".,:");
	guint64 v;

	e->uid = g_strndup(base, uid_len);
	e->size = G_MAXUINT64;
	e->vsize = G_MAXUINT64;
	e->secs = hm_parse_uint_n(base, secs_len, 0, G_MAXINT64, &v) == 0 ? (gint64)v : 0;
	for (gsize i = uid_len; i < fields_end;) {
		gsize len = strcspn(base + i + 1, ",:");
		const char *f = base + i + 1;

		if (len > 2 && f[1] == '=' && (f[0] == 'S' || f[0] == 'W') &&
		    hm_parse_uint_n(f + 2, len - 2, 0, G_MAXUINT64 - 1, &v) == 0)
			*(f[0] == 'S' ? &e->size : &e->vsize) = v;
		i += len + 1;
	}
}

/* Logs an entry of new/ or cur/ that readers leave alone, and says why in
 * *err (may be NULL). The name is escaped: a Maildir name may hold any
 * byte but '/' and NUL, CR LF included. */
static void
skipped(const char *path, const char *name, mode_t mode, GError **err)
{
	g_autofree char *shown = g_strescape(name, NULL);

	hm_warn("maildir %s: skipped %s: %s, not a regular file", path, shown, kind_of(mode));
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s/%s is %s, not a regular file", path, shown,
	            kind_of(mode));
}

/* TRUE when de is a regular file. d_type says so without a stat on the
 * file systems that fill it in (a 10,000-message STAT must not stat each
 * file); only where it is DT_UNKNOWN is the entry lstat'ed. */
static gboolean
is_regular(DIR *dp, const struct dirent *de, const char *path)
{
	mode_t mode = DTTOIF(de->d_type);
	struct stat sb;

	if (de->d_type == DT_UNKNOWN) {
		if (fstatat(dirfd(dp), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return FALSE; /* removed since readdir() */
		mode = sb.st_mode;
	}
	if (S_ISREG(mode))
		return TRUE;
	skipped(path, de->d_name, mode, NULL);
	return FALSE;
}

/* Appends the messages of dir/sub to out; a missing sub is empty. */
static int
scan_sub(const char *dir, const char *sub, GArray *out, GError **err)
{
	g_autofree char *path = g_build_filename(dir, sub, NULL);
	g_autoptr(GError) local = NULL;
	int fd = open_sub(path, &local);
	DIR *dp;
	struct dirent *de;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		g_propagate_error(err, g_steal_pointer(&local));
		return -1;
	}
	if ((dp = fdopendir(fd)) == NULL) {
		hm_set_error_errno(err, errno, "open directory %s", path);
		close(fd);
		return -1;
	}
	for (errno = 0; (de = readdir(dp)) != NULL; errno = 0) {
		HmMaildirEntry e = { 0 };

		/* Dot files are ".", ".." and the hidden files of tools. */
		if (de->d_name[0] == '.' || !is_regular(dp, de, path))
			continue;
		entry_parse(&e, de->d_name);
		e.name = g_strconcat(sub, "/", de->d_name, NULL);
		e.in_new = sub[0] == 'n';
		g_array_append_val(out, e);
	}
	if (errno != 0) {
		hm_set_error_errno(err, errno, "read directory %s", path);
		closedir(dp);
		return -1;
	}
	closedir(dp);
	return 0;
}

/* By delivery time, then by base name (without "new/" or "cur/", so a
 * message keeps its place when a reader moves it to cur/). */
static gint
entry_cmp(gconstpointer a, gconstpointer b)
{
	const HmMaildirEntry *x = a, *y = b;

	if (x->secs != y->secs)
		return x->secs < y->secs ? -1 : 1;
	return strcmp(x->name + 4, y->name + 4);
}

GArray *
hm_maildir_scan(const char *dir, GError **err)
{
	g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(HmMaildirEntry));

	g_array_set_clear_func(out, entry_clear);
	if (scan_sub(dir, "new", out, err) < 0 || scan_sub(dir, "cur", out, err) < 0)
		return NULL;
	g_array_sort(out, entry_cmp);
	return g_steal_pointer(&out);
}

int
hm_maildir_subs_open(const char *dir, HmMaildirSubs *s, GError **err)
{
	g_autofree char *new_dir = g_build_filename(dir, "new", NULL);
	g_autofree char *cur_dir = g_build_filename(dir, "cur", NULL);

	s->cur_fd = -1;
	if ((s->new_fd = open_sub(new_dir, err)) < 0)
		return -1;
	if ((s->cur_fd = open_sub(cur_dir, err)) < 0) {
		close(s->new_fd);
		return -1;
	}
	s->dir = g_strdup(dir);
	return 0;
}

void
hm_maildir_subs_close(HmMaildirSubs *s)
{
	close(s->new_fd);
	close(s->cur_fd);
	g_clear_pointer(&s->dir, g_free);
}

/* The descriptor of name's sub ("new/..." or "cur/..."), and in *base
 * what follows the slash. */
static int
sub_fd(const HmMaildirSubs *s, const char *name, const char **base)
{
	*base = name + strlen("new/");
	return g_str_has_prefix(name, "new/") ? s->new_fd : s->cur_fd;
}

int
hm_maildir_mark_seen(const HmMaildirSubs *s, const char *name, GError **err)
{
	const char *base = name + strlen("new/");
	g_autofree char *to = g_strconcat(base, ":2,S", NULL), *shown = NULL;
	int new_fd = s->new_fd, e;

	g_return_val_if_fail(g_str_has_prefix(name, "new/"), -1);
	/* Never over an existing cur/ name: that is another message (a name
	 * delivered twice, a copy restored from a backup), which a plain
	 * rename() would destroy. */
	if (renameat2(new_fd, base, s->cur_fd, to, RENAME_NOREPLACE) == 0)
		return 0;
	/* File systems without RENAME_NOREPLACE (NFS, some FUSE): link()
	 * refuses an existing name the same way. */
	if ((errno == EINVAL || errno == ENOSYS) && linkat(new_fd, base, s->cur_fd, to, 0) == 0) {
		unlinkat(new_fd, base, 0);
		return 0;
	}
	e = errno;
	shown = g_strescape(name, NULL);
	hm_set_error_errno(err, e, "move %s/%s to cur/", s->dir, shown);
	return -1;
}

int
hm_maildir_remove(const HmMaildirSubs *s, const char *name)
{
	const char *base;
	int fd = sub_fd(s, name, &base);

	return unlinkat(fd, base, 0);
}

int
hm_maildir_subs_sync(const HmMaildirSubs *s, GError **err)
{
	if (fsync(s->cur_fd) < 0 || fsync(s->new_fd) < 0) {
		hm_set_error_errno(err, errno, "fsync %s/cur and new", s->dir);
		return -1;
	}
	return 0;
}

char *
hm_maildir_stem(const HmMaildirEntry *e)
{
	const char *base = e->name + strlen("new/");
	const char *info = e->in_new ? NULL : strrchr(base, ':');

	return info != NULL ? g_strndup(base, (gsize)(info - base)) : g_strdup(base);
}

int
hm_maildir_open_message(const char *dir, const char *name, GError **err)
{
	const char *slash = strchr(name, '/');
	g_autofree char *sub = NULL, *path = NULL;
	struct stat sb;
	int dfd, fd, e;

	g_return_val_if_fail(slash != NULL, -1);
	sub = g_strndup(name, (gsize)(slash - name));
	path = g_build_filename(dir, sub, NULL);
	if ((dfd = open_sub(path, err)) < 0)
		return -1;
	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer for
	 * ever (and hold the caller's maildrop lock all that time). */
	fd = openat(dfd, slash + 1, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	e = errno;
	close(dfd);
	if (fd < 0 && e == ELOOP) {
		skipped(path, slash + 1, S_IFLNK, err); /* what O_NOFOLLOW refuses */
		return -1;
	}
	if (fd < 0 || fstat(fd, &sb) < 0) {
		g_autofree char *shown = g_strescape(name, NULL);

		if (fd >= 0) {
			e = errno;
			close(fd);
		}
		if (e == ENOENT) {
			hm_set_error_errno(err, e, "open %s/%s", dir, shown);
			return -1;
		}
		/* There but unreadable (EACCES: a file root or another user
		 * made): never to be taken for one that is gone, since it
		 * stays until someone fixes it. */
		hm_warn("maildir %s: cannot read %s: %s", dir, shown, g_strerror(e));
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "open %s/%s: %s", dir, shown,
		            g_strerror(e));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		skipped(path, slash + 1, sb.st_mode, err);
		close(fd);
		return -1;
	}
	return fd;
}
