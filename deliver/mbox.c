/* <config.h>, not "config.h": the quoted form could find conf/config.h. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver/mbox.h"
#include "lib/atomic.h"
#include "lib/error.h"

/* Pause between lock attempts: short against a reader that holds the lock
 * for a moment, without spinning. */
#define MBOX_LOCK_POLL_US 20000

void
hm_mbox_quote(const char *msg, gsize len, GString *out)
{
	const char *p = msg, *end = msg + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (gsize)(end - p));
		const char *eol = nl != NULL ? nl + 1 : end;
		const char *q = p;

		while (q < eol && *q == '>')
			q++;
		if (eol - q >= 5 && memcmp(q, "From ", 5) == 0)
			g_string_append_c(out, '>');
		g_string_append_len(out, p, eol - p);
		p = eol;
	}
}

/* "From SENDER Thu Nov 24 18:22:48 1986": the ctime(3) layout, in the C
 * locale whatever the environment says. */
static void
append_from_line(GString *out, const char *sender)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	g_autofree char *who = g_strdup(sender[0] != '\0' ? sender : "MAILER-DAEMON");
	time_t now = time(NULL);
	struct tm tm;

	/* Readers split the line at spaces: the sender must be one word. */
	for (char *p = who; *p != '\0'; p++)
		if ((guchar)*p <= ' ' || *p == 127)
			*p = '_';
	localtime_r(&now, &tm);
	g_string_append_printf(out, "From %s %s %s %2d %02d:%02d:%02d %d\n", who,
	                       days[tm.tm_wday % 7],
	                       months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min,
	                       tm.tm_sec, tm.tm_year + 1900);
}

/* Takes a write lock on the whole file, polling until timeout_ms: fcntl
 * has no timed wait, and alarm() would be process-wide state. */
static int
lock_file(int fd, const char *path, guint timeout_ms, GError **err)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	for (;;) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			hm_set_error_errno(err, errno, "lock %s", path);
			return -1;
		}
		if (g_get_monotonic_time() >= deadline)
			break;
		g_usleep(MBOX_LOCK_POLL_US);
	}
	g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT, "%s is locked by another program (waited %u s)",
	            path, timeout_ms / 1000);
	return -1;
}

/* The separator needed before a new message: an mbox must end with an empty
 * line before the next "From " line, and a file someone edited may not. */
static const char *
separator_for(int fd, off_t size)
{
	char tail[2];

	if (size == 0)
		return "";
	if (size >= 2 && pread(fd, tail, 2, size - 2) == 2)
		return tail[1] != '\n' ? "\n\n" : tail[0] != '\n' ? "\n" : "";
	return "\n";
}

/* Writes the entry at the end of the locked file and syncs it; on failure
 * cuts the file back to old_size so readers never see half a message. */
static int
append_entry(int fd, const char *path, off_t old_size, const GString *entry, GError **err)
{
	int saved;

	if (lseek(fd, 0, SEEK_END) >= 0 && hm_write_all(fd, entry->str, entry->len) == 0 &&
	    fsync(fd) == 0)
		return 0;
	saved = errno;
	hm_set_error_errno(err, saved, "append to %s", path);
	if (ftruncate(fd, old_size) < 0 || fsync(fd) < 0)
		g_prefix_error(err, "(and could not cut it back to %lld bytes) ",
		               (long long)old_size);
	errno = saved;
	return -1;
}

static int
open_mbox(const char *path, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	struct stat st;
	int fd;

	if (g_mkdir_with_parents(dir, 0700) < 0) {
		hm_set_error_errno(err, errno, "create %s", dir);
		return -1;
	}
	/* No O_APPEND: the lock makes us the only writer, and the truncate on
	 * failure needs the size seen under the lock anyway. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		hm_set_error_errno(err, errno, "stat %s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
hm_mbox_deliver(const char *path, const char *sender, const char *msg, gsize len,
                guint timeout_ms, GError **err)
{
	g_autoptr(GString) entry = g_string_sized_new(len + len / 32 + 128);
	struct stat st;
	int fd, rc = -1;

	fd = open_mbox(path, err);
	if (fd < 0)
		return -1;
	if (lock_file(fd, path, timeout_ms, err) < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		hm_set_error_errno(err, errno, "stat %s", path);
		goto out;
	}
	g_string_append(entry, separator_for(fd, st.st_size));
	append_from_line(entry, sender);
	hm_mbox_quote(msg, len, entry);
	if (len > 0 && msg[len - 1] != '\n')
		g_string_append_c(entry, '\n');
	g_string_append_c(entry, '\n');
	rc = append_entry(fd, path, st.st_size, entry, err);
out:
	/* Closing releases the lock. Its result is not checked: after a
	 * successful fsync the message is durable, and calling it failed
	 * would make the MTA deliver it twice. */
	close(fd);
	return rc;
}
