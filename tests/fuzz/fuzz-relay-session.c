/* Fuzzes a whole SMTP session of the relay: the input is what a client
 * sends, fed to the real relay_session_run() over a socket pair, writing
 * into a real queue directory that is emptied after every run. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/hmconfig.h"
#include "lib/conn.h"
#include "lib/groupcommit.h"
#include "relay/rewrite.h"
#include "relay/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* sha256-crypt with 1000 rounds: the fuzzer logs in a lot. Password
 * "secret", as in the seed corpus (AUTH PLAIN AGFsaWNlAHNlY3JldA==). */
#define HASH "$5$rounds=1000$fuzzsalt$qGCc4JvvMNwwgoU2eJ4FMcZ.jSqNaOPBoUN0Jv2w9O2"

static HmConfig *cfg;
static RelayRewriter *rw;
static HmGroupCommit *gc;
static char *topdir, *queue_dir;

static void
remove_topdir(void)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", topdir);

	if (system(cmd) != 0)
		fprintf(stderr, "fuzz-relay-session: could not remove %s\n", topdir);
}

static void
setup(void)
{
	g_autofree char *dir = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR)
	                           ? g_mkdtemp(g_strdup("/dev/shm/hm-fuzz-relay-XXXXXX"))
	                           : g_dir_make_tmp("hm-fuzz-relay-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename(dir, "f.conf", NULL);
	g_autofree char *text = g_strdup_printf(
	    "hostname = \"box.example\";\nstate_dir = \"state\";\nmail_dir = \"mail\";\n"
	    "local_domains = [ \"box.example\" ];\n"
	    "users = ( { name = \"alice\"; password = \"%s\"; send_as = \"a@isp.example\"; } );\n"
	    "aliases = { postmaster = \"alice\"; };\n"
	    "relay = { max_message_size = 100000; max_recipients = 100; };\n",
	    HASH);
	const char *names[] = { "localhost", NULL };

	topdir = g_strdup(dir);
	atexit(remove_topdir);
	g_file_set_contents(conf, text, -1, NULL);
	cfg = hm_config_load(conf, NULL, NULL, NULL);
	if (cfg == NULL)
		abort();
	queue_dir = g_build_filename(cfg->state_dir, "queue", NULL);
	g_mkdir_with_parents(queue_dir, 0700);
	rw = relay_rewriter_new(cfg, names);
	gc = hm_group_commit_new(queue_dir, NULL);
	if (gc == NULL)
		abort();
}

/* Removes what the run queued. */
static void
empty_queue(void)
{
	g_autoptr(GDir) d = g_dir_open(queue_dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(queue_dir, name, NULL);

		if (unlink(path) < 0)
			abort();
	}
}

/* Both directions fit in the socket buffers (see fuzz-popd-session.c). */
#define INPUT_MAX 65536
#define SOCK_BUF (1 << 20)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2], buf = SOCK_BUF;
	HmConn *conn;
	RelaySessionParams p = { .peer = "192.0.2.7", .plaintext_ok = TRUE, .pickup_fd = -1 };

	if (size > INPUT_MAX)
		return 0;
	if (cfg == NULL)
		setup();
	p.cfg = cfg;
	p.rw = rw;
	p.queue_dir = queue_dir;
	p.gc = gc;
	/* Half the inputs as a LAN client, which may relay. */
	p.trusted = size > 0 && (data[0] & 1);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	}
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	conn = hm_conn_new(sv[1], 2000);
	relay_session_run(conn, &p);
	hm_conn_free(conn);
	close(sv[0]);
	empty_queue();
	return 0;
}
