#include <config.h>

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "conf/hmconfig.h"
#include "deliver/deliver.h"
#include "testutil.h"

/* An alias chain c1 -> c2 -> ... -> c21 -> alice: from c1 it is 21 alias
 * steps (one too many), from c2 exactly 20. */
static char *
chain_aliases(void)
{
	GString *s = g_string_new(NULL);

	for (int i = 1; i <= 20; i++)
		g_string_append_printf(s, "  c%d = \"c%d\";\n", i, i + 1);
	g_string_append(s, "  c21 = \"alice\";\n");
	return g_string_free(s, FALSE);
}

static HmConfig *
load_config(char **dir_out)
{
	GError *err = NULL;
	g_autofree char *dir = hm_test_tmpdir("hm-test-recipient");
	g_autofree char *path = g_build_filename(dir, "t.conf", NULL);
	g_autofree char *chain = chain_aliases();
	g_autofree char *text = g_strdup_printf(
		"hostname = \"box.example\";\n"
		"mail_dir = \"%s/mail\";\n"
		"local_domains = [ \"home.example\", \"Box.Example\" ];\n"
		"users = (\n"
		"  { name = \"alice\"; addresses = [ \"alice.smith@home.example\",\n"
		"                                    \"al@other.example\" ]; },\n"
		"  { name = \"bob\"; },\n"
		"  { name = \"Carol\"; }\n"
		");\n"
		"aliases = {\n"
		"  postmaster = \"alice\";\n"
		"  root = \"postmaster\";\n"
		"  abuse = \"root@home.example\";\n"
		"  info = \"bob@HOME.example\";\n"
		"  team = \"al@other.example\";\n"
		"  ext = \"someone@far.example\";\n"
		"  loop1 = \"loop2\";\n"
		"  loop2 = \"loop1@home.example\";\n"
		"  self = \"self\";\n"
		"  ghost = \"nobody\";\n"
		"%s"
		"};\n", dir, chain);
	HmConfig *cfg;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	cfg = hm_config_load(path, hm_test_ignore_warning, NULL, &err);
	g_assert_no_error(err);
	g_assert_nonnull(cfg);
	g_unlink(path);
	*dir_out = g_steal_pointer(&dir);
	return cfg;
}

static void
assert_resolves(const HmConfig *cfg, const char *address, const char *want)
{
	GError *err = NULL;
	g_autofree char *user = hm_recipient_resolve(cfg, address, &err);

	if (err != NULL)
		g_error("%s: %s", address, err->message);
	g_assert_cmpstr(user, ==, want);
}

/* Fails with code; the message contains what (when not NULL). */
static void
assert_fails(const HmConfig *cfg, const char *address, int code, const char *what)
{
	GError *err = NULL;
	g_autofree char *user = hm_recipient_resolve(cfg, address, &err);

	g_assert_null(user);
	g_assert_error(err, HM_DELIVER_ERROR, code);
	if (what != NULL && strstr(err->message, what) == NULL)
		g_error("%s: \"%s\" lacks \"%s\"", address, err->message, what);
	g_error_free(err);
}

typedef struct {
	HmConfig *cfg;
	char *dir;
} Fixture;

static void
set_up(Fixture *f, gconstpointer data)
{
	f->cfg = load_config(&f->dir);
}

static void
tear_down(Fixture *f, gconstpointer data)
{
	hm_config_free(f->cfg);
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
}

static void
test_users(Fixture *f, gconstpointer data)
{
	assert_resolves(f->cfg, "alice", "alice");
	assert_resolves(f->cfg, "alice@home.example", "alice");
	assert_resolves(f->cfg, "alice@box.example", "alice");
	assert_resolves(f->cfg, "<alice@home.example>", "alice");
	assert_resolves(f->cfg, " bob@home.example ", "bob");
}

static void
test_case(Fixture *f, gconstpointer data)
{
	assert_resolves(f->cfg, "ALICE", "alice");
	assert_resolves(f->cfg, "Alice@HOME.Example", "alice");
	assert_resolves(f->cfg, "carol@home.example", "Carol");
	assert_resolves(f->cfg, "POSTMASTER@home.example", "alice");
	assert_resolves(f->cfg, "Alice.Smith@Home.Example", "alice");
}

static void
test_addresses(Fixture *f, gconstpointer data)
{
	assert_resolves(f->cfg, "alice.smith@home.example", "alice");
	/* A user's own address counts even in a domain that is not local. */
	assert_resolves(f->cfg, "al@other.example", "alice");
	assert_resolves(f->cfg, "AL@OTHER.EXAMPLE", "alice");
	assert_resolves(f->cfg, "al+tag@other.example", "alice");
}

static void
test_tag(Fixture *f, gconstpointer data)
{
	assert_resolves(f->cfg, "alice+lists@home.example", "alice");
	assert_resolves(f->cfg, "alice+a+b@home.example", "alice");
	assert_resolves(f->cfg, "alice.smith+x@home.example", "alice");
	assert_resolves(f->cfg, "postmaster+x@home.example", "alice");
	assert_resolves(f->cfg, "alice+x", "alice");
	assert_fails(f->cfg, "+x@home.example", HM_DELIVER_ERROR_UNKNOWN_USER, NULL);
	assert_fails(f->cfg, "nobody+alice@home.example", HM_DELIVER_ERROR_UNKNOWN_USER, NULL);
}

static void
test_aliases(Fixture *f, gconstpointer data)
{
	assert_resolves(f->cfg, "postmaster", "alice");
	assert_resolves(f->cfg, "root@home.example", "alice");
	assert_resolves(f->cfg, "abuse", "alice");
	assert_resolves(f->cfg, "info@box.example", "bob");
	assert_resolves(f->cfg, "team", "alice");
	assert_fails(f->cfg, "ghost", HM_DELIVER_ERROR_UNKNOWN_USER, "nobody");
}

static void
test_loops(Fixture *f, gconstpointer data)
{
	assert_fails(f->cfg, "loop1", HM_DELIVER_ERROR_TEMP, "alias loop");
	assert_fails(f->cfg, "loop2@home.example", HM_DELIVER_ERROR_TEMP, "alias loop");
	assert_fails(f->cfg, "self", HM_DELIVER_ERROR_TEMP, "alias loop");
}

static void
test_chain_limit(Fixture *f, gconstpointer data)
{
	assert_resolves(f->cfg, "c2", "alice");
	assert_resolves(f->cfg, "c21", "alice");
	assert_fails(f->cfg, "c1", HM_DELIVER_ERROR_TEMP, "longer than 20");
}

static void
test_unknown(Fixture *f, gconstpointer data)
{
	assert_fails(f->cfg, "nobody", HM_DELIVER_ERROR_UNKNOWN_USER, "no such user");
	assert_fails(f->cfg, "nobody@home.example", HM_DELIVER_ERROR_UNKNOWN_USER, "no such user");
	assert_fails(f->cfg, "", HM_DELIVER_ERROR_UNKNOWN_USER, NULL);
	assert_fails(f->cfg, "<>", HM_DELIVER_ERROR_UNKNOWN_USER, NULL);
	assert_fails(f->cfg, "a b@home.example", HM_DELIVER_ERROR_UNKNOWN_USER, NULL);
	assert_fails(f->cfg, "alice@", HM_DELIVER_ERROR_UNKNOWN_USER, NULL);
	assert_fails(f->cfg, "alice\n@home.example", HM_DELIVER_ERROR_UNKNOWN_USER, NULL);
}

static void
test_not_local(Fixture *f, gconstpointer data)
{
	assert_fails(f->cfg, "alice@elsewhere.example", HM_DELIVER_ERROR_UNKNOWN_USER, "not local");
	assert_fails(f->cfg, "alice@home.example.evil", HM_DELIVER_ERROR_UNKNOWN_USER, "not local");
	/* An alias forwarding off the box is the relay's business. */
	assert_fails(f->cfg, "ext", HM_DELIVER_ERROR_UNKNOWN_USER, "not local");
	assert_fails(f->cfg, "ext@home.example", HM_DELIVER_ERROR_UNKNOWN_USER,
	             "someone@far.example");
}

/* The relay's view: a forward is an answer, not an error. */
static void
test_expand(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *addr, *user, *forward;
	} cases[] = {
		{ "ext", NULL, "someone@far.example" },
		{ "EXT@Home.Example", NULL, "someone@far.example" },
		{ "root", "alice", NULL },
		{ "bob+x@home.example", "bob", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *user = NULL, *forward = NULL;
		g_autoptr(GError) err = NULL;

		g_assert_cmpint(hm_recipient_expand(f->cfg, cases[i].addr, &user, &forward, &err), ==, 0);
		g_assert_no_error(err);
		g_assert_cmpstr(user, ==, cases[i].user);
		g_assert_cmpstr(forward, ==, cases[i].forward);
	}
	{
		g_autofree char *user = NULL, *forward = NULL;
		g_autoptr(GError) err = NULL;

		g_assert_cmpint(hm_recipient_expand(f->cfg, "ghost", &user, &forward, &err), ==, -1);
		g_assert_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_UNKNOWN_USER);
		g_assert_null(user);
		g_assert_null(forward);
		g_clear_error(&err);
		g_assert_cmpint(hm_recipient_expand(f->cfg, "loop1", &user, &forward, &err), ==, -1);
		g_assert_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP);
		g_clear_error(&err);
		/* Only an alias forwards: a foreign address is still not local. */
		g_assert_cmpint(hm_recipient_expand(f->cfg, "x@far.example", &user, &forward, &err),
		                ==, -1);
		g_assert_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_UNKNOWN_USER);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, set_up, fn, tear_down)
	ADD("/recipient/users", test_users);
	ADD("/recipient/case", test_case);
	ADD("/recipient/addresses", test_addresses);
	ADD("/recipient/tag", test_tag);
	ADD("/recipient/aliases", test_aliases);
	ADD("/recipient/loops", test_loops);
	ADD("/recipient/chain-limit", test_chain_limit);
	ADD("/recipient/unknown", test_unknown);
	ADD("/recipient/not-local", test_not_local);
	ADD("/recipient/expand", test_expand);
#undef ADD
	return g_test_run();
}
