#include <config.h>

#include <string.h>

#include "lib/error.h"
#include "sasl-script.h"

int
hm_script_line(gpointer io, const char *line, const char *shown, GError **err)
{
	Script *sc = io;

	(void)err;
	g_assert_true(strcmp(line, "*") == 0 ? strcmp(shown, "*") == 0
	                                     : strcmp(shown, "********") == 0);
	g_assert_true(sc->secret == NULL || strstr(shown, sc->secret) == NULL);
	g_string_append_printf(sc->sent, "%s|", line);
	return 0;
}

int
hm_script_reply(gpointer io, HmSaslVerdict *v, char **text, GError **err)
{
	Script *sc = io;
	const char *r = sc->replies[sc->next] != NULL ? sc->replies[sc->next++] : "!";

	if (r[0] == '!') {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "connection lost");
		return -1;
	}
	*v = r[0] == '+' ? HM_SASL_CONTINUE : r[0] == 'O' ? HM_SASL_SUCCESS : HM_SASL_FAILURE;
	/* "+ B64", "OK", "NO words": the text after the verdict, if any. */
	*text = g_strdup(r[0] == '+' ? r + 2 : strlen(r) > 3 ? r + 3 : "");
	return 0;
}
