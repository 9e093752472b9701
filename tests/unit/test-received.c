/* RFC 5322 dates and Received: fields (lib/received.c). */
#include <config.h>

#include <stdlib.h>
#include <time.h>

#include "lib/received.h"

static char *
date_in(const char *tz, time_t when)
{
	GString *s = g_string_new(NULL);

	g_setenv("TZ", tz, TRUE);
	tzset();
	hm_rfc5322_date_append(s, when);
	return g_string_free(s, FALSE);
}

static void
test_date(void)
{
	/* 2026-12-04 17:55:28 UTC, a Friday. */
	const time_t t = 1796406928;
	g_autofree char *utc = date_in("UTC0", t);
	g_autofree char *east = date_in("XST-5:30", t);
	g_autofree char *west = date_in("YST8", t);
	g_autofree char *early = date_in("UTC0", 0);

	g_assert_cmpstr(utc, ==, "Fri, 4 Dec 2026 17:55:28 +0000");
	g_assert_cmpstr(east, ==, "Fri, 4 Dec 2026 23:25:28 +0530");
	g_assert_cmpstr(west, ==, "Fri, 4 Dec 2026 09:55:28 -0800");
	g_assert_cmpstr(early, ==, "Thu, 1 Jan 1970 00:00:00 +0000");
}

static void
test_received(void)
{
	HmReceived full = { .from = "pop.isp.example", .by = "box.example",
		            .comment = "homemail-fetcher, account isp", .with = "POP3S",
		            .id = "Q1", .for_addr = "alice@box.example" };
	HmReceived bare = { .by = "box.example", .with = "local" };
	GString *s = g_string_new(NULL);

	g_setenv("TZ", "UTC0", TRUE);
	tzset();
	hm_received_append(s, &full, 1796406928);
	g_assert_cmpstr(s->str, ==,
	                "Received: from pop.isp.example\r\n\tby box.example "
	                "(homemail-fetcher, account isp) with POP3S id Q1\r\n"
	                "\tfor <alice@box.example>; Fri, 4 Dec 2026 17:55:28 +0000\r\n");
	g_string_truncate(s, 0);
	hm_received_append(s, &bare, 1796406928);
	g_assert_cmpstr(s->str, ==,
	                "Received: by box.example with local; Fri, 4 Dec 2026 17:55:28 +0000\r\n");
	g_string_free(s, TRUE);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/received/date", test_date);
	g_test_add_func("/received/received", test_received);
	return g_test_run();
}
