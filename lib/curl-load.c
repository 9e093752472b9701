/* libcurl opened with dlopen() at the first HTTP request.
 *
 * A program linked with libcurl pays for it at start, whether it makes a
 * request or not: about 5 MB of resident memory per process, most of it
 * the constructors of libcurl's dependencies (GnuTLS, p11-kit, Kerberos,
 * LDAP...) that run as they load. The relay and the fetcher need HTTP only
 * to refresh an OAuth2 token, which most setups never do, and they are the
 * bundle's long-running processes (issue 13's idle-memory budget). So no
 * program links libcurl: this file defines the libcurl functions lib/http
 * calls, under libcurl's own names, so that curl.h's prototypes and its
 * compile-time option type checks still apply to every call, and each
 * forwards to the function of the same name in the library opened here.
 * A program that linked libcurl as well would have two definitions of
 * each; none does (Makefile.am: HM_HTTP_LIBS). */
#include <config.h>

#include <stdarg.h>

#include <curl/curl.h>

#include "lib/curl-load.h"
#include "lib/dl.h"
#include "lib/error.h"

/* libcurl's soname since 7.16 (2006); configure asks for 7.74 or later. */
#define LIBCURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
	void (*url_cleanup)(CURLU *);
	void (*free)(void *);
} fn;

#define SYM(field, name) { name, &fn.field, sizeof(fn.field) }

static const HmDlSym syms[] = {
	SYM(global_init, "curl_global_init"),
	SYM(easy_init, "curl_easy_init"),
	SYM(easy_setopt, "curl_easy_setopt"),
	SYM(easy_perform, "curl_easy_perform"),
	SYM(easy_getinfo, "curl_easy_getinfo"),
	SYM(easy_cleanup, "curl_easy_cleanup"),
	SYM(easy_strerror, "curl_easy_strerror"),
	SYM(slist_append, "curl_slist_append"),
	SYM(slist_free_all, "curl_slist_free_all"),
	SYM(url, "curl_url"),
	SYM(url_set, "curl_url_set"),
	SYM(url_get, "curl_url_get"),
	SYM(url_cleanup, "curl_url_cleanup"),
	SYM(free, "curl_free"),
};

/* NULL when libcurl is ready, or why it is not (kept for every caller). */
static gpointer
load(gpointer unused)
{
	char *why;
	CURLcode rc;

	(void)unused;
	if ((why = hm_dl_open(LIBCURL_SONAME, syms, G_N_ELEMENTS(syms))) != NULL)
		return why;
	rc = fn.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return g_strdup_printf("curl_global_init: %s", fn.easy_strerror(rc));
	return NULL;
}

int
hm_curl_load(GError **err)
{
	static GOnce once = G_ONCE_INIT;
	const char *why = g_once(&once, load, NULL);

	if (why == NULL)
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
	            "HTTP is not available: %s (Debian's package libcurl4 has it)", why);
	return -1;
}

/* The forwarders. curl.h defines curl_easy_setopt and curl_easy_getinfo
 * as type-checking macros too: the parentheses keep them out. */

CURLcode
curl_global_init(long flags)
{
	return fn.global_init(flags);
}

CURL *
curl_easy_init(void)
{
	return fn.easy_init();
}

/* The value's type follows from the option's number, as in libcurl. */
CURLcode
(curl_easy_setopt)(CURL *h, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;

	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.easy_setopt(h, option, va_arg(ap, long));
	else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB)
		rc = fn.easy_setopt(h, option, va_arg(ap, curl_off_t));
	else    /* objects, strings, callbacks, blobs: a pointer */
		rc = fn.easy_setopt(h, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_perform(CURL *h)
{
	return fn.easy_perform(h);
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode
(curl_easy_getinfo)(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	va_start(ap, info);
	rc = fn.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

void
curl_easy_cleanup(CURL *h)
{
	fn.easy_cleanup(h);
}

const char *
curl_easy_strerror(CURLcode rc)
{
	return fn.easy_strerror(rc);
}

struct curl_slist *
curl_slist_append(struct curl_slist *list, const char *data)
{
	return fn.slist_append(list, data);
}

void
curl_slist_free_all(struct curl_slist *list)
{
	fn.slist_free_all(list);
}

CURLU *
curl_url(void)
{
	return fn.url();
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return fn.url_set(u, what, part, flags);
}

CURLUcode
curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	return fn.url_get(u, what, part, flags);
}

void
curl_url_cleanup(CURLU *u)
{
	fn.url_cleanup(u);
}

void
curl_free(void *p)
{
	fn.free(p);
}
