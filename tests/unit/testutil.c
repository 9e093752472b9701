#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "lib/conn.h"
#include "lib/net.h"
#include "testutil.h"

/* Longest line the peer reads: message bodies pass through it. */
#define PEER_LINE_MAX 100000

char *
hm_test_tmpdir(const char *prefix)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
	char *dir = g_dir_make_tmp(tmpl, &err);

	g_assert_no_error(err);
	g_assert_nonnull(dir);
	return dir;
}

void
hm_test_remove_tree(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		GStatBuf st;

		/* lstat, not stat: a symlink to a directory outside the test's
		 * tree must go, not what it points to. */
		g_assert_cmpint(g_lstat(p, &st), ==, 0);
		if (S_ISDIR(st.st_mode))
			hm_test_remove_tree(p);
		else
			g_assert_cmpint(g_unlink(p), ==, 0);
	}
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

void
hm_test_mount_tmpfs(const char *dir, const char *size)
{
	g_autofree char *opts = g_strdup_printf("size=%s,mode=0700", size);

	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
		int saved = errno;

		g_error("mount tmpfs on %s: %s (the test needs root)", dir, g_strerror(saved));
	}
}

void
hm_test_umount(const char *dir)
{
	g_assert_cmpint(umount(dir), ==, 0);
}

void
hm_test_ignore_warning(const char *line, gpointer data)
{
}

gboolean
hm_test_in_child(guint seconds)
{
	if (g_test_subprocess())
		return TRUE;
	g_test_trap_subprocess(NULL, (guint64)seconds * G_USEC_PER_SEC,
	                       G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
	return FALSE;
}

uid_t
hm_test_owner(const char *path)
{
	GStatBuf st;

	g_assert_cmpint(g_lstat(path, &st), ==, 0);
	return st.st_uid;
}

uid_t
hm_test_other_uid(void)
{
	return geteuid() == 0 ? 65534 : geteuid();
}

void
hm_test_mkfifo(const char *path)
{
	if (mkfifo(path, 0600) < 0)
		g_error("mkfifo %s: %s", path, g_strerror(errno));
}

void
hm_test_make_cert(const char *dir, char **cert, char **key)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *cmd = NULL, *out = NULL, *errout = NULL;
	int status = 0;

	*cert = g_build_filename(dir, "cert.pem", NULL);
	*key = g_build_filename(dir, "key.pem", NULL);
	cmd = g_strdup_printf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	                      "-nodes -days 2 -subj /CN=localhost "
	                      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
	                      "-keyout %s -out %s", *key, *cert);
	g_spawn_command_line_sync(cmd, &out, &errout, &status, &err);
	g_assert_no_error(err);
	if (status != 0)
		g_error("openssl req failed: %s", errout);
}

/* ---- the scripted peer ---------------------------------------------------- */

int
hm_test_listen_tcp(guint16 *port)
{
	HmListenSpec spec = { .host = (char *)"127.0.0.1", .port = 0 };
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = hm_listen_open(&spec, 4, NULL);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &sl), ==, 0);
	if (port != NULL)
		*port = g_ntohs(sin.sin_port);
	return fd;
}

int
hm_test_listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(fd, 4), ==, 0);
	return fd;
}

static void G_GNUC_PRINTF(2, 3)
peer_error(HmTestPeer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->error != NULL)
		return;
	va_start(ap, fmt);
	p->error = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

static HmConn *
peer_accept(HmTestPeer *p)
{
	struct pollfd pfd = { .fd = p->lfd, .events = POLLIN };
	int one = 1, fd;

	if (poll(&pfd, 1, 5000) != 1 || (fd = accept(p->lfd, NULL, NULL)) < 0) {
		peer_error(p, "no client connected");
		return NULL;
	}
	/* Split replies must reach the client as the separate writes they
	 * are (fails harmlessly on a UNIX socket). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return hm_conn_new(fd, p->timeout_ms);
}

/* Reads one line into the record: HM_IO_OK, or what ended the read. */
static HmIoStatus
peer_read(HmTestPeer *p, HmConn *c, HmLine *l)
{
	HmIoStatus st = c != NULL ? hm_conn_read_line(c, PEER_LINE_MAX, HM_LINE_ALLOW_NUL, l, NULL)
	                          : HM_IO_EOF;

	if (st != HM_IO_OK) {
		g_string_append(p->transcript, st == HM_IO_TIMEOUT ? "<TIMEOUT>" : "<EOF>");
		return st;
	}
	g_ptr_array_add(p->lines, g_strdup(l->data));
	g_string_append_len(p->transcript, l->data, (gssize)l->len);
	g_string_append(p->transcript, l->bare_lf ? "\n" : "\r\n");
	return HM_IO_OK;
}

/* In strict mode: the client must not have sent anything while it should
 * still be waiting for the reply about to be sent. */
static void
check_quiet(HmTestPeer *p, HmConn *c)
{
	struct pollfd pfd = { .fd = hm_conn_fd(c), .events = POLLIN };

	if (p->strict && (hm_conn_pending(c) > 0 || poll(&pfd, 1, 10) > 0))
		peer_error(p, "client sent a command before the reply to the previous one");
}

static void
peer_send(HmTestPeer *p, HmConn *c, const char *data, gsize len, gsize chunk)
{
	if (c == NULL)
		return;
	check_quiet(p, c);
	for (gsize off = 0; off < len; off += chunk) {
		hm_conn_write(c, data + off, MIN(chunk, len - off), NULL);
		hm_conn_flush(c, NULL);
		if (chunk < len)
			g_usleep(100);
	}
}

/* One step that reads; FALSE when the script must stop. */
static gboolean
peer_read_step(HmTestPeer *p, HmConn *c, const HmTestStep *st)
{
	HmLine l;

	switch (st->op) {
	case HM_TEST_READ:
		peer_read(p, c, &l);
		return TRUE;
	case HM_TEST_READ_DOT:
		while (peer_read(p, c, &l) == HM_IO_OK && (l.len != 1 || l.data[0] != '.'))
			;
		return TRUE;
	case HM_TEST_EOF:
		if (c != NULL && hm_conn_read_line(c, PEER_LINE_MAX, 0, &l, NULL) == HM_IO_OK) {
			peer_error(p, "expected EOF, got \"%s\"", l.data);
			return FALSE;
		}
		return TRUE;
	default:  /* HM_TEST_EXPECT */
		if (peer_read(p, c, &l) != HM_IO_OK) {
			peer_error(p, "expected \"%s\", got EOF", st->data);
			return FALSE;
		}
		if (strcmp(l.data, st->data) != 0) {
			peer_error(p, "expected \"%s\", got \"%s\"", st->data, l.data);
			return FALSE;
		}
		return TRUE;
	}
}

/* Runs steps on *c (replaced by CLOSE and ACCEPT); FALSE when the script
 * failed. */
static gboolean
peer_run(HmTestPeer *p, HmConn **c, const HmTestStep *steps)
{
	for (const HmTestStep *st = steps; st->op != HM_TEST_END; st++) {
		g_autoptr(GError) err = NULL;

		switch (st->op) {
		case HM_TEST_SEND:
		case HM_TEST_SPLIT:
			peer_send(p, *c, st->data, st->len,
			          st->op == HM_TEST_SPLIT ? p->chunk : st->len);
			break;
		case HM_TEST_TLS:
			if (*c == NULL || hm_conn_start_tls_server(*c, p->tls, &err) < 0) {
				g_string_append(p->transcript, "<TLS FAILED>");
				peer_error(p, "TLS: %s",
				           err != NULL ? err->message : "no connection");
				return FALSE;
			}
			break;
		case HM_TEST_ACCEPT:
		case HM_TEST_CLOSE:
			hm_conn_free(*c);
			*c = st->op == HM_TEST_ACCEPT ? peer_accept(p) : NULL;
			break;
		case HM_TEST_SLEEP:
			g_usleep(1000 * st->len);
			break;
		case HM_TEST_SUB:
			if (!peer_run(p, c, st->sub))
				return FALSE;
			break;
		default:
			if (!peer_read_step(p, *c, st))
				return FALSE;
			break;
		}
	}
	return TRUE;
}

static gpointer
peer_thread(gpointer data)
{
	HmTestPeer *p = data;
	HmConn *c = peer_accept(p);
	HmLine l;

	if (c != NULL && peer_run(p, &c, p->steps) && p->record_rest)
		while (peer_read(p, c, &l) == HM_IO_OK)
			;
	hm_conn_free(c);
	return NULL;
}

HmTestPeer *
hm_test_peer_new(int lfd, const HmTestStep *steps)
{
	HmTestPeer *p = g_new0(HmTestPeer, 1);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	p->lfd = lfd;
	p->steps = steps;
	p->chunk = 1;
	p->timeout_ms = 3000;
	p->lines = g_ptr_array_new_with_free_func(g_free);
	p->transcript = g_string_new(NULL);
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET)
		p->port = g_ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return p;
}

/* One string step of hm_test_peer_new_script(); its data is kept in p. */
static HmTestStep
parse_step(HmTestPeer *p, const char *s)
{
	static const struct {
		const char *name;
		HmTestOp op;
	} words[] = {
		{ ">", HM_TEST_READ }, { ".", HM_TEST_READ_DOT }, { "EOF", HM_TEST_EOF },
		{ "TLS", HM_TEST_TLS }, { "CLOSE", HM_TEST_CLOSE }, { "ACCEPT", HM_TEST_ACCEPT },
	};
	HmTestStep st = { HM_TEST_END, NULL, 0, NULL };
	char *data;

	for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
		if (strcmp(s, words[i].name) == 0) {
			st.op = words[i].op;
			return st;
		}
	if (g_str_has_prefix(s, "Z:")) {
		st.op = HM_TEST_SLEEP;
		st.len = g_ascii_strtoull(s + 2, NULL, 10);
		return st;
	}
	if (g_str_has_prefix(s, "S:"))
		data = g_strconcat(s + 2, "\r\n", NULL);
	else if (g_str_has_prefix(s, "R:") || g_str_has_prefix(s, "D:") ||
	         g_str_has_prefix(s, "C:"))
		data = g_strdup(s + 2);
	else
		g_error("bad script step \"%s\"", s);
	g_ptr_array_add(p->own_data, data);
	st.op = s[0] == 'C' ? HM_TEST_EXPECT : s[0] == 'D' ? HM_TEST_SPLIT : HM_TEST_SEND;
	st.data = data;
	st.len = strlen(data);
	return st;
}

HmTestPeer *
hm_test_peer_new_script(int lfd, const char *const *script)
{
	HmTestPeer *p = hm_test_peer_new(lfd, NULL);
	HmTestStep end = { HM_TEST_END, NULL, 0, NULL };

	p->own_steps = g_array_new(FALSE, FALSE, sizeof(HmTestStep));
	p->own_data = g_ptr_array_new_with_free_func(g_free);
	for (const char *const *s = script; *s != NULL; s++) {
		HmTestStep st = parse_step(p, *s);

		g_array_append_val(p->own_steps, st);
	}
	g_array_append_val(p->own_steps, end);
	p->steps = (const HmTestStep *)(void *)p->own_steps->data;
	return p;
}

void
hm_test_peer_start(HmTestPeer *p)
{
	p->thread = g_thread_new("peer", peer_thread, p);
}

char *
hm_test_peer_sent(const HmTestPeer *p)
{
	GString *all = g_string_new(NULL);

	for (guint i = 0; i < p->lines->len; i++)
		g_string_append_printf(all, "%s|", (const char *)p->lines->pdata[i]);
	return g_string_free(all, FALSE);
}

void
hm_test_peer_join(HmTestPeer *p)
{
	g_thread_join(p->thread);
	p->thread = NULL;
	close(p->lfd);
	p->lfd = -1;
	if (p->error != NULL) {
		g_autofree char *sent = hm_test_peer_sent(p);

		g_error("script: %s (client sent: %s)", p->error, sent);
	}
}

void
hm_test_peer_free(HmTestPeer *p)
{
	if (p == NULL)
		return;
	g_ptr_array_unref(p->lines);
	g_string_free(p->transcript, TRUE);
	if (p->own_steps != NULL)
		g_array_free(p->own_steps, TRUE);
	if (p->own_data != NULL)
		g_ptr_array_unref(p->own_data);
	g_free(p->error);
	g_free(p);
}

char *
hm_test_peer_finish(HmTestPeer *p)
{
	char *got;

	hm_test_peer_join(p);
	got = g_string_free(p->transcript, FALSE);
	p->transcript = g_string_new(NULL);
	hm_test_peer_free(p);
	return got;
}

static int
name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
hm_test_dir_list(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, name_cmp);
	g_ptr_array_add(names, NULL);
	return g_strjoinv(" ", (char **)names->pdata);
}

void
hm_test_assert_file(const char *path, const char *want)
{
	g_autofree char *got = NULL;
	g_autoptr(GError) err = NULL;

	g_assert_true(g_file_get_contents(path, &got, NULL, &err));
	g_assert_no_error(err);
	g_assert_cmpstr(got, ==, want);
}
