/* Sockets: listen specifications, listening, connecting with a deadline. */
#ifndef HM_NET_H
#define HM_NET_H

#include <glib.h>
#include <sys/socket.h>

typedef struct {
	char *host;      /* numeric address or name, without brackets */
	guint16 port;
	gboolean tls;    /* "/tls" suffix: implicit TLS (RFC 8314) */
} HmListenSpec;

/* Parses "HOST:PORT", "[IPV6]:PORT", either followed by "/tls". The port
 * must be 1-65535. Returns 0 and fills *out (free with
 * hm_listen_spec_clear()), or -1 with *err set. */
int hm_listen_spec_parse(const char *text, HmListenSpec *out, GError **err);
void hm_listen_spec_clear(HmListenSpec *spec);

/* Parses a server given as "HOST", "HOST:PORT", "[IPV6]", "[IPV6]:PORT" or
 * a bare IPv6 literal ("2001:db8::1", which cannot carry a port); a
 * missing port is default_port. HOST is not resolved nor checked beyond
 * being non-empty and free of '/', spaces, brackets and control
 * characters. Returns 0 with *host (g_free() it) and *port, or -1 with
 * *err set. */
int hm_host_port_parse(const char *text, guint16 default_port, char **host, guint16 *port,
                       GError **err);

/* Opens a listening TCP socket for spec (SO_REUSEADDR, IPV6_V6ONLY on IPv6,
 * close-on-exec, non-blocking). HOST must be a numeric address: a daemon
 * must not depend on DNS at start-up. Returns the fd, or -1 with *err set. */
int hm_listen_open(const HmListenSpec *spec, int backlog, GError **err);

/* Connects to host:port (a name is resolved; every address is tried in
 * order) within timeout_ms overall. bind_addr, when not NULL, is the local
 * numeric address to connect from (tests use it to be a "foreign" client).
 * Returns a connected blocking fd (close-on-exec), or -1 with *err set. */
int hm_connect_tcp(const char *host, guint16 port, const char *bind_addr,
                   int timeout_ms, GError **err);

/* "192.0.2.1" or "2001:db8::1" (no port) for an AF_INET/AF_INET6 address;
 * g_free() it. */
char *hm_sockaddr_host(const struct sockaddr *sa);

/* TRUE if host is a numeric loopback address (127.0.0.0/8, ::1) or
 * "localhost": the only places plain-text passwords may travel. */
gboolean hm_host_is_loopback(const char *host);

#endif
