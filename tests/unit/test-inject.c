/* The injectors: local delivery into a temporary mail_dir, SMTP over TCP
 * and LMTP over a UNIX socket against a scripted server thread, the
 * mapping of replies and failures to OK/TEMP/PERM, and reconnecting after
 * a lost connection. */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "conf/hmconfig.h"
#include "fetcher/inject.h"
#include "testutil.h"

/* A scripted peer (testutil.h) on lfd, started. */
static HmTestPeer *
peer_start(int lfd, const char *const *script)
{
	HmTestPeer *p = hm_test_peer_new_script(lfd, script);

	hm_test_peer_start(p);
	return p;
}

/* ---- configs ---------------------------------------------------------------- */

typedef struct {
	char *dir;
	HmConfig *cfg;
} Fixture;

static void
load(Fixture *f, const char *deliver)
{
	GError *err = NULL;
	g_autofree char *path = g_build_filename(f->dir, "t.conf", NULL);
	g_autofree char *text = g_strdup_printf("hostname = \"box.example\";\n"
	                                        "mail_dir = \"%s/mail\";\n"
	                                        "local_domains = [ \"home.example\" ];\n"
	                                        "users = ( { name = \"alice\"; } );\n"
	                                        "fetcher = { deliver = \"%s\"; };\n",
	                                        f->dir, deliver);

	hm_config_free(f->cfg);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	f->cfg = hm_config_load(path, hm_test_ignore_warning, NULL, &err);
	g_assert_no_error(err);
}

static void
set_up(Fixture *f, gconstpointer data)
{
	f->dir = hm_test_tmpdir("hm-test-inject");
	f->cfg = NULL;
}

static void
tear_down(Fixture *f, gconstpointer data)
{
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
}

static HmInjector *
open_ok(Fixture *f)
{
	GError *err = NULL;
	HmInjector *inj = hm_injector_open(f->cfg, &err);

	g_assert_no_error(err);
	g_assert_nonnull(inj);
	return inj;
}

/* An injector for fetcher.deliver = deliver, which it names itself by. */
static HmInjector *
open_for(Fixture *f, const char *deliver)
{
	HmInjector *inj;

	load(f, deliver);
	inj = open_ok(f);
	g_assert_cmpstr(hm_injector_describe(inj), ==, deliver);
	return inj;
}

static void
send_expect(HmInjector *inj, const char *rcpt, const char *msg, HmInjectResult want,
            const char *want_text)
{
	g_autoptr(GError) err = NULL;
	HmInjectResult got = hm_injector_send(inj, "s@up.example", rcpt, NULL, 0, msg, strlen(msg),
	                                      &err);

	g_assert_cmpint(got, ==, want);
	if (want == HM_INJECT_OK)
		g_assert_no_error(err);
	else if (strstr(err->message, want_text) == NULL)
		g_error("\"%s\" does not contain \"%s\"", err->message, want_text);
}

/* ---- local -------------------------------------------------------------------- */

/* The one file in user's new/, read and removed. */
static char *
only_new_file(Fixture *f, const char *user)
{
	g_autofree char *dir = g_build_filename(f->dir, "mail", user, "new", NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autofree char *path = NULL;
	char *text = NULL;

	g_assert_nonnull(d);
	path = g_build_filename(dir, g_dir_read_name(d), NULL);
	g_assert_null(g_dir_read_name(d));
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_cmpint(g_unlink(path), ==, 0);
	return text;
}

static void
test_local(Fixture *f, gconstpointer data)
{
	HmInjector *inj;
	g_autofree char *a = NULL, *b = NULL;

	inj = open_for(f, "local");
	send_expect(inj, "alice", "Subject: x\r\n\r\nbody\r\n", HM_INJECT_OK, NULL);
	a = only_new_file(f, "alice");
	g_assert_cmpstr(a, ==, "Return-Path: <s@up.example>\nDelivered-To: alice@home.example\n"
	                       "Subject: x\n\nbody\n");
	send_expect(inj, "alice@home.example", "Subject: y\r\n\r\n", HM_INJECT_OK, NULL);
	b = only_new_file(f, "alice");
	g_assert_true(g_str_has_prefix(b, "Return-Path: <s@up.example>\nDelivered-To: "
	                                  "alice@home.example\nSubject: y\n"));
	send_expect(inj, "nobody", "Subject: x\r\n\r\n", HM_INJECT_PERM, "nobody");
	send_expect(inj, "alice", "", HM_INJECT_PERM, "");
	hm_injector_close(inj);
}

/* A full disk is temporary: the message stays upstream for the next run. */
static void
test_local_disk_full(Fixture *f, gconstpointer data)
{
	g_autofree char *mail = g_build_filename(f->dir, "mail", NULL);
	gsize big_len = 1024 * 1024;
	g_autofree char *big = g_malloc(big_len + 1);
	HmInjector *inj;

	load(f, "local");
	g_assert_cmpint(g_mkdir(mail, 0700), ==, 0);
	hm_test_mount_tmpfs(mail, "64k");
	memset(big, 'x', big_len);
	memcpy(big, "A: b\n\n", 6);
	big[big_len] = '\0';
	inj = open_ok(f);
	send_expect(inj, "alice", big, HM_INJECT_TEMP, "");
	hm_injector_close(inj);
	hm_test_umount(mail);
}

/* ---- smtp and lmtp -------------------------------------------------------------- */

#define GREET "R:220 relay.test ESMTP\r\n"
#define EHLO_OK "R:250-relay.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"

static void
test_smtp(Fixture *f, gconstpointer data)
{
	static const char msg[] = "Subject: x\r\n\r\n.dot\r\n";
	const char *const script[] = {
		GREET, ">", EHLO_OK, ">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n", ".",
		"R:250 2.0.0 queued\r\n",
		">", ">", ">",
		"R:250 ok\r\n550-5.1.1 <x@y>: no such\r\n550 5.1.1 user\r\n503 no rcpt\r\n",
		">", "R:250 ok\r\n",
		">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n", ".",
		"R:451 4.3.0 queue trouble\r\n",
		">", "R:250 ok\r\n", ">", "R:221 bye\r\n", NULL,
	};
	guint16 port;
	HmTestPeer *p = peer_start(hm_test_listen_tcp(&port), script);
	g_autofree char *deliver = g_strdup_printf("smtp:127.0.0.1:%u", port);
	g_autofree char *got = NULL;
	HmInjector *inj;

	inj = open_for(f, deliver);
	send_expect(inj, "alice", msg, HM_INJECT_OK, NULL);
	/* The server's reply, on one line, is the error text. */
	send_expect(inj, "x@y", msg, HM_INJECT_PERM, "550 5.1.1 <x@y>: no such user");
	send_expect(inj, "alice", msg, HM_INJECT_TEMP, "451 4.3.0 queue trouble");
	hm_injector_close(inj);
	got = hm_test_peer_finish(p);
	g_assert_cmpstr(got, ==, "EHLO box.example\r\nMAIL FROM:<s@up.example>\r\n"
	                         "RCPT TO:<alice@box.example>\r\nDATA\r\n"
	                         "Subject: x\r\n\r\n..dot\r\n.\r\n"
	                         "MAIL FROM:<s@up.example>\r\nRCPT TO:<x@y>\r\nDATA\r\nRSET\r\n"
	                         "MAIL FROM:<s@up.example>\r\nRCPT TO:<alice@box.example>\r\nDATA\r\n"
	                         "Subject: x\r\n\r\n..dot\r\n.\r\nRSET\r\nQUIT\r\n");
}

static void
test_lmtp_unix(Fixture *f, gconstpointer data)
{
	const char *const script[] = {
		"R:220 lmtp ready\r\n", ">", EHLO_OK, ">", ">", ">",
		"R:250 ok\r\n250 ok\r\n354 go\r\n", ".", "R:250 2.0.0 <bob@else.example> saved\r\n",
		">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n", ".",
		"R:452 4.2.2 <bob@else.example> over quota\r\n", ">", "R:250 ok\r\n",
		">", "R:221 bye\r\n", NULL,
	};
	g_autofree char *sock = g_build_filename(f->dir, "lmtp.sock", NULL);
	HmTestPeer *p = peer_start(hm_test_listen_unix(sock), script);
	g_autofree char *deliver = g_strdup_printf("lmtp:%s", sock);
	g_autofree char *got = NULL;
	HmInjector *inj;

	inj = open_for(f, deliver);
	send_expect(inj, "bob@else.example", "A: b\n\nx", HM_INJECT_OK, NULL);
	send_expect(inj, "bob@else.example", "A: b\n\nx", HM_INJECT_TEMP, "452 4.2.2");
	hm_injector_close(inj);
	got = hm_test_peer_finish(p);
	g_assert_true(g_str_has_prefix(got, "LHLO box.example\r\nMAIL FROM:<s@up.example>\r\n"
	                                    "RCPT TO:<bob@else.example>\r\nDATA\r\n"
	                                    "A: b\r\n\r\nx\r\n.\r\n"));
	g_assert_true(g_str_has_suffix(got, "RSET\r\nQUIT\r\n"));
}

/* The server closes an idle connection: the next message goes over a new
 * one. A connection cut mid-transaction is TEMP; the next send reconnects. */
static void
test_reconnect(Fixture *f, gconstpointer data)
{
	const char *const script[] = {
		GREET, ">", EHLO_OK, ">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n", ".",
		"R:250 ok\r\n", "CLOSE",
		"ACCEPT", GREET, ">", EHLO_OK, ">", ">", ">", "CLOSE",
		"ACCEPT", GREET, ">", EHLO_OK, ">", ">", ">", "R:250 ok\r\n250 ok\r\n354 go\r\n",
		".", "R:250 ok\r\n", ">", "R:221 bye\r\n", NULL,
	};
	guint16 port;
	HmTestPeer *p = peer_start(hm_test_listen_tcp(&port), script);
	g_autofree char *deliver = g_strdup_printf("smtp:127.0.0.1:%u", port);
	g_autofree char *got = NULL, *where = NULL;
	HmInjector *inj;

	inj = open_for(f, deliver);
	send_expect(inj, "alice", "A: 1\r\n\r\n", HM_INJECT_OK, NULL);
	g_usleep(100000);  /* let the close arrive */
	where = g_strdup_printf("relay %s: ", deliver);
	send_expect(inj, "alice", "A: 2\r\n\r\n", HM_INJECT_TEMP, where);
	send_expect(inj, "alice", "A: 3\r\n\r\n", HM_INJECT_OK, NULL);
	hm_injector_close(inj);
	got = hm_test_peer_finish(p);
	g_assert_nonnull(strstr(got, "A: 1\r\n\r\n.\r\nEHLO box.example\r\nMAIL"));
	g_assert_nonnull(strstr(got, "DATA\r\nEHLO box.example\r\nMAIL"));
	g_assert_true(g_str_has_suffix(got, "A: 3\r\n\r\n.\r\nQUIT\r\n"));
}

/* Nobody listening: open fails naming the relay; a relay that refuses
 * the session (554 greeting) too. */
static void
test_open_failures(Fixture *f, gconstpointer data)
{
	const char *const script[] = { "R:554 5.3.2 not now\r\n", NULL };
	guint16 port;
	int fd = hm_test_listen_tcp(&port);
	g_autofree char *deliver = g_strdup_printf("smtp:127.0.0.1:%u", port);
	g_autofree char *want = g_strdup_printf("relay %s: connect: Connection refused", deliver);
	g_autoptr(GError) err = NULL;
	HmTestPeer *p;

	close(fd);
	load(f, deliver);
	g_assert_null(hm_injector_open(f->cfg, &err));
	g_assert_cmpstr(err->message, ==, want);
	g_clear_error(&err);

	p = peer_start(hm_test_listen_tcp(&port), script);
	g_free(deliver);
	deliver = g_strdup_printf("lmtp:127.0.0.1:%u", port);
	load(f, deliver);
	g_assert_null(hm_injector_open(f->cfg, &err));
	g_assert_nonnull(strstr(err->message, "554 5.3.2 not now"));
	g_free(hm_test_peer_finish(p));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
	ADD("/inject/local", test_local);
	ADD("/inject/local-disk-full", test_local_disk_full);
	ADD("/inject/smtp", test_smtp);
	ADD("/inject/lmtp-unix", test_lmtp_unix);
	ADD("/inject/reconnect", test_reconnect);
	ADD("/inject/open-failures", test_open_failures);
	return g_test_run();
}
