/* Fuzzes the DSN builder with a hostile original and hostile words from
 * the remote: whatever goes in, the DSN has CRLF lines of at most 998
 * octets, no NUL, and its boundary only where the builder put it.
 * A DSN that returns the whole original stays within its size limit.
 * Input: a flags octet, two octets of diagnostic length, the diagnostic
 * (also used as remote host, ORCPT and ENVID by some flags), the original;
 * a diagnostic length divisible by 3 sets a limit just above the
 * original's length. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "relay/dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_lines(const GString *s)
{
	gsize col = 0;

	for (gsize i = 0; i < s->len; i++) {
		if (s->str[i] == '\0' || s->str[i] == '\n')
			__builtin_trap();
		if (s->str[i] == '\r') {
			if (i + 1 >= s->len || s->str[i + 1] != '\n')
				__builtin_trap();
			i++;
			col = 0;
		} else if (++col > 998) {
			__builtin_trap();
		}
	}
	if (col != 0)
		__builtin_trap();
}

/* The boundary delimits the three parts and closes: four times, no more. */
static void
check_boundary(const GString *s)
{
	const char *b = strstr(s->str, "boundary=\"");
	const char *end = b != NULL ? strchr(b + 10, '"') : NULL;
	g_autofree char *delim = NULL;
	guint n = 0;

	if (end == NULL)
		__builtin_trap();
	delim = g_strdup_printf("\r\n--%.*s", (int)(end - b - 10), b + 10);
	for (const char *p = s->str; (p = strstr(p, delim)) != NULL; p++)
		n++;
	if (n != 4 || !g_str_has_suffix(s->str, "--\r\n"))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const RelayDsnAction actions[] = { RELAY_DSN_FAILED, RELAY_DSN_DELAYED,
		                                  RELAY_DSN_DELIVERED, RELAY_DSN_RELAYED };
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree char *diag = NULL;
	RelayDsnParams p = { .reporting_mta = "box.example", .sender = "a@box.example",
		             .postmaster = "postmaster@box.example", .arrival = 1767261600,
		             .now = 1767261600 + 3600, .boundary_seed = "QID" };
	RelayDsnRcpt r = { .address = "b@remote.example", .status = "5.1.1" };
	guint notify = RELAY_NOTIFY_SUCCESS | RELAY_NOTIFY_FAILURE | RELAY_NOTIFY_DELAY;
	gsize dlen;
	guint8 flags;

	if (size < 3)
		return 0;
	flags = data[0];
	dlen = MIN((gsize)data[1] << 8 | data[2], size - 3);
	diag = g_strndup((const char *)data + 3, dlen);
	p.original = (const char *)data + 3 + dlen;
	p.original_len = size - 3 - dlen;
	p.ret = (flags & 1) ? RELAY_RET_FULL : RELAY_RET_HDRS;
	p.max_size = dlen % 3 == 0 ? p.original_len + dlen * 8 : 0;
	p.smtputf8 = (flags & 2) != 0;
	r.action = actions[(flags >> 2) & 3];
	r.diagnostic = diag;
	r.remote_mta = (flags & 16) ? diag : NULL;
	r.orcpt = (flags & 32) ? diag : NULL;
	p.envid = (flags & 64) ? diag : NULL;
	if (flags & 128) {
		r.address = diag;
		r.status = diag;
		r.will_retry_until = p.now + 86400;
	}
	if (relay_dsn_build(&p, &r, 1, &notify, out) != 1)
		__builtin_trap();
	check_lines(out);
	check_boundary(out);
	if (p.max_size > 0 && out->len > p.max_size &&
	    strstr(out->str, "\r\nContent-Description: Undelivered Message\r\n") != NULL)
		__builtin_trap();
	return 0;
}
