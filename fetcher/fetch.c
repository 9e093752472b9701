/* The fetch backends' shared parts (fetch.h): the error domain, items,
 * and the choice of backend. */
#include <config.h>

#include "fetcher/fetch.h"

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
