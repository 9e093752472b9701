/* A connection over plain TCP or TLS, with buffered I/O, a deadline on every
 * read and write, and the one bounded line reader every protocol uses.
 * Nothing else calls read()/SSL_read() on a protocol socket. */
#ifndef HM_CONN_H
#define HM_CONN_H

#include <signal.h>

#include <glib.h>
#include <openssl/ssl.h>

typedef struct HmConn HmConn;

typedef enum {
	HM_IO_OK = 0,
	HM_IO_EOF,       /* orderly close by the peer before any byte of a line */
	HM_IO_TIMEOUT,   /* the deadline passed */
	HM_IO_TOO_LONG,  /* line over the limit; its rest is skipped by the next read */
	HM_IO_NUL,       /* line held a NUL byte (consumed) */
	HM_IO_ERROR,     /* I/O or TLS error, or EOF inside a line; *err says which */
	HM_IO_STOPPED,   /* a stop was asked for while waiting (hm_conn_set_stop) */
} HmIoStatus;

typedef enum {
	HM_LINE_ALLOW_NUL = 1 << 0, /* pass NUL bytes through (message bodies) */
	/* A line over the limit is returned in segments instead of
	 * HM_IO_TOO_LONG (message content, bounded by the message size, not
	 * by a line length). */
	HM_LINE_SEGMENTS = 1 << 1,
} HmLineFlags;

typedef struct {
	char *data;        /* the line without its terminator, NUL-terminated;
	                    * valid until the next call on the connection */
	gsize len;
	gboolean bare_lf;  /* ended by LF alone rather than CRLF */
	gboolean partial;  /* a segment that does not end the line: the line
	                    * goes on in the next read (HM_LINE_SEGMENTS only) */
} HmLine;

/* Lets a stop request end a wait for input, so that a server told to stop
 * can end a session between two commands (and only there): once *flag is
 * set, by a signal handler, a read that would wait returns HM_IO_STOPPED,
 * while the connection is stoppable (hm_conn_set_stoppable(), TRUE at
 * first). Those waits run with mask as the signal mask (ppoll), so the
 * caller keeps the signal blocked elsewhere and it is taken only there:
 * never lost between the check of *flag and the wait, never in the middle
 * of a message. flag NULL turns it off. */
void hm_conn_set_stop(HmConn *c, volatile sig_atomic_t *flag, const sigset_t *mask);

/* Whether a stop may end the next waits for input (see hm_conn_set_stop). */
void hm_conn_set_stoppable(HmConn *c, gboolean stoppable);

/* Wraps a connected socket fd (ownership passes to the connection; it is
 * made non-blocking). timeout_ms applies to each read/write call. */
HmConn *hm_conn_new(int fd, int timeout_ms);

/* Shuts TLS down politely (best effort), closes the fd, frees everything. */
void hm_conn_free(HmConn *conn);

void hm_conn_set_timeout(HmConn *conn, int timeout_ms);
int hm_conn_timeout(const HmConn *conn);
int hm_conn_fd(const HmConn *conn);

/* Asks the kernel to acknowledge at once what arrives next rather than
 * delay the ACK (up to 40 ms): a peer that wrote one reply and holds the
 * next for that ACK (Nagle) answers without the wait. Harmless on
 * non-TCP sockets. */
void hm_conn_quickack(HmConn *conn);
gboolean hm_conn_is_tls(const HmConn *conn);
SSL *hm_conn_ssl(const HmConn *conn);

/* Reads one line of at most max octets including its CRLF (or LF). The
 * whole call must finish within the timeout (a peer dripping one byte at a
 * time cannot hold it longer). On HM_IO_TOO_LONG the caller should answer
 * and usually disconnect; if it reads on, the rest of the long line is
 * discarded first. HM_IO_NUL unless flags has HM_LINE_ALLOW_NUL (the line
 * is consumed).
 * With HM_LINE_SEGMENTS a longer line comes in several calls: segments of
 * at most max octets with line->partial set, then its end as a line of its
 * own (partial FALSE; bare_lf as for any line). A line that fits in max
 * octets is never split, and a segment never ends with the CR of a CRLF
 * (split in two, it would read as a bare LF). */
HmIoStatus hm_conn_read_line(HmConn *conn, gsize max, guint flags, HmLine *line,
                             GError **err);

/* Reads exactly n bytes (IMAP literals, fixed-size bodies) into buf within
 * the timeout. Returns HM_IO_OK, HM_IO_TIMEOUT, or HM_IO_ERROR (EOF included). */
HmIoStatus hm_conn_read_exact(HmConn *conn, void *buf, gsize n, GError **err);

/* Number of received bytes buffered but not yet returned. */
gsize hm_conn_pending(const HmConn *conn);

/* Drops every received byte buffered but not yet returned (and the rest
 * of a line being skipped); returns how many there were. For a server
 * about to start TLS: what a client sent after STARTTLS in the same
 * packet was never protected, so it is thrown away rather than obeyed
 * (CVE-2011-0411), and the handshake goes on. */
gsize hm_conn_discard_input(HmConn *conn);

/* Queues bytes for sending; large queues are flushed as they grow. Returns
 * 0, or -1 with *err set (the flush failed). */
int hm_conn_write(HmConn *conn, const void *data, gsize len, GError **err);
int hm_conn_printf(HmConn *conn, GError **err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Sends everything queued within the timeout. Returns 0 or -1 with *err.
 * A write that failed or timed out (here or in the flush of a write)
 * leaves the connection dead: what was queued is lost, so the peer holds
 * an unknown part of the stream, and every later write, flush, read and
 * TLS start fails at once (-1 or HM_IO_ERROR, HM_ERROR_IO), never sending
 * more output as if the stream were whole. The caller ends the session. */
int hm_conn_flush(HmConn *conn, GError **err);

/* Why the connection is dead (see hm_conn_flush), or NULL while it is
 * not. Valid until hm_conn_free(). */
const char *hm_conn_write_failure(const HmConn *conn);

/* Lets reads go on after a failed write (writes stay dead), for a client
 * that wants what the peer said before it closed or stopped reading: an
 * SMTP server's refusal of MAIL while the message was still going out. */
void hm_conn_read_after_write_failure(HmConn *conn);

/* Starts TLS on the connection as a client (implicit TLS, or after a
 * STARTTLS/STLS reply). Unsent output is flushed first. Received bytes
 * still buffered in clear are refused (-1): they were sent before the
 * handshake, so they cannot be trusted as TLS-protected (CVE-2011-0411).
 * Verification follows ctx and the policy given to hm_tls_client_setup().
 * Returns 0, or -1 with *err set to a one-line reason. */
int hm_conn_start_tls_client(HmConn *conn, SSL_CTX *ctx, const char *host,
                             const guint8 *pin_sha256, GError **err);

/* Starts TLS as a server (implicit TLS listener, or after STARTTLS/STLS).
 * Buffered clear-text input is refused as for the client. */
int hm_conn_start_tls_server(HmConn *conn, SSL_CTX *ctx, GError **err);

#endif
