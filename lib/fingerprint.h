/* SHA-256 certificate pins as users write them in the config. Pure text
 * code, apart from lib/tls.c so that the config loader (and so every
 * program, the MDA included) can parse a pin without linking OpenSSL. */
#ifndef HM_FINGERPRINT_H
#define HM_FINGERPRINT_H

#include <glib.h>

#define HM_SHA256_LEN 32

/* Parses a pin: 64 hex digits, colons optional, any case, optional
 * "sha256:" prefix. Returns 0, or -1 with *err set. */
int hm_tls_fingerprint_parse(const char *text, guint8 out[HM_SHA256_LEN], GError **err);

/* "sha256:AB:CD:..." — the form users paste into the config. g_free() it. */
char *hm_tls_fingerprint_format(const guint8 fp[HM_SHA256_LEN]);

#endif
