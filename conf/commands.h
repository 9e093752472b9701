/* The subcommands of `homemail`. Each takes the argv after the global
 * options (argv[0] is the subcommand's name) and returns the exit status. */
#ifndef HM_COMMANDS_H
#define HM_COMMANDS_H

#include <glib.h>

/* What the global options (before the subcommand) set. */
typedef struct {
	const char *config_path;   /* -c FILE; NULL: the default path */
	int verbosity;             /* one per -v */
} HmGlobalOpts;

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

#endif
