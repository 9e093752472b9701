#include <config.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf/hmconfig.h"
#include "deliver/deliver.h"
#include "deliver/mbox.h"
#include "lib/error.h"
#include "testutil.h"

typedef struct {
	char *dir;
	HmConfig *cfg;
} Fixture;

static void
set_up(Fixture *f, gconstpointer data)
{
	GError *err = NULL;
	g_autofree char *path = NULL, *text = NULL;

	f->dir = hm_test_tmpdir("hm-test-deliver");
	path = g_build_filename(f->dir, "t.conf", NULL);
	text = g_strdup_printf("hostname = \"box.example\";\n"
	                       "mail_dir = \"%s/mail\";\n"
	                       "local_domains = [ \"home.example\" ];\n"
	                       "users = ( { name = \"alice\"; },\n"
	                       "          { name = \"bob\"; mail_format = \"mbox\";\n"
	                       "            addresses = [ \"robert@home.example\" ]; } );\n"
	                       "aliases = { postmaster = \"alice\"; };\n", f->dir);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	f->cfg = hm_config_load(path, hm_test_ignore_warning, NULL, &err);
	g_assert_no_error(err);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
}

static char *
read_all(const char *path)
{
	char *s = NULL;

	g_assert_true(g_file_get_contents(path, &s, NULL, NULL));
	return s;
}

/* Delivers msg to alice and returns what was stored. */
static char *
deliver_ok(Fixture *f, const char *user, const char *rcpt, const char *sender, const char *msg,
           gsize len)
{
	g_autofree char *where = NULL;
	GError *err = NULL;

	g_assert_cmpint(hm_deliver_message(f->cfg, user, rcpt, sender, NULL, 0, msg, len, &where,
	                                   &err), ==, 0);
	g_assert_no_error(err);
	g_assert_nonnull(where);
	return read_all(where);
}

static void
assert_stored(Fixture *f, const char *rcpt, const char *sender, const char *msg,
              const char *want)
{
	g_autofree char *got = deliver_ok(f, "alice", rcpt, sender, msg, strlen(msg));

	g_assert_cmpstr(got, ==, want);
}

static int
count_new(Fixture *f, const char *user)
{
	g_autofree char *dir = g_build_filename(f->dir, "mail", user, "new", NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	int n = 0;

	while (d != NULL && g_dir_read_name(d) != NULL)
		n++;
	return n;
}

static void
test_headers(Fixture *f, gconstpointer data)
{
	assert_stored(f, "postmaster@home.example", "s@x.example", "Subject: x\n\nbody\n",
	              "Return-Path: <s@x.example>\nDelivered-To: postmaster@home.example\n"
	              "Subject: x\n\nbody\n");
	/* rcpt NULL: the user's canonical address. */
	assert_stored(f, NULL, "", "Subject: x\n\nbody\n",
	              "Return-Path: <>\nDelivered-To: alice@home.example\nSubject: x\n\nbody\n");
	g_assert_cmpint(count_new(f, "alice"), ==, 2);
}

/* Delivers head + msg to user and returns what was stored. */
static char *
deliver_head_ok(Fixture *f, const char *user, const char *head, const char *msg, gsize len)
{
	g_autofree char *where = NULL;
	GError *err = NULL;

	int rc = hm_deliver_message(f->cfg, user, NULL, "s@x.example", head, strlen(head), msg, len,
	                            &where, &err);

	g_assert_no_error(err);
	g_assert_cmpint(rc, ==, 0);
	return read_all(where);
}

/* A caller's head goes in front of the message as part of it: one header,
 * converted to the stored form like the rest, a CRLF split between the
 * two parts included; to an mbox user too. */
static void
test_head(Fixture *f, gconstpointer data)
{
	static const char msg[] = "\nSubject: x\r\n\r\nbody\r\nlone\rCR\r\nlast";
	g_autofree char *got = deliver_head_ok(f, "alice", "Received: from up\r\n\tby box\r",
	                                       msg, strlen(msg));
	g_autofree char *mbox_path = g_build_filename(f->dir, "mail", "bob.mbox", NULL);
	g_autofree char *mbox = NULL;

	g_assert_cmpstr(got, ==, "Return-Path: <s@x.example>\nDelivered-To: alice@home.example\n"
	                         "Received: from up\n\tby box\nSubject: x\n\nbody\nlone\rCR\nlast\n");
	g_free(deliver_head_ok(f, "bob", "Received: from up\r\n", "Subject: y\r\n\r\nb\r\n", 17));
	mbox = read_all(mbox_path);
	g_assert_nonnull(strstr(mbox, "\nReceived: from up\nSubject: y\n\nb\n"));
}

/* The loop check reads the header across head and message: a
 * Delivered-To in the message sits below the head's Received:. */
static void
test_head_loop(Fixture *f, gconstpointer data)
{
	static const char head[] = "Received: from up\r\n";
	static const char msg[] = "Delivered-To: alice@home.example\r\n\r\nx\r\n";
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(hm_deliver_message(f->cfg, "alice", "alice@home.example", "", head,
	                                   strlen(head), msg, strlen(msg), NULL, &err), ==, -1);
	g_assert_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_LOOP);
	g_assert_cmpint(count_new(f, "alice"), ==, 0);
}

/* A message many times the writer's 64 KiB buffer, lines of every
 * length up to 96 (so line ends fall at every offset of its chunks) and
 * lone CRs, is stored exactly. */
static void
test_large_stored(Fixture *f, gconstpointer data)
{
	g_autoptr(GString) msg = g_string_new("Subject: big\r\n\r\n");
	g_autoptr(GString) want = g_string_new("Return-Path: <s@x.example>\n"
	                                       "Delivered-To: alice@home.example\n"
	                                       "Received: x\nSubject: big\n\n");
	g_autofree char *got = NULL;

	for (guint i = 0; msg->len < 600 * 1024; i++) {
		guint n = i % 97;

		for (guint k = 0; k < n; k++) {
			g_string_append_c(msg, (char)('a' + k % 26));
			g_string_append_c(want, (char)('a' + k % 26));
		}
		g_string_append(msg, i % 7 == 0 ? "\r" : "\r\n");
		g_string_append(want, i % 7 == 0 ? "\r" : "\n");
	}
	if (want->str[want->len - 1] != '\n')
		g_string_append_c(want, '\n');
	got = deliver_head_ok(f, "alice", "Received: x\r\n", msg->str, msg->len);
	g_assert_cmpuint(strlen(got), ==, want->len);
	g_assert_true(memcmp(got, want->str, want->len) == 0);
}

static void
test_return_path(Fixture *f, gconstpointer data)
{
	/* No envelope sender: the message's own Return-Path stands alone. */
	assert_stored(f, NULL, NULL, "Return-Path: <up@stream.example>\nA: b\n\nx\n",
	              "Delivered-To: alice@home.example\nReturn-Path: <up@stream.example>\n"
	              "A: b\n\nx\n");
	assert_stored(f, NULL, NULL, "A: b\n\nx\n",
	              "Return-Path: <>\nDelivered-To: alice@home.example\nA: b\n\nx\n");
	/* An envelope sender is added even above an old Return-Path. */
	assert_stored(f, NULL, "env@x.example", "Return-Path: <old@x>\n\nx\n",
	              "Return-Path: <env@x.example>\nDelivered-To: alice@home.example\n"
	              "Return-Path: <old@x>\n\nx\n");
}

static void
test_crlf(Fixture *f, gconstpointer data)
{
	assert_stored(f, "a@home.example", "s@x", "A: b\r\n c\r\n\r\nx\r\ny\rz\r\n",
	              "Return-Path: <s@x>\nDelivered-To: a@home.example\nA: b\n c\n\nx\ny\rz\n");
	assert_stored(f, "a@home.example", "s@x", "A: b\r\n\r\nend\r",
	              "Return-Path: <s@x>\nDelivered-To: a@home.example\nA: b\n\nend\r\n");
}

static void
test_from_line(Fixture *f, gconstpointer data)
{
	assert_stored(f, "a@home.example", "s@x",
	              "From someone@x.example Mon Jan  1 00:00:00 2024\nA: b\n\nFrom me\n",
	              "Return-Path: <s@x>\nDelivered-To: a@home.example\nA: b\n\nFrom me\n");
	assert_stored(f, "a@home.example", "s@x", "From x\r\nA: b\r\n\r\nbody",
	              "Return-Path: <s@x>\nDelivered-To: a@home.example\nA: b\n\nbody\n");
}

static void
test_final_lf(Fixture *f, gconstpointer data)
{
	assert_stored(f, "a@home.example", "s@x", "A: b\n\nno end",
	              "Return-Path: <s@x>\nDelivered-To: a@home.example\nA: b\n\nno end\n");
	assert_stored(f, "a@home.example", "s@x", "A: b",
	              "Return-Path: <s@x>\nDelivered-To: a@home.example\nA: b\n");
}

static void
assert_refused(Fixture *f, const char *user, const char *rcpt, const char *sender,
               const char *msg, gsize len, int code, int exit_code)
{
	g_autofree char *where = NULL;
	GError *err = NULL;

	g_assert_cmpint(hm_deliver_message(f->cfg, user, rcpt, sender, NULL, 0, msg, len, &where,
	                                   &err), ==, -1);
	g_assert_error(err, HM_DELIVER_ERROR, code);
	g_assert_cmpint(hm_deliver_exit_code(err), ==, exit_code);
	g_assert_null(where);
	g_error_free(err);
	g_assert_cmpint(count_new(f, "alice"), ==, 0);
}

static void
test_loop(Fixture *f, gconstpointer data)
{
	const char *msg = "Delivered-To: other@home.example\n"
	                  "Delivered-To: Alice <ALICE@Home.Example>\nA: b\n\nx\n";
	g_autofree char *got = NULL;

	assert_refused(f, "alice", "alice@home.example", "s@x", msg, strlen(msg),
	               HM_DELIVER_ERROR_LOOP, 65);
	/* Canonical address when rcpt is NULL. */
	assert_refused(f, "alice", NULL, "s@x", msg, strlen(msg), HM_DELIVER_ERROR_LOOP, 65);
	/* A Delivered-To in the body is not a loop. */
	got = deliver_ok(f, "alice", "alice@home.example", "s@x",
	                 "A: b\n\nDelivered-To: alice@home.example\n", 39);
	g_assert_nonnull(strstr(got, "\n\nDelivered-To: alice@home.example\n"));
	g_free(g_steal_pointer(&got));
	got = deliver_ok(f, "alice", "postmaster@home.example", "s@x", msg, strlen(msg));
	g_assert_true(g_str_has_prefix(got, "Return-Path: <s@x>\nDelivered-To: postmaster@"));
}

/* Below a Received: an old Delivered-To is a loop; above all of them it is
 * the one the invoking MTA (Postfix local) just added for us. */
static void
test_loop_received(Fixture *f, gconstpointer data)
{
	const char *looped = "Received: from relay by box\n"
	                     "Delivered-To: alice@home.example\n"
	                     "Received: from far by relay\nA: b\n\nx\n";
	const char *postfix = "From s@x  Mon Jan  1 00:00:00 2024\n"
	                      "Return-Path: <s@x>\nX-Original-To: alice@home.example\n"
	                      "Delivered-To: alice@home.example\n"
	                      "Received: by box (Postfix)\nA: b\n\nx\n";
	g_autofree char *got = NULL;

	assert_refused(f, "alice", "alice@home.example", "s@x", looped, strlen(looped),
	               HM_DELIVER_ERROR_LOOP, 65);
	got = deliver_ok(f, "alice", "alice@home.example", "s@x", postfix, strlen(postfix));
	g_assert_true(g_str_has_suffix(got, "Delivered-To: alice@home.example\n"
	                                    "Received: by box (Postfix)\nA: b\n\nx\n"));
}

static void
test_malformed(Fixture *f, gconstpointer data)
{
	const int M = HM_DELIVER_ERROR_MALFORMED;

	assert_refused(f, "alice", NULL, "s@x", "", 0, M, 65);
	assert_refused(f, "alice", NULL, "s@x", "A: b\n\nx\0y\n", 10, M, 65);
	assert_refused(f, "alice", NULL, "s@x", "not a header\n\nx\n", 16, M, 65);
	assert_refused(f, "alice", NULL, "s@x", "\nbody only\n", 11, M, 65);
	assert_refused(f, "alice", NULL, "s@x", " continued: x\n", 14, M, 65);
	assert_refused(f, "alice", NULL, "s@x", "From x Mon Jan  1 00:00:00 2024\n", 32, M, 65);
	assert_refused(f, "alice", NULL, "s@x", "From x Mon Jan  1 00:00:00 2024", 31, M, 65);
	assert_refused(f, "alice", "a@b\nX-Forged: 1", "s@x", "A: b\n", 5, M, 65);
	assert_refused(f, "alice", NULL, "s@x>\nX-Forged: <1", "A: b\n", 5, M, 65);
}

static void
test_unknown_user(Fixture *f, gconstpointer data)
{
	assert_refused(f, "nobody", NULL, "s@x", "A: b\n", 5, HM_DELIVER_ERROR_UNKNOWN_USER, 67);
	/* The delivery library takes user names, not aliases. */
	assert_refused(f, "postmaster", NULL, "s@x", "A: b\n", 5, HM_DELIVER_ERROR_UNKNOWN_USER,
	               67);
}

/* The Maildir cannot be made: a temporary failure, nothing stored. */
static void
test_temp_failure(Fixture *f, gconstpointer data)
{
	g_autofree char *mail = g_build_filename(f->dir, "mail", NULL);
	g_autofree char *alice = g_build_filename(mail, "alice", NULL);

	g_assert_cmpint(g_mkdir(mail, 0700), ==, 0);
	g_assert_true(g_file_set_contents(alice, "", 0, NULL));
	assert_refused(f, "alice", NULL, "s@x", "A: b\n", 5, HM_DELIVER_ERROR_TEMP, 75);
	g_unlink(alice);
}

static void
test_exit_codes(void)
{
	static const struct {
		GQuark (*domain)(void);
		int code, exit_code;
	} cases[] = {
		{ hm_deliver_error_quark, HM_DELIVER_ERROR_UNKNOWN_USER, 67 },
		{ hm_deliver_error_quark, HM_DELIVER_ERROR_MALFORMED, 65 },
		{ hm_deliver_error_quark, HM_DELIVER_ERROR_LOOP, 65 },
		{ hm_deliver_error_quark, HM_DELIVER_ERROR_TEMP, 75 },
		{ hm_error_quark, HM_ERROR_NOSPACE, 75 },
		{ hm_error_quark, HM_ERROR_IO, 75 },
		{ hm_error_quark, HM_ERROR_TIMEOUT, 75 },
		{ hm_error_quark, HM_ERROR_PARSE, 65 },
		{ g_file_error_quark, G_FILE_ERROR_NOENT, 75 },
	};

	g_assert_cmpint(hm_deliver_exit_code(NULL), ==, 0);
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) e = g_error_new(cases[i].domain(), cases[i].code, "x");

		g_assert_cmpint(hm_deliver_exit_code(e), ==, cases[i].exit_code);
	}
}

static void
test_maildir_path(Fixture *f, gconstpointer data)
{
	g_autofree char *p = hm_deliver_maildir_path(f->cfg, "alice");
	g_autofree char *want = g_build_filename(f->dir, "mail", "alice", NULL);
	g_autofree char *c1 = hm_deliver_canonical_address(f->cfg, "alice");
	g_autofree char *c2 = hm_deliver_canonical_address(f->cfg, "bob");

	g_assert_cmpstr(p, ==, want);
	g_assert_cmpstr(c1, ==, "alice@home.example");
	g_assert_cmpstr(c2, ==, "robert@home.example");
}

/* --- mbox ----------------------------------------------------------------- */

static void
test_mbox_quote(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "From x\n", ">From x\n" },
		{ ">From x\n", ">>From x\n" },
		{ ">>>From x", ">>>>From x" },
		{ "From\n", "From\n" },
		{ "from x\n", "from x\n" },
		{ " From x\n", " From x\n" },
		{ "a\nFrom b\n>From c\nx From d\n", "a\n>From b\n>>From c\nx From d\n" },
		{ ">\n>Fro\n", ">\n>Fro\n" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GString) out = g_string_new(NULL);

		hm_mbox_quote(cases[i].in, strlen(cases[i].in), out);
		g_assert_cmpstr(out->str, ==, cases[i].want);
	}
}

static void
test_mbox_deliver(Fixture *f, gconstpointer data)
{
	const char *msg = "Subject: hi\r\n\r\nFrom me\r\n>From you\r\nFrom\r\n";
	g_autofree char *path = g_build_filename(f->dir, "mail", "bob.mbox", NULL);
	g_autofree char *got = NULL;
	g_autoptr(GRegex) re = NULL;
	g_autofree char *where = NULL;
	GError *err = NULL;
	struct stat st;

	g_assert_cmpint(hm_deliver_message(f->cfg, "bob", NULL, "s@x.example", NULL, 0, msg,
	                                   strlen(msg), &where, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(where, ==, path);
	g_assert_cmpint(hm_deliver_message(f->cfg, "bob", "bob@home.example", "", NULL, 0,
	                                   "A: 2\n", 5, NULL, &err), ==, 0);
	g_assert_no_error(err);
	got = read_all(path);
	re = g_regex_new("^From s@x\\.example [A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] "
	                 "[0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}\n"
	                 "Return-Path: <s@x\\.example>\nDelivered-To: robert@home\\.example\n"
	                 "Subject: hi\n\n>From me\n>>From you\nFrom\n\n"
	                 "From MAILER-DAEMON [^\n]+\nReturn-Path: <>\n"
	                 "Delivered-To: bob@home\\.example\nA: 2\n\n$", 0, 0, NULL);
	if (!g_regex_match(re, got, 0, NULL))
		g_error("mbox content:\n%s", got);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
}

/* A file that does not end with an empty line gets one before the next
 * From line, or readers would take it as body text. */
static void
test_mbox_separator(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "x.mbox", NULL);
	g_autofree char *got = NULL;
	GError *err = NULL;

	g_assert_true(g_file_set_contents(path, "From a\nA: 1\n\nlast", -1, NULL));
	g_assert_cmpint(hm_mbox_deliver(path, "s", "A: 2\n", 5, 1000, &err), ==, 0);
	g_assert_no_error(err);
	got = read_all(path);
	g_assert_true(g_str_has_prefix(got, "From a\nA: 1\n\nlast\n\nFrom s "));
	g_assert_true(g_str_has_suffix(got, "\nA: 2\n\n"));
}

static int
lock_ofd(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fcntl(fd, F_OFD_SETLK, &fl), ==, 0);
	return fd;
}

static gboolean
release_lock(gpointer data)
{
	close(GPOINTER_TO_INT(data));
	return G_SOURCE_REMOVE;
}

static gpointer
release_later(gpointer data)
{
	g_usleep(300 * 1000);
	release_lock(data);
	return NULL;
}

static void
test_mbox_locked(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "l.mbox", NULL);
	g_autofree char *got = NULL;
	GError *err = NULL;
	gint64 t0;
	int fd = lock_ofd(path);
	GThread *th;

	/* Held: a temporary failure after the timeout, the file untouched. */
	t0 = g_get_monotonic_time();
	g_assert_cmpint(hm_mbox_deliver(path, "s", "A: 1\n", 5, 200, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TIMEOUT);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200 * 1000);
	g_clear_error(&err);
	got = read_all(path);
	g_assert_cmpstr(got, ==, "");
	/* Released while waiting: the delivery goes through. */
	th = g_thread_new("unlock", release_later, GINT_TO_POINTER(fd));
	g_assert_cmpint(hm_mbox_deliver(path, "s", "A: 1\n", 5, 5000, &err), ==, 0);
	g_assert_no_error(err);
	g_thread_join(th);
	g_free(got);
	got = read_all(path);
	g_assert_true(g_str_has_prefix(got, "From s "));
}

/* A write that runs out of space is cut back: the mbox keeps exactly its
 * old content. */
static void
test_mbox_disk_full(Fixture *f, gconstpointer data)
{
	g_autofree char *mnt = g_build_filename(f->dir, "small", NULL);
	g_autofree char *path = g_build_filename(mnt, "m.mbox", NULL);
	g_autofree char *got = NULL;
	gsize big_len = 1024 * 1024;
	g_autofree char *big = g_malloc(big_len);
	const char *old = "From a Mon Jan  1 00:00:00 2024\nA: 1\n\nold\n\n";
	GError *err = NULL;
	struct stat st;

	g_assert_cmpint(g_mkdir(mnt, 0700), ==, 0);
	hm_test_mount_tmpfs(mnt, "64k");
	g_assert_true(g_file_set_contents(path, old, -1, NULL));
	memset(big, 'x', big_len);
	memcpy(big, "A: b\n\n", 6);
	g_assert_cmpint(hm_mbox_deliver(path, "s", big, big_len, 1000, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_NOSPACE);
	g_clear_error(&err);
	got = read_all(path);
	g_assert_cmpstr(got, ==, old);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_size, ==, strlen(old));
	hm_test_umount(mnt);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
	ADD("/deliver/headers", test_headers);
	ADD("/deliver/return-path", test_return_path);
	ADD("/deliver/head", test_head);
	ADD("/deliver/head-loop", test_head_loop);
	ADD("/deliver/large-stored", test_large_stored);
	ADD("/deliver/crlf", test_crlf);
	ADD("/deliver/from-line", test_from_line);
	ADD("/deliver/final-lf", test_final_lf);
	ADD("/deliver/loop", test_loop);
	ADD("/deliver/loop-received", test_loop_received);
	ADD("/deliver/malformed", test_malformed);
	ADD("/deliver/unknown-user", test_unknown_user);
	ADD("/deliver/temp-failure", test_temp_failure);
	ADD("/deliver/maildir-path", test_maildir_path);
	g_test_add_func("/deliver/exit-codes", test_exit_codes);
	g_test_add_func("/deliver/mbox-quote", test_mbox_quote);
	ADD("/deliver/mbox", test_mbox_deliver);
	ADD("/deliver/mbox-separator", test_mbox_separator);
	ADD("/deliver/mbox-locked", test_mbox_locked);
	ADD("/deliver/mbox-disk-full", test_mbox_disk_full);
#undef ADD
	return g_test_run();
}
