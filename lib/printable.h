/* Text from a peer made safe to show on a terminal or in a log. */
#ifndef HM_PRINTABLE_H
#define HM_PRINTABLE_H

#include <glib.h>

/* A copy of text (len bytes, or up to its NUL when len < 0) with every
 * control character — C0, DEL and C1, newlines included — every Unicode
 * line or paragraph separator and bidirectional control, and every byte
 * that is not UTF-8 replaced by '?': a provider's words must not move the
 * cursor, ring the bell, start a line that looks like ours, or make one
 * read in another order. NULL gives
 * NULL. g_free() the result. */
char *hm_printable(const char *text, gssize len);

#endif
