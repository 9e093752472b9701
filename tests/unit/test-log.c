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

/* stderr captured between capture_begin() and capture_end(). */
static struct {
	FILE *tmp;
	int saved;
} cap;

static void
capture_begin(int v)
{
	cap.tmp = tmpfile();
	g_assert_nonnull(cap.tmp);
	cap.saved = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(fileno(cap.tmp), STDERR_FILENO);
	hm_log_init("t", FALSE, v);
}

static char *
capture_end(void)
{
	char buf[512] = "";
	size_t n;

	fflush(stderr);
	dup2(cap.saved, STDERR_FILENO);
	close(cap.saved);
	rewind(cap.tmp);
	n = fread(buf, 1, sizeof(buf) - 1, cap.tmp);
	buf[n] = '\0';
	fclose(cap.tmp);
	return g_strdup(buf);
}

/* What hm_log_trace() writes to stderr at verbosity v. */
static char *
traced(int v, gboolean from_client, const char *line)
{
	capture_begin(v);
	hm_log_trace(from_client, line, "acct %s", "isp");
	return capture_end();
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

/* Whatever a peer put into a logged value, the line stays one line and
 * carries no control character: no forged lines, no terminal escapes. */
static void
test_controls(void)
{
	g_autofree char *out = NULL;

	capture_begin(0);
	hm_info("rcpt=<%s> helo=%s", "x\r\nt: forged line\x1b[2J\x07", "a\tb\x7f\xc2\x85y\xc2\x9b" "31m\xc3\xa9");
	out = capture_end();
	g_assert_cmpstr(out, ==, "t: rcpt=<x  t: forged line?[2J?> helo=a b??y?31m\xc3\xa9\n");
	capture_begin(0);
	hm_info("answer %s", "\x9b" "31m \xff\xfe ok \xe2\x82 \xe2\x82\xac");
	g_free(out);
	out = capture_end();
	g_assert_cmpstr(out, ==, "t: answer ?31m ?? ok ?? \xe2\x82\xac\n");
	/* U+2028 ends a line for some viewers; U+202E, U+2067 reorder one;
	 * a zero-width joiner (U+200D) is text. */
	capture_begin(0);
	hm_info("reply %s", "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xe2\x80\xae" "d\xe2\x81\xa7" "e\xe2\x80\x8d" "f");
	g_free(out);
	out = capture_end();
	g_assert_cmpstr(out, ==, "t: reply a?b?c?d?e\xe2\x80\x8d" "f\n");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/log/mask", test_mask);
	g_test_add_func("/log/trace", test_trace);
	g_test_add_func("/log/controls", test_controls);
	return g_test_run();
}
