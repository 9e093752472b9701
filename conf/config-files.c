/* The files of one config: the main file and every file it @includes, read
 * once here, before libconfig opens them. libconfig 1.5 opens them with
 * fopen(), which blocks for ever on a FIFO, and has no hook to do it
 * otherwise (config_set_include_func() came in 1.7); so each file it will
 * open is opened first without blocking and refused unless it is a regular
 * file. The texts serve the integer-wrap scan, the modes the warnings about
 * secrets written inline. */
#include <config.h>

#include <string.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "conf/config-private.h"

void
hm_cfg_file_free(gpointer p)
{
	HmCfgFile *f = p;

	g_free(f->name);
	g_free(f->path);
	g_bytes_unref(f->text);
	g_free(f);
}

const HmCfgFile *
hm_cfg_find_file(const HmCfgCtx *ctx, const char *name)
{
	for (guint i = 0; i < ctx->files->len; i++) {
		const HmCfgFile *f = g_ptr_array_index(ctx->files, i);

		if (strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

/* Where the name of an @include directive starting at p begins, or NULL
 * when there is none. p is at the start of a line; libconfig's lexer
 * matches ^[ \t]*@include[ \t]+\" there. */
static const char *
include_at(const char *p, const char *end)
{
	static const char kw[] = "@include";

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((gsize)(end - p) < sizeof(kw) - 1 || memcmp(p, kw, sizeof(kw) - 1) != 0)
		return NULL;
	p += sizeof(kw) - 1;
	if (p == end || (*p != ' ' && *p != '\t'))
		return NULL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p < end && *p == '"' ? p + 1 : NULL;
}

/* The name of the @include that starts at *p, unescaped as libconfig 1.5
 * does it (\\ and \" stand for \ and "; any other backslash is dropped).
 * *p moves past the closing quote, *line past the newlines. NULL when the
 * name never ends: libconfig fails on that itself. */
static char *
include_name(const char **p, const char *end, guint *line)
{
	g_autoptr(GString) name = g_string_new(NULL);
	const char *q;

	for (q = *p; q < end && *q != '"'; q++) {
		if (*q == '\\' && q + 1 < end && (q[1] == '\\' || q[1] == '"'))
			g_string_append_c(name, *++q);
		else if (*q != '\\')
			g_string_append_c(name, *q);
		*line += *q == '\n';
	}
	*p = q < end ? q + 1 : end;
	return q < end ? g_string_free(g_steal_pointer(&name), FALSE) : NULL;
}

static HmCfgFile *
file_new(const char *name, const char *path, GBytes *text, const struct stat *st)
{
	HmCfgFile *f = g_new0(HmCfgFile, 1);

	f->name = g_strdup(name);
	f->path = g_strdup(path);
	f->text = text;
	f->st = *st;
	return f;
}

static int scan_includes(HmCfgCtx *ctx, const HmCfgFile *f, GError **err);

/* Reads the file of `@include "name"`, written on line of from. */
static int
read_include(HmCfgCtx *ctx, const HmCfgFile *from, guint line, const char *name, GError **err)
{
	g_autoptr(GError) rerr = NULL;
	g_autofree char *path = NULL;
	struct stat st;
	GBytes *text;
	HmCfgFile *f;

	/* Read already: that also ends an include loop, which libconfig
	 * refuses itself ("include file nesting too deep"). */
	if (hm_cfg_find_file(ctx, name) != NULL)
		return 0;
	/* What libconfig 1.5 opens: include_dir "/" name, even for an
	 * absolute name. */
	path = g_strconcat(ctx->dir, "/", name, NULL);
	text = hm_read_file_stat(path, HM_CONFIG_FILE_MAX, &st, &rerr);
	if (text == NULL && st.st_mode == 0)
		return 0; /* not there: libconfig says "cannot open include file" */
	if (text == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s:%u: @include \"%s\": %s", from->name,
		            line, name, rerr->message);
		return -1;
	}
	f = file_new(name, path, text, &st);
	g_ptr_array_add(ctx->files, f);
	return scan_includes(ctx, f, err);
}

/* Reads every file f @includes, skipping comments and strings as
 * libconfig's lexer does. */
static int
scan_includes(HmCfgCtx *ctx, const HmCfgFile *f, GError **err)
{
	gsize size;
	const char *p = g_bytes_get_data(f->text, &size);
	const char *end = p + size;
	gboolean line_start = TRUE;
	guint line = 1;

	while (p != NULL && p < end) {
		const char *name_at = line_start ? include_at(p, end) : NULL;
		guint at = line;

		if (name_at != NULL) {
			g_autofree char *name = include_name(&name_at, end, &line);

			p = name_at;
			if (name != NULL && read_include(ctx, f, at, name, err) < 0)
				return -1;
		} else if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || *p == '"' ||
		           (*p == '/' && p + 1 < end && (p[1] == '/' || p[1] == '*'))) {
			p = hm_cfg_skip_comment_or_string(p, end, &line);
		} else {
			p++;
		}
		/* Every branch moved p on; flex's ^ means "after a newline". */
		line_start = p[-1] == '\n';
	}
	return 0;
}

int
hm_cfg_read_files(HmCfgCtx *ctx, const char *path, GError **err)
{
	struct stat st;
	GBytes *text = hm_read_file_stat(path, HM_CONFIG_FILE_MAX, &st, err);
	HmCfgFile *f;

	if (text == NULL)
		return -1;
	f = file_new(path, path, text, &st);
	g_ptr_array_add(ctx->files, f);
	return scan_includes(ctx, f, err);
}
