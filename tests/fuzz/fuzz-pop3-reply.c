/* Fuzzes the POP3 reply parsers. The input is a server transcript, one
 * line per LF: the first is parsed as a status line, the second as STAT,
 * every line as a CAPA line and as LIST and UIDL lines of one listing.
 * Whatever is accepted must be in range: numbers 1..count, UIDs 1-70
 * octets of 0x21-0x7E and unique, every message listed once. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "fetcher/pop3-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_uid(const char *uid, gsize len)
{
	if (len < 1 || len > HM_POP3_MAX_UID)
		__builtin_trap();
	for (gsize i = 0; i < len; i++)
		if ((guchar)uid[i] < 0x21 || (guchar)uid[i] > 0x7e)
			__builtin_trap();
}

static void
check_line(const char *line, guint32 count, HmPop3Capa *capa)
{
	g_autofree char *q = hm_pop3_quote(line);
	const char *why = NULL, *uid, *text;
	guint32 num;
	guint64 size;
	gsize len;
	gboolean ok;

	if (strlen(q) > HM_POP3_QUOTE_MAX + 3)
		__builtin_trap();
	for (const char *p = q; *p != '\0'; p++)
		if ((guchar)*p < 0x20 || (guchar)*p >= 0x7f)
			__builtin_trap();
	if (hm_pop3_status_parse(line, &ok, &text, &why) == 0) {
		if (strncmp(line, ok ? "+OK" : "-ERR", ok ? 3 : 4) != 0 || text < line ||
		    text > line + strlen(line))
			__builtin_trap();
	} else if (why == NULL) {
		__builtin_trap();
	}
	if (hm_pop3_capa_add(capa, line, &why) < 0 && capa->lines <= HM_POP3_MAX_CAPA_LINES)
		__builtin_trap();
	if (hm_pop3_scan_parse(line, count, &num, &size, &why) == 0 &&
	    (num < 1 || num > count || size > G_MAXINT64))
		__builtin_trap();
	if (hm_pop3_uidl_parse(line, count, &num, &uid, &len, &why) == 0) {
		if (num < 1 || num > count)
			__builtin_trap();
		check_uid(uid, len);
	}
}

/* After a successful finish: every message named once by each listing;
 * a message has a UID unless it is untracked, and its UID is valid and no
 * other message's. */
static void
check_listing(HmPop3Listing *l)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GPtrArray) problems = hm_pop3_listing_problems(l);
	guint untracked = 0;

	if (l->n_scan != l->count || l->n_uidl != l->count)
		__builtin_trap();
	for (guint32 num = 1; num <= l->count; num++) {
		gboolean bad = hm_pop3_listing_untracked(l, num) != NULL;
		char *uid = hm_pop3_listing_steal_uid(l, num);

		if ((uid == NULL) != bad)
			__builtin_trap();
		untracked += bad;
		if (uid == NULL)
			continue;
		check_uid(uid, strlen(uid));
		if (!g_hash_table_add(seen, uid))
			__builtin_trap();
	}
	/* Each problem names at least one untracked message. */
	if (problems->len > untracked || (untracked > 0 && problems->len == 0))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = g_strv_length(lines);
	guint32 count = MIN(n, 64);
	guint64 total;
	const char *why = NULL;
	HmPop3Capa capa;
	HmPop3Listing l;

	if (n >= 2 && hm_pop3_stat_parse(lines[1], &count, &total, &why) == 0) {
		if (count > HM_POP3_MAX_MESSAGES || total > G_MAXINT64)
			__builtin_trap();
		count = MIN(count, 64);  /* a bounded listing for the cross-checks */
	}
	hm_pop3_capa_clear(&capa);
	hm_pop3_listing_init(&l, count);
	for (guint i = 0; i < n; i++) {
		g_autoptr(GError) e1 = NULL;
		g_autoptr(GError) e2 = NULL;

		check_line(lines[i], count, &capa);
		if (hm_pop3_listing_add_uidl(&l, lines[i], &e1) < 0 && e1 == NULL)
			__builtin_trap();
		if (hm_pop3_listing_add_scan(&l, lines[i], &e2) < 0 && e2 == NULL)
			__builtin_trap();
	}
	if (hm_pop3_listing_finish(&l, TRUE, NULL) == 0)
		check_listing(&l);
	hm_pop3_listing_clear(&l);
	return 0;
}
