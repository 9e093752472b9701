#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "conn.h"
#include "error.h"
#include "tls.h"

/* Output is sent once this much is queued, so pipelined commands go out in
 * few packets but memory stays bounded. */
#define CONN_OUT_FLUSH_AT (64 * 1024)
/* Smallest input buffer; it grows to hold the longest line a caller allows. */
#define CONN_IN_MIN (16 * 1024)

struct HmConn {
	int fd;
	SSL *ssl;
	int timeout_ms;
	char *in;          /* received bytes: [off, len) not yet returned */
	gsize in_off, in_len, in_cap;
	gboolean skipping; /* discarding the rest of an over-long line */
	/* A segment's terminating NUL covers the next unread octet, kept here
	 * until the next read puts it back. */
	gboolean holding;
	char held;
	gboolean eof;
	/* Why a write failed or timed out, NULL while none did: from then on
	 * the peer has lost an unknown part of the stream, so nothing more
	 * may go out (it would read as if whole) and the session is over. */
	char *dead;
	gboolean read_when_dead; /* hm_conn_read_after_write_failure() */
	GString *out;
	volatile sig_atomic_t *stop; /* hm_conn_set_stop(); NULL: none */
	sigset_t stop_mask;
	gboolean stoppable;
};

static void
ignore_sigpipe_once(void)
{
	static gsize done = 0;

	/* OpenSSL writes with write(2), which raises SIGPIPE on a closed
	 * socket; a network peer must never be able to kill us that way. */
	if (g_once_init_enter(&done)) {
		signal(SIGPIPE, SIG_IGN);
		g_once_init_leave(&done, 1);
	}
}

HmConn *
hm_conn_new(int fd, int timeout_ms)
{
	HmConn *c = g_new0(HmConn, 1);
	int one = 1;

	ignore_sigpipe_once();
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* We batch output ourselves and flush on purpose, so Nagle only adds
	 * delay: with TLS a reply spans two records, and the second one would
	 * wait ~40 ms for the peer's delayed ACK. Fails harmlessly on
	 * non-TCP sockets. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->in_cap = CONN_IN_MIN;
	c->in = g_malloc(c->in_cap);
	c->out = g_string_sized_new(1024);
	c->stoppable = TRUE;
	return c;
}

void
hm_conn_set_stop(HmConn *c, volatile sig_atomic_t *flag, const sigset_t *mask)
{
	c->stop = flag;
	if (mask != NULL)
		c->stop_mask = *mask;
}

void
hm_conn_set_stoppable(HmConn *c, gboolean stoppable)
{
	c->stoppable = stoppable;
}

void
hm_conn_free(HmConn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		/* Non-blocking: one best-effort close_notify, never after a
		 * record that went out cut short. */
		if (c->dead == NULL)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	g_free(c->in);
	g_free(c->dead);
	g_string_free(c->out, TRUE);
	g_free(c);
}

void hm_conn_set_timeout(HmConn *c, int timeout_ms) { c->timeout_ms = timeout_ms; }
int hm_conn_timeout(const HmConn *c) { return c->timeout_ms; }
int hm_conn_fd(const HmConn *c) { return c->fd; }

void
hm_conn_quickack(HmConn *c)
{
	int one = 1;

	setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}
gboolean hm_conn_is_tls(const HmConn *c) { return c->ssl != NULL; }
SSL *hm_conn_ssl(const HmConn *c) { return c->ssl; }
gsize hm_conn_pending(const HmConn *c) { return c->in_len - c->in_off; }
const char *hm_conn_write_failure(const HmConn *c) { return c->dead; }
void hm_conn_read_after_write_failure(HmConn *c) { c->read_when_dead = TRUE; }

/* Refuses I/O on a dead connection: -1 with *err, else 0. */
static int
check_alive(const HmConn *c, gboolean reading, GError **err)
{
	if (c->dead == NULL || (reading && c->read_when_dead))
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_IO, "connection unusable since a write failed: %s",
	            c->dead);
	return -1;
}

static gint64
deadline_in(const HmConn *c)
{
	return g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;
}

/* Waits until fd is ready for events or the deadline passes (or, for
 * input on a stoppable connection, a stop is asked for). */
static HmIoStatus
wait_fd(HmConn *c, short events, gint64 deadline, GError **err)
{
	gboolean stoppable = c->stop != NULL && c->stoppable && events == POLLIN;

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = events };
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		int rc;

		if (stoppable && *c->stop) {
			g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "stopping");
			return HM_IO_STOPPED;
		}
		if (left <= 0) {
			g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT, "timed out");
			return HM_IO_TIMEOUT;
		}
		if (stoppable) {
			struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = left % 1000 * 1000000 };

			rc = ppoll(&pfd, 1, &ts, &c->stop_mask);
		} else {
			rc = poll(&pfd, 1, (int)MIN(left, G_MAXINT));
		}
		if (rc > 0)
			return HM_IO_OK;
		if (rc < 0 && errno != EINTR) {
			hm_set_error_errno(err, errno, "poll");
			return HM_IO_ERROR;
		}
	}
}

/* After an SSL call failed: wait as OpenSSL asks, or report the error. */
static HmIoStatus
ssl_retry(HmConn *c, int ret, gint64 deadline, GError **err)
{
	int e = SSL_get_error(c->ssl, ret);
	g_autofree char *why = NULL;

	if (e == SSL_ERROR_WANT_READ)
		return wait_fd(c, POLLIN, deadline, err);
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c, POLLOUT, deadline, err);
	if (e == SSL_ERROR_ZERO_RETURN)
		return HM_IO_EOF;
	if (e == SSL_ERROR_SYSCALL && errno != 0) {
		hm_set_error_errno(err, errno, "TLS");
		return HM_IO_ERROR;
	}
	why = hm_tls_error_string();
	g_set_error(err, HM_ERROR, HM_ERROR_TLS, "TLS: %s", why);
	return HM_IO_ERROR;
}

/* Moves the unread input to the start of the buffer. */
static void
compact(HmConn *c)
{
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
}

/* Reads what is available into the input buffer (at least one byte). */
static HmIoStatus
fill(HmConn *c, gint64 deadline, GError **err)
{
	if (c->eof)
		return HM_IO_EOF;
	compact(c);
	g_assert(c->in_len < c->in_cap);
	for (;;) {
		HmIoStatus st;

		if (c->ssl != NULL) {
			size_t got = 0;
			int rc;

			ERR_clear_error();
			rc = SSL_read_ex(c->ssl, c->in + c->in_len, c->in_cap - c->in_len, &got);
			if (rc == 1) {
				c->in_len += got;
				return HM_IO_OK;
			}
			st = ssl_retry(c, rc, deadline, err);
		} else {
			ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);

			if (n > 0) {
				c->in_len += (gsize)n;
				return HM_IO_OK;
			}
			if (n == 0)
				st = HM_IO_EOF;
			else if (errno == EAGAIN || errno == EINTR)
				st = wait_fd(c, POLLIN, deadline, err);
			else {
				hm_set_error_errno(err, errno, "read");
				st = HM_IO_ERROR;
			}
		}
		if (st == HM_IO_EOF)
			c->eof = TRUE;
		if (st != HM_IO_OK)
			return st;
	}
}

static void
ensure_capacity(HmConn *c, gsize max)
{
	if (c->in_cap < max + 1) {
		c->in_cap = max + 1;
		c->in = g_realloc(c->in, c->in_cap);
	}
}

/* Discards input through the end of the over-long line being skipped. */
static HmIoStatus
skip_rest(HmConn *c, gint64 deadline, GError **err)
{
	while (c->skipping) {
		char *lf = memchr(c->in + c->in_off, '\n', c->in_len - c->in_off);
		HmIoStatus st;

		if (lf != NULL) {
			c->in_off = (gsize)(lf + 1 - c->in);
			c->skipping = FALSE;
			break;
		}
		c->in_off = c->in_len = 0;
		st = fill(c, deadline, err);
		if (st != HM_IO_OK)
			return st;
	}
	return HM_IO_OK;
}

/* Puts back the octet that a segment's NUL terminator covered. */
static void
unhold(HmConn *c)
{
	if (c->holding) {
		c->in[c->in_off] = c->held;
		c->holding = FALSE;
	}
}

/* Returns the first total octets of the input as a whole line. */
static HmIoStatus
take_line(HmConn *c, gsize total, guint flags, HmLine *line, GError **err)
{
	char *start = c->in + c->in_off;

	c->in_off += total;
	line->bare_lf = total < 2 || start[total - 2] != '\r';
	line->len = total - (line->bare_lf ? 1 : 2);
	line->data = start;
	line->partial = FALSE;
	start[line->len] = '\0';
	if (!(flags & HM_LINE_ALLOW_NUL) && memchr(start, '\0', line->len) != NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "NUL byte in line");
		return HM_IO_NUL;
	}
	return HM_IO_OK;
}

/* Returns the first octets of a line over max as a segment: max of them,
 * or one less when the last is a CR, which may be half of the CRLF. */
static HmIoStatus
take_segment(HmConn *c, gsize max, guint flags, HmLine *line, GError **err)
{
	char *start;
	gsize len;

	/* The NUL after the segment needs room, which the buffer (of at least
	 * max + 1) has once the unread input starts at its beginning. */
	if (c->in_off + max >= c->in_cap)
		compact(c);
	start = c->in + c->in_off;
	len = start[max - 1] == '\r' ? max - 1 : max;
	c->in_off += len;
	c->held = start[len];
	c->holding = TRUE;
	start[len] = '\0';
	line->data = start;
	line->len = len;
	line->bare_lf = FALSE;
	line->partial = TRUE;
	if (!(flags & HM_LINE_ALLOW_NUL) && memchr(start, '\0', len) != NULL) {
		c->skipping = TRUE; /* the whole line is consumed, as without segments */
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "NUL byte in line");
		return HM_IO_NUL;
	}
	return HM_IO_OK;
}

HmIoStatus
hm_conn_read_line(HmConn *c, gsize max, guint flags, HmLine *line, GError **err)
{
	gint64 deadline = deadline_in(c);
	HmIoStatus st;
	gsize scanned = 0;

	g_return_val_if_fail(max >= 2, HM_IO_ERROR);
	if (check_alive(c, TRUE, err) < 0)
		return HM_IO_ERROR;
	unhold(c);
	ensure_capacity(c, max);
	if ((st = skip_rest(c, deadline, err)) != HM_IO_OK)
		return st;
	for (;;) {
		char *start = c->in + c->in_off;
		gsize avail = c->in_len - c->in_off;
		char *lf = memchr(start + scanned, '\n', avail - scanned);
		gsize total = lf != NULL ? (gsize)(lf - start) + 1 : avail;
		/* Without its LF, a line of avail octets is at least one longer. */
		gboolean over = lf != NULL ? total > max : avail >= max;

		if (over && (flags & HM_LINE_SEGMENTS))
			return take_segment(c, max, flags, line, err);
		if (over) {
			c->in_off += total;
			c->skipping = lf == NULL;
			g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "line too long");
			return HM_IO_TOO_LONG;
		}
		if (lf != NULL)
			return take_line(c, total, flags, line, err);
		scanned = avail;
		st = fill(c, deadline, err);
		if (st == HM_IO_EOF && avail > 0) {
			g_set_error(err, HM_ERROR, HM_ERROR_IO,
			            "connection closed in the middle of a line");
			return HM_IO_ERROR;
		}
		if (st == HM_IO_EOF)
			g_set_error(err, HM_ERROR, HM_ERROR_IO, "connection closed");
		if (st != HM_IO_OK)
			return st;
	}
}

HmIoStatus
hm_conn_read_exact(HmConn *c, void *buf, gsize n, GError **err)
{
	gint64 deadline = deadline_in(c);
	char *dst = buf;

	if (check_alive(c, TRUE, err) < 0)
		return HM_IO_ERROR;
	unhold(c);
	if (c->skipping) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "line too long");
		return HM_IO_ERROR;
	}
	while (n > 0) {
		gsize avail = c->in_len - c->in_off;
		HmIoStatus st;

		if (avail > 0) {
			gsize take = MIN(avail, n);

			memcpy(dst, c->in + c->in_off, take);
			c->in_off += take;
			dst += take;
			n -= take;
			continue;
		}
		st = fill(c, deadline, err);
		if (st == HM_IO_EOF) {
			g_set_error(err, HM_ERROR, HM_ERROR_IO, "connection closed");
			return HM_IO_ERROR;
		}
		if (st != HM_IO_OK)
			return st;
	}
	return HM_IO_OK;
}

int
hm_conn_write(HmConn *c, const void *data, gsize len, GError **err)
{
	if (check_alive(c, FALSE, err) < 0)
		return -1;
	g_string_append_len(c->out, data, (gssize)len);
	if (c->out->len >= CONN_OUT_FLUSH_AT)
		return hm_conn_flush(c, err);
	return 0;
}

int
hm_conn_printf(HmConn *c, GError **err, const char *fmt, ...)
{
	va_list ap;

	if (check_alive(c, FALSE, err) < 0)
		return -1;
	va_start(ap, fmt);
	g_string_append_vprintf(c->out, fmt, ap);
	va_end(ap);
	if (c->out->len >= CONN_OUT_FLUSH_AT)
		return hm_conn_flush(c, err);
	return 0;
}

/* Sends some of the queue; returns bytes sent (0: wait) or -1. */
static gssize
send_some(HmConn *c, const char *p, gsize len, gint64 deadline, GError **err)
{
	if (c->ssl != NULL) {
		size_t done = 0;
		int rc;

		ERR_clear_error();
		rc = SSL_write_ex(c->ssl, p, len, &done);
		if (rc == 1)
			return (gssize)done;
		return ssl_retry(c, rc, deadline, err) == HM_IO_OK ? 0 : -1;
	} else {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EINTR)
			return wait_fd(c, POLLOUT, deadline, err) == HM_IO_OK ? 0 : -1;
		hm_set_error_errno(err, errno, "write");
		return -1;
	}
}

int
hm_conn_flush(HmConn *c, GError **err)
{
	gint64 deadline = deadline_in(c);
	gsize off = 0;

	if (check_alive(c, FALSE, err) < 0)
		return -1;
	while (off < c->out->len) {
		GError *serr = NULL;
		gssize n = send_some(c, c->out->str + off, c->out->len - off, deadline, &serr);

		if (n < 0) {
			/* What was queued is lost; output queued later must not
			 * follow it as if the stream were whole. */
			g_string_truncate(c->out, 0);
			if (serr == NULL)  /* TLS closed by the peer */
				g_set_error(&serr, HM_ERROR, HM_ERROR_IO, "connection closed");
			c->dead = g_strdup(serr->message);
			g_propagate_error(err, serr);
			return -1;
		}
		off += (gsize)n;
	}
	g_string_truncate(c->out, 0);
	return 0;
}

/* Runs the handshake (SSL_connect or SSL_accept) to completion. */
static int
handshake(HmConn *c, gboolean server, GError **err)
{
	gint64 deadline = deadline_in(c);

	for (;;) {
		int rc;
		HmIoStatus st;

		ERR_clear_error();
		rc = server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
		if (rc == 1)
			return 0;
		st = ssl_retry(c, rc, deadline, err);
		if (st == HM_IO_EOF)
			g_set_error(err, HM_ERROR, HM_ERROR_TLS,
			            "TLS: connection closed during handshake");
		if (st != HM_IO_OK) {
			if (err != NULL && *err != NULL && (*err)->domain == HM_ERROR &&
			    (*err)->code == HM_ERROR_TIMEOUT)
				g_prefix_error(err, "TLS handshake: ");
			return -1;
		}
	}
}

gsize
hm_conn_discard_input(HmConn *c)
{
	gsize n = c->in_len - c->in_off;

	c->in_off = c->in_len = 0;
	c->skipping = FALSE;
	c->holding = FALSE;
	return n;
}

/* Common set-up; refuses clear text that arrived before the handshake. */
static int
tls_begin(HmConn *c, SSL_CTX *ctx, GError **err)
{
	if (c->ssl != NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "TLS is already active");
		return -1;
	}
	if (hm_conn_flush(c, err) < 0)
		return -1;
	if (c->in_len > c->in_off || c->skipping) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL,
		            "plaintext received after STARTTLS reply");
		return -1;
	}
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		g_autofree char *why = hm_tls_error_string();

		g_set_error(err, HM_ERROR, HM_ERROR_TLS, "TLS: %s", why);
		return -1;
	}
	return 0;
}

int
hm_conn_start_tls_client(HmConn *c, SSL_CTX *ctx, const char *host,
                         const guint8 *pin_sha256, GError **err)
{
	if (tls_begin(c, ctx, err) < 0 ||
	    hm_tls_client_prepare(c->ssl, host, pin_sha256, err) < 0 ||
	    handshake(c, FALSE, err) < 0)
		return -1;
	return hm_tls_verify_peer(c->ssl, host, pin_sha256, err);
}

int
hm_conn_start_tls_server(HmConn *c, SSL_CTX *ctx, GError **err)
{
	if (tls_begin(c, ctx, err) < 0)
		return -1;
	return handshake(c, TRUE, err);
}
