/* The envelope vocabulary (relay/envelope.c): NOTIFY, RET, BODY. */
#include <config.h>

#include "relay/envelope.h"

static void
test_notify(void)
{
	guint n = 99;
	g_autoptr(GString) s = g_string_new(NULL);

	g_assert_cmpint(relay_notify_parse("success,Failure", &n), ==, 0);
	g_assert_cmpuint(n, ==, RELAY_NOTIFY_SUCCESS | RELAY_NOTIFY_FAILURE);
	relay_notify_format(n, s);
	g_assert_cmpstr(s->str, ==, "SUCCESS,FAILURE");

	g_assert_cmpint(relay_notify_parse("NEVER", &n), ==, 0);
	g_assert_cmpuint(n, ==, RELAY_NOTIFY_NEVER);
	g_assert_false(relay_notify_wants(n, RELAY_NOTIFY_FAILURE));

	n = 7;
	/* NEVER excludes the others; repeats, empty items and junk are errors. */
	g_assert_cmpint(relay_notify_parse("NEVER,DELAY", &n), ==, -1);
	g_assert_cmpint(relay_notify_parse("DELAY,DELAY", &n), ==, -1);
	g_assert_cmpint(relay_notify_parse("", &n), ==, -1);
	g_assert_cmpint(relay_notify_parse("DELAY,", &n), ==, -1);
	g_assert_cmpint(relay_notify_parse(",DELAY", &n), ==, -1);
	g_assert_cmpint(relay_notify_parse("DELAYED", &n), ==, -1);
	g_assert_cmpint(relay_notify_parse("DELA", &n), ==, -1);
	g_assert_cmpuint(n, ==, 7);

	/* No NOTIFY: failure and delay notices, no success. */
	g_assert_true(relay_notify_wants(0, RELAY_NOTIFY_FAILURE));
	g_assert_true(relay_notify_wants(0, RELAY_NOTIFY_DELAY));
	g_assert_false(relay_notify_wants(0, RELAY_NOTIFY_SUCCESS));
	g_assert_true(relay_notify_wants(RELAY_NOTIFY_SUCCESS, RELAY_NOTIFY_SUCCESS));
	g_assert_false(relay_notify_wants(RELAY_NOTIFY_SUCCESS, RELAY_NOTIFY_DELAY));
}

static void
test_ret_body(void)
{
	RelayRet ret = RELAY_RET_DEFAULT;
	RelayBody body = RELAY_BODY_7BIT;

	g_assert_cmpint(relay_ret_parse("hdrs", &ret), ==, 0);
	g_assert_cmpint(ret, ==, RELAY_RET_HDRS);
	g_assert_cmpstr(relay_ret_name(ret), ==, "HDRS");
	g_assert_cmpint(relay_ret_parse("FULLY", &ret), ==, -1);
	g_assert_null(relay_ret_name(RELAY_RET_DEFAULT));

	g_assert_cmpint(relay_body_parse("8bitmime", &body), ==, 0);
	g_assert_cmpint(body, ==, RELAY_BODY_8BITMIME);
	g_assert_cmpstr(relay_body_name(RELAY_BODY_BINARYMIME), ==, "BINARYMIME");
	g_assert_cmpint(relay_body_parse("8BIT", &body), ==, -1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/envelope/notify", test_notify);
	g_test_add_func("/envelope/ret-body", test_ret_body);
	return g_test_run();
}
