#include <config.h>

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf/hmconfig.h"
#include "relay/addrlist.h"
#include "relay/rewrite.h"
#include "testutil.h"

typedef struct {
	HmConfig *cfg;
	RelayRewriter *rw;
	char *dir;
} Fixture;

static const char *const system_names[] = { "MyHost.", "myhost.lan", "localhost", NULL };

static HmConfig *
load_config(const char *dir, gboolean rewrite_from)
{
	GError *err = NULL;
	g_autofree char *path = g_build_filename(dir, "t.conf", NULL);
	g_autofree char *text = g_strdup_printf(
		"hostname = \"box.example\";\n"
		"mail_dir = \"%s/mail\";\n"
		"local_domains = [ \"box.lan\", \"Home.Example\" ];\n"
		"users = (\n"
		"  { name = \"alice\"; send_as = \"alice@isp.example\";\n"
		"    addresses = [ \"alice.smith@home.example\", \"al@other.example\" ]; },\n"
		"  { name = \"bob\"; },\n"
		"  { name = \"carol\"; send_as = \"carol.x@mail.example\"; }\n"
		");\n"
		"aliases = {\n"
		"  root = \"alice\";\n"
		"  postmaster = \"root\";\n"
		"  info = \"bob\";\n"
		"  ext = \"someone@far.example\";\n"
		"  loop1 = \"loop2\";\n"
		"  loop2 = \"loop1\";\n"
		"};\n"
		"relay = {\n"
		"  rewrite_header_from = %s;\n"
		"  smarthosts = (\n"
		"    { name = \"isp\"; host = \"smtp.isp.example\"; user = \"u\"; password = \"p\";\n"
		"      senders = [ \"*@isp.example\" ]; },\n"
		"    { name = \"mail\"; host = \"smtp.mail.example\"; user = \"u\"; password = \"p\";\n"
		"      senders = [ \"nomatch@x.example\", \"*@MAIL.example\" ]; }\n"
		"  );\n"
		"};\n",
		dir, rewrite_from ? "true" : "false");
	HmConfig *cfg;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	cfg = hm_config_load(path, hm_test_ignore_warning, NULL, &err);
	g_assert_no_error(err);
	g_assert_nonnull(cfg);
	g_unlink(path);
	return cfg;
}

static void
set_up(Fixture *f, gconstpointer data)
{
	f->dir = hm_test_tmpdir("hm-test-rewrite");
	f->cfg = load_config(f->dir, data == NULL);
	f->rw = relay_rewriter_new(f->cfg, system_names);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
	relay_rewriter_free(f->rw);
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
}

static void
assert_sender(Fixture *f, const char *sender, RelayRewriteResult want, const char *want_out,
              const char *want_user)
{
	g_autofree char *out = NULL;
	g_autofree char *user = NULL;
	g_autofree char *owner = NULL;
	RelayRewriteResult r = relay_rewrite_sender(f->rw, sender, &out, &user);

	if (r != want)
		g_error("%s: result %d, want %d", sender, r, want);
	g_assert_cmpstr(out, ==, want_out);
	g_assert_cmpstr(user, ==, want_user);
	owner = relay_sender_user(f->rw, sender);
	g_assert_cmpstr(owner, ==, want_user);
}

static void
test_envelope_users(Fixture *f, gconstpointer data)
{
	assert_sender(f, "alice@box.lan", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "<alice@box.lan>", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "alice@home.example", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "carol@box.lan", RELAY_REWRITE_DONE, "carol.x@mail.example", "carol");
	/* +tag, case. */
	assert_sender(f, "alice+lists@box.lan", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "ALICE@BOX.LAN", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "Alice+X@Home.EXAMPLE", RELAY_REWRITE_DONE, "alice@isp.example",
	              "alice");
	/* Aliases, chains included. */
	assert_sender(f, "root@box.lan", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "postmaster@home.example", RELAY_REWRITE_DONE, "alice@isp.example",
	              "alice");
	/* A user's extra addresses, in a local domain or not. */
	assert_sender(f, "alice.smith@home.example", RELAY_REWRITE_DONE, "alice@isp.example",
	              "alice");
	assert_sender(f, "al@other.example", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "al+x@OTHER.example", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
}

static void
test_envelope_system_names(Fixture *f, gconstpointer data)
{
	assert_sender(f, "root@myhost", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "root@MYHOST", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "alice+cron@myhost.lan", RELAY_REWRITE_DONE, "alice@isp.example",
	              "alice");
	assert_sender(f, "carol@localhost", RELAY_REWRITE_DONE, "carol.x@mail.example", "carol");
	/* A bare local part (sendmail -f root) is ours. */
	assert_sender(f, "root", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
	assert_sender(f, "nobody@myhost", RELAY_REWRITE_UNKNOWN_LOCAL, NULL, NULL);
	/* Not a system name: a longer or shorter name is someone else's. */
	assert_sender(f, "root@myhost.example", RELAY_REWRITE_FOREIGN, "root@myhost.example", NULL);
	assert_sender(f, "root@host", RELAY_REWRITE_FOREIGN, "root@host", NULL);
}

static void
test_envelope_foreign(Fixture *f, gconstpointer data)
{
	assert_sender(f, "alice@isp.example", RELAY_REWRITE_FOREIGN, "alice@isp.example", NULL);
	assert_sender(f, "<bob@gmail.com>", RELAY_REWRITE_FOREIGN, "bob@gmail.com", NULL);
	assert_sender(f, "alice@box.lan.evil", RELAY_REWRITE_FOREIGN, "alice@box.lan.evil", NULL);
	assert_sender(f, "not an address", RELAY_REWRITE_FOREIGN, "not an address", NULL);
}

static void
test_envelope_null(Fixture *f, gconstpointer data)
{
	assert_sender(f, "", RELAY_REWRITE_DONE, "", NULL);
	assert_sender(f, "<>", RELAY_REWRITE_DONE, "", NULL);
	assert_sender(f, "MAILER-DAEMON@box.lan", RELAY_REWRITE_DONE, "", NULL);
	assert_sender(f, "<mailer-daemon@myhost>", RELAY_REWRITE_DONE, "", NULL);
	assert_sender(f, "MAILER-DAEMON", RELAY_REWRITE_DONE, "", NULL);
	/* Someone else's MAILER-DAEMON is not ours to silence. */
	assert_sender(f, "MAILER-DAEMON@isp.example", RELAY_REWRITE_FOREIGN,
	              "MAILER-DAEMON@isp.example", NULL);
}

static void
assert_refusal(Fixture *f, const char *sender, RelayRewriteResult want, const char *what)
{
	g_autofree char *out = NULL;
	g_autofree char *user = NULL;
	g_autofree char *line = NULL;
	RelayRewriteResult r = relay_rewrite_sender(f->rw, sender, &out, &user);

	if (r != want)
		g_error("%s: result %d, want %d", sender, r, want);
	g_assert_null(out);
	line = relay_rewrite_refusal(f->rw, r, sender, user);
	g_assert_nonnull(line);
	g_assert_null(strchr(line, '\n'));
	if (strstr(line, what) == NULL)
		g_error("%s: \"%s\" lacks \"%s\"", sender, line, what);
}

static void
test_envelope_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *none = NULL;

	assert_refusal(f, "bob@box.lan", RELAY_REWRITE_NO_SEND_AS,
	               "bob has no send_as: set users.[bob].send_as to the address your ISP");
	assert_refusal(f, "info@home.example", RELAY_REWRITE_NO_SEND_AS, "users.[bob].send_as");
	assert_refusal(f, "bob@myhost", RELAY_REWRITE_NO_SEND_AS, "users.[bob].send_as");
	assert_refusal(f, "nobody@box.lan", RELAY_REWRITE_UNKNOWN_LOCAL, "<nobody@box.lan>");
	assert_refusal(f, "nobody@box.lan", RELAY_REWRITE_UNKNOWN_LOCAL, "no such user");
	/* An alias that forwards off the box has no send_as to stand for it. */
	assert_refusal(f, "ext@box.lan", RELAY_REWRITE_UNKNOWN_LOCAL, "someone@far.example");
	assert_refusal(f, "loop1@box.lan", RELAY_REWRITE_UNKNOWN_LOCAL, "alias loop");
	none = relay_rewrite_refusal(f->rw, RELAY_REWRITE_DONE, "alice@box.lan", "alice");
	g_assert_null(none);
	none = relay_rewrite_refusal(f->rw, RELAY_REWRITE_FOREIGN, "x@y.example", NULL);
	g_assert_null(none);
}

/* Rewrites msg sent by user (the envelope sender's local user, NULL for
 * none); want NULL means "nothing changes". Checks that the caller's
 * new_head + msg[head_end..] makes the expected message. */
static void
assert_headers_as(Fixture *f, const char *user, const char *msg, const char *want_head,
                  const char *body)
{
	g_autofree char *head = NULL;
	gsize end = 12345;
	gsize len = strlen(msg);

	g_assert_cmpint(relay_rewrite_headers(f->rw, user, msg, len, &head, &end), ==, 0);
	g_assert_cmpstr(head, ==, want_head);
	g_assert_cmpstr(msg + end, ==, body);
}

/* As assert_headers_as() for mail alice sends. */
static void
assert_headers(Fixture *f, const char *msg, const char *want_head, const char *body)
{
	assert_headers_as(f, "alice", msg, want_head, body);
}

static void
test_headers_basic(Fixture *f, gconstpointer data)
{
	assert_headers(f, "From: Alice <alice@box.lan>\r\nTo: x@y.example\r\n\r\nbody\r\n",
	               "From: Alice <alice@isp.example>\r\nTo: x@y.example\r\n\r\n", "body\r\n");
	/* Only From: and Sender:; never Reply-To, To, or the body. */
	assert_headers(f,
	               "Reply-To: alice@box.lan\r\nSender: root@box.lan\r\nTo: alice@box.lan\r\n"
	               "\r\nFrom: alice@box.lan\r\n",
	               "Reply-To: alice@box.lan\r\nSender: alice@isp.example\r\n"
	               "To: alice@box.lan\r\n\r\n",
	               "From: alice@box.lan\r\n");
	/* Reply-To: only where it repeats a From: address (a reply must
	 * reach the user where the world sees them). */
	assert_headers(f,
	               "From: Alice <alice@box.lan>\r\nReply-To: ALICE@box.lan, x@y.example\r\n"
	               "Reply-To: alice+list@box.lan\r\n\r\n",
	               "From: Alice <alice@isp.example>\r\nReply-To: alice@isp.example, x@y.example"
	               "\r\nReply-To: alice+list@box.lan\r\n\r\n",
	               "");
	/* Display names, quoted ones with commas and specials, comments. */
	assert_headers(f, "from: \"Smith, Alice <x@y>\" <Alice+Tag@Box.Lan> (home)\r\n\r\n",
	               "from: \"Smith, Alice <x@y>\" <alice@isp.example> (home)\r\n\r\n", "");
	assert_headers(f, "From: alice@box.lan (Alice (the (real) one))\r\n\r\nx",
	               "From: alice@isp.example (Alice (the (real) one))\r\n\r\n", "x");
	assert_headers(f, "From: root@myhost\r\n\r\n", "From: alice@isp.example\r\n\r\n", "");
	assert_headers(f, "From: root (Cron Daemon)\r\n\r\n",
	               "From: alice@isp.example (Cron Daemon)\r\n\r\n", "");
	/* Foreign, unknown, no send_as, MAILER-DAEMON: left as they are. */
	assert_headers(f, "From: Bob <bob@box.lan>\r\n\r\n", NULL, "");
	assert_headers(f, "From: x@gmail.com\r\nSender: nobody@box.lan\r\n\r\n", NULL, "");
	assert_headers(f, "From: Mail Delivery System <MAILER-DAEMON@box.lan>\r\n\r\n", NULL, "");
	assert_headers(f, "From: <alice@isp.example>\r\n\r\n", NULL, "");
	/* No From: at all. */
	assert_headers(f, "Subject: hi\r\nTo: alice@box.lan\r\n\r\nbody", NULL, "body");
	/* Unparseable fields stay. */
	assert_headers(f, "From: Smith, Alice <alice@box.lan>\r\n\r\n", NULL, "");
	assert_headers(f, "From: \"unterminated <alice@box.lan>\r\n\r\n", NULL, "");
	assert_headers(f, "From: (open <alice@box.lan>\r\n\r\n", NULL, "");
}

static void
test_headers_lists(Fixture *f, gconstpointer data)
{
	/* Only the sender's own addresses: carol's stays as it is. */
	assert_headers(f, "From: alice@box.lan, Bob <bob@box.lan>, <carol@box.lan>\r\n\r\n",
	               "From: alice@isp.example, Bob <bob@box.lan>, <carol@box.lan>\r\n\r\n", "");
	assert_headers_as(f, "carol",
	                  "From: alice@box.lan, Bob <bob@box.lan>, <carol@box.lan>\r\n\r\n",
	                  "From: alice@box.lan, Bob <bob@box.lan>, <carol.x@mail.example>\r\n\r\n",
	                  "");
	assert_headers(f, "From: Team: alice@box.lan, \"C\" <carol@home.example>;, x@y.example\r\n\r\n",
	               "From: Team: alice@isp.example, \"C\" <carol@home.example>;, x@y.example\r\n"
	               "\r\n",
	               "");
	assert_headers(f, "From: undisclosed-recipients:;\r\n\r\n", NULL, "");
	/* Obsolete forms: a route, empty elements, CFWS around the "@". */
	assert_headers(f, "From: <@relay.example:alice@box.lan>,, root @ box.lan\r\n\r\n",
	               "From: <@relay.example:alice@isp.example>,, alice@isp.example\r\n\r\n", "");
	assert_headers(f, "From: John Q. Public <root@box.lan>\r\n\r\n",
	               "From: John Q. Public <alice@isp.example>\r\n\r\n", "");
}

static void
test_headers_folded(Fixture *f, gconstpointer data)
{
	assert_headers(f,
	               "Subject: x\r\nFrom: \"Alice\r\n Smith\"\r\n\t<alice@box.lan>,\r\n bob@x.example\r\n"
	               "X-After: y\r\n\r\nbody",
	               "Subject: x\r\nFrom: \"Alice\r\n Smith\"\r\n\t<alice@isp.example>,\r\n"
	               " bob@x.example\r\nX-After: y\r\n\r\n",
	               "body");
}

/* Every line of head ends in CRLF and holds at most 998 octets. */
static void
assert_lines_fit(const char *head)
{
	const char *p = head;

	while (*p != '\0') {
		const char *crlf = strstr(p, "\r\n");

		g_assert_nonnull(crlf);
		g_assert_cmpuint((gsize)(crlf - p), <=, RELAY_REWRITE_LINE_MAX);
		g_assert_null(memchr(p, '\n', (gsize)(crlf - p)));
		p = crlf + 2;
	}
}

static void
test_headers_long_line(Fixture *f, gconstpointer data)
{
	g_autofree char *pad = g_strnfill(975, 'n');
	g_autofree char *spaced = NULL;
	g_autofree char *msg = g_strdup_printf("From: \"%s\" <root@box.lan>\r\n\r\nbody", pad);
	g_autofree char *want =
		g_strdup_printf("From: \"%s\"\r\n <alice@isp.example>\r\n\r\n", pad);
	g_autofree char *head = NULL;
	gsize end;

	g_assert_cmpuint(strlen(msg) - strlen("\r\n\r\nbody"), <=, RELAY_REWRITE_LINE_MAX);
	assert_headers(f, msg, want, "body");

	/* Several addresses on one long line: folded at a space. */
	g_free(msg);
	msg = g_strdup_printf("From: root@box.lan, root@box.lan, root@box.lan, \"%.*s\" <x@y.z>\r\n\r\n",
	                      930, pad);
	g_assert_cmpint(relay_rewrite_headers(f->rw, "alice", msg, strlen(msg), &head, &end), ==, 0);
	g_assert_nonnull(head);
	assert_lines_fit(head);
	g_assert_nonnull(strstr(head, "alice@isp.example, alice@isp.example, alice@isp.example,"));
	g_clear_pointer(&head, g_free);

	/* No white space at all: folded where the grammar allows CFWS. */
	spaced = g_strdup_printf("From: <root@box.lan>,\"%.*s\"<x@y.z>\r\n\r\n", 968, pad);
	g_assert_cmpint(relay_rewrite_headers(f->rw, "alice", spaced, strlen(spaced), &head, &end), ==,
	                0);
	g_assert_nonnull(head);
	assert_lines_fit(head);
	g_assert_true(g_str_has_prefix(head, "From: <alice@isp.example>,\"n"));
	g_assert_true(g_str_has_suffix(head, "n\"\r\n <x@y.z>\r\n\r\n"));
}

static void
test_headers_bare_lf(Fixture *f, gconstpointer data)
{
	assert_headers(f, "Subject: a\nFrom: Alice <alice@box.lan>\n\tvia cron\nTo: b@c\n\nbody\n",
	               NULL, "body\n");
	assert_headers(f, "Subject: a\nFrom: Alice <alice@box.lan>\n (via cron)\nTo: b@c\n\nbody\n",
	               "Subject: a\r\nFrom: Alice <alice@isp.example>\r\n (via cron)\r\nTo: b@c\r\n"
	               "\r\n",
	               "body\n");
}

static void
test_headers_only(Fixture *f, gconstpointer data)
{
	/* No empty line and no body: no empty line is made up. */
	assert_headers(f, "From: alice@box.lan\r\nSubject: x\r\n",
	               "From: alice@isp.example\r\nSubject: x\r\n", "");
	/* The last line without its line end gets one. */
	assert_headers(f, "Subject: x\nFrom: alice@box.lan",
	               "Subject: x\r\nFrom: alice@isp.example\r\n", "");
	assert_headers(f, "", NULL, "");
	assert_headers(f, "\r\nbody", NULL, "body");
}

/* A header names only the user the envelope sender is: a forged From: of
 * another local user, or any From: under a foreign envelope sender (a
 * stranger writing to an alias that forwards off the box), must not go
 * out as that user's real address. */
static void
test_headers_other_user(Fixture *f, gconstpointer data)
{
	const char *forged = "From: Alice <alice@box.lan>\r\nSender: root@box.lan\r\n"
	                     "Reply-To: alice@box.lan\r\n\r\nbody";

	assert_headers_as(f, NULL, forged, NULL, "body");
	assert_headers_as(f, "carol", forged, NULL, "body");
	/* A user without send_as: nothing to rewrite to. */
	assert_headers_as(f, "bob", forged, NULL, "body");
	assert_headers_as(f, "bob", "From: bob@box.lan\r\n\r\n", NULL, "");
	/* carol sending with alice in From: and herself in Sender:. */
	assert_headers_as(f, "carol",
	                  "From: alice@box.lan\r\nSender: Carol <carol@box.lan>\r\n"
	                  "Reply-To: alice@box.lan, carol@box.lan\r\n\r\n",
	                  "From: alice@box.lan\r\nSender: Carol <carol.x@mail.example>\r\n"
	                  "Reply-To: alice@box.lan, carol@box.lan\r\n\r\n",
	                  "");
	/* Aliases and extra addresses of the same user count as hers. */
	assert_headers(f, "From: postmaster@box.lan, al@other.example\r\n\r\n",
	               "From: alice@isp.example, alice@isp.example\r\n\r\n", "");
}

static void
test_headers_off(Fixture *f, gconstpointer data)
{
	/* relay.rewrite_header_from = false: the envelope only. */
	assert_headers(f, "From: alice@box.lan\r\n\r\nbody", NULL, "body");
	assert_sender(f, "alice@box.lan", RELAY_REWRITE_DONE, "alice@isp.example", "alice");
}

static void
test_addrlist(void)
{
	static const struct {
		const char *value;
		int n;             /* -1: refused */
		const char *first; /* span text of the first addr-spec */
	} cases[] = {
		{ "", 0, NULL },
		{ " (only a comment) ", 0, NULL },
		{ "a@b", 1, "a@b" },
		{ "\"q x\"@b", 1, "\"q x\"@b" },
		{ "a@[127.0.0.1]", 1, "a@[127.0.0.1]" },
		{ "A <a@b>, c@d", 2, "a@b" },
		{ "G: a@b, c@d; , e@f", 3, "a@b" },
		{ "G:;", 0, NULL },
		{ "G: a@b", 1, "a@b" },
		{ "<>", 0, NULL },
		{ "root", 1, "root" },
		{ "a.b (c)", 1, "a.b" },
		{ "a @ b . c", 1, "a @ b . c" },
		{ "root, a@b", -1, NULL },
		{ "John Smith", -1, NULL },
		{ "a@b c@d", -1, NULL },
		{ "a@", -1, NULL },
		{ "@b", -1, NULL },
		{ "<a@b", -1, NULL },
		{ "a@b>", -1, NULL },
		{ "G: H: a@b;;", -1, NULL },
		{ "a@b;", -1, NULL },
		{ "a\\b@c", -1, NULL },
		{ "a@b.", -1, NULL },
		{ "a..b@c", -1, NULL },
		{ "\"open@b", -1, NULL },
		{ "a@[1.2", -1, NULL },
		{ "a@b )", -1, NULL },
		{ "a\001@b", -1, NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GArray) spans = relay_addrlist_parse(cases[i].value, strlen(cases[i].value));

		if (cases[i].n < 0) {
			if (spans != NULL)
				g_error("\"%s\" parsed", cases[i].value);
			continue;
		}
		if (spans == NULL)
			g_error("\"%s\" refused", cases[i].value);
		g_assert_cmpint((int)spans->len, ==, cases[i].n);
		if (cases[i].first != NULL) {
			const RelayAddrSpan *sp = &g_array_index(spans, RelayAddrSpan, 0);
			g_autofree char *text = g_strndup(cases[i].value + sp->start, sp->end - sp->start);

			g_assert_cmpstr(text, ==, cases[i].first);
		}
	}
}

static void
test_addrlist_spans(void)
{
	const char *v = "\"A, B\" <x.y@d.e>,\r\n (c) g@h";
	g_autoptr(GArray) spans = relay_addrlist_parse(v, strlen(v));
	const RelayAddrSpan *a, *b;

	g_assert_nonnull(spans);
	g_assert_cmpuint(spans->len, ==, 2);
	a = &g_array_index(spans, RelayAddrSpan, 0);
	b = &g_array_index(spans, RelayAddrSpan, 1);
	g_assert_cmpstr(a->addr, ==, "x.y@d.e");
	g_assert_cmpuint(a->outer_start, ==, 7);
	g_assert_cmpuint(a->start, ==, 8);
	g_assert_cmpuint(a->end, ==, 15);
	g_assert_cmpuint(a->outer_end, ==, 16);
	g_assert_false(a->no_domain);
	g_assert_cmpstr(b->addr, ==, "g@h");
	g_assert_cmpuint(b->outer_start, ==, b->start);
	g_assert_cmpuint(b->end, ==, strlen(v));

	g_clear_pointer(&spans, g_array_unref);
	spans = relay_addrlist_parse("\"al\r\n ice\"@b", 12);
	g_assert_nonnull(spans);
	g_assert_cmpstr(g_array_index(spans, RelayAddrSpan, 0).addr, ==, "\"al ice\"@b");
}

static void
test_smarthost(Fixture *f, gconstpointer data)
{
	const HmSmarthostConf *isp = &f->cfg->relay.smarthosts[0];
	const HmSmarthostConf *mail = &f->cfg->relay.smarthosts[1];
	HmConfig none = { 0 };

	g_assert_true(relay_smarthost_for(f->cfg, "alice@isp.example") == isp);
	g_assert_true(relay_smarthost_for(f->cfg, "carol.x@mail.example") == mail);
	g_assert_true(relay_smarthost_for(f->cfg, "Carol.X@Mail.EXAMPLE") == mail);
	g_assert_true(relay_smarthost_for(f->cfg, "bob@gmail.com") == isp);
	g_assert_true(relay_smarthost_for(f->cfg, "") == isp);
	g_assert_true(relay_smarthost_for(f->cfg, "x@mail.example.evil") == isp);
	g_assert_null(relay_smarthost_for(&none, "alice@isp.example"));
}

#define ADD(name, fn) g_test_add(name, Fixture, NULL, set_up, fn, tear_down)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/rewrite/envelope/users", test_envelope_users);
	ADD("/rewrite/envelope/system-names", test_envelope_system_names);
	ADD("/rewrite/envelope/foreign", test_envelope_foreign);
	ADD("/rewrite/envelope/null", test_envelope_null);
	ADD("/rewrite/envelope/refused", test_envelope_refused);
	ADD("/rewrite/headers/basic", test_headers_basic);
	ADD("/rewrite/headers/lists", test_headers_lists);
	ADD("/rewrite/headers/folded", test_headers_folded);
	ADD("/rewrite/headers/long-line", test_headers_long_line);
	ADD("/rewrite/headers/bare-lf", test_headers_bare_lf);
	ADD("/rewrite/headers/headers-only", test_headers_only);
	ADD("/rewrite/headers/other-user", test_headers_other_user);
	g_test_add("/rewrite/headers/off", Fixture, "off", set_up, test_headers_off, tear_down);
	g_test_add_func("/rewrite/addrlist/cases", test_addrlist);
	g_test_add_func("/rewrite/addrlist/spans", test_addrlist_spans);
	ADD("/rewrite/smarthost", test_smarthost);
	return g_test_run();
}
