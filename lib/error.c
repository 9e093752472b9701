#include <config.h>

#include <errno.h>
#include <string.h>

#include "error.h"

G_DEFINE_QUARK(homemail-error-quark, hm_error)

void
hm_set_error_errno(GError **err, int errnum, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	g_autofree char *what = NULL;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(err, HM_ERROR,
	            (errnum == ENOSPC || errnum == EDQUOT) ? HM_ERROR_NOSPACE : HM_ERROR_IO,
	            "%s: %s", what, g_strerror(errnum));
	errno = saved;
}
