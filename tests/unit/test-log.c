/* Secrets never reach the log: the masking of protocol lines. */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* What hm_log_trace() writes to stderr at verbosity v. */
static char *
traced(int v, gboolean from_client, const char *line)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char buf[512] = "";
	size_t n;

	g_assert_nonnull(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	hm_log_init("t", FALSE, v);
	hm_log_trace(from_client, line, "acct %s", "isp");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return g_strdup(buf);
}

static void
test_trace(void)
{
	g_autofree char *pass = traced(1, TRUE, "PASS hunter2");
	g_autofree char *reply = traced(1, FALSE, "+OK hi\x07");
	g_autofree char *quiet = traced(0, TRUE, "NOOP");

	g_assert_nonnull(strstr(pass, "acct isp: C: PASS ********\n"));
	g_assert_null(strstr(pass, "hunter2"));
	g_assert_nonnull(strstr(reply, "acct isp: S: +OK hi?\n"));
	g_assert_cmpstr(quiet, ==, "");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/log/mask", test_mask);
	g_test_add_func("/log/trace", test_trace);
	return g_test_run();
}
