/* DSN building (relay/dsn*.c), against golden files.
 *
 * Each golden test compares the whole DSN with tests/unit/golden/dsn-NAME.txt
 * (CRLF lines, kept as they are by .gitattributes). After a deliberate change
 * of the output, regenerate them with
 *     HM_REGEN_GOLDEN=1 HM_SRCDIR=$PWD/.. tests/unit/test-dsn
 * from the build directory, and read the diff before committing it. */
#include <config.h>

#include <string.h>

#include "relay/dsn-private.h"

/* 2026-01-01 10:00:00 UTC and five days and a bit later. */
#define ARRIVAL ((time_t)1767261600)
#define NOW (ARRIVAL + 5 * 86400 + 3600)

static const char original_crlf[] =
	"Received: from laptop.home.example (laptop.home.example [192.168.1.20])\r\n"
	"\tby box.dyn.example (homemail) with ESMTPS id Q1A2B3C4\r\n"
	"\tfor <bob@remote.example>; Thu, 1 Jan 2026 10:00:00 +0000\r\n"
	"From: Alice <alice@home.example>\r\n"
	"To: Bob <bob@remote.example>\r\n"
	"Subject: Lunch on Friday?\r\n"
	"Date: Thu, 1 Jan 2026 10:59:58 +0100\r\n"
	"Message-ID: <lunch-1@home.example>\r\n"
	"\r\n"
	"Hi Bob,\r\n"
	"\r\n"
	"shall we meet at noon? A line with a dot only follows.\r\n"
	".\r\n"
	"Alice\r\n";

static const char original_lf[] =
	"Received: from laptop.home.example (laptop.home.example [192.168.1.20])\n"
	"\tby box.dyn.example (homemail) with ESMTPS id Q1A2B3C4\n"
	"\tfor <bob@remote.example>; Thu, 1 Jan 2026 10:00:00 +0000\n"
	"From: Alice <alice@home.example>\n"
	"To: Bob <bob@remote.example>\n"
	"Subject: Lunch on Friday?\n"
	"Date: Thu, 1 Jan 2026 10:59:58 +0100\n"
	"Message-ID: <lunch-1@home.example>\n"
	"\n"
	"Hi Bob,\n"
	"\n"
	"shall we meet at noon? A line with a dot only follows.\n"
	".\n"
	"Alice";

static RelayDsnParams
params(void)
{
	RelayDsnParams p = {
		.reporting_mta = "box.dyn.example",
		.sender = "alice@home.example",
		.postmaster = "postmaster@box.dyn.example",
		.arrival = ARRIVAL,
		.now = NOW,
		.message_id_domain = "box.dyn.example",
		.boundary_seed = "Q1A2B3C4",
		.ret = RELAY_RET_DEFAULT,
		.original = original_crlf,
		.original_len = sizeof(original_crlf) - 1,
	};

	return p;
}

static RelayDsnRcpt
bob_failed(void)
{
	RelayDsnRcpt r = {
		.address = "bob@remote.example",
		.action = RELAY_DSN_FAILED,
		.status = "5.1.1",
		.remote_mta = "smtp.isp.example",
		.diagnostic = "smtp; 550 5.1.1 <bob@remote.example>: Recipient address rejected: "
		              "User unknown in virtual mailbox table",
		.last_attempt = NOW - 60,
	};

	return r;
}

/* What every DSN must be, whatever went in: CRLF lines of at most 998
 * octets, no NUL, no lone CR or LF. */
static void
assert_wire_safe(const GString *s)
{
	gsize col = 0;

	for (gsize i = 0; i < s->len; i++) {
		char c = s->str[i];

		g_assert_cmpint(c, !=, '\0');
		if (c == '\r') {
			g_assert_cmpuint(i + 1, <, s->len);
			g_assert_cmpint(s->str[i + 1], ==, '\n');
			i++;
			col = 0;
			continue;
		}
		g_assert_cmpint(c, !=, '\n');
		col++;
		g_assert_cmpuint(col, <=, 998);
	}
	g_assert_cmpuint(col, ==, 0);
}

static char *
golden_path(const char *name)
{
	const char *src = g_getenv("HM_SRCDIR");
	g_autofree char *file = g_strdup_printf("dsn-%s.txt", name);
	g_autofree char *here = NULL, *unit = NULL;

	if (src != NULL)
		return g_build_filename(src, "tests", "unit", "golden", file, NULL);
	here = g_canonicalize_filename(__FILE__, NULL);
	unit = g_path_get_dirname(here);
	return g_build_filename(unit, "golden", file, NULL);
}

static void
assert_golden(const GString *got, const char *name)
{
	g_autofree char *path = golden_path(name);
	g_autofree char *want = NULL;
	g_autoptr(GError) err = NULL;
	gsize len = 0;

	assert_wire_safe(got);
	if (g_strcmp0(g_getenv("HM_REGEN_GOLDEN"), "1") == 0) {
		g_file_set_contents(path, got->str, (gssize)got->len, &err);
		g_assert_no_error(err);
		return;
	}
	g_file_get_contents(path, &want, &len, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(got->str, ==, want);
	g_assert_cmpuint(got->len, ==, len);
}

/* Builds one DSN and compares it with its golden file; returns how many
 * recipients it reported. */
static int
build_golden(const RelayDsnParams *p, const RelayDsnRcpt *r, gsize n, const guint *notify,
             const char *name)
{
	g_autoptr(GString) out = g_string_new(NULL);
	int got = relay_dsn_build(p, r, n, notify, out);

	g_assert_cmpint(got, >, 0);
	assert_golden(out, name);
	return got;
}

static void
test_bounce(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();

	g_assert_cmpint(build_golden(&p, &r, 1, NULL, "bounce"), ==, 1);
}

/* Four hours after arrival, the warn_after of DESIGN.md's example. */
#define DELAY_NOW (ARRIVAL + 4 * 3600)

static void
test_delay(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r[] = { {
		                     .address = "bob@remote.example",
		                     .action = RELAY_DSN_DELAYED,
		                     .status = "4.4.1",
		                     .remote_mta = "smtp.isp.example",
		                     .diagnostic = "smtp; 421 4.7.0 Try again later, closing "
		                                   "connection.",
		                     .last_attempt = DELAY_NOW - 300,
		                     .will_retry_until = ARRIVAL + 5 * 86400,
	                     },
		             {
		                     .address = "carol@far.example",
		                     .action = RELAY_DSN_DELAYED,
		                     .status = "4.4.1",
		                     .remote_mta = "smtp.isp.example",
		                     .last_attempt = DELAY_NOW - 300,
		                     .will_retry_until = ARRIVAL + 5 * 86400,
	                     } };

	p.now = DELAY_NOW;
	p.ret = RELAY_RET_FULL; /* only the headers return with a delay notice */
	g_assert_cmpint(build_golden(&p, r, 2, NULL, "delay"), ==, 2);
}

static void
test_success(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r[] = {
		{ .address = "dave@home.example", .action = RELAY_DSN_DELIVERED, .status = "2.0.0" },
		{ .address = "bob@remote.example",
		  .action = RELAY_DSN_RELAYED,
		  .status = "2.0.0",
		  .remote_mta = "smtp.isp.example",
		  .diagnostic = "smtp; 250 2.0.0 Ok: queued as 4XyZ",
		  .last_attempt = ARRIVAL + 1 },
		{ .address = "family@home.example", .action = RELAY_DSN_EXPANDED, .status = "2.0.0" },
		{ .address = "eve@home.example", .action = RELAY_DSN_DELIVERED, .status = "2.0.0" },
	};
	/* eve gave no NOTIFY: the default asks for no success notice. */
	guint notify[] = { RELAY_NOTIFY_SUCCESS, RELAY_NOTIFY_SUCCESS | RELAY_NOTIFY_FAILURE,
		           RELAY_NOTIFY_SUCCESS, 0 };

	p.now = ARRIVAL + 2;
	g_assert_cmpint(build_golden(&p, r, 4, notify, "success"), ==, 3);
}

/* RET=FULL returns the whole message, from a bare-LF original as from a
 * CRLF one, and the "." line as it is (stuffing is for the wire). */
static void
test_ret_full(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();
	g_autoptr(GString) crlf = g_string_new(NULL), lf = g_string_new(NULL);

	p.ret = RELAY_RET_FULL;
	g_assert_cmpint(build_golden(&p, &r, 1, NULL, "ret-full"), ==, 1);
	relay_dsn_build(&p, &r, 1, NULL, crlf);
	p.original = original_lf;
	p.original_len = sizeof(original_lf) - 1;
	relay_dsn_build(&p, &r, 1, NULL, lf);
	g_assert_cmpstr(lf->str, ==, crlf->str);
	g_assert_nonnull(strstr(crlf->str, "follows.\r\n.\r\nAlice\r\n"));
}

/* RET=HDRS, a local failure in our own words, and a recipient with NOTIFY
 * NEVER left out. */
static void
test_ret_hdrs(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r[] = {
		{ .address = "frank@home.example",
		  .action = RELAY_DSN_FAILED,
		  .status = "5.2.2",
		  .diagnostic = "mailbox full: the quota of 1048576 octets is used up" },
		{ .address = "grace@home.example", .action = RELAY_DSN_FAILED, .status = "5.1.1" },
		{ .address = "heidi@home.example", .action = RELAY_DSN_FAILED, .status = "bogus" },
	};
	guint notify[] = { 0, RELAY_NOTIFY_NEVER, RELAY_NOTIFY_FAILURE };

	p.ret = RELAY_RET_HDRS;
	p.envid = NULL;
	g_assert_cmpint(build_golden(&p, r, 3, notify, "ret-hdrs"), ==, 2);
}

static void
test_envid_orcpt(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();

	p.envid = "QQ314159@laptop.home.example";
	r.orcpt = "rfc822;Bob.Smith@remote.example";
	r.address = "bob@remote.example";
	g_assert_cmpint(build_golden(&p, &r, 1, NULL, "envid-orcpt"), ==, 1);
}

static const char original_utf8[] = "From: Jörg <joerg@bücher.example>\r\n"
				    "To: Zoë <zoë@bücher.example>\r\n"
				    "Subject: Grüße\r\n"
				    "\r\n"
				    "Schöne Grüße!\r\n";

/* A UTF-8 recipient: RFC 6533's global types when the original was
 * SMTPUTF8, the 7-bit utf-8-addr-xtext form when (by mistake) it was not. */
static void
test_utf8(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = {
		.address = "zoë@bücher.example",
		.orcpt = "utf-8;zoë@bücher.example",
		.action = RELAY_DSN_FAILED,
		.status = "5.1.1",
		.remote_mta = "smtp.isp.example",
		.diagnostic = "smtp; 550 5.1.1 <zoë@bücher.example>: unbekannt — unknown",
	};

	p.sender = "jörg@bücher.example";
	p.original = original_utf8;
	p.original_len = sizeof(original_utf8) - 1;
	p.smtputf8 = TRUE;
	build_golden(&p, &r, 1, NULL, "utf8");
	p.smtputf8 = FALSE;
	p.sender = "joerg@buecher.example";
	build_golden(&p, &r, 1, NULL, "utf8-7bit");
}

static void
test_never(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r[] = { bob_failed(), bob_failed() };
	guint never[] = { RELAY_NOTIFY_NEVER, RELAY_NOTIFY_NEVER };
	guint delay_only[] = { RELAY_NOTIFY_DELAY, RELAY_NOTIFY_SUCCESS };
	g_autoptr(GString) out = g_string_new(NULL);

	g_assert_cmpint(relay_dsn_build(&p, r, 2, never, out), ==, 0);
	g_assert_cmpint(relay_dsn_build(&p, r, 2, delay_only, out), ==, 0);
	/* No DSN ever goes to the null reverse path. */
	p.sender = "";
	g_assert_cmpint(relay_dsn_build(&p, r, 2, NULL, out), ==, 0);
	g_assert_cmpint(relay_dsn_build(&p, r, 0, NULL, out), ==, 0);
	g_assert_cmpuint(out->len, ==, 0);
}

static void
test_long_diagnostic(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();
	g_autoptr(GString) diag = g_string_new("smtp; 550-5.7.1 ");
	g_autofree char *run = g_strnfill(1500, 'x');

	for (int i = 0; i < 40; i++)
		g_string_append_printf(diag, "part%d of a long multi-line refusal ", i);
	/* A run without white space longer than a line: only an inserted fold
	 * keeps it under 998 octets. */
	g_string_append(diag, run);
	g_string_append(diag, " end");
	r.diagnostic = diag->str;
	build_golden(&p, &r, 1, NULL, "long-diag");
}

/* A remote's reply cannot add a header field or a MIME part. */
static void
test_hostile_diagnostic(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();
	g_autoptr(GString) out = g_string_new(NULL);

	r.diagnostic = "smtp; 550 no\r\nX-Injected: yes\r\n\r\n--Q1A2B3C4/box.dyn.example--\n"
	               "\x01\x1b[31mred\x7f\tend\r";
	r.remote_mta = "evil\r\nBcc: victim@example";
	build_golden(&p, &r, 1, NULL, "hostile");
	relay_dsn_build(&p, &r, 1, NULL, out);
	g_assert_null(strstr(out->str, "\r\nX-Injected"));
	g_assert_null(strstr(out->str, "\r\nBcc"));
	g_assert_null(strstr(out->str, "\x1b"));
	g_assert_nonnull(strstr(out->str, "Diagnostic-Code: smtp; 550 no X-Injected: yes"));
}

/* RET=FULL of a message with a line over 998 octets, a NUL and a lone CR:
 * only its (cleaned) header section goes back, and the text says why. */
static void
test_full_refused(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();
	g_autoptr(GString) msg = g_string_new("Subject: wide\r\nX-Long: ");
	g_autoptr(GString) out = g_string_new(NULL);

	for (int i = 0; i < 1100; i++)
		g_string_append_c(msg, (char)('a' + i % 26));
	g_string_append(msg, "\r\nX-Cr: a\rb\r\n\r\nbody\r\n");
	g_string_append_len(msg, "nul\0here\r\n", 10);
	p.original = msg->str;
	p.original_len = msg->len;
	p.ret = RELAY_RET_FULL;
	build_golden(&p, &r, 1, NULL, "full-refused");
	relay_dsn_build(&p, &r, 1, NULL, out);
	g_assert_nonnull(strstr(out->str, "Content-Type: text/rfc822-headers\r\n"));
	g_assert_nonnull(strstr(out->str, "X-Cr: a b\r\n"));
	g_assert_null(strstr(out->str, "body"));
}

/* RET=FULL of a message that would make the DSN larger than the way
 * back takes (RFC 3461 4.3): only the header section goes back, and the
 * text says why; one octet more room and the whole message goes. */
static void
test_full_too_big(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();
	g_autoptr(GString) full = g_string_new(NULL), out = g_string_new("kept");
	g_autoptr(GString) orig = g_string_new(original_crlf);

	for (int i = 0; i < 60; i++)
		g_string_append(orig, "A long letter, line after line of it, to fill the body.\r\n");
	p.original = orig->str;
	p.original_len = orig->len;
	p.ret = RELAY_RET_FULL;
	relay_dsn_build(&p, &r, 1, NULL, full);
	p.max_size = full->len;
	relay_dsn_build(&p, &r, 1, NULL, out);
	g_assert_cmpstr(out->str + 4, ==, full->str);
	g_string_truncate(out, 4);
	p.max_size = full->len - 1;
	relay_dsn_build(&p, &r, 1, NULL, out);
	g_assert_true(g_str_has_prefix(out->str, "kept"));
	g_assert_cmpuint(out->len - 4, <=, p.max_size);
	g_assert_nonnull(strstr(out->str, "Content-Type: text/rfc822-headers\r\n"));
	g_assert_null(strstr(out->str, "shall we meet"));
	/* The golden file, with a round limit the text names. */
	g_assert_cmpuint(full->len, >, 4000);
	p.max_size = 4000;
	build_golden(&p, &r, 1, NULL, "full-too-big");
}

static char *
boundary_of(const GString *dsn)
{
	const char *b = strstr(dsn->str, "boundary=\"");
	const char *e;

	g_assert_nonnull(b);
	b += strlen("boundary=\"");
	e = strchr(b, '"');
	g_assert_nonnull(e);
	return g_strndup(b, (gsize)(e - b));
}

/* The boundary carries a digest of the original, so a sender cannot plant
 * it; a remote that names it in its reply gets a counter added. */
static void
test_boundary_collision(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r = bob_failed();
	g_autoptr(GString) first = g_string_new(NULL), out = g_string_new(NULL);
	g_autofree char *boundary = NULL, *diag = NULL, *again = NULL, *delim = NULL;
	guint n = 0;

	relay_dsn_build(&p, &r, 1, NULL, first);
	boundary = boundary_of(first);
	g_assert_true(g_str_has_prefix(boundary, "Q1A2B3C4."));
	g_assert_true(g_str_has_suffix(boundary, "/box.dyn.example"));
	g_assert_cmpuint(strlen(boundary), <=, 70 - 3);

	diag = g_strdup_printf("smtp; 550 --%s --%s=1", boundary, boundary);
	r.diagnostic = diag;
	relay_dsn_build(&p, &r, 1, NULL, out);
	assert_wire_safe(out);
	again = boundary_of(out);
	g_assert_true(g_str_has_prefix(again, boundary));
	g_assert_cmpstr(again + strlen(boundary), ==, "=2");
	delim = g_strdup_printf("\r\n--%s", again);
	for (const char *q = out->str; (q = strstr(q, delim)) != NULL; q++)
		n++;
	g_assert_cmpuint(n, ==, 4);
}

static void
test_mixed_kinds(void)
{
	RelayDsnParams p = params();
	RelayDsnRcpt r[] = { bob_failed(), bob_failed() };
	g_autoptr(GString) out = g_string_new(NULL);

	r[1].action = RELAY_DSN_DELAYED;
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*relay_dsn_kind*");
	g_assert_cmpint(relay_dsn_build(&p, r, 2, NULL, out), ==, 0);
	g_test_assert_expected_messages();
	g_assert_cmpuint(out->len, ==, 0);
}

static void
test_wanted(void)
{
	g_assert_true(relay_dsn_wanted(0, RELAY_DSN_FAILED));
	g_assert_true(relay_dsn_wanted(0, RELAY_DSN_DELAYED));
	g_assert_false(relay_dsn_wanted(0, RELAY_DSN_DELIVERED));
	g_assert_false(relay_dsn_wanted(0, RELAY_DSN_RELAYED));
	g_assert_false(relay_dsn_wanted(RELAY_NOTIFY_NEVER, RELAY_DSN_FAILED));
	g_assert_false(relay_dsn_wanted(RELAY_NOTIFY_NEVER, RELAY_DSN_DELAYED));
	g_assert_true(relay_dsn_wanted(RELAY_NOTIFY_SUCCESS, RELAY_DSN_EXPANDED));
	g_assert_true(relay_dsn_wanted(RELAY_NOTIFY_SUCCESS, RELAY_DSN_RELAYED));
	g_assert_false(relay_dsn_wanted(RELAY_NOTIFY_SUCCESS, RELAY_DSN_FAILED));
	g_assert_true(relay_dsn_wanted(RELAY_NOTIFY_DELAY, RELAY_DSN_DELAYED));
	g_assert_false(relay_dsn_wanted(RELAY_NOTIFY_FAILURE, RELAY_DSN_DELAYED));
}

static void
test_clean(void)
{
	g_autofree char *a = relay_dsn_clean("  a\r\n\tb\x01\xc2\x85 c  ", TRUE);
	g_autofree char *b = relay_dsn_clean("caf\xc3\xa9 \xff\xfe end", FALSE);
	g_autofree char *c = relay_dsn_clean("caf\xc3\xa9 \xe2\x80\xa8 x", TRUE);
	g_autofree char *d = relay_dsn_clean(NULL, TRUE);
	g_autofree char *big = g_strnfill(RELAY_DSN_TEXT_MAX + 10, 'y');
	g_autofree char *e = relay_dsn_clean(big, TRUE);

	g_assert_cmpstr(a, ==, "a b c");
	g_assert_cmpstr(b, ==, "caf? ?? end");
	g_assert_cmpstr(c, ==, "caf\xc3\xa9 x");
	g_assert_cmpstr(d, ==, "");
	g_assert_cmpuint(strlen(e), ==, RELAY_DSN_TEXT_MAX + 3);
	g_assert_true(g_str_has_suffix(e, "y..."));
}

static void
test_field_fold(void)
{
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree char *run = g_strnfill(2000, 'z');
	g_autofree char *value = g_strconcat("smtp; short words then ", run, NULL);

	relay_dsn_field_append(s, "Subject", "short");
	g_assert_cmpstr(s->str, ==, "Subject: short\r\n");
	g_string_truncate(s, 0);
	relay_dsn_field_append(s, "Diagnostic-Code", value);
	assert_wire_safe(s);
	g_assert_true(g_str_has_prefix(s->str, "Diagnostic-Code: smtp; short words then\r\n zzz"));
	/* UTF-8 characters are never split by an inserted fold. */
	g_string_truncate(s, 0);
	g_free(value);
	value = g_strnfill(1, 'a');
	for (int i = 0; i < 800; i++) {
		char *v = g_strconcat(value, "\xc3\xa9", NULL);

		g_free(value);
		value = v;
	}
	relay_dsn_field_append(s, "X", value);
	assert_wire_safe(s);
	g_assert_true(g_utf8_validate(s->str, (gssize)s->len, NULL));
}

int
main(int argc, char **argv)
{
	g_setenv("TZ", "UTC0", TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dsn/bounce", test_bounce);
	g_test_add_func("/dsn/delay", test_delay);
	g_test_add_func("/dsn/success", test_success);
	g_test_add_func("/dsn/ret-full", test_ret_full);
	g_test_add_func("/dsn/ret-hdrs", test_ret_hdrs);
	g_test_add_func("/dsn/envid-orcpt", test_envid_orcpt);
	g_test_add_func("/dsn/utf8", test_utf8);
	g_test_add_func("/dsn/never", test_never);
	g_test_add_func("/dsn/long-diagnostic", test_long_diagnostic);
	g_test_add_func("/dsn/hostile-diagnostic", test_hostile_diagnostic);
	g_test_add_func("/dsn/full-refused", test_full_refused);
	g_test_add_func("/dsn/full-too-big", test_full_too_big);
	g_test_add_func("/dsn/boundary-collision", test_boundary_collision);
	g_test_add_func("/dsn/mixed-kinds", test_mixed_kinds);
	g_test_add_func("/dsn/wanted", test_wanted);
	g_test_add_func("/dsn/clean", test_clean);
	g_test_add_func("/dsn/field-fold", test_field_fold);
	return g_test_run();
}
