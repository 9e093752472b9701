/* Strict number parsing: the one place text becomes a number. */
#ifndef HM_PARSE_H
#define HM_PARSE_H

#include <glib.h>

/* Parses the decimal digits s[0..len) into *out. Rejects an empty string, a
 * sign, spaces, any non-digit, overflow and values outside [min, max]
 * ("4294967297" never becomes 1). Returns 0, or -1 leaving *out untouched. */
int hm_parse_uint_n(const char *s, gsize len, guint64 min, guint64 max, guint64 *out);

/* As hm_parse_uint_n() on a NUL-terminated string. */
int hm_parse_uint(const char *s, guint64 min, guint64 max, guint64 *out);

#endif
