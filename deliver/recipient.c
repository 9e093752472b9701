/* Recipient resolution: which local user receives mail for an address. */
#include <config.h>

#include <string.h>

#include "conf/hmconfig.h"
#include "deliver/deliver.h"
#include "lib/address.h"

/* Alias chains longer than this are refused: real set-ups use two or three
 * steps, and a cap keeps a misconfiguration from costing more. */
#define RECIPIENT_MAX_CHAIN 20

static const HmAliasConf *
find_alias(const HmConfig *cfg, const char *name)
{
	for (gsize i = 0; i < cfg->n_aliases; i++)
		if (g_ascii_strcasecmp(cfg->aliases[i].name, name) == 0)
			return &cfg->aliases[i];
	return NULL;
}

/* The user listing address among its extra `addresses`, or NULL. */
static const HmUserConf *
find_by_address(const HmConfig *cfg, const char *address)
{
	for (gsize i = 0; i < cfg->n_users; i++)
		for (char **a = cfg->users[i].addresses; a != NULL && *a != NULL; a++)
			if (g_ascii_strcasecmp(*a, address) == 0)
				return &cfg->users[i];
	return NULL;
}

/* One step of resolution. Sets *user when name ends at a user, *next
 * (g_free()) when it is an alias to follow; neither when unknown. */
typedef struct {
	const HmUserConf *user;
	char *next;
	const char *alias;   /* the alias whose target *next is */
} Step;

/* A local part (no domain): a user, an alias, or either after dropping a
 * "+tag". */
static void
step_local(const HmConfig *cfg, const char *local, Step *st)
{
	const HmAliasConf *a;
	const char *plus;
	g_autofree char *base = NULL;

	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass == 0 ? local : base;

		/* Local parts compare case-insensitively (RFC 5321 allows
		 * case to matter, but no one wants mail to Alice@ and alice@
		 * to go different ways). */
		if ((st->user = hm_config_match_user(cfg, name)) != NULL)
			return;
		if ((a = find_alias(cfg, name)) != NULL) {
			st->next = g_strdup(a->target);
			st->alias = a->name;
			return;
		}
		plus = strchr(local, '+');
		if (pass == 1 || plus == NULL || plus == local)
			return;
		base = g_strndup(local, (gsize)(plus - local));
	}
}

/* An address: one of the users' `addresses` (also after dropping a +tag),
 * else user-or-alias@local-domain. Returns -1 for a non-local address. */
static int
step_address(const HmConfig *cfg, const HmAddress *addr, Step *st)
{
	g_autofree char *full = g_strconcat(addr->local, "@", addr->domain, NULL);
	const char *plus = strchr(addr->local, '+');

	if ((st->user = find_by_address(cfg, full)) != NULL)
		return 0;
	if (plus != NULL && plus != addr->local) {
		g_autofree char *untagged = g_strdup_printf("%.*s@%s", (int)(plus - addr->local),
		                                            addr->local, addr->domain);

		if ((st->user = find_by_address(cfg, untagged)) != NULL)
			return 0;
	}
	if (!hm_config_is_local_domain(cfg, addr->domain))
		return -1;
	step_local(cfg, addr->local, st);
	return 0;
}

/* Resolves one link of the chain; returns -1 with *err on a hard stop.
 * With forward set, an alias target that is not local ends the chain
 * there: *forward receives it. */
static int
resolve_step(const HmConfig *cfg, const char *what, const char *via, Step *st,
             char **forward, GError **err)
{
	HmAddress addr = { 0 };
	g_autoptr(GError) perr = NULL;
	int rc;

	if (hm_address_parse(what, strlen(what), HM_ADDR_UTF8 | HM_ADDR_NO_DOMAIN, &addr,
	                     &perr) < 0) {
		g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_UNKNOWN_USER,
		            "%s: not a valid address (%s)", what, perr->message);
		return -1;
	}
	if (addr.domain == NULL || addr.domain[0] == '\0') {
		step_local(cfg, addr.local, st);
		rc = 0;
	} else {
		rc = step_address(cfg, &addr, st);
	}
	if (rc == 0) {
		hm_address_clear(&addr);
		return 0;
	}
	if (via != NULL && forward != NULL) {
		*forward = g_strconcat(addr.local, "@", addr.domain, NULL);
		hm_address_clear(&addr);
		return 0;
	}
	if (via != NULL)
		g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_UNKNOWN_USER,
		            "alias %s forwards to %s, which is not local (homemail delivers only "
		            "to local mailboxes; the relay forwards)", via, what);
	else
		g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_UNKNOWN_USER,
		            "%s: domain %s is not local", what, addr.domain);
	hm_address_clear(&addr);
	return -1;
}

/* Strips the angle brackets of "<a@b>" and surrounding white space. */
static char *
bare_address(const char *address)
{
	g_autofree char *s = g_strstrip(g_strdup(address));
	gsize len = strlen(s);

	if (len >= 2 && s[0] == '<' && s[len - 1] == '>')
		return g_strstrip(g_strndup(s + 1, len - 2));
	return g_steal_pointer(&s);
}

/* hm_recipient_resolve() and hm_recipient_expand() (forward not NULL). */
static char *
resolve(const HmConfig *cfg, const char *address, char **forward, GError **err)
{
	g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func(g_free);
	char *cur = bare_address(address);
	const char *via = NULL;

	g_ptr_array_add(chain, cur);
	for (;;) {
		Step st = { 0 };

		if (resolve_step(cfg, cur, via, &st, forward, err) < 0)
			return NULL;
		if (forward != NULL && *forward != NULL)
			return NULL;
		if (st.user != NULL)
			return g_strdup(st.user->name);
		if (st.next == NULL) {
			g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_UNKNOWN_USER,
			            via != NULL ? "%s: alias target is no local user or alias"
			                        : "%s: no such user", cur);
			return NULL;
		}
		for (guint i = 0; i < chain->len; i++)
			if (g_ascii_strcasecmp(chain->pdata[i], st.next) == 0) {
				g_autofree char *path = NULL;

				g_ptr_array_add(chain, st.next);
				g_ptr_array_add(chain, NULL);
				path = g_strjoinv(" -> ", (char **)chain->pdata);
				g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP,
				            "alias loop: %s", path);
				return NULL;
			}
		if (chain->len > RECIPIENT_MAX_CHAIN) {
			g_free(st.next);
			g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP,
			            "%s: alias chain longer than %d steps", address,
			            RECIPIENT_MAX_CHAIN);
			return NULL;
		}
		via = st.alias;
		cur = st.next;
		g_ptr_array_add(chain, cur);
	}
}

char *
hm_recipient_resolve(const HmConfig *cfg, const char *address, GError **err)
{
	return resolve(cfg, address, NULL, err);
}

int
hm_recipient_expand(const HmConfig *cfg, const char *address, char **user, char **forward,
                    GError **err)
{
	*forward = NULL;
	*user = resolve(cfg, address, forward, err);
	return *user != NULL || *forward != NULL ? 0 : -1;
}
