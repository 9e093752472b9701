/* The remote endpoint and its connect policy (lib/endpoint.c); the TLS
 * paths run through the fetcher's backends in test-fetch-pop3 and
 * test-fetch-imap, against a scripted server with STLS, STARTTLS and pins. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/endpoint.h"
#include "lib/error.h"
#include "testutil.h"

static void
test_tls_ctx(void)
{
	HmEndpoint plain = { .host = (char *)"127.0.0.1", .tls = HM_TLS_MODE_NONE };
	HmEndpoint tls = { .host = (char *)"127.0.0.1", .tls = HM_TLS_MODE_STARTTLS };
	HmEndpoint bad = { .host = (char *)"127.0.0.1", .tls = HM_TLS_MODE_TLS,
		           .ca_file = (char *)"/nonexistent/ca.pem" };
	g_autoptr(GError) err = NULL;
	SSL_CTX *ctx;

	/* No CA store for a plain-text endpoint: it would cost for nothing. */
	g_assert_null(hm_endpoint_tls_ctx(&plain, &err));
	g_assert_no_error(err);
	ctx = hm_endpoint_tls_ctx(&tls, &err);
	g_assert_nonnull(ctx);
	SSL_CTX_free(ctx);
	g_assert_null(hm_endpoint_tls_ctx(&bad, &err));
	g_assert_error(err, HM_ERROR, HM_ERROR_TLS);
	g_assert_nonnull(strstr(err->message, "/nonexistent/ca.pem"));
}

static void
test_connect_refused(void)
{
	guint16 port;
	int lfd = hm_test_listen_tcp(&port);
	HmEndpoint ep = { .host = (char *)"127.0.0.1", .tls = HM_TLS_MODE_NONE };
	g_autoptr(GError) err = NULL;
	g_autofree char *want = NULL;

	close(lfd);  /* nobody listens there now */
	ep.port = port;
	want = g_strdup_printf("connect to 127.0.0.1 port %u", port);
	g_assert_null(hm_endpoint_connect(&ep, NULL, 2000, &err));
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_true(g_str_has_prefix(err->message, want));
}

/* Passwords travel in clear only to loopback, or where the admin said so;
 * over TLS always. */
static void
test_password_policy(void)
{
	int sv[2];
	HmConn *conn;
	HmEndpoint lo = { .host = (char *)"127.0.0.1" }, lo6 = { .host = (char *)"::1" };
	HmEndpoint far = { .host = (char *)"mail.isp.example" };
	HmEndpoint allowed = { .host = (char *)"nas.lan", .allow_plaintext = TRUE };

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	close(sv[1]);
	conn = hm_conn_new(sv[0], 1000);
	g_assert_true(hm_endpoint_may_send_password(&lo, conn));
	g_assert_true(hm_endpoint_may_send_password(&lo6, conn));
	g_assert_false(hm_endpoint_may_send_password(&far, conn));
	g_assert_true(hm_endpoint_may_send_password(&allowed, conn));
	hm_conn_free(conn);
}

static void
test_clear(void)
{
	HmEndpoint ep = { .host = g_strdup("h"), .ca_file = g_strdup("c"), .user = g_strdup("u"),
		          .password = { g_strdup("secret"), g_strdup("/f") }, .port = 1 };

	hm_endpoint_clear(&ep);
	g_assert_null(ep.host);
	g_assert_null(ep.password.value);
	g_assert_null(ep.password.file);
	g_assert_cmpuint(ep.port, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/endpoint/tls-ctx", test_tls_ctx);
	g_test_add_func("/endpoint/connect-refused", test_connect_refused);
	g_test_add_func("/endpoint/password-policy", test_password_policy);
	g_test_add_func("/endpoint/clear", test_clear);
	return g_test_run();
}
