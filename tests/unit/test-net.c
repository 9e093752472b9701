/* Listen specifications, listening and connecting on loopback. */
#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/net.h"

static void
test_spec_good(void)
{
	static const struct { const char *text, *host; guint16 port; gboolean tls; } cases[] = {
		{ "127.0.0.1:25", "127.0.0.1", 25, FALSE },
		{ "0.0.0.0:465/tls", "0.0.0.0", 465, TRUE },
		{ "[::1]:25", "::1", 25, FALSE },
		{ "[::]:995/tls", "::", 995, TRUE },
		{ "192.168.1.2:587", "192.168.1.2", 587, FALSE },
		{ "localhost:65535", "localhost", 65535, FALSE },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		HmListenSpec s;
		g_autoptr(GError) err = NULL;

		g_assert_cmpint(hm_listen_spec_parse(cases[i].text, &s, &err), ==, 0);
		g_assert_no_error(err);
		g_assert_cmpstr(s.host, ==, cases[i].host);
		g_assert_cmpuint(s.port, ==, cases[i].port);
		g_assert_cmpint(s.tls, ==, cases[i].tls);
		hm_listen_spec_clear(&s);
	}
}

static void
test_spec_bad(void)
{
	static const char *const bad[] = {
		"", ":25", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000",
		"127.0.0.1:-1", "127.0.0.1:+25", "127.0.0.1:25 ", "::1:25", "[::1]25",
		"[::1:25", "127.0.0.1:25/ssl", "127.0.0.1:25/tls/tls", "a b:25",
		"127.0.0.1:99999999999999999999999", "/tls", "[]:25",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		HmListenSpec s;
		g_autoptr(GError) err = NULL;

		if (hm_listen_spec_parse(bad[i], &s, &err) == 0)
			g_error("accepted bad listen spec \"%s\"", bad[i]);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_assert_null(s.host);
	}
}

static guint16
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&ss, &len), ==, 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A client bound to 127.0.0.2 is seen as 127.0.0.2: how the tests play a
 * foreign host. */
static void
test_listen_connect(void)
{
	HmListenSpec s = { .host = (char *)"127.0.0.1", .port = 0 };
	g_autoptr(GError) err = NULL;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int lfd, cfd, afd = -1;
	g_autofree char *host = NULL;

	lfd = hm_listen_open(&s, 8, &err);
	g_assert_no_error(err);
	cfd = hm_connect_tcp("127.0.0.1", bound_port(lfd), "127.0.0.2", 2000, &err);
	g_assert_no_error(err);
	for (int i = 0; i < 100 && afd < 0; i++, g_usleep(10000))
		afd = accept(lfd, (struct sockaddr *)&peer, &len);
	g_assert_cmpint(afd, >=, 0);
	host = hm_sockaddr_host((struct sockaddr *)&peer);
	g_assert_cmpstr(host, ==, "127.0.0.2");
	close(afd);
	close(cfd);
	close(lfd);
}

static void
test_listen_v6(void)
{
	HmListenSpec s = { .host = (char *)"::1", .port = 0 };
	g_autoptr(GError) err = NULL;
	int lfd, cfd;

	lfd = hm_listen_open(&s, 8, &err);
	g_assert_no_error(err);
	cfd = hm_connect_tcp("::1", bound_port(lfd), NULL, 2000, &err);
	g_assert_no_error(err);
	close(cfd);
	close(lfd);
}

static void
test_errors(void)
{
	HmListenSpec name = { .host = (char *)"localhost", .port = 2525 };
	HmListenSpec s = { .host = (char *)"127.0.0.1", .port = 0 };
	g_autoptr(GError) err = NULL;
	int lfd, port;

	/* Listeners never resolve names: no DNS dependency at start-up. */
	g_assert_cmpint(hm_listen_open(&name, 8, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "numeric"));
	g_clear_error(&err);
	lfd = hm_listen_open(&s, 8, &err);
	port = bound_port(lfd);
	close(lfd);
	g_assert_cmpint(hm_connect_tcp("127.0.0.1", (guint16)port, NULL, 2000, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "refused"));
}

static void
test_loopback(void)
{
	g_assert_true(hm_host_is_loopback("127.0.0.1"));
	g_assert_true(hm_host_is_loopback("127.4.5.6"));
	g_assert_true(hm_host_is_loopback("::1"));
	g_assert_true(hm_host_is_loopback("LOCALHOST"));
	g_assert_false(hm_host_is_loopback("128.0.0.1"));
	g_assert_false(hm_host_is_loopback("::2"));
	g_assert_false(hm_host_is_loopback("localhost.evil.example"));
	g_assert_false(hm_host_is_loopback("127.0.0.1.nip.io"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/net/spec-good", test_spec_good);
	g_test_add_func("/net/spec-bad", test_spec_bad);
	g_test_add_func("/net/listen-connect", test_listen_connect);
	g_test_add_func("/net/listen-v6", test_listen_v6);
	g_test_add_func("/net/errors", test_errors);
	g_test_add_func("/net/loopback", test_loopback);
	return g_test_run();
}
