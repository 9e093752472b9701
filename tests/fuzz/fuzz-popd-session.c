/* Fuzzes a whole POP3 session: the input is what a client sends, fed to
 * the real popd_session_run() over a socket pair, against a small Maildir
 * that is restored before every run. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/hmconfig.h"
#include "lib/conn.h"
#include "popd/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The cheapest hash popd accepts (sha256-crypt's minimum of 1000
 * rounds, ~0.4 ms): the fuzzer logs in a lot. The password is "secret", as in
 * the seed corpus. */
#define HASH "$5$rounds=1000$fuzzsalt$qGCc4JvvMNwwgoU2eJ4FMcZ.jSqNaOPBoUN0Jv2w9O2"

static HmConfig *cfg;
static char *maildir;
static char *topdir;

static void
remove_topdir(void)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", topdir);

	/* Once per process, at its end: not per input. */
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz-popd-session: could not remove %s\n", topdir);
}

static void
setup(void)
{
	/* In memory where there is a tmpfs: the Maildir changes at each input. */
	g_autofree char *dir = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR)
	                           ? g_mkdtemp(g_strdup("/dev/shm/hm-fuzz-popd-XXXXXX"))
	                           : g_dir_make_tmp("hm-fuzz-popd-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename(dir, "f.conf", NULL);
	g_autofree char *text = g_strdup_printf(
	    "hostname = \"box.example\";\nmail_dir = \"mail\";\n"
	    "users = ( { name = \"alice\"; password = \"%s\"; } );\n", HASH);

	topdir = g_strdup(dir);
	atexit(remove_topdir);
	g_file_set_contents(conf, text, -1, NULL);
	cfg = hm_config_load(conf, NULL, NULL, NULL);
	if (cfg == NULL)
		abort();
	maildir = g_build_filename(cfg->mail_dir, "alice", NULL);
}

static const char *const msgs[] = {
	"Subject: a\n\n.dot\nFrom x\n", "Subject: b\n\nbody\n", "no header line",
};

/* The number of files in a Maildir subdirectory. */
static guint
count(const char *sub)
{
	g_autofree char *dir = g_build_filename(maildir, sub, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;

	while (d != NULL && g_dir_read_name(d) != NULL)
		n++;
	return n;
}

/* Empties a Maildir subdirectory (popd makes no subdirectories there). */
static void
empty(const char *sub)
{
	g_autofree char *dir = g_build_filename(maildir, sub, NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);

		if (unlink(path) < 0)
			abort();
	}
}

/* Puts back the same three messages, whatever the last run deleted or
 * moved, in-process (a shell per input cost ~20 ms, most of a run), and
 * only when the run changed something. */
static void
restore(void)
{
	g_autofree char *new = g_build_filename(maildir, "new", NULL);

	if (count("new") == 3 && count("cur") == 0 && count("tmp") == 0)
		return;
	empty("new");
	empty("cur");
	empty("tmp");
	g_mkdir_with_parents(new, 0700);
	for (int i = 0; i < 3; i++) {
		g_autofree char *path = g_strdup_printf("%s/170000000%d.M1P1Q%d.fuzz", new, i, i);

		if (!g_file_set_contents(path, msgs[i], -1, NULL))
			abort();
	}
}

/* Both directions fit in the socket buffers, so neither side waits for
 * the other and no thread is needed: a thread per input (its stack mapped
 * and unmapped each time) cost more than the session itself. */
#define INPUT_MAX 65536
#define SOCK_BUF (1 << 20)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2], buf = SOCK_BUF;
	HmConn *conn;
	PopdSessionParams p = { .peer = "fuzz", .plaintext_ok = TRUE };

	if (size > INPUT_MAX)
		return 0;
	if (cfg == NULL)
		setup();
	restore();
	p.cfg = cfg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	}
	/* Input first, then EOF: the session sees a client that sent it all. */
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	conn = hm_conn_new(sv[1], 2000);
	popd_session_run(conn, &p);
	hm_conn_free(conn);
	close(sv[0]);
	return 0;
}
