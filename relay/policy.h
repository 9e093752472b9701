/* Who may send what through the relay: the access rules as pure
 * functions of the client and the addresses, so that "never an open
 * relay" (DESIGN.md invariant 4) is a unit test, not a hope. The session
 * calls them in its check step and answers with the reply they fill.
 *
 * - Local recipients (users, their addresses, aliases, +tag, any case)
 *   are accepted from anyone; an unknown local name is 550 5.1.1.
 * - Other recipients only from relay.trusted_networks, after AUTH, or
 *   from homemail-sendmail on this box; otherwise 554 5.7.1.
 * - An authenticated user may use as sender only their own addresses or
 *   their send_as (or the null sender); a user of homemail-sendmail any
 *   but another local user's (relay/drop.h), by the same rule.
 * - Mail for the internet must have a sender that can leave the box:
 *   one of ours without send_as, or an unknown local name, is refused at
 *   RCPT for non-local recipients (553 5.7.1 naming the setting), while
 *   local recipients still get it. */
#ifndef RELAY_POLICY_H
#define RELAY_POLICY_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "relay/rewrite.h"
#include "relay/smtp-parse.h"

typedef struct {
	const HmConfig *cfg;
	const RelayRewriter *rw;
	gboolean trusted;        /* the client's address is in relay.trusted_networks */
	gboolean local;          /* homemail-sendmail, a program on this box */
	const char *auth_user;   /* the user after AUTH, or NULL */
} RelayClient;

typedef enum {
	RELAY_DEST_LOCAL,        /* delivered to a user of this box */
	RELAY_DEST_REMOTE,       /* forwarded through a smart host */
} RelayDest;

/* TRUE if addr is delivered on this box: no domain ("postmaster"), or a
 * domain (any case) that is one of the box's names: local_domains,
 * hostname, and the system names the rewriter knows. */
gboolean relay_policy_is_local(const HmConfig *cfg, const RelayRewriter *rw, const char *addr);

typedef enum {
	/* No local user's: the null sender, or an address that is neither
	 * ours nor anyone's send_as. */
	RELAY_SENDER_FOREIGN,
	RELAY_SENDER_OWN,    /* one of user's addresses, or their send_as */
	RELAY_SENDER_OTHERS, /* another local user's address or send_as */
} RelaySenderClaim;

/* The one rule of who may use which sender, for AUTH (a user may send as
 * their own only) and for homemail-sendmail (as anyone but another local
 * user): whose sender is, seen from user (a configured user name, or NULL
 * for a login that is none and owns nothing). An address of ours counts
 * for the user it resolves to (aliases, +tags, `addresses`, any case), a
 * send_as (any case) for each user who has it. */
RelaySenderClaim relay_policy_sender_claim(const HmConfig *cfg, const RelayRewriter *rw,
                                           const char *user, const char *sender);

/* Checks MAIL FROM:<sender> ("" for the null sender). 0, or -1 with
 * *reply (553 5.7.1 when an authenticated user names another's address). */
int relay_policy_mail(const RelayClient *c, const char *sender, RelayReplyText *reply);

/* Checks RCPT TO:<rcpt> for a transaction from sender. rcpt is
 * "local@domain", or "postmaster" for <postmaster>. Returns the
 * destination, setting *user (g_free()) to the local user for
 * RELAY_DEST_LOCAL (a local address whose alias forwards off the box,
 * root = "me@gmail.com", is RELAY_DEST_REMOTE with *user NULL: the
 * runner forwards it); or -1 with *reply: 550 5.1.1 unknown local user,
 * 451 4.3.0 a configuration fault (alias loop), 554 5.7.1 relay denied,
 * 553 5.7.1 a sender that cannot leave the box. */
int relay_policy_rcpt(const RelayClient *c, const char *sender, const char *rcpt, char **user,
                      RelayReplyText *reply);

#endif
