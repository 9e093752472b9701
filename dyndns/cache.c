/* The per-record update cache (see cache.h). */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include "dyndns/cache.h"
#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/printable.h"

/* A cache file holds a dozen short lines. */
#define CACHE_MAX 8192

static const char *const outcomes[] = { "ok", "hold", "backoff", "retry" };

char *
hm_dyn_cache_path(const char *state_dir, const HmDnsRecordConf *rec, int family)
{
	g_autofree char *name = g_strdup_printf("%s-%s-%s", rec->hostname, rec->provider,
	                                        family == AF_INET6 ? "AAAA" : "A");

	return g_build_filename(state_dir, "dyndns", name, NULL);
}

static gint64
number(const char *v)
{
	char *end;
	gint64 n = g_ascii_strtoll(v, &end, 10);

	return *end == '\0' && n >= 0 ? n : 0;
}

/* One-line text: a provider's answer may contain anything, and `homemail
 * status` shows it on a terminal (lib/printable.h). */
static char *
one_line(const char *v)
{
	return hm_printable(v, -1);
}

static void
set_key(HmDynCache *c, const char *k, const char *v)
{
	if (strcmp(k, "address") == 0)
		g_free(c->address), c->address = g_strdup(v);
	else if (strcmp(k, "updated") == 0)
		c->updated = number(v);
	else if (strcmp(k, "sent") == 0)
		g_free(c->sent), c->sent = g_strdup(v);
	else if (strcmp(k, "attempted") == 0)
		c->attempted = number(v);
	else if (strcmp(k, "code") == 0)
		g_free(c->code), c->code = g_strdup(v);
	else if (strcmp(k, "text") == 0)
		g_free(c->text), c->text = g_strdup(v);
	else if (strcmp(k, "held_config") == 0)
		g_free(c->held_config), c->held_config = g_strdup(v);
	else if (strcmp(k, "backoff_until") == 0)
		c->backoff_until = number(v);
	else if (strcmp(k, "backoff_s") == 0)
		c->backoff_s = (guint)MIN(number(v), G_MAXUINT);
	else if (strcmp(k, "outcome") == 0)
		for (guint i = 0; i < G_N_ELEMENTS(outcomes); i++)
			if (strcmp(v, outcomes[i]) == 0) {
				c->outcome = (HmDynOutcome)i;
				c->has_result = TRUE;
			}
}

int
hm_dyn_cache_load(const char *path, HmDynCache *c, GError **err)
{
	g_autoptr(GError) e = NULL;
	g_autoptr(GBytes) data = NULL;
	g_auto(GStrv) lines = NULL;
	g_autofree char *text = NULL;
	struct stat st;

	memset(c, 0, sizeof(*c));
	/* Never through a link, nor from a FIFO or device (refused, without
	 * waiting): the cache is only ever renamed into place by us, and
	 * `homemail status` reads it as root. */
	data = hm_read_file_flags(path, CACHE_MAX, HM_OPEN_NOFOLLOW, &st, &e);
	if (data == NULL) {
		if (g_error_matches(e, HM_ERROR, HM_ERROR_IO) && errno == ENOENT)
			return 0;
		g_propagate_error(err, g_steal_pointer(&e));
		return -1;
	}
	text = g_strndup(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		char *eq = strchr(lines[i], '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		set_key(c, lines[i], eq + 1);
	}
	return 0;
}

HmDurable *
hm_dyn_cache_reserve(const char *path, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *state = g_path_get_dirname(dir);

	/* state_dir itself may not exist yet on a new box. */
	if (g_mkdir_with_parents(state, 0700) < 0) {
		hm_set_error_errno(err, errno, "create directory %s", state);
		return NULL;
	}
	if (hm_mkdir_durable(dir, 0700, err) < 0)
		return NULL;
	/* More than a cache file can hold: the load would refuse it. */
	return hm_durable_new_reserved(path, 0600, CACHE_MAX, err);
}

int
hm_dyn_cache_commit(HmDurable *d, const HmDynCache *c, GError **err)
{
	g_autoptr(GString) out = g_string_new("");

	if (c->address != NULL)
		g_string_append_printf(out, "address=%s\nupdated=%" G_GINT64_FORMAT "\n", c->address,
		                       c->updated);
	if (c->sent != NULL)
		g_string_append_printf(out, "sent=%s\nattempted=%" G_GINT64_FORMAT "\n", c->sent,
		                       c->attempted);
	if (c->has_result)
		g_string_append_printf(out, "outcome=%s\n", outcomes[c->outcome]);
	if (c->code != NULL) {
		g_autofree char *v = one_line(c->code);

		g_string_append_printf(out, "code=%s\n", v);
	}
	if (c->text != NULL) {
		g_autofree char *v = one_line(c->text);

		g_string_append_printf(out, "text=%s\n", v);
	}
	if (c->held_config != NULL)
		g_string_append_printf(out, "held_config=%s\n", c->held_config);
	if (c->backoff_s > 0)
		g_string_append_printf(out, "backoff_until=%" G_GINT64_FORMAT "\nbackoff_s=%u\n",
		                       c->backoff_until, c->backoff_s);
	if (hm_durable_write(d, out->str, out->len, err) < 0) {
		hm_durable_abort(d);
		return -1;
	}
	return hm_durable_commit(d, 0, err);
}

int
hm_dyn_cache_save(const char *path, const HmDynCache *c, GError **err)
{
	HmDurable *d = hm_dyn_cache_reserve(path, err);

	return d != NULL ? hm_dyn_cache_commit(d, c, err) : -1;
}

void
hm_dyn_cache_clear(HmDynCache *c)
{
	g_clear_pointer(&c->address, g_free);
	g_clear_pointer(&c->sent, g_free);
	g_clear_pointer(&c->code, g_free);
	g_clear_pointer(&c->text, g_free);
	g_clear_pointer(&c->held_config, g_free);
}
