/* NAT-PMP (RFC 6886) public-address request, and the default gateway it
 * goes to. A plain UDP socket rather than libnatpmp: libnatpmp always
 * sends to port 5351 of the gateway (initnatpmp() takes no port), so it
 * could not honour natpmp://GATEWAY:PORT nor be tested against a
 * responder on a loopback port; and its nine-try schedule (64 s) is not
 * ours. The exchange is two bytes out, twelve back. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/route.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dyndns/router.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/parse.h"

#define NATPMP_VERSION 0
#define NATPMP_OP_PUBLIC 0
#define NATPMP_REPLY_BIT 128
#define NATPMP_REPLY_LEN 12
/* RFC 6886 §3.1: the first resend after 250 ms, each wait twice the last. */
#define NATPMP_FIRST_WAIT_MS 250
/* /proc/net/route lines are ~128 bytes; the file has one per route. */
#define ROUTE_LINE_MAX 512

int
hm_natpmp_parse_url(const char *url, struct in_addr *gw, guint16 *port, GError **err)
{
	g_autofree char *host = NULL;
	const char *p, *colon, *end;
	guint64 n = HM_NATPMP_PORT;

	if (!g_str_has_prefix(url, "natpmp://"))
		goto bad;
	p = url + 9;
	end = p + strlen(p);
	if (end > p && end[-1] == '/')
		end--;
	colon = memchr(p, ':', (gsize)(end - p));
	host = g_strndup(p, (gsize)((colon != NULL ? colon : end) - p));
	if (inet_pton(AF_INET, host, gw) != 1)
		goto bad;
	if (colon != NULL &&
	    hm_parse_uint_n(colon + 1, (gsize)(end - colon - 1), 1, 65535, &n) < 0)
		goto bad;
	*port = (guint16)n;
	return 0;
bad:
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
	            "\"%s\" is not natpmp://GATEWAY[:PORT] with a numeric IPv4 gateway", url);
	return -1;
}

static const char *
result_text(guint r)
{
	switch (r) {
	case 1:
		return "unsupported version";
	case 2:
		return "not authorized or refused";
	case 3:
		return "network failure: the router has no WAN address yet";
	case 4:
		return "out of resources";
	case 5:
		return "unsupported opcode";
	default:
		return "unknown result code";
	}
}

int
hm_natpmp_parse_reply(const guint8 *buf, gsize len, HmIpAddr *out, GError **err)
{
	guint result;

	if (len < NATPMP_REPLY_LEN || buf[0] != NATPMP_VERSION ||
	    buf[1] != (NATPMP_REPLY_BIT | NATPMP_OP_PUBLIC))
		return 0;
	result = ((guint)buf[2] << 8) | buf[3];
	if (result != 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "NAT-PMP result %u (%s)", result,
		            result_text(result));
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	memcpy(&out->u.v4.s_addr, buf + 8, 4); /* network order on the wire and in s_addr */
	return 1;
}

static int
open_socket(struct in_addr gw, guint16 port, GError **err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = gw };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		hm_set_error_errno(err, errno, "socket");
		return -1;
	}
	/* Connected: the kernel drops datagrams from anyone but the gateway
	 * (RFC 6886 §3.1 asks for that check) and reports ICMP "port
	 * unreachable" as ECONNREFUSED, so a router without NAT-PMP fails at
	 * once instead of at the deadline. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		hm_set_error_errno(err, errno, "connect");
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits for a datagram until until_us. Returns 1 (one read into buf), 0
 * (time is up), -1 with *err. */
static int
wait_reply(int fd, gint64 until_us, guint8 *buf, gsize size, gssize *got, GError **err)
{
	for (;;) {
		gint64 left = until_us - g_get_monotonic_time();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hm_set_error_errno(err, errno, "poll");
			return -1;
		}
		if (n == 0)
			return 0;
		*got = recv(fd, buf, size, 0);
		if (*got < 0 && errno == EINTR)
			continue;
		if (*got < 0) {
			hm_set_error_errno(err, errno, "no NAT-PMP answer");
			return -1;
		}
		return 1;
	}
}

int
hm_natpmp_public_address(struct in_addr gw, guint16 port, gint64 deadline, HmIpAddr *out,
                         GError **err)
{
	static const guint8 request[2] = { NATPMP_VERSION, NATPMP_OP_PUBLIC };
	gint64 wait_us = NATPMP_FIRST_WAIT_MS * 1000, start = g_get_monotonic_time();
	int fd = open_socket(gw, port, err);
	guint tries = 0;

	if (fd < 0)
		return -1;
	while (g_get_monotonic_time() < deadline) {
		gint64 until = MIN(g_get_monotonic_time() + wait_us, deadline);

		if (send(fd, request, sizeof(request), 0) < 0) {
			hm_set_error_errno(err, errno, "send");
			close(fd);
			return -1;
		}
		tries++;
		for (;;) {
			guint8 buf[64];
			gssize got = 0;
			int rc = wait_reply(fd, until, buf, sizeof(buf), &got, err);

			if (rc == 1)
				rc = hm_natpmp_parse_reply(buf, (gsize)got, out, err);
			else if (rc == 0)
				break;
			if (rc != 0) {
				close(fd);
				return rc < 0 ? -1 : 0;
			}
		}
		wait_us *= 2;
	}
	close(fd);
	g_set_error(err, HM_ERROR, HM_ERROR_TIMEOUT, "no answer in %.1f s (%u tries)",
	            (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC, tries);
	return -1;
}

/* Exactly eight hex digits (a /proc/net/route address) into a 32-bit
 * value as the kernel printed it. */
static gboolean
hex32(const char *s, gsize len, guint32 *out)
{
	guint32 v = 0;

	if (len != 8)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		int d = g_ascii_xdigit_value(s[i]);

		if (d < 0)
			return FALSE;
		v = (v << 4) | (guint32)d;
	}
	*out = v;
	return TRUE;
}

gboolean
hm_route_default_gateway(const char *line, struct in_addr *gw)
{
	/* fields: Iface Destination Gateway Flags RefCnt Use Metric Mask ... */
	const char *f[8];
	gsize flen[8];
	guint n = 0;
	guint32 dest, gate, mask, flags;
	const char *p = line;

	while (n < 8) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\n')
			return FALSE;
		f[n] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		flen[n] = (gsize)(p - f[n]);
		n++;
	}
	/* flags are printed as %04X: pad to the eight digits hex32 wants */
	if (flen[3] > 8 || flen[3] == 0)
		return FALSE;
	{
		char fl[9] = "00000000";

		memcpy(fl + 8 - flen[3], f[3], flen[3]);
		if (!hex32(fl, 8, &flags))
			return FALSE;
	}
	if (!hex32(f[1], flen[1], &dest) || !hex32(f[2], flen[2], &gate) ||
	    !hex32(f[7], flen[7], &mask))
		return FALSE;
	if (dest != 0 || mask != 0 || gate == 0 ||
	    (flags & (RTF_UP | RTF_GATEWAY)) != (RTF_UP | RTF_GATEWAY))
		return FALSE;
	gw->s_addr = gate; /* the kernel printed the network-order word as is */
	return TRUE;
}

int
hm_default_gateway(struct in_addr *gw, GError **err)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[ROUTE_LINE_MAX];
	gboolean found = FALSE;

	if (f == NULL) {
		hm_set_error_errno(err, errno, "/proc/net/route");
		return -1;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = hm_route_default_gateway(line, gw);
	fclose(f);
	if (!found) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "no IPv4 default route");
		return -1;
	}
	return 0;
}
