/* minimal-mda MAILDIR: the least a durable Maildir delivery is, as the
 * baseline bench/deliver/run.sh holds homemail-deliver against. Reads the
 * message on stdin, writes it to MAILDIR/tmp/<unique> (O_EXCL, 0600),
 * fdatasync()s and closes it, link()s it into new/, unlinks the tmp/ name
 * and fsync()s new/ -- the same system calls, in the same order, that
 * homemail-deliver makes for one message -- and exits 0, or 75
 * (EX_TEMPFAIL) on any error. No config, no parsing, no headers added:
 * what homemail-deliver costs beyond this is its own overhead.
 * Built by run.sh (cc -O2, libc only), not by automake. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int
fail(const char *what, const char *tmp)
{
	fprintf(stderr, "minimal-mda: %s: %s\n", what, strerror(errno));
	if (tmp != NULL)
		unlink(tmp);
	return 75;
}

/* The whole of stdin in a malloc'd buffer, as an MDA must read it before
 * it knows where it goes; NULL on error. */
static char *
read_all(size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	while (buf != NULL && (r = read(0, buf + n, cap - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		n += (size_t)r;
		if (n == cap) {
			char *bigger = realloc(buf, cap *= 2);

			if (bigger == NULL)
				free(buf);
			buf = bigger;
		}
	}
	*len = n;
	return buf;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char host[256], base[512], tmp[4096], dst[4096], dir[4096];
	struct timeval tv;
	size_t len;
	char *msg;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: minimal-mda MAILDIR < message\n");
		return 64;
	}
	if ((msg = read_all(&len)) == NULL)
		return fail("read", NULL);
	gettimeofday(&tv, NULL);
	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	snprintf(base, sizeof base, "%ld.M%06ldP%dQ1.%s", (long)tv.tv_sec, (long)tv.tv_usec,
	         (int)getpid(), host);
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", argv[1], base);
	snprintf(dst, sizeof dst, "%s/new/%s,S=%zu", argv[1], base, len);
	snprintf(dir, sizeof dir, "%s/new", argv[1]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(tmp, NULL);
	if (write_all(fd, msg, len) < 0)
		return fail("write", tmp);
	if (fdatasync(fd) < 0 || close(fd) < 0)
		return fail("fdatasync", tmp);
	if (link(tmp, dst) < 0)
		return fail("link", tmp);
	unlink(tmp);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(fd) < 0)
		return fail("fsync new/", NULL);
	close(fd);
	free(msg);
	return 0;
}
