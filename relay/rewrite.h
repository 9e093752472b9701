/* Sender rewriting for mail that leaves the box (Postfix's
 * smtp_generic_maps, driven by the users table): alice@box.lan and
 * root@myhost mean nothing on the internet, so before a message goes to
 * the smart host its envelope sender, and with relay.rewrite_header_from
 * that same user's addresses in its From: and Sender: fields (and
 * Reply-To: where it repeats a From: address), become the user's send_as.
 * The other fields and the body are never touched. Also the choice of
 * smart host by rewritten sender. */
#ifndef RELAY_REWRITE_H
#define RELAY_REWRITE_H

#include <glib.h>

#include "conf/hmconfig.h"

/* RFC 5322 2.1.1: a line of a message is at most 998 octets before its
 * CRLF; a rewritten field is refolded to stay within it. */
#define RELAY_REWRITE_LINE_MAX 998

typedef struct RelayRewriter RelayRewriter;

/* A rewriter over cfg (not copied: it must outlive the rewriter).
 * system_names (NULL-terminated, may be NULL; copied) are extra domains
 * that mean "this box" although they are not in local_domains: the
 * kernel's host name, its short form, "localhost"... so that root@myhost
 * from a local program is rewritten too. Compared case-insensitively, a
 * trailing dot ignored. Never fails. */
RelayRewriter *relay_rewriter_new(const HmConfig *cfg, const char *const *system_names);

/* TRUE if domain names this box: NULL or "" (a bare local part), one of
 * local_domains, hostname, or a system name; any case, a trailing dot
 * ignored. */
gboolean relay_rewriter_is_ours(const RelayRewriter *rw, const char *domain);

/* Frees rw (NULL is fine). */
void relay_rewriter_free(RelayRewriter *rw);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RelayRewriter, relay_rewriter_free)

typedef enum {
	RELAY_REWRITE_FOREIGN, /* sender not ours (alice@isp.example, bob@gmail.com): unchanged */
	RELAY_REWRITE_DONE,    /* *out holds the rewritten sender */
	RELAY_REWRITE_NO_SEND_AS,    /* a local user without send_as: cannot go to the internet */
	RELAY_REWRITE_UNKNOWN_LOCAL, /* a local-domain address that is no user or alias */
} RelayRewriteResult;

/* Which local user a sender address ("a@b", "<a@b>", or a bare local part,
 * which is ours) belongs to, following aliases (root -> alice), +tags,
 * any case, a user's extra `addresses` (in any domain), and any local
 * domain or system name. Returns the user name (g_free()), or NULL when
 * the sender is foreign, unknown, the null sender, MAILER-DAEMON, or an
 * alias that forwards off the box. */
char *relay_sender_user(const RelayRewriter *rw, const char *sender);

/* Rewrites an envelope sender (as relay_sender_user() reads it). Returns:
 * DONE with *out the user's send_as; DONE with *out "" for the null
 * sender ("" or "<>") and for MAILER-DAEMON at one of our names (bounces
 * keep the null sender); FOREIGN with *out the sender as given (brackets
 * and surrounding space removed), also for a sender that does not parse;
 * NO_SEND_AS or UNKNOWN_LOCAL with *out NULL. An address in one of our
 * domains that is an alias forwarding off the box (root = "me@gmail.com"),
 * or an alias loop, is UNKNOWN_LOCAL: there is no local user whose send_as
 * could stand for it. *user (user may be NULL) receives the local user
 * for DONE and NO_SEND_AS, else NULL. out and user are g_free()d by the
 * caller. */
RelayRewriteResult relay_rewrite_sender(const RelayRewriter *rw, const char *sender, char **out,
                                        char **user);

/* One line saying why sender (with result NO_SEND_AS or UNKNOWN_LOCAL,
 * user as relay_rewrite_sender() gave it) cannot leave the box, naming the
 * setting that fixes it ("... alice has no send_as: set
 * users.[alice].send_as to the address your ISP knows you by"). Returns
 * NULL for DONE and FOREIGN. g_free() it. */
char *relay_rewrite_refusal(const RelayRewriter *rw, RelayRewriteResult result, const char *sender,
                            const char *user);

/* Header rewriting, when relay.rewrite_header_from is true: scans msg's
 * header section (CRLF or bare LF line ends) and, when a From: or Sender:
 * field holds an address of user (the local user the envelope sender was
 * rewritten for: relay_rewrite_sender()'s *user with DONE) and user has a
 * send_as, returns in *new_head a new header section (every line ended by
 * CRLF; the empty line that ends it included when msg had one) in which
 * those addr-specs, and nothing else, are replaced: display names,
 * comments, groups and the other addresses of the field stay ("Alice
 * <alice@box.lan>" -> "Alice <alice@isp.example>"). Only user's own
 * addresses change: another local user's address in From: stays as it
 * is, and with user NULL (a foreign or null envelope sender) nothing is
 * rewritten, so that no one can make the relay put a user's real address
 * on a message the user did not send. A rewritten field whose line would
 * exceed RELAY_REWRITE_LINE_MAX is refolded. A field that is no
 * address-list (relay_addrlist_parse() refuses it) is left as it is.
 * *head_end receives the length of msg's header section, so the caller
 * sends new_head + msg[head_end..len). Returns 0, with *new_head NULL (no
 * copy made) when nothing changed or the setting is off; never fails on
 * bad input (-1 is not returned today and is reserved). */
int relay_rewrite_headers(const RelayRewriter *rw, const char *user, const char *msg, gsize len,
                          char **new_head, gsize *head_end);

/* The smart host for a rewritten envelope sender: the first whose
 * `senders` has a glob (fnmatch(3): "*@isp.example") matching it, compared
 * without regard to case (domains are case-insensitive, and local parts
 * are throughout homemail); else the first smart host (the null sender
 * "" matches no pattern). NULL when none is configured. */
const HmSmarthostConf *relay_smarthost_for(const HmConfig *cfg, const char *rewritten_sender);

#endif
