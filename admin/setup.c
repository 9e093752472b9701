/* `homemail setup [-c FILE] [--answers FILE] [--no-start] [--no-check]`: the guided
 * set-up. The questions are in setup-questions.c, asked by
 * setup-dialogue.c (or read from an answers file, setup-answers.c),
 * starting from the existing config (setup-current.c); the config is
 * rendered (setup-render.c), merged with the old one (setup-merge.c) and
 * written with its secrets (in the files setup-secrets.c names),
 * certificate and Maildirs (setup-files.c, setup-cert.c); setup-finish.c
 * starts the services. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "admin/commands.h"
#include "admin/setup.h"
#include "conf/hmconfig.h"

static void
wipe_free(gpointer p)
{
	if (p != NULL)
		explicit_bzero(p, strlen(p));
	g_free(p);
}

HmSetup *
hm_setup_new(const char *config_path)
{
	HmSetup *s = g_new0(HmSetup, 1);

	s->answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	s->current = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	s->found = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	s->secrets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, wipe_free);
	s->config_path = g_path_is_absolute(config_path)
	                         ? g_strdup(config_path)
	                         : g_build_filename(g_get_current_dir(), config_path, NULL);
	s->config_dir = g_path_get_dirname(s->config_path);
	s->load_path = g_strdup(s->config_path);
	return s;
}

void
hm_setup_free(HmSetup *s)
{
	if (s == NULL)
		return;
	g_hash_table_unref(s->answers);
	g_hash_table_unref(s->current);
	g_hash_table_unref(s->found);
	g_hash_table_unref(s->secrets);
	g_free(s->config_path);
	g_free(s->config_dir);
	g_free(s->load_path);
	g_free(s->old_text);
	g_free(s);
}

const char *
hm_setup_value(const HmSetup *s, const char *id)
{
	const char *v = g_hash_table_lookup(s->answers, id);

	return v != NULL ? v : g_hash_table_lookup(s->current, id);
}

char **
hm_setup_split(const char *value)
{
	GPtrArray *words = g_ptr_array_new();
	g_auto(GStrv) parts = g_strsplit_set(value != NULL ? value : "", " ,\t", -1);

	for (char **p = parts; *p != NULL; p++)
		if (**p != '\0')
			g_ptr_array_add(words, g_strdup(*p));
	g_ptr_array_add(words, NULL);
	return (char **)g_ptr_array_free(words, FALSE);
}

int
hm_cmd_setup(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	g_autofree char *answers = NULL;
	gboolean no_start = FALSE, no_check = FALSE;
	const GOptionEntry entries[] = { { "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath,
		                           "configuration file to write", "FILE" },
		                         { "answers", 0, 0, G_OPTION_ARG_FILENAME, &answers,
		                           "take the answers from FILE, without asking", "FILE" },
		                         { "no-start", 0, 0, G_OPTION_ARG_NONE, &no_start,
		                           "do not enable and start the systemd units", NULL },
		                         { "no-check", 0, 0, G_OPTION_ARG_NONE, &no_check,
		                           "do not test the servers live (offline)", NULL },
		                         G_OPTION_ENTRY_NULL };
	g_autoptr(GOptionContext) octx = g_option_context_new("- guided set-up");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmSetup) s = NULL;
	const char *path;
	int rc;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err) || argc != 1) {
		fprintf(stderr, "homemail: setup: %s\n",
		        err != NULL
		                ? err->message
		                : "usage: homemail setup [-c FILE] [--answers FILE] [--no-start] "
		                  "[--no-check]");
		return 2;
	}
	path = cpath != NULL ? cpath : opts->config_path;
	s = hm_setup_new(path != NULL ? path : hm_config_default_path());
	s->interactive = answers == NULL;
	s->no_check = no_check;
	if (hm_setup_load_current(s, &err) < 0 ||
	    (answers != NULL && hm_setup_answers_read(s, answers, FALSE, &err) < 0) ||
	    (answers != NULL ? hm_setup_unattended(s, &err) : hm_setup_dialogue(s, &err)) < 0 ||
	    hm_setup_write(s, &err) < 0) {
		fprintf(stderr, "homemail: setup: %s\n", err->message);
		return 1;
	}
	rc = hm_setup_finish(s, no_start);
	if (!s->no_check)
		hm_setup_advise(s);
	return rc;
}
