/* Libraries opened with dlopen() at their first use instead of linked
 * (lib/curl-load.c, lib/json-load.c): a linked library costs every
 * process its loading and relocation at start, used or not. */
#ifndef HM_DL_H
#define HM_DL_H

#include <glib.h>

/* A function to look up: where its pointer goes, and that pointer's size. */
typedef struct {
	const char *name;
	void *field;
	gsize size;
} HmDlSym;

/* Opens soname (RTLD_NOW | RTLD_LOCAL; it stays open for the life of the
 * process) and fills each of the n syms. NULL when every one was found;
 * otherwise why not, in words (g_free()). */
char *hm_dl_open(const char *soname, const HmDlSym *syms, gsize n);

/* For the files that define a library's functions under the library's
 * own names and forward each call (lib/ssl-load.c, lib/ldns-load.c):
 * hm_dl_open() the first time, once in the process whatever the threads.
 * A library that cannot be opened ends the process with a message naming
 * the Debian package that has it, as the dynamic loader would have ended
 * it at start had the library been linked: a forwarder has no way to say
 * "not loaded" that its callers would check. */
void hm_dl_require(GOnce *once, const char *soname, const HmDlSym *syms, gsize n,
                   const char *package);

/* Whether hm_dl_require(once, ...) has opened its library in this process
 * (it never returns otherwise); loads nothing. */
gboolean hm_dl_loaded(GOnce *once);

/* The pieces of such a file, for its list of
 * F(return type, name, (parameters), (arguments)). */
#define HM_DL_FIELD(ret, name, params, args) ret(*name) params;
#define HM_DL_SYM(ret, name, params, args) { #name, &fn.name, sizeof(fn.name) },
#define HM_DL_FORWARD(ret, name, params, args) \
	ret name params                                \
	{                                              \
		load();                                \
		return fn.name args;                   \
	}
#define HM_DL_FORWARD_VOID(ret, name, params, args) \
	ret name params                                     \
	{                                                   \
		load();                                     \
		fn.name args;                               \
	}

#endif
