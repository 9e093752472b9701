/* Secrets: password_file / tsig_secret_file reading, permission warnings,
 * and wiping on free. Secret values never enter a message. */
/* <config.h>, not "config.h": the quoted form would find conf/config.h. */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "conf/config-private.h"

void
hm_cfg_secret_clear(HmSecret *s)
{
	if (s->value != NULL) {
		explicit_bzero(s->value, strlen(s->value));
		g_free(s->value);
	}
	g_free(s->file);
	s->value = s->file = NULL;
}

/* --- reading a secret file ----------------------------------------------- */

/* Reads the one-line secret of path into a fresh string, or NULL with *err
 * set (naming the problem, never the content); *st as hm_open_regular()
 * leaves it. */
static char *
secret_read(const char *path, struct stat *st, GError **err)
{
	char buf[HM_SECRET_MAX + 2];
	ssize_t n;
	gsize len;
	const char *why = NULL;
	char *value = NULL;
	int fd = hm_open_regular(path, st, err);

	if (fd < 0)
		return NULL;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		hm_set_error_errno(err, errno, "%s: cannot read", path);
	close(fd);
	if (n < 0)
		return NULL;
	len = (gsize)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if ((gsize)n > HM_SECRET_MAX)
		why = "longer than 4096 bytes";
	else if (len == 0)
		why = "is empty";
	else if (memchr(buf, '\n', len) != NULL || memchr(buf, '\r', len) != NULL ||
	         memchr(buf, '\0', len) != NULL)
		why = "must hold exactly one line";
	else
		value = g_strndup(buf, len);
	explicit_bzero(buf, sizeof(buf));
	if (why != NULL)
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: %s", path, why);
	return value;
}

static int
secret_from_file(HmCfgCtx *ctx, const config_setting_t *fs, HmSecret *out, GError **err)
{
	g_autoptr(GError) rerr = NULL;
	struct stat st;

	out->value = secret_read(out->file, &st, &rerr);
	if (out->value != NULL) {
		if (st.st_mode & 077)
			hm_cfg_warn(ctx, fs, "%s is readable by group or others (chmod 600 it)",
			            out->file);
		return 0;
	}
	/* One that is there but wrong (a FIFO, two lines) is a mistake in
	 * the config whoever reads it; one that cannot be opened may only be
	 * out of this user's reach. */
	if (st.st_mode != 0 || !(ctx->flags & HM_CONFIG_SECRETS_OPTIONAL))
		return hm_cfg_fail(ctx, fs, err, "%s", rerr->message);
	hm_cfg_warn(ctx, fs, "%s (needed at run time)", rerr->message);
	return 0;
}

int
hm_cfg_secret(HmCfgCtx *ctx, const config_setting_t *group, const char *inline_key,
              const char *file_key, HmSecret *out, GError **err)
{
	const config_setting_t *is = hm_cfg_member(group, inline_key);
	const config_setting_t *fs = hm_cfg_member(group, file_key);

	if (is != NULL && fs != NULL)
		return hm_cfg_fail(ctx, fs, err, "cannot be used together with %s", inline_key);
	if (is != NULL) {
		if (config_setting_type(is) != CONFIG_TYPE_STRING)
			return hm_cfg_fail(ctx, is, err, "must be a string");
		if (*config_setting_get_string(is) == '\0')
			return hm_cfg_fail(ctx, is, err, "must not be empty");
		out->value = g_strdup(config_setting_get_string(is));
		return 0;
	}
	if (hm_cfg_path(ctx, group, file_key, &out->file, err) < 0)
		return -1;
	if (fs == NULL)
		return 0;
	if (out->file == NULL)
		return hm_cfg_fail(ctx, fs, err, "must not be empty");
	return secret_from_file(ctx, fs, out, err);
}
