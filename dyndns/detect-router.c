/* The router's WAN address: not written yet (a helper's branch replaces this). */
#include <config.h>

#include "dyndns/detect.h"
#include "lib/error.h"

int
hm_dyn_detect_router(const HmDyndnsConf *d, int family, HmIpAddr *out, GError **err)
{
	(void)d, (void)family, (void)out;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "router detection is not built yet");
	return -1;
}
