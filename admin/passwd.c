/* `homemail passwd USER`: set a user's password hash in the config file.
 * The file is edited as text, not re-serialised, so that its comments and
 * layout survive; libconfig only tells us on which line the setting is. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/atomic.h"
#include "lib/error.h"
#include "lib/passwd.h"
#include "admin/commands.h"
#include "admin/tty.h"
#include "conf/hmconfig.h"

static int
fail(GError **err, const char *msg)
{
	g_set_error_literal(err, HM_ERROR, HM_ERROR_FAILED, msg);
	return -1;
}

/* --- reading the password ------------------------------------------------ */

/* The new password, typed twice on /dev/tty, into buf. */
static gssize
password_from_tty(char *buf, GError **err)
{
	HmTtyPassword res;
	int tty;

	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty < 0) {
		hm_set_error_errno(err, errno, "/dev/tty (without a terminal, use --stdin)");
		return -1;
	}
	res = hm_tty_new_password(tty, "New password: ", "Retype new password: ", buf, err);
	close(tty);
	return res == HM_TTY_PASSWORD_OK ? (gssize)strlen(buf) : -1;
}

/* The new password from standard input, all of it but one trailing
 * newline. */
static gssize
password_from_stdin(char *buf, GError **err)
{
	gboolean eof;
	gssize n = hm_tty_read_line(STDIN_FILENO, buf, HM_TTY_SECRET_BUF, FALSE, &eof, err);

	if (n == -2)
		return hm_tty_password_too_long(err);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return n;
}

/* Reads the new password into buf; 0, or -1 with *err set. */
static int
read_password(gboolean from_stdin, char *buf, GError **err)
{
	gssize n = from_stdin ? password_from_stdin(buf, err) : password_from_tty(buf, err);

	if (n < 0)
		return -1;
	return hm_tty_password_check(buf, (gsize)n, err);
}

/* --- editing the file as text -------------------------------------------- */

/* The index just past the string literal that starts at line[i] ('"'), or
 * len if it does not end on the line. */
static gsize
string_end(const char *line, gsize len, gsize i)
{
	for (i++; i < len; i++) {
		if (line[i] == '\\')
			i++;
		else if (line[i] == '"')
			return i + 1;
	}
	return len;
}

/* libconfig's setting names: [A-Za-z*][-A-Za-z0-9_*]*. */
static gboolean
name_char(char c, gboolean first)
{
	return g_ascii_isalpha(c) || c == '*' || (!first && (g_ascii_isdigit(c) || c == '-' ||
	                                                     c == '_'));
}

/* If a setting of name key with a string value starts at line[i], the
 * span of its literal (quotes included). */
static gboolean
setting_at(const char *line, gsize len, gsize i, const char *key, gsize *start, gsize *end)
{
	gsize klen = strlen(key), j = i + klen;

	if (len - i < klen || memcmp(line + i, key, klen) != 0 || (j < len && name_char(line[j], FALSE)))
		return FALSE;
	while (j < len && (line[j] == ' ' || line[j] == '\t'))
		j++;
	if (j == len || (line[j] != '=' && line[j] != ':'))
		return FALSE;
	for (j++; j < len && (line[j] == ' ' || line[j] == '\t');)
		j++;
	if (j == len || line[j] != '"')
		return FALSE;
	*start = j;
	*end = string_end(line, len, j);
	return TRUE;
}

/* Counts the settings `key = "..."` on line[0..len) (with the literal
 * "value" exactly, unless value is NULL), skipping string literals and
 * comments, and sets *start and *end around the first one's literal. A block
 * comment begun on an earlier line is not seen; the reload after the
 * edit catches what that could get wrong. */
static int
find_setting(const char *line, gsize len, const char *key, const char *value, gsize *start,
             gsize *end)
{
	g_autofree char *quoted = value != NULL ? g_strdup_printf("\"%s\"", value) : NULL;
	int found = 0;

	for (gsize i = 0; i < len;) {
		gsize s, e;

		if (line[i] == '"') {
			i = string_end(line, len, i);
		} else if (line[i] == '#' || (line[i] == '/' && i + 1 < len && line[i + 1] == '/')) {
			break;
		} else if (line[i] == '/' && i + 1 < len && line[i + 1] == '*') {
			const char *close = g_strstr_len(line + i + 2, (gssize)(len - i - 2), "*/");

			if (close == NULL)
				break;
			i = (gsize)(close - line) + 2;
		} else if (name_char(line[i], TRUE)) {
			if ((i == 0 || !name_char(line[i - 1], FALSE)) &&
			    setting_at(line, len, i, key, &s, &e) &&
			    (quoted == NULL || (e - s == strlen(quoted) &&
			                        memcmp(line + s, quoted, e - s) == 0)) && found++ == 0) {
				*start = s;
				*end = e;
			}
			while (i < len && name_char(line[i], FALSE))
				i++;
		} else {
			i++;
		}
	}
	return found;
}

/* The offsets of line lineno (1-based) in text, without its newline. */
static gboolean
line_span(const char *text, gsize len, int lineno, gsize *start, gsize *end)
{
	gsize i = 0;

	for (int n = 1; n < lineno; n++) {
		const char *nl = memchr(text + i, '\n', len - i);

		if (nl == NULL)
			return FALSE;
		i = (gsize)(nl - text) + 1;
	}
	*start = i;
	*end = i;
	while (*end < len && text[*end] != '\n')
		(*end)++;
	return TRUE;
}

/* text with [start, end) replaced by insert. */
static char *
text_splice(const char *text, gsize len, gsize start, gsize end, const char *insert)
{
	GString *s = g_string_sized_new(len + strlen(insert));

	g_string_append_len(s, text, (gssize)start);
	g_string_append(s, insert);
	g_string_append_len(s, text + end, (gssize)(len - end));
	return g_string_free(s, FALSE);
}

/* Replaces the literal of the password setting on line lineno. */
static char *
replace_password(const char *text, gsize len, int lineno, const char *hash, GError **err)
{
	g_autofree char *quoted = g_strdup_printf("\"%s\"", hash);
	gsize ls, le, s, e;
	int n;

	if (!line_span(text, len, lineno, &ls, &le))
		n = 0;
	else
		n = find_setting(text + ls, le - ls, "password", NULL, &s, &e);
	if (n != 1) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "line %d: %s", lineno,
		            n == 0 ? "cannot find the password setting there" :
		                     "more than one password setting; put the user on its own line");
		return NULL;
	}
	return text_splice(text, len, ls + s, ls + e, quoted);
}

/* Inserts a password setting after the user's name setting, the first
 * `name = "user"` at or after the line where the user's group starts. */
static char *
insert_password(const char *text, gsize len, int from_line, const char *user,
                const char *hash, GError **err)
{
	gsize ls, le, s, e, lit, p;
	int n = 0;

	for (int line = from_line; n == 0 && line_span(text, len, line, &ls, &le); line++)
		n = find_setting(text + ls, le - ls, "name", user, &s, &e);
	if (n != 1) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s name = \"%s\" after line %d",
		            n == 0 ? "cannot find" : "more than one", user, from_line);
		return NULL;
	}
	lit = ls + e;
	p = lit;
	while (p < le && (text[p] == ' ' || text[p] == '\t'))
		p++;
	if (p < le && (text[p] == ';' || text[p] == ',')) {
		g_autofree char *ins = g_strdup_printf(" password = \"%s\";", hash);

		return text_splice(text, len, p + 1, p + 1, ins);
	} else {
		/* A setting's terminator is optional in libconfig. */
		g_autofree char *ins = g_strdup_printf("; password = \"%s\";", hash);

		return text_splice(text, len, lit, lit, ins);
	}
}

/* --- writing the file ---------------------------------------------------- */

static gboolean
in_my_groups(gid_t gid)
{
	gid_t groups[NGROUPS_MAX];
	int n = getgroups(NGROUPS_MAX, groups);

	if (gid == getegid())
		return TRUE;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return TRUE;
	return FALSE;
}

/* The replaced file must end up with the old owner and group, which only
 * root, or the owner for a group of theirs, can give it: refuse before
 * writing rather than leave it with the wrong ones. */
static int
check_owner(const char *path, const struct stat *st, GError **err)
{
	if (geteuid() == 0)
		return 0;
	if (st->st_uid != geteuid() || !in_my_groups(st->st_gid)) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "%s: owned by uid %u gid %u; run this as root or as its owner",
		            path, (unsigned)st->st_uid, (unsigned)st->st_gid);
		return -1;
	}
	return 0;
}

/* Writes data over path with the mode, owner and group in st; the owner
 * and mode are set through a descriptor opened without following a
 * symlink (hm_chown_at()), as root must. */
static int
write_like(const char *path, const char *data, gsize len, const struct stat *st, GError **err)
{
	int fd, rc = 0;

	if (hm_atomic_write(path, data, len, st->st_mode & 07777, err) < 0 ||
	    hm_chown_at(AT_FDCWD, path, path, st->st_uid, st->st_gid, &fd, err) < 0)
		return -1;
	/* chown() may clear set-id bits; a config file has none, but the
	 * mode given is the one kept. */
	if (fchmod(fd, st->st_mode & 07777) < 0) {
		hm_set_error_errno(err, errno, "chmod %s", path);
		rc = -1;
	}
	close(fd);
	return rc;
}

/* The reload after the edit warns again what the first load warned about,
 * which went to stderr already. */
static void
drop_warning(const char *line, gpointer data)
{
}

/* Loads path again and checks that user now has hash. */
static int
verify(const char *path, const char *user, const char *hash, GError **err)
{
	g_autoptr(HmConfig) cfg = hm_config_load_flags(path, HM_CONFIG_SECRETS_OPTIONAL,
	                                               drop_warning, NULL, err);
	const HmUserConf *u;

	if (cfg == NULL)
		return -1;
	u = hm_config_find_user(cfg, user);
	if (u == NULL || u->password_hash == NULL || strcmp(u->password_hash, hash) != 0)
		return fail(err, "the new hash is not where it was written");
	return 0;
}

/* Puts hash into path for u, keeping the rest of the file as it is;
 * restores the old file if the new one does not load back as intended. */
static int
update_file(const char *path, const HmUserConf *u, const char *hash, GError **err)
{
	g_autofree char *real = realpath(path, NULL);
	g_autoptr(GBytes) old = NULL;
	g_autofree char *text = NULL;
	g_autoptr(GError) verr = NULL;
	struct stat st;
	const char *data;
	gsize len;

	/* Edit the target of a symlinked config, not replace the link. */
	if (real == NULL || stat(real, &st) < 0) {
		hm_set_error_errno(err, errno, "%s", path);
		return -1;
	}
	if (check_owner(real, &st, err) < 0 ||
	    (old = hm_read_file(real, HM_CONFIG_FILE_MAX, err)) == NULL)
		return -1;
	data = g_bytes_get_data(old, &len);
	if (data == NULL)
		data = "";
	text = u->password_line > 0 ? replace_password(data, len, u->password_line, hash, err) :
	                              insert_password(data, len, u->line, u->name, hash, err);
	if (text == NULL) {
		g_prefix_error(err, "%s: ", path);
		return -1;
	}
	if (write_like(real, text, strlen(text), &st, err) < 0)
		return -1;
	if (verify(path, u->name, hash, &verr) == 0)
		return 0;
	if (write_like(real, data, len, &st, err) < 0) {
		g_prefix_error(err, "%s did not load back (%s); restoring it failed: ", path,
		               verr->message);
		return -1;
	}
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s did not load back (%s); left unchanged",
	            path, verr->message);
	return -1;
}

/* --- the command --------------------------------------------------------- */

/* Hashes the password read from the terminal or stdin. */
static char *
new_hash(gboolean from_stdin, GError **err)
{
	char *password = g_malloc(HM_TTY_SECRET_BUF);
	char *hash = NULL;

	if (read_password(from_stdin, password, err) == 0)
		hash = hm_password_hash(password, err);
	explicit_bzero(password, HM_TTY_SECRET_BUF);
	g_free(password);
	/* crypt(3) output never holds these, and the file is written
	 * without escaping on the strength of that. */
	if (hash != NULL && strpbrk(hash, "\"\\\n") != NULL) {
		g_free(hash);
		fail(err, "libcrypt returned a hash that cannot be quoted");
		return NULL;
	}
	return hash;
}

int
hm_cmd_passwd(int argc, char **argv, const HmGlobalOpts *opts)
{
	g_autofree char *cpath = NULL;
	gboolean from_stdin = FALSE;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &cpath, "configuration file", "FILE" },
		{ "stdin", 0, 0, G_OPTION_ARG_NONE, &from_stdin,
		  "read the password from standard input, not the terminal", NULL },
		G_OPTION_ENTRY_NULL
	};
	g_autoptr(GOptionContext) octx = g_option_context_new("USER - set a user's password");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	g_autofree char *hash = NULL;
	const HmUserConf *u;
	const char *path;

	g_option_context_add_main_entries(octx, entries, NULL);
	if (!g_option_context_parse(octx, &argc, &argv, &err)) {
		fprintf(stderr, "homemail: passwd: %s\n", err->message);
		return 2;
	}
	if (argc != 2) {
		fprintf(stderr, "homemail: passwd: usage: homemail passwd [-c FILE] [--stdin] USER\n");
		return 2;
	}
	if ((cfg = hm_cmd_load_config(cpath, opts, &path)) == NULL)
		return 1;
	u = hm_config_find_user(cfg, argv[1]);
	if (u == NULL) {
		fprintf(stderr, "homemail: passwd: no user \"%s\" in %s\n", argv[1], path);
		return 1;
	}
	if ((hash = new_hash(from_stdin, &err)) == NULL || update_file(path, u, hash, &err) < 0) {
		fprintf(stderr, "homemail: passwd: %s\n", err->message);
		return 1;
	}
	printf("homemail: passwd: password of \"%s\" updated in %s\n", u->name, path);
	return 0;
}
