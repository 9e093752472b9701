#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "oauth2-token.h"

G_DEFINE_QUARK(homemail-oauth2-error-quark, hm_oauth2_error)

/* A stored token, or an answer, is a few KB (a Microsoft access token is
 * ~2 KB); anything near this is not one. */
#define TOKEN_FILE_MAX (64 * 1024)

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		g_free(s);
	}
}

void
hm_oauth2_token_clear(HmOauth2Token *t)
{
	if (t == NULL)
		return;
	wipe_free(t->access_token);
	wipe_free(t->refresh_token);
	g_free(t->scope);
	memset(t, 0, sizeof(*t));
}

/* The string member name of o, or NULL (also when it is not a string). */
static const char *
member_string(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

/* The integer member name of o (some providers send expires_in as a
 * string), or -1. */
static gint64
member_int(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	guint64 v;

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
		return -1;
	if (json_node_get_value_type(n) == G_TYPE_INT64)
		return json_node_get_int(n);
	if (json_node_get_value_type(n) == G_TYPE_STRING &&
	    g_ascii_string_to_unsigned(json_node_get_string(n), 10, 0, G_MAXINT32, &v, NULL))
		return (gint64)v;
	return -1;
}

/* The top-level object of text, or NULL. Unref the parser. */
static JsonObject *
parse_object(const char *text, gsize len, JsonParser **parser)
{
	JsonNode *root;

	*parser = json_parser_new();
	if (len > TOKEN_FILE_MAX || !json_parser_load_from_data(*parser, text, (gssize)len, NULL))
		return NULL;
	root = json_parser_get_root(*parser);
	return root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* RFC 6749 5.2: an error answer, in words. */
static void
error_answer(long status, JsonObject *o, GError **err)
{
	const char *code = member_string(o, "error");
	const char *desc = member_string(o, "error_description");
	int kind = HM_OAUTH2_ERROR_REFUSED;

	if (g_strcmp0(code, "invalid_grant") == 0)
		kind = HM_OAUTH2_ERROR_INVALID_GRANT;
	else if (status >= 500 || status == 429 || g_strcmp0(code, "temporarily_unavailable") == 0)
		kind = HM_OAUTH2_ERROR_TEMPORARY;
	g_set_error(err, HM_OAUTH2_ERROR, kind, "the token endpoint answered %ld %s%s%s%s", status,
	            code != NULL ? code : "without an error code", desc != NULL ? " (" : "",
	            desc != NULL ? desc : "", desc != NULL ? ")" : "");
}

int
hm_oauth2_token_parse(long status, const char *body, gsize len, gint64 now,
                      HmOauth2Token *t, GError **err)
{
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *o = parse_object(body, len, &parser);
	const char *access, *type;
	gint64 expires_in;

	hm_oauth2_token_clear(t);
	if (o == NULL || (status != 200 && member_string(o, "error") == NULL)) {
		g_set_error(err, HM_OAUTH2_ERROR,
		            status >= 500 || status == 429 ? HM_OAUTH2_ERROR_TEMPORARY
		                                           : HM_OAUTH2_ERROR_PROTOCOL,
		            "the token endpoint answered %ld without a JSON token", status);
		return -1;
	}
	if (status != 200 || member_string(o, "error") != NULL) {
		error_answer(status, o, err);
		return -1;
	}
	access = member_string(o, "access_token");
	type = member_string(o, "token_type");
	if (access == NULL || *access == '\0' || type == NULL || g_ascii_strcasecmp(type, "bearer") != 0) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL,
		            "the token endpoint's answer holds no bearer access token");
		return -1;
	}
	t->access_token = g_strdup(access);
	t->refresh_token = g_strdup(member_string(o, "refresh_token"));
	t->scope = g_strdup(member_string(o, "scope"));
	expires_in = member_int(o, "expires_in");
	t->expires_at = expires_in >= 0 ? now + expires_in : 0;
	return 0;
}

char *
hm_oauth2_token_path(const char *state_dir, const HmOauth2Conf *c, const char *user)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autoptr(GString) name = g_string_new(NULL);

	g_checksum_update(sum, (const guchar *)c->token_url, (gssize)strlen(c->token_url) + 1);
	g_checksum_update(sum, (const guchar *)c->client_id, (gssize)strlen(c->client_id) + 1);
	g_checksum_update(sum, (const guchar *)user, (gssize)strlen(user));
	for (const char *p = user; *p != '\0' && name->len < 64; p++)
		g_string_append_c(name, g_ascii_isalnum(*p) || strchr("@._-", *p) != NULL ? *p : '_');
	if (name->len == 0 || name->str[0] == '.')
		g_string_prepend_c(name, '_');
	g_string_append_printf(name, "-%.12s.json", g_checksum_get_string(sum));
	return g_build_filename(state_dir, "oauth", name->str, NULL);
}

int
hm_oauth2_token_load(const char *path, HmOauth2Token *t, GError **err)
{
	g_autoptr(GBytes) data = NULL;
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *o;
	struct stat st;
	gsize len;
	const char *text;

	hm_oauth2_token_clear(t);
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN, "not signed in");
		return -1;
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s is not a regular file", path);
		return -1;
	}
	if ((data = hm_read_file(path, TOKEN_FILE_MAX, err)) == NULL)
		return -1;
	text = g_bytes_get_data(data, &len);
	o = parse_object(text, len, &parser);
	if (o == NULL || member_string(o, "access_token") == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: not a stored token", path);
		return -1;
	}
	t->access_token = g_strdup(member_string(o, "access_token"));
	t->refresh_token = g_strdup(member_string(o, "refresh_token"));
	t->scope = g_strdup(member_string(o, "scope"));
	t->expires_at = MAX(member_int(o, "expires_at"), 0);
	return 0;
}

/* state_dir/oauth/ as a real folder of ours, 0700. */
static int
ensure_folder(const char *dir, GError **err)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		hm_set_error_errno(err, errno, "create %s", dir);
		return -1;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		g_set_error(err, HM_ERROR, HM_ERROR_IO, "%s is not a folder (a link?)", dir);
		return -1;
	}
	return 0;
}

int
hm_oauth2_token_save(const char *path, const HmOauth2Token *t, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	char *text;
	int rc;

	if (ensure_folder(dir, err) < 0)
		return -1;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "access_token");
	json_builder_add_string_value(b, t->access_token);
	if (t->refresh_token != NULL) {
		json_builder_set_member_name(b, "refresh_token");
		json_builder_add_string_value(b, t->refresh_token);
	}
	if (t->scope != NULL) {
		json_builder_set_member_name(b, "scope");
		json_builder_add_string_value(b, t->scope);
	}
	json_builder_set_member_name(b, "expires_at");
	json_builder_add_int_value(b, t->expires_at);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	rc = hm_atomic_write(path, text, strlen(text), 0600, err);
	wipe_free(text);
	return rc;
}

int
hm_oauth2_token_lock(const char *path, GError **err)
{
	g_autofree char *lock = g_strconcat(path, ".lock", NULL);
	g_autofree char *dir = g_path_get_dirname(path);
	int fd;

	if (ensure_folder(dir, err) < 0)
		return -1;
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		hm_set_error_errno(err, errno, "open %s", lock);
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			hm_set_error_errno(err, errno, "lock %s", lock);
			close(fd);
			return -1;
		}
	}
	return fd;
}

void
hm_oauth2_token_unlock(int fd)
{
	if (fd >= 0)
		close(fd);  /* drops the flock */
}

/* "name=value" with value form-encoded (RFC 6749 appendix B). */
static void
form_add(GString *form, const char *name, const char *value)
{
	g_autofree char *esc = g_uri_escape_string(value, NULL, FALSE);

	g_string_append_printf(form, "%s%s=%s", form->len > 0 ? "&" : "", name, esc);
	explicit_bzero(esc, strlen(esc));
}

int
hm_oauth2_token_refresh(const HmOauth2Conf *c, HmOauth2Token *t, GError **err)
{
	g_autoptr(GString) form = g_string_new(NULL);
	const char *const headers[] = { "Content-Type: application/x-www-form-urlencoded",
		                        "Accept: application/json", NULL };
	HmHttpRequest req = { .method = "POST", .url = c->token_url, .headers = headers,
		              .secret = TRUE, .ca_file = c->ca_file };
	HmHttpResponse resp = { 0 };
	g_autofree char *old_refresh = g_strdup(t->refresh_token);
	gsize len;
	const char *body;
	int rc;

	form_add(form, "grant_type", "refresh_token");
	form_add(form, "refresh_token", t->refresh_token);
	form_add(form, "client_id", c->client_id);
	if (c->client_secret.value != NULL)
		form_add(form, "client_secret", c->client_secret.value);
	req.body = form->str;
	rc = hm_http_request(&req, &resp, err);
	explicit_bzero(form->str, form->len);
	if (rc < 0) {
		g_prefix_error(err, "token refresh: ");
		if (*err != NULL && (*err)->domain == HM_ERROR) {
			GError *e = *err;

			*err = g_error_new(HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_TEMPORARY, "%s", e->message);
			g_error_free(e);
		}
		wipe_free(g_steal_pointer(&old_refresh));
		return -1;
	}
	body = g_bytes_get_data(resp.body, &len);
	rc = hm_oauth2_token_parse(resp.status, body, len, g_get_real_time() / G_USEC_PER_SEC, t, err);
	hm_http_response_clear(&resp);
	if (rc == 0 && t->refresh_token == NULL)
		t->refresh_token = g_steal_pointer(&old_refresh);
	wipe_free(g_steal_pointer(&old_refresh));
	return rc;
}

char *
hm_oauth2_access_token(const char *state_dir, const HmOauth2Conf *c, const char *user,
                       gint64 now, gboolean force, GError **err)
{
	g_autofree char *path = hm_oauth2_token_path(state_dir, c, user);
	HmOauth2Token t = { 0 };
	char *access = NULL;
	int lock = hm_oauth2_token_lock(path, err);

	if (lock < 0)
		return NULL;
	if (hm_oauth2_token_load(path, &t, err) < 0)
		goto out;
	if (!force && t.expires_at > now + HM_OAUTH2_MARGIN_S) {
		access = g_strdup(t.access_token);
		goto out;
	}
	if (t.refresh_token == NULL) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN,
		            "the access token has expired and there is no refresh token");
		goto out;
	}
	/* Saved before it is used: a rotated refresh token lost here would
	 * leave the user signed out. */
	if (hm_oauth2_token_refresh(c, &t, err) < 0 || hm_oauth2_token_save(path, &t, err) < 0)
		goto out;
	hm_info("oauth2 %s: access token refreshed, valid for %" G_GINT64_FORMAT " s", user,
	        t.expires_at > now ? t.expires_at - now : 0);
	access = g_strdup(t.access_token);
out:
	hm_oauth2_token_clear(&t);
	hm_oauth2_token_unlock(lock);
	return access;
}
