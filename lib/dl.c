#include <config.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dl.h"
#include "lib/log.h"

char *
hm_dl_open(const char *soname, const HmDlSym *syms, gsize n)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL)
		return g_strdup(dlerror());
	for (gsize i = 0; i < n; i++) {
		/* dlsym() gives an object pointer; POSIX guarantees it converts
		 * to the function's pointer, which memcpy does without a cast
		 * C forbids. */
		void *p = dlsym(lib, syms[i].name);

		if (p == NULL)
			return g_strdup_printf("%s has no %s", soname, syms[i].name);
		memcpy(syms[i].field, &p, syms[i].size);
	}
	return NULL;
}

typedef struct {
	const char *soname;
	const HmDlSym *syms;
	gsize n;
} Want;

static gpointer
open_once(gpointer data)
{
	const Want *w = data;

	return hm_dl_open(w->soname, w->syms, w->n);
}

void
hm_dl_require(GOnce *once, const char *soname, const HmDlSym *syms, gsize n,
              const char *package)
{
	Want w = { soname, syms, n };
	const char *why = g_once(once, open_once, &w);

	if (G_UNLIKELY(why != NULL)) {
		hm_log(HM_LOG_ERR, "cannot load %s: %s (Debian's package %s has it)", soname, why,
		       package);
		abort();
	}
}

gboolean
hm_dl_loaded(GOnce *once)
{
	/* As g_once() reads it on its fast path. */
	return __atomic_load_n(&once->status, __ATOMIC_ACQUIRE) == G_ONCE_STATUS_READY;
}
