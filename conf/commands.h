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

#endif
