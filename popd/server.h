/* The homemail-popd daemon: listeners, one process per connection, and
 * the limits that keep one client from harming the others. */
#ifndef POPD_SERVER_H
#define POPD_SERVER_H

#include <glib.h>

#include "conf/hmconfig.h"

/* Opens every popd.listen address and loads the TLS certificate, then
 * (started as root with run_as set) drops to that user, then serves until
 * SIGTERM or SIGINT. Returns 0 after a clean stop, or -1 with *err when
 * start-up failed. */
int popd_server_run(const HmConfig *cfg, GError **err);

#endif
