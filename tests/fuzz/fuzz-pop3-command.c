/* Fuzzes the POP3 command parser: whatever it accepts is well formed. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "popd/command.h"
#include "popd/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = g_strndup((const char *)data, size);
	Pop3Command cmd;
	const char *why = NULL;
	guint n;

	if (pop3_command_parse(line, &cmd, &why) == 0) {
		if (strlen(cmd.keyword) < 3 || cmd.nargs > POP3_MAX_ARGS)
			__builtin_trap();
		for (int i = 0; i < cmd.nargs; i++)
			if (pop3_parse_msgnum(cmd.args[i], 100, &n) == 0 && (n < 1 || n > 100))
				__builtin_trap();
	} else if (why == NULL) {
		__builtin_trap();
	}
	g_free(line);
	return 0;
}
