/* The POP3 command-line parser and message-number parsing. */
#include <config.h>

#include <string.h>

#include "popd/command.h"

static void
parse_ok(const char *text, const char *kw, int nargs, const char *a0, const char *a1)
{
	g_autofree char *line = g_strdup(text);
	Pop3Command cmd;
	const char *why = NULL;

	if (pop3_command_parse(line, &cmd, &why) < 0)
		g_error("\"%s\" refused: %s", text, why);
	g_assert_cmpstr(cmd.keyword, ==, kw);
	g_assert_cmpint(cmd.nargs, ==, nargs);
	if (nargs > 0)
		g_assert_cmpstr(cmd.args[0], ==, a0);
	if (nargs > 1)
		g_assert_cmpstr(cmd.args[1], ==, a1);
}

static void
parse_bad(const char *text)
{
	g_autofree char *line = g_strdup(text);
	Pop3Command cmd;
	const char *why = NULL;

	if (pop3_command_parse(line, &cmd, &why) == 0)
		g_error("\"%s\" accepted", text);
	g_assert_nonnull(why);
}

static void
test_parse(void)
{
	parse_ok("STAT", "STAT", 0, NULL, NULL);
	parse_ok("stat", "STAT", 0, NULL, NULL);
	parse_ok("Top 1 10", "TOP", 2, "1", "10");
	parse_ok("LIST 4294967297", "LIST", 1, "4294967297", NULL);
	parse_ok("USER alice@home.example", "USER", 1, "alice@home.example", NULL);
	parse_ok("PASS pass word with  spaces ", "PASS", 1, "pass word with  spaces ", NULL);
	parse_ok("PASS ", "PASS", 1, "", NULL);
	parse_ok("AUTH PLAIN", "AUTH", 1, "PLAIN", NULL);
	parse_ok("QUIT ", "QUIT", 0, NULL, NULL);

	parse_bad("");
	parse_bad("ST");
	parse_bad("STATS");
	parse_bad("ST4T");
	parse_bad(" STAT");
	parse_bad("STAT\t1");
	parse_bad("LIST  1");
	parse_bad("TOP 1 2 3");
	parse_bad("RETR 12345678901234567890123456789012345678901");
	parse_bad("USER \x01x");
	parse_bad("USER caf\xc3\xa9");
}

static void
test_long_auth(void)
{
	g_autofree char *ir = g_strnfill(400, 'A');
	g_autofree char *text = g_strdup_printf("AUTH PLAIN %s", ir);

	parse_ok(text, "AUTH", 2, "PLAIN", ir);
}

static void
test_msgnum(void)
{
	guint n = 0;

	g_assert_cmpint(pop3_parse_msgnum("1", 5, &n), ==, 0);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpint(pop3_parse_msgnum("5", 5, &n), ==, 0);
	g_assert_cmpint(pop3_parse_msgnum("007", 10, &n), ==, 0);
	g_assert_cmpuint(n, ==, 7);
	g_assert_cmpint(pop3_parse_msgnum("6", 5, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum("0", 5, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum("-1", 5, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum("+1", 5, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum("4294967297", G_MAXUINT, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum("1x", 5, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum("", 5, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum(NULL, 5, &n), ==, -1);
	g_assert_cmpint(pop3_parse_msgnum("1", 0, &n), ==, -1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pop3-command/parse", test_parse);
	g_test_add_func("/pop3-command/long-auth", test_long_auth);
	g_test_add_func("/pop3-command/msgnum", test_msgnum);
	return g_test_run();
}
