/* The programs' common start (conf/program.c): options, exit statuses,
 * config loading. */
#include <config.h>

#include "conf/program.h"
#include "testutil.h"

static HmProgram
prog_for_test(const GOptionEntry *entries)
{
	HmProgram p = {
		.name = "homemail-test", .summary = "A test.", .entries = entries,
		.usage_status = 64, .config_status = 75,
	};

	return p;
}

/* Runs hm_program_parse() on a copy of argv; returns its result. */
static gboolean
parse(HmProgram *p, const char *const *args, int *status, int *left)
{
	g_auto(GStrv) argv = g_strdupv((char **)args);
	char **v = g_memdup2(argv, sizeof(char *) * (g_strv_length(argv) + 1));
	int argc = (int)g_strv_length(argv);
	gboolean ok = hm_program_parse(p, &argc, &v, status);

	*left = argc;
	g_free(v);
	return ok;
}

static void
test_parse(void)
{
	gboolean once = FALSE;
	const GOptionEntry own[] = {
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once, "once", NULL },
		G_OPTION_ENTRY_NULL
	};
	const char *const good[] = { "t", "-c", "/x/h.conf", "-vv", "--once", NULL };
	const char *const extra[] = { "t", "rcpt@x", NULL };
	const char *const bad[] = { "t", "--nope", NULL };
	HmProgram p = prog_for_test(own);
	int status = -1, left = 0;

	g_assert_true(parse(&p, good, &status, &left));
	g_assert_cmpstr(p.config_path, ==, "/x/h.conf");
	g_assert_cmpint(p.verbosity, ==, 2);
	g_assert_true(once);
	g_assert_cmpint(left, ==, 1);
	hm_program_clear(&p);

	p = prog_for_test(NULL);
	g_assert_false(parse(&p, extra, &status, &left));
	g_assert_cmpint(status, ==, 64);
	hm_program_clear(&p);
	p = prog_for_test(NULL);
	p.args_allowed = TRUE;
	g_assert_true(parse(&p, extra, &status, &left));
	g_assert_cmpint(left, ==, 2);
	hm_program_clear(&p);

	p = prog_for_test(NULL);
	status = -1;
	g_assert_false(parse(&p, bad, &status, &left));
	g_assert_cmpint(status, ==, 64);
	hm_program_clear(&p);
}

static void
test_version(void)
{
	if (g_test_subprocess()) {
		const char *const args[] = { "t", "--version", NULL };
		HmProgram p = prog_for_test(NULL);
		int status = -1, left;

		g_assert_false(parse(&p, args, &status, &left));
		g_assert_cmpint(status, ==, 0);
		return;
	}
	g_test_trap_subprocess(NULL, 0, 0);
	g_test_trap_assert_passed();
	g_test_trap_assert_stdout("homemail-test " PACKAGE_VERSION "\n");
}

static void
test_load(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-program");
	g_autofree char *conf = g_build_filename(dir, "h.conf", NULL);
	HmProgram p = prog_for_test(NULL);
	HmConfig *cfg;
	int status = -1;

	p.config_path = g_strdup(conf);
	g_assert_null(hm_program_load(&p, &status));
	g_assert_cmpint(status, ==, 75);
	g_assert_true(g_file_set_contents(conf, "hostname = \"box.example\";\n", -1, NULL));
	cfg = hm_program_load(&p, &status);
	g_assert_nonnull(cfg);
	g_assert_cmpstr(cfg->hostname, ==, "box.example");
	hm_config_free(cfg);
	hm_program_clear(&p);
	g_assert_null(p.config_path);
	hm_test_remove_tree(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/program/parse", test_parse);
	g_test_add_func("/program/version", test_version);
	g_test_add_func("/program/load", test_load);
	return g_test_run();
}
