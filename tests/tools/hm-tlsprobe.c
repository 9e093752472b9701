/* hm-tlsprobe: a small client over lib/'s connection, line reader and TLS
 * code, so integration tests can drive them against real servers (Dovecot)
 * and the scripted peer. Not installed. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conn.h"
#include "lib/error.h"
#include "lib/net.h"
#include "lib/parse.h"
#include "lib/tls.h"

typedef struct {
	HmConn *conn;
	gsize max_line;
} Probe;

/* Reads one line and echoes it as "S: ...". Returns NULL with *err. */
static const char *
recv_line(Probe *p, GError **err)
{
	HmLine line;
	HmIoStatus st = hm_conn_read_line(p->conn, p->max_line, 0, &line, err);

	if (st != HM_IO_OK)
		return NULL;
	printf("S: %s\n", line.data);
	return line.data;
}

static int
send_line(Probe *p, const char *text, GError **err)
{
	printf("C: %s\n", text);
	if (hm_conn_printf(p->conn, err, "%s\r\n", text) < 0)
		return -1;
	return hm_conn_flush(p->conn, err);
}

static int
expect_prefix(Probe *p, const char *prefix, const char *what, GError **err)
{
	const char *l = recv_line(p, err);

	if (l == NULL)
		return -1;
	if (!g_str_has_prefix(l, prefix)) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "unexpected %s: %s", what, l);
		return -1;
	}
	return 0;
}

/* Reads a multi-line reply; *found is set when a line equals (or, for
 * word lists, contains) needle. done() says whether a line ends it. */
static int
read_multi(Probe *p, gboolean (*done)(const char *), const char *needle,
           gboolean *found, GError **err)
{
	for (;;) {
		const char *l = recv_line(p, err);

		if (l == NULL)
			return -1;
		if (strstr(l, needle) != NULL)
			*found = TRUE;
		if (done(l))
			return 0;
	}
}

static gboolean pop3_end(const char *l) { return strcmp(l, ".") == 0 || g_str_has_prefix(l, "-ERR"); }
static gboolean imap_end(const char *l) { return g_str_has_prefix(l, "a1 "); }
static gboolean smtp_end(const char *l) { return strlen(l) < 4 || l[3] != '-'; }

static int
starttls_dialogue(Probe *p, const char *mode, GError **err)
{
	gboolean found = FALSE;

	if (strcmp(mode, "starttls-pop3") == 0) {
		if (expect_prefix(p, "+OK", "greeting", err) < 0 || send_line(p, "CAPA", err) < 0 ||
		    expect_prefix(p, "+OK", "reply to CAPA", err) < 0 ||
		    read_multi(p, pop3_end, "STLS", &found, err) < 0)
			return -1;
		if (!found)
			goto missing;
		return send_line(p, "STLS", err) < 0 ? -1 : expect_prefix(p, "+OK", "reply to STLS", err);
	}
	if (strcmp(mode, "starttls-imap") == 0) {
		if (expect_prefix(p, "* OK", "greeting", err) < 0 ||
		    send_line(p, "a1 CAPABILITY", err) < 0 ||
		    read_multi(p, imap_end, "STARTTLS", &found, err) < 0)
			return -1;
		if (!found)
			goto missing;
		return send_line(p, "a2 STARTTLS", err) < 0 ? -1 : expect_prefix(p, "a2 OK", "reply to STARTTLS", err);
	}
	if (expect_prefix(p, "220", "greeting", err) < 0 ||
	    send_line(p, "EHLO hm-tlsprobe.localhost", err) < 0 ||
	    read_multi(p, smtp_end, "STARTTLS", &found, err) < 0)
		return -1;
	if (!found)
		goto missing;
	return send_line(p, "STARTTLS", err) < 0 ? -1 : expect_prefix(p, "220", "reply to STARTTLS", err);
missing:
	g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "server does not offer %s",
	            strcmp(mode, "starttls-pop3") == 0 ? "STLS" : "STARTTLS");
	return -1;
}

static int
run(Probe *p, const char *mode, const char *host, const char *ca_file,
    const char *fingerprint, char **sends, GError **err)
{
	gboolean tls = strcmp(mode, "plain") != 0;
	guint8 pin[HM_SHA256_LEN];

	if (fingerprint != NULL && hm_tls_fingerprint_parse(fingerprint, pin, err) < 0)
		return -1;
	if (g_str_has_prefix(mode, "starttls-") && starttls_dialogue(p, mode, err) < 0)
		return -1;
	if (tls) {
		SSL_CTX *ctx = hm_tls_client_ctx(ca_file, err);
		int rc;

		if (ctx == NULL)
			return -1;
		rc = hm_conn_start_tls_client(p->conn, ctx, host, fingerprint ? pin : NULL, err);
		SSL_CTX_free(ctx);
		if (rc < 0)
			return -1;
		printf("tls: %s %s verified=%s\n", SSL_get_version(hm_conn_ssl(p->conn)),
		       SSL_get_cipher_name(hm_conn_ssl(p->conn)), fingerprint ? "pin" : "chain");
	}
	if ((strcmp(mode, "plain") == 0 || strcmp(mode, "tls") == 0) && recv_line(p, err) == NULL)
		return -1;
	for (char **s = sends; s != NULL && *s != NULL; s++)
		if (send_line(p, *s, err) < 0 || recv_line(p, err) == NULL)
			return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	g_autofree char *host = NULL, *mode = NULL, *ca_file = NULL, *fingerprint = NULL;
	g_autofree char *servername = NULL, *bind_addr = NULL;
	g_auto(GStrv) sends = NULL;
	int port = 0, timeout = 10000, max_line = 1000, fd, rc;
	GOptionEntry entries[] = {
		{ "host", 0, 0, G_OPTION_ARG_STRING, &host, "server", "HOST" },
		{ "port", 0, 0, G_OPTION_ARG_INT, &port, "port", "PORT" },
		{ "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "plain|tls|starttls-pop3|starttls-imap|starttls-smtp", "MODE" },
		{ "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file, "trusted CAs", "FILE" },
		{ "fingerprint", 0, 0, G_OPTION_ARG_STRING, &fingerprint, "SHA-256 pin", "PIN" },
		{ "servername", 0, 0, G_OPTION_ARG_STRING, &servername, "name to verify", "NAME" },
		{ "bind", 0, 0, G_OPTION_ARG_STRING, &bind_addr, "local address", "ADDR" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "per-read timeout", "MS" },
		{ "max-line", 0, 0, G_OPTION_ARG_INT, &max_line, "line limit", "N" },
		{ "send", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sends, "line to send", "LINE" },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- probe a server with lib/'s client");
	g_autoptr(GError) err = NULL;
	static const char *const modes[] = { "plain", "tls", "starttls-pop3", "starttls-imap", "starttls-smtp", NULL };
	Probe p = { 0 };

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || host == NULL ||
	    port < 1 || port > 65535 || max_line < 2 || timeout < 1 ||
	    !g_strv_contains(modes, mode ? mode : "tls")) {
		fprintf(stderr, "hm-tlsprobe: %s\n", err ? err->message : "usage: see --help");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = hm_connect_tcp(host, (guint16)port, bind_addr, timeout, &err);
	if (fd < 0) {
		fprintf(stderr, "hm-tlsprobe: %s\n", err->message);
		return 1;
	}
	p.conn = hm_conn_new(fd, timeout);
	p.max_line = (gsize)max_line;
	rc = run(&p, mode ? mode : "tls", servername ? servername : host, ca_file, fingerprint, sends, &err);
	hm_conn_free(p.conn);
	if (rc < 0) {
		fprintf(stderr, "hm-tlsprobe: %s\n", err ? err->message : "failed");
		return 1;
	}
	return 0;
}
