#include <config.h>

#include <string.h>

#include "fetcher/connect.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/net.h"

static int
handshake(const HmFetchParams *p, HmConn *conn, GError **err)
{
	const HmAccountConf *a = p->acct;

	if (hm_conn_start_tls_client(conn, p->tls_ctx, a->host, a->has_pin ? a->pin : NULL,
	                             err) == 0) {
		hm_debug("%s: TLS %s %s", a->name, SSL_get_version(hm_conn_ssl(conn)),
		         SSL_get_cipher_name(hm_conn_ssl(conn)));
		return 0;
	}
	/* lib/ says "TLS: ..." for verification and handshake failures; the
	 * clear-text-injection refusal and timeouts need the prefix added. */
	if (err != NULL && *err != NULL && !g_str_has_prefix((*err)->message, "TLS"))
		g_prefix_error(err, "TLS: ");
	hm_fetch_error_recode(err, HM_FETCH_ERROR_TLS);
	return -1;
}

HmConn *
hm_fetch_connect(const HmFetchParams *p, GError **err)
{
	const HmAccountConf *a = p->acct;
	HmConn *conn;
	int fd = hm_connect_tcp(a->host, a->port, NULL, p->timeout_ms, err);

	if (fd < 0) {
		hm_fetch_error_recode(err, HM_FETCH_ERROR_NETWORK);
		return NULL;
	}
	conn = hm_conn_new(fd, p->timeout_ms);
	if (a->tls == HM_TLS_MODE_TLS && handshake(p, conn, err) < 0) {
		hm_conn_free(conn);
		return NULL;
	}
	return conn;
}

int
hm_fetch_starttls(const HmFetchParams *p, HmConn *conn, GError **err)
{
	return handshake(p, conn, err);
}

gboolean
hm_fetch_may_send_password(const HmFetchParams *p, HmConn *conn)
{
	return hm_conn_is_tls(conn) || hm_host_is_loopback(p->acct->host) ||
	       p->acct->allow_plaintext;
}

void
hm_fetch_trace(const HmFetchParams *p, gboolean from_client, const char *line)
{
	hm_log_trace(from_client, line, "%s", p->acct->name);
}
