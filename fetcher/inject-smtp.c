/* The smtp and lmtp injectors: lib/smtpc over TCP (fetcher.deliver
 * "smtp:HOST:PORT", "lmtp:HOST:PORT") or a UNIX socket ("lmtp:/path").
 * One connection carries the whole run; a lost one is replaced on the
 * next send. */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fetcher/inject-private.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/smtpc.h"

/* Connect and each command: the local relay or LMTP server answers at
 * once, so a minute means it is stuck. */
#define INJECT_TIMEOUT_MS (60 * 1000)
/* The reply to the final ".": the server may fsync a queue file or deliver
 * first (RFC 5321 4.5.3.2.6 allows 10 minutes). */
#define INJECT_FINAL_TIMEOUT_MS (10 * 60 * 1000)

typedef struct {
	HmSmtpClient *smtp;   /* NULL when there is no usable session */
	guint queued;         /* messages sent with BDAT, not yet settled */
} SmtpInjector;

static int
connect_unix(const char *path, GError **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	gsize len = strlen(path);
	int fd;

	if (len >= sizeof(sa.sun_path)) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "connect: socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hm_set_error_errno(err, errno, "socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		hm_set_error_errno(err, errno, "connect");
		close(fd);
		return -1;
	}
	return fd;
}

static int
connect_fd(const HmFetcherConf *f, GError **err)
{
	GError *cerr = NULL;
	const char *why;
	int fd;

	if (f->deliver_socket != NULL)
		return connect_unix(f->deliver_socket, err);
	fd = hm_connect_tcp(f->deliver_host, f->deliver_port, NULL, INJECT_TIMEOUT_MS, &cerr);
	if (fd >= 0)
		return fd;
	/* "connect to HOST port N: why": the description names HOST:PORT. */
	why = strstr(cerr->message, ": ");
	g_set_error(err, cerr->domain, cerr->code, "connect: %s", why != NULL ? why + 2 : cerr->message);
	g_error_free(cerr);
	return -1;
}

static void
trace(gboolean from_client, const char *line, gpointer data)
{
	const HmInjector *inj = data;

	hm_log_trace(from_client, line, "inject %s", inj->describe);
}

/* Connects, reads the greeting and says EHLO/LHLO with our host name. */
static int
session_open(HmInjector *inj, GError **err)
{
	SmtpInjector *s = inj->priv;
	gboolean lmtp = inj->cfg->fetcher.deliver_kind == HM_DELIVER_LMTP;
	int fd = connect_fd(&inj->cfg->fetcher, err);

	if (fd < 0)
		return -1;
	s->smtp = hm_smtpc_new(hm_conn_new(fd, INJECT_TIMEOUT_MS),
	                       lmtp ? HM_SMTP_PROTO_LMTP : HM_SMTP_PROTO_SMTP, inj->cfg->hostname);
	hm_smtpc_set_timeouts(s->smtp, INJECT_TIMEOUT_MS, INJECT_FINAL_TIMEOUT_MS);
	hm_smtpc_set_trace(s->smtp, trace, inj);
	if (hm_smtpc_start(s->smtp, err) < 0) {
		hm_smtpc_free(s->smtp);
		s->smtp = NULL;
		return -1;
	}
	return 0;
}

static int
smtp_open(HmInjector *inj, GError **err)
{
	inj->priv = g_new0(SmtpInjector, 1);
	if (session_open(inj, err) < 0) {
		g_free(inj->priv);
		inj->priv = NULL;
		return -1;
	}
	return 0;
}

static HmInjectResult
classify(const GError *e)
{
	if (e->domain == HM_SMTP_ERROR)
		return e->code >= 500 ? HM_INJECT_PERM : HM_INJECT_TEMP;
	/* An address the protocol cannot carry is the message's fault. */
	if (g_error_matches(e, HM_ERROR, HM_ERROR_PARSE))
		return HM_INJECT_PERM;
	return HM_INJECT_TEMP;
}

/* A usable session for the next message: an idle one that went away is
 * replaced (never while queued messages await their replies, which are
 * what may be waiting to be read). -1 with *err when none can be had. */
static int
ready(HmInjector *inj, GError **err)
{
	SmtpInjector *s = inj->priv;

	if (s->smtp != NULL && s->queued == 0 && hm_smtpc_idle_gone(s->smtp)) {
		hm_debug("inject %s: connection went away while idle; reconnecting", inj->describe);
		hm_smtpc_free(s->smtp);
		s->smtp = NULL;
	}
	if (s->smtp == NULL && session_open(inj, err) < 0) {
		g_prefix_error(err, "relay %s: ", inj->describe);
		return -1;
	}
	return 0;
}

/* A bare user name goes out as user@hostname. */
static char *
rcpt_address(const HmInjector *inj, const char *rcpt)
{
	return strchr(rcpt, '@') != NULL ? g_strdup(rcpt)
	                                 : g_strdup_printf("%s@%s", rcpt, inj->cfg->hostname);
}

static HmInjectResult
smtp_send(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
          gsize head_len, const char *msg, gsize len, GError **err)
{
	SmtpInjector *s = inj->priv;
	g_autofree char *addr = NULL;
	GError *e = NULL;
	HmInjectResult res;

	if (ready(inj, err) < 0)
		return HM_INJECT_TEMP;
	addr = rcpt_address(inj, rcpt);
	if (hm_smtpc_send_one(s->smtp, sender, addr, head, head_len, msg, len, &e) == 0)
		res = HM_INJECT_OK;
	else
		res = classify(e);
	if (hm_smtpc_broken(s->smtp)) {
		hm_smtpc_free(s->smtp);
		s->smtp = NULL;
	}
	/* A reply speaks for itself; a local cause needs to say where. */
	if (e != NULL && e->domain != HM_SMTP_ERROR)
		g_prefix_error(&e, "relay %s: ", inj->describe);
	if (e != NULL)
		g_propagate_error(err, e);
	return res;
}

static gboolean
smtp_can_queue(HmInjector *inj)
{
	SmtpInjector *s = inj->priv;

	if (ready(inj, NULL) < 0)
		return FALSE;
	return hm_smtpc_can_chunk(s->smtp);
}

static HmInjectResult
smtp_queue(HmInjector *inj, const char *sender, const char *rcpt, const char *head,
           gsize head_len, const char *msg, gsize len, GError **err)
{
	SmtpInjector *s = inj->priv;
	g_autofree char *addr = NULL;
	GError *e = NULL;

	if (ready(inj, err) < 0)
		return HM_INJECT_TEMP;
	addr = rcpt_address(inj, rcpt);
	if (hm_smtpc_send_chunked(s->smtp, sender, addr, head, head_len, msg, len, &e) == 0) {
		s->queued++;
		return HM_INJECT_OK;
	}
	g_prefix_error(&e, "relay %s: ", inj->describe);
	g_propagate_error(err, e);
	/* An unusable address sent nothing; a broken session is settled by
	 * the collect that follows, which finds it broken. */
	return g_error_matches(*err, HM_ERROR, HM_ERROR_PARSE) ? HM_INJECT_PERM : HM_INJECT_TEMP;
}

static void
smtp_collect(HmInjector *inj, HmInjectResult *results, GError **errors, guint n)
{
	SmtpInjector *s = inj->priv;
	g_autofree HmSmtpRcptStatus *st = g_new0(HmSmtpRcptStatus, n);
	g_autoptr(GError) err = NULL;

	if (s->smtp == NULL || s->queued < n ||
	    hm_smtpc_collect(s->smtp, st, n, &err) < 0) {
		if (err == NULL)
			g_set_error(&err, HM_ERROR, HM_ERROR_IO, "session lost");
		g_prefix_error(&err, "relay %s: ", inj->describe);
	}
	for (guint i = 0; i < n; i++) {
		errors[i] = NULL;
		if (st[i].code / 100 == 2) {
			results[i] = HM_INJECT_OK;
		} else if (st[i].code != 0) {
			results[i] = st[i].code >= 500 ? HM_INJECT_PERM : HM_INJECT_TEMP;
			errors[i] = g_error_new(HM_SMTP_ERROR, (gint)st[i].code, "%s", st[i].reply);
		} else {
			/* No reply: the session broke before it; not held. */
			results[i] = HM_INJECT_TEMP;
			errors[i] = g_error_copy(err);
		}
	}
	hm_smtp_rcpt_status_clear(st, n);
	s->queued -= MIN(s->queued, n);
	/* The transactions sent after these have no session to answer them
	 * any more: their collect finds none and says so. */
	if (s->smtp != NULL && hm_smtpc_broken(s->smtp)) {
		hm_smtpc_free(s->smtp);
		s->smtp = NULL;
		s->queued = 0;
	}
}

static void
smtp_close(HmInjector *inj)
{
	SmtpInjector *s = inj->priv;

	if (s == NULL)
		return;
	if (s->smtp != NULL) {
		hm_smtpc_quit(s->smtp);
		hm_smtpc_free(s->smtp);
	}
	g_free(s);
	inj->priv = NULL;
}

const HmInjectorOps hm_injector_smtp = {
	.name = "smtp",
	.open = smtp_open,
	.send = smtp_send,
	.can_queue = smtp_can_queue,
	.queue = smtp_queue,
	.collect = smtp_collect,
	.close = smtp_close,
};

const HmInjectorOps hm_injector_lmtp = {
	.name = "lmtp",
	.open = smtp_open,
	.send = smtp_send,
	.close = smtp_close,
};
