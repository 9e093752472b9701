/* The queue in words, for `homemail queue` and `homemail-sendmail -bp`
 * (mailq): read straight from the files, so it works while the relay is
 * down. */
#ifndef RELAY_QUEUE_SHOW_H
#define RELAY_QUEUE_SHOW_H

#include <stdio.h>

#include <glib.h>

typedef struct {
	guint count;      /* entries read */
	guint unreadable; /* entries that could not be read */
	guint64 octets;
	gint64 oldest;    /* arrival of the oldest entry; 0: none */
	gint64 next_try;  /* earliest next attempt of a waiting recipient;
	                   * 0: none scheduled */
	gboolean due_now; /* a waiting recipient has no time yet: the next
	                   * queue run tries it */
} RelayQueueSummary;

/* The queue in numbers, for `homemail status`. 0, or -1 with *err when
 * the queue cannot be read. */
int relay_queue_summary(const char *queue_dir, RelayQueueSummary *sum, GError **err);

/* One block per entry, oldest first, as Postfix's mailq: ID, size,
 * arrival, sender; then each recipient not yet final with why it waits
 * (the last reply, or "no smart host configured..."), and its next try.
 * A last line counts entries and octets. 0, or -1 with *err when the
 * queue cannot be read. */
int relay_queue_show_list(const char *queue_dir, FILE *out, GError **err);

/* Everything about entry id: envelope, each recipient's state, and the
 * message's header section. 0, or -1 with *err (no such entry). */
int relay_queue_show_entry(const char *queue_dir, const char *id, FILE *out, GError **err);

#endif
