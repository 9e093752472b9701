/* HTTP(S) requests through libcurl (see http.h), which lib/curl-load
 * opens at the first request. */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/x509.h>

#include "lib/curl-load.h"
#include "lib/error.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/net.h"

typedef struct {
	GByteArray *buf;
	gsize max;
	gboolean too_large;
} Sink;

static size_t
sink_write(char *data, size_t size, size_t n, void *user)
{
	Sink *s = user;

	if (s->buf->len + n > s->max) {
		s->too_large = TRUE;
		return 0;   /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	g_byte_array_append(s->buf, (const guint8 *)data, (guint)n);
	return size * n;
}

/* A password or token may travel in clear only to this machine. */
static int
check_plaintext(const HmHttpRequest *req, const char *shown, GError **err)
{
	g_autofree char *host = NULL;
	char *h = NULL;
	CURLU *u;

	if (g_str_has_prefix(req->url, "https://"))
		return 0;
	if (!g_str_has_prefix(req->url, "http://")) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s: not an http:// or https:// URL",
		            shown);
		return -1;
	}
	if (req->user == NULL && !req->secret)
		return 0;
	u = curl_url();
	if (u != NULL && curl_url_set(u, CURLUPART_URL, req->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		host = g_strdup(h);
		curl_free(h);
	}
	curl_url_cleanup(u);
	if (host != NULL && host[0] == '[') {
		host[strlen(host) - 1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	if (host != NULL && hm_host_is_loopback(host))
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
	            "%s: refusing to send credentials over plain http (use https://)", shown);
	return -1;
}

static void
set_error(CURLcode rc, const char *errbuf, const Sink *sink, gsize max, const char *shown,
          GError **err)
{
	const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
	int code = HM_ERROR_IO;

	if (sink->too_large) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "%s: answer larger than %zu bytes",
		            shown, max);
		return;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		code = HM_ERROR_TIMEOUT;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		code = HM_ERROR_TLS;
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		code = HM_ERROR_FAILED;
		break;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
		code = HM_ERROR_PROTOCOL;
		break;
	default:
		break;
	}
	g_set_error(err, HM_ERROR, code, "%s: %s", shown, why);
}

static struct curl_slist *
header_list(const HmHttpRequest *req)
{
	struct curl_slist *list = NULL;

	/* libcurl would send "Expect: 100-continue" for larger bodies and
	 * wait a second for an answer most APIs never give. */
	list = curl_slist_append(list, "Expect:");
	for (guint i = 0; req->headers != NULL && req->headers[i] != NULL; i++)
		list = curl_slist_append(list, req->headers[i]);
	return list;
}

static void
set_options(CURL *h, const HmHttpRequest *req, Sink *sink, struct curl_slist *headers,
            struct curl_slist *connect_to, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req->max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)req->max_redirects);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	if (req->direct)
		curl_easy_setopt(h, CURLOPT_PROXY, ""); /* "" overrides the environment */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL) {
		curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	} else {
		/* lib/tls trusts OpenSSL's default store, which honours these two;
		 * libcurl does not, so a box with its own CA would trust it for
		 * mail and not for its dyndns provider or its OAuth2 sign-in. */
		const char *file = getenv(X509_get_default_cert_file_env());
		const char *dir = getenv(X509_get_default_cert_dir_env());

		if (file != NULL && *file != '\0')
			curl_easy_setopt(h, CURLOPT_CAINFO, file);
		if (dir != NULL && *dir != '\0')
			curl_easy_setopt(h, CURLOPT_CAPATH, dir);
	}
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(req->timeout_s ? req->timeout_s
	                                                            : HM_HTTP_TIMEOUT_S));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_IPRESOLVE, req->family == AF_INET    ? CURL_IPRESOLVE_V4
	                                       : req->family == AF_INET6 ? CURL_IPRESOLVE_V6
	                                                                 : CURL_IPRESOLVE_WHATEVER);
	curl_easy_setopt(h, CURLOPT_USERAGENT,
	                 req->user_agent != NULL ? req->user_agent : PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	if (req->method != NULL)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
	}
	if (req->user != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, req->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, req->password != NULL ? req->password : "");
	}
}

int
hm_http_request(const HmHttpRequest *req, HmHttpResponse *resp, GError **err)
{
	const char *shown = req->log_url != NULL ? req->log_url : req->url;
	const char *method = req->method != NULL ? req->method : "GET";
	char errbuf[CURL_ERROR_SIZE] = "";
	Sink sink = { g_byte_array_new(), req->max_body ? req->max_body : HM_HTTP_MAX_BODY, FALSE };
	struct curl_slist *headers, *connect_to = NULL;
	char *ctype = NULL, *where = NULL;
	CURLcode rc;
	CURL *h;

	memset(resp, 0, sizeof(*resp));
	if (hm_curl_load(err) < 0 || check_plaintext(req, shown, err) < 0) {
		g_byte_array_unref(sink.buf);
		return -1;
	}
	h = curl_easy_init();
	if (h == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s: curl_easy_init failed", shown);
		g_byte_array_unref(sink.buf);
		return -1;
	}
	headers = header_list(req);
	if (req->connect_to != NULL) {
		g_autofree char *rule = g_strconcat("::", req->connect_to, NULL);

		connect_to = curl_slist_append(NULL, rule);
	}
	set_options(h, req, &sink, headers, connect_to, errbuf);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
			resp->content_type = g_strdup(ctype);
		curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &where);
		resp->url = g_strdup(where != NULL ? where : req->url);
		resp->body = g_byte_array_free_to_bytes(sink.buf);
		hm_debug("%s %s -> %ld (%zu bytes)", method, shown, resp->status,
		         g_bytes_get_size(resp->body));
	} else {
		set_error(rc, errbuf, &sink, sink.max, shown, err);
		hm_debug("%s %s -> %s", method, shown, (*err)->message);
		g_byte_array_unref(sink.buf);
	}
	curl_slist_free_all(headers);
	curl_slist_free_all(connect_to);
	curl_easy_cleanup(h);
	return rc == CURLE_OK ? 0 : -1;
}

void
hm_http_response_clear(HmHttpResponse *resp)
{
	g_clear_pointer(&resp->body, g_bytes_unref);
	g_clear_pointer(&resp->content_type, g_free);
	g_clear_pointer(&resp->url, g_free);
}

char *
hm_http_body_text(const HmHttpResponse *resp)
{
	gsize len = 0;
	const char *data = resp->body != NULL ? g_bytes_get_data(resp->body, &len) : NULL;

	return g_strndup(data != NULL ? data : "", len);
}

char *
hm_http_mask_query(const char *url, const char *const *params)
{
	const char *q = strchr(url, '?');
	GString *out;

	if (q == NULL)
		return g_strdup(url);
	out = g_string_new_len(url, q - url + 1);
	for (const char *p = q + 1; *p != '\0';) {
		const char *end = p + strcspn(p, "&#");
		const char *eq = memchr(p, '=', (gsize)(end - p));
		gboolean masked = FALSE;

		for (guint i = 0; eq != NULL && params[i] != NULL; i++)
			masked |= (gsize)(eq - p) == strlen(params[i]) &&
			          strncmp(p, params[i], (gsize)(eq - p)) == 0;
		if (masked)
			g_string_append_printf(out, "%.*s=********", (int)(eq - p), p);
		else
			g_string_append_len(out, p, end - p);
		if (*end == '\0' || *end == '#')
			break;
		g_string_append_c(out, '&');
		p = end + 1;
	}
	return g_string_free(out, FALSE);
}
