/* The queue in words, for `homemail queue` and `homemail-sendmail -bp`
 * (mailq): read straight from the files, so it works while the relay is
 * down. */
#ifndef RELAY_QUEUE_SHOW_H
#define RELAY_QUEUE_SHOW_H

#include <stdio.h>

#include <glib.h>

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
