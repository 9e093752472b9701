/* maildir-deliver DIR: copy stdin into the Maildir DIR (tmp/, fsync,
 * rename into new/), exit 0; 75 (EX_TEMPFAIL) on any error.
 *
 * Only for bench/fetch: fetchmail has no Maildir writer, so it is given
 * this as its `mda`. It does the least a Maildir delivery must (one fsync
 * per message, like getmail and mpop do in-process), so fetchmail's
 * delivery cost is its own fork + sh -c + exec, not a heavy MDA's.
 * Empty input is refused: an MDA that gets EOF because fetchmail died
 * must not deliver a zero-byte message. Built by bench/fetch/bench.py
 * into the work directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int
fail(const char *what, const char *tmp)
{
	fprintf(stderr, "maildir-deliver: %s: %s\n", what, strerror(errno));
	if (tmp != NULL)
		unlink(tmp);
	return 75;
}

int
main(int argc, char **argv)
{
	char host[256], tmp[4096], dst[4096], buf[65536];
	struct timeval tv;
	ssize_t n;
	size_t total = 0;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: maildir-deliver DIR\n");
		return 64;
	}
	gettimeofday(&tv, NULL);
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	snprintf(tmp, sizeof tmp, "%s/tmp/%ld.M%06ldP%d.%s", argv[1], (long)tv.tv_sec,
	         (long)tv.tv_usec, (int)getpid(), host);
	snprintf(dst, sizeof dst, "%s/new/%ld.M%06ldP%d.%s", argv[1], (long)tv.tv_sec,
	         (long)tv.tv_usec, (int)getpid(), host);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return fail(tmp, NULL);
	while ((n = read(0, buf, sizeof buf)) > 0) {
		char *p = buf;

		total += (size_t)n;
		while (n > 0) {
			ssize_t w = write(fd, p, (size_t)n);

			if (w < 0)
				return fail("write", tmp);
			p += w;
			n -= w;
		}
	}
	if (n < 0)
		return fail("read", tmp);
	if (total == 0) {
		errno = ENODATA;
		return fail("empty message", tmp);
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return fail("fsync", tmp);
	if (rename(tmp, dst) < 0)
		return fail("rename", tmp);
	return 0;
}
