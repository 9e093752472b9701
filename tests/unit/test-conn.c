/* The bounded line reader: limits, terminators, NUL, EOF, deadlines, and
 * input split at every offset. */
#include <config.h>

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/error.h"
#include "lib/pingpong.h"

typedef struct {
	int fd;
	const char *data;
	gsize len;
	gsize chunk;        /* bytes per write */
	gulong pause_us;    /* between writes */
	gboolean keep_open; /* do not close after writing */
} Writer;

static gpointer
writer_thread(gpointer p)
{
	Writer *w = p;

	for (gsize off = 0; off < w->len; off += w->chunk) {
		gsize n = MIN(w->chunk, w->len - off);

		g_assert_cmpint(write(w->fd, w->data + off, n), ==, (gssize)n);
		if (w->pause_us)
			g_usleep(w->pause_us);
	}
	if (!w->keep_open)
		close(w->fd);
	return NULL;
}

/* A connection reading what a writer thread sends in chunks. */
static HmConn *
feed(Writer *w, GThread **thread, int timeout_ms)
{
	int sv[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	w->fd = sv[1];
	*thread = g_thread_new("writer", writer_thread, w);
	return hm_conn_new(sv[0], timeout_ms);
}

static void
test_terminators(void)
{
	Writer w = { .data = "one\r\ntwo\nthree\r\r\n\r\n", .chunk = 64 };
	GThread *t;
	HmConn *c;
	HmLine l;

	w.len = strlen(w.data);
	c = feed(&w, &t, 2000);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "one");
	g_assert_false(l.bare_lf);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "two");
	g_assert_true(l.bare_lf);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "three\r");
	g_assert_cmpuint(l.len, ==, 6);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpuint(l.len, ==, 0);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_EOF);
	hm_conn_free(c);
	g_thread_join(t);
}

/* Exactly max octets (CRLF included) pass; one more is too long, the rest
 * of that line is skipped and the next line reads normally. */
static void
test_limit(void)
{
	GString *in = g_string_new(NULL);
	GThread *t;
	HmConn *c;
	HmLine l;
	g_autoptr(GError) err = NULL;
	Writer w = { .chunk = 7 };

	g_string_append_printf(in, "%s\r\n", "0123456789abcdef0123456789abcd"); /* 32 */
	g_string_append_printf(in, "%s\r\n", "0123456789abcdef0123456789abcde"); /* 33 */
	g_string_append(in, "next\r\n");
	for (int i = 0; i < 5000; i++)
		g_string_append_c(in, 'x');
	g_string_append(in, "\r\nlast\n");
	w.data = in->str;
	w.len = in->len;
	c = feed(&w, &t, 2000);
	g_assert_cmpint(hm_conn_read_line(c, 32, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpuint(l.len, ==, 30);
	g_assert_cmpint(hm_conn_read_line(c, 32, 0, &l, &err), ==, HM_IO_TOO_LONG);
	g_assert_error(err, HM_ERROR, HM_ERROR_PROTOCOL);
	g_clear_error(&err);
	g_assert_cmpint(hm_conn_read_line(c, 32, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "next");
	g_assert_cmpint(hm_conn_read_line(c, 32, 0, &l, NULL), ==, HM_IO_TOO_LONG);
	g_assert_cmpint(hm_conn_read_line(c, 32, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "last");
	hm_conn_free(c);
	g_thread_join(t);
	g_string_free(in, TRUE);
}

static void
test_nul(void)
{
	static const char data[] = "a\0b\r\nc\0d\r\n";
	Writer w = { .data = data, .len = sizeof(data) - 1, .chunk = 3 };
	GThread *t;
	HmConn *c = feed(&w, &t, 2000);
	HmLine l;

	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_NUL);
	g_assert_cmpint(hm_conn_read_line(c, 100, HM_LINE_ALLOW_NUL, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpuint(l.len, ==, 3);
	g_assert_cmpint(memcmp(l.data, "c\0d", 3), ==, 0);
	hm_conn_free(c);
	g_thread_join(t);
}

/* What a client sent after STARTTLS in the same packet is dropped whole,
 * a segment's held octet and a line being skipped included. */
static void
test_discard(void)
{
	static const char data[] = "STARTTLS\r\nMAIL FROM:<evil@x>\r\n";
	Writer w = { .data = data, .len = sizeof(data) - 1, .chunk = sizeof(data) - 1 };
	GThread *t;
	HmConn *c = feed(&w, &t, 2000);
	HmLine l;

	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "STARTTLS");
	g_assert_cmpuint(hm_conn_pending(c), ==, 20);
	g_assert_cmpuint(hm_conn_discard_input(c), ==, 20);
	g_assert_cmpuint(hm_conn_pending(c), ==, 0);
	g_assert_cmpuint(hm_conn_discard_input(c), ==, 0);
	hm_conn_free(c);
	g_thread_join(t);
}

static void
test_eof_mid_line(void)
{
	Writer w = { .data = "partial", .len = 7, .chunk = 7 };
	GThread *t;
	HmConn *c = feed(&w, &t, 2000);
	HmLine l;
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, &err), ==, HM_IO_ERROR);
	g_assert_nonnull(strstr(err->message, "middle of a line"));
	hm_conn_free(c);
	g_thread_join(t);
}

/* The deadline covers the whole line: dripping bytes does not extend it. */
static void
test_drip_timeout(void)
{
	Writer w = { .data = "abcdefghijklmnopqrstuvwxyz\r\n", .len = 28, .chunk = 1,
	             .pause_us = 40000 };
	GThread *t;
	HmConn *c = feed(&w, &t, 300);
	HmLine l;
	gint64 start = g_get_monotonic_time();
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, &err), ==, HM_IO_TIMEOUT);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 900000);
	g_thread_join(t);
	hm_conn_free(c);
}

static void
test_silence_timeout(void)
{
	Writer w = { .data = "", .len = 0, .chunk = 1, .keep_open = TRUE };
	GThread *t;
	HmConn *c = feed(&w, &t, 100);
	HmLine l;
	guint8 buf[4];

	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_TIMEOUT);
	g_assert_cmpint(hm_conn_read_exact(c, buf, 4, NULL), ==, HM_IO_TIMEOUT);
	g_thread_join(t);
	close(w.fd);
	hm_conn_free(c);
}

/* The same input, delivered in chunks of every size, gives the same lines. */
static void
test_every_split(void)
{
	static const char data[] = "A1 OK\r\n.\r\n..x\n\r\n{5}\r\nHELLO tail\r\nlast\r\n";
	gsize len = sizeof(data) - 1;

	for (gsize chunk = 1; chunk <= len; chunk++) {
		Writer w = { .data = data, .len = len, .chunk = chunk, .pause_us = 200 };
		GThread *t;
		HmConn *c = feed(&w, &t, 2000);
		HmLine l;
		char lit[6] = { 0 };

		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, "A1 OK");
		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, ".");
		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, "..x");
		g_assert_true(l.bare_lf);
		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, "");
		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, "{5}");
		g_assert_cmpint(hm_conn_read_exact(c, lit, 5, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(lit, ==, "HELLO");
		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, " tail");
		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, "last");
		g_assert_cmpint(hm_conn_read_line(c, 1000, 0, &l, NULL), ==, HM_IO_EOF);
		hm_conn_free(c);
		g_thread_join(t);
	}
}

/* Reads lines with HM_LINE_SEGMENTS and max octets until EOF, checking
 * each segment, and returns them rejoined, each line followed by <CRLF>
 * or <LF>; the number of segments (partial reads) goes to *pieces. */
static GString *
read_segmented(HmConn *c, gsize max, guint *pieces)
{
	GString *out = g_string_new(NULL);
	HmIoStatus st;
	HmLine l;

	*pieces = 0;
	while ((st = hm_conn_read_line(c, max, HM_LINE_SEGMENTS | HM_LINE_ALLOW_NUL, &l,
	                               NULL)) == HM_IO_OK) {
		g_assert_cmpuint(l.len, <=, max);
		g_assert_cmpint(l.data[l.len], ==, '\0');
		g_string_append_len(out, l.data, (gssize)l.len);
		if (l.partial) {
			g_assert_false(l.bare_lf);
			g_assert_cmpuint(l.len, >, 0);
			(*pieces)++;
		} else {
			g_string_append(out, l.bare_lf ? "<LF>" : "<CRLF>");
		}
	}
	g_assert_cmpint(st, ==, HM_IO_EOF);
	return out;
}

/* Over-long lines come in segments of at most max octets whatever the
 * chunks the input arrives in: rejoined they are the input, a line that
 * fits is never split, and a CRLF on a segment boundary stays a CRLF. */
static void
test_segments_every_split(void)
{
	static const char data[] = "short\r\n0123456789abcdef\r\n.\r\n1234567\r\n"
	                           "xxxxxxxxxxxxxxxxxxxx\nab\0cdefghij\r\n12345678\r\nabcdef\r\r\nend\n";
	static const char want[] = "short<CRLF>0123456789abcdef<CRLF>.<CRLF>1234567<CRLF>"
	                           "xxxxxxxxxxxxxxxxxxxx<LF>ab\0cdefghij<CRLF>12345678<CRLF>"
	                           "abcdef\r<CRLF>end<LF>";
	gsize len = sizeof(data) - 1;

	for (gsize chunk = 1; chunk <= len; chunk++) {
		Writer w = { .data = data, .len = len, .chunk = chunk, .pause_us = 200 };
		GThread *t;
		HmConn *c = feed(&w, &t, 2000);
		guint pieces;
		g_autoptr(GString) got = read_segmented(c, 8, &pieces);

		g_assert_cmpmem(got->str, got->len, want, sizeof(want) - 1);
		/* Segments: 16 octets and CRLF: 8, 8 (then ""); "1234567" CRLF: 7,
		 * the CR held back; 20 and LF: 8, 8 (then "xxxx"); 11 and CRLF: 8
		 * (then "hij"); 8 and CRLF: 8 (then ""); "abcdef\r" and CRLF: 7, the
		 * second CR held back. */
		g_assert_cmpuint(pieces, ==, 2 + 1 + 2 + 1 + 1 + 1);
		hm_conn_free(c);
		g_thread_join(t);
	}
}

/* The octet a segment's NUL covered is back for the next read, exact or
 * line; without HM_LINE_ALLOW_NUL a NUL consumes the rest of its line. */
static void
test_segments_then_exact(void)
{
	static const char data[] = "ABCDEFGHIJK\r\nab\0defghijkl\r\nnext\r\n";
	Writer w = { .data = data, .len = sizeof(data) - 1, .chunk = 5 };
	GThread *t;
	HmConn *c = feed(&w, &t, 2000);
	HmLine l;
	char buf[4] = { 0 };

	g_assert_cmpint(hm_conn_read_line(c, 8, HM_LINE_SEGMENTS, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "ABCDEFGH");
	g_assert_true(l.partial);
	g_assert_cmpint(hm_conn_read_exact(c, buf, 3, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(buf, ==, "IJK");
	g_assert_cmpint(hm_conn_read_line(c, 8, HM_LINE_SEGMENTS, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpuint(l.len, ==, 0);
	g_assert_false(l.partial);
	g_assert_cmpint(hm_conn_read_line(c, 4, HM_LINE_SEGMENTS, &l, NULL), ==, HM_IO_NUL);
	g_assert_cmpint(hm_conn_read_line(c, 8, HM_LINE_SEGMENTS, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "next");
	g_assert_false(l.partial);
	hm_conn_free(c);
	g_thread_join(t);
}

/* A segment that ends where the input buffer does still gets its NUL
 * (inside the buffer: AddressSanitizer checks). The writer is done before
 * the first read, so one read fills the 16 KiB buffer exactly. */
static void
test_segment_at_buffer_end(void)
{
	GString *in = g_string_new(NULL);
	Writer w = { .chunk = 16 * 1024 };
	GThread *t;
	HmConn *c;
	guint pieces;
	g_autoptr(GString) got = NULL;

	for (int i = 0; i < 16 * 1024 - 8 - 1; i++)
		g_string_append_c(in, 'a');
	g_string_append(in, "\nXXXXXXXXYY\r\n");
	w.data = in->str;
	w.len = in->len;
	c = feed(&w, &t, 2000);
	g_thread_join(t);
	got = read_segmented(c, 8, &pieces);
	g_assert_true(g_str_has_suffix(got->str, "a<LF>XXXXXXXXYY<CRLF>"));
	g_assert_cmpuint(got->len, ==, in->len - 3 + 4 + 6);
	hm_conn_free(c);
	g_string_free(in, TRUE);
}

/* Bytes that arrive with the STARTTLS reply were sent in clear by whoever
 * sits on the path; they must never be taken as TLS-protected. */
static void
test_starttls_injection(void)
{
	Writer w = { .data = "+OK begin TLS\r\n+OK injected\r\n", .chunk = 100, .keep_open = TRUE };
	GThread *t;
	HmConn *c;
	HmLine l;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	g_autoptr(GError) err = NULL;

	w.len = strlen(w.data);
	c = feed(&w, &t, 2000);
	g_thread_join(t);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpint(hm_conn_start_tls_client(c, ctx, "localhost", NULL, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "plaintext"));
	close(w.fd);
	hm_conn_free(c);
	SSL_CTX_free(ctx);
}

static void
test_write_flush(void)
{
	int sv[2];
	HmConn *c;
	char buf[64] = { 0 };

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	c = hm_conn_new(sv[0], 1000);
	g_assert_cmpint(hm_conn_printf(c, NULL, "RETR %u\r\n", 7u), ==, 0);
	g_assert_cmpint(hm_conn_write(c, "DELE 7\r\n", 8, NULL), ==, 0);
	g_assert_cmpint(hm_conn_flush(c, NULL), ==, 0);
	g_assert_cmpint(read(sv[1], buf, sizeof(buf) - 1), ==, 16);
	g_assert_cmpstr(buf, ==, "RETR 7\r\nDELE 7\r\n");
	close(sv[1]);
	/* Writing to a closed peer is an error, never a SIGPIPE death. */
	for (int i = 0; i < 100; i++)
		hm_conn_write(c, buf, 16, NULL);
	g_assert_cmpint(hm_conn_flush(c, NULL), ==, -1);
	hm_conn_free(c);
}

/* Drains what is waiting on fd, returning how many bytes there were. */
static gsize
drain(int fd)
{
	char buf[65536];
	gsize total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (gsize)n;
	return total;
}

/* A write that timed out (the peer stopped reading) kills the connection:
 * once the peer reads again it gets nothing sent after the lost bytes, as
 * if the stream were whole, and neither writes nor reads go on. */
static void
test_write_timeout_kills(void)
{
	g_autofree char *chunk = g_strnfill(4096, 'x');
	int sv[2];
	HmConn *c;
	HmLine line;
	GError *err = NULL;
	int rc = 0;
	gint64 t0;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	c = hm_conn_new(sv[0], 200);
	for (int i = 0; i < 10000 && rc == 0; i++)
		rc = hm_conn_write(c, chunk, 4096, &err);
	g_assert_cmpint(rc, ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_clear_error(&err);
	g_assert_nonnull(hm_conn_write_failure(c));
	g_assert_nonnull(strstr(hm_conn_write_failure(c), "timed out"));

	/* The peer reads again: what was sent before the failure is all. */
	g_assert_cmpuint(drain(sv[1]), >, 0);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_conn_write(c, "+OK\r\n", 5, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	g_assert_cmpint(hm_conn_printf(c, &err, "%s\r\n", "."), ==, -1);
	g_clear_error(&err);
	g_assert_cmpint(hm_conn_flush(c, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "timed out"));
	g_clear_error(&err);
	g_assert_cmpuint(drain(sv[1]), ==, 0);

	/* Nor are commands the peer pipelined read any more. */
	g_assert_cmpint(write(sv[1], "DELE 1\r\n", 8), ==, 8);
	g_assert_cmpint(hm_conn_read_line(c, 512, 0, &line, &err), ==, HM_IO_ERROR);
	g_clear_error(&err);
	g_assert_cmpint(hm_conn_read_exact(c, chunk, 1, &err), ==, HM_IO_ERROR);
	g_clear_error(&err);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC / 10);

	/* A client that asks for the peer's last words still reads them. */
	hm_conn_read_after_write_failure(c);
	g_assert_cmpint(hm_conn_read_line(c, 512, 0, &line, &err), ==, HM_IO_OK);
	g_assert_cmpstr(line.data, ==, "DELE 1");
	g_assert_cmpint(hm_conn_flush(c, NULL), ==, -1);
	hm_conn_free(c);
	close(sv[1]);

	/* The same after a write the peer's close made fail. */
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	c = hm_conn_new(sv[0], 1000);
	close(sv[1]);
	g_assert_cmpint(hm_conn_write(c, "+OK\r\n", 5, NULL), ==, 0);
	g_assert_cmpint(hm_conn_flush(c, NULL), ==, -1);
	g_assert_cmpint(hm_conn_write(c, "+OK\r\n", 5, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "write failed"));
	g_clear_error(&err);
	hm_conn_free(c);
}

/* lib/pingpong's sending: a peer that stops reading is a timeout, one that
 * closed is a lost connection (lib/smtpc resends at once only after the
 * latter); either leaves the engine broken. */
static void
test_pp_send_errors(void)
{
	g_autofree char *line = g_strnfill(1000, 'x');
	int sv[2];
	HmPingpong pp;
	GError *err = NULL;
	int rc = 0;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	hm_pp_init(&pp, hm_conn_new(sv[0], 200), "reply");
	/* More than the socket buffers hold, never read. */
	for (int i = 0; i < 10000 && rc == 0; i++)
		rc = hm_pp_send(&pp, line, NULL, &err);
	if (rc == 0)
		rc = hm_pp_flush(&pp, &err);
	g_assert_cmpint(rc, ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_assert_cmpstr(err->message, ==, "timed out sending");
	g_assert_true(pp.broken);
	g_clear_error(&err);
	hm_conn_free(pp.conn);
	close(sv[1]);

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	hm_pp_init(&pp, hm_conn_new(sv[0], 200), "reply");
	close(sv[1]);
	g_assert_cmpint(hm_pp_send(&pp, "QUIT", NULL, &err), ==, 0);
	g_assert_cmpint(hm_pp_flush(&pp, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_true(g_str_has_prefix(err->message, "connection lost while sending: "));
	g_assert_true(pp.broken);
	g_clear_error(&err);
	hm_conn_free(pp.conn);
}

static volatile sig_atomic_t test_stop_flag;

static void
set_test_stop(int sig)
{
	(void)sig;
	test_stop_flag = 1;
}

/* A stop ends a wait for input only while the connection is stoppable,
 * lines already there are read first, and a SIGALRM blocked outside the
 * wait is taken inside it (not lost, not waited out). */
static void
test_stop(void)
{
	struct sigaction sa = { .sa_handler = set_test_stop };
	sigset_t alrm, waiting;
	int sv[2];
	HmConn *c;
	HmLine l;
	gint64 t;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, &waiting);
	sigdelset(&waiting, SIGALRM);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	c = hm_conn_new(sv[0], 3000);
	hm_conn_set_stop(c, &test_stop_flag, &waiting);
	g_assert_cmpint(write(sv[1], "NOOP\r\n", 6), ==, 6);
	/* Pending while blocked: delivered in the wait, which it ends. */
	kill(getpid(), SIGALRM);
	g_assert_cmpint(test_stop_flag, ==, 0);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "NOOP");
	t = g_get_monotonic_time();
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_STOPPED);
	g_assert_cmpint(g_get_monotonic_time() - t, <, G_USEC_PER_SEC);
	g_assert_cmpint(test_stop_flag, ==, 1);
	/* Not stoppable (a message under way): the read waits for its data. */
	hm_conn_set_stoppable(c, FALSE);
	g_assert_cmpint(write(sv[1], "DATA\r\n", 6), ==, 6);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
	g_assert_cmpstr(l.data, ==, "DATA");
	t = g_get_monotonic_time();
	hm_conn_set_timeout(c, 300);
	g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_TIMEOUT);
	g_assert_cmpint(g_get_monotonic_time() - t, >=, 250000);
	hm_conn_free(c);
	close(sv[1]);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/conn/terminators", test_terminators);
	g_test_add_func("/conn/limit", test_limit);
	g_test_add_func("/conn/nul", test_nul);
	g_test_add_func("/conn/eof-mid-line", test_eof_mid_line);
	g_test_add_func("/conn/discard", test_discard);
	g_test_add_func("/conn/stop", test_stop);
	g_test_add_func("/conn/drip-timeout", test_drip_timeout);
	g_test_add_func("/conn/silence-timeout", test_silence_timeout);
	g_test_add_func("/conn/every-split", test_every_split);
	g_test_add_func("/conn/segments-every-split", test_segments_every_split);
	g_test_add_func("/conn/segments-then-exact", test_segments_then_exact);
	g_test_add_func("/conn/segment-at-buffer-end", test_segment_at_buffer_end);
	g_test_add_func("/conn/starttls-injection", test_starttls_injection);
	g_test_add_func("/conn/write-flush", test_write_flush);
	g_test_add_func("/conn/write-timeout-kills", test_write_timeout_kills);
	g_test_add_func("/conn/pp-send-errors", test_pp_send_errors);
	return g_test_run();
}
