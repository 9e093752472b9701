/* What `homemail setup` writes: the secret files (0600), the certificate
 * and key when there are none, the config (0640, merged with the old one,
 * and loaded back before it counts), the answers file, the Maildirs. The
 * files the daemons read belong to the `homemail` user where it exists. */
#include <config.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/maildir.h"
#include "admin/setup.h"
#include "conf/hmconfig.h"
#include "deliver/deliver.h"

/* Gives path to the service user (owner) or its group (group_only), when
 * there is such a user and we may; never through a symlink at path
 * (hm_chown_nofollow()): some of these paths are in the service user's
 * own folders. */
/* The service user when there is one and we run as root (and so give it
 * its files), else NULL. */
static const struct passwd *
service_user(void)
{
	return geteuid() == 0 ? getpwnam("homemail") : NULL;
}

static int
give(const char *path, gboolean group_only, GError **err)
{
	const struct passwd *pw = service_user();

	if (pw == NULL)
		return 0;
	return hm_chown_nofollow(path, group_only ? (uid_t)-1 : pw->pw_uid, pw->pw_gid, err);
}

static int
make_dir(const char *dir, mode_t mode, gboolean give_it, GError **err)
{
	if (g_mkdir_with_parents(dir, (int)mode) < 0) {
		hm_set_error_errno(err, errno, "mkdir %s", dir);
		return -1;
	}
	return give_it ? give(dir, FALSE, err) : 0;
}

/* A path of the config, relative ones taken from the config's
 * directory as the loader does. */
static char *
resolve(const HmSetup *s, const char *path)
{
	return g_path_is_absolute(path) ? g_strdup(path)
	                                : g_build_filename(s->config_dir, path, NULL);
}

/* A file for the daemons alone: 0600, the service user's. */
static int
write_private(const char *path, const char *data, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);

	if (make_dir(dir, 0750, FALSE, err) < 0 ||
	    hm_atomic_write(path, data, strlen(data), 0600, err) < 0)
		return -1;
	return give(path, FALSE, err);
}

static int
write_secrets(const HmSetup *s, GError **err)
{
	GHashTableIter it;
	gpointer id, secret;

	g_hash_table_iter_init(&it, s->secrets);
	while (g_hash_table_iter_next(&it, &id, &secret)) {
		const char *answer = g_hash_table_lookup(s->answers, id);
		g_autofree char *path = NULL;
		g_autofree char *line = NULL;
		int r;

		/* Passwords of local users were hashed; a secret of a
		 * question the plan dropped has no file. */
		if (answer == NULL || !g_str_has_suffix(id, "_file"))
			continue;
		path = resolve(s, answer);
		line = g_strconcat(secret, "\n", NULL);
		r = write_private(path, line, err);
		explicit_bzero(line, strlen(line));
		if (r < 0)
			return -1;
	}
	return 0;
}

/* The certificate and key, made when either is missing. */
static int
write_cert(const HmSetup *s, GError **err)
{
	g_autofree char *cert = resolve(s, g_hash_table_lookup(s->answers, "tls.cert"));
	g_autofree char *key = resolve(s, g_hash_table_lookup(s->answers, "tls.key"));
	const char *names[5] = { NULL };
	const char *v;
	char *cert_pem = NULL, *key_pem = NULL;
	gsize n = 0;
	int r;

	if (access(cert, F_OK) == 0 && access(key, F_OK) == 0)
		return 0;
	names[n++] = g_hash_table_lookup(s->answers, "hostname");
	if ((v = g_hash_table_lookup(s->answers, "dns_name")) != NULL && *v != '\0')
		names[n++] = v;
	if ((v = g_hash_table_lookup(s->answers, "lan_address")) != NULL && *v != '\0')
		names[n++] = v;
	names[n++] = "localhost";
	if (hm_setup_make_cert(names, &cert_pem, &key_pem, err) < 0)
		return -1;
	r = write_private(key, key_pem, err);
	explicit_bzero(key_pem, strlen(key_pem));
	if (r == 0)
		r = hm_atomic_write(cert, cert_pem, strlen(cert_pem), 0644, err);
	g_free(cert_pem);
	g_free(key_pem);
	if (r == 0)
		printf("homemail: setup: made a self-signed certificate %s\n", cert);
	return r;
}

static void
print_warning(const char *line, gpointer data)
{
	fprintf(stderr, "homemail: setup: warning: %s\n", line);
}

/* Writes the config and loads it back; puts the old one back when the
 * new one does not load. Returns the loaded config, or NULL. */
static HmConfig *
write_config(const HmSetup *s, GError **err)
{
	g_autofree char *text = hm_setup_render(s);
	g_autoptr(GError) why = NULL;
	HmConfig *cfg;
	guint dropped = 0;

	if (s->old_text != NULL) {
		char *merged = hm_setup_merge(s->old_text, text, &dropped);

		g_free(text);
		text = merged;
	}
	if (hm_atomic_write(s->config_path, text, strlen(text), 0640, err) < 0 ||
	    give(s->config_path, TRUE, err) < 0)
		return NULL;
	if (dropped > 0)
		printf("homemail: setup: %u line(s) of the old config belonged to what was removed "
		       "and were dropped\n",
		       dropped);
	cfg = hm_config_load_flags(s->config_path, HM_CONFIG_SECRETS_OPTIONAL, print_warning, NULL,
	                           &why);
	if (cfg != NULL)
		return cfg;
	if (s->old_text != NULL)
		hm_atomic_write(s->config_path, s->old_text, strlen(s->old_text), 0640, NULL);
	else
		unlink(s->config_path);
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "the new config does not load (%s); %s",
	            why->message, s->old_text != NULL ? "the old one was put back" : "removed");
	return NULL;
}

static int
make_maildirs(const HmConfig *cfg, GError **err)
{
	const struct passwd *pw = service_user();

	if (make_dir(cfg->state_dir, 0750, TRUE, err) < 0 ||
	    make_dir(cfg->mail_dir, 0750, TRUE, err) < 0)
		return -1;
	for (gsize i = 0; i < cfg->n_users; i++) {
		g_autofree char *dir = hm_deliver_maildir_path(cfg, cfg->users[i].name);
		struct stat st;

		/* mail_dir is the service user's: what is there may be its
		 * doing, and root makes nothing through a symlink in it. */
		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
			g_set_error(err, HM_ERROR, HM_ERROR_IO,
			            "%s: is a symbolic link; a Maildir must be a folder", dir);
			return -1;
		}
		if (hm_maildir_create(dir, err) < 0 ||
		    (pw != NULL &&
		     hm_maildir_chown(cfg->mail_dir, cfg->users[i].name, pw->pw_uid, pw->pw_gid,
		                      err) < 0))
			return -1;
	}
	return 0;
}

int
hm_setup_write(HmSetup *s, GError **err)
{
	g_autoptr(GPtrArray) plan = hm_setup_plan(s);
	g_autofree char *answers = hm_setup_answers_render(s, plan);
	g_autofree char *answers_path = hm_setup_answers_path(s);
	g_autoptr(HmConfig) cfg = NULL;

	if (make_dir(s->config_dir, 0755, FALSE, err) < 0 || write_secrets(s, err) < 0 ||
	    write_cert(s, err) < 0 || (cfg = write_config(s, err)) == NULL ||
	    hm_atomic_write(answers_path, answers, strlen(answers), 0600, err) < 0 ||
	    make_maildirs(cfg, err) < 0)
		return -1;
	printf("homemail: setup: wrote %s (answers in %s)\n", s->config_path, answers_path);
	return 0;
}
