/* The providers `homemail setup` knows without asking the network: their
 * mail domains and their documented servers (admin/presets.c, data only;
 * the lookups are in admin/discover.c). */
#ifndef ADMIN_PRESETS_H
#define ADMIN_PRESETS_H

#include <glib.h>

#include "admin/discover.h"

typedef struct {
	const char *host; /* NULL: the provider does not offer it */
	guint16 port;
	HmTlsMode tls;
	HmDiscLogin login; /* ADDRESS or LOCALPART */
} HmPresetServer;

typedef struct {
	const char *id;   /* short name for --answers ("gmail") */
	const char *name; /* for the person ("Gmail") */
	/* lower-case, NULL-terminated; may be empty (chosen by id only: a
	 * provider that hosts its customers' own domains) */
	const char *const *domains;
	HmPresetServer server[HM_DISC_N];
	HmDiscAuth auth;
	const char *oauth2_provider; /* lib/oauth2.h's name when auth is OAUTH2 */
	const char *note;            /* one line for the person */
} HmPreset;

/* Every preset, "other" (no servers) last. */
extern const HmPreset hm_presets[];
extern const gsize hm_n_presets;

/* The preset serving exactly domain (compared case-insensitively; a
 * subdomain of a preset's domain is not that provider's), or NULL. */
const HmPreset *hm_preset_for_domain(const char *domain);

/* The preset called id ("gmail", "other"), or NULL. */
const HmPreset *hm_preset_by_id(const char *id);

/* Fills d's servers, provider and note from p for address (the login
 * names made from it). Returns the number of servers p has. */
int hm_preset_apply(const HmPreset *p, const char *address, HmDiscovery *d);

#endif
