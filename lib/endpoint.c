/* The endpoint and its credentials as data: what the config loader needs, with
 * no TLS library behind it (endpoint-connect.c is the policy). */
#include <config.h>

#include <string.h>

#include "endpoint.h"

void
hm_endpoint_clear(HmEndpoint *ep)
{
	g_free(ep->host);
	g_free(ep->ca_file);
	g_free(ep->user);
	hm_secret_clear(&ep->password);
	hm_oauth2_conf_clear(&ep->oauth2);
	memset(ep, 0, sizeof(*ep));
}

