/* The connect policy of lib/endpoint.h. */
#include <config.h>

#include "endpoint.h"
#include "error.h"
#include "log.h"
#include "net.h"

SSL_CTX *
hm_endpoint_tls_ctx(const HmEndpoint *ep, GError **err)
{
	if (ep->tls == HM_TLS_MODE_NONE)
		return NULL;
	return hm_tls_client_ctx(ep->ca_file, err);
}

int
hm_endpoint_start_tls(const HmEndpoint *ep, SSL_CTX *ctx, HmConn *conn, GError **err)
{
	if (hm_conn_start_tls_client(conn, ctx, ep->host, ep->has_pin ? ep->pin : NULL, err) == 0) {
		hm_debug("%s: TLS %s %s", ep->host, SSL_get_version(hm_conn_ssl(conn)),
		         SSL_get_cipher_name(hm_conn_ssl(conn)));
		return 0;
	}
	/* lib/tls says "TLS: ..." for verification and handshake failures;
	 * the clear-text-injection refusal and timeouts need it added. */
	if (err != NULL && *err != NULL) {
		if (!g_str_has_prefix((*err)->message, "TLS"))
			g_prefix_error(err, "TLS: ");
		(*err)->domain = HM_ERROR;
		(*err)->code = HM_ERROR_TLS;
	}
	return -1;
}

HmConn *
hm_endpoint_connect(const HmEndpoint *ep, SSL_CTX *ctx, int timeout_ms, GError **err)
{
	int fd = hm_connect_tcp(ep->host, ep->port, NULL, timeout_ms, err);
	HmConn *conn;

	if (fd < 0)
		return NULL;
	conn = hm_conn_new(fd, timeout_ms);
	if (ep->tls == HM_TLS_MODE_TLS && hm_endpoint_start_tls(ep, ctx, conn, err) < 0) {
		hm_conn_free(conn);
		return NULL;
	}
	return conn;
}

gboolean
hm_endpoint_may_send_password(const HmEndpoint *ep, HmConn *conn)
{
	return hm_conn_is_tls(conn) || hm_host_is_loopback(ep->host) || ep->allow_plaintext;
}
