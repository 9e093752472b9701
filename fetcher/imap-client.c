#include <config.h>

#include <string.h>

#include "fetcher/connect.h"
#include "fetcher/imap-client.h"
#include "lib/error.h"
#include "lib/log.h"

int
hm_imap_fail(GError **err, HmFetchError code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err != NULL && *err == NULL)
		*err = g_error_new_valist(HM_FETCH_ERROR, code, fmt, ap);
	va_end(ap);
	return -1;
}

char *
hm_imap_quote(const char *text)
{
	return hm_imap_clean_text(text, HM_IMAP_MAX_QUOTE);
}

int
hm_imap_refused(GError **err, HmFetchError code, const char *what, const HmImapResponse *r)
{
	g_autofree char *t = hm_imap_quote(r->rest);

	return hm_imap_fail(err, code, "%s: %s", what, *t != '\0' ? t : r->keyword);
}

static void
trace(gboolean from_client, const char *line, gpointer data)
{
	hm_fetch_trace(data, from_client, line);
}

void
hm_imapc_init(HmImapClient *c, const HmFetchParams *p, HmConn *conn,
              HmImapDataFunc on_response, gpointer data)
{
	memset(c, 0, sizeof(*c));
	c->p = p;
	hm_pp_init(&c->pp, conn, "response");
	c->pp.trace = trace;
	c->pp.trace_data = (gpointer)p;
	c->next_tag = 1;
	c->rd.pp = &c->pp;
	hm_imap_limits_init(&c->rd.limits, HM_FETCH_MAX_MESSAGE);
	c->rd.timeout_ms = p->timeout_ms;
	c->on_response = on_response;
	c->on_response_data = data;
}

int
hm_imapc_send_line(HmImapClient *c, const char *line, const char *shown, GError **err)
{
	return hm_fetch_lib(hm_pp_send(&c->pp, line, shown, err), err);
}

int
hm_imapc_send(HmImapClient *c, guint *tag, const char *cmd, GError **err)
{
	g_autofree char *line = g_strdup_printf("A%04u %s", c->next_tag, cmd);

	*tag = c->next_tag++;
	return hm_imapc_send_line(c, line, NULL, err);
}

int
hm_imapc_flush(HmImapClient *c, GError **err)
{
	return hm_fetch_lib(hm_pp_flush(&c->pp, err), err);
}

/* Counts a response that does not complete a command against the
 * bounds; 0, or -1 with *err. */
static int
count_untagged(HmImapClient *c, const HmImapResponse *r, GError **err)
{
	c->untagged++;
	c->untagged_octets += r->text_octets + r->literal_octets;
	if (c->untagged > HM_IMAP_MAX_UNTAGGED)
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                    "server sent more than %u responses without completing the "
		                    "command", HM_IMAP_MAX_UNTAGGED);
	if (c->untagged_octets > HM_IMAP_MAX_UNTAGGED_OCTETS)
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                    "server sent more than %" G_GUINT64_FORMAT " octets of "
		                    "responses without completing the command",
		                    HM_IMAP_MAX_UNTAGGED_OCTETS);
	return 0;
}

int
hm_imapc_read(HmImapClient *c, int first_ms, HmImapResponse **r, GError **err)
{
	int rc = hm_imap_read(&c->rd, first_ms, r, err);

	if (rc == 0 && (*r)->kind == HM_IMAP_TAGGED) {
		c->untagged = 0;
		c->untagged_octets = 0;
	} else if (rc == 0 && count_untagged(c, *r, err) < 0) {
		g_clear_pointer(r, hm_imap_response_free);
		rc = -1;
	}
	if (rc < 0)
		c->pp.broken = TRUE;
	return rc;
}

int
hm_imapc_read_until(HmImapClient *c, guint tag, HmImapHandler *h, gboolean want_continue,
                    HmImapResponse **tagged, GError **err)
{
	char want[16];

	g_snprintf(want, sizeof(want), "A%04u", tag);
	for (;;) {
		g_autoptr(HmImapResponse) r = NULL;

		if (hm_imapc_read(c, -1, &r, err) < 0)
			return -1;
		if (r->kind == HM_IMAP_CONTINUE) {
			if (want_continue) {
				*tagged = g_steal_pointer(&r);
				return 1;
			}
			c->pp.broken = TRUE;
			return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
			                    "unexpected continuation request");
		}
		if (r->kind == HM_IMAP_TAGGED) {
			if (strcmp(r->tag, want) != 0) {
				g_autofree char *t = hm_imap_quote(r->tag);

				c->pp.broken = TRUE;
				return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
				                    "reply with unexpected tag %s", t);
			}
			if (c->on_response(r, c->on_response_data, err) < 0)
				return -1;
			*tagged = g_steal_pointer(&r);
			return 0;
		}
		if (c->on_response(r, c->on_response_data, err) < 0)
			return -1;
		if (h != NULL && h->fn != NULL && h->fn_err == NULL &&
		    r->status == HM_IMAP_DATA && h->fn(r, h->data, &h->fn_err) < 0) {
			hm_debug("%s: stopping after: %s", c->p->acct->name, h->fn_err->message);
			if (c->pp.broken) {
				g_propagate_error(err, g_error_copy(h->fn_err));
				return -1;
			}
		}
	}
}

int
hm_imapc_pipeline(HmImapClient *c, const HmImapPipeline *pl, HmImapHandler *h, GError **err)
{
	guint window = MAX(c->p->window, 1), sent = 0, done = 0, first = c->next_tag;
	GError *cmd_err = NULL;

	while (done < pl->cmds->len) {
		g_autoptr(HmImapResponse) t = NULL;

		while (sent < pl->cmds->len && sent < done + window && h->fn_err == NULL &&
		       cmd_err == NULL) {
			guint tag;

			if (hm_imapc_send(c, &tag, g_ptr_array_index(pl->cmds, sent), err) < 0)
				goto out;
			sent++;
		}
		if (done == sent)
			break;
		if (hm_imapc_flush(c, err) < 0 ||
		    hm_imapc_read_until(c, first + done, h, FALSE, &t, err) < 0)
			goto out;
		done++;
		if (t->status == HM_IMAP_NO && pl->tolerate_no) {
			g_autofree char *text = hm_imap_quote(t->rest);

			hm_info("%s: %s: %s", c->p->acct->name, pl->what, text);
		} else if (t->status != HM_IMAP_OK && cmd_err == NULL) {
			hm_imap_refused(&cmd_err, pl->code, pl->what, t);
		}
	}
	if (h->fn_err != NULL || cmd_err != NULL) {
		g_propagate_error(err, h->fn_err != NULL ? g_steal_pointer(&h->fn_err)
		                                         : g_steal_pointer(&cmd_err));
		g_clear_error(&cmd_err);
		return -1;
	}
	return 0;
out:
	/* The caller wants fn's failure, not what went wrong after it. */
	if (h->fn_err != NULL) {
		g_clear_error(err);
		g_propagate_error(err, g_steal_pointer(&h->fn_err));
	}
	g_clear_error(&cmd_err);
	return -1;
}

int
hm_imapc_simple(HmImapClient *c, const char *cmd, const char *what, HmFetchError code,
                HmImapHandler *h, GError **err)
{
	g_autoptr(GPtrArray) one = g_ptr_array_new();
	HmImapPipeline pl = { one, what, FALSE, code };
	HmImapHandler none = { NULL, NULL, NULL };

	g_ptr_array_add(one, (gpointer)cmd);
	return hm_imapc_pipeline(c, &pl, h != NULL ? h : &none, err);
}
