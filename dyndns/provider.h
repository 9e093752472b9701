/* The providers: one small file each behind this descriptor (dyndns2.c,
 * duckdns.c, cloudflare.c, rfc2136.c). A provider turns "this record
 * should now point at this address" into its protocol and says, in one
 * of four outcomes, what the scheduler must do next. */
#ifndef HM_DYN_PROVIDER_H
#define HM_DYN_PROVIDER_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "dyndns/ipaddr.h"
#include "lib/http.h"

typedef enum {
	/* The name points at the address now (dyndns2 good/nochg, DuckDNS
	 * OK, Cloudflare success, DNS NOERROR). */
	HM_DYN_OK,
	/* The provider refuses the record as configured (badauth, nohost,
	 * notfqdn, abuse, a wrong TSIG key...): asking again cannot help, so
	 * the record stays silent until its config or secret changes. */
	HM_DYN_HOLD,
	/* The provider has trouble or asks us to wait (911, dnserr, HTTP 5xx,
	 * rate limits, SERVFAIL): back off at least 30 minutes, growing. */
	HM_DYN_BACKOFF,
	/* We could not reach the provider or did not understand it (network,
	 * timeout, TLS): try again at the next run. */
	HM_DYN_RETRY,
} HmDynOutcome;

typedef struct {
	HmDynOutcome outcome;
	char *code;                  /* the provider's word: "good", "badauth", "NOTAUTH"... */
	char *text;                  /* one line in words, for the log and status */
} HmDynResult;

/* One update: a record, one address family, the address. */
typedef struct {
	const HmDnsRecordConf *rec;
	HmIpAddr addr;
	const char *secret;          /* password, token or TSIG secret (base64) */
} HmDynUpdate;

typedef struct {
	const char *name;            /* the config's provider = "..." */
	/* Sends n updates (one per record; records sharing a server and
	 * credentials may go in one request, as dyndns2 allows) and fills
	 * res[0..n-1]. Never fails as a whole: every result says what
	 * happened to its record. Logs at debug level only what may be shown
	 * (no secret). */
	void (*update)(const HmDynUpdate *u, guint n, HmDynResult *res);
	/* What update() would send for u, secrets masked: --dry-run. */
	char *(*describe)(const HmDynUpdate *u);
	/* TRUE when u and v can go in one request (same server, user,
	 * secret and family); NULL: never. */
	gboolean (*can_batch)(const HmDynUpdate *u, const HmDynUpdate *v);
} HmDynProvider;

extern const HmDynProvider hm_dyn_dyndns2;
extern const HmDynProvider hm_dyn_duckdns;
extern const HmDynProvider hm_dyn_cloudflare;
extern const HmDynProvider hm_dyn_rfc2136;

/* The provider named name, or NULL. */
const HmDynProvider *hm_dyn_provider(const char *name);

/* The secret r's provider sends (the TSIG secret for rfc2136, else the
 * password or token); NULL when it could not be read. */
const char *hm_dyn_record_secret(const HmDnsRecordConf *r);

/* Sets res (freeing what it held) to outcome, code (may be NULL) and the
 * printf-formatted text. */
void hm_dyn_result_set(HmDynResult *res, HmDynOutcome outcome, const char *code,
                       const char *fmt, ...) G_GNUC_PRINTF(4, 5);

void hm_dyn_result_clear(HmDynResult *res);

/* Sends req (lib/http.h) for the n records of res. On failure (network,
 * TLS, timeout) sets every res[i] to HM_DYN_RETRY with the reason and
 * returns NULL; otherwise the answer's body as text (g_free() it) with
 * its HTTP status in *status. */
char *hm_dyn_http_text(const HmHttpRequest *req, guint n, HmDynResult *res,
                       long *status);

/* "A" or "AAAA" for the family of a. */
const char *hm_dyn_rrtype(const HmIpAddr *a);

#endif
