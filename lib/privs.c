#include <config.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "privs.h"

int
hm_drop_privileges(const char *run_as, GError **err)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if (run_as == NULL) {
		hm_warn("running as root: set run_as to drop privileges");
		return 0;
	}
	pw = getpwnam(run_as);
	if (pw == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "run_as: no user \"%s\"", run_as);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		hm_set_error_errno(err, errno, "dropping privileges to %s", run_as);
		return -1;
	}
	if (setuid(0) == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "could regain root after dropping it");
		return -1;
	}
	return 0;
}
