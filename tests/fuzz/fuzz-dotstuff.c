/* Fuzzes dot-stuffing: the input, fed in chunks whose sizes come from the
 * input itself, must give the same wire form as when fed whole; the wire
 * form has no bare LF, unstuffs back to the input with LF made CRLF, and
 * agrees with the CRLF counter. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "lib/dotstuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input with every bare LF made CRLF and a CRLF added to an
 * unterminated last line: what the wire form must unstuff to. */
static GString *
expected_crlf(const char *in, gsize len)
{
	GString *s = g_string_sized_new(len * 2 + 2);

	for (gsize i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			g_string_append_c(s, '\r');
		g_string_append_c(s, in[i]);
	}
	if (len > 0 && in[len - 1] != '\n')
		g_string_append_len(s, "\r\n", 2);
	return s;
}

/* Removes the leading dot of each wire line and the final ".\r\n". */
static GString *
unstuff(const GString *wire)
{
	GString *s = g_string_sized_new(wire->len);
	gboolean at_start = TRUE;

	if (wire->len < 3 || memcmp(wire->str + wire->len - 3, ".\r\n", 3) != 0)
		__builtin_trap();
	for (gsize i = 0; i + 3 < wire->len; i++) {
		char c = wire->str[i];

		if (at_start && c == '.') {
			/* A wire line starting with '.' must be a stuffed one. */
			if (i + 1 >= wire->len || wire->str[i + 1] != '.')
				__builtin_trap();
			at_start = FALSE;
			continue;
		}
		g_string_append_c(s, c);
		at_start = c == '\n';
	}
	if (!at_start && wire->len > 3)
		__builtin_trap();
	return s;
}

static void
check_no_bare_lf(const GString *wire)
{
	for (gsize i = 0; i < wire->len; i++)
		if (wire->str[i] == '\n' && (i == 0 || wire->str[i - 1] != '\r'))
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first byte picks the chunk sizes; the rest is the message. */
	guint seed = size > 0 ? data[0] : 0;
	const char *msg = size > 0 ? (const char *)data + 1 : "";
	gsize len = size > 0 ? size - 1 : 0;
	g_autoptr(GString) whole = g_string_new(NULL);
	g_autoptr(GString) split = g_string_new(NULL);
	g_autoptr(GString) back = NULL;
	g_autoptr(GString) want = NULL;
	HmDotStuffer s;
	HmCrlfCounter c;

	hm_dotstuff_init(&s);
	hm_dotstuff_feed(&s, msg, len, whole);
	hm_dotstuff_finish(&s, whole);
	hm_dotstuff_init(&s);
	hm_crlf_counter_init(&c);
	for (gsize off = 0, i = 0; off < len; i++) {
		/* Zero-length feeds are part of the contract too. */
		gsize n = MIN(len - off, (gsize)((seed >> (i % 8)) % 7 + (i % 3)));

		hm_dotstuff_feed(&s, msg + off, n, split);
		hm_crlf_counter_feed(&c, msg + off, n);
		off += n;
	}
	hm_dotstuff_finish(&s, split);
	if (whole->len != split->len || memcmp(whole->str, split->str, whole->len) != 0)
		__builtin_trap();
	check_no_bare_lf(whole);
	back = unstuff(whole);
	want = expected_crlf(msg, len);
	if (back->len != want->len || memcmp(back->str, want->str, back->len) != 0)
		__builtin_trap();
	if (hm_crlf_counter_total(&c) != back->len)
		__builtin_trap();
	return 0;
}
