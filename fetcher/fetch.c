/* The fetch backends' shared parts (fetch.h): the error domain, items,
 * and the choice of backend. */
#include <config.h>

#include "fetcher/fetch.h"
#include "lib/error.h"

G_DEFINE_QUARK(hm-fetch-error-quark, hm_fetch_error)

void
hm_fetch_item_free(HmFetchItem *item)
{
	if (item == NULL)
		return;
	g_free(item->uid);
	g_free(item->message_id);
	g_free(item);
}

const HmFetchBackend *
hm_fetch_backend(const HmAccountConf *acct)
{
	return acct->protocol == HM_PROTO_IMAP ? &hm_fetch_imap : &hm_fetch_pop3;
}

void
hm_fetch_error_recode(GError **err, HmFetchError code)
{
	if (err != NULL && *err != NULL && (*err)->domain != HM_FETCH_ERROR) {
		(*err)->domain = HM_FETCH_ERROR;
		(*err)->code = code;
	}
}

void
hm_fetch_error_from_lib(GError **err)
{
	HmFetchError code = HM_FETCH_ERROR_LOCAL;

	if (err == NULL || *err == NULL || (*err)->domain != HM_ERROR)
		return;
	switch ((*err)->code) {
	case HM_ERROR_TIMEOUT:
	case HM_ERROR_IO:
		code = HM_FETCH_ERROR_NETWORK;
		break;
	case HM_ERROR_PROTOCOL:
	case HM_ERROR_PARSE:
		code = HM_FETCH_ERROR_PROTOCOL;
		break;
	case HM_ERROR_TLS:
		code = HM_FETCH_ERROR_TLS;
		break;
	case HM_ERROR_AUTH:
		code = HM_FETCH_ERROR_AUTH;
		break;
	default:
		break;
	}
	hm_fetch_error_recode(err, code);
}

int
hm_fetch_lib(int rc, GError **err)
{
	if (rc < 0)
		hm_fetch_error_from_lib(err);
	return rc;
}
