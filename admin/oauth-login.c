/* Signing an account or smart host in at its identity provider (device
 * flow, or authorization code flow with PKCE and a loopback listener):
 * `homemail oauth login NAME`, and `homemail setup` right after the
 * questions of an OAuth2 account. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/oauth-login.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/oauth2-flow.h"
#include "lib/printable.h"

/* How long a person has to finish signing in. */
#define LOGIN_TIMEOUT_S (15 * 60)
/* The browser's request to the loopback listener: its first line is all
 * we read, and nothing honest is longer. */
#define REQUEST_MAX 8192
/* The whole request line of one visit, however slowly it comes: a client
 * sending a byte every few seconds must not hold the listener (or the
 * pasted answer) up. */
#define VISIT_TIMEOUT_S 10

static int
save_token(const HmConfig *cfg, const HmOauthTarget *t, HmOauth2Token *tok)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *path = hm_oauth2_token_path(cfg->state_dir, &t->ep->oauth2, t->ep->user);
	int lock = hm_oauth2_token_lock(path, &err);
	int rc = lock >= 0 ? hm_oauth2_token_save(path, tok, &err) : -1;

	hm_oauth2_token_unlock(lock);
	if (rc < 0) {
		fprintf(stderr, "homemail oauth: %s\n", err->message);
		return 1;
	}
	printf("Signed in as %s; the token is stored in %s%s.\n", t->ep->user, path,
	       tok->refresh_token != NULL ? ""
	                                  : " (without a refresh token: you will have to sign in "
	                                    "again when it expires)");
	return 0;
}

static int
login_device(const HmConfig *cfg, const HmOauthTarget *t)
{
	const HmOauth2Conf *c = &t->ep->oauth2;
	HmOauth2Device d = { 0 };
	HmOauth2Token tok = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *uri = NULL, *code = NULL;
	int rc = 1;

	if (hm_oauth2_device_start(c, &d, &err) < 0) {
		fprintf(stderr, "homemail oauth: %s\n", err->message);
		return 1;
	}
	/* The provider's text: no escape sequence of its own on the terminal. */
	uri = hm_printable(d.verification_uri, -1);
	code = hm_printable(d.user_code, -1);
	printf("To sign in %s %s as %s, open\n\n    %s\n\nin any browser and enter the code\n\n"
	       "    %s\n\nWaiting for you to finish there...\n",
	       t->kind, t->name, t->ep->user, uri, code);
	fflush(stdout);
	for (;;) {
		HmOauth2Poll p;

		g_usleep((gulong)d.interval * G_USEC_PER_SEC);
		p = hm_oauth2_device_poll(c, &d, &tok, &err);
		if (p == HM_OAUTH2_POLL_DONE) {
			rc = save_token(cfg, t, &tok);
			break;
		}
		if (p == HM_OAUTH2_POLL_FAILED) {
			fprintf(stderr, "homemail oauth: %s\n", err->message);
			break;
		}
	}
	hm_oauth2_token_clear(&tok);
	hm_oauth2_device_clear(&d);
	return rc;
}

/* A loopback listener for the browser's return, on port (0: any). The fd
 * and *redirect_uri, or -1 (no listener: the person pastes the URL). */
static int
listen_loopback(guint16 port, char **redirect_uri)
{
	g_autoptr(GError) err = NULL;
	HmListenSpec spec = { .host = (char *)"127.0.0.1", .port = port };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = hm_listen_open(&spec, 4, &err);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		fprintf(stderr, "homemail oauth: no loopback listener (%s): paste the URL instead\n",
		        err != NULL ? err->message : g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*redirect_uri = g_strdup_printf("http://127.0.0.1:%u/", ntohs(sin.sin_port));
	return fd;
}

/* The request line of one connection to the listener ("GET /?code=..."),
 * read until deadline (monotonic µs); NULL when it sent nothing usable in
 * time. */
static char *
request_line(int fd, gint64 deadline)
{
	char buf[REQUEST_MAX + 1];
	gsize got = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *eol;

	for (;;) {
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		ssize_t n;

		if (got >= REQUEST_MAX || left <= 0 || poll(&pfd, 1, (int)MIN(left, 1000)) < 0)
			return NULL;
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, buf + got, REQUEST_MAX - got)) <= 0)
			return NULL;
		got += (gsize)n;
		buf[got] = '\0';
		if ((eol = strstr(buf, "\r\n")) != NULL) {
			*eol = '\0';
			return g_strdup(buf);
		}
	}
}

/* One browser visit to lfd: the code when it brought this sign-in's
 * answer, else NULL — with *err when the provider refused the sign-in,
 * without when it was not this sign-in's answer (no state or another
 * one, a favicon request, garbage, too slow): then the browser gets a
 * 400 and the wait goes on. */
static char *
browser_visit(int lfd, const HmOauth2Pkce *p, gint64 end, GError **err)
{
	static const char page[] =
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
		"homemail has the answer; see the terminal. You can close this window.\r\n";
	static const char other[] =
		"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Connection: close\r\n\r\nNot the answer homemail is waiting for.\r\n";
	g_autoptr(GError) e = NULL;
	g_autofree char *req = NULL;
	char *code = NULL, *sp;
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	req = request_line(fd, MIN(end, g_get_monotonic_time() + VISIT_TIMEOUT_S * G_USEC_PER_SEC));
	if (req != NULL && g_str_has_prefix(req, "GET /?") && (sp = strchr(req + 4, ' ')) != NULL) {
		*sp = '\0';
		code = hm_oauth2_redirect_code(req + 4, p->state, &e);
	}
	if (code == NULL && (e == NULL || g_error_matches(e, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_STATE))) {
		if (write(fd, other, sizeof(other) - 1) < 0)
			hm_debug("oauth: answer to the browser: %s", g_strerror(errno));
		close(fd);
		return NULL;
	}
	if (write(fd, page, sizeof(page) - 1) < 0)
		hm_debug("oauth: answer to the browser: %s", g_strerror(errno));
	close(fd);
	if (e != NULL)
		g_propagate_error(err, g_steal_pointer(&e));
	return code;
}

/* The first complete line in buf, taken out of it; NULL when there is none. */
static char *
take_line(GString *buf)
{
	char *nl = memchr(buf->str, '\n', buf->len);
	char *line;

	if (nl == NULL)
		return NULL;
	line = g_strndup(buf->str, (gsize)(nl - buf->str));
	g_string_erase(buf, 0, nl - buf->str + 1);
	return line;
}

/* Appends what stdin has to buf, with read(2): stdio would buffer past
 * what poll() saw. Sets *eof at its end. */
static void
read_pasted(GString *buf, gboolean *eof)
{
	char chunk[1024];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));

	if (n <= 0) {
		*eof = n == 0 || (errno != EINTR && errno != EAGAIN);
		return;
	}
	if (buf->len + (gsize)n > REQUEST_MAX)
		g_string_truncate(buf, 0);  /* no honest paste is that long */
	g_string_append_len(buf, chunk, n);
}

/* Waits for the code: from the browser at lfd, or pasted on stdin. */
static char *
wait_for_code(int lfd, const HmOauth2Pkce *p, GError **err)
{
	gint64 end = g_get_monotonic_time() + LOGIN_TIMEOUT_S * G_USEC_PER_SEC;
	g_autoptr(GString) typed = g_string_new(NULL);
	gboolean eof = FALSE;

	while (g_get_monotonic_time() < end && !(eof && lfd < 0 && typed->len == 0)) {
		struct pollfd pfd[2] = { { .fd = eof ? -1 : STDIN_FILENO, .events = POLLIN },
			                 { .fd = lfd, .events = POLLIN } };
		g_autofree char *text = take_line(typed);
		g_autoptr(GError) e = NULL;
		char *code;

		if (text == NULL && poll(pfd, 2, 1000) > 0) {
			if (pfd[0].revents & (POLLIN | POLLHUP)) {
				read_pasted(typed, &eof);
				if (eof && typed->len > 0)
					g_string_append_c(typed, '\n');
				text = take_line(typed);
			} else if (pfd[1].revents & POLLIN) {
				if ((code = browser_visit(lfd, p, end, err)) != NULL || *err != NULL)
					return code;
			}
		}
		if (text == NULL || g_strstrip(text)[0] == '\0')
			continue;
		if ((code = hm_oauth2_redirect_code(text, p->state, &e)) != NULL ||
		    !g_error_matches(e, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_STATE)) {
			g_propagate_error(err, g_steal_pointer(&e));
			return code;
		}
		/* A stale paste from an earlier try: the person can paste again. */
		fprintf(stderr, "homemail oauth: %s: paste the address this sign-in ended on\n",
		        e->message);
	}
	g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_REFUSED,
	            "no answer from the browser: start again");
	return NULL;
}

static int
login_code(const HmConfig *cfg, const HmOauthTarget *t, guint16 port)
{
	const HmOauth2Conf *c = &t->ep->oauth2;
	g_autoptr(GError) err = NULL;
	g_autofree char *redirect = NULL, *url = NULL, *code = NULL;
	HmOauth2Pkce p;
	HmOauth2Token tok = { 0 };
	int lfd, rc = 1;

	if (hm_oauth2_pkce_new(&p, &err) < 0) {
		fprintf(stderr, "homemail oauth: %s\n", err->message);
		return 1;
	}
	lfd = listen_loopback(port, &redirect);
	if (redirect == NULL)
		redirect = g_strdup("http://127.0.0.1/");
	url = hm_oauth2_authorize_url(c, redirect, &p);
	printf("To sign in %s %s as %s, open this URL in a browser:\n\n    %s\n\n"
	       "If the browser runs on this machine, homemail sees the answer by itself.\n"
	       "Otherwise the browser ends on a page that does not load: copy that page's\n"
	       "whole address (it begins %s) and paste it here.\n",
	       t->kind, t->name, t->ep->user, url, redirect);
	fflush(stdout);
	code = wait_for_code(lfd, &p, &err);
	if (lfd >= 0)
		close(lfd);
	if (code == NULL || hm_oauth2_code_exchange(c, code, redirect, &p, &tok, &err) < 0)
		fprintf(stderr, "homemail oauth: %s\n", err->message);
	else
		rc = save_token(cfg, t, &tok);
	hm_oauth2_token_clear(&tok);
	explicit_bzero(&p, sizeof(p));
	return rc;
}

int
hm_oauth_login(const HmConfig *cfg, const HmOauthTarget *t, guint16 port)
{
	if (hm_oauth2_conf_flow(&t->ep->oauth2) == HM_OAUTH2_FLOW_DEVICE)
		return login_device(cfg, t);
	return login_code(cfg, t, port);
}
