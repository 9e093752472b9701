/* libcurl, opened at the first HTTP request rather than linked (see
 * curl-load.c). lib/http is its one user: it calls hm_curl_load() before
 * any curl_* function, then calls them as curl.h declares them. */
#ifndef HM_CURL_LOAD_H
#define HM_CURL_LOAD_H

#include <glib.h>

/* Opens libcurl and runs curl_global_init() the first time; later calls
 * give the first one's result. -1 with ERR when libcurl cannot be used. */
int hm_curl_load(GError **err);

#endif
