/* Which file holds each secret `homemail setup` writes: a name per kind
 * and item that no other secret can have, and the file the config
 * already names for a secret kept, unless an older setup gave that file to
 * two secrets. */
#include <config.h>

#include <string.h>

#include "admin/setup.h"

/* path made absolute as the loader makes it: taken from the config's
 * directory. */
static char *
config_relative(const HmSetup *s, const char *path)
{
	return g_path_is_absolute(path) ? g_strdup(path)
	                                : g_build_filename(s->config_dir, path, NULL);
}

/* Whether a secret other than id's has the file path, in this run's
 * answers or in the config (a secret of a mailbox this run removes too:
 * its file may still be there). Any "..._file" counts: a CA file is no
 * place for a secret either. */
static gboolean
file_taken(const HmSetup *s, const char *id, const char *path)
{
	GHashTable *const tables[] = { s->answers, s->current };

	for (gsize i = 0; i < G_N_ELEMENTS(tables); i++) {
		GHashTableIter it;
		gpointer key, value;

		g_hash_table_iter_init(&it, tables[i]);
		while (g_hash_table_iter_next(&it, &key, &value)) {
			g_autofree char *other = NULL;

			if (strcmp(key, id) == 0 || !g_str_has_suffix(key, "_file") ||
			    *(const char *)value == '\0')
				continue;
			other = config_relative(s, value);
			if (strcmp(other, path) == 0)
				return TRUE;
		}
	}
	return FALSE;
}

/* The file name for id's secret, one per kind and item that no other can
 * make: "account-NAME" (a mailbox's password), "smarthost", "dyndns",
 * and "oauth-" before those for an OAuth2 client secret. An account's
 * name has no '/' and never starts with '.'. */
static char *
secret_name(const char *id)
{
	g_autofree char *item = g_strndup(id, (gsize)(strrchr(id, '.') - id));
	const char *kind = g_str_has_suffix(id, ".client_secret_file") ? "oauth-" : "";

	if (g_str_has_prefix(item, "account."))
		return g_strconcat(kind, "account-", item + strlen("account."), NULL);
	return g_strconcat(kind, item, NULL);
}

char *
hm_setup_secret_path(const HmSetup *s, const char *id)
{
	const char *cur = g_hash_table_lookup(s->current, id);
	g_autofree char *name = secret_name(id);
	char *path;

	/* A secret stays in the file the config names for it, unless an
	 * older setup gave that file to another secret as well. */
	if (cur != NULL && *cur != '\0') {
		g_autofree char *abs = config_relative(s, cur);

		if (!file_taken(s, id, abs))
			return g_strdup(cur);
	}
	/* Names an older setup gave ("secret/NAME" for any mailbox) may
	 * still be in use. */
	path = g_strdup_printf("%s/secret/%s", s->config_dir, name);
	for (guint n = 2; file_taken(s, id, path); n++) {
		g_free(path);
		path = g_strdup_printf("%s/secret/%s-%u", s->config_dir, name, n);
	}
	return path;
}
