/* Base64 (RFC 4648) for SASL and headers: GLib encodes; decoding is strict
 * because SASL input comes from the network. */
#ifndef HM_BASE64_H
#define HM_BASE64_H

#include <glib.h>

/* Encodes len bytes; returns a NUL-terminated string, g_free() it. */
char *hm_base64_encode(const void *data, gsize len);

/* Decodes exactly len characters of canonical base64 (alphabet A-Z a-z 0-9
 * + /, padding '=' only at the end, total length a multiple of 4, no spaces,
 * unused bits zero). Returns a GBytes (possibly empty), or NULL with *err
 * set. The decoded data is followed by a NUL not counted in its size, so
 * it may be read as a C string when it holds no NUL. */
GBytes *hm_base64_decode(const char *text, gsize len, GError **err);

#endif
