/* Secrets: password_file / tsig_secret_file reading, warnings about files
 * holding secrets that more than the daemons can read, and wiping on free.
 * Secret values never enter a message. */
#include <config.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "conf/config-private.h"

/* --- who may read a file holding a secret ----------------------------- */

/* The user the daemons run as: run_as, or else whoever runs this, since
 * with run_as unset they stay as they were started. NULL if unknown. */
static char *
daemons_user(const HmCfgCtx *ctx)
{
	const struct passwd *pw;

	if (ctx->run_as != NULL)
		return g_strdup(ctx->run_as);
	pw = getpwuid(geteuid());
	return pw != NULL ? g_strdup(pw->pw_name) : NULL;
}

/* TRUE if user belongs to group gid, as its primary group or as a member. */
static gboolean
user_in_group(const char *user, gid_t gid)
{
	const struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	const struct group *gr;

	if (pw == NULL)
		return FALSE;
	if (pw->pw_gid == gid)
		return TRUE;
	gr = getgrgid(gid);
	for (char **m = gr != NULL ? gr->gr_mem : NULL; m != NULL && *m != NULL; m++)
		if (strcmp(*m, user) == 0)
			return TRUE;
	return FALSE;
}

static char *
group_name(gid_t gid)
{
	const struct group *gr = getgrgid(gid);

	return gr != NULL ? g_strdup(gr->gr_name) : g_strdup_printf("%u", (unsigned)gid);
}

/* Warns at s when st, a file holding a secret, can be read by others, or
 * by a group the daemons' user is not in: a group that includes them (or
 * root's, which holds no one else) is how a root-owned key or config is
 * given to the daemons (root:homemail 0640), so that is no warning.
 * subject names the file ("PATH", "PATH, holding this secret inline,"),
 * fix says what to do. */
static void
warn_exposed(HmCfgCtx *ctx, const config_setting_t *s, const struct stat *st, const char *subject,
             const char *fix)
{
	g_autofree char *user = NULL, *group = NULL;

	if (st->st_mode & S_IROTH) {
		hm_cfg_warn(ctx, s, "%s is readable by group or others (%s)", subject, fix);
		return;
	}
	if (!(st->st_mode & S_IRGRP) || st->st_gid == 0)
		return;
	user = daemons_user(ctx);
	if (user_in_group(user, st->st_gid))
		return;
	group = group_name(st->st_gid);
	hm_cfg_warn(ctx, s,
	            "%s is readable by group %s, which %s (the daemons' user) is not in "
	            "(%s, unless that group should read it)",
	            subject, group, user != NULL ? user : "?", fix);
}

void
hm_cfg_check_secret_path(HmCfgCtx *ctx, const config_setting_t *s, const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		warn_exposed(ctx, s, &st, path, "chmod 600 it");
}

/* Warns when the file that holds the inline secret s can be read by more
 * than the daemons; file_key names the better place for it. */
static void
check_inline(HmCfgCtx *ctx, const config_setting_t *s, const char *file_key)
{
	const char *name = config_setting_source_file(s);
	const HmCfgFile *f = hm_cfg_find_file(ctx, name != NULL ? name : ctx->file);
	g_autofree char *subject = NULL, *fix = NULL;

	if (f == NULL)
		return;
	subject = g_strdup_printf("%s, holding this secret inline,", f->path);
	fix = g_strdup_printf("chmod 600 it, or move the secret into %s", file_key);
	warn_exposed(ctx, s, &f->st, subject, fix);
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
		warn_exposed(ctx, fs, &st, out->file, "chmod 600 it");
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
		/* A program that uses no secret (the MDA) has nothing to warn
		 * about, and its stderr is what the MTA logs. */
		if (!(ctx->flags & HM_CONFIG_NO_SECRETS))
			check_inline(ctx, is, file_key);
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
