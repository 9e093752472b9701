#include <config.h>

#include <string.h>

#include "deliver/deliver.h"
#include "relay/policy.h"

/* relay_reply_set() (which keeps the text printable and on one line),
 * returning -1 for the check that refuses. */
#define refuse(reply, code, enhanced, ...) (relay_reply_set(reply, code, enhanced, __VA_ARGS__), -1)

gboolean
relay_policy_is_local(const HmConfig *cfg, const RelayRewriter *rw, const char *addr)
{
	const char *at = strrchr(addr, '@');

	return relay_rewriter_is_ours(rw, at != NULL ? at + 1 : NULL);
}

static gboolean
has_send_as(const HmUserConf *u, const char *sender)
{
	return u->send_as != NULL && g_ascii_strcasecmp(u->send_as, sender) == 0;
}

RelaySenderClaim
relay_policy_sender_claim(const HmConfig *cfg, const RelayRewriter *rw, const char *user,
                          const char *sender)
{
	const HmUserConf *u = user != NULL ? hm_config_find_user(cfg, user) : NULL;
	g_autofree char *owner = NULL;

	if (sender[0] == '\0')
		return RELAY_SENDER_FOREIGN;
	if ((owner = relay_sender_user(rw, sender)) != NULL)
		return g_strcmp0(owner, user) == 0 ? RELAY_SENDER_OWN : RELAY_SENDER_OTHERS;
	/* The user's own first: users who share one ISP account (a family)
	 * each own its address. */
	if (u != NULL && has_send_as(u, sender))
		return RELAY_SENDER_OWN;
	for (gsize i = 0; i < cfg->n_users; i++)
		if (has_send_as(&cfg->users[i], sender))
			return RELAY_SENDER_OTHERS;
	return RELAY_SENDER_FOREIGN;
}

int
relay_policy_mail(const RelayClient *c, const char *sender, RelayReplyText *reply)
{
	if (c->auth_user == NULL || sender[0] == '\0' ||
	    relay_policy_sender_claim(c->cfg, c->rw, c->auth_user, sender) == RELAY_SENDER_OWN)
		return 0;
	return refuse(reply, 553, "5.7.1", "<%s>: Sender address rejected: not owned by user %s",
	              sender, c->auth_user);
}

/* Neither on a trusted network, nor a program on this box, nor logged in. */
static gboolean
outsider(const RelayClient *c)
{
	return !c->trusted && !c->local && c->auth_user == NULL;
}

/* TRUE if sender is one the smart-host rewriting would turn into
 * another address: a local user's (or a local domain's) address. */
static gboolean
claims_local_user(const RelayClient *c, const char *sender)
{
	g_autofree char *rewritten = NULL;
	RelayRewriteResult rr = relay_rewrite_sender(c->rw, sender, &rewritten, NULL);

	if (sender[0] == '\0')
		return FALSE;
	return rr == RELAY_REWRITE_NO_SEND_AS || rr == RELAY_REWRITE_UNKNOWN_LOCAL ||
	       (rr == RELAY_REWRITE_DONE && g_ascii_strcasecmp(rewritten, sender) != 0);
}

/* A local recipient: resolves it to its user, or to the address an alias
 * forwards it to (the runner sends it there through the smart host). */
static int
local_rcpt(const RelayClient *c, const char *rcpt, char **user, RelayReplyText *reply)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *forward = NULL;

	if (hm_recipient_expand(c->cfg, rcpt, user, &forward, &err) == 0)
		return *user != NULL ? RELAY_DEST_LOCAL : RELAY_DEST_REMOTE;
	if (g_error_matches(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP))
		return refuse(reply, 451, "4.3.0", "<%s>: Temporary lookup failure", rcpt);
	return refuse(reply, 550, "5.1.1", "<%s>: Recipient address rejected: User unknown", rcpt);
}

int
relay_policy_rcpt(const RelayClient *c, const char *sender, const char *rcpt, char **user,
                  RelayReplyText *reply)
{
	g_autofree char *rewritten = NULL, *sender_user = NULL, *why = NULL;
	RelayRewriteResult rr;

	*user = NULL;
	if (relay_policy_is_local(c->cfg, c->rw, rcpt)) {
		int dest = local_rcpt(c, rcpt, user, reply);

		/* An alias that forwards off the box sends through the smart
		 * host, where a local sender becomes the user's send_as: from a
		 * stranger that would be mail in the user's name. */
		if (dest == RELAY_DEST_REMOTE && outsider(c) && claims_local_user(c, sender))
			return refuse(reply, 553, "5.7.1",
			              "<%s>: Sender address rejected: <%s> is a local user's; "
			              "log in (AUTH) to send as it", rcpt, sender);
		return dest;
	}
	if (outsider(c))
		return refuse(reply, 554, "5.7.1", "<%s>: Relay access denied", rcpt);
	rr = relay_rewrite_sender(c->rw, sender, &rewritten, &sender_user);
	if (rr == RELAY_REWRITE_FOREIGN || rr == RELAY_REWRITE_DONE)
		return RELAY_DEST_REMOTE;
	why = relay_rewrite_refusal(c->rw, rr, sender, sender_user);
	return refuse(reply, 553, "5.7.1", "<%s>: %s", rcpt, why);
}
