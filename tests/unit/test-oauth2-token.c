/* OAuth2 token answers and the token store (lib/oauth2-token.c), and the
 * pure steps of the sign-in flows (lib/oauth2-flow.c). The
 * refresh against a token endpoint is tested with the OAuth2 server
 * fixture in tests/integration. */
#include <config.h>

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/oauth2-flow.h"
#include "lib/oauth2-token.h"
#include "testutil.h"

#define NOW 1796400000

static int
parse(long status, const char *json, HmOauth2Token *t, GError **err)
{
	return hm_oauth2_token_parse(status, json, strlen(json), NOW, t, err);
}

static void
test_parse(void)
{
	HmOauth2Token t = { 0 };
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(parse(200, "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
	                           "\"expires_in\":3599,\"refresh_token\":\"rt1\","
	                           "\"scope\":\"https://mail.google.com/\"}", &t, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpstr(t.access_token, ==, "at1");
	g_assert_cmpstr(t.refresh_token, ==, "rt1");
	g_assert_cmpstr(t.scope, ==, "https://mail.google.com/");
	g_assert_cmpint(t.expires_at, ==, NOW + 3599);
	/* expires_in as a string (some providers), no refresh token, "bearer". */
	g_assert_cmpint(parse(200, "{\"access_token\":\"at2\",\"token_type\":\"bearer\","
	                           "\"expires_in\":\"60\"}", &t, &err), ==, 0);
	g_assert_null(t.refresh_token);
	g_assert_cmpint(t.expires_at, ==, NOW + 60);
	g_assert_cmpint(parse(200, "{\"access_token\":\"at3\",\"token_type\":\"Bearer\"}", &t, &err),
	                ==, 0);
	/* Without expires_in: the default lifetime, not already expired. */
	g_assert_cmpint(t.expires_at, ==, NOW + HM_OAUTH2_LIFETIME_DEFAULT_S);
	/* A huge expires_in neither overflows nor lasts centuries. */
	g_assert_cmpint(parse(200, "{\"access_token\":\"at4\",\"token_type\":\"Bearer\","
	                           "\"expires_in\":9223372036854775807}", &t, &err), ==, 0);
	g_assert_cmpint(t.expires_at, ==, NOW + HM_OAUTH2_LIFETIME_MAX_S);
	g_assert_cmpint(parse(200, "{\"access_token\":\"at5\",\"token_type\":\"Bearer\","
	                           "\"expires_in\":9000000000}", &t, &err), ==, 0);
	g_assert_cmpint(t.expires_at, ==, NOW + 365 * 86400);
	/* An empty 200 body is no token, and no json-glib critical. */
	g_assert_cmpint(parse(200, "", &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL);
	g_clear_error(&err);
	g_assert_cmpint(hm_oauth2_token_parse(200, NULL, 0, NOW, &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL);
	g_clear_error(&err);

	g_assert_cmpint(parse(400, "{\"error\":\"invalid_grant\",\"error_description\":"
	                           "\"Token has been expired or revoked.\"}", &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_INVALID_GRANT);
	g_assert_cmpstr(err->message, ==, "the token endpoint answered 400 invalid_grant (Token "
	                                  "has been expired or revoked.)");
	g_assert_null(t.access_token);
	g_clear_error(&err);
	/* The provider's words reach the terminal: no ESC, BEL, newline or C1. */
	g_assert_cmpint(parse(400, "{\"error\":\"invalid_grant\",\"error_description\":"
	                           "\"a\\u001b[2Jb\\u0007\\nc\\u0085d\\u00e9\"}", &t, &err), ==, -1);
	g_assert_cmpstr(err->message, ==, "the token endpoint answered 400 invalid_grant "
	                                  "(a?[2Jb?" "?c?d\xc3\xa9)");
	g_clear_error(&err);
	g_assert_cmpint(parse(400, "{\"error\":\"authorization_pending\"}", &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PENDING);
	g_clear_error(&err);
	g_assert_cmpint(parse(400, "{\"error\":\"slow_down\"}", &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_SLOW_DOWN);
	g_clear_error(&err);
	g_assert_cmpint(parse(401, "{\"error\":\"invalid_client\"}", &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_REFUSED);
	g_clear_error(&err);
	g_assert_cmpint(parse(503, "<html>busy</html>", &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_TEMPORARY);
	g_clear_error(&err);
	g_assert_cmpint(parse(200, "{\"access_token\":\"x\",\"token_type\":\"mac\"}", &t, &err), ==,
	                -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL);
	g_clear_error(&err);
	g_assert_cmpint(parse(200, "[\"access_token\"]", &t, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL);
	g_clear_error(&err);
	g_assert_cmpint(parse(200, "{\"access_token\":17,\"token_type\":\"Bearer\"}", &t, &err), ==,
	                -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL);
	hm_oauth2_token_clear(&t);
}

static HmOauth2Conf
conf(void)
{
	HmOauth2Conf c = { 0 };

	c.provider = (char *)"custom";
	c.client_id = (char *)"cid";
	c.token_url = (char *)"https://127.0.0.1:1/token";
	return c;
}

static void
test_path(void)
{
	HmOauth2Conf c = conf();
	g_autofree char *a = hm_oauth2_token_path("/st", &c, "alice@work.example");
	g_autofree char *b = hm_oauth2_token_path("/st", &c, "../../etc/passwd");
	g_autofree char *d = NULL;

	g_assert_true(g_str_has_prefix(a, "/st/oauth/alice@work.example-"));
	g_assert_true(g_str_has_suffix(a, ".json"));
	g_assert_cmpuint(strlen(a), ==, strlen("/st/oauth/alice@work.example-") + 12 + 5);
	/* No way out of the folder, and no hidden file. */
	g_assert_true(g_str_has_prefix(b, "/st/oauth/_.._.._etc_passwd-"));
	c.client_id = (char *)"other";
	d = hm_oauth2_token_path("/st", &c, "alice@work.example");
	g_assert_cmpstr(a, !=, d);
}

static void
test_store(void)
{
	g_autofree char *dir = hm_test_tmpdir("oauth2-store");
	HmOauth2Conf c = conf();
	g_autofree char *path = hm_oauth2_token_path(dir, &c, "alice@x.example");
	g_autofree char *folder = g_path_get_dirname(path);
	HmOauth2Token t = { .access_token = g_strdup("at"), .refresh_token = g_strdup("rt"),
		            .scope = g_strdup("mail"), .expires_at = NOW + 3600 };
	HmOauth2Token back = { 0 };
	g_autoptr(GError) err = NULL;
	char *access;
	struct stat st;

	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, -1);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN);
	g_clear_error(&err);
	access = hm_oauth2_access_token(dir, &c, "alice@x.example", NOW, FALSE, &err);
	g_assert_null(access);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN);
	g_clear_error(&err);
	g_assert_false(hm_oauth2_signed_in(dir, &c, "alice@x.example", NOW, &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN);
	g_clear_error(&err);

	g_assert_cmpint(hm_oauth2_token_save(path, &t, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpint(stat(folder, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0700);
	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, 0);
	g_assert_cmpstr(back.access_token, ==, "at");
	g_assert_cmpstr(back.refresh_token, ==, "rt");
	g_assert_cmpstr(back.scope, ==, "mail");
	g_assert_cmpint(back.expires_at, ==, NOW + 3600);

	g_assert_true(hm_oauth2_signed_in(dir, &c, "alice@x.example", NOW, &err));
	g_assert_no_error(err);
	/* Alive: the stored one, no endpoint asked (its URL leads nowhere). */
	access = hm_oauth2_access_token(dir, &c, "alice@x.example", NOW, FALSE, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(access, ==, "at");
	g_free(access);
	/* Within the margin of its end, with no refresh token: sign in again. */
	g_clear_pointer(&t.refresh_token, g_free);
	g_assert_cmpint(hm_oauth2_token_save(path, &t, &err), ==, 0);
	access = hm_oauth2_access_token(dir, &c, "alice@x.example",
	                                NOW + 3600 - HM_OAUTH2_MARGIN_S, FALSE, &err);
	g_assert_null(access);
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN);
	g_clear_error(&err);
	g_assert_true(hm_oauth2_signed_in(dir, &c, "alice@x.example", NOW, &err));
	g_assert_false(hm_oauth2_signed_in(dir, &c, "alice@x.example",
	                                   NOW + 3600 - HM_OAUTH2_MARGIN_S, &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN);
	g_clear_error(&err);

	/* A 0-byte store is not a token (and no json-glib critical). */
	g_assert_true(g_file_set_contents(path, "", 0, NULL));
	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
	g_clear_error(&err);

	/* A link in place of the token is not followed, a dangling one is
	 * no "not signed in", and a FIFO is refused at once. */
	g_assert_cmpint(g_unlink(path), ==, 0);
	g_assert_cmpint(symlink("/etc/hostname", path), ==, 0);
	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_nonnull(strstr(err->message, "(a symbolic link, not followed)"));
	g_clear_error(&err);
	g_assert_cmpint(g_unlink(path), ==, 0);
	g_assert_cmpint(symlink("/nonexistent/token", path), ==, 0);
	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	g_assert_cmpint(g_unlink(path), ==, 0);
	hm_test_mkfifo(path);
	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_assert_nonnull(strstr(err->message, "is not a regular file (a FIFO)"));
	g_clear_error(&err);
	hm_oauth2_token_clear(&back);
	hm_oauth2_token_clear(&t);
	hm_test_remove_tree(dir);
}

/* A store the provider signed out: it keeps the refusal, no token, and
 * an access token is refused without asking the endpoint (conf()'s URL
 * leads nowhere: asking it would fail as TEMPORARY instead). */
static void
test_signed_out(void)
{
	g_autofree char *dir = hm_test_tmpdir("oauth2-out");
	HmOauth2Conf c = conf();
	g_autofree char *path = hm_oauth2_token_path(dir, &c, "carol");
	HmOauth2Token t = { .signed_out = g_strdup("token refresh: invalid_grant (revoked)"),
		            .signed_out_at = 1796515200, .refresh_token = g_strdup("rt-dead") };
	HmOauth2Token back = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	g_autofree char *words = NULL;
	char *access;

	g_assert_cmpint(hm_oauth2_token_save(path, &t, &err), ==, 0);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_null(strstr(text, "rt-dead"));  /* a dead refresh token is not kept */
	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, 0);
	g_assert_no_error(err);
	g_assert_null(back.access_token);
	g_assert_null(back.refresh_token);
	g_assert_cmpstr(back.signed_out, ==, t.signed_out);
	g_assert_cmpint(back.signed_out_at, ==, 1796515200);
	words = hm_oauth2_token_signed_out_words(&back);
	g_assert_cmpstr(words, ==, "signed out by the provider on 2026-12-06 00:00 UTC "
	                           "(token refresh: invalid_grant (revoked))");
	g_assert_false(hm_oauth2_signed_in(dir, &c, "carol", NOW, &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN);
	g_clear_error(&err);
	for (int force = 0; force < 2; force++) {
		access = hm_oauth2_access_token(dir, &c, "carol", NOW, force, &err);
		g_assert_null(access);
		g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_NOT_SIGNED_IN);
		g_assert_cmpstr(err->message, ==, words);
		g_clear_error(&err);
	}
	/* A reason stored raw (by an older version) is shown printable. */
	g_free(back.signed_out);
	back.signed_out = g_strdup("x\033]0;pwned\007\r\n");
	g_clear_pointer(&words, g_free);
	words = hm_oauth2_token_signed_out_words(&back);
	g_assert_cmpstr(words, ==, "signed out by the provider on 2026-12-06 00:00 UTC "
	                           "(x?]0;pwned?" "?" "?)");
	hm_oauth2_token_clear(&back);
	hm_oauth2_token_clear(&t);
	hm_test_remove_tree(dir);
}

/* A full disk: the refresh token is not spent (conf()'s URL leads
 * nowhere; asking it would fail with a connection error instead), since
 * the rotated one the provider answers with could not be saved. The
 * stored token stays as it was. */
static void
test_full_disk(void)
{
	g_autofree char *dir = hm_test_tmpdir("oauth2-full");
	HmOauth2Conf c = conf();
	g_autofree char *path = hm_oauth2_token_path(dir, &c, "dave");
	g_autofree char *filler = g_build_filename(dir, "filler", NULL);
	HmOauth2Token t = { .access_token = g_strdup("at"), .refresh_token = g_strdup("rt0"),
		            .expires_at = NOW + 10 };
	HmOauth2Token back = { 0 };
	g_autoptr(GError) err = NULL;
	g_autofree char *fill = g_malloc0(4096);
	FILE *f;

	hm_test_mount_tmpfs(dir, "256k");
	g_assert_cmpint(hm_oauth2_token_save(path, &t, &err), ==, 0);
	f = fopen(filler, "w");
	g_assert_nonnull(f);
	while (fwrite(fill, 1, 4096, f) == 4096 && fflush(f) == 0)
		;
	fclose(f);
	g_assert_null(hm_oauth2_access_token(dir, &c, "dave", NOW, FALSE, &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_TEMPORARY);
	g_assert_nonnull(strstr(err->message, "not tried"));
	g_clear_error(&err);
	g_assert_cmpint(hm_oauth2_token_load(path, &back, &err), ==, 0);
	g_assert_cmpstr(back.refresh_token, ==, "rt0");
	/* With room again, it is tried (and fails on the dead URL). */
	g_assert_cmpint(g_unlink(filler), ==, 0);
	g_assert_null(hm_oauth2_access_token(dir, &c, "dave", NOW, FALSE, &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_TEMPORARY);
	g_assert_null(strstr(err->message, "not tried"));
	hm_oauth2_token_clear(&back);
	hm_oauth2_token_clear(&t);
	hm_test_umount(dir);
	hm_test_remove_tree(dir);
}

/* The store's folder as a link is refused: writing through it would put
 * a token wherever the link points. */
static void
test_folder_link(void)
{
	g_autofree char *dir = hm_test_tmpdir("oauth2-link");
	g_autofree char *elsewhere = g_build_filename(dir, "elsewhere", NULL);
	g_autofree char *folder = g_build_filename(dir, "oauth", NULL);
	HmOauth2Conf c = conf();
	g_autofree char *path = hm_oauth2_token_path(dir, &c, "bob");
	HmOauth2Token t = { .access_token = (char *)"at" };
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(g_mkdir(elsewhere, 0700), ==, 0);
	g_assert_cmpint(symlink(elsewhere, folder), ==, 0);
	g_assert_cmpint(hm_oauth2_token_save(path, &t, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_IO);
	g_clear_error(&err);
	g_assert_cmpint(hm_oauth2_token_lock(path, &err), ==, -1);
	g_clear_error(&err);
	hm_test_remove_tree(dir);
}

typedef struct {
	const char *path;
	gint64 got_at;
	gint got;
} Locker;

static gpointer
second_locker(gpointer data)
{
	Locker *l = data;
	int fd = hm_oauth2_token_lock(l->path, NULL);

	l->got_at = g_get_monotonic_time();
	g_atomic_int_set(&l->got, 1);
	hm_oauth2_token_unlock(fd);
	return NULL;
}

/* A second taker waits for the first to let go. */
static void
test_lock(void)
{
	g_autofree char *dir = hm_test_tmpdir("oauth2-lock");
	HmOauth2Conf c = conf();
	g_autofree char *path = hm_oauth2_token_path(dir, &c, "carol");
	Locker l = { .path = path };
	int fd = hm_oauth2_token_lock(path, NULL);
	GThread *th;
	gint64 released;

	g_assert_cmpint(fd, >=, 0);
	th = g_thread_new("locker", second_locker, &l);
	g_usleep(200 * 1000);
	g_assert_cmpint(g_atomic_int_get(&l.got), ==, 0);
	released = g_get_monotonic_time();
	hm_oauth2_token_unlock(fd);
	g_thread_join(th);
	g_assert_cmpint(l.got_at, >=, released);
	hm_test_remove_tree(dir);
}

/* RFC 7636 appendix B's example, and what a verifier of ours looks like. */
static void
test_pkce(void)
{
	char ch[48];
	HmOauth2Pkce p, q;

	hm_oauth2_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch, sizeof(ch));
	g_assert_cmpstr(ch, ==, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	g_assert_cmpint(hm_oauth2_pkce_new(&p, NULL), ==, 0);
	g_assert_cmpint(hm_oauth2_pkce_new(&q, NULL), ==, 0);
	g_assert_cmpuint(strlen(p.verifier), ==, 43);
	g_assert_cmpuint(strspn(p.verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                    "0123456789-._~"), ==, 43);
	g_assert_cmpstr(p.verifier, !=, q.verifier);
	g_assert_cmpstr(p.state, !=, q.state);
	hm_oauth2_pkce_challenge(p.verifier, ch, sizeof(ch));
	g_assert_cmpstr(ch, ==, p.challenge);
}

static void
test_authorize_url(void)
{
	HmOauth2Conf c = { .provider = (char *)"google", .client_id = (char *)"id 1",
		           .authorize_url = (char *)"https://idp.example/auth",
		           .scope = (char *)"https://mail.google.com/" };
	HmOauth2Pkce p = { .verifier = "v", .challenge = "CH", .state = "ST" };
	g_autofree char *url = hm_oauth2_authorize_url(&c, "http://127.0.0.1:8080/", &p);

	g_assert_cmpstr(url, ==, "https://idp.example/auth?response_type=code&client_id=id%201"
	                         "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F"
	                         "&scope=https%3A%2F%2Fmail.google.com%2F&state=ST&code_challenge=CH"
	                         "&code_challenge_method=S256&access_type=offline&prompt=consent");
}

static void
test_redirect(void)
{
	g_autoptr(GError) err = NULL;
	char *code;

	code = hm_oauth2_redirect_code(" http://127.0.0.1:8080/?state=ST&code=4%2F0Ab+c&scope=x \n",
	                               "ST", &err);
	g_assert_no_error(err);
	g_assert_cmpstr(code, ==, "4/0Ab c");
	g_free(code);
	code = hm_oauth2_redirect_code("code=abc&state=ST", "ST", &err);
	g_assert_cmpstr(code, ==, "abc");
	g_free(code);
	g_assert_null(hm_oauth2_redirect_code("http://x/?code=abc&state=OTHER", "ST", &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_STATE);
	g_clear_error(&err);
	/* An error without this sign-in's state is not its answer either. */
	g_assert_null(hm_oauth2_redirect_code("/?error=access_denied", "ST", &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_STATE);
	g_clear_error(&err);
	g_assert_null(hm_oauth2_redirect_code("/?error=access_denied&state=X", "ST", &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_STATE);
	g_clear_error(&err);
	g_assert_null(hm_oauth2_redirect_code("/?error=x&error_description=a%1B%5B2J%07%0Ab&state=ST",
	                                      "ST", &err));
	g_assert_cmpstr(err->message, ==, "the sign-in was refused: x (a?[2J?" "?b)");
	g_clear_error(&err);
	g_assert_null(hm_oauth2_redirect_code("http://x/?error=access_denied&error_description="
	                                      "The+user+said+no&state=ST", "ST", &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_REFUSED);
	g_assert_cmpstr(err->message, ==, "the sign-in was refused: access_denied (The user said no)");
	g_clear_error(&err);
	g_assert_null(hm_oauth2_redirect_code("http://x/?state=ST", "ST", &err));
	g_assert_error(err, HM_OAUTH2_ERROR, HM_OAUTH2_ERROR_PROTOCOL);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/oauth2-token/parse", test_parse);
	g_test_add_func("/oauth2-token/path", test_path);
	g_test_add_func("/oauth2-token/store", test_store);
	g_test_add_func("/oauth2-token/signed-out", test_signed_out);
	g_test_add_func("/oauth2-token/full-disk", test_full_disk);
	g_test_add_func("/oauth2-token/folder-link", test_folder_link);
	g_test_add_func("/oauth2-token/lock", test_lock);
	g_test_add_func("/oauth2-flow/pkce", test_pkce);
	g_test_add_func("/oauth2-flow/authorize-url", test_authorize_url);
	g_test_add_func("/oauth2-flow/redirect", test_redirect);
	return g_test_run();
}
