/* A whole POP3 session on a socket pair: the server side is the real
 * popd_session_run() in a thread, the client side speaks POP3 by hand. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/hmconfig.h"
#include "lib/base64.h"
#include "lib/conn.h"
#include "popd/session.h"
#include "testutil.h"

/* openssl passwd -6 -salt unittestsalt secret */
#define HASH "$6$unittestsalt$Exz/VHxuZjJcZaAtAngIF9Q.rmwAWRBbc3qBqXimZAVJ3WTON4ujIgWw0Tqcddrhb05x5lqWbYQ8WzqJpT6eY1"

static char *tmpdir;
static HmConfig *cfg;

typedef struct {
	HmConn *client;
	HmConn *server_conn;
	GThread *thread;
	PopdSessionParams params;
	int rc;
} Pair;

static gpointer
server_thread(gpointer p)
{
	Pair *pr = p;

	pr->rc = popd_session_run(pr->server_conn, &pr->params);
	hm_conn_free(pr->server_conn);
	return NULL;
}

static Pair *
start_timeout(gboolean plaintext_ok, int server_timeout_ms)
{
	Pair *pr = g_new0(Pair, 1);
	int sv[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	pr->client = hm_conn_new(sv[0], 5000);
	pr->server_conn = hm_conn_new(sv[1], server_timeout_ms);
	pr->params = (PopdSessionParams){ .cfg = cfg, .plaintext_ok = plaintext_ok,
	                                  .peer = "test", .auth_fail_delay_ms = 0 };
	pr->thread = g_thread_new("session", server_thread, pr);
	return pr;
}

static Pair *
start(gboolean plaintext_ok)
{
	return start_timeout(plaintext_ok, 5000);
}

static int
finish(Pair *pr)
{
	int rc;

	hm_conn_free(pr->client);
	g_thread_join(pr->thread);
	rc = pr->rc;
	g_free(pr);
	return rc;
}

static char *
line(Pair *pr)
{
	HmLine l;
	g_autoptr(GError) err = NULL;

	if (hm_conn_read_line(pr->client, 100000, 0, &l, &err) != HM_IO_OK)
		return g_strdup_printf("<%s>", err ? err->message : "eof");
	return g_strdup(l.data);
}

/* Sends a command and returns the first reply line. */
static char *
cmd(Pair *pr, const char *text)
{
	hm_conn_printf(pr->client, NULL, "%s\r\n", text);
	hm_conn_flush(pr->client, NULL);
	return line(pr);
}

/* Reads a multi-line body up to ".", joined with "\n". */
static char *
multi(Pair *pr)
{
	GString *s = g_string_new(NULL);

	for (;;) {
		g_autofree char *l = line(pr);

		if (strcmp(l, ".") == 0 || l[0] == '<')
			break;
		g_string_append_printf(s, "%s\n", l);
	}
	return g_string_free(s, FALSE);
}

#define ASSERT_PREFIX(expr, prefix) do { \
	g_autofree char *got_ = (expr); \
	if (!g_str_has_prefix(got_, prefix)) \
		g_error("%s: got \"%s\", want \"%s...\"", #expr, got_, prefix); \
} while (0)

static void
put_message(const char *name, const char *content)
{
	g_autofree char *dir = g_build_filename(tmpdir, "mail", "alice", "new", NULL);
	g_autofree char *path = g_build_filename(dir, name, NULL);

	g_mkdir_with_parents(dir, 0700);
	g_assert_true(g_file_set_contents(path, content, -1, NULL));
}

static guint
count_files(const char *sub)
{
	g_autofree char *dir = g_build_filename(tmpdir, "mail", "alice", sub, NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	guint n = 0;

	if (d == NULL)
		return 0;
	while (g_dir_read_name(d) != NULL)
		n++;
	g_dir_close(d);
	return n;
}

static void
reset_mail(void)
{
	g_autofree char *mail = g_build_filename(tmpdir, "mail", NULL);

	hm_test_remove_tree(mail);
	/* 1: no W=, measured from the file; 2: named with S= and W=. */
	put_message("1700000001.M1P1Q1.test", "Subject: one\n\n.dot line\nbody\n");
	put_message("1700000002.M1P1Q2.test,S=23,W=28", "Subject: two\n\nb1\nb2\nb3\n");
}

static Pair *
logged_in(void)
{
	Pair *pr = start(TRUE);

	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(cmd(pr, "USER alice"), "+OK");
	ASSERT_PREFIX(cmd(pr, "PASS secret"), "+OK");
	return pr;
}

static void
test_capa(void)
{
	Pair *pr = start(FALSE);
	g_autofree char *caps = NULL;

	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(cmd(pr, "CAPA"), "+OK");
	caps = multi(pr);
	g_assert_nonnull(strstr(caps, "UIDL\n"));
	g_assert_nonnull(strstr(caps, "PIPELINING\n"));
	g_assert_null(strstr(caps, "USER"));      /* not from here without TLS */
	g_assert_null(strstr(caps, "STLS"));      /* no certificate configured */
	ASSERT_PREFIX(cmd(pr, "USER alice"), "-ERR [AUTH] Plaintext");
	ASSERT_PREFIX(cmd(pr, "AUTH PLAIN AGFsaWNlAHNlY3JldA=="), "-ERR [AUTH] Plaintext");
	ASSERT_PREFIX(cmd(pr, "QUIT"), "+OK");
	g_assert_cmpint(finish(pr), ==, 0);
}

static void
test_login_and_read(void)
{
	Pair *pr;
	g_autofree char *body = NULL;

	reset_mail();
	pr = start(TRUE);
	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(cmd(pr, "STAT"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "PASS secret"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "USER alice"), "+OK");
	ASSERT_PREFIX(cmd(pr, "PASS wrong"), "-ERR [AUTH]");
	ASSERT_PREFIX(cmd(pr, "USER alice@localhost"), "+OK");
	ASSERT_PREFIX(cmd(pr, "PASS secret"), "+OK");
	/* CRLF sizes: 29 + 4 line ends measured; 28 from the name's W=. */
	ASSERT_PREFIX(cmd(pr, "STAT"), "+OK 2 61");
	ASSERT_PREFIX(cmd(pr, "LIST"), "+OK");
	body = multi(pr);
	g_assert_cmpstr(body, ==, "1 33\n2 28\n");
	g_clear_pointer(&body, g_free);
	ASSERT_PREFIX(cmd(pr, "UIDL 2"), "+OK 2 1700000002.M1P1Q2.test");
	ASSERT_PREFIX(cmd(pr, "LIST 3"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "LIST 4294967297"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "RETR 0"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "RETR 1"), "+OK 33 octets");
	body = multi(pr);
	/* The stuffed ".." comes back as the client sees it on the wire. */
	g_assert_cmpstr(body, ==, "Subject: one\n\n..dot line\nbody\n");
	g_clear_pointer(&body, g_free);
	ASSERT_PREFIX(cmd(pr, "TOP 2 1"), "+OK");
	body = multi(pr);
	g_assert_cmpstr(body, ==, "Subject: two\n\nb1\n");
	g_clear_pointer(&body, g_free);
	ASSERT_PREFIX(cmd(pr, "TOP 2 0"), "+OK");
	body = multi(pr);
	g_assert_cmpstr(body, ==, "Subject: two\n\n");
	ASSERT_PREFIX(cmd(pr, "USER bob"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "QUIT"), "+OK");
	g_assert_cmpint(finish(pr), ==, 0);
	/* Retrieved: moved to cur/ as seen; the other stays in new/. */
	g_assert_cmpuint(count_files("cur"), ==, 1);
	g_assert_cmpuint(count_files("new"), ==, 1);
}

static void
test_dele(void)
{
	Pair *pr;

	reset_mail();
	pr = logged_in();
	ASSERT_PREFIX(cmd(pr, "DELE 1"), "+OK");
	ASSERT_PREFIX(cmd(pr, "DELE 1"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "RETR 1"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "STAT"), "+OK 1 28");
	/* Dropped without QUIT: nothing is deleted. */
	g_assert_cmpint(finish(pr), ==, -1);
	g_assert_cmpuint(count_files("new"), ==, 2);

	pr = logged_in();
	ASSERT_PREFIX(cmd(pr, "DELE 1"), "+OK");
	ASSERT_PREFIX(cmd(pr, "RSET"), "+OK");
	ASSERT_PREFIX(cmd(pr, "STAT"), "+OK 2 61");
	ASSERT_PREFIX(cmd(pr, "DELE 2"), "+OK");
	ASSERT_PREFIX(cmd(pr, "QUIT"), "+OK");
	g_assert_cmpint(finish(pr), ==, 0);
	g_assert_cmpuint(count_files("new"), ==, 1);
}

static void
test_in_use(void)
{
	Pair *first, *second;

	reset_mail();
	first = logged_in();
	second = start(TRUE);
	ASSERT_PREFIX(line(second), "+OK");
	ASSERT_PREFIX(cmd(second, "USER alice"), "+OK");
	ASSERT_PREFIX(cmd(second, "PASS secret"), "-ERR [IN-USE]");
	/* The name in another case is the same user and the same maildrop. */
	ASSERT_PREFIX(cmd(second, "USER ALICE"), "+OK");
	ASSERT_PREFIX(cmd(second, "PASS secret"), "-ERR [IN-USE]");
	ASSERT_PREFIX(cmd(first, "QUIT"), "+OK");
	g_assert_cmpint(finish(first), ==, 0);
	ASSERT_PREFIX(cmd(second, "USER alice"), "+OK");
	ASSERT_PREFIX(cmd(second, "PASS secret"), "+OK");
	ASSERT_PREFIX(cmd(second, "QUIT"), "+OK");
	g_assert_cmpint(finish(second), ==, 0);
}

static void
test_auth_plain(void)
{
	Pair *pr;

	reset_mail();
	pr = start(TRUE);
	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(cmd(pr, "AUTH CRAM-MD5"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "AUTH PLAIN"), "+ ");
	ASSERT_PREFIX(cmd(pr, "*"), "-ERR");
	ASSERT_PREFIX(cmd(pr, "AUTH PLAIN"), "+ ");
	ASSERT_PREFIX(cmd(pr, "!!notbase64"), "-ERR [AUTH]");
	/* "\0alice\0wrong", then "\0alice\0secret" */
	ASSERT_PREFIX(cmd(pr, "AUTH PLAIN AGFsaWNlAHdyb25n"), "-ERR [AUTH]");
	ASSERT_PREFIX(cmd(pr, "AUTH PLAIN AGFsaWNlAHdyb25nMg=="), "-ERR [AUTH]");
	ASSERT_PREFIX(line(pr), "-ERR Too many");
	g_assert_cmpint(finish(pr), ==, -1);

	pr = start(TRUE);
	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(cmd(pr, "AUTH PLAIN"), "+ ");
	ASSERT_PREFIX(cmd(pr, "AGFsaWNlAHNlY3JldA=="), "+OK");
	ASSERT_PREFIX(cmd(pr, "STAT"), "+OK 2");
	ASSERT_PREFIX(cmd(pr, "QUIT"), "+OK");
	g_assert_cmpint(finish(pr), ==, 0);
}

static void
test_abuse(void)
{
	Pair *pr = start(TRUE);
	g_autofree char *big = g_strnfill(10000, 'A');

	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(cmd(pr, big), "-ERR Input line too long");
	ASSERT_PREFIX(cmd(pr, "NOOP"), "+OK");
	ASSERT_PREFIX(cmd(pr, "NOOP 1"), "-ERR");
	/* The long line was bad command 1; 18 more... */
	for (int i = 0; i < 18; i++)
		ASSERT_PREFIX(cmd(pr, "XYZZY"), "-ERR");
	/* ...and the 20th is answered, then the session ends. */
	ASSERT_PREFIX(cmd(pr, "XYZZY"), "-ERR");
	ASSERT_PREFIX(line(pr), "<");
	g_assert_cmpint(finish(pr), ==, -1);
}

/* RFC 1939's inactivity timer (10 minutes in the server; short here). */
static void
test_idle_timeout(void)
{
	gint64 t0 = g_get_monotonic_time();
	Pair *pr = start_timeout(TRUE, 300);

	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(line(pr), "-ERR Disconnected for inactivity");
	ASSERT_PREFIX(line(pr), "<");
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 4 * G_USEC_PER_SEC);
	g_assert_cmpint(finish(pr), ==, -1);
}

static void
test_pipelining(void)
{
	Pair *pr;

	reset_mail();
	pr = start(TRUE);
	ASSERT_PREFIX(line(pr), "+OK");
	hm_conn_printf(pr->client, NULL, "USER alice\r\nPASS secret\r\nSTAT\r\nUIDL 1\r\nQUIT\r\n");
	hm_conn_flush(pr->client, NULL);
	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(line(pr), "+OK Logged in");
	ASSERT_PREFIX(line(pr), "+OK 2 61");
	ASSERT_PREFIX(line(pr), "+OK 1 1700000001.M1P1Q1.test");
	ASSERT_PREFIX(line(pr), "+OK Logging out");
	g_assert_cmpint(finish(pr), ==, 0);
}

/* The expected reply stream of a UIDL listing of n messages put by
 * many_messages(), line by line. */
static GPtrArray *
uidl_lines(guint n)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(a, g_strdup("+OK"));
	for (guint i = 1; i <= n; i++)
		g_ptr_array_add(a, g_strdup_printf("%u 1700000001.M1P1Q%05u.test", i, i));
	g_ptr_array_add(a, g_strdup("."));
	return a;
}

static void
many_messages(guint n)
{
	g_autofree char *mail = g_build_filename(tmpdir, "mail", NULL);

	hm_test_remove_tree(mail);
	for (guint i = 1; i <= n; i++) {
		g_autofree char *name = g_strdup_printf("1700000001.M1P1Q%05u.test,S=2,W=3", i);

		put_message(name, "x\n");
	}
}

/* A client that pipelines listings and stops reading: once a write times
 * out, the session ends (the maildrop unlocked at once), and what the
 * client reads when it reads again is the start of the replies, whole,
 * never replies with a piece missing in the middle (a pipelining client
 * would take one reply for the next, and DELE the wrong message). */
static void
test_write_timeout_ends(void)
{
	const guint n = 2000, listings = 20;
	g_autoptr(GPtrArray) want = uidl_lines(n);
	g_autoptr(GString) cmds = g_string_new(NULL);
	Pair *pr, *other;
	guint got = 0;

	many_messages(n);
	pr = start_timeout(TRUE, 300);
	ASSERT_PREFIX(line(pr), "+OK");
	ASSERT_PREFIX(cmd(pr, "USER alice"), "+OK");
	ASSERT_PREFIX(cmd(pr, "PASS secret"), "+OK");
	for (guint i = 0; i < listings; i++)
		g_string_append(cmds, "UIDL\r\n");
	g_string_append(cmds, "NOOP\r\n");
	g_assert_cmpint(write(hm_conn_fd(pr->client), cmds->str, cmds->len), ==, (gssize)cmds->len);
	/* Not reading: the session's write times out and it ends, so
	 * another may log in while this client is still connected. */
	g_usleep(1500 * 1000);
	other = start(TRUE);
	ASSERT_PREFIX(line(other), "+OK");
	ASSERT_PREFIX(cmd(other, "USER alice"), "+OK");
	ASSERT_PREFIX(cmd(other, "PASS secret"), "+OK Logged in");
	ASSERT_PREFIX(cmd(other, "QUIT"), "+OK");
	g_assert_cmpint(finish(other), ==, 0);
	for (;;) {
		g_autofree char *l = line(pr);

		if (l[0] == '<')
			break;
		if (strcmp(l, g_ptr_array_index(want, got % want->len)) != 0)
			g_error("line %u: got \"%s\", want \"%s\"", got, l,
			        (char *)g_ptr_array_index(want, got % want->len));
		got++;
	}
	g_assert_cmpuint(got, >, 0);
	g_assert_cmpuint(got, <, listings * want->len);
	g_assert_cmpint(finish(pr), ==, -1);
}

static void
setup(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *path = NULL;
	g_autofree char *text = NULL;

	tmpdir = hm_test_tmpdir("hm-popd");
	path = g_build_filename(tmpdir, "test.conf", NULL);
	text = g_strdup_printf("hostname = \"box.example\";\nmail_dir = \"mail\";\n"
	                       "local_domains = [ \"box.example\", \"localhost\" ];\n"
	                       "users = ( { name = \"alice\"; password = \"%s\"; } );\n", HASH);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	cfg = hm_config_load(path, NULL, NULL, &err);
	g_assert_no_error(err);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	setup();
	g_test_add_func("/popd-session/capa", test_capa);
	g_test_add_func("/popd-session/login-and-read", test_login_and_read);
	g_test_add_func("/popd-session/dele", test_dele);
	g_test_add_func("/popd-session/in-use", test_in_use);
	g_test_add_func("/popd-session/auth-plain", test_auth_plain);
	g_test_add_func("/popd-session/abuse", test_abuse);
	g_test_add_func("/popd-session/pipelining", test_pipelining);
	g_test_add_func("/popd-session/idle-timeout", test_idle_timeout);
	g_test_add_func("/popd-session/write-timeout-ends", test_write_timeout_ends);
	rc = g_test_run();
	hm_config_free(cfg);
	hm_test_remove_tree(tmpdir);
	return rc;
}
