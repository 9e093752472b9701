#include <config.h>

#include <string.h>

#include "fetcher/connect.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/endpoint.h"

/* lib/endpoint's errors in the fetcher's domain: a TLS failure, or the
 * network. */
static void
recode(GError **err)
{
	gboolean tls = err != NULL && g_error_matches(*err, HM_ERROR, HM_ERROR_TLS);

	hm_fetch_error_recode(err, tls ? HM_FETCH_ERROR_TLS : HM_FETCH_ERROR_NETWORK);
}

HmConn *
hm_fetch_connect(const HmFetchParams *p, GError **err)
{
	HmConn *conn = hm_endpoint_connect(&p->acct->ep, p->tls_ctx, p->timeout_ms, err);

	if (conn == NULL)
		recode(err);
	return conn;
}

int
hm_fetch_starttls(const HmFetchParams *p, HmConn *conn, GError **err)
{
	if (hm_endpoint_start_tls(&p->acct->ep, p->tls_ctx, conn, err) == 0)
		return 0;
	recode(err);
	return -1;
}

gboolean
hm_fetch_may_send_password(const HmFetchParams *p, HmConn *conn)
{
	return hm_endpoint_may_send_password(&p->acct->ep, conn);
}

void
hm_fetch_trace(const HmFetchParams *p, gboolean from_client, const char *line)
{
	hm_log_trace(from_client, line, "%s", p->acct->name);
}
