/* Fuzzes the queue's envelope and state parsers (relay/queue-format.c):
 * they read files that a crash may have cut short and a person may have
 * edited. Whatever parses must format and parse back to the same. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(RelayQueueEntry) e = relay_queue_entry_new();
	g_autoptr(RelayQueueEntry) back = relay_queue_entry_new();
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) again = g_string_new(NULL);
	gsize hl = 0, hl2 = 0;

	if (relay_queue_envelope_parse((const char *)data, size, e, &hl, NULL) < 0)
		return 0;
	if (hl > size)
		abort();
	/* The rest of the input as a state file for this envelope. */
	relay_queue_state_parse((const char *)data + hl, size - hl, e, NULL);
	relay_queue_envelope_format(e, text);
	if (relay_queue_envelope_parse(text->str, text->len, back, &hl2, NULL) < 0 || hl2 != text->len)
		abort();
	relay_queue_envelope_format(back, again);
	if (strcmp(text->str, again->str) != 0)
		abort();
	return 0;
}
