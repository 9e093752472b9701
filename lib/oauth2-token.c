#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "oauth2-json.h"
#include "oauth2-token.h"
#include "printable.h"
#include "sasl.h"

G_DEFINE_QUARK(homemail-oauth2-error-quark, hm_oauth2_error)

void
hm_oauth2_token_clear(HmOauth2Token *t)
{
	if (t == NULL)
		return;
	hm_sasl_free_secret(t->access_token);
	hm_sasl_free_secret(t->refresh_token);
	g_free(t->scope);
	g_free(t->signed_out);
	memset(t, 0, sizeof(*t));
}

/* RFC 6749 5.2: an error answer, in words. */
static void
error_answer(long status, JsonObject *o, GError **err)
{
	const char *code = hm_oauth2_json_string(o, "error");
	g_autofree char *words = hm_oauth2_json_error_words(o, "without an error code");
	int kind = HM_OAUTH2_ERROR_REFUSED;

	if (g_strcmp0(code, "invalid_grant") == 0)
		kind = HM_OAUTH2_ERROR_INVALID_GRANT;
	else if (g_strcmp0(code, "authorization_pending") == 0)
		kind = HM_OAUTH2_ERROR_PENDING;
	else if (g_strcmp0(code, "slow_down") == 0)
		kind = HM_OAUTH2_ERROR_SLOW_DOWN;
	else if (status >= 500 || status == 429 || g_strcmp0(code, "temporarily_unavailable") == 0)
		kind = HM_OAUTH2_ERROR_TEMPORARY;
	g_set_error(err, HM_OAUTH2_ERROR, kind, "the token endpoint answered %ld %s", status, words);
}

int
hm_oauth2_token_parse(long status, const char *body, gsize len, gint64 now,
                      HmOauth2Token *t, GError **err)
{
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *o;
	const char *access, *type;
	gint64 expires_in;

	hm_oauth2_token_clear(t);
	if (hm_json_load(err) < 0)
		return -1;
	o = hm_oauth2_json_object(body, len, &parser);
	if (o == NULL || (status != 200 && hm_oauth2_json_string(o, "error") == NULL)) {
		g_set_error(err, HM_OAUTH2_ERROR,
		            status >= 500 || status == 429 ? HM_OAUTH2_ERROR_TEMPORARY
		                                           : HM_OAUTH2_ERROR_PROTOCOL,
		            "the token endpoint answered %ld without a JSON token", status);
		return -1;
	}
	if (status != 200 || hm_oauth2_json_string(o, "error") != NULL) {
		error_answer(status, o, err);
		return -1;
	}
	access = hm_oauth2_json_string(o, "access_token");
	type = hm_oauth2_json_string(o, "token_type");
	if (access == NULL || *access == '\0' || type == NULL || g_ascii_strcasecmp(type, "bearer") != 0) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL,
		            "the token endpoint's answer holds no bearer access token");
		return -1;
	}
	t->access_token = g_strdup(access);
	t->refresh_token = g_strdup(hm_oauth2_json_string(o, "refresh_token"));
	t->scope = g_strdup(hm_oauth2_json_string(o, "scope"));
	expires_in = hm_oauth2_json_int(o, "expires_in");
	if (expires_in < 0)
		expires_in = HM_OAUTH2_LIFETIME_DEFAULT_S;
	t->expires_at = now + MIN(expires_in, HM_OAUTH2_LIFETIME_MAX_S);
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
	g_autoptr(GError) rerr = NULL;
	JsonObject *o;
	struct stat st;
	gsize len;
	const char *text;

	hm_oauth2_token_clear(t);
	if (hm_json_load(err) < 0)
		return -1;
	/* A regular file, never read through a link (state_dir is the
	 * daemons' user's to write, and `homemail oauth` may run as root),
	 * nor waited on when it is a FIFO. */
	data = hm_read_file_flags(path, HM_OAUTH2_JSON_MAX, HM_OPEN_NOFOLLOW, &st, &rerr);
	if (data == NULL && errno == ENOENT) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN, "not signed in");
		return -1;
	}
	if (data == NULL) {
		g_propagate_error(err, g_steal_pointer(&rerr));
		return -1;
	}
	text = g_bytes_get_data(data, &len);
	o = hm_oauth2_json_object(text, len, &parser);
	if (o != NULL && hm_oauth2_json_string(o, "signed_out") != NULL) {
		t->signed_out = g_strdup(hm_oauth2_json_string(o, "signed_out"));
		t->signed_out_at = MAX(hm_oauth2_json_int(o, "signed_out_at"), 0);
		return 0;
	}
	if (o == NULL || hm_oauth2_json_string(o, "access_token") == NULL) {
		g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s: not a stored token", path);
		return -1;
	}
	t->access_token = g_strdup(hm_oauth2_json_string(o, "access_token"));
	t->refresh_token = g_strdup(hm_oauth2_json_string(o, "refresh_token"));
	t->scope = g_strdup(hm_oauth2_json_string(o, "scope"));
	t->expires_at = MAX(hm_oauth2_json_int(o, "expires_at"), 0);
	return 0;
}

/* state_dir/oauth/ as a real folder of ours, 0700. */
static int
ensure_folder(const char *dir, GError **err)
{
	g_autofree char *parent = g_path_get_dirname(dir);
	struct stat st;

	/* The state folder may not be there yet: sign-in can come before the
	 * daemons' first start. */
	if (g_mkdir_with_parents(parent, 0755) < 0) {
		hm_set_error_errno(err, errno, "create %s", parent);
		return -1;
	}
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

/* A string member; a NULL value is left out. */
static void
add_string(JsonBuilder *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

static void
add_int(JsonBuilder *b, const char *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

/* The store's JSON text of t (free with hm_sasl_free_secret()). */
static char *
token_text(const HmOauth2Token *t)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	if (t->signed_out != NULL) {
		add_string(b, "signed_out", t->signed_out);
		add_int(b, "signed_out_at", t->signed_out_at);
	} else {
		add_string(b, "access_token", t->access_token);
		add_string(b, "refresh_token", t->refresh_token);
		add_string(b, "scope", t->scope);
		add_int(b, "expires_at", t->expires_at);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}

int
hm_oauth2_token_save(const char *path, const HmOauth2Token *t, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	char *text;
	int rc;

	if (hm_json_load(err) < 0 || ensure_folder(dir, err) < 0)
		return -1;
	text = token_text(t);
	rc = hm_atomic_write(path, text, strlen(text), 0600, err);
	hm_sasl_free_secret(text);
	return rc;
}

/* The store's next content, begun before the refresh token is spent,
 * with room set aside for the answer: once the provider has rotated the
 * refresh token, a full disk must not lose the new one (the old one is
 * revoked, and the user would be signed out for good). A stored token
 * is never larger than the answer it came from, at most
 * HM_OAUTH2_JSON_MAX. NULL with *err (HM_OAUTH2_ERROR_TEMPORARY). */
static HmDurable *
reserve_store(const char *path, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autoptr(GError) e = NULL;
	HmDurable *d;

	if (ensure_folder(dir, &e) == 0 &&
	    (d = hm_durable_new_reserved(path, 0600, HM_OAUTH2_JSON_MAX, &e)) != NULL)
		return d;
	g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_TEMPORARY,
	            "token refresh not tried: no room to save its answer: %s", e->message);
	return NULL;
}

/* Writes t to the store begun by reserve_store() and puts it in place;
 * d is consumed. */
static int
save_reserved(HmDurable *d, const HmOauth2Token *t, GError **err)
{
	char *text = token_text(t);
	int rc = hm_durable_write(d, text, strlen(text), err);

	hm_sasl_free_secret(text);
	if (rc < 0) {
		hm_durable_abort(d);
		return -1;
	}
	return hm_durable_commit(d, 0, err);
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

void
hm_oauth2_form_add(GString *form, const char *name, const char *value)
{
	g_autofree char *esc = g_uri_escape_string(value, NULL, FALSE);

	g_string_append_printf(form, "%s%s=%s", form->len > 0 ? "&" : "", name, esc);
	explicit_bzero(esc, strlen(esc));
}

int
hm_oauth2_post(const HmOauth2Conf *c, const char *url, GString *form, HmHttpResponse *resp,
               GError **err)
{
	const char *const headers[] = { "Content-Type: application/x-www-form-urlencoded",
		                        "Accept: application/json", NULL };
	HmHttpRequest req = { .method = "POST", .url = url, .headers = headers, .body = form->str,
		              .secret = TRUE, .ca_file = c->ca_file };
	int rc = hm_http_request(&req, resp, err);

	explicit_bzero(form->str, form->len);
	if (rc < 0 && *err != NULL && (*err)->domain == HM_ERROR) {
		GError *e = *err;

		*err = g_error_new(HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_TEMPORARY, "%s", e->message);
		g_error_free(e);
	}
	return rc;
}

/* The client's own part of every token request: its ID, and its secret
 * when it has one (RFC 6749 2.3.1, in the body). */
void
hm_oauth2_form_client(GString *form, const HmOauth2Conf *c)
{
	hm_oauth2_form_add(form, "client_id", c->client_id);
	if (c->client_secret.value != NULL)
		hm_oauth2_form_add(form, "client_secret", c->client_secret.value);
}

int
hm_oauth2_token_request(const HmOauth2Conf *c, GString *form, HmOauth2Token *t, GError **err)
{
	HmHttpResponse resp = { 0 };
	const char *body;
	gsize len;
	int rc;

	hm_oauth2_form_client(form, c);
	if (hm_oauth2_post(c, c->token_url, form, &resp, err) < 0)
		return -1;
	body = g_bytes_get_data(resp.body, &len);
	rc = hm_oauth2_token_parse(resp.status, body, len, g_get_real_time() / G_USEC_PER_SEC, t, err);
	hm_http_response_clear(&resp);
	return rc;
}

int
hm_oauth2_token_refresh(const HmOauth2Conf *c, HmOauth2Token *t, GError **err)
{
	g_autoptr(GString) form = g_string_new(NULL);
	char *old_refresh = g_strdup(t->refresh_token);
	int rc;

	hm_oauth2_form_add(form, "grant_type", "refresh_token");
	hm_oauth2_form_add(form, "refresh_token", t->refresh_token);
	rc = hm_oauth2_token_request(c, form, t, err);
	if (rc < 0)
		g_prefix_error(err, "token refresh: ");
	if (rc == 0 && t->refresh_token == NULL)
		t->refresh_token = g_steal_pointer(&old_refresh);
	hm_sasl_free_secret(old_refresh);
	return rc;
}

gboolean
hm_oauth2_error_needs_login(const GError *e)
{
	return g_error_matches(e, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN) ||
	       g_error_matches(e, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_INVALID_GRANT);
}

char *
hm_oauth2_token_signed_out_words(const HmOauth2Token *t)
{
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(t->signed_out_at);
	g_autofree char *date = when != NULL ? g_date_time_format(when, "%F %R UTC") : NULL;
	/* Stored by an older version, it may hold the provider's raw words. */
	g_autofree char *why = hm_printable(t->signed_out, -1);

	return g_strdup_printf("signed out by the provider on %s (%s)", date != NULL ? date : "?",
	                       why);
}

/* Remembers the provider's refusal of the refresh token in the store
 * (HmOauth2Token.signed_out), through d (consumed). Best effort: when it
 * cannot be saved, the next use asks the provider again and gets the same
 * refusal. */
static void
sign_out(HmDurable *d, HmOauth2Token *t, const char *why, gint64 now)
{
	g_autoptr(GError) err = NULL;

	hm_oauth2_token_clear(t);
	t->signed_out = g_strdup(why);
	t->signed_out_at = now;
	if (save_reserved(d, t, &err) < 0)
		hm_warn("oauth2: the refused sign-in not remembered: %s", err->message);
}

typedef enum {
	TOKEN_FRESH,       /* the access token lives on: use it */
	TOKEN_STALE,       /* expiring (or forced): refresh it */
	TOKEN_SIGNED_OUT,  /* only a new sign-in helps (*err says why) */
} TokenState;

static TokenState
token_state(const HmOauth2Token *t, gint64 now, gboolean force, GError **err)
{
	if (t->signed_out != NULL) {
		g_autofree char *why = hm_oauth2_token_signed_out_words(t);

		g_set_error_literal(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN, why);
		return TOKEN_SIGNED_OUT;
	}
	if (!force && t->expires_at > now + HM_OAUTH2_MARGIN_S)
		return TOKEN_FRESH;
	if (t->refresh_token == NULL) {
		g_set_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN,
		            "the access token has expired and there is no refresh token");
		return TOKEN_SIGNED_OUT;
	}
	return TOKEN_STALE;
}

gboolean
hm_oauth2_signed_in(const char *state_dir, const HmOauth2Conf *c, const char *user, gint64 now,
                    GError **err)
{
	g_autofree char *path = hm_oauth2_token_path(state_dir, c, user);
	HmOauth2Token t = { 0 };
	gboolean ok;

	/* No lock: a writer replaces the file whole (rename). */
	ok = hm_oauth2_token_load(path, &t, err) == 0 &&
	     token_state(&t, now, FALSE, err) != TOKEN_SIGNED_OUT;
	hm_oauth2_token_clear(&t);
	return ok;
}

char *
hm_oauth2_access_token(const char *state_dir, const HmOauth2Conf *c, const char *user,
                       gint64 now, gboolean force, GError **err)
{
	g_autofree char *path = hm_oauth2_token_path(state_dir, c, user);
	HmOauth2Token t = { 0 };
	char *access = NULL;
	HmDurable *store;
	TokenState state;
	int lock = hm_oauth2_token_lock(path, err);

	if (lock < 0)
		return NULL;
	if (hm_oauth2_token_load(path, &t, err) < 0)
		goto out;
	state = token_state(&t, now, force, err);
	if (state == TOKEN_FRESH)
		access = g_strdup(t.access_token);
	if (state != TOKEN_STALE)
		goto out;
	/* Saved before it is used: a rotated refresh token lost here would
	 * leave the user signed out. */
	if ((store = reserve_store(path, err)) == NULL)
		goto out;
	if (hm_oauth2_token_refresh(c, &t, err) < 0) {
		if (g_error_matches(*err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_INVALID_GRANT))
			sign_out(store, &t, (*err)->message, now);
		else
			hm_durable_abort(store);
		goto out;
	}
	if (save_reserved(store, &t, err) < 0)
		goto out;
	hm_info("oauth2 %s: access token refreshed, valid for %" G_GINT64_FORMAT " s", user,
	        t.expires_at > now ? t.expires_at - now : 0);
	access = g_strdup(t.access_token);
out:
	hm_oauth2_token_clear(&t);
	hm_oauth2_token_unlock(lock);
	return access;
}
