/* A small RFC 5322 address-list tokenizer (3.4, with the obsolete forms of
 * 4.4 tolerated) for the header rewriting: it reports where each addr-spec
 * lies in a raw field value, so a rewrite replaces those bytes only and
 * leaves display names, comments, quoting and folding as they were. */
#ifndef RELAY_ADDRLIST_H
#define RELAY_ADDRLIST_H

#include <glib.h>

/* Nesting depth of comments beyond which a value is refused: real mail
 * nests two or three levels, and a cap bounds the work on crafted input. */
#define RELAY_ADDRLIST_MAX_COMMENT_DEPTH 64

typedef struct {
	gsize start, end;             /* the addr-spec: value[start..end) */
	gsize outer_start, outer_end; /* "<...>" brackets included for a name-addr,
	                               * else the addr-spec itself: CFWS (a fold)
	                               * may stand before and after this range */
	char *addr;                   /* the addr-spec without CFWS and folds:
	                               * "local@domain" (a quoted local part keeps
	                               * its quotes), or the bare local part */
	gboolean no_domain;           /* a lone local part ("From: root") */
} RelayAddrSpan;

/* Parses value[0..len) (a raw field value: folds, comments, quoted strings
 * included) as an address-list: mailboxes, name-addrs, groups (empty ones
 * too), obsolete routes ("<@a,@b:u@d>"), empty list elements and CFWS
 * between words. A lone local part without a domain is accepted only as
 * the whole list ("From: root (Cron Daemon)"), as written by local
 * programs; anywhere else a word list without "@" is a display name that
 * lost its quotes ("Smith, John <j@x>") and the value is refused. An empty
 * angle-addr "<>" yields no span. Returns the spans in order (a GArray of
 * RelayAddrSpan that frees each addr; g_array_unref() it), possibly empty
 * for an empty value or an empty group, or NULL when the value is no
 * address-list (unbalanced quote, bracket or comment, a control character,
 * misplaced specials, comments nested deeper than
 * RELAY_ADDRLIST_MAX_COMMENT_DEPTH). */
GArray *relay_addrlist_parse(const char *value, gsize len);

#endif
