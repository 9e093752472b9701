#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/log.h"
#include "relay/queue.h"
#include "relay/spool.h"

/* Makes path a directory (or FIFO) of exactly mode, unless it is one
 * already; anything else in its place is an error. */
static int
ensure(const char *path, mode_t type, mode_t mode, GError **err)
{
	struct stat st;
	int rc;

	if (lstat(path, &st) == 0) {
		if ((st.st_mode & S_IFMT) != type) {
			g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: exists and is not a %s", path,
			            type == S_IFDIR ? "directory" : "FIFO");
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		hm_set_error_errno(err, errno, "%s", path);
		return -1;
	}
	rc = type == S_IFDIR ? mkdir(path, mode) : mkfifo(path, mode);
	/* The umask may have cut bits off; set them as meant. */
	if ((rc < 0 && errno != EEXIST) || chmod(path, mode) < 0) {
		hm_set_error_errno(err, errno, "create %s", path);
		return -1;
	}
	return 0;
}

int
relay_spool_prepare(const char *state_dir, GError **err)
{
	g_autofree char *queue = g_build_filename(state_dir, "queue", NULL);
	g_autofree char *drop = g_build_filename(queue, "drop", NULL);
	g_autofree char *pickup = g_build_filename(queue, "pickup", NULL);
	g_autofree char *done = g_build_filename(queue, RELAY_QUEUE_DONE, NULL);

	if (g_mkdir_with_parents(state_dir, 0755) < 0) {
		hm_set_error_errno(err, errno, "create %s", state_dir);
		return -1;
	}
	if (ensure(queue, S_IFDIR, 0711, err) < 0 || ensure(drop, S_IFDIR, 01733, err) < 0 ||
	    ensure(pickup, S_IFIFO, 0622, err) < 0 || ensure(done, S_IFDIR, 0700, err) < 0)
		return -1;
	return 0;
}

guint
relay_spool_clear_stale(const char *queue_dir, gint64 min_age_s)
{
	guint n = hm_durable_clear_stale(queue_dir, min_age_s);

	if (n > 0)
		hm_info("relay queue: %u temporary file%s left by a crash removed", n,
		        n == 1 ? "" : "s");
	return n;
}

int
relay_spool_lock(const char *queue_dir, GError **err)
{
	int fd = open(queue_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", queue_dir);
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;

		if (saved == EINTR)
			continue;
		close(fd);
		if (saved == EWOULDBLOCK)
			g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT,
			            "%s: held by another queue runner", queue_dir);
		else
			hm_set_error_errno(err, saved, "lock %s", queue_dir);
		return -1;
	}
	return fd;
}

int
relay_spool_open_pickup(const char *queue_dir, GError **err)
{
	g_autofree char *path = g_build_filename(queue_dir, "pickup", NULL);
	int fd = open(path, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: not a FIFO", path);
		close(fd);
		return -1;
	}
	return fd;
}

RelayPoke
relay_spool_poke(const char *queue_dir, char c, GError **err)
{
	g_autofree char *path = g_build_filename(queue_dir, "pickup", NULL);
	/* O_NONBLOCK: ENXIO at once when no one reads, never a hang. */
	int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	RelayPoke rc = RELAY_POKE_SENT;

	if (fd < 0 && (errno == ENXIO || errno == ENOENT))
		return RELAY_POKE_DOWN;
	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", path);
		return RELAY_POKE_FAILED;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s: not a FIFO", path);
		rc = RELAY_POKE_FAILED;
	} else if (write(fd, &c, 1) != 1) {
		rc = RELAY_POKE_DOWN;
	}
	close(fd);
	return rc;
}

int
relay_spool_publish(const HmConfig *cfg, GError **err)
{
	g_autofree char *path =
		g_build_filename(cfg->state_dir, "queue", RELAY_SPOOL_SENDMAIL_CONF, NULL);
	g_autoptr(GString) t = g_string_new(NULL);
	const char *host;
	const HmListenSpec *l = hm_config_relay_local(&cfg->relay, &host);

	/* Nothing here needs quoting: the loader checked that the host name is
	 * a domain name and that listen addresses are numeric. */
	g_string_append_printf(t,
	                       "// Written by homemail-relay from its config at each start and\n"
	                       "// reload: homemail-sendmail reads this when a user may not read that.\n"
	                       "hostname = \"%s\";\n"
	                       "relay = {\n  max_message_size = %" G_GUINT64_FORMAT ";\n",
	                       cfg->hostname, cfg->relay.max_message_size);
	if (l != NULL)
		g_string_append_printf(t, strchr(host, ':') != NULL ? "  listen = [ \"[%s]:%u\" ];\n"
		                                                    : "  listen = [ \"%s:%u\" ];\n",
		                       host, l->port);
	g_string_append(t, "};\n");
	return hm_atomic_write(path, t->str, t->len, 0644, err);
}

HmConfig *
relay_spool_load_published(GError **err)
{
	g_autofree char *queue = g_build_filename(HM_STATE_DIR, "queue", NULL);
	g_autofree char *path = g_build_filename(queue, RELAY_SPOOL_SENDMAIL_CONF, NULL);
	struct stat dir, st;

	/* Whoever may change it decides where local mail goes: only the
	 * relay's user (the queue's owner) or root may. */
	if (lstat(queue, &dir) < 0 || lstat(path, &st) < 0) {
		hm_set_error_errno(err, errno, "%s", path);
		return NULL;
	}
	if (!S_ISDIR(dir.st_mode) || (dir.st_mode & 022) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 022) != 0 || (st.st_uid != dir.st_uid && st.st_uid != 0)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO,
		            "%s: not a file that only the relay's user may change", path);
		return NULL;
	}
	return hm_config_load_flags(path, HM_CONFIG_NO_SECRETS, NULL, NULL, err);
}
