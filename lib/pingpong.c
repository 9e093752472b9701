#include <config.h>

#include <string.h>

#include "error.h"
#include "pingpong.h"

void
hm_pp_init(HmPingpong *pp, HmConn *conn, const char *noun)
{
	memset(pp, 0, sizeof(*pp));
	pp->conn = conn;
	pp->noun = noun;
}

static int G_GNUC_PRINTF(4, 5)
fail(HmPingpong *pp, GError **err, int code, const char *fmt, ...)
{
	va_list ap;

	pp->broken = TRUE;
	if (err != NULL) {
		va_start(ap, fmt);
		g_propagate_error(err, g_error_new_valist(HM_ERROR, code, fmt, ap));
		va_end(ap);
	}
	return -1;
}

/* A peer that stopped reading is not one that went away: a caller may
 * resend at once after a lost connection (lib/smtpc's "lost at MAIL"),
 * not after a stall. */
static int
send_failed(HmPingpong *pp, const GError *lerr, GError **err)
{
	if (g_error_matches(lerr, HM_ERROR, HM_ERROR_TIMEOUT))
		return fail(pp, err, HM_ERROR_TIMEOUT, "timed out sending");
	return fail(pp, err, HM_ERROR_IO, "connection lost while sending: %s", lerr->message);
}

int
hm_pp_send(HmPingpong *pp, const char *line, const char *shown, GError **err)
{
	g_autoptr(GError) lerr = NULL;

	if (pp->trace != NULL)
		pp->trace(TRUE, shown != NULL ? shown : line, pp->trace_data);
	if (hm_conn_write(pp->conn, line, strlen(line), &lerr) < 0 ||
	    hm_conn_write(pp->conn, "\r\n", 2, &lerr) < 0)
		return send_failed(pp, lerr, err);
	return 0;
}

int
hm_pp_flush(HmPingpong *pp, GError **err)
{
	g_autoptr(GError) lerr = NULL;

	if (hm_conn_flush(pp->conn, &lerr) < 0)
		return send_failed(pp, lerr, err);
	return 0;
}

/* The error for a failed read of what. */
static int
read_failed(HmPingpong *pp, HmIoStatus st, gsize max, const GError *lerr, const char *what,
            GError **err)
{
	switch (st) {
	case HM_IO_TIMEOUT:
		return fail(pp, err, HM_ERROR_TIMEOUT, "timed out waiting for %s", what);
	case HM_IO_TOO_LONG:
		return fail(pp, err, HM_ERROR_PROTOCOL,
		            "%s line too long (over %" G_GSIZE_FORMAT " octets) in %s", pp->noun, max,
		            what);
	case HM_IO_NUL:
		return fail(pp, err, HM_ERROR_PROTOCOL, "NUL byte in %s", what);
	default:
		return fail(pp, err, HM_ERROR_IO, "connection lost while reading %s: %s", what,
		            lerr != NULL ? lerr->message : "connection closed");
	}
}

int
hm_pp_read_data(HmPingpong *pp, gsize max, guint flags, const char *what, HmLine *line,
                GError **err)
{
	g_autoptr(GError) lerr = NULL;
	HmIoStatus st = hm_conn_read_line(pp->conn, max, flags, line, &lerr);

	return st == HM_IO_OK ? 0 : read_failed(pp, st, max, lerr, what, err);
}

int
hm_pp_read(HmPingpong *pp, gsize max, guint flags, const char *what, HmLine *line,
           GError **err)
{
	if (hm_pp_read_data(pp, max, flags, what, line, err) < 0)
		return -1;
	if (pp->trace != NULL)
		pp->trace(FALSE, line->data, pp->trace_data);
	return 0;
}

int
hm_pp_read_exact(HmPingpong *pp, void *buf, gsize n, const char *what, GError **err)
{
	g_autoptr(GError) lerr = NULL;
	HmIoStatus st = hm_conn_read_exact(pp->conn, buf, n, &lerr);

	return st == HM_IO_OK ? 0 : read_failed(pp, st, n, lerr, what, err);
}
