/* The SMTP server's command parsers: pure functions, no I/O (fuzzed by
 * tests/fuzz/fuzz-smtp-command and fuzz-dsn-params). The session splits
 * each line into a verb and its arguments, dispatches on the verb, and
 * hands the arguments to the parser of that command, which either fills
 * its result or says, in a RelayReplyText, what the server must answer.
 * RFC 5321 (commands, paths), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
 * RFC 3030 (BDAT, BINARYMIME), RFC 3461 (DSN parameters, xtext),
 * RFC 4954 (AUTH, AUTH=), RFC 6531 (SMTPUTF8). */
#ifndef RELAY_SMTP_PARSE_H
#define RELAY_SMTP_PARSE_H

#include <glib.h>

#include "lib/address.h"
#include "relay/envelope.h"

/* Octets of a verb buffer, its NUL included: the longest verb we know is
 * STARTTLS, and anything much longer is no command of anybody's. */
#define RELAY_VERB_MAX 16
/* RFC 3461 4.4: an ENVID is at most 100 characters (as sent, xtext). */
#define RELAY_ENVID_MAX 100
/* RFC 3461 4.2: an ORCPT value is at most 500 characters (as sent). */
#define RELAY_ORCPT_MAX 500
/* RFC 4954 5 sets no limit on AUTH=; an address in xtext (each octet at
 * most "+XX") fits in this. */
#define RELAY_AUTH_PARAM_MAX 500
/* A HELO/EHLO argument longer than the longest domain is refused. */
#define RELAY_HELO_MAX 255
/* Characters of client text echoed in a reply (already sanitised). */
#define RELAY_ECHO_MAX 40

/* The reply a parser wants sent when it refuses a command. */
typedef struct {
	guint code;           /* 501, 552, 553, 555 ... */
	const char *enhanced; /* RFC 3463 code, a static string ("5.5.4") */
	char text[160];       /* printable ASCII only, never CR or LF */
} RelayReplyText;

/* Fills *reply with code, enhanced (a static string) and the text
 * formatted from fmt, truncated to fit; every octet of the result outside
 * printable ASCII becomes '?', so client text may be echoed through it. */
void relay_reply_set(RelayReplyText *reply, guint code, const char *enhanced, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

/* Appends the reply as a line for the wire: "501 5.5.4 text\r\n". */
void relay_reply_append(const RelayReplyText *reply, GString *out);

/* What the server offers, and what the transaction carries: the flags of
 * the MAIL and RCPT parsers. */
typedef enum {
	/* SMTPUTF8 is offered (EHLO): MAIL may carry it. */
	RELAY_PARSE_UTF8 = 1 << 0,
	/* BINARYMIME is offered (with CHUNKING): MAIL may say BODY=BINARYMIME. */
	RELAY_PARSE_BINARYMIME = 1 << 1,
	/* RCPT only: this transaction's MAIL carried SMTPUTF8, so recipient
	 * addresses may hold UTF-8. */
	RELAY_PARSE_UTF8_TXN = 1 << 2,
} RelayParseFlags;

/* Splits a command line (without its CRLF, NUL-terminated at line[len],
 * as the line reader delivers it) into its verb and arguments. The verb
 * is the leading run of ASCII letters and digits, copied upper-cased into
 * verb (verb_size octets, RELAY_VERB_MAX will do); *args points into line
 * just after the one space that ends the verb, or is NULL when nothing
 * but spaces follows the verb. Returns 0, or -1 with *reply (500 5.5.2)
 * when the line is empty, holds a NUL, the verb is longer than
 * verb_size - 1, or the verb is followed by something other than a space
 * (verb is then ""). */
int relay_cmd_split(const char *line, gsize len, char *verb, gsize verb_size, const char **args,
                    RelayReplyText *reply);

/* ---- MAIL and RCPT ---------------------------------------------------- */

typedef struct {
	HmAddress path;       /* the sender; path.local NULL for the null path */
	gboolean null_sender; /* MAIL FROM:<> (bounces, DSNs) */
	guint64 size;         /* SIZE=, 0 when not given */
	RelayBody body;       /* BODY=, 7BIT when not given */
	gboolean smtputf8;    /* SMTPUTF8 given */
	RelayRet ret;         /* RET=, RELAY_RET_DEFAULT when not given */
	char *envid;          /* ENVID= decoded (printable ASCII), or NULL */
	char *auth;           /* AUTH= decoded, "<>" as sent, or NULL */
} RelayMailArgs;

typedef struct {
	HmAddress addr; /* the recipient; domain NULL for <postmaster> */
	guint notify;   /* NOTIFY= as RelayNotify bits, 0 when not given */
	char *orcpt;    /* ORCPT= decoded, its type kept ("rfc822;a@b"), or NULL */
} RelayRcptArgs;

/* Parses what follows "MAIL ": "FROM:<path>" (FROM any case, one space
 * after the colon tolerated), a source route dropped, "<>" the null
 * sender, then ESMTP parameters separated by spaces, each at most once,
 * keywords in any case: SIZE=n, BODY=7BIT|8BITMIME|BINARYMIME (the last
 * with RELAY_PARSE_BINARYMIME), SMTPUTF8 (with RELAY_PARSE_UTF8; it
 * allows UTF-8 in the address), RET=FULL|HDRS, ENVID=xtext, AUTH=xtext.
 * max_size is the largest SIZE= accepted, 0 for no limit. Returns 0 with
 * *out filled (free with relay_mail_args_clear()), or -1 with *out empty
 * and *reply set:
 *   501 5.5.4 no "FROM:<", junk after the path, a parameter without its
 *             value or with a bad one, a repeated parameter;
 *   501 5.1.7 8-bit address while SMTPUTF8 is not offered;
 *   553 5.6.7 8-bit address while SMTPUTF8 is offered but not given;
 *   553 5.1.7 a bad address;
 *   552 5.3.4 SIZE over max_size;
 *   555 5.5.4 an unknown or not offered parameter (or BODY=BINARYMIME). */
int relay_parse_mail_args(const char *args, guint flags, guint64 max_size, RelayMailArgs *out,
                          RelayReplyText *reply);

/* Parses what follows "RCPT ": "TO:<path>" as for MAIL, but no null
 * path, and "<postmaster>" (any case) is accepted without a domain;
 * parameters NOTIFY=list (relay_notify_parse()) and ORCPT=type;xtext (at
 * most RELAY_ORCPT_MAX characters, type an atom, the decoded address
 * valid UTF-8 without control characters). flags: RELAY_PARSE_UTF8 and
 * RELAY_PARSE_UTF8_TXN. Returns 0 with *out filled (free with
 * relay_rcpt_args_clear()), or -1 with *out empty and *reply set, as for
 * MAIL but with 5.1.3 for the address errors. */
int relay_parse_rcpt_args(const char *args, guint flags, RelayRcptArgs *out, RelayReplyText *reply);

/* Free the strings of *a and zero it; a zeroed struct is fine. */
void relay_mail_args_clear(RelayMailArgs *a);
void relay_rcpt_args_clear(RelayRcptArgs *a);

/* ---- xtext (RFC 3461 4) ----------------------------------------------- */

/* Decodes xtext: octets 33..126 stand for themselves, except '=' (never
 * allowed) and '+', which must be followed by two upper-case hex digits
 * naming any octet but NUL. Returns the decoded string (g_free() it; ""
 * for ""), or NULL with *err (HM_ERROR_PARSE). */
char *relay_xtext_decode(const char *s, GError **err);

/* Appends s as xtext: every octet outside 33..126, and '+' and '=', as
 * "+XX"; relay_xtext_decode() gives s back. */
void relay_xtext_encode(const char *s, GString *out);

/* ---- BDAT, AUTH, HELO/EHLO -------------------------------------------- */

/* Parses what follows "BDAT ": a chunk size (decimal digits only) and an
 * optional LAST (any case), separated by spaces, nothing else. Returns 0
 * with *size and *last, or -1 with *reply (501 5.5.4). After that error
 * the server must answer and close the connection: the chunk's size is
 * unknown, so its octets cannot be told from the next command. */
int relay_parse_bdat(const char *args, guint64 *size, gboolean *last, RelayReplyText *reply);

/* Parses what follows "AUTH ": a mechanism name (RFC 4422 3.1: 1 to 20
 * letters, digits, '-' or '_'; returned upper-cased in *mech) and an
 * optional initial response (base64 characters, or "=" for an empty one;
 * returned as sent in *initial, NULL when none), nothing more. Whether
 * the mechanism exists is the caller's question (hm_sasl_mech_find()).
 * Returns 0, or -1 with *reply (501 5.5.4) and both NULL. *initial holds
 * a password: free it with hm_sasl_free_secret() (lib/sasl.h), which
 * wipes it; g_free() *mech. */
int relay_parse_auth(const char *args, char **mech, char **initial, RelayReplyText *reply);

/* Parses what follows "HELO " or "EHLO ": the first word is the client's
 * name, further words are ignored (clients send odd things, and only the
 * name is used: in Received:). An address literal ("[192.0.2.1]",
 * "[IPv6:::1]") must be a valid one and comes back normalised as
 * lib/address.c writes it; any other name of printable ASCII is taken as
 * sent (underscores, bare host names). Returns 0 with *domain (g_free()
 * it), or -1 with *reply (501 5.5.4) for no argument, a control or 8-bit
 * character, a name over RELAY_HELO_MAX octets or a bad literal. ehlo
 * only chooses the verb named in the reply. */
int relay_parse_helo(const char *args, gboolean ehlo, char **domain, RelayReplyText *reply);

#endif
