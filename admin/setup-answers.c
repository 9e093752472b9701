/* The answers file of `homemail setup --answers FILE`: one
 * `question-id = value` a line, `#` comments and blank lines ignored;
 * the value runs to the end of the line, spaces around it trimmed. The
 * interactive run saves the same file (with the password hashes and the
 * secret files' paths, never a secret). */
#include <config.h>

#include <string.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "admin/setup.h"

/* An answers file is a few kilobytes; this only bounds a mistake. */
#define ANSWERS_MAX (1024 * 1024)

/* Where a secret given in plain text goes: user.X.password is hashed into
 * user.X.password_hash; X.password and X.client_secret go to the files of
 * X.password_file and X.client_secret_file. NULL for any other id. */
static char *
secret_target(const char *id)
{
	if (g_str_has_prefix(id, "user.") && g_str_has_suffix(id, ".password"))
		return g_strconcat(id, "_hash", NULL);
	if (g_str_has_suffix(id, ".password") || g_str_has_suffix(id, ".client_secret"))
		return g_strconcat(id, "_file", NULL);
	return NULL;
}

static int
read_line(HmSetup *s, GHashTable *into, const char *path, guint lineno, char *line, GError **err)
{
	char *eq, *id, *value, *target;

	g_strstrip(line);
	if (*line == '\0' || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (eq == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s:%u: not \"id = value\"", path,
		            lineno);
		return -1;
	}
	*eq = '\0';
	id = g_strstrip(line);
	value = g_strstrip(eq + 1);
	target = secret_target(id);
	if (*id == '\0' ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	               "0123456789._-") != strlen(id) ||
	    g_hash_table_contains(into, id) ||
	    (target != NULL && g_hash_table_contains(s->secrets, target))) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s:%u: %s \"%s\"", path, lineno,
		            *id == '\0' ? "no id before" : "bad or repeated id", id);
		g_free(target);
		return -1;
	}
	if (target != NULL && into == s->answers)
		g_hash_table_replace(s->secrets, target, g_strdup(value));
	else if (target == NULL)
		g_hash_table_replace(into, g_strdup(id), g_strdup(value));
	else
		g_free(target);
	return 0;
}

int
hm_setup_answers_read(HmSetup *s, const char *path, gboolean as_current, GError **err)
{
	g_autoptr(GBytes) data = hm_read_file(path, ANSWERS_MAX, err);
	g_auto(GStrv) lines = NULL;
	gsize len;
	const char *text;

	if (data == NULL)
		return -1;
	text = g_bytes_get_data(data, &len);
	if (text == NULL)
		text = "";
	if (memchr(text, '\0', len) != NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: holds a NUL byte", path);
		return -1;
	}
	{
		g_autofree char *copy = g_strndup(text, len);

		lines = g_strsplit(copy, "\n", -1);
	}
	for (guint i = 0; lines[i] != NULL; i++)
		if (read_line(s, as_current ? s->current : s->answers, path, i + 1, lines[i], err) <
		    0)
			return -1;
	return 0;
}

char *
hm_setup_answers_render(const HmSetup *s, GPtrArray *plan)
{
	GString *t = g_string_new("# homemail setup answers: `homemail setup --answers FILE` "
	                          "writes the same\n# configuration again (homemail(8), "
	                          "SETUP). One \"id = value\" a line.\n");

	for (guint i = 0; i < plan->len; i++) {
		const HmStep *st = g_ptr_array_index(plan, i);
		const char *v = g_hash_table_lookup(s->answers, st->id);

		if (!hm_setup_step_saved(st))
			continue;
		if (v == NULL || *v == '\0')
			g_string_append_printf(t, "%s =\n", st->id);
		else
			g_string_append_printf(t, "%s = %s\n", st->id, v);
	}
	return g_string_free(t, FALSE);
}

char *
hm_setup_answers_path(const HmSetup *s)
{
	return g_strconcat(s->config_path, ".answers", NULL);
}
