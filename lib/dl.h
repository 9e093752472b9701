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

#endif
