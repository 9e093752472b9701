/* The dyndns2 protocol's answer parser, apart for its unit tests. */
#ifndef HM_DYN_DYNDNS2_H
#define HM_DYN_DYNDNS2_H

#include "dyndns/provider.h"

/* Reads the answer (HTTP status, body) to one request that named n host
 * names, one line per host name in the request's order, and fills
 * res[0..n-1]; sent is the address that was sent. */
void hm_dyn_dyndns2_parse(long status, const char *body, const char *sent, guint n,
                          HmDynResult *res);

#endif
