/* The Cloudflare API v4 provider's answer parsing and request bodies:
 * pure functions, apart for their unit tests and fuzz target. */
#ifndef HM_DYN_CLOUDFLARE_H
#define HM_DYN_CLOUDFLARE_H

#include <json-glib/json-glib.h>

#include "dyndns/provider.h"

/* Cloudflare's API: used when a record sets no server. */
#define HM_DYN_CF_SERVER "https://api.cloudflare.com/client/v4"

/* The API answers a lookup with one page of at most 100 small objects; a
 * bound far above that only stops a broken or hostile server. */
#define HM_DYN_CF_MAX_ANSWER (256 * 1024)

/* Reads one API answer (HTTP status, body of len bytes, not necessarily
 * NUL-terminated). Returns its "result" member (a new node; a JSON null
 * when the answer has none) when the status is 2xx and "success" is true.
 * Otherwise returns NULL with *res set: HM_DYN_HOLD with the API's own
 * message for an authentication error (error codes 9103, 9109, 10000, or
 * HTTP 401/403), HM_DYN_BACKOFF for 429, 5xx, an answer that is not the
 * API's JSON, and every other failure (with the API's message when it
 * gave one). */
JsonNode *hm_dyn_cf_answer(long status, const char *body, gsize len, HmDynResult *res);

/* The id of the zone named zone (case-insensitive) in the result of
 * GET /zones?name=ZONE (an array of zone objects), newly allocated; NULL
 * when there is none, or the result is malformed. Ids are checked to be
 * [0-9A-Za-z] (they go into URL paths). */
char *hm_dyn_cf_zone_id(JsonNode *result, const char *zone);

/* Reads the result of GET /zones/ID/dns_records?type=RR&name=HOST (an
 * array) and counts the records of type rr named host (case-insensitive).
 * Returns that count, with *id and *content (newly allocated) of the first
 * when there is at least one; -1 when the result is malformed (not an
 * array, or a matching record without a valid id or content). */
int hm_dyn_cf_find_record(JsonNode *result, const char *rr, const char *host, char **id,
                          char **content);

/* The JSON body that creates a record: type rr, name host, content addr,
 * ttl (1: automatic), not proxied. Newly allocated. */
char *hm_dyn_cf_create_body(const char *rr, const char *host, const char *addr, guint ttl);

/* The JSON body that changes a record's content to addr. */
char *hm_dyn_cf_patch_body(const char *addr);

/* The zones to look a host name up in when no zone is configured, from
 * the longest (the name itself) to the shortest of at least two labels:
 * "a.b.example.com" -> { "a.b.example.com", "b.example.com", "example.com" }.
 * NULL-terminated; g_strfreev() it. */
char **hm_dyn_cf_zone_candidates(const char *hostname);

#endif
