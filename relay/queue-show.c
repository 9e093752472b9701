#include <config.h>

#include <string.h>
#include <time.h>

#include "lib/error.h"
#include "lib/header.h"
#include "lib/printable.h"
#include "relay/limits.h"
#include "relay/queue-show.h"
#include "relay/queue.h"

static const char *const state_words[] = { "waiting", "delivered", "failed", "expired" };

/* Octets of a message read to show its header section: at most as much
 * as the relay scans of one (relay/limits.h), never the whole of a large
 * one; a first read of SHOW_HEADER_FIRST holds most header sections. */
#define SHOW_HEADER_MAX RELAY_HEADER_SCAN_MAX
#define SHOW_HEADER_FIRST (16 * 1024)

/* "Fri Dec  4 17:55:28" in local time, as mailq shows it: ASCII in any
 * locale. Not g_date_time_format(): its %e pads with U+2007 FIGURE SPACE
 * (garbage in a C locale), and its %a and %b follow LC_TIME. */
static void
put_time(FILE *out, gint64 t)
{
	static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);

	if (dt == NULL) {
		fputs("?", out);
		return;
	}
	/* g_date_time_get_day_of_week(): 1 is Monday. */
	fprintf(out, "%s %s %2d %02d:%02d:%02d", days[g_date_time_get_day_of_week(dt) - 1],
	        months[g_date_time_get_month(dt) - 1], g_date_time_get_day_of_month(dt),
	        g_date_time_get_hour(dt), g_date_time_get_minute(dt), g_date_time_get_second(dt));
}

/* before, text, after: text came from a peer or a queue file (an
 * address, the smart host's reply, the client's HELO, an error quoting
 * the file) and may reach a terminal, where it is shown, never obeyed
 * (lib/printable.h). */
static void
put_text(FILE *out, const char *before, const char *text, const char *after)
{
	g_autofree char *shown = hm_printable(text, -1);

	fputs(before, out);
	fputs(shown, out);
	fputs(after, out);
}

/* The column of mailq's recipient lines. */
#define RCPT_INDENT "                                               "

/* The header section data[0..end), line by line: a line break in it is
 * ours, CRs and other controls are shown as '?' and a tab of a folded
 * line as a space. */
static void
put_header_section(FILE *out, const char *data, gsize end)
{
	for (gsize pos = 0; pos < end;) {
		const char *nl = memchr(data + pos, '\n', end - pos);
		gsize stop = nl != NULL ? (gsize)(nl - data) : end;
		gsize n = stop - pos;
		g_autofree char *line = g_memdup2(data + pos, n);
		g_autofree char *shown = NULL;

		if (n > 0 && line[n - 1] == '\r')
			n--;
		for (gsize i = 0; i < n; i++)
			if (line[i] == '\t')
				line[i] = ' ';
		shown = hm_printable(line, (gssize)n);
		fprintf(out, "%s\n", shown);
		pos = stop + 1;
	}
}

int
relay_queue_show_list(const char *queue_dir, FILE *out, GError **err)
{
	g_autoptr(GPtrArray) ids = relay_queue_list(queue_dir, err);
	guint64 total = 0;
	guint n = 0;

	if (ids == NULL)
		return -1;
	if (ids->len == 0) {
		fputs("Mail queue is empty\n", out);
		return 0;
	}
	fputs("-Queue ID-       --Size-- ----Arrival Time---- -Sender/Recipient-------\n", out);
	for (guint i = 0; i < ids->len; i++) {
		g_autoptr(GError) lerr = NULL;
		g_autoptr(RelayQueueEntry) e = relay_queue_load(queue_dir, ids->pdata[i], &lerr);

		if (e == NULL) {
			fputs((char *)ids->pdata[i], out);
			put_text(out, " (unreadable: ", lerr->message, ")\n\n");
			continue;
		}
		n++;
		total += e->size;
		fprintf(out, "%s %8" G_GUINT64_FORMAT " ", e->id, e->size);
		put_time(out, e->arrival);
		put_text(out, "  ", e->sender[0] != '\0' ? e->sender : "MAILER-DAEMON", "\n");
		for (guint k = 0; k < e->rcpts->len; k++) {
			const RelayQueueRcpt *r = relay_queue_rcpt(e, k);

			if (r->state != RELAY_RCPT_PENDING)
				continue;
			if (r->reply != NULL)
				put_text(out, RCPT_INDENT "(", r->reply, ")\n");
			put_text(out, RCPT_INDENT, r->addr, "\n");
		}
		fputc('\n', out);
	}
	fprintf(out, "-- %" G_GUINT64_FORMAT " Kbytes in %u Request%s.\n", (total + 1023) / 1024, n,
	        n == 1 ? "" : "s");
	return 0;
}

static void
summary_add(RelayQueueSummary *sum, const RelayQueueEntry *e)
{
	sum->count++;
	sum->octets += e->size;
	if (sum->oldest == 0 || e->arrival < sum->oldest)
		sum->oldest = e->arrival;
	for (guint k = 0; k < e->rcpts->len; k++) {
		const RelayQueueRcpt *r = relay_queue_rcpt(e, k);

		if (r->state != RELAY_RCPT_PENDING)
			continue;
		if (r->next_try == 0)
			sum->due_now = TRUE;
		else if (sum->next_try == 0 || r->next_try < sum->next_try)
			sum->next_try = r->next_try;
	}
}

int
relay_queue_summary(const char *queue_dir, RelayQueueSummary *sum, GError **err)
{
	g_autoptr(GPtrArray) ids = relay_queue_list(queue_dir, err);

	memset(sum, 0, sizeof(*sum));
	if (ids == NULL)
		return -1;
	for (guint i = 0; i < ids->len; i++) {
		g_autoptr(RelayQueueEntry) e = relay_queue_load(queue_dir, ids->pdata[i], NULL);

		if (e != NULL)
			summary_add(sum, e);
		else
			sum->unreadable++;
	}
	return 0;
}

/* The start of e's message that holds its header section, up to
 * SHOW_HEADER_MAX octets; NULL with *err. */
static GBytes *
header_section(const char *queue_dir, const RelayQueueEntry *e, GError **err)
{
	for (gsize max = SHOW_HEADER_FIRST;; max *= 4) {
		GBytes *head = relay_queue_message_head(queue_dir, e, MIN(max, SHOW_HEADER_MAX),
		                                        err);
		gsize len;
		const char *data = head != NULL ? g_bytes_get_data(head, &len) : NULL;

		if (head == NULL || hm_header_section_end(data, len) < len || len == e->size ||
		    len >= SHOW_HEADER_MAX)
			return head;
		g_bytes_unref(head);
	}
}

int
relay_queue_show_entry(const char *queue_dir, const char *id, FILE *out, GError **err)
{
	g_autoptr(RelayQueueEntry) e = NULL;
	g_autoptr(GBytes) msg = NULL;
	const char *data;
	gsize len, end;

	if (relay_queue_entry_check(queue_dir, id, err) < 0 ||
	    (e = relay_queue_load(queue_dir, id, err)) == NULL ||
	    (msg = header_section(queue_dir, e, err)) == NULL)
		return -1;
	fprintf(out, "id: %s\narrival: ", e->id);
	put_time(out, e->arrival);
	put_text(out, "\nsender: <", e->sender, ">\n");
	fprintf(out, "size: %" G_GUINT64_FORMAT "\n", e->size);
	if (e->client != NULL) {
		put_text(out, "client: ", e->client, "");
		if (e->helo != NULL)
			put_text(out, " helo=", e->helo, "");
		fputc('\n', out);
	}
	if (e->auth_user != NULL)
		put_text(out, "user: ", e->auth_user, "\n");
	for (guint k = 0; k < e->rcpts->len; k++) {
		const RelayQueueRcpt *r = relay_queue_rcpt(e, k);

		put_text(out, "recipient: <", r->addr, ">");
		fprintf(out, " %s, %u attempt%s", state_words[r->state], r->attempts,
		        r->attempts == 1 ? "" : "s");
		if (r->state == RELAY_RCPT_PENDING && r->next_try > 0) {
			fputs(", next ", out);
			put_time(out, r->next_try);
		}
		if (r->reply != NULL)
			put_text(out, "\n  last: ", r->reply, "");
		fputc('\n', out);
	}
	data = g_bytes_get_data(msg, &len);
	fputs("\n", out);
	end = hm_header_section_end(data, len);
	put_header_section(out, data, end);
	if (end == len && len < e->size)
		fprintf(out,
		        "\n[header section longer than %" G_GSIZE_FORMAT " octets: cut here]\n",
		        len);
	return 0;
}
