/* The subcommands of `homemail`. Each takes the argv after the global
 * options (argv[0] is the subcommand's name) and returns the exit status. */
#ifndef HM_COMMANDS_H
#define HM_COMMANDS_H

#include <glib.h>

#include "conf/hmconfig.h"

/* What the global options (before the subcommand) set. */
typedef struct {
	const char *config_path; /* -c FILE; NULL: the default path */
	int verbosity;           /* one per -v */
} HmGlobalOpts;

/* Loads the config file a subcommand works on: cpath (the subcommand's own
 * -c), else opts->config_path, else hm_config_default_path(). Secrets are
 * optional (see HM_CONFIG_SECRETS_OPTIONAL); warnings go to stderr as
 * "homemail: warning: LINE". Stores the path used in *path_out when
 * path_out is not NULL (it points into cpath, opts or static storage).
 * Returns the config (hm_config_free() it), or NULL after printing
 * "homemail: MESSAGE" to stderr. */
HmConfig *hm_cmd_load_config(const char *cpath, const HmGlobalOpts *opts, const char **path_out);

/* `homemail check [-c FILE]`: loads and validates the config; warnings go
 * to stderr, a summary to stdout. Returns 0, 1 when the config is bad, 2
 * on a usage error. */
int hm_cmd_check(int argc, char **argv, const HmGlobalOpts *opts);

/* `homemail passwd [-c FILE] [--stdin] USER`: reads a new password (twice
 * from the terminal without echo, or once from stdin), stores its yescrypt
 * hash as USER's password in the config file, editing only that setting,
 * and checks that the file loads back. Returns 0, 1 on failure (unknown
 * user, mismatch, write error), 2 on a usage error. */
int hm_cmd_passwd(int argc, char **argv, const HmGlobalOpts *opts);

/* `homemail queue [-c FILE] [list | show ID | delete ID... | flush]`: the
 * relay's queue as mailq shows it, one entry in full, entries removed
 * (without a bounce), or a delivery attempt of everything now. Returns 0,
 * 1 on failure, 2 on a usage error. */
int hm_cmd_queue(int argc, char **argv, const HmGlobalOpts *opts);

/* `homemail status [-c FILE]`: what the programs do and last did: for
 * each relay and popd listener (when the config has that group) whether
 * something accepts on it; the relay's queue (count, size, oldest entry,
 * next retry); per fetcher account its last fetch (when, how many, or
 * why it failed); per dyndns record and family the address the provider
 * accepted and when, the last request's outcome in words, and any
 * back-off; the OAuth2 tokens as `homemail oauth status` shows them.
 * Returns 0, 1 when a listener does not accept or a state file cannot be
 * read, 2 on a usage error. */
int hm_cmd_status(int argc, char **argv, const HmGlobalOpts *opts);

/* `homemail oauth [-c FILE] [--port N] login NAME | status`: signs the
 * account or smart host NAME (auth = "oauth2") in at its identity
 * provider — the device grant where the provider allows it for mail,
 * else the code grant with PKCE, its answer taken by a loopback listener
 * (port N) or pasted — and stores the tokens; or shows, per account and
 * smart host, whether it is signed in, how long its access token lives,
 * and its scope, never a token. Returns 0, 1 on failure, 2 on a usage
 * error. */
int hm_cmd_oauth(int argc, char **argv, const HmGlobalOpts *opts);

/* `homemail setup [-c FILE] [--answers FILE] [--no-start]`: asks the
 * questions of the guided set-up on the terminal (or takes them from an
 * answers file), writes the config, its secrets, a certificate when none
 * is given and the Maildirs, then enables the systemd units (unless
 * --no-start or systemd is not running) and says what a mail client
 * needs. Returns 0, 1 on failure (nothing half-written: a config that
 * does not load back is replaced by the old one), 2 on a usage error. */
int hm_cmd_setup(int argc, char **argv, const HmGlobalOpts *opts);

/* `homemail up [-c FILE]`: runs homemail-relay, homemail-popd,
 * homemail-fetcher and homemail-dyndns (each when the config gives it
 * work) in the foreground with the same -c and -v, restarts a child that
 * dies (back-off 1 s doubling to 60 s), runs the network-up actions on
 * SIGUSR1, passes SIGHUP on, and on SIGTERM or SIGINT stops them all.
 * Returns 0 after a stop, 1 when it cannot start, 2 on a usage error. */
int hm_cmd_up(int argc, char **argv, const HmGlobalOpts *opts);

/* `homemail network-up [-c FILE]`: the network is back: tells the running
 * `homemail up` (SIGUSR1), or flushes the relay's queue and, under
 * systemd, starts homemail-fetcher.service (or wakes
 * homemail-fetcher-push.service) and homemail-dyndns.service without
 * waiting. Returns 0, 1 on failure, 2 on a usage error. */
int hm_cmd_network_up(int argc, char **argv, const HmGlobalOpts *opts);

#endif
