/* The start of every homemail program's main(): the options all of them
 * share (-c FILE, -v, --version, --help; DESIGN.md's command-line
 * contract) beside the program's own, the log, and the config. */
#ifndef HM_PROGRAM_H
#define HM_PROGRAM_H

#include <glib.h>

#include "conf/hmconfig.h"

typedef struct {
	/* Set by the program. */
	const char *name;            /* "homemail-popd": log prefix and messages */
	const char *params;          /* after the name in --help ("[RCPT...]"), or NULL */
	const char *summary;         /* one line for --help */
	const char *description;     /* after the options in --help, or NULL */
	const GOptionEntry *entries; /* the program's own options, or NULL */
	gboolean args_allowed;       /* arguments after the options (else an error) */
	guint load_flags;            /* HmConfigFlags for hm_config_load_flags() */
	int usage_status;            /* exit status for bad options */
	int config_status;           /* exit status when the config cannot be loaded */
	/* Filled by hm_program_parse(). */
	char *config_path;           /* -c, or NULL for the default */
	int verbosity;               /* number of -v */
	gboolean version;
} HmProgram;

/* Parses the command line (removing what it took from argc and argv) and
 * starts the log on stderr at the -v verbosity. Returns TRUE to go on;
 * FALSE when main() must return *status: 0 after --version (printed
 * here), usage_status after bad options (the reason printed on stderr). */
gboolean hm_program_parse(HmProgram *prog, int *argc, char ***argv, int *status);

/* Loads the config (-c or the default path) and restarts the log with the
 * config's target (stderr or syslog). Returns the config, or NULL with the
 * reason printed on stderr and *status set to config_status. */
HmConfig *hm_program_load(HmProgram *prog, int *status);

/* Frees what hm_program_parse() filled. */
void hm_program_clear(HmProgram *prog);

#endif
