/* The one GError domain of homemail's internal library. */
#ifndef HM_ERROR_H
#define HM_ERROR_H

#include <glib.h>

#define HM_ERROR hm_error_quark()
GQuark hm_error_quark(void);

typedef enum {
	HM_ERROR_FAILED,   /* anything without a more specific code */
	HM_ERROR_PARSE,    /* malformed input text */
	HM_ERROR_IO,       /* system call failed; message carries strerror */
	HM_ERROR_NOSPACE,  /* ENOSPC/EDQUOT: a temporary failure for mail */
	HM_ERROR_TIMEOUT,
	HM_ERROR_TLS,      /* handshake or verification failed */
	HM_ERROR_PROTOCOL, /* the peer broke the protocol */
	HM_ERROR_AUTH,     /* the peer refused our credentials */
} HmErrorCode;

/* Sets *err from errno (HM_ERROR_NOSPACE for ENOSPC/EDQUOT, else
 * HM_ERROR_IO) as "<what>: <strerror>"; errno is preserved. */
void hm_set_error_errno(GError **err, int errnum, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#endif
