/* Secrets: password_file / tsig_secret_file reading, permission warnings,
 * and wiping on free. Secret values never enter a message. */
/* <config.h>, not "config.h": the quoted form would find conf/config.h. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/parse.h"
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

/* Reads the one-line secret of path into a fresh string; on failure *why
 * names the problem (never the content). */
static char *
secret_read(const char *path, gboolean *insecure, int *errnum, const char **why)
{
	char buf[HM_SECRET_MAX + 2];
	struct stat st;
	ssize_t n;
	gsize len;
	char *value = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	*errnum = 0;
	*why = NULL;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*errnum = errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*insecure = (st.st_mode & 077) != 0;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return NULL;
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	*errnum = n < 0 ? errno : 0;
	close(fd);
	if (n < 0)
		return NULL;
	len = (gsize)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if ((gsize)n > HM_SECRET_MAX)
		*why = "longer than 4096 bytes";
	else if (len == 0)
		*why = "is empty";
	else if (memchr(buf, '\n', len) != NULL || memchr(buf, '\r', len) != NULL ||
	         memchr(buf, '\0', len) != NULL)
		*why = "must hold exactly one line";
	else
		value = g_strndup(buf, len);
	explicit_bzero(buf, sizeof(buf));
	return value;
}

static int
secret_from_file(HmCfgCtx *ctx, const config_setting_t *fs, HmSecret *out, GError **err)
{
	gboolean insecure = FALSE;
	int errnum;
	const char *why;
	g_autofree char *problem = NULL;

	out->value = secret_read(out->file, &insecure, &errnum, &why);
	if (out->value != NULL) {
		if (insecure)
			hm_cfg_warn(ctx, fs, "%s is readable by group or others (chmod 600 it)",
			            out->file);
		return 0;
	}
	if (why != NULL)
		return hm_cfg_fail(ctx, fs, err, "%s: %s", out->file, why);
	problem = g_strdup_printf("%s: cannot read: %s", out->file, g_strerror(errnum));
	if (!(ctx->flags & HM_CONFIG_SECRETS_OPTIONAL))
		return hm_cfg_fail(ctx, fs, err, "%s", problem);
	hm_cfg_warn(ctx, fs, "%s (needed at run time)", problem);
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
	if (ctx->flags & HM_CONFIG_NO_SECRETS)
		return 0;
	return secret_from_file(ctx, fs, out, err);
}
