/* The password check of the servers (conf/login.c): users by name and local address,
 * and the same cost whether or not the user exists. */
#include <config.h>

#include <crypt.h>
#include <string.h>
#include <time.h>

#include "conf/hmconfig.h"
#include "conf/login.h"
#include "testutil.h"

/* sha512-crypt with many rounds: one check takes tens of milliseconds,
 * far above the noise of the rest of hm_login_check(). */
#define SETTING "$6$rounds=150000$unitsalt$"

static HmConfig *
load(const char *hash, char **dir)
{
	g_autofree char *conf = NULL, *text = NULL;
	HmConfig *cfg;

	*dir = hm_test_tmpdir("hm-popd-auth");
	conf = g_build_filename(*dir, "t.conf", NULL);
	text = g_strdup_printf("hostname = \"box.example\";\n"
	                       "local_domains = [ \"home.example\" ];\n"
	                       "users = ( { name = \"alice\"; password = \"%s\"; } );\n", hash);
	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	cfg = hm_config_load(conf, hm_test_ignore_warning, NULL, NULL);
	g_assert_nonnull(cfg);
	return cfg;
}

/* The name of the user a check found, "(none)" for none. */
static const char *
name_of(const HmUserConf *u)
{
	return u != NULL ? u->name : "(none)";
}

static void
test_names(void)
{
	g_autofree char *dir = NULL;
	struct crypt_data cd = { 0 };
	g_autofree char *hash = g_strdup(crypt_r("pw", "$6$unitsalt$", &cd));
	g_autoptr(HmConfig) cfg = load(hash, &dir);
	g_autofree char *dummy = hm_login_dummy_hash(cfg);

	g_assert_nonnull(hm_login_check(cfg, dummy, "alice", "pw"));
	g_assert_nonnull(hm_login_check(cfg, dummy, "alice@HOME.example", "pw"));
	/* Names match in any case, as local parts of addresses do. */
	g_assert_cmpstr(name_of(hm_login_check(cfg, dummy, "Alice", "pw")), ==, "alice");
	g_assert_cmpstr(name_of(hm_login_check(cfg, dummy, "ALICE@home.EXAMPLE", "pw")), ==, "alice");
	g_assert_null(hm_login_check(cfg, dummy, "Alice", "wrong"));
	g_assert_null(hm_login_check(cfg, dummy, "alice@other.example", "pw"));
	g_assert_null(hm_login_check(cfg, dummy, "alice", "wrong"));
	g_assert_null(hm_login_check(cfg, dummy, "bob", "pw"));
	/* The dummy hash matches no password, not even an empty one. */
	g_assert_null(hm_login_check(cfg, dummy, "bob", ""));
	hm_test_remove_tree(dir);
}

/* Where two users' names differ only in case, each logs in by its own
 * exact name; another case finds the first. */
static void
test_exact_name_first(void)
{
	g_autofree char *dir = hm_test_tmpdir("hm-popd-auth");
	g_autofree char *conf = g_build_filename(dir, "t.conf", NULL);
	struct crypt_data cd = { 0 };
	g_autofree char *h1 = g_strdup(crypt_r("one", "$6$unitsalt$", &cd));
	g_autofree char *h2 = g_strdup(crypt_r("two", "$6$unitsalt$", &cd));
	g_autofree char *text = g_strdup_printf("hostname = \"box.example\";\n"
	                                        "users = ( { name = \"alice\"; password = \"%s\"; },\n"
	                                        "          { name = \"Alice\"; password = \"%s\"; } );\n",
	                                        h1, h2);
	g_autoptr(HmConfig) cfg = NULL;

	g_assert_true(g_file_set_contents(conf, text, -1, NULL));
	cfg = hm_config_load(conf, hm_test_ignore_warning, NULL, NULL);
	g_assert_nonnull(cfg);
	g_assert_cmpstr(name_of(hm_login_check(cfg, NULL, "alice", "one")), ==, "alice");
	g_assert_null(hm_login_check(cfg, NULL, "alice", "two"));
	g_assert_cmpstr(name_of(hm_login_check(cfg, NULL, "Alice", "two")), ==, "Alice");
	g_assert_null(hm_login_check(cfg, NULL, "Alice", "one"));
	g_assert_cmpstr(name_of(hm_login_check(cfg, NULL, "ALICE", "one")), ==, "alice");
	hm_test_remove_tree(dir);
}

/* This thread's CPU time in microseconds: other load on the machine
 * delays the check but does not add to it. */
static gint64
cpu_us(void)
{
	struct timespec ts;

	g_assert_cmpint(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), ==, 0);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* The least CPU time of several checks: what is left of the noise
 * (caches, frequency changes) only ever adds to it. */
static gint64
min_us(const HmConfig *cfg, const char *dummy, const char *name)
{
	gint64 best = G_MAXINT64;

	for (int i = 0; i < 7; i++) {
		gint64 t0 = cpu_us();

		g_assert_null(hm_login_check(cfg, dummy, name, "wrong"));
		best = MIN(best, cpu_us() - t0);
	}
	return best;
}

/* An unknown user costs one hash computation, like a known one with a
 * wrong password (it cost two, hashing the dummy at each login, so the
 * answer's timing told whether a name exists). */
static void
test_same_cost(void)
{
	g_autofree char *dir = NULL;
	struct crypt_data cd = { 0 };
	g_autofree char *hash = g_strdup(crypt_r("pw", SETTING, &cd));
	g_autoptr(HmConfig) cfg = load(hash, &dir);
	g_autofree char *dummy = hm_login_dummy_hash(cfg);
	gint64 known, unknown;

	g_assert_true(g_str_has_prefix(dummy, "$6$rounds=150000$"));
	known = min_us(cfg, dummy, "alice");
	unknown = min_us(cfg, dummy, "nosuchuser");
	g_test_message("known %" G_GINT64_FORMAT " us, unknown %" G_GINT64_FORMAT " us", known,
	               unknown);
	g_assert_cmpfloat((double)unknown / (double)known, <, 1.5);
	g_assert_cmpfloat((double)unknown / (double)known, >, 0.67);
	hm_test_remove_tree(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/login/names", test_names);
	g_test_add_func("/login/exact-name-first", test_exact_name_first);
	g_test_add_func("/login/same-cost", test_same_cost);
	return g_test_run();
}
