/* RFC 5322 header sections: iterating fields (folded lines joined),
 * bounded and tolerant of LF or CRLF line ends. */
#ifndef HM_HEADER_H
#define HM_HEADER_H

#include <glib.h>

typedef struct {
	const char *name;    /* points into the message; not NUL-terminated */
	gsize name_len;
	const char *value;   /* raw value after the colon, folding included */
	gsize value_len;
} HmHeaderField;

typedef struct {
	const char *p, *end;
	gboolean done;
} HmHeaderIter;

void hm_header_iter_init(HmHeaderIter *it, const char *msg, gsize len);

/* Next field: 1 and *f filled; 0 at the end of the header section (an
 * empty line, or the end of the message); -1 on a line that is neither a
 * field ("name: value", name of printable ASCII except ':') nor a
 * continuation — iteration stops there. */
int hm_header_next(HmHeaderIter *it, HmHeaderField *f);

/* TRUE if the field's name is name (case-insensitive). */
gboolean hm_header_is(const HmHeaderField *f, const char *name);

/* The value unfolded (CR/LF removed, folds kept as the whitespace that
 * followed them) and trimmed; g_free() it. */
char *hm_header_value(const HmHeaderField *f);

/* Offset of the first body byte (after the empty line), or len when the
 * message has no body; the header section is msg[0..offset). */
gsize hm_header_section_end(const char *msg, gsize len);

/* TRUE if s[0..len) holds an octet of 0x80 or more: 8-bit text, which
 * needs 8BITMIME in a body and SMTPUTF8 in an address or header. */
gboolean hm_has_8bit(const char *s, gsize len);

/* Extracts the address of a header value such as "Name <a@b>" or "a@b"
 * (the last <...> if any, else the trimmed value); g_free() it. */
char *hm_header_addr_spec(const char *value);

#endif
