/* json-glib, opened at the first use of JSON rather than linked (see
 * json-load.c). Its users (lib/oauth2-*, lib/sasl-oauth, dyndns's
 * Cloudflare client) call hm_json_load() before any json_* function, then
 * call them as json-glib's headers declare them. */
#ifndef HM_JSON_LOAD_H
#define HM_JSON_LOAD_H

#include <glib.h>

/* Opens json-glib the first time; later calls give the first one's
 * result. -1 with ERR when it cannot be used. */
int hm_json_load(GError **err);

#endif
