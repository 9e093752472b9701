/* Fuzzes the bounded line reader: the first byte picks the limit and
 * flags, the rest arrives over a socket; reads mix lines, lines in
 * segments (HM_LINE_SEGMENTS) and exact reads. */
#include <config.h>

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	HmConn *c;
	gsize max;
	guint flags;
	HmIoStatus st = HM_IO_OK;

	if (size < 1 || size > 60000)
		return 0;
	max = 2 + (data[0] & 0x3f) * 3;
	flags = (data[0] & 0x40) ? HM_LINE_ALLOW_NUL : 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[1]);
	c = hm_conn_new(sv[0], 1000);
	for (int i = 0; st != HM_IO_EOF && st != HM_IO_ERROR && st != HM_IO_TIMEOUT; i++) {
		HmLine l;

		if ((data[0] & 0x80) && i % 3 == 2) {
			char buf[7];

			st = hm_conn_read_exact(c, buf, sizeof(buf), NULL);
			continue;
		}
		if ((data[0] & 0x80) && i % 3 == 1)
			st = hm_conn_read_line(c, max, flags | HM_LINE_SEGMENTS, &l, NULL);
		else
			st = hm_conn_read_line(c, max, flags, &l, NULL);
		if (st == HM_IO_OK && l.partial) {
			/* A segment: not empty, within max, NUL-terminated. */
			if (l.len == 0 || l.len > max || l.bare_lf || l.data[l.len] != '\0')
				__builtin_trap();
		} else if (st == HM_IO_OK) {
			if (l.len + (l.bare_lf ? 1 : 2) > max || l.data[l.len] != '\0')
				__builtin_trap();
			if (!(flags & HM_LINE_ALLOW_NUL) && memchr(l.data, '\0', l.len) != NULL)
				__builtin_trap();
		}
	}
	hm_conn_free(c);
	return 0;
}
