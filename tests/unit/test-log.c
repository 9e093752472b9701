/* Secrets never reach the log: the masking of protocol lines. */
#include <config.h>

#include <string.h>

#include "lib/log.h"

static void
check(const char *in, gboolean sasl, const char *want)
{
	g_autofree char *got = hm_log_mask_line(in, sasl);

	g_assert_cmpstr(got, ==, want);
}

static void
test_mask(void)
{
	check("PASS hunter2", FALSE, "PASS ********");
	check("pass hunter2 with spaces", FALSE, "pass ********");
	check("USER alice", FALSE, "USER alice");
	check("AUTH PLAIN AGFsaWNlAHNlY3JldA==", FALSE, "AUTH PLAIN ********");
	check("AUTH PLAIN", FALSE, "AUTH PLAIN");
	check("auth login YWxpY2U=", FALSE, "auth login ********");
	check("a1 LOGIN alice \"s3cret pw\"", FALSE, "a1 LOGIN alice ********");
	check("a2 AUTHENTICATE PLAIN AGFsaWNl", FALSE, "a2 AUTHENTICATE PLAIN ********");
	check("AGFsaWNlAHNlY3JldA==", TRUE, "********");
	check("RETR 1", FALSE, "RETR 1");
	check("PASSWORD x", FALSE, "PASSWORD x");
	check("MAIL FROM:<a@b>\x1b[2J", FALSE, "MAIL FROM:<a@b>?[2J");
	check("APOP alice c4c9334bac560ecc979e58001b3e22fb", FALSE, "APOP alice ********");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/log/mask", test_mask);
	return g_test_run();
}
