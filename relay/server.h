/* homemail-relay's server: the SMTP listeners (lib/server), a session
 * process per client, and the queue runner beside them. */
#ifndef RELAY_SERVER_H
#define RELAY_SERVER_H

#include "conf/hmconfig.h"
#include "conf/program.h"

/* Prepares the queue directory, opens the listeners (dropping privileges
 * to run_as), starts the queue runner and serves until SIGTERM; SIGHUP
 * re-reads the config (prog says from where). cfg stays the caller's.
 * Returns 0 after a clean stop, -1 with *err when it could not start. */
int relay_server_run(HmProgram *prog, HmConfig *cfg, GError **err);

#endif
