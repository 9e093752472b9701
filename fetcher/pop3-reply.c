#include <config.h>

#include <string.h>

#include "fetcher/fetch.h"
#include "fetcher/pop3-reply.h"
#include "lib/parse.h"

enum { SEEN_SCAN = 1, SEEN_UIDL = 2 };

/* The reason of every message whose UID another one has too. */
static const char uid_shared[] = "UID shared with another message";

int
hm_pop3_status_parse(const char *line, gboolean *ok, const char **text, const char **why)
{
	gsize n;

	if (strncmp(line, "+OK", 3) == 0) {
		*ok = TRUE;
		n = 3;
	} else if (strncmp(line, "-ERR", 4) == 0) {
		*ok = FALSE;
		n = 4;
	} else {
		*why = "no +OK or -ERR";
		return -1;
	}
	if (line[n] != '\0' && line[n] != ' ') {
		*why = "no +OK or -ERR";
		return -1;
	}
	*text = line[n] == ' ' ? line + n + 1 : line + n;
	return 0;
}

gboolean
hm_pop3_is_continuation(const char *line)
{
	return line[0] == '+' && (line[1] == '\0' || line[1] == ' ');
}

char *
hm_pop3_quote(const char *text)
{
	GString *out = g_string_new(NULL);

	for (const guchar *p = (const guchar *)text; *p != '\0'; p++) {
		if (out->len >= HM_POP3_QUOTE_MAX) {
			g_string_append(out, "...");
			break;
		}
		if (*p < 0x20 || *p == 0x7f)
			continue;
		g_string_append_c(out, *p < 0x80 ? (char)*p : '?');
	}
	return g_string_free(out, FALSE);
}

void
hm_pop3_capa_clear(HmPop3Capa *c)
{
	memset(c, 0, sizeof(*c));
}

void
hm_pop3_capa_assume(HmPop3Capa *c)
{
	hm_pop3_capa_clear(c);
	c->user = TRUE;
	c->uidl = TRUE;
}

/* The mechanisms after "SASL", separated by spaces. */
static void
capa_sasl(HmPop3Capa *c, const char *mechs)
{
	g_auto(GStrv) list = g_strsplit(mechs, " ", -1);

	for (guint i = 0; list[i] != NULL; i++) {
		if (list[i][0] == '\0')
			continue;
		if (c->n_sasl < HM_POP3_CAPA_MECHS && strlen(list[i]) < sizeof(c->sasl[0])) {
			char *up = g_ascii_strup(list[i], -1);

			g_strlcpy(c->sasl[c->n_sasl], up, sizeof(c->sasl[0]));
			g_free(up);
		}
		c->n_sasl++;
		if (g_ascii_strcasecmp(list[i], "PLAIN") == 0)
			c->sasl_plain = TRUE;
	}
}

int
hm_pop3_capa_add(HmPop3Capa *c, const char *line, const char **why)
{
	gsize tag = strcspn(line, " ");

	if (++c->lines > HM_POP3_MAX_CAPA_LINES) {
		*why = "more than " G_STRINGIFY(HM_POP3_MAX_CAPA_LINES) " lines";
		return -1;
	}
	if (tag == 4 && g_ascii_strncasecmp(line, "SASL", 4) == 0)
		capa_sasl(c, line + tag);
	else if (line[tag] != '\0')
		return 0;  /* only SASL takes arguments we use */
	else if (g_ascii_strcasecmp(line, "PIPELINING") == 0)
		c->pipelining = TRUE;
	else if (g_ascii_strcasecmp(line, "UIDL") == 0)
		c->uidl = TRUE;
	else if (g_ascii_strcasecmp(line, "STLS") == 0)
		c->stls = TRUE;
	else if (g_ascii_strcasecmp(line, "USER") == 0)
		c->user = TRUE;
	return 0;
}

/* The next space-separated token of *p (which must not start with a
 * space: two spaces in a row are malformed); *p moves past it and one
 * following space. Returns the token's length (0 when there is none). */
static gsize
next_token(const char **p, const char **tok, gboolean *more)
{
	gsize len = strcspn(*p, " ");

	*tok = *p;
	*more = (*p)[len] == ' ';
	*p += len + (*more ? 1 : 0);
	return len;
}

/* A message number in 1..count. Parsed as a 64-bit number first, so that
 * "4294967297" is out of range rather than "not a number". */
static int
parse_msgnum(const char *tok, gsize len, guint32 count, guint32 *num, const char **why)
{
	guint64 v;

	if (len == 0) {
		*why = "missing message number";
		return -1;
	}
	if (hm_parse_uint_n(tok, len, 0, G_MAXUINT64, &v) < 0) {
		*why = "message number is not a decimal number";
		return -1;
	}
	if (v == 0 || v > count) {
		*why = "message number out of range";
		return -1;
	}
	*num = (guint32)v;
	return 0;
}

/* A size in octets: any plain decimal up to 2^63-1, so consumers may add
 * sizes in signed arithmetic. What is over HM_FETCH_MAX_MESSAGE is the
 * caller's to judge (fetch.h: left upstream, not an error). */
static int
parse_size(const char *tok, gsize len, guint64 *size, const char **why)
{
	if (len == 0) {
		*why = "missing size";
		return -1;
	}
	if (hm_parse_uint_n(tok, len, 0, G_MAXINT64, size) < 0) {
		*why = "size is not a decimal number";
		return -1;
	}
	return 0;
}

int
hm_pop3_stat_parse(const char *text, guint32 *count, guint64 *size, const char **why)
{
	const char *p = text, *tok;
	gboolean more;
	gsize len = next_token(&p, &tok, &more);
	guint64 n;

	if (len == 0) {
		*why = "missing message count";
		return -1;
	}
	if (hm_parse_uint_n(tok, len, 0, G_MAXUINT64, &n) < 0) {
		*why = "message count is not a decimal number";
		return -1;
	}
	if (n > HM_POP3_MAX_MESSAGES) {
		*why = "more than " G_STRINGIFY(HM_POP3_MAX_MESSAGES) " messages";
		return -1;
	}
	if (!more) {
		*why = "missing maildrop size";
		return -1;
	}
	len = next_token(&p, &tok, &more);
	if (parse_size(tok, len, size, why) < 0)
		return -1;
	*count = (guint32)n;
	return 0;
}

int
hm_pop3_scan_parse(const char *line, guint32 count, guint32 *num, guint64 *size,
                   const char **why)
{
	const char *p = line, *tok;
	gboolean more;
	gsize len = next_token(&p, &tok, &more);

	if (parse_msgnum(tok, len, count, num, why) < 0)
		return -1;
	if (!more) {
		*why = "missing size";
		return -1;
	}
	len = next_token(&p, &tok, &more);
	return parse_size(tok, len, size, why);
}

int
hm_pop3_uidl_parse(const char *line, guint32 count, guint32 *num, const char **uid,
                   gsize *uid_len, const char **why)
{
	const char *p = line, *tok;
	gboolean more;
	gsize len = next_token(&p, &tok, &more);

	if (parse_msgnum(tok, len, count, num, why) < 0)
		return -1;
	if (!more || *p == '\0') {
		*why = "missing UID";
		return -1;
	}
	len = strlen(p);
	for (gsize i = 0; i < len; i++) {
		if ((guchar)p[i] < 0x21 || (guchar)p[i] > 0x7e) {
			*why = "UID has an octet outside 0x21-0x7E";
			return -1;
		}
	}
	if (len > HM_POP3_MAX_UID) {
		*why = "UID longer than " G_STRINGIFY(HM_POP3_MAX_UID) " octets";
		return -1;
	}
	*uid = p;
	*uid_len = len;
	return 0;
}

void
hm_pop3_listing_init(HmPop3Listing *l, guint32 count)
{
	g_return_if_fail(count <= HM_POP3_MAX_MESSAGES);
	memset(l, 0, sizeof(*l));
	l->count = count;
	l->sizes = g_new0(guint64, MAX(count, 1));
	l->uids = g_new0(char *, MAX(count, 1));
	l->bad = g_new0(const char *, MAX(count, 1));
	l->seen = g_new0(guint8, MAX(count, 1));
	l->uid_set = g_hash_table_new(g_str_hash, g_str_equal);
}

void
hm_pop3_listing_clear(HmPop3Listing *l)
{
	if (l->uid_set != NULL)
		g_hash_table_destroy(l->uid_set);
	for (guint32 i = 0; l->uids != NULL && i < l->count; i++)
		g_free(l->uids[i]);
	g_free(l->uids);
	g_free(l->bad);
	g_free(l->sizes);
	g_free(l->seen);
	memset(l, 0, sizeof(*l));
}

static int
listing_fail(GError **err, const char *what, guint32 line, const char *why)
{
	g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL, "%s line %u: %s", what, line,
	            why);
	return -1;
}

int
hm_pop3_listing_add_scan(HmPop3Listing *l, const char *line, GError **err)
{
	guint32 lineno = l->n_scan + 1, num;
	guint64 size;
	const char *why = NULL;

	if (l->n_scan >= l->count)
		return listing_fail(err, "LIST", lineno, "more messages than STAT counted");
	if (hm_pop3_scan_parse(line, l->count, &num, &size, &why) < 0)
		return listing_fail(err, "LIST", lineno, why);
	if (l->seen[num - 1] & SEEN_SCAN)
		return listing_fail(err, "LIST", lineno, "duplicate message number");
	l->seen[num - 1] |= SEEN_SCAN;
	l->sizes[num - 1] = size;
	l->n_scan++;
	return 0;
}

int
hm_pop3_listing_add_uidl(HmPop3Listing *l, const char *line, GError **err)
{
	guint32 lineno = l->n_uidl + 1, num = 0;
	const char *why = NULL, *uid;
	gsize len;
	gpointer first;
	int rc;

	g_return_val_if_fail(l->uid_set != NULL, -1);
	if (l->n_uidl >= l->count)
		return listing_fail(err, "UIDL", lineno, "more messages than STAT counted");
	rc = hm_pop3_uidl_parse(line, l->count, &num, &uid, &len, &why);
	if (num == 0)
		return listing_fail(err, "UIDL", lineno, why);
	if (l->seen[num - 1] & SEEN_UIDL)
		return listing_fail(err, "UIDL", lineno, "duplicate message number");
	l->seen[num - 1] |= SEEN_UIDL;
	l->n_uidl++;
	if (rc < 0) {
		l->bad[num - 1] = why;
		return 0;
	}
	l->uids[num - 1] = g_strndup(uid, len);
	if (g_hash_table_lookup_extended(l->uid_set, l->uids[num - 1], NULL, &first)) {
		l->bad[GPOINTER_TO_UINT(first) - 1] = uid_shared;
		l->bad[num - 1] = uid_shared;
	} else {
		g_hash_table_insert(l->uid_set, l->uids[num - 1], GUINT_TO_POINTER(num));
	}
	return 0;
}

int
hm_pop3_listing_finish(HmPop3Listing *l, gboolean have_uidl, GError **err)
{
	/* No more lines may come; the set's borrowed keys must not outlive a
	 * steal. */
	if (l->uid_set != NULL) {
		g_hash_table_destroy(l->uid_set);
		l->uid_set = NULL;
	}
	/* Each line named a distinct number in 1..count, so as many lines as
	 * STAT counted means every number is there. */
	if (l->n_scan != l->count) {
		g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL,
		            "LIST listed %u messages, STAT counted %u", l->n_scan, l->count);
		return -1;
	}
	if (have_uidl && l->n_uidl != l->count) {
		g_set_error(err, HM_FETCH_ERROR, HM_FETCH_ERROR_PROTOCOL,
		            "UIDL listed %u messages, STAT counted %u", l->n_uidl, l->count);
		return -1;
	}
	return 0;
}

const char *
hm_pop3_listing_untracked(const HmPop3Listing *l, guint32 num)
{
	g_return_val_if_fail(num >= 1 && num <= l->count, NULL);
	return l->bad[num - 1];
}

/* The messages that share one UID, for one line of the log. */
typedef struct {
	const char *uid;
	GString *nums;
	guint n;
} SharedUid;

/* Names at most this many of the messages sharing a UID in the log (a
 * server could give one UID to every message). */
#define SHARED_NAMED 10

static void
shared_add(GHashTable *groups, GPtrArray *order, const char *uid, guint32 num)
{
	SharedUid *g = g_hash_table_lookup(groups, uid);

	if (g == NULL) {
		g = g_new0(SharedUid, 1);
		g->uid = uid;
		g->nums = g_string_new(NULL);
		g_hash_table_insert(groups, (gpointer)uid, g);
		g_ptr_array_add(order, g);
	}
	if (g->n++ < SHARED_NAMED)
		g_string_append_printf(g->nums, "%s%u", g->n > 1 ? ", " : "", num);
}

GPtrArray *
hm_pop3_listing_problems(const HmPop3Listing *l)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) groups = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) order = g_ptr_array_new();

	for (guint32 num = 1; num <= l->count; num++) {
		if (l->bad[num - 1] == uid_shared)
			shared_add(groups, order, l->uids[num - 1], num);
		else if (l->bad[num - 1] != NULL)
			g_ptr_array_add(out,
			                g_strdup_printf("message %u has a malformed UIDL line (%s)",
			                                num, l->bad[num - 1]));
	}
	for (guint i = 0; i < order->len; i++) {
		SharedUid *g = order->pdata[i];

		if (g->n > SHARED_NAMED)
			g_string_append_printf(g->nums, " and %u more", g->n - SHARED_NAMED);
		g_ptr_array_add(out,
		                g_strdup_printf("messages %s share the UID \"%s\" (a server bug), "
		                                "so none of them can be tracked",
		                                g->nums->str, g->uid));
		g_string_free(g->nums, TRUE);
		g_free(g);
	}
	return out;
}

char *
hm_pop3_listing_steal_uid(HmPop3Listing *l, guint32 num)
{
	g_return_val_if_fail(num >= 1 && num <= l->count, NULL);
	g_return_val_if_fail(l->uid_set == NULL, NULL);
	if (l->bad[num - 1] != NULL)
		return NULL;
	return g_steal_pointer(&l->uids[num - 1]);
}
