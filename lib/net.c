#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "net.h"
#include "parse.h"

int
hm_listen_spec_parse(const char *text, HmListenSpec *out, GError **err)
{
	const char *end = text + strlen(text);
	const char *host, *host_end, *port;
	guint64 portnum;
	gboolean tls = FALSE;

	memset(out, 0, sizeof(*out));
	if (end - text >= 4 && strcmp(end - 4, "/tls") == 0) {
		tls = TRUE;
		end -= 4;
	}
	if (*text == '[') {
		host = text + 1;
		host_end = memchr(host, ']', (gsize)(end - host));
		if (host_end == NULL || host_end[1] != ':') {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
			            "\"%s\": expected [IPV6]:PORT", text);
			return -1;
		}
		port = host_end + 2;
	} else {
		host = text;
		host_end = NULL;
		for (const char *p = text; p < end; p++)
			if (*p == ':')
				host_end = p;
		if (host_end == NULL || memchr(host, ':', (gsize)(host_end - host)) != NULL) {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
			            "\"%s\": expected HOST:PORT (IPv6 as [ADDR]:PORT)", text);
			return -1;
		}
		port = host_end + 1;
	}
	if (host_end == host || hm_parse_uint_n(port, (gsize)(end - port), 1, 65535, &portnum) < 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "\"%s\": %s", text,
		            host_end == host ? "empty host" : "port must be 1-65535");
		return -1;
	}
	if (memchr(host, '/', (gsize)(host_end - host)) != NULL || memchr(host, ' ', (gsize)(host_end - host)) != NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "\"%s\": bad host", text);
		return -1;
	}
	out->host = g_strndup(host, (gsize)(host_end - host));
	out->port = (guint16)portnum;
	out->tls = tls;
	return 0;
}

/* The text between the brackets or before the port must be a host name
 * or an address: nothing that would change meaning in a URL or a log. */
static gboolean
plain_host(const char *host, gsize len)
{
	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if ((guchar)host[i] <= ' ' || host[i] == 0x7f || strchr("/[]", host[i]) != NULL)
			return FALSE;
	return TRUE;
}

int
hm_host_port_parse(const char *text, guint16 default_port, char **host, guint16 *port,
                   GError **err)
{
	const char *h = text, *h_end, *p = NULL;
	struct in6_addr a6;
	guint64 num = default_port;

	if (*text == '[') {
		h = text + 1;
		h_end = strchr(h, ']');
		if (h_end == NULL || (h_end[1] != '\0' && h_end[1] != ':')) {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE,
			            "\"%s\": expected [IPV6] or [IPV6]:PORT", text);
			return -1;
		}
		if (h_end[1] == ':')
			p = h_end + 2;
	} else if (inet_pton(AF_INET6, text, &a6) == 1) {
		h_end = text + strlen(text);
	} else {
		h_end = strchr(text, ':');
		if (h_end != NULL)
			p = h_end + 1;
		else
			h_end = text + strlen(text);
	}
	if (!plain_host(h, (gsize)(h_end - h))) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "\"%s\": %s", text,
		            h_end == h ? "empty host" : "expected HOST[:PORT] (IPv6 as [ADDR]:PORT)");
		return -1;
	}
	if (p != NULL && hm_parse_uint(p, 1, 65535, &num) < 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "\"%s\": port must be 1-65535", text);
		return -1;
	}
	*host = g_strndup(h, (gsize)(h_end - h));
	*port = (guint16)num;
	return 0;
}

void
hm_listen_spec_clear(HmListenSpec *spec)
{
	g_clear_pointer(&spec->host, g_free);
	spec->port = 0;
	spec->tls = FALSE;
}

static struct addrinfo *
resolve(const char *host, guint16 port, gboolean numeric, gboolean passive, GError **err)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char portstr[8];
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : AI_ADDRCONFIG) |
	    (passive ? AI_PASSIVE : 0);
	g_snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s: %s", host,
		            numeric && rc == EAI_NONAME ? "not a numeric address" : gai_strerror(rc));
		return NULL;
	}
	return res;
}

int
hm_listen_open(const HmListenSpec *spec, int backlog, GError **err)
{
	struct addrinfo *ai = resolve(spec->host, spec->port, TRUE, TRUE, err);
	int fd, one = 1;

	if (ai == NULL)
		return -1;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		hm_set_error_errno(err, errno, "socket");
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		hm_set_error_errno(err, errno, "listen on %s%s%s:%u",
		                   ai->ai_family == AF_INET6 ? "[" : "", spec->host,
		                   ai->ai_family == AF_INET6 ? "]" : "", spec->port);
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* One non-blocking connect() bounded by the remaining time. Returns the fd
 * (blocking again) or -1 with errno set. */
static int
connect_one(const struct addrinfo *ai, const struct addrinfo *local, gint64 deadline)
{
	int fd, rc, soerr = 0;
	socklen_t len = sizeof(soerr);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (local != NULL && bind(fd, local->ai_addr, local->ai_addrlen) < 0)
		goto fail;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno != EINPROGRESS)
		goto fail;
	while (rc < 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;

		if (left <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		rc = poll(&pfd, 1, (int)MIN(left, G_MAXINT));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			goto fail;
		if (rc == 0)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			goto fail;
		if (soerr != 0) {
			errno = soerr;
			goto fail;
		}
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
fail:
	rc = errno;
	close(fd);
	errno = rc;
	return -1;
}

int
hm_connect_tcp(const char *host, guint16 port, const char *bind_addr, int timeout_ms,
               GError **err)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	struct addrinfo *res, *local = NULL;
	int fd = -1, last = ECONNREFUSED;

	res = resolve(host, port, FALSE, FALSE, err);
	if (res == NULL)
		return -1;
	if (bind_addr != NULL && (local = resolve(bind_addr, 0, TRUE, TRUE, err)) == NULL) {
		freeaddrinfo(res);
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		if (local != NULL && local->ai_family != ai->ai_family)
			continue;
		fd = connect_one(ai, local, deadline);
		if (fd < 0)
			last = errno;
		if (last == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (local != NULL)
		freeaddrinfo(local);
	if (fd < 0) {
		g_set_error(err, HM_ERROR, last == ETIMEDOUT ? HM_ERROR_TIMEOUT : HM_ERROR_IO,
		            "connect to %s port %u: %s", host, port,
		            last == ETIMEDOUT ? "timed out" : g_strerror(last));
	}
	return fd;
}

char *
hm_sockaddr_host(const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN];
	const void *addr;

	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		return g_strdup("unknown");
	if (inet_ntop(sa->sa_family, addr, buf, sizeof(buf)) == NULL)
		return g_strdup("unknown");
	return g_strdup(buf);
}

gboolean
hm_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (g_ascii_strcasecmp(host, "localhost") == 0)
		return TRUE;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return FALSE;
}
