#include <config.h>

#include <string.h>

#include "lib/parse.h"
#include "popd/command.h"
#include "popd/limits.h"

int
pop3_command_parse(char *line, Pop3Command *cmd, const char **why)
{
	char *p = line;
	gsize klen = 0;

	memset(cmd, 0, sizeof(*cmd));
	cmd->rest = "";
	while (g_ascii_isalpha(p[klen]) && klen < 5)
		klen++;
	if (klen < 3 || klen > 4 || (p[klen] != '\0' && p[klen] != ' ')) {
		*why = "Unknown command.";
		return -1;
	}
	for (gsize i = 0; i < klen; i++)
		cmd->keyword[i] = g_ascii_toupper(p[i]);
	if (p[klen] == '\0')
		return 0;
	p += klen + 1;
	cmd->rest = p;
	/* RFC 1939 lets a password hold spaces: PASS takes the whole rest. */
	if (strcmp(cmd->keyword, "PASS") == 0) {
		cmd->args[cmd->nargs++] = p;
		return 0;
	}
	while (*p != '\0') {
		char *end = strchr(p, ' ');
		gsize len = end != NULL ? (gsize)(end - p) : strlen(p);
		/* An AUTH initial response is longer than any other argument;
		 * the line limit bounds it. */
		gsize max = strcmp(cmd->keyword, "AUTH") == 0 ? POPD_LINE_MAX : POPD_ARG_MAX;

		if (cmd->nargs == POP3_MAX_ARGS || len == 0 || len > max) {
			*why = len > max ? "Argument too long." : "Bad arguments.";
			return -1;
		}
		cmd->args[cmd->nargs++] = p;
		if (end == NULL)
			break;
		*end = '\0';
		p = end + 1;
	}
	for (int i = 0; i < cmd->nargs; i++)
		for (const char *q = cmd->args[i]; *q != '\0'; q++)
			if ((guchar)*q < 0x21 || (guchar)*q > 0x7e) {
				*why = "Bad character in argument.";
				return -1;
			}
	return 0;
}

int
pop3_parse_msgnum(const char *arg, guint max, guint *out)
{
	guint64 v;

	if (arg == NULL || hm_parse_uint(arg, 1, max, &v) < 0)
		return -1;
	*out = (guint)v;
	return 0;
}
