/* The session processes of lib/server. Forking costs more than most
 * sessions do (page tables, copy-on-write faults, symbol binding in the
 * fresh process), so a process may serve several clients one after the
 * other, as Postfix's smtpd does (max_use): between two it tells the
 * server process it is free and waits for the next connection, which
 * comes over its control socket as an fd. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>

#include "error.h"
#include "log.h"
#include "server-private.h"

void
hm_server_close_inherited(HmServer *sv, int keep_ctl)
{
	GHashTableIter it;
	gpointer w;

	for (guint i = 0; i < sv->listeners->len; i++)
		close(g_array_index(sv->listeners, Listener, i).fd);
	close(sv->sig_fd);
	/* Another session process must see end-of-file when the server
	 * closes its control socket: no copy of the server's end may stay
	 * open here. */
	g_hash_table_iter_init(&it, sv->workers);
	while (g_hash_table_iter_next(&it, NULL, &w))
		if (((Worker *)w)->ctl >= 0 && ((Worker *)w)->ctl != keep_ctl)
			close(((Worker *)w)->ctl);
}

int
hm_server_handoff_send(int ctl, int fd, const HmServerHandoff *h)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = (void *)h, .iov_len = sizeof(*h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
		              .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(ctl, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*h) ? 0 : -1;
}

/* Waits for the next connection. Its fd, or -1 when the server closed the
 * control socket (idle too long, a reload, a stop) or sent nonsense. */
static int
handoff_recv(int ctl, HmServerHandoff *h)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = h, .iov_len = sizeof(*h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
		              .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	do
		n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (fd >= 0 && (n != (ssize_t)sizeof(*h) || (msg.msg_flags & MSG_CTRUNC))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Set by SIGTERM while a session runs with finish_on_stop. */
static volatile sig_atomic_t stop_asked;

static void
on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

/* With finish_on_stop: SIGTERM blocked but for the waits for input that
 * conn may end (hm_conn_set_stop), and caught there. */
static void
stop_between_commands(HmConn *conn)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t term, waiting;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &waiting);
	sigdelset(&waiting, SIGTERM);
	/* No SA_RESTART: the wait must see the stop. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	hm_conn_set_stop(conn, &stop_asked, &waiting);
}

/* One session: TLS for implicit-TLS listeners, then the protocol. */
static int
serve(HmServer *sv, int fd, const HmServerHandoff *h)
{
	const Listener *l = &g_array_index(sv->listeners, Listener, h->listener);
	g_autofree char *ip = hm_sockaddr_host((const struct sockaddr *)&h->addr);
	HmConn *conn = hm_conn_new(fd, sv->p.handshake_timeout_ms);
	HmServerPeer peer = { .addr = (const struct sockaddr *)&h->addr, .ip = ip,
		              .listen = l->spec };
	g_autoptr(GError) err = NULL;
	int rc;

	/* What an earlier session left in OpenSSL's error queue is not this
	 * one's to report. */
	ERR_clear_error();
	if (sv->p.finish_on_stop)
		stop_between_commands(conn);
	if (l->spec->tls && hm_tls_server_start(sv->p.tls, conn, &err) < 0) {
		hm_info("%s TLS handshake failed peer=%s: %s", sv->p.name, ip, err->message);
		rc = 1;
	} else {
		rc = sv->p.session(conn, &peer, sv->p.data);
	}
	hm_conn_free(conn);
	return rc;
}

void
hm_server_worker_main(HmServer *sv, int fd, const HmServerHandoff *h, int ctl)
{
	HmServerHandoff next = *h;
	sigset_t none;
	int rc;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	hm_server_close_inherited(sv, ctl);
	/* The listeners are closed here, but their specs stay readable: the
	 * array is this process's copy. */
	for (guint used = 1;; used++) {
		rc = serve(sv, fd, &next);
		if (stop_asked)
			_exit(rc);
		/* Between sessions a stop ends the process at once. */
		signal(SIGTERM, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (ctl < 0 || used >= sv->p.max_use || write(ctl, "d", 1) != 1 ||
		    (fd = handoff_recv(ctl, &next)) < 0)
			_exit(rc);
		if (next.listener >= sv->listeners->len) {
			close(fd);
			_exit(1);
		}
	}
}
