/* Fuzzes the IMAP response parser, literals included: each response it
 * accepts stays within the limits it was given, and every argument the
 * client quotes parses back to itself. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "fetcher/imap-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits, so the fuzzer reaches every bound quickly. */
static const HmImapLimits lim = {
	.max_text = 4096, .max_literal = 512, .max_literals = 1024, .max_depth = 8,
};

/* depth: the lists around toks. The parser's bound counts lists alone,
 * in the arguments as in a response code. */
static void
check_tokens(const GPtrArray *toks, guint depth)
{
	if (depth > lim.max_depth)
		__builtin_trap();
	for (guint i = 0; i < toks->len; i++) {
		const HmImapToken *t = g_ptr_array_index(toks, i);

		if (t->type == HM_IMAP_LIST) {
			check_tokens(t->list, depth + 1);
		} else if (t->type == HM_IMAP_STRING) {
			if (t->literal && t->len > lim.max_literal)
				__builtin_trap();
		} else if (t->type == HM_IMAP_ATOM || t->type == HM_IMAP_NUMBER) {
			if (t->len == 0 || strlen(t->str) != t->len)
				__builtin_trap();
		}
	}
}

static void
check_response(const HmImapResponse *r)
{
	if (r->literal_octets > lim.max_literals)
		__builtin_trap();
	if (r->kind == HM_IMAP_TAGGED && (r->tag == NULL || r->status == HM_IMAP_DATA))
		__builtin_trap();
	if (r->kind != HM_IMAP_CONTINUE && r->keyword == NULL)
		__builtin_trap();
	check_tokens(r->code_args, 0);
	check_tokens(r->args, 0);
	(void)hm_imap_fetch_att(r, "UID");
	(void)hm_imap_fetch_att_prefix(r, "BODY[");
}

/* A quoted argument must parse back to the same string. */
static void
check_roundtrip(const char *s)
{
	g_autoptr(GString) line = g_string_new("* X ");
	g_autoptr(HmImapResponse) r = NULL;
	HmImapLimits big = { 1 << 20, 1 << 20, 1 << 20, 8 };
	const HmImapToken *t;
	gsize used;

	if (hm_imap_arg_form(s, TRUE) == HM_IMAP_ARG_LITERAL)
		return;
	hm_imap_append_arg(line, s, hm_imap_arg_form(s, FALSE));
	g_string_append(line, "\r\n");
	if (hm_imap_parse_buffer(line->str, line->len, &big, &used, &r, NULL) != 0 ||
	    r->args->len != 1)
		__builtin_trap();
	t = g_ptr_array_index(r->args, 0);
	if (t->type != HM_IMAP_STRING || strcmp(t->str, s) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	gsize left = size;
	g_autofree char *text = g_strndup(p, MIN(size, 2000));
	g_autofree char *clean = hm_imap_clean_text(text, 200);

	if (!g_utf8_validate(clean, -1, NULL))
		__builtin_trap();
	check_roundtrip(text);
	for (int i = 0; i < 64 && left > 0; i++) {
		g_autoptr(HmImapResponse) r = NULL;
		g_autoptr(GError) err = NULL;
		gsize used = 0;
		int rc = hm_imap_parse_buffer(p, left, &lim, &used, &r, &err);

		if (rc != 0) {
			if ((rc == -1) != (err != NULL) || r != NULL)
				__builtin_trap();
			break;
		}
		if (used == 0 || used > left)
			__builtin_trap();
		check_response(r);
		p += used;
		left -= used;
	}
	return 0;
}
