/* RFC 5321 mailbox and path parsing (MAIL FROM/RCPT TO arguments, config). */
#ifndef HM_ADDRESS_H
#define HM_ADDRESS_H

#include <glib.h>

#define HM_ADDR_LOCAL_MAX 64    /* RFC 5321 4.5.3.1.1 */
#define HM_ADDR_DOMAIN_MAX 255  /* RFC 5321 4.5.3.1.2 */
#define HM_ADDR_PATH_MAX 256    /* RFC 5321 4.5.3.1.3, including "<>" */
#define HM_ADDR_MAILBOX_MAX (HM_ADDR_PATH_MAX - 2) /* what a path leaves for the mailbox */

typedef struct {
	char *local;   /* as written, quotes removed and quoted-pairs resolved */
	char *domain;  /* lower-cased; an address literal keeps its brackets */
} HmAddress;

typedef enum {
	HM_ADDR_UTF8 = 1 << 0,  /* allow UTF-8 in local part and domain (RFC 6531) */
	HM_ADDR_NO_DOMAIN = 1 << 1, /* accept a bare local part ("postmaster", "alice") */
} HmAddrFlags;

/* Parses a Mailbox (local-part "@" domain) occupying all of text[0..len):
 * Dot-string or Quoted-string local part; a domain of LDH labels or an
 * address literal ([192.0.2.1], [IPv6:...]). Enforces the RFC length limits:
 * local part, domain, and the whole as written at most HM_ADDR_MAILBOX_MAX
 * octets, so that an address taken here fits a path, as the SMTP server's
 * MAIL and RCPT (hm_path_parse()) want it.
 * Returns 0 and fills *out (free with hm_address_clear()), or -1 with *err
 * set to a short reason ("empty local part", "bad character in domain"...). */
int hm_address_parse(const char *text, gsize len, guint flags, HmAddress *out,
                     GError **err);

/* Parses a Reverse-path or Forward-path "<...>", with an optional source
 * route ("<@a,@b:user@c>", ignored as RFC 5321 says). "<>" sets *is_null
 * (when is_null is not NULL; otherwise it is an error) and leaves out
 * empty. *end (may be NULL) receives the offset just after '>' so callers
 * can parse ESMTP parameters. Returns 0 or -1 with *err set. */
int hm_path_parse(const char *text, guint flags, HmAddress *out,
                  gboolean *is_null, gsize *end, GError **err);

/* "local@domain", quoting the local part when it needs it; g_free() it. */
char *hm_address_format(const HmAddress *addr);

/* Frees the strings of *addr and zeroes it. */
void hm_address_clear(HmAddress *addr);

#endif
