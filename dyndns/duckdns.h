/* The DuckDNS provider's pure parts, apart for their unit tests. */
#ifndef HM_DYN_DUCKDNS_H
#define HM_DYN_DUCKDNS_H

#include "dyndns/provider.h"

/* DuckDNS's own server: used when a record sets no server. */
#define HM_DYN_DUCKDNS_SERVER "https://www.duckdns.org"

/* Reads the answer (HTTP status, body) to one update request and fills
 * *res: "OK" (the first line) under 200 is HM_DYN_OK; "KO" is
 * HM_DYN_HOLD (a wrong token or a domain not in the account); HTTP 5xx
 * and 429 are HM_DYN_BACKOFF, and so is anything else, since an answer we
 * do not understand must not be repeated at once. */
void hm_dyn_duckdns_parse(long status, const char *body, HmDynResult *res);

/* The DuckDNS name of a host name: "box" for "box.duckdns.org" or "box"
 * (what the domains= parameter takes); newly allocated. */
char *hm_dyn_duckdns_name(const char *hostname);

#endif
