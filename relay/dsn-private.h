/* What the parts of the DSN builder share (relay/dsn.c assembles,
 * relay/dsn-text.c writes the human part, relay/dsn-format.c the
 * message/delivery-status fields). Not for use outside relay/dsn*.c. */
#ifndef RELAY_DSN_PRIVATE_H
#define RELAY_DSN_PRIVATE_H

#include "relay/dsn.h"

/* RFC 5322 2.1.1: a line is at most 998 octets without its CRLF. */
#define RELAY_DSN_LINE_MAX 998
/* RFC 5322 2.1.1's SHOULD: fold header fields before 78 characters. */
#define RELAY_DSN_FOLD_AT 78
/* The human text is wrapped here, leaving room for quoting in replies. */
#define RELAY_DSN_WRAP 72
/* A remote's reply joined from many lines could be long; a report quotes
 * at most this many octets of one text. */
#define RELAY_DSN_TEXT_MAX 4000

/* What the third part of a DSN holds. */
typedef enum {
	RELAY_DSN_RETURN_HEADERS, /* the header section, as asked or by default */
	RELAY_DSN_RETURN_FULL,    /* the whole message (a bounce with RET=FULL) */
	RELAY_DSN_RETURN_FORCED,  /* the header section: the whole could not travel */
	RELAY_DSN_RETURN_TOO_BIG, /* the header section: with the whole, the DSN
	                           * would exceed RelayDsnParams.max_size */
} RelayDsnReturn;

/* The kind of DSN an action makes: RELAY_NOTIFY_FAILURE, _DELAY or
 * _SUCCESS. */
RelayNotify relay_dsn_kind(RelayDsnAction action);

/* A copy of s fit for a report: control characters (C0, DEL, C1 — CR, LF
 * and NUL included) become spaces, runs of white space one space, the
 * ends trimmed; octets that are not UTF-8 become "?", and so does every
 * non-ASCII character unless utf8; cut to RELAY_DSN_TEXT_MAX octets (at a
 * character boundary, "..." appended). NULL gives "". g_free() it. */
char *relay_dsn_clean(const char *s, gboolean utf8);

/* A host name fit for a report: only letters, digits and "-._:[]" of s
 * (which covers address literals) are kept; "invalid" if none is.
 * g_free() it. */
char *relay_dsn_host(const char *s);

/* TRUE if s[0..len) has an octet >= 0x80. */
gboolean relay_dsn_is_8bit(const char *s, gsize len);

/* The largest n <= room such that s[0..n) ends at a UTF-8 character
 * boundary (s has more than room octets); room itself when there is none,
 * so that junk still makes progress. */
gsize relay_dsn_utf8_cut(const char *s, gsize room);

/* Splits a diagnostic "type; text" into its type ("smtp") and text,
 * both cleaned (relay_dsn_clean()). One without a type (our own words)
 * gets "X-homemail". NULL or empty gives NULL in both. g_free() them. */
void relay_dsn_diag_split(const char *diag, gboolean utf8, char **type, char **text);

/* The recipient's status if it is a valid RFC 3463 code ("5.1.1"), else
 * "5.0.0", "4.0.0" or "2.0.0" by its action's kind. */
const char *relay_dsn_status_code(const RelayDsnRcpt *r);

/* Appends "Name: value" CRLF, value as given (already clean: no CR or LF),
 * folded before white space so lines stay near RELAY_DSN_FOLD_AT where
 * the value allows; a run of non-blanks too long for one line is broken
 * (at a UTF-8 character boundary) by an inserted fold, the only way to
 * keep RELAY_DSN_LINE_MAX. */
void relay_dsn_field_append(GString *out, const char *name, const char *value);

/* Appends the body of the message/delivery-status (or, when global, the
 * message/global-delivery-status) part: the per-message fields, then a
 * group of fields per recipient, each group after an empty line. Lines
 * end in CRLF. */
void relay_dsn_status_append(GString *out, const RelayDsnParams *p,
                             const RelayDsnRcpt *const *rcpts, gsize n, gboolean global);

/* Appends the human-readable explanation (text/plain body, CRLF lines
 * wrapped at RELAY_DSN_WRAP): what happened, whom to ask, then one
 * paragraph per recipient with the remote's own words; returned says what
 * the third part holds. */
void relay_dsn_text_append(GString *out, const RelayDsnParams *p, const RelayDsnRcpt *const *rcpts,
                           gsize n, RelayNotify kind, RelayDsnReturn returned);

#endif
