/* Fuzzes a whole POP3 session: the input is what a client sends, fed to
 * the real popd_session_run() over a socket pair, against a small Maildir
 * that is restored before every run. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/hmconfig.h"
#include "lib/conn.h"
#include "popd/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Cheap on purpose (1000 rounds): the fuzzer logs in a lot. */
#define HASH "$6$rounds=1000$fuzzsalt$VaozQpX6.rHlYgQ8XkQuQwnkNdGdaeCOvmZC4qxWknLh/eg/UKI7XrlNFcouj7rjYRe.I0VJYPdKlgC8OexQQ0"

static HmConfig *cfg;
static char *maildir;

static void
setup(void)
{
	g_autofree char *dir = g_dir_make_tmp("hm-fuzz-popd-XXXXXX", NULL);
	g_autofree char *conf = g_build_filename(dir, "f.conf", NULL);
	g_autofree char *text = g_strdup_printf(
	    "hostname = \"box.example\";\nmail_dir = \"mail\";\n"
	    "users = ( { name = \"alice\"; password = \"%s\"; } );\n", HASH);

	g_file_set_contents(conf, text, -1, NULL);
	cfg = hm_config_load(conf, NULL, NULL, NULL);
	if (cfg == NULL)
		abort();
	maildir = g_build_filename(cfg->mail_dir, "alice", NULL);
}

/* Puts back the same three messages, whatever the last run deleted. */
static void
restore(void)
{
	static const char *const msgs[] = {
		"Subject: a\n\n.dot\nFrom x\n", "Subject: b\n\nbody\n", "no header line",
	};
	g_autofree char *rm = g_strdup_printf("rm -rf %s", maildir);

	if (system(rm) != 0)
		abort();
	for (int i = 0; i < 3; i++) {
		g_autofree char *path = g_strdup_printf("%s/new/170000000%d.M1P1Q%d.fuzz", maildir, i, i);

		g_autofree char *new = g_build_filename(maildir, "new", NULL);

		g_mkdir_with_parents(new, 0700);
		g_file_set_contents(path, msgs[i], -1, NULL);
	}
}

static gpointer
drain(gpointer p)
{
	int fd = GPOINTER_TO_INT(p);
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	GThread *t;
	HmConn *conn;
	PopdSessionParams p = { .peer = "fuzz", .plaintext_ok = TRUE };

	if (size > 100000)
		return 0;
	if (cfg == NULL)
		setup();
	restore();
	p.cfg = cfg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	t = g_thread_new("drain", drain, GINT_TO_POINTER(dup(sv[0])));
	/* Input first, then EOF: the session sees a client that sent it all. */
	if (write(sv[0], data, size) < 0)
		abort();
	shutdown(sv[0], SHUT_WR);
	conn = hm_conn_new(sv[1], 2000);
	popd_session_run(conn, &p);
	hm_conn_free(conn);
	close(sv[0]);
	g_thread_join(t);
	return 0;
}
