/* hm-smarthost-send: relay/smarthost.c from the command line, so the
 * integration tests can send through a real Postfix smart host without a
 * queue runner around it. Not installed.
 *
 *   hm-smarthost-send -c CONF --message FILE [--from SENDER] [--notify LIST]
 *       [--orcpt TYPE;ADDR] [--ret FULL|HDRS] [--envid ID] [--smtputf8]
 *       [--8bitmime] [--repeat N] RCPT...
 *
 * FILE holds the message as the queue keeps it (CRLF). It is sent N times
 * (default 1) through one RelaySmarthosts, so the connection is reused;
 * --notify/--orcpt apply to every recipient. Prints one line per
 * recipient and attempt: "RCPT code=N via=HOST dsn=0|1 reply=TEXT" (via=-
 * when no smart host was reached). -v traces the SMTP dialogue on stderr.
 * Exit status: 0, or 64 for usage and config errors. */
#include <config.h>

#include <stdio.h>

#include "conf/hmconfig.h"
#include "lib/log.h"
#include "relay/smarthost.h"

typedef struct {
	char *conf, *message, *from, *notify, *orcpt, *ret, *envid;
	gboolean smtputf8, eightbit, verbose;
	int repeat;
} Args;

static void
args_clear(Args *a)
{
	g_free(a->conf);
	g_free(a->message);
	g_free(a->from);
	g_free(a->notify);
	g_free(a->orcpt);
	g_free(a->ret);
	g_free(a->envid);
}

static int
usage(const char *why)
{
	fprintf(stderr, "hm-smarthost-send: %s\n", why);
	return 64;
}

static RelayQueueEntry *
make_entry(const Args *a, char **rcpts, GError **err)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	guint notify = 0;

	if (a->notify != NULL && relay_notify_parse(a->notify, &notify) < 0) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "bad --notify");
		return NULL;
	}
	if (a->ret != NULL && relay_ret_parse(a->ret, &e->ret) < 0) {
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "bad --ret");
		return NULL;
	}
	e->id = relay_queue_new_id();
	e->sender = g_strdup(a->from != NULL ? a->from : "");
	e->envid = g_strdup(a->envid);
	e->smtputf8 = a->smtputf8;
	e->body = a->eightbit ? RELAY_BODY_8BITMIME : RELAY_BODY_7BIT;
	for (guint i = 0; rcpts[i] != NULL; i++)
		relay_queue_entry_add_rcpt(e, rcpts[i], notify, a->orcpt);
	return g_steal_pointer(&e);
}

static void
send_all(RelaySmarthosts *sh, const RelayQueueEntry *e, GBytes *msg)
{
	guint n = e->rcpts->len;
	g_autofree guint *idx = g_new(guint, n);
	g_autofree RelayRcptResult *res = g_new0(RelayRcptResult, n);

	for (guint i = 0; i < n; i++)
		idx[i] = i;
	relay_smarthosts_send(sh, e, msg, idx, n, res);
	for (guint i = 0; i < n; i++) {
		printf("%s code=%u via=%s dsn=%d reply=%s\n", relay_queue_rcpt(e, i)->addr,
		       res[i].code, res[i].remote_mta != NULL ? res[i].remote_mta : "-",
		       res[i].dsn_passed ? 1 : 0, res[i].reply != NULL ? res[i].reply : "");
		relay_rcpt_result_clear(&res[i]);
	}
	fflush(stdout);
}

static int
run(Args *a, char **rcpts)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(RelayQueueEntry) e = NULL;
	g_autoptr(RelayRewriter) rw = NULL;
	g_autoptr(GMappedFile) mf = NULL;
	g_autoptr(GBytes) msg = NULL;
	HmConfig *cfg;
	RelaySmarthosts *sh;

	if (a->conf == NULL || a->message == NULL || rcpts == NULL || a->repeat < 1)
		return usage("usage: see --help");
	hm_log_init("hm-smarthost-send", FALSE, a->verbose ? 1 : 0);
	if ((cfg = hm_config_load(a->conf, NULL, NULL, &err)) == NULL)
		return usage(err->message);
	if ((e = make_entry(a, rcpts, &err)) == NULL ||
	    (mf = g_mapped_file_new(a->message, FALSE, &err)) == NULL) {
		hm_config_free(cfg);
		return usage(err->message);
	}
	msg = g_mapped_file_get_bytes(mf);
	rw = relay_rewriter_new(cfg, NULL);
	sh = relay_smarthosts_new(cfg, rw);
	for (int i = 0; i < a->repeat; i++)
		send_all(sh, e, msg);
	relay_smarthosts_free(sh);
	g_clear_pointer(&rw, relay_rewriter_free);
	hm_config_free(cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	Args a = { .repeat = 1 };
	g_auto(GStrv) rcpts = NULL;
	GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &a.conf, "config file", "FILE" },
		{ "message", 0, 0, G_OPTION_ARG_FILENAME, &a.message, "the message (CRLF)", "FILE" },
		{ "from", 0, 0, G_OPTION_ARG_STRING, &a.from, "envelope sender", "ADDR" },
		{ "notify", 0, 0, G_OPTION_ARG_STRING, &a.notify, "NOTIFY for every rcpt", "LIST" },
		{ "orcpt", 0, 0, G_OPTION_ARG_STRING, &a.orcpt, "ORCPT for every rcpt", "T;ADDR" },
		{ "ret", 0, 0, G_OPTION_ARG_STRING, &a.ret, "RET", "FULL|HDRS" },
		{ "envid", 0, 0, G_OPTION_ARG_STRING, &a.envid, "ENVID", "ID" },
		{ "smtputf8", 0, 0, G_OPTION_ARG_NONE, &a.smtputf8, "the message asked for SMTPUTF8",
		  NULL },
		{ "8bitmime", 0, 0, G_OPTION_ARG_NONE, &a.eightbit, "BODY=8BITMIME was given", NULL },
		{ "repeat", 0, 0, G_OPTION_ARG_INT, &a.repeat, "send it N times", "N" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &a.verbose, "trace the dialogue", NULL },
		{ G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rcpts, NULL, "RCPT..." },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("RCPT... - send through a smart host");
	g_autoptr(GError) err = NULL;
	int rc;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		args_clear(&a);
		return usage(err->message);
	}
	rc = run(&a, rcpts);
	args_clear(&a);
	return rc;
}
