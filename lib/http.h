/* HTTP(S) through libcurl: the one way homemail speaks HTTP (dyndns
 * providers and address detection; OAuth2 token endpoints later). TLS is
 * verified, redirects are not followed unless asked for, and then only to
 * https (a redirect could carry a password to another host, or to plain
 * http), answers are bounded, every request
 * has a deadline, and nothing secret reaches the log. */
#ifndef HM_HTTP_H
#define HM_HTTP_H

#include <glib.h>

/* Defaults for a request that leaves them 0. */
#define HM_HTTP_TIMEOUT_S 30
#define HM_HTTP_MAX_BODY (64 * 1024)

typedef struct {
	const char *method;          /* NULL: GET; "POST", "PUT", "PATCH", "DELETE" */
	const char *url;             /* http:// or https:// only */
	const char *const *headers;  /* NULL-terminated "Name: value", or NULL */
	const char *body;            /* sent as is, or NULL */
	const char *user;            /* Basic authentication when not NULL */
	const char *password;
	/* The request carries a secret besides user/password (a token in a
	 * header or in the URL): like Basic authentication it is then refused
	 * over plain http to anything but a loopback address. */
	gboolean secret;
	const char *ca_file;         /* trust only this CA bundle; NULL: the system's */
	int family;                  /* AF_INET or AF_INET6 to force one; 0: either */
	guint timeout_s;             /* whole request; 0: HM_HTTP_TIMEOUT_S */
	gsize max_body;              /* 0: HM_HTTP_MAX_BODY */
	const char *log_url;         /* the URL as logged (a token masked); NULL: url */
	const char *user_agent;      /* NULL: "homemail/VERSION" */
	/* Never through a proxy, whatever http_proxy says: a device on the
	 * LAN (the router) is not reachable from the proxy, or is another. */
	gboolean direct;
	/* Follow up to this many redirects, to https:// only (never down to
	 * plain http); 0: none, the 3xx is the answer. */
	guint max_redirects;
	/* Test hook: connect to this "HOST:PORT" ("[V6]:PORT") whatever host
	 * and port the URL names, while TLS still verifies the URL's host
	 * name (libcurl's CONNECT_TO). NULL: where the URL says. */
	const char *connect_to;
} HmHttpRequest;

typedef struct {
	long status;                 /* the HTTP status code */
	GBytes *body;                /* never NULL after success */
	char *content_type;          /* or NULL */
	char *url;                   /* where the answer came from (after
	                              * redirects) */
} HmHttpResponse;

/* Sends req and waits for the whole answer. Returns 0 when the server
 * answered (whatever the status: the caller decides what a 4xx means), or
 * -1 with *err set: HM_ERROR_TLS (certificate not trusted), HM_ERROR_TIMEOUT,
 * HM_ERROR_PROTOCOL (answer too large, bad HTTP), HM_ERROR_FAILED (refused
 * to send a secret over plain http, bad URL), HM_ERROR_IO (connect, DNS).
 * Messages name the logged URL, never a secret. Logs "METHOD URL -> STATUS"
 * at debug level. */
int hm_http_request(const HmHttpRequest *req, HmHttpResponse *resp, GError **err);

/* Frees what hm_http_request() filled. */
void hm_http_response_clear(HmHttpResponse *resp);

/* The body as a NUL-terminated string (NUL bytes inside end it early),
 * newly allocated. */
char *hm_http_body_text(const HmHttpResponse *resp);

/* url with the value of every query parameter named in params (NULL-
 * terminated, e.g. { "token", NULL }) replaced by "********": what a log
 * line may show of a URL that carries a secret. */
char *hm_http_mask_query(const char *url, const char *const *params);

#endif
