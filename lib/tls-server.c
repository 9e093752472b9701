/* A daemon's TLS server context, made where it is first used (tls.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"
#include "error.h"
#include "tls.h"

struct HmTlsServer {
	GBytes *cert;    /* PEM: the certificate, then its chain */
	GBytes *key;     /* PEM */
	char *cert_file; /* the names, for messages */
	char *key_file;
	HmTlsProfile profile;
	SSL_CTX *ctx;    /* once made */
};

SSL_CTX *
hm_tls_server_get(HmTlsServer *ts, GError **err)
{
	if (ts->ctx == NULL)
		ts->ctx = hm_tls_server_ctx_pem(ts->cert, ts->cert_file, ts->key, ts->key_file,
		                                ts->profile, err);
	return ts->ctx;
}

/* Makes the context once in a child process, which answers through a
 * pipe (a NUL byte when it worked, else what failed): the files are
 * checked at start-up while this process loads none of OpenSSL's
 * algorithms. The answer, not the exit status, counts: a parent that
 * ignores SIGCHLD has none. Where fork() fails, the context is made here
 * instead. 0, or -1 with *err. */
static int
check_in_child(HmTlsServer *ts, GError **err)
{
	g_autoptr(GBytes) answer = NULL;
	gsize len = 0;
	const char *why;
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return hm_tls_server_get(ts, err) != NULL ? 0 : -1;
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return hm_tls_server_get(ts, err) != NULL ? 0 : -1;
	}
	if (pid == 0) {
		g_autoptr(GError) e = NULL;

		close(fds[0]);
		if (hm_tls_server_get(ts, &e) != NULL)
			_exit(write(fds[1], "", 1) == 1 ? 0 : 2);
		_exit(write(fds[1], e->message, strlen(e->message)) > 0 ? 1 : 2);
	}
	close(fds[1]);
	answer = hm_read_fd(fds[0], 1024, "the TLS check", NULL);
	close(fds[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	why = answer != NULL ? g_bytes_get_data(answer, &len) : NULL;
	if (len == 1 && why[0] == '\0')
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_TLS, "%.*s", (int)len,
	            len > 0 ? why : "TLS: checking the certificate and key failed");
	return -1;
}

int
hm_tls_server_start(HmTlsServer *ts, HmConn *conn, GError **err)
{
	SSL_CTX *ctx = hm_tls_server_get(ts, err);

	return ctx != NULL ? hm_conn_start_tls_server(conn, ctx, err) : -1;
}

HmTlsServer *
hm_tls_server_new(const char *cert_file, const char *key_file, HmTlsProfile profile,
                  GError **err)
{
	HmTlsServer *ts = g_new0(HmTlsServer, 1);

	ts->cert_file = g_strdup(cert_file);
	ts->key_file = g_strdup(key_file);
	ts->profile = profile;
	if ((ts->cert = hm_read_file(cert_file, HM_TLS_PEM_MAX, err)) == NULL ||
	    (ts->key = hm_read_file(key_file, HM_TLS_PEM_MAX, err)) == NULL ||
	    check_in_child(ts, err) < 0) {
		hm_tls_server_free(ts);
		return NULL;
	}
	return ts;
}

void
hm_tls_server_free(HmTlsServer *ts)
{
	if (ts == NULL)
		return;
	if (ts->ctx != NULL)
		SSL_CTX_free(ts->ctx);
	g_clear_pointer(&ts->key, g_bytes_unref);
	g_clear_pointer(&ts->cert, g_bytes_unref);
	g_free(ts->cert_file);
	g_free(ts->key_file);
	g_free(ts);
}
