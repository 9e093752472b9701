/* What `homemail setup` writes: the secret files (0600), the certificate
 * and key when there are none, the config (0640, merged with the old one,
 * and loaded back before it counts), the answers file, the Maildirs. The
 * files the daemons read belong to the `homemail` user where it exists.
 *
 * The secrets and the certificate go in place before the config, which
 * is loaded with them as the daemons will load it; when it does not load,
 * each file the run replaced is put back as it was (content, mode, owner
 * and group) and each it made is removed, every one by a new file
 * renamed into place, so that a crash leaves whole files only. */
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

/* --- putting back what a failed run replaced ----------------------------- */

/* A file as it was before the run. */
typedef struct {
	char *path;
	GBytes *old;    /* NULL: there was none */
	struct stat st; /* of the old one */
	char *made_dir; /* the folder made for it, or NULL */
} Undo;

static void
undo_free(gpointer p)
{
	Undo *u = p;

	if (u->old != NULL) {
		gsize n;
		void *data = (void *)g_bytes_get_data(u->old, &n);

		/* It may be a secret. */
		explicit_bzero(data, n);
		g_bytes_unref(u->old);
	}
	g_free(u->path);
	g_free(u->made_dir);
	g_free(u);
}

/* Keeps path's content before the run writes it, and makes its folder
 * (mode dir_mode) unless it is there. Returns 0 or -1 with *err; a file
 * that cannot be read is not replaced. */
static int
remember(GPtrArray *undo, const char *path, mode_t dir_mode, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	Undo *u = g_new0(Undo, 1);

	u->path = g_strdup(path);
	g_ptr_array_add(undo, u);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		if (make_dir(dir, dir_mode, FALSE, err) < 0)
			return -1;
		u->made_dir = g_steal_pointer(&dir);
		return 0;
	}
	if (lstat(path, &u->st) < 0 && errno == ENOENT)
		return 0;
	u->old = hm_read_file_stat(path, HM_CONFIG_FILE_MAX, &u->st, err);
	return u->old != NULL ? 0 : -1;
}

/* Puts one file back; -1 with *err. */
static int
put_back_one(const Undo *u, GError **err)
{
	gsize n;
	const void *data;
	uid_t uid = u->st.st_uid == geteuid() ? (uid_t)-1 : u->st.st_uid;
	gid_t gid = u->st.st_gid == getegid() ? (gid_t)-1 : u->st.st_gid;

	if (u->old == NULL) {
		if (unlink(u->path) < 0 && errno != ENOENT) {
			hm_set_error_errno(err, errno, "unlink %s", u->path);
			return -1;
		}
		/* Only when empty: what else is there is not ours. */
		if (u->made_dir != NULL)
			rmdir(u->made_dir);
		return 0;
	}
	data = g_bytes_get_data(u->old, &n);
	if (hm_atomic_write(u->path, data, n, u->st.st_mode & 07777, err) < 0)
		return -1;
	return uid == (uid_t)-1 && gid == (gid_t)-1 ? 0 : hm_chown_nofollow(u->path, uid, gid, err);
}

/* Puts back every file the run wrote, the last first (a folder made for
 * one is removed after it). */
static void
put_back(GPtrArray *undo)
{
	for (guint i = undo->len; i > 0; i--) {
		const Undo *u = g_ptr_array_index(undo, i - 1);
		g_autoptr(GError) why = NULL;

		if (put_back_one(u, &why) < 0)
			fprintf(stderr, "homemail: setup: warning: %s was not put back: %s\n",
			        u->path, why->message);
	}
}

/* Writes path (mode), keeping what it replaces in undo; owner gives it
 * to the service user. */
static int
write_file(GPtrArray *undo, const char *path, const char *data, mode_t mode, gboolean owner,
           GError **err)
{
	if (remember(undo, path, 0750, err) < 0 ||
	    hm_atomic_write(path, data, strlen(data), mode, err) < 0)
		return -1;
	return owner ? give(path, FALSE, err) : 0;
}

/* --- the files ----------------------------------------------------------- */

static int
write_secrets(const HmSetup *s, GPtrArray *undo, GError **err)
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
		r = write_file(undo, path, line, 0600, TRUE, err);
		explicit_bzero(line, strlen(line));
		if (r < 0)
			return -1;
	}
	return 0;
}

/* The certificate and key, made when both are missing; one that is there
 * alone is an error (the question of the key says so first): it is a
 * real certificate or key, never replaced. */
static int
write_cert(const HmSetup *s, GPtrArray *undo, GError **err)
{
	g_autofree char *cert = resolve(s, g_hash_table_lookup(s->answers, "tls.cert"));
	g_autofree char *key = resolve(s, g_hash_table_lookup(s->answers, "tls.key"));
	gboolean have_cert = access(cert, F_OK) == 0, have_key = access(key, F_OK) == 0;
	const char *names[5] = { NULL };
	const char *v;
	char *cert_pem = NULL, *key_pem = NULL;
	gsize n = 0;
	int r;

	if (have_cert && have_key)
		return 0;
	if (have_cert || have_key) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "%s: %s does not exist, but %s does: give its %s",
		            have_cert ? "tls.key" : "tls.cert", have_cert ? key : cert,
		            have_cert ? cert : key, have_cert ? "key" : "certificate");
		return -1;
	}
	names[n++] = g_hash_table_lookup(s->answers, "hostname");
	if ((v = g_hash_table_lookup(s->answers, "dns_name")) != NULL && *v != '\0')
		names[n++] = v;
	if ((v = g_hash_table_lookup(s->answers, "lan_address")) != NULL && *v != '\0')
		names[n++] = v;
	names[n++] = "localhost";
	if (hm_setup_make_cert(names, &cert_pem, &key_pem, err) < 0)
		return -1;
	r = write_file(undo, key, key_pem, 0600, TRUE, err);
	explicit_bzero(key_pem, strlen(key_pem));
	if (r == 0)
		r = write_file(undo, cert, cert_pem, 0644, FALSE, err);
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

HmConfig *
hm_setup_load_text(const HmSetup *s, const char *text, guint flags, GError **err)
{
	g_autofree char *path = NULL;
	HmConfig *cfg;

	if (g_mkdir_with_parents(s->config_dir, 0755) < 0) {
		hm_set_error_errno(err, errno, "create %s", s->config_dir);
		return NULL;
	}
	/* Beside the config, so that its relative paths and @includes
	 * resolve as they will. */
	path = g_strdup_printf("%s/.homemail-setup-check.%d.conf", s->config_dir, (int)getpid());
	if (hm_atomic_write(path, text, strlen(text), 0600, err) < 0)
		return NULL;
	cfg = hm_config_load_flags(path, flags, NULL, NULL, err);
	unlink(path);
	/* The person knows the config by its name, not by this file's. */
	if (cfg == NULL && err != NULL && *err != NULL) {
		g_autoptr(GString) msg = g_string_new((*err)->message);

		g_string_replace(msg, path, s->load_path, 0);
		g_free((*err)->message);
		(*err)->message = g_string_free(g_steal_pointer(&msg), FALSE);
	}
	return cfg;
}

/* Writes the config (keeping the old one in undo) and loads it back.
 * Returns the loaded config, or NULL (the caller puts back the old
 * files). */
static HmConfig *
write_config(const HmSetup *s, GPtrArray *undo, GError **err)
{
	guint dropped = 0;
	g_autofree char *text = hm_setup_text(s, &dropped);
	g_autoptr(GError) why = NULL;
	HmConfig *cfg;

	if (remember(undo, s->config_path, 0755, err) < 0 ||
	    hm_atomic_write(s->config_path, text, strlen(text), 0640, err) < 0 ||
	    give(s->config_path, TRUE, err) < 0)
		return NULL;
	cfg = hm_config_load_flags(s->load_path, HM_CONFIG_SECRETS_OPTIONAL, print_warning, NULL,
	                           &why);
	if (cfg == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "the new config does not load (%s); %s",
		            why->message,
		            s->old_text != NULL ? "the old config and secret files were put back"
		                                : "the files this run wrote were removed");
		return NULL;
	}
	if (dropped > 0)
		printf("homemail: setup: %u line(s) of the old config belonged to what was removed "
		       "and were dropped\n",
		       dropped);
	return cfg;
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
	g_autoptr(GPtrArray) undo = g_ptr_array_new_with_free_func(undo_free);
	g_autoptr(HmConfig) cfg = NULL;

	if (make_dir(s->config_dir, 0755, FALSE, err) < 0)
		return -1;
	if (write_secrets(s, undo, err) < 0 || write_cert(s, undo, err) < 0 ||
	    (cfg = write_config(s, undo, err)) == NULL) {
		put_back(undo);
		return -1;
	}
	if (hm_atomic_write(answers_path, answers, strlen(answers), 0600, err) < 0 ||
	    make_maildirs(cfg, err) < 0)
		return -1;
	printf("homemail: setup: wrote %s (answers in %s)\n", s->config_path, answers_path);
	return 0;
}
