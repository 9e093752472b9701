/* Stored message bytes <-> the wire form of POP3 RETR / SMTP DATA: CRLF line
 * ends, a leading '.' doubled, ".\r\n" at the end. Byte-level state
 * machines, so input may arrive in chunks split anywhere. */
#ifndef HM_DOTSTUFF_H
#define HM_DOTSTUFF_H

#include <glib.h>

typedef struct {
	gboolean at_line_start;
	gboolean pending_cr;   /* a CR was seen and its successor not yet */
	gboolean empty;        /* nothing fed yet */
	gboolean crlf_only;    /* BDAT: line ends only, no dots, no "." line */
} HmDotStuffer;

void hm_dotstuff_init(HmDotStuffer *s);

/* For BDAT (RFC 3030) chunks: line ends made CRLF as hm_dotstuff_feed()
 * does, but no dot doubled and no final ".\r\n" (only the CRLF an
 * unterminated last line gets), so the output is exactly
 * hm_crlf_counter_total() octets. */
void hm_dotstuff_init_crlf(HmDotStuffer *s);

/* Appends the wire form of in[0..len) to out: a bare LF becomes CRLF, an
 * existing CRLF stays, a bare CR is passed on as it is, and a '.' at the
 * start of a line is doubled. */
void hm_dotstuff_feed(HmDotStuffer *s, const char *in, gsize len, GString *out);

/* Ends the message: a CRLF if the last line was unterminated, then ".\r\n". */
void hm_dotstuff_finish(HmDotStuffer *s, GString *out);

/* Counts the CRLF size of stored bytes (what RFC 1939 sizes are): the
 * bytes hm_dotstuff_feed() would produce without the stuffing dots, plus
 * a CRLF when the message does not end with a line end. Streaming. */
typedef struct {
	guint64 size;
	gboolean pending_cr;
	gboolean at_line_start;
	gboolean empty;
} HmCrlfCounter;

void hm_crlf_counter_init(HmCrlfCounter *c);
void hm_crlf_counter_feed(HmCrlfCounter *c, const char *in, gsize len);
/* The total, including the final CRLF an unterminated last line gets. */
guint64 hm_crlf_counter_total(const HmCrlfCounter *c);

#endif
