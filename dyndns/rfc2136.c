/* The rfc2136 provider: not written yet (a helper's branch replaces this). */
#include <config.h>

#include "dyndns/provider.h"

static void
update(const HmDynUpdate *u, guint n, HmDynResult *res)
{
	for (guint i = 0; i < n; i++)
		hm_dyn_result_set(&res[i], HM_DYN_RETRY, NULL, "%s: provider rfc2136 not built yet",
		                  u[i].rec->hostname);
}

static char *
describe(const HmDynUpdate *u)
{
	return g_strdup_printf("rfc2136 update of %s", u->rec->hostname);
}

const HmDynProvider hm_dyn_rfc2136 = {
	.name = "rfc2136",
	.update = update,
	.describe = describe,
};
