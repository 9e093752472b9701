#include <config.h>

#include <stdlib.h>

#include "received.h"

void
hm_rfc5322_date_append(GString *out, time_t when)
{
	/* Not strftime(): %a and %b follow the locale, RFC 5322 wants English. */
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	localtime_r(&when, &tm);
	off = tm.tm_gmtoff / 60;
	g_string_append_printf(out, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	                       days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	                       tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                       off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

void
hm_received_append(GString *out, const HmReceived *r, time_t when)
{
	g_string_append(out, "Received: ");
	if (r->from != NULL)
		g_string_append_printf(out, "from %s\r\n\t", r->from);
	if (r->by != NULL)
		g_string_append_printf(out, "by %s", r->by);
	if (r->comment != NULL)
		g_string_append_printf(out, " (%s)", r->comment);
	if (r->with != NULL)
		g_string_append_printf(out, " with %s", r->with);
	if (r->id != NULL)
		g_string_append_printf(out, " id %s", r->id);
	if (r->for_addr != NULL)
		g_string_append_printf(out, "\r\n\tfor <%s>", r->for_addr);
	g_string_append(out, "; ");
	hm_rfc5322_date_append(out, when);
	g_string_append(out, "\r\n");
}
