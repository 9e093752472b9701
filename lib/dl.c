#include <config.h>

#include <dlfcn.h>
#include <string.h>

#include "lib/dl.h"

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
