#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fetcher/lastrun.h"
#include "fetcher/state-private.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/parse.h"

#define MAGIC "homemail-fetch-last 1"
/* The record with the longest error fits well within this. */
#define FILE_MAX 4096

int
hm_fetch_last_save(const char *state_dir, const char *account, gint64 t, guint fetched,
                   const char *error, GError **err)
{
	g_autofree char *dir = NULL, *acct = NULL, *path = NULL;
	g_autoptr(GString) text = g_string_new(MAGIC "\n");

	if ((dir = hm_fetch_dir(state_dir, account, &acct, err)) == NULL)
		return -1;
	path = g_strdup_printf("%s/%s.last", dir, acct);
	g_string_append_printf(text, "time %" G_GINT64_FORMAT "\nresult %s\nfetched %u\n", t,
	                       error == NULL ? "ok" : "failed", fetched);
	if (error != NULL) {
		gsize start = text->len + strlen("error ");

		g_string_append_printf(text, "error %.*s", HM_FETCH_LAST_ERROR_MAX, error);
		for (gsize i = start; i < text->len; i++)
			if (text->str[i] == '\n' || text->str[i] == '\r')
				text->str[i] = ' ';
		g_string_append_c(text, '\n');
	}
	return hm_atomic_write(path, text->str, text->len, 0600, err);
}

static int
bad(GError **err, const char *path, const char *why)
{
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: not a fetch record (%s)", path, why);
	return -1;
}

/* One "key value" line into *last; FALSE for an unknown key or a bad value. */
static gboolean
parse_line(const char *line, HmFetchLast *last, guint *seen)
{
	const char *sp = strchr(line, ' ');
	g_autofree char *key = sp != NULL ? g_strndup(line, (gsize)(sp - line)) : NULL;
	const char *v = sp != NULL ? sp + 1 : NULL;
	guint64 n;

	if (key == NULL)
		return FALSE;
	if (strcmp(key, "time") == 0 && hm_parse_uint(v, 0, G_MAXINT64, &n) == 0) {
		last->time = (gint64)n;
		*seen |= 1;
	} else if (strcmp(key, "result") == 0 &&
	           (strcmp(v, "ok") == 0 || strcmp(v, "failed") == 0)) {
		last->ok = strcmp(v, "ok") == 0;
		*seen |= 2;
	} else if (strcmp(key, "fetched") == 0 && hm_parse_uint(v, 0, G_MAXUINT, &n) == 0) {
		last->fetched = (guint)n;
		*seen |= 4;
	} else if (strcmp(key, "error") == 0 && last->error == NULL) {
		last->error = g_strdup(v);
	} else {
		return FALSE;
	}
	return TRUE;
}

int
hm_fetch_last_load(const char *state_dir, const char *account, HmFetchLast *last, GError **err)
{
	g_autofree char *path = hm_fetch_account_file(state_dir, account, ".last");
	g_autoptr(GError) rerr = NULL;
	g_autoptr(GBytes) data = NULL;
	g_auto(GStrv) lines = NULL;
	g_autofree char *copy = NULL;
	guint seen = 0;
	gsize len;
	const char *text;
	struct stat sb;

	memset(last, 0, sizeof(*last));
	/* As the fetch state (fetcher/state-format.c): a regular file, not
	 * through a link. */
	if ((data = hm_read_file_flags(path, FILE_MAX, HM_OPEN_NOFOLLOW, &sb, &rerr)) == NULL) {
		if (errno == ENOENT)
			return 0;
		g_propagate_error(err, g_steal_pointer(&rerr));
		return -1;
	}
	text = g_bytes_get_data(data, &len);
	if (memchr(text, '\0', len) != NULL || len == 0 || text[len - 1] != '\n')
		return bad(err, path, "binary or cut short");
	/* The bytes carry no NUL of their own. */
	copy = g_strndup(text, len);
	lines = g_strsplit(copy, "\n", -1);
	if (strcmp(lines[0], MAGIC) != 0)
		return bad(err, path, "unknown first line");
	for (guint i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
		if (!parse_line(lines[i], last, &seen)) {
			hm_fetch_last_clear(last);
			return bad(err, path, "unknown line");
		}
	if (seen != 7 || last->ok == (last->error != NULL)) {
		hm_fetch_last_clear(last);
		return bad(err, path, "incomplete");
	}
	return 1;
}

void
hm_fetch_last_clear(HmFetchLast *last)
{
	g_clear_pointer(&last->error, g_free);
}
