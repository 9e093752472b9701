#include <config.h>

#include <string.h>
#include <time.h>

#include "lib/error.h"
#include "lib/header.h"
#include "relay/limits.h"
#include "relay/queue-show.h"
#include "relay/queue.h"

static const char *const state_words[] = { "waiting", "delivered", "failed", "expired" };

/* Octets of a message read to show its header section: at most as much
 * as the relay scans of one (relay/limits.h), never the whole of a large
 * one; a first read of SHOW_HEADER_FIRST holds most header sections. */
#define SHOW_HEADER_MAX RELAY_HEADER_SCAN_MAX
#define SHOW_HEADER_FIRST (16 * 1024)

/* "Fri Dec  4 17:55:28" in local time, as mailq shows it. */
static void
put_time(FILE *out, gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(t);
	g_autofree char *s = dt != NULL ? g_date_time_format(dt, "%a %b %e %H:%M:%S") : NULL;

	fputs(s != NULL ? s : "?", out);
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
			fprintf(out, "%s (unreadable: %s)\n\n", (char *)ids->pdata[i], lerr->message);
			continue;
		}
		n++;
		total += e->size;
		fprintf(out, "%s %8" G_GUINT64_FORMAT " ", e->id, e->size);
		put_time(out, e->arrival);
		fprintf(out, "  %s\n", e->sender[0] != '\0' ? e->sender : "MAILER-DAEMON");
		for (guint k = 0; k < e->rcpts->len; k++) {
			const RelayQueueRcpt *r = relay_queue_rcpt(e, k);

			if (r->state != RELAY_RCPT_PENDING)
				continue;
			if (r->reply != NULL)
				fprintf(out, "%47s(%s)\n", "", r->reply);
			fprintf(out, "%47s%s\n", "", r->addr);
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
	fprintf(out, "\nsender: <%s>\nsize: %" G_GUINT64_FORMAT "\n", e->sender, e->size);
	if (e->client != NULL)
		fprintf(out, "client: %s%s%s\n", e->client, e->helo ? " helo=" : "", e->helo ? e->helo : "");
	if (e->auth_user != NULL)
		fprintf(out, "user: %s\n", e->auth_user);
	for (guint k = 0; k < e->rcpts->len; k++) {
		const RelayQueueRcpt *r = relay_queue_rcpt(e, k);

		fprintf(out, "recipient: <%s> %s, %u attempt%s", r->addr, state_words[r->state],
		        r->attempts, r->attempts == 1 ? "" : "s");
		if (r->state == RELAY_RCPT_PENDING && r->next_try > 0) {
			fputs(", next ", out);
			put_time(out, r->next_try);
		}
		if (r->reply != NULL)
			fprintf(out, "\n  last: %s", r->reply);
		fputc('\n', out);
	}
	data = g_bytes_get_data(msg, &len);
	fputs("\n", out);
	end = hm_header_section_end(data, len);
	fwrite(data, 1, end, out);
	if (end == len && len < e->size)
		fprintf(out,
		        "\n[header section longer than %" G_GSIZE_FORMAT " octets: cut here]\n",
		        len);
	return 0;
}
