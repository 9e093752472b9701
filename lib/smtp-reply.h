/* The SMTP and LMTP reply parser and the EHLO/LHLO extension parser:
 * pure functions, no I/O (fuzzed by tests/fuzz/fuzz-smtp-reply). The
 * client in smtpc.h reads replies through them. RFC 5321 4.2 (replies),
 * RFC 2034 (enhanced status codes), RFC 1870, 2920, 3207, 3461, 4954,
 * 6152, 6531 (the extensions we act on). */
#ifndef HM_SMTP_REPLY_H
#define HM_SMTP_REPLY_H

#include <glib.h>

/* Octets in one reply line, CRLF included. RFC 5321 allows 512; real
 * servers send longer ones (long EHLO AUTH lists, verbose rejections), and
 * this still bounds what one line can cost. */
#define HM_SMTP_REPLY_LINE_MAX 2048
/* Lines in one reply: a server cannot make us assemble an endless reply. */
#define HM_SMTP_REPLY_LINES_MAX 100
/* Octets of a reply kept for error messages and logs by
 * hm_smtp_reply_oneline(). */
#define HM_SMTP_ONELINE_MAX 512

/* ---- replies ---- */

typedef struct {
	guint code;          /* 200-599; 0 before the first line */
	char enhanced[12];   /* "5.1.1" when the first line carries an RFC 3463
	                      * code of the reply's class, else "" */
	GString *text;       /* each line's text (after the code, and after the
	                      * enhanced code on the first line), joined by '\n' */
	guint n_lines;
	gboolean done;       /* the last line ("250 ...") was fed */
} HmSmtpReply;

/* Prepares an empty reply for hm_smtp_reply_feed() or _parse(). */
void hm_smtp_reply_init(HmSmtpReply *r);
/* Frees what init/feed allocated; the reply can be initialised again. */
void hm_smtp_reply_clear(HmSmtpReply *r);

/* Feeds one reply line without its line end. A line is three digits
 * (first 2-5, second 0-5), then "-" (more lines follow), " " or nothing
 * (the last line), then text without NUL. Every line must carry the first
 * line's code. Returns 1 when this was the last line, 0 when more follow,
 * -1 with *err (HM_ERROR_PROTOCOL) for a malformed line, a changed code, a
 * line over HM_SMTP_REPLY_LINE_MAX - 2 octets, the line after
 * HM_SMTP_REPLY_LINES_MAX, or any line after the last. */
int hm_smtp_reply_feed(HmSmtpReply *r, const char *line, gsize len, GError **err);

/* Parses one reply from accumulated input (lines ending in CRLF or LF).
 * r must be freshly initialised. Returns 1 when a complete reply was
 * parsed (*consumed = octets it took), 0 when the input ends before the
 * last line (r is then partly fed: clear it and parse again with more
 * input), -1 with *err as hm_smtp_reply_feed(), or for a line over the
 * limit even when it is not terminated yet. */
int hm_smtp_reply_parse(const char *buf, gsize len, HmSmtpReply *r, gsize *consumed,
                        GError **err);

/* The reply on one line for errors and logs: "550 5.1.1 first line text
 * second line text", control characters as '?', cut at
 * HM_SMTP_ONELINE_MAX octets. g_free() it. */
char *hm_smtp_reply_oneline(const HmSmtpReply *r);

/* ---- EHLO extensions (pure) ---- */

typedef enum {
	HM_SMTP_EXT_PIPELINING = 1 << 0,
	HM_SMTP_EXT_SIZE = 1 << 1,
	HM_SMTP_EXT_8BITMIME = 1 << 2,
	HM_SMTP_EXT_STARTTLS = 1 << 3,
	HM_SMTP_EXT_AUTH = 1 << 4,
	HM_SMTP_EXT_ENHANCEDSTATUSCODES = 1 << 5,
	HM_SMTP_EXT_DSN = 1 << 6,      /* RFC 3461: NOTIFY, ORCPT, RET, ENVID */
	HM_SMTP_EXT_SMTPUTF8 = 1 << 7, /* RFC 6531 */
	HM_SMTP_EXT_CHUNKING = 1 << 8, /* RFC 3030: BDAT */
} HmSmtpExtFlags;

/* Most AUTH mechanisms kept from one EHLO reply. */
#define HM_SMTP_AUTH_MECHS_MAX 16

typedef struct {
	guint flags;         /* HmSmtpExtFlags */
	guint64 size_max;    /* SIZE n; 0 when none (or no valid number) was given */
	char **auth_mechs;   /* NULL-terminated, upper-case; NULL without AUTH */
} HmSmtpExt;

/* Reads the extensions from a complete 2xx EHLO/LHLO reply (every line but
 * the first is "KEYWORD [params]", any case; "AUTH=..." is taken as AUTH).
 * Unknown keywords are ignored. ext is overwritten; clear it first when it
 * was filled before. */
void hm_smtp_ext_parse(const HmSmtpReply *r, HmSmtpExt *ext);
/* Frees the mechanism list and zeroes ext. */
void hm_smtp_ext_clear(HmSmtpExt *ext);

/* TRUE if mech (any case) is among the offered AUTH mechanisms. */
gboolean hm_smtp_ext_has_auth(const HmSmtpExt *ext, const char *mech);

#endif
