/* IMAP4rev1 server responses (RFC 3501 section 7): a tokenizer that turns
 * one complete response -- a line plus any number of literals {n}, each
 * followed by the rest of the line -- into a tree of tokens, with every
 * length bounded. The parser is pure: it pulls lines and literals through
 * an HmImapSource, so tests and the fuzzer feed it from a buffer, and
 * hm_imap_read() runs it over the clients' engine (lib/pingpong). Literal8 (~{n}) and non-
 * synchronising literals ({n+}) are client-side forms and are refused from
 * a server. */
#ifndef HM_IMAP_PARSE_H
#define HM_IMAP_PARSE_H

#include <glib.h>

#include "lib/conn.h"
#include "lib/pingpong.h"

/* Most octets of response text (all the lines of one response, literals
 * not counted): a SEARCH reply listing 100,000 UIDs is ~700 KB. */
#define HM_IMAP_MAX_TEXT (1024u * 1024)
/* Deepest nesting of parenthesised lists; BODYSTRUCTURE of a deeply
 * nested multipart is the deepest real use. */
#define HM_IMAP_MAX_DEPTH 32

typedef struct {
	gsize max_text;      /* octets of non-literal text in one response */
	gsize max_literal;   /* octets of one literal */
	gsize max_literals;  /* octets of all the literals of one response */
	guint max_depth;     /* nesting of lists */
} HmImapLimits;

typedef enum {
	HM_IMAP_ATOM,    /* also flags (\Seen) and section names (BODY[HEADER]) */
	HM_IMAP_NUMBER,  /* digits only, 0 .. 2^32-1; longer digit runs stay ATOM */
	HM_IMAP_STRING,  /* quoted (escapes removed) or literal */
	HM_IMAP_NIL,
	HM_IMAP_LIST,    /* ( ... ) */
} HmImapType;

typedef struct {
	HmImapType type;
	gboolean literal;   /* STRING that came as a literal */
	char *str;          /* ATOM, NUMBER, STRING: NUL-terminated (a literal
	                     * may hold NULs: use len); NULL for NIL and LIST */
	gsize len;
	guint32 num;        /* NUMBER */
	GPtrArray *list;    /* LIST: HmImapToken * */
} HmImapToken;

typedef enum {
	HM_IMAP_TAGGED,     /* "A0001 OK ..." */
	HM_IMAP_UNTAGGED,   /* "* ..." */
	HM_IMAP_CONTINUE,   /* "+ ..." */
} HmImapKind;

typedef enum {
	HM_IMAP_DATA = 0,   /* untagged data: CAPABILITY, EXISTS, FETCH, SEARCH, ... */
	HM_IMAP_OK,
	HM_IMAP_NO,
	HM_IMAP_BAD,
	HM_IMAP_BYE,
	HM_IMAP_PREAUTH,
} HmImapStatus;

typedef struct {
	HmImapKind kind;
	char *tag;            /* TAGGED: the tag; else NULL */
	HmImapStatus status;  /* TAGGED is always OK/NO/BAD; CONTINUE is DATA */
	char *keyword;        /* upper case: "OK", "BYE", "FETCH", "EXISTS"...;
	                       * NULL for CONTINUE */
	gboolean has_number;  /* "* 5 EXISTS", "* 5 FETCH (...)" */
	guint32 number;
	char *code;           /* status responses: the response code in upper
	                       * case ("UIDVALIDITY"), or NULL */
	GPtrArray *code_args; /* HmImapToken * after the code (never NULL) */
	char *rest;           /* status and CONTINUE: the raw text after the
	                       * status word, code included ("[ALERT] Go away") */
	char *text;           /* status and CONTINUE: the text after the code */
	GPtrArray *args;      /* data responses: HmImapToken * after the
	                       * keyword (never NULL) */
	gsize literal_octets; /* sum of the literals' sizes */
	gsize text_octets;    /* octets of its lines, each counted with 2 for
	                       * its line end: with literal_octets, its size */
} HmImapResponse;

void hm_imap_response_free(HmImapResponse *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HmImapResponse, hm_imap_response_free)

/* Where the parser gets its input. line() returns the next line without
 * its CRLF (or LF), of at most max octets, valid until the next call;
 * literal() fills buf with the next n octets. Both return 0, or -1 with
 * *err set. */
typedef struct {
	int (*line)(gpointer data, gsize max, const char **line, gsize *len, GError **err);
	int (*literal)(gpointer data, char *buf, gsize n, GError **err);
	gpointer data;
} HmImapSource;

/* The limits the fetcher uses: HM_IMAP_MAX_TEXT, literals up to
 * max_literal each and max_literal + HM_IMAP_MAX_TEXT in all. */
void hm_imap_limits_init(HmImapLimits *lim, gsize max_literal);

/* Parses one complete response from src. Returns 0 and *out, or -1 with
 * *err (HM_FETCH_ERROR_PROTOCOL for malformed or oversized input, such as
 * "literal of N octets exceeds the limit" -- said before the literal is
 * read -- or "response line too long"; the source's own errors as they
 * come). */
int hm_imap_parse(const HmImapSource *src, const HmImapLimits *lim, HmImapResponse **out,
                  GError **err);

/* Parses one response from the start of buf[0..len) (lines end in CRLF or
 * LF). Returns 0 with *out and *used (octets consumed), 1 when buf ends
 * before the response does, -1 with *err as hm_imap_parse(). */
int hm_imap_parse_buffer(const char *buf, gsize len, const HmImapLimits *lim, gsize *used,
                         HmImapResponse **out, GError **err);

typedef struct {
	HmPingpong *pp;           /* the connection; it traces each line read
	                           * (never literal contents) */
	HmImapLimits limits;
	int timeout_ms;           /* deadline of each read once a response began */
} HmImapReader;

/* Reads one response through r->pp. The first line must arrive within
 * first_ms (< 0: r->timeout_ms), the rest each within r->timeout_ms;
 * the connection's timeout is r->timeout_ms again on return. Returns 0
 * and *out; 1 when first_ms passed before a complete first line (what
 * arrived of it stays buffered, so the caller may simply read again); -1
 * with *err: HM_FETCH_ERROR_PROTOCOL as hm_imap_parse(), or
 * HM_FETCH_ERROR_NETWORK (timeout, connection closed or failed). */
int hm_imap_read(HmImapReader *r, int first_ms, HmImapResponse **out, GError **err);

/* The value after the attribute named name (case-insensitive) in the
 * attribute/value list of a FETCH response, or NULL. */
const HmImapToken *hm_imap_fetch_att(const HmImapResponse *r, const char *name);

/* As hm_imap_fetch_att(), matching attribute names that start with prefix. */
const HmImapToken *hm_imap_fetch_att_prefix(const HmImapResponse *r, const char *prefix);

/* The UID of a FETCH response r: 1 and *uid; 0 when r is not a FETCH
 * or names no UID (a flag change); -1 with *err (HM_FETCH_ERROR_PROTOCOL
 * "bad UID in a FETCH reply") when the UID is 0 or not a number. */
int hm_imap_fetch_uid(const HmImapResponse *r, guint32 *uid, GError **err);

/* TRUE if t is an ATOM equal to s (case-insensitive). */
gboolean hm_imap_token_is(const HmImapToken *t, const char *s);

/* --- the client side of the syntax ---------------------------------------- */

/* Server text made safe to quote in a one-line message: control characters
 * dropped, cut to max octets ("..." marks the cut), valid UTF-8. NULL
 * gives "". g_free() it. */
char *hm_imap_clean_text(const char *text, gsize max);

/* Commands "<prefix><set><suffix>" covering uids[0..n) (ascending, no
 * duplicates), each set compressed into ranges ("1:5,7,9:10") and each
 * command shorter than max octets (max must leave room for a few UIDs).
 * Returns a GPtrArray of strings (empty when n is 0). */
GPtrArray *hm_imap_uid_commands(const guint32 *uids, guint n, const char *prefix,
                                const char *suffix, gsize max);

/* How a command argument goes on the wire. */
typedef enum {
	HM_IMAP_ARG_ATOM,     /* as it is */
	HM_IMAP_ARG_QUOTED,   /* "...", with \ and " */
	HM_IMAP_ARG_LITERAL,  /* {n} and a "+" from the server first: 8-bit
	                       * text, CR or LF, or over 1024 octets */
} HmImapArgForm;

/* The form s needs; an atom only when atom_ok (an astring such as a
 * mailbox name) and s has no atom-specials. */
HmImapArgForm hm_imap_arg_form(const char *s, gboolean atom_ok);

/* Appends s to out as form says (ATOM or QUOTED). */
void hm_imap_append_arg(GString *out, const char *s, HmImapArgForm form);

#endif
