/* The POP3 client's reply parsers (RFC 1939, RFC 2449): status lines, CAPA,
 * STAT and the LIST/UIDL listings. Pure functions on lines the caller has
 * already read (without CRLF, dot-unstuffed), no I/O, so they can be fuzzed.
 * Every number goes through lib/parse.h; whatever a hostile server could
 * use to confuse the client (negative, huge or out-of-range numbers, junk,
 * duplicate message numbers) is refused with a one-line reason. A bad UID
 * of a well-numbered message (over-long, binary, missing, or shared with
 * another message) only makes that message untracked: it is left upstream
 * and the rest of the maildrop is fetched. */
#ifndef HM_FETCH_POP3_REPLY_H
#define HM_FETCH_POP3_REPLY_H

#include <glib.h>

/* RFC 2449 section 4: a response line is at most 512 octets, CRLF included. */
#define HM_POP3_MAX_REPLY_LINE 512
/* Message lines are read in segments of at most this many octets: a line
 * of any length (RFC 5322 says 998, real mail has megabytes of HTML or
 * base64 on one) streams into the message, which HM_FETCH_MAX_MESSAGE
 * bounds, while the connection's input buffer stays this small. */
#define HM_POP3_BODY_SEGMENT (64 * 1024)
/* Most messages a maildrop may list: bounds the listing's memory (a few
 * tens of MB at worst) against a server announcing billions. */
#define HM_POP3_MAX_MESSAGES 1000000
/* RFC 1939 section 7: a unique-id is 1 to 70 octets of 0x21-0x7E. */
#define HM_POP3_MAX_UID 70
/* Most lines in a CAPA listing; real servers send about a dozen. */
#define HM_POP3_MAX_CAPA_LINES 1000
/* Server text quoted in an error message is cut to this many octets. */
#define HM_POP3_QUOTE_MAX 200

/* Splits a status line: "+OK" or "-ERR", alone or followed by one space
 * and text (RFC 1939 section 3). *ok says which; *text points into line
 * after the space ("" when there is none). Anything else (no indicator,
 * "+OKAY", lower case, a SASL continuation "+ ") is malformed: returns -1
 * with *why set to a static reason; 0 otherwise. */
int hm_pop3_status_parse(const char *line, gboolean *ok, const char **text, const char **why);

/* TRUE for a SASL continuation line ("+" alone or "+ " and base64). */
gboolean hm_pop3_is_continuation(const char *line);

/* A copy of server text fit for a one-line error message: control
 * characters dropped, bytes outside ASCII shown as '?', cut to
 * HM_POP3_QUOTE_MAX octets (then "..." is appended). g_free() it. */
char *hm_pop3_quote(const char *text);

/* What a CAPA listing told us (RFC 2449 section 6). */
/* SASL mechanisms of CAPA kept: more than any server offers. */
#define HM_POP3_CAPA_MECHS 16

typedef struct {
	gboolean pipelining;
	gboolean uidl;
	gboolean stls;
	gboolean user;
	gboolean sasl_plain;   /* SASL lists PLAIN */
	guint n_sasl;          /* mechanisms SASL lists */
	/* The first HM_POP3_CAPA_MECHS of them (names up to 20 octets, RFC
	 * 4422's limit), upper-cased, for lib/sasl to pick from. */
	char sasl[HM_POP3_CAPA_MECHS][21];
	guint lines;           /* lines seen */
} HmPop3Capa;

/* Empties c: nothing known (what a fresh listing starts from). */
void hm_pop3_capa_clear(HmPop3Capa *c);

/* What to assume when the server refuses CAPA (an RFC 1939-only server):
 * USER/PASS, no pipelining, UIDL worth trying. */
void hm_pop3_capa_assume(HmPop3Capa *c);

/* Adds one line of a CAPA listing. Capability names are case-insensitive,
 * unknown ones are ignored. Returns 0, or -1 with *why when the listing
 * grows past HM_POP3_MAX_CAPA_LINES. */
int hm_pop3_capa_add(HmPop3Capa *c, const char *line, const char **why);

/* Parses the text of a +OK STAT reply: "COUNT SIZE", each a plain decimal
 * number, COUNT at most HM_POP3_MAX_MESSAGES. RFC 1939 lets servers add
 * more after one more space; that is ignored. Returns 0, or -1 with *why. */
int hm_pop3_stat_parse(const char *text, guint32 *count, guint64 *size, const char **why);

/* Parses one scan listing line of LIST: "NUM SIZE" (more text may follow
 * after a space, RFC 1939 section 5), NUM in 1..count. Returns 0, or -1
 * with *why. */
int hm_pop3_scan_parse(const char *line, guint32 count, guint32 *num, guint64 *size,
                       const char **why);

/* Parses one unique-id listing line of UIDL: "NUM UID", NUM in 1..count,
 * UID 1..HM_POP3_MAX_UID octets of 0x21-0x7E and nothing after it. *uid
 * points into line, *uid_len octets. Returns 0, or -1 with *why; *num is
 * set as soon as NUM is good, so a caller that set it to 0 can tell a bad
 * UID (of message *num) from a bad number. */
int hm_pop3_uidl_parse(const char *line, guint32 count, guint32 *num, const char **uid,
                       gsize *uid_len, const char **why);

/* A maildrop listing as STAT, UIDL and LIST describe it, checked line by
 * line and against each other: each message number 1..count appears once
 * in each listing. A message whose UID is malformed or shared with
 * another message is untracked (see hm_pop3_listing_untracked()). */
typedef struct {
	guint32 count;        /* from STAT */
	guint64 *sizes;       /* [count], by number - 1, from LIST */
	char **uids;          /* [count], by number - 1, from UIDL */
	const char **bad;     /* [count]: why the UID cannot be used (static), or NULL */
	guint8 *seen;         /* [count]: which listings named the number */
	guint32 n_scan;       /* LIST lines accepted */
	guint32 n_uidl;       /* UIDL lines accepted */
	GHashTable *uid_set;  /* UID -> number of its first message (keys borrowed from uids) */
} HmPop3Listing;

/* Prepares l for a maildrop of count messages (at most
 * HM_POP3_MAX_MESSAGES, as hm_pop3_stat_parse() guarantees). */
void hm_pop3_listing_init(HmPop3Listing *l, guint32 count);

/* Frees what l holds; l may be cleared twice. */
void hm_pop3_listing_clear(HmPop3Listing *l);

/* Adds one LIST / UIDL listing line. Returns 0, or -1 with *err
 * (HM_FETCH_ERROR_PROTOCOL, "LIST line 3: message number out of range",
 * "UIDL line 2: duplicate message number"). A UIDL line whose number is
 * good but whose UID is not, or whose UID an earlier line gave another
 * message, is accepted (0) and leaves the messages concerned untracked. */
int hm_pop3_listing_add_scan(HmPop3Listing *l, const char *line, GError **err);
int hm_pop3_listing_add_uidl(HmPop3Listing *l, const char *line, GError **err);

/* Cross-checks the finished listings: LIST (and UIDL, when have_uidl)
 * named every message STAT counted. Returns 0, or -1 with *err
 * (HM_FETCH_ERROR_PROTOCOL, "LIST listed 2 messages, STAT counted 3"). */
int hm_pop3_listing_finish(HmPop3Listing *l, gboolean have_uidl, GError **err);

/* Why message num (1-based) cannot be tracked by its UID, as a static
 * reason: what was wrong with its UIDL line ("UID longer than 70 octets",
 * "missing UID"), or "UID shared with another message" (a server bug:
 * recording one of them as fetched would make the others look fetched
 * too). NULL when it can be tracked, or when the server gave no UIDL. */
const char *hm_pop3_listing_untracked(const HmPop3Listing *l, guint32 num);

/* One line per problem of a finished listing, for the log: each message
 * with a malformed UIDL line ("message 3 has a malformed UIDL line (missing
 * UID)"), and each UID that messages share, naming them ("messages 2, 5
 * share the UID \"a\" (a server bug), so none of them can be tracked").
 * Empty when every message can be tracked. */
GPtrArray *hm_pop3_listing_problems(const HmPop3Listing *l);

/* Takes the UID of message num (1-based) out of l; NULL if none, or if the
 * message is untracked. */
char *hm_pop3_listing_steal_uid(HmPop3Listing *l, guint32 num);

#endif
