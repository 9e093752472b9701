/* Said once per start, so libsystemd is opened for it and closed again:
 * linked, it and the libraries under it (libgcrypt, the compressors)
 * stayed resident, 1 MB of an idle relay's 7.8. */
#include <config.h>

#ifdef HAVE_LIBSYSTEMD
#include <dlfcn.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#endif

#include "lib/log.h"
#include "lib/notify.h"

void
hm_notify_ready(const char *who)
{
#ifdef HAVE_LIBSYSTEMD
	void *lib;
	__typeof__(sd_notify) *notify;
	int r = 0;

	/* No NOTIFY_SOCKET: no one listens. */
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	notify = lib != NULL ? (__typeof__(sd_notify) *)dlsym(lib, "sd_notify") : NULL;
	/* 1: NOTIFY_SOCKET goes from the environment, so the sessions and
	 * helpers forked later do not inherit it. */
	if (notify == NULL || (r = notify(1, "READY=1")) < 0)
		hm_err("cannot tell the service manager %s is ready: %s", who,
		       notify == NULL ? dlerror() : g_strerror(-r));
	if (lib != NULL)
		dlclose(lib);
#else
	(void)who;
#endif
}
