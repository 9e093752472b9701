#include <config.h>

#include <errno.h>
#include <glib.h>
#include <grp.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cidr.h"
#include "lib/tls.h"
#include "conf/hmconfig.h"
#include "testutil.h"

/* One temporary directory per test, holding t.conf and any secret files. */
typedef struct {
	char *dir;
	char *path;
	GPtrArray *warnings;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	f->dir = hm_test_tmpdir("hm-test-config");
	f->path = g_build_filename(f->dir, "t.conf", NULL);
	f->warnings = g_ptr_array_new_with_free_func(g_free);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	hm_test_remove_tree(f->dir);
	g_free(f->dir);
	g_free(f->path);
	g_ptr_array_unref(f->warnings);
}

static void
collect(const char *line, gpointer data)
{
	g_ptr_array_add(data, g_strdup(line));
}

static void
write_file(const char *path, const char *data, gssize len, int mode)
{
	GError *err = NULL;

	g_file_set_contents(path, data, len, &err);
	g_assert_no_error(err);
	g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

static HmConfig *
load_text_mode(Fixture *f, const char *text, int mode, guint flags, GError **err)
{
	write_file(f->path, text, -1, mode);
	return hm_config_load_flags(f->path, flags, collect, f->warnings, err);
}

static HmConfig *
load_text(Fixture *f, const char *text, guint flags, GError **err)
{
	return load_text_mode(f, text, 0644, flags, err);
}

/* Loads text and asserts the error is exactly "<path>:" followed by want. */
static void
expect_error(Fixture *f, const char *text, const char *want)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, text, 0, &err);
	g_autofree char *full = g_strconcat(f->path, want, NULL);

	g_assert_null(cfg);
	g_assert_nonnull(err);
	g_assert_cmpstr(err->message, ==, full);
}

static void
expect_warning(Fixture *f, const char *want)
{
	g_autofree char *full = g_strconcat(f->path, want, NULL);

	for (guint i = 0; i < f->warnings->len; i++)
		if (strcmp(g_ptr_array_index(f->warnings, i), full) == 0)
			return;
	for (guint i = 0; i < f->warnings->len; i++)
		g_test_message("warning: %s", (char *)g_ptr_array_index(f->warnings, i));
	g_error("no warning \"%s\"", full);
}

#define HOST "hostname = \"box.example\";\n"

static void
test_wrong_types(Fixture *f, gconstpointer data)
{
	expect_error(f, HOST "relay = {\n smarthosts = (\n  { host = \"smtp.example\";\n"
	             "    port = \"587\"; }\n );\n};\n",
	             ":5: relay.smarthosts.[0].port: must be an integer");
	expect_error(f, HOST "relay = { rewrite_header_from = 1; };\n",
	             ":2: relay.rewrite_header_from: must be a boolean (true or false)");
	expect_error(f, "hostname = 42;\n", ":1: hostname: must be a string");
	expect_error(f, HOST "relay = [ \"x\" ];\n", ":2: relay: must be a group ({ ... })");
	expect_error(f, HOST "relay = { listen = \"127.0.0.1:25\"; };\n",
	             ":2: relay.listen: must be a list ([ \"...\", ... ])");
	expect_error(f, HOST "relay = { listen = ( \"127.0.0.1:25\", 25 ); };\n",
	             ":2: relay.listen.[1]: must be a string");
	expect_error(f, HOST "users = ( \"alice\" );\n", ":2: users.[0]: must be a group ({ ... })");
	expect_error(f, HOST "fetcher = { interval = 300.0; };\n",
	             ":2: fetcher.interval: must be an integer");
}

static void
test_unknown_keys(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, HOST "relay = {\n  lisen = [ \"127.0.0.1:25\" ];\n};\n"
	                                    "colour = \"blue\";\n"
	                                    "users = ( { name = \"a\"; pasword = \"x\"; } );\n",
	                                    0, &err);

	g_assert_no_error(err);
	g_assert_nonnull(cfg);
	g_assert_cmpuint(f->warnings->len, ==, 3);
	expect_warning(f, ":3: relay.lisen: unknown key");
	expect_warning(f, ":5: colour: unknown key");
	expect_warning(f, ":6: users.[0].pasword: unknown key");
}

static void
test_syntax(Fixture *f, gconstpointer data)
{
	expect_error(f, "hostname = box.example;\n", ":1: syntax error");
	expect_error(f, HOST "\nrelay = { listen = [ \"127.0.0.1:25 ]; };\n", ":4: syntax error");
	expect_error(f, HOST "hostname = \"b.example\";\n",
	             ":2: syntax error: duplicate setting name");
	expect_error(f, HOST "@include \"missing.conf\"\n",
	             ":2: syntax error: cannot open include file");
}

static void
test_ranges(Fixture *f, gconstpointer data)
{
	expect_error(f, HOST "relay = { smarthosts = (\n { host = \"smtp.example\"; port = 70000; } ); };\n",
	             ":3: relay.smarthosts.[0].port: must be 1-65535");
	expect_error(f, HOST "relay = { smarthosts = (\n { host = \"smtp.example\"; port = 0; } ); };\n",
	             ":3: relay.smarthosts.[0].port: must be 1-65535");
	/* libconfig 1.5 would hand these over as 25 and 1024. */
	expect_error(f, HOST "relay = { smarthosts = (\n { host = \"smtp.example\"; port = 4294967321; } ); };\n",
	             ":3: relay.smarthosts.[0].port: must be 1-65535");
	expect_error(f, HOST "relay = {\n max_message_size = 4294968320; };\n",
	             ":3: relay.max_message_size: must be 1024-2147483648");
	expect_error(f, HOST "relay = {\n max_message_size = 99999999999999999999999; };\n",
	             ":3: relay.max_message_size: must be 1024-2147483648");
	expect_error(f, HOST "relay = {\n max_message_size = 100; };\n",
	             ":3: relay.max_message_size: must be 1024-2147483648");
	expect_error(f, HOST "fetcher = { interval = -5; };\n",
	             ":2: fetcher.interval: must be 10-86400");
	expect_error(f, HOST "relay = { retry = { first = 0; }; };\n",
	             ":2: relay.retry.first: must be 1-7776000");
}

static void
test_large_values(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, HOST "relay = { max_message_size = 2147483648L; };\n"
	                                    "fetcher = { accounts = ( { protocol = \"imap\"; "
	                                    "host = \"imap.example\"; user = \"u\"; password = \"p\"; "
	                                    "to = \"a@b.example\"; max_size = 10000000000L; } ); };\n",
	                                    0, &err);

	g_assert_no_error(err);
	g_assert_cmpuint(cfg->relay.max_message_size, ==, 2147483648u);
	g_assert_cmpuint(cfg->fetcher.accounts[0].max_size, ==, 10000000000u);
}

static void
test_bad_cidr(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) cerr = NULL;
	g_autofree char *want = NULL;
	HmCidr c;

	g_assert_cmpint(hm_cidr_parse("192.168.1.5/24", &c, &cerr), ==, -1);
	want = g_strconcat(":3: relay.trusted_networks.[1]: ", cerr->message, NULL);
	expect_error(f, HOST "relay = { trusted_networks = [ \"127.0.0.1/32\",\n"
	             "\"192.168.1.5/24\" ]; };\n", want);
}

static void
test_empty_and_missing(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *nofile = g_build_filename(f->dir, "nope.conf", NULL);
	g_autofree char *want = g_strconcat(nofile, ": cannot read: ", g_strerror(ENOENT), NULL);
	g_autoptr(HmConfig) cfg = NULL;

	expect_error(f, "", ": hostname: required");
	expect_error(f, "// just a comment\n", ": hostname: required");
	expect_error(f, "relay = { };\n", ": hostname: required");
	expect_error(f, "hostname = \"\";\n", ":1: hostname: must not be empty");
	expect_error(f, "hostname = \"box example\";\n",
	             ":1: hostname: \"box example\" is not a domain name");
	cfg = hm_config_load(nofile, collect, f->warnings, &err);
	g_assert_null(cfg);
	g_assert_cmpstr(err->message, ==, want);
}

static void
test_binary(Fixture *f, gconstpointer data)
{
	static const char fixed[] = "hostname = \"a\0b\";\n\x01\x02\xff\xfe{{{";
	guint8 buf[512];

	write_file(f->path, fixed, sizeof(fixed) - 1, 0644);
	for (int round = 0; round < 200; round++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(HmConfig) cfg = NULL;

		if (round > 0) {
			gsize n = (gsize)g_test_rand_int_range(1, sizeof(buf));

			for (gsize i = 0; i < n; i++)
				buf[i] = (guint8)g_test_rand_int_range(0, 256);
			buf[n / 2] = '\0';
			write_file(f->path, (const char *)buf, (gssize)n, 0644);
		}
		cfg = hm_config_load(f->path, collect, f->warnings, &err);
		g_assert_null(cfg);
		g_assert_true(g_str_has_prefix(err->message, f->path));
		g_assert_null(strchr(err->message, '\n'));
	}
}

static void
test_tls_none(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	expect_error(f, HOST "fetcher = { accounts = ( { protocol = \"pop3\";\n"
	             " host = \"pop.isp.example\"; port = 110;\n tls = \"none\";\n"
	             " user = \"u\"; password = \"p\"; to = \"u@x.example\"; } ); };\n",
	             ":4: fetcher.accounts.[0].tls: \"none\" would send the password in clear to "
	             "pop.isp.example; use \"tls\" or \"starttls\", or set allow_plaintext = true");
	expect_error(f, HOST "relay = { smarthosts = ( { host = \"smtp.example\"; tls = \"plain\"; } ); };\n",
	             ":2: relay.smarthosts.[0].tls: must be \"tls\", \"starttls\" or \"none\"");
	cfg = load_text(f, HOST "fetcher = { accounts = (\n"
	                "{ protocol = \"pop3\"; host = \"127.0.0.1\"; tls = \"none\"; user = \"u\"; "
	                "password = \"p\"; to = \"u@x.example\"; },\n"
	                "{ name = \"lan\"; protocol = \"imap\"; host = \"nas.lan\"; tls = \"none\"; "
	                "allow_plaintext = true; user = \"u\"; password = \"p\"; to = \"u@x.example\"; }\n"
	                "); };\n", 0, &err);
	g_assert_no_error(err);
	g_assert_cmpint(cfg->fetcher.accounts[0].ep.tls, ==, HM_TLS_MODE_NONE);
	g_assert_cmpuint(cfg->fetcher.accounts[0].ep.port, ==, 110);
	g_assert_cmpuint(cfg->fetcher.accounts[1].ep.port, ==, 143);
	g_assert_true(cfg->fetcher.accounts[1].ep.allow_plaintext);
}

/* The rule the loader applies to tls = "none", as `homemail setup` asks
 * it at its question. */
static void
test_plaintext_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *why = hm_config_plaintext_refused("pop.isp.example", FALSE);

	g_assert_cmpstr(why, ==,
	                "\"none\" would send the password in clear to pop.isp.example; use "
	                "\"tls\" or \"starttls\", or set allow_plaintext = true");
	g_assert_null(hm_config_plaintext_refused("pop.isp.example", TRUE));
	g_assert_null(hm_config_plaintext_refused("127.0.0.2", FALSE));
	g_assert_null(hm_config_plaintext_refused("::1", FALSE));
	g_assert_null(hm_config_plaintext_refused("localhost", FALSE));
}

static void
test_bad_fingerprint(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) ferr = NULL;
	g_autofree char *want = NULL;
	guint8 pin[HM_SHA256_LEN];

	g_assert_cmpint(hm_tls_fingerprint_parse("sha256:AB:CD", pin, &ferr), ==, -1);
	want = g_strconcat(":3: relay.smarthosts.[0].fingerprint: ", ferr->message, NULL);
	expect_error(f, HOST "relay = { smarthosts = ( { host = \"smtp.example\";\n"
	             "  fingerprint = \"sha256:AB:CD\"; } ); };\n", want);
}

static void
test_password_and_file(Fixture *f, gconstpointer data)
{
	expect_error(f, HOST "relay = { smarthosts = ( { host = \"smtp.example\"; user = \"u\";\n"
	             "  password = \"p\";\n  password_file = \"secret\"; } ); };\n",
	             ":4: relay.smarthosts.[0].password_file: cannot be used together with password");
	expect_error(f, HOST "relay = { smarthosts = ( {\n host = \"smtp.example\"; user = \"u\"; } ); };\n",
	             ":2: relay.smarthosts.[0].password_file: required with user (or password)");
}

#define BAD_HASH "must be a crypt(3) hash of a supported scheme (yescrypt, sha512-crypt...); " \
	"set it with `homemail passwd`"

/* The loader checks a user's hash as setup does before writing one
 * (hm_password_is_hash()): what no login could match is an error at its
 * line, not a refusal at each login. */
static void
test_password_hash(Fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		"$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc.",  /* md5-crypt: weak */
		"$x$salt$hash",                        /* unknown scheme */
		"$6$saltsalt$",                        /* no hash */
		"$6$salt",                             /* no hash */
		"$y$j9T$salt$ha\\\\sh",               /* not crypt(3)'s alphabet */
		"$y$j9T$salt$h~sh",
		"$6$salt$h\xc3\xa9sh",
		"$6$salt$ha sh",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf(HOST "users = (\n { name = \"alice\";\n"
		                                        "   password = \"%s\"; }\n);\n", bad[i]);

		expect_error(f, text, ":4: users.[0].password: " BAD_HASH);
	}
}

static void
test_users(Fixture *f, gconstpointer data)
{
	expect_error(f, HOST "users = (\n { name = \"alice\"; },\n { name = \"bob\"; },\n"
	             " { name = \"alice\"; }\n);\n",
	             ":5: users.[2].name: duplicate name \"alice\" (first at line 3)");
	expect_error(f, HOST "users = (\n { name = \"alice\";\n password = \"hunter2\"; }\n);\n",
	             ":4: users.[0].password: " BAD_HASH);
	expect_error(f, HOST "users = ( { name = \"../x\"; } );\n",
	             ":2: users.[0].name: must be 1-64 letters, digits, '.', '_' or '-', "
	             "not starting with '.' or '-'");
	expect_error(f, HOST "relay = { smarthosts = (\n { host = \"a.example\"; },\n"
	             " { host = \"a.example\"; } ); };\n",
	             ":4: relay.smarthosts.[1]: duplicate name \"a.example\" (first at line 3)");
}

static void
test_aliases(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, HOST "users = ( { name = \"alice\"; } );\n"
	                                    "aliases = {\n root = \"alice\";\n postmaster = \"root\";\n"
	                                    " ghost = \"casper\";\n fwd = \"x@elsewhere.example\";\n"
	                                    " lost = \"nobody@box.example\";\n};\n", 0, &err);

	g_assert_no_error(err);
	g_assert_cmpuint(cfg->n_aliases, ==, 5);
	g_assert_cmpuint(f->warnings->len, ==, 2);
	expect_warning(f, ":6: aliases.ghost: \"casper\" is no user, alias or address: "
	               "mail to it will bounce");
	expect_warning(f, ":8: aliases.lost: \"nobody@box.example\" is no user, alias or address: "
	               "mail to it will bounce");
}

static void
test_deliver(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *text;
		HmDeliverKind kind;
		const char *host;
		guint port;
		const char *socket;  /* relative to the fixture dir */
	} cases[] = {
		{ "smtp:127.0.0.1:2525", HM_DELIVER_SMTP, "127.0.0.1", 2525, NULL },
		{ "lmtp:[::1]:24", HM_DELIVER_LMTP, "::1", 24, NULL },
		{ "lmtp:/run/dovecot/lmtp", HM_DELIVER_LMTP, NULL, 0, "/run/dovecot/lmtp" },
		{ "lmtp:run/lmtp.sock", HM_DELIVER_LMTP, NULL, 0, "run/lmtp.sock" },
		{ "local", HM_DELIVER_LOCAL, NULL, 0, NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) err = NULL;
		g_autofree char *text = g_strdup_printf(HOST "fetcher = { deliver = \"%s\"; };\n",
		                                        cases[i].text);
		g_autoptr(HmConfig) cfg = load_text(f, text, 0, &err);
		g_autofree char *sock = NULL;

		g_assert_no_error(err);
		g_assert_cmpint(cfg->fetcher.deliver_kind, ==, cases[i].kind);
		g_assert_cmpstr(cfg->fetcher.deliver_host, ==, cases[i].host);
		g_assert_cmpuint(cfg->fetcher.deliver_port, ==, cases[i].port);
		if (cases[i].socket != NULL)
			sock = g_canonicalize_filename(cases[i].socket, f->dir);
		g_assert_cmpstr(cfg->fetcher.deliver_socket, ==, sock);
	}
	expect_error(f, HOST "fetcher = { deliver = \"smtp:host\"; };\n",
	             ":2: fetcher.deliver: \"host\": expected HOST:PORT (IPv6 as [ADDR]:PORT)");
	expect_error(f, HOST "fetcher = { deliver = \"pipe:/bin/sh\"; };\n",
	             ":2: fetcher.deliver: must be \"smtp:HOST:PORT\", \"lmtp:HOST:PORT\", "
	             "\"lmtp:/path/socket\" or \"local\"");
}

static void
test_defaults(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, "hostname = \"Box.Example\";\n", 0, &err);

	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 0);
	g_assert_cmpstr(cfg->hostname, ==, "box.example");
	g_assert_cmpstr(cfg->state_dir, ==, "/var/lib/homemail");
	g_assert_cmpstr(cfg->mail_dir, ==, "/var/lib/homemail/mail");
	g_assert_cmpuint(g_strv_length(cfg->local_domains), ==, 2);
	g_assert_true(hm_config_is_local_domain(cfg, "BOX.example"));
	g_assert_true(hm_config_is_local_domain(cfg, "localhost"));
	g_assert_null(cfg->tls_cert);
	g_assert_null(cfg->run_as);
	g_assert_false(cfg->use_syslog);
	g_assert_cmpuint(cfg->n_users, ==, 0);
	g_assert_cmpuint(cfg->relay.n_listen, ==, 1);
	g_assert_cmpstr(cfg->relay.listen[0].host, ==, "127.0.0.1");
	g_assert_cmpuint(cfg->relay.listen[0].port, ==, 25);
	g_assert_cmpuint(cfg->relay.n_trusted_networks, ==, 2);
	g_assert_cmpuint(cfg->relay.trusted_networks[0].prefix, ==, 32);
	g_assert_cmpuint(cfg->relay.n_allow_plaintext_from, ==, 2);
	g_assert_cmpuint(cfg->relay.max_message_size, ==, 52428800);
	g_assert_true(cfg->relay.rewrite_header_from);
	g_assert_cmpuint(cfg->relay.retry.first, ==, 300);
	g_assert_cmpuint(cfg->relay.retry.max_interval, ==, 3600);
	g_assert_cmpuint(cfg->relay.retry.warn_after, ==, 14400);
	g_assert_cmpuint(cfg->relay.retry.give_up_after, ==, 432000);
	g_assert_cmpuint(cfg->fetcher.interval, ==, 300);
	g_assert_cmpint(cfg->fetcher.deliver_kind, ==, HM_DELIVER_SMTP);
	g_assert_cmpstr(cfg->fetcher.deliver_host, ==, "127.0.0.1");
	g_assert_cmpuint(cfg->fetcher.deliver_port, ==, 25);
	g_assert_cmpuint(cfg->popd.n_listen, ==, 1);
	g_assert_cmpuint(cfg->popd.listen[0].port, ==, 110);
	g_assert_cmpuint(cfg->popd.n_allow_plaintext_from, ==, 2);
	g_assert_cmpuint(cfg->dyndns.interval, ==, 300);
	g_assert_cmpstr(cfg->dyndns.detect[0], ==, "web");
	g_assert_null(cfg->dyndns.detect[1]);
	g_assert_cmpuint(cfg->dyndns.refresh_days, ==, 25);
	g_assert_cmpuint(cfg->dyndns.n_records, ==, 0);
}

static const char full_conf[] =
	"hostname = \"box.dyn.example\";\n"
	"state_dir = \"state\";\n"
	"local_domains = [ \"Home.Example\", \"box.dyn.example\" ];\n"
	"tls = { cert = \"tls/cert.pem\"; key = \"/etc/k.pem\"; };\n"
	"run_as = \"homemail\";\n"
	"log = \"syslog\";\n"
	"users = (\n"
	"  { name = \"alice\"; password = \"$6$salt$hash\";\n"
	"    addresses = [ \"Alice@HOME.example\" ]; send_as = \"alice@isp.example\";\n"
	"    mail_format = \"mbox\"; },\n"
	"  { name = \"bob\"; }\n"
	");\n"
	"aliases = { postmaster = \"alice\"; };\n"
	"relay = {\n"
	"  listen = [ \"127.0.0.1:2525\", \"[::1]:2525\", \"127.0.0.1:4465/tls\" ];\n"
	"  trusted_networks = [ \"192.168.1.0/24\" ];\n"
	"  allow_plaintext_from = [ \"::1/128\" ];\n"
	"  max_message_size = 1048576;\n"
	"  rewrite_header_from = false;\n"
	"  smarthosts = (\n"
	"    { name = \"isp\"; host = \"smtp.isp.example\"; tls = \"tls\"; user = \"alice@isp.example\";\n"
	"      password_file = \"secrets/isp\"; ca_file = \"ca.pem\";\n"
	"      fingerprint = \"sha256:000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F\";\n"
	"      senders = [ \"*@isp.example\" ]; },\n"
	"    { host = \"127.0.0.1\"; port = 2526; tls = \"none\"; }\n"
	"  );\n"
	"  retry = { first = 60; max_interval = 600; warn_after = 3600; give_up_after = 7200; };\n"
	"};\n"
	"fetcher = {\n"
	"  interval = 60;\n"
	"  deliver = \"lmtp:127.0.0.1:24\";\n"
	"  accounts = (\n"
	"    { name = \"isp\"; protocol = \"imap\"; host = \"imap.isp.example\"; port = 143;\n"
	"      user = \"alice@isp.example\"; password_file = \"secrets/isp\";\n"
	"      folders = [ \"INBOX\", \"Spam\" ]; keep = true; idle = true; max_size = 1000;\n"
	"      to = \"alice\"; },\n"
	"    { name = \"pop\"; protocol = \"pop3\"; host = \"pop.isp.example\"; user = \"b\";\n"
	"      password = \"inline-pop\"; to = \"bob@home.example\"; }\n"
	"  );\n"
	"};\n"
	"popd = { listen = [ \"127.0.0.1:1110\" ]; allow_plaintext_from = [ \"127.0.0.1/32\" ]; };\n"
	"dyndns = {\n"
	"  interval = 600; detect = [ \"interface:eth0\", \"router\", \"static:2001:db8::1\" ];\n"
	"  detect_url4 = \"https://ip4.example/\"; router_url = \"natpmp://192.168.1.1\";\n"
	"  refresh_days = 7; allow_private = true;\n"
	"  records = (\n"
	"    { provider = \"rfc2136\"; server = \"ns1.example:53\"; zone = \"dyn.example\";\n"
	"      hostname = \"box.dyn.example\"; tsig_name = \"k\"; tsig_algorithm = \"hmac-sha512\";\n"
	"      tsig_secret_file = \"secrets/tsig\"; ttl = 120; ipv6 = true; },\n"
	"    { provider = \"duckdns\"; hostname = \"box.duckdns.example\"; token = \"tok\";\n"
	"      ipv4 = false; ipv6 = true; }\n"
	"  );\n"
	"};\n";

static void
check_full_top(Fixture *f, const HmConfig *cfg)
{
	g_autofree char *state = g_build_filename(f->dir, "state", NULL);
	g_autofree char *mail = g_build_filename(f->dir, "state", "mail", NULL);
	g_autofree char *cert = g_build_filename(f->dir, "tls", "cert.pem", NULL);
	const HmUserConf *alice = hm_config_find_user(cfg, "alice");

	g_assert_cmpstr(cfg->file, ==, f->path);
	g_assert_cmpstr(cfg->state_dir, ==, state);
	g_assert_cmpstr(cfg->mail_dir, ==, mail);
	g_assert_cmpstr(cfg->local_domains[0], ==, "home.example");
	g_assert_cmpstr(cfg->tls_cert, ==, cert);
	g_assert_cmpstr(cfg->tls_key, ==, "/etc/k.pem");
	g_assert_cmpstr(cfg->run_as, ==, "homemail");
	g_assert_true(cfg->use_syslog);
	g_assert_cmpuint(cfg->n_users, ==, 2);
	g_assert_nonnull(alice);
	g_assert_cmpstr(alice->password_hash, ==, "$6$salt$hash");
	g_assert_cmpstr(alice->addresses[0], ==, "Alice@home.example");
	g_assert_null(alice->addresses[1]);
	g_assert_cmpstr(alice->send_as, ==, "alice@isp.example");
	g_assert_cmpint(alice->mail_format, ==, HM_MAIL_FORMAT_MBOX);
	g_assert_cmpint(alice->line, ==, 8);
	g_assert_null(hm_config_find_user(cfg, "bob")->password_hash);
	g_assert_cmpint(hm_config_find_user(cfg, "bob")->mail_format, ==, HM_MAIL_FORMAT_MAILDIR);
	g_assert_null(hm_config_find_user(cfg, "carol"));
	g_assert_cmpstr(cfg->aliases[0].name, ==, "postmaster");
	g_assert_cmpstr(cfg->aliases[0].target, ==, "alice");
}

static void
check_full_relay(Fixture *f, const HmConfig *cfg, const char *secret)
{
	const HmRelayConf *r = &cfg->relay;
	const HmSmarthostConf *h = &r->smarthosts[0];
	g_autofree char *sfile = g_build_filename(f->dir, "secrets", "isp", NULL);
	g_autofree char *ca = g_build_filename(f->dir, "ca.pem", NULL);

	g_assert_cmpuint(r->n_listen, ==, 3);
	g_assert_cmpstr(r->listen[1].host, ==, "::1");
	g_assert_true(r->listen[2].tls);
	g_assert_cmpuint(r->n_trusted_networks, ==, 1);
	g_assert_cmpuint(r->trusted_networks[0].prefix, ==, 24);
	g_assert_cmpint(r->allow_plaintext_from[0].family, ==, AF_INET6);
	g_assert_cmpuint(r->max_message_size, ==, 1048576);
	g_assert_false(r->rewrite_header_from);
	g_assert_cmpuint(r->n_smarthosts, ==, 2);
	g_assert_cmpstr(h->name, ==, "isp");
	g_assert_cmpuint(h->ep.port, ==, 465);
	g_assert_cmpint(h->ep.tls, ==, HM_TLS_MODE_TLS);
	g_assert_cmpstr(h->ep.password.value, ==, secret);
	g_assert_cmpstr(h->ep.password.file, ==, sfile);
	g_assert_cmpstr(h->ep.ca_file, ==, ca);
	g_assert_true(h->ep.has_pin);
	for (guint i = 0; i < HM_SHA256_LEN; i++)
		g_assert_cmpuint(h->ep.pin[i], ==, i);
	g_assert_cmpstr(h->senders[0], ==, "*@isp.example");
	g_assert_cmpstr(r->smarthosts[1].name, ==, "127.0.0.1");
	g_assert_cmpint(r->smarthosts[1].ep.tls, ==, HM_TLS_MODE_NONE);
	g_assert_null(r->smarthosts[1].ep.user);
	g_assert_null(r->smarthosts[1].senders[0]);
	g_assert_cmpuint(r->retry.first, ==, 60);
	g_assert_cmpuint(r->retry.give_up_after, ==, 7200);
}

static void
check_full_rest(Fixture *f, const HmConfig *cfg, const char *secret)
{
	const HmAccountConf *a = &cfg->fetcher.accounts[0], *p = &cfg->fetcher.accounts[1];
	const HmDnsRecordConf *r = &cfg->dyndns.records[0];

	g_assert_cmpuint(cfg->fetcher.interval, ==, 60);
	g_assert_cmpint(cfg->fetcher.deliver_kind, ==, HM_DELIVER_LMTP);
	g_assert_cmpuint(cfg->fetcher.deliver_port, ==, 24);
	g_assert_cmpint(a->protocol, ==, HM_PROTO_IMAP);
	g_assert_cmpint(a->ep.tls, ==, HM_TLS_MODE_STARTTLS);
	g_assert_cmpstr(a->ep.password.value, ==, secret);
	g_assert_cmpstr(a->folders[1], ==, "Spam");
	g_assert_true(a->keep && a->idle);
	g_assert_cmpuint(a->max_size, ==, 1000);
	g_assert_cmpstr(a->to, ==, "alice");
	g_assert_cmpint(p->protocol, ==, HM_PROTO_POP3);
	g_assert_cmpuint(p->ep.port, ==, 995);
	g_assert_cmpint(p->ep.tls, ==, HM_TLS_MODE_TLS);
	g_assert_cmpstr(p->ep.password.value, ==, "inline-pop");
	g_assert_null(p->ep.password.file);
	g_assert_cmpstr(p->folders[0], ==, "INBOX");
	g_assert_false(p->keep || p->idle);
	g_assert_cmpuint(cfg->popd.n_listen, ==, 1);
	g_assert_cmpuint(cfg->popd.listen[0].port, ==, 1110);
	g_assert_cmpuint(cfg->dyndns.interval, ==, 600);
	g_assert_cmpstr(cfg->dyndns.detect[0], ==, "interface:eth0");
	g_assert_cmpstr(cfg->dyndns.detect[2], ==, "static:2001:db8::1");
	g_assert_null(cfg->dyndns.detect[3]);
	g_assert_cmpstr(cfg->dyndns.detect_url4[0], ==, "https://ip4.example/");
	g_assert_null(cfg->dyndns.detect_url4[1]);
	g_assert_cmpstr(cfg->dyndns.router_url, ==, "natpmp://192.168.1.1");
	g_assert_cmpuint(cfg->dyndns.refresh_days, ==, 7);
	g_assert_true(cfg->dyndns.allow_private);
	g_assert_null(cfg->dyndns.detect_url6);
	g_assert_cmpstr(r->provider, ==, "rfc2136");
	g_assert_cmpstr(r->zone, ==, "dyn.example");
	g_assert_cmpstr(r->tsig_algorithm, ==, "hmac-sha512");
	g_assert_cmpstr(r->tsig_secret.value, ==, "dHNpZw==");
	g_assert_cmpuint(r->ttl, ==, 120);
	g_assert_true(r->ipv4 && r->ipv6);
	g_assert_false(cfg->dyndns.records[1].ipv4);
	g_assert_cmpuint(cfg->dyndns.records[1].ttl, ==, 60);
	g_assert_cmpstr(cfg->dyndns.records[1].password.value, ==, "tok");
}

static void
write_secrets(Fixture *f, const char *secret, int mode)
{
	g_autofree char *sdir = g_build_filename(f->dir, "secrets", NULL);
	g_autofree char *isp = g_build_filename(sdir, "isp", NULL);
	g_autofree char *tsig = g_build_filename(sdir, "tsig", NULL);
	g_autofree char *line = g_strconcat(secret, "\n", NULL);

	g_assert_cmpint(g_mkdir(sdir, 0700), ==, 0);
	write_file(isp, line, -1, mode);
	write_file(tsig, "dHNpZw==\r\n", -1, 0600);
}

static void
test_full(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	write_secrets(f, "s3cret value", 0600);
	/* It holds secrets inline: mode 0600, as it should be. */
	cfg = load_text_mode(f, full_conf, 0600, 0, &err);
	g_assert_no_error(err);
	for (guint i = 0; i < f->warnings->len; i++)
		g_test_message("warning: %s", (char *)g_ptr_array_index(f->warnings, i));
	g_assert_cmpuint(f->warnings->len, ==, 0);
	check_full_top(f, cfg);
	check_full_relay(f, cfg, "s3cret value");
	check_full_rest(f, cfg, "s3cret value");
}

/* Invariant 8: no message ever carries a secret's value. */
static void
test_secret_not_in_messages(Fixture *f, gconstpointer data)
{
	static const char secret[] = "Tr0ub4dor-SECRET";
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	g_autofree char *isp = g_build_filename(f->dir, "secrets", "isp", NULL);
	g_autofree char *two = g_strconcat(secret, "\nsecond line\n", NULL);
	g_autofree char *bad = NULL, *warn = NULL;

	write_secrets(f, secret, 0644);
	/* Only the secret files are open to others here (the config's own
	 * inline secrets: test_inline_secret_exposed). */
	cfg = load_text_mode(f, full_conf, 0600, 0, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 2);
	warn = g_strconcat(":22: relay.smarthosts.[0].password_file: ", isp,
	                   " is readable by group or others (chmod 600 it)", NULL);
	expect_warning(f, warn);
	for (guint i = 0; i < f->warnings->len; i++)
		g_assert_null(strstr(g_ptr_array_index(f->warnings, i), secret));
	write_file(isp, two, -1, 0600);
	g_clear_pointer(&cfg, hm_config_free);
	g_clear_error(&err);
	cfg = load_text_mode(f, full_conf, 0600, 0, &err);
	g_assert_null(cfg);
	bad = g_strconcat(":22: relay.smarthosts.[0].password_file: ", isp,
	                  ": must hold exactly one line", NULL);
	g_assert_cmpstr(err->message + strlen(f->path), ==, bad);
	g_assert_null(strstr(err->message, secret));
	/* An error elsewhere after an inline secret must not echo it either. */
	expect_error(f, HOST "relay = { smarthosts = ( { host = \"smtp.example\"; user = \"u\";\n"
	             "  password = \"Tr0ub4dor-SECRET\"; port = 0; } ); };\n",
	             ":3: relay.smarthosts.[0].port: must be 1-65535");
}

static void
test_missing_secret(Fixture *f, gconstpointer data)
{
	static const char text[] = HOST "relay = { smarthosts = ( { host = \"smtp.example\"; user = \"u\";\n"
	                           "  password_file = \"nope\"; } ); };\n";
	g_autofree char *nope = g_build_filename(f->dir, "nope", NULL);
	g_autofree char *want = g_strconcat(":3: relay.smarthosts.[0].password_file: ", nope,
	                                    ": cannot read: ", g_strerror(ENOENT), NULL);
	g_autofree char *wwant = g_strconcat(want, " (needed at run time)", NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	expect_error(f, text, want);
	cfg = load_text(f, text, HM_CONFIG_SECRETS_OPTIONAL, &err);
	g_assert_no_error(err);
	expect_warning(f, wwant);
	g_assert_null(cfg->relay.smarthosts[0].ep.password.value);
	g_assert_cmpstr(cfg->relay.smarthosts[0].ep.password.file, ==, nope);
}

/* HM_CONFIG_NO_SECRETS (homemail-deliver): no secret file is opened, so a
 * missing or unreadable one is neither an error nor a warning; inline
 * values stay; the settings are still checked. */
static void
test_no_secrets(Fixture *f, gconstpointer data)
{
	static const char text[] = HOST "relay = { smarthosts = (\n"
	                           " { host = \"a.example\"; user = \"u\"; password_file = \"nope\"; },\n"
	                           " { host = \"b.example\"; user = \"u\"; password = \"inline\"; } ); };\n"
	                           "dyndns = { detect = \"interface:eth0\";\n"
	                           "  records = ( { provider = \"rfc2136\"; server = \"ns.example\";\n"
	                           "  zone = \"example\"; hostname = \"h.example\"; tsig_name = \"k\";\n"
	                           "  tsig_secret_file = \"nope\"; } ); };\n";
	g_autofree char *nope = g_build_filename(f->dir, "nope", NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, text, HM_CONFIG_NO_SECRETS, &err);
	g_autoptr(HmConfig) bad = NULL;

	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 0);
	g_assert_null(cfg->relay.smarthosts[0].ep.password.value);
	g_assert_cmpstr(cfg->relay.smarthosts[0].ep.password.file, ==, nope);
	g_assert_cmpstr(cfg->relay.smarthosts[1].ep.password.value, ==, "inline");
	g_assert_null(cfg->dyndns.records[0].tsig_secret.value);
	g_assert_cmpstr(cfg->dyndns.records[0].tsig_secret.file, ==, nope);
	bad = load_text(f, HOST "relay = { smarthosts = ( { host = \"smtp.example\"; user = \"u\";\n"
	                "  password = \"p\";\n  password_file = \"nope\"; } ); };\n",
	                HM_CONFIG_NO_SECRETS, &err);
	g_assert_null(bad);
	g_assert_nonnull(strstr(err->message, ":4: relay.smarthosts.[0].password_file: cannot be "
	                                      "used together with password"));
}

static void
test_include(Fixture *f, gconstpointer data)
{
	g_autofree char *inc = g_build_filename(f->dir, "relay.conf", NULL);
	g_autofree char *want = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	write_file(inc, "relay = {\n  listen = [ \"127.0.0.1:2525\" ];\n  max_message_size = 4294968320;\n};\n",
	           -1, 0644);
	cfg = load_text(f, HOST "@include \"relay.conf\"\n", 0, &err);
	g_assert_null(cfg);
	/* libconfig names an included file as written in @include. */
	want = g_strdup("relay.conf:3: relay.max_message_size: must be 1024-2147483648");
	g_assert_cmpstr(err->message, ==, want);
	write_file(inc, "relay = { listen = [ \"127.0.0.1:2525\" ]; };\n", -1, 0644);
	g_clear_error(&err);
	cfg = load_text(f, HOST "@include \"relay.conf\"\n", 0, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(cfg->relay.listen[0].port, ==, 2525);
}

/* A group that neither root nor the user running the tests is in, for
 * files readable by "some other group"; and that user's name. */
#define OTHER_GID 65534

static char *
other_group_name(void)
{
	const struct group *gr = getgrgid(OTHER_GID);

	g_assert_nonnull(gr);
	for (char **m = gr->gr_mem; *m != NULL; m++)
		g_assert_cmpstr(*m, !=, g_get_user_name());
	g_assert_cmpuint(getegid(), !=, OTHER_GID);
	return g_strdup(gr->gr_name);
}

static void
set_mode(const char *path, int mode, gid_t gid)
{
	g_assert_cmpint(chown(path, (uid_t)-1, gid), ==, 0);
	g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

static HmConfig *
reload(Fixture *f, GError **err)
{
	g_ptr_array_set_size(f->warnings, 0);
	return hm_config_load(f->path, collect, f->warnings, err);
}

/* DESIGN.md: a secret written inline in a config that others can read is
 * warned about, once per secret, at its line, without its value. */
static void
test_inline_secret_exposed(Fixture *f, gconstpointer data)
{
	static const char text[] = HOST
		"fetcher = { accounts = ( { name = \"pop\"; protocol = \"pop3\"; host = \"pop.example\";\n"
		"  user = \"u\"; password = \"Inline-S3cret\"; to = \"a@b.example\"; } ); };\n"
		"dyndns = { detect = \"interface:eth0\"; records = ( { provider = \"rfc2136\"; server = \"ns.example\"; zone = \"z.example\";\n"
		"  hostname = \"h.z.example\"; tsig_name = \"k\"; tsig_secret = \"VFNJRy1TM2NyZXQ=\"; } ); };\n";
	g_autofree char *group = other_group_name();
	g_autofree char *w1 = g_strdup_printf(":3: fetcher.accounts.[0].password: %s, holding this "
	                                      "secret inline, is readable by group or others "
	                                      "(chmod 600 it, or move the secret into password_file)",
	                                      f->path);
	g_autofree char *w2 = g_strdup_printf(":5: dyndns.records.[0].tsig_secret: %s, holding this "
	                                      "secret inline, is readable by group or others "
	                                      "(chmod 600 it, or move the secret into "
	                                      "tsig_secret_file)", f->path);
	g_autofree char *w3 = g_strdup_printf(":3: fetcher.accounts.[0].password: %s, holding this "
	                                      "secret inline, is readable by group %s, which %s (the "
	                                      "daemons' user) is not in (chmod 600 it, or move the "
	                                      "secret into password_file, unless that group should "
	                                      "read it)", f->path, group, g_get_user_name());
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, text, 0, &err);

	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 2);
	expect_warning(f, w1);
	expect_warning(f, w2);
	for (guint i = 0; i < f->warnings->len; i++) {
		g_assert_null(strstr(g_ptr_array_index(f->warnings, i), "Inline-S3cret"));
		g_assert_null(strstr(g_ptr_array_index(f->warnings, i), "VFNJRy1TM2NyZXQ"));
	}
	g_clear_pointer(&cfg, hm_config_free);
	/* Readable by its owner alone, or also by root's group: quiet. */
	set_mode(f->path, 0600, getegid());
	cfg = reload(f, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 0);
	g_clear_pointer(&cfg, hm_config_free);
	set_mode(f->path, 0640, 0);
	cfg = reload(f, &err);
	g_assert_cmpuint(f->warnings->len, ==, 0);
	g_clear_pointer(&cfg, hm_config_free);
	/* A group the daemons' user is not in: said so, more softly. */
	set_mode(f->path, 0640, OTHER_GID);
	cfg = reload(f, &err);
	g_assert_cmpuint(f->warnings->len, ==, 2);
	expect_warning(f, w3);
}

/* An inline secret in an @include is the included file's business. */
static void
test_inline_secret_in_include(Fixture *f, gconstpointer data)
{
	g_autofree char *inc = g_build_filename(f->dir, "accounts.inc", NULL);
	g_autofree char *want = g_strdup_printf("accounts.inc:2: fetcher.accounts.[0].password: %s, "
	                                        "holding this secret inline, is readable by group or "
	                                        "others (chmod 600 it, or move the secret into "
	                                        "password_file)", inc);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	write_file(inc, "fetcher = { accounts = ( { name = \"pop\"; protocol = \"pop3\";\n"
	           "  host = \"pop.example\"; user = \"u\"; password = \"p\"; to = \"a@b.example\"; } ); };\n",
	           -1, 0644);
	cfg = load_text_mode(f, HOST "@include \"accounts.inc\"\n", 0600, 0, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(f->warnings, 0), ==, want);
}

/* The TLS key, which only the daemons load, is looked at all the same. */
static void
test_tls_key_exposed(Fixture *f, gconstpointer data)
{
	static const char text[] = HOST "tls = { cert = \"cert.pem\";\n  key = \"key.pem\"; };\n";
	g_autofree char *key = g_build_filename(f->dir, "key.pem", NULL);
	g_autofree char *group = other_group_name();
	g_autofree char *w = g_strdup_printf(":3: tls.key: %s is readable by group or others "
	                                     "(chmod 600 it)", key);
	g_autofree char *wg = g_strdup_printf(":3: tls.key: %s is readable by group %s, which %s "
	                                      "(the daemons' user) is not in (chmod 600 it, unless "
	                                      "that group should read it)", key, group,
	                                      g_get_user_name());
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, text, 0, &err);

	/* Not there yet: the daemon that loads it will say so. */
	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 0);
	g_clear_pointer(&cfg, hm_config_free);
	write_file(key, "-----BEGIN PRIVATE KEY-----\n", -1, 0644);
	cfg = reload(f, &err);
	g_assert_cmpuint(f->warnings->len, ==, 1);
	expect_warning(f, w);
	g_clear_pointer(&cfg, hm_config_free);
	set_mode(key, 0640, OTHER_GID);
	cfg = reload(f, &err);
	g_assert_cmpuint(f->warnings->len, ==, 1);
	expect_warning(f, wg);
	g_clear_pointer(&cfg, hm_config_free);
	set_mode(key, 0600, getegid());
	cfg = reload(f, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 0);
}

/* A secret file readable by a group: quiet for root's group, a note for a
 * group the daemons' user (run_as) is not in. */
static void
test_secret_file_group(Fixture *f, gconstpointer data)
{
	g_autofree char *isp = g_build_filename(f->dir, "secrets", "isp", NULL);
	g_autofree char *group = other_group_name();
	/* full_conf has run_as = "homemail": the daemons' user. */
	g_autofree char *want = g_strdup_printf(":22: relay.smarthosts.[0].password_file: %s is "
	                                        "readable by group %s, which homemail (the daemons' "
	                                        "user) is not in (chmod 600 it, unless that group "
	                                        "should read it)", isp, group);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	write_secrets(f, "pw", 0640);
	set_mode(isp, 0640, 0);
	cfg = load_text_mode(f, full_conf, 0600, 0, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, 0);
	g_clear_pointer(&cfg, hm_config_free);
	set_mode(isp, 0640, OTHER_GID);
	cfg = reload(f, &err);
	g_assert_cmpuint(f->warnings->len, ==, 2);  /* the account shares the file */
	expect_warning(f, want);
}

/* Loads text from f->path and asserts it fails with "<path>" + want. */
static void
expect_error_flags(Fixture *f, const char *text, guint flags, const char *want)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = load_text(f, text, flags, &err);
	g_autofree char *full = g_strconcat(f->path, want, NULL);

	g_assert_null(cfg);
	g_assert_nonnull(err);
	g_assert_cmpstr(err->message, ==, full);
}

/* Nothing the loader opens may block it: a FIFO (or a directory) as the
 * config, an @include at any depth or a password file is refused at once,
 * one line saying what it is. In a child with a deadline: a regression
 * would hang in open(). */
static void
test_not_regular(Fixture *f, gconstpointer data)
{
	g_autofree char *fifo = g_build_filename(f->dir, "fifo", NULL);
	g_autofree char *sub = g_build_filename(f->dir, "sub", NULL);
	g_autofree char *nest = g_build_filename(f->dir, "nest.inc", NULL);
	g_autofree char *w_fifo = NULL, *w_dir = NULL, *w_nest = NULL, *w_secret = NULL;
	g_autofree char *w_main = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	if (!hm_test_in_child(20))
		return;
	hm_test_mkfifo(fifo);
	g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
	write_file(nest, "# nested\n  @include \"fifo\"\n", -1, 0600);
	w_fifo = g_strdup_printf(":2: @include \"fifo\": %s is not a regular file (a FIFO)", fifo);
	expect_error(f, HOST "@include \"fifo\"\n", w_fifo);
	w_dir = g_strdup_printf(":2: @include \"sub\": %s is not a regular file (a directory)", sub);
	expect_error(f, HOST "@include \"sub\"\n", w_dir);
	w_nest = g_strdup_printf("nest.inc:2: @include \"fifo\": %s is not a regular file (a FIFO)",
	                         fifo);
	load_text(f, HOST "\t@include \"nest.inc\"\n", 0, &err);
	g_assert_cmpstr(err->message, ==, w_nest);
	g_clear_error(&err);
	/* Even where the secret may be missing, one that is a FIFO is wrong. */
	w_secret = g_strdup_printf(":3: relay.smarthosts.[0].password_file: %s is not a regular "
	                           "file (a FIFO)", fifo);
	expect_error_flags(f, HOST "relay = { smarthosts = ( { host = \"smtp.example\"; user = \"u\";\n"
	                   "  password_file = \"fifo\"; } ); };\n", HM_CONFIG_SECRETS_OPTIONAL, w_secret);
	w_main = g_strconcat(fifo, " is not a regular file (a FIFO)", NULL);
	cfg = hm_config_load(fifo, collect, f->warnings, &err);
	g_assert_null(cfg);
	g_assert_cmpstr(err->message, ==, w_main);
}

/* What libconfig does not open is not opened either: an @include in a
 * comment, in a string, or not at the start of its line (a syntax error);
 * and a symlink to a regular file is fine, as config and as include. */
static void
test_include_lexing(Fixture *f, gconstpointer data)
{
	g_autofree char *fifo = g_build_filename(f->dir, "fifo", NULL);
	g_autofree char *inc = g_build_filename(f->dir, "real.inc", NULL);
	g_autofree char *link = g_build_filename(f->dir, "link.inc", NULL);
	g_autofree char *conf_link = g_build_filename(f->dir, "link.conf", NULL);
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	if (!hm_test_in_child(20))
		return;
	hm_test_mkfifo(fifo);
	write_file(inc, "mail_dir = \"m\";\n", -1, 0600);
	g_assert_cmpint(symlink("real.inc", link), ==, 0);
	cfg = load_text(f, HOST "/*\n@include \"fifo\"\n*/\n# @include \"fifo\"\n"
	                "state_dir = \"a\n@include \\\"fifo\\\"\";\n"
	                "@include \"link.inc\" // @include \"fifo\"\n", 0, &err);
	g_assert_no_error(err);
	g_assert_true(g_str_has_suffix(cfg->mail_dir, "/m"));
	g_clear_pointer(&cfg, hm_config_free);
	g_assert_cmpint(symlink("t.conf", conf_link), ==, 0);
	cfg = hm_config_load(conf_link, collect, f->warnings, &err);
	g_assert_no_error(err);
	g_assert_true(g_str_has_suffix(cfg->mail_dir, "/m"));
	expect_error(f, HOST "local_domains = [ \"a.example\" ]; @include \"fifo\"\n",
	             ":2: syntax error");
}

static char *
example_path(const char *name)
{
	const char *src = g_getenv("HM_SRCDIR");
	g_autofree char *here = NULL, *unit = NULL, *tests = NULL, *top = NULL;

	if (src != NULL)
		return g_build_filename(src, "examples", name, NULL);
	here = g_canonicalize_filename(__FILE__, NULL);
	unit = g_path_get_dirname(here);
	tests = g_path_get_dirname(unit);
	top = g_path_get_dirname(tests);
	return g_build_filename(top, "examples", name, NULL);
}

/* The warnings loading demo.conf gives: none, but for the password of its
 * fetch account, which stands inline (it is public: "demo") in a file that
 * a checkout may leave readable by others. Asserts that one's text. */
static guint
demo_warnings(const char *demo)
{
	g_autoptr(GPtrArray) w = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(HmConfig) cfg = hm_config_load(demo, collect, w, NULL);
	g_autofree char *want = g_strdup_printf("%s:53: fetcher.accounts.[0].password: %s, "
	                                        "holding this secret inline, is readable by "
	                                        "group or others (chmod 600 it, or move the "
	                                        "secret into password_file)", demo, demo);
	struct stat st;

	g_assert_nonnull(cfg);
	g_assert_cmpint(stat(demo, &st), ==, 0);
	if (!(st.st_mode & S_IROTH))
		return 0;
	g_assert_cmpuint(w->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(w, 0), ==, want);
	return 1;
}

static void
test_examples(Fixture *f, gconstpointer data)
{
	g_autofree char *demo = example_path("demo.conf");
	g_autofree char *full = example_path("homemail.conf");
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) d = hm_config_load(demo, collect, f->warnings, &err);
	g_autoptr(HmConfig) h = NULL;

	g_assert_no_error(err);
	g_assert_cmpuint(f->warnings->len, ==, demo_warnings(demo));
	g_assert_nonnull(hm_config_find_user(d, "demo"));
	g_assert_true(g_str_has_suffix(d->state_dir, "/examples/demo-run/state"));
	g_assert_true(g_path_is_absolute(d->tls_cert));
	g_ptr_array_set_size(f->warnings, 0);
	h = hm_config_load_flags(full, HM_CONFIG_SECRETS_OPTIONAL, collect, f->warnings, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(h->relay.n_smarthosts, ==, 2);
	g_assert_cmpuint(h->fetcher.n_accounts, ==, 2);
	g_assert_cmpuint(h->dyndns.n_records, ==, 2);
	for (guint i = 0; i < f->warnings->len; i++)
		g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, i), "(needed at run time)"));
}

/* tls.profile: intermediate unless told, and only the three names. */
static void
test_tls_profile(Fixture *f, gconstpointer data)
{
	g_autoptr(HmConfig) def = load_text(f, HOST, 0, NULL);
	g_autoptr(HmConfig) old = NULL;

	g_assert_nonnull(def);
	g_assert_cmpint(def->tls_profile, ==, HM_TLS_PROFILE_INTERMEDIATE);
	old = load_text(f, HOST "tls = { profile = \"old\"; };\n", 0, NULL);
	g_assert_nonnull(old);
	g_assert_cmpint(old->tls_profile, ==, HM_TLS_PROFILE_OLD);
	expect_error(f, HOST "tls = { profile = \"weak\"; };\n",
	             ":2: tls.profile: must be \"intermediate\", \"modern\" or \"old\"");
}

/* Without fetcher.deliver, the fetcher injects into this config's relay. */
static void
test_deliver_default(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *listen, *host;
		guint16 port;
	} cases[] = {
		{ "\"0.0.0.0:465/tls\", \"0.0.0.0:2525\"", "127.0.0.1", 2525 },
		{ "\"[::]:587\"", "::1", 587 },
		{ "\"192.168.1.2:25\"", "192.168.1.2", 25 },
		{ "\"127.0.0.1:465/tls\"", "127.0.0.1", 25 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) err = NULL;
		g_autofree char *text = g_strdup_printf(HOST "tls = { cert = \"c.pem\"; key = \"k.pem\"; };\n"
		                                        "relay = { listen = [ %s ]; };\n",
		                                        cases[i].listen);
		g_autoptr(HmConfig) cfg = load_text(f, text, 0, &err);

		g_assert_no_error(err);
		g_assert_cmpint(cfg->fetcher.deliver_kind, ==, HM_DELIVER_SMTP);
		g_assert_cmpstr(cfg->fetcher.deliver_host, ==, cases[i].host);
		g_assert_cmpuint(cfg->fetcher.deliver_port, ==, cases[i].port);
	}
}

static void
test_relay_keys(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;

	cfg = load_text(f, HOST "relay = { dnsbl = [ \"Zen.Spamhaus.ORG\", \"bl.test\" ];\n"
	                "  dns_resolver = \"127.0.0.1:5300\"; max_recipients = 200;\n"
	                "  full_trace = true; };\n", 0, &err);
	g_assert_no_error(err);
	g_assert_cmpstr(cfg->relay.dnsbl[0], ==, "zen.spamhaus.org");
	g_assert_cmpstr(cfg->relay.dnsbl[1], ==, "bl.test");
	g_assert_null(cfg->relay.dnsbl[2]);
	g_assert_cmpstr(cfg->relay.dns_resolver, ==, "127.0.0.1:5300");
	g_assert_cmpuint(cfg->relay.max_recipients, ==, 200);
	g_assert_true(cfg->relay.full_trace);
	g_clear_pointer(&cfg, hm_config_free);
	cfg = load_text(f, HOST, 0, &err);
	g_assert_no_error(err);
	g_assert_null(cfg->relay.dnsbl);
	g_assert_null(cfg->relay.dns_resolver);
	g_assert_cmpuint(cfg->relay.max_recipients, ==, 1000);
	g_assert_false(cfg->relay.full_trace);
	expect_error(f, HOST "relay = {\n dnsbl = [ \"bad zone\" ]; };\n",
	             ":3: relay.dnsbl.[0]: not a DNS zone name: \"bad zone\"");
	expect_error(f, HOST "relay = {\n dns_resolver = \"127.0.0.1\"; };\n",
	             ":3: relay.dns_resolver: \"127.0.0.1\": expected HOST:PORT (IPv6 as [ADDR]:PORT)");
	expect_error(f, HOST "relay = {\n max_recipients = 10; };\n",
	             ":3: relay.max_recipients: must be 100-100000");
}

#define ACCT(body)                                                                                 \
	HOST "fetcher = { accounts = ( { protocol = \"imap\"; host = \"imap.example\";\n" body       \
	     " to = \"u@x.example\"; } ); };\n"

/* auth = "oauth2": presets, a custom provider, and each mistake at its line. */
static void
test_oauth2(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(HmConfig) cfg = NULL;
	const HmOauth2Conf *o;

	cfg = load_text(f, HOST "fetcher = { accounts = (\n"
	                "{ name = \"ms\"; protocol = \"imap\"; host = \"outlook.office365.com\";\n"
	                "  user = \"a@work.example\"; auth = \"oauth2\"; to = \"u@x.example\";\n"
	                "  oauth2 = { provider = \"microsoft\"; client_id = \"cid\"; "
	                "tenant = \"consumers\"; }; },\n"
	                "{ name = \"g\"; protocol = \"pop3\"; host = \"pop.gmail.com\";\n"
	                "  user = \"a@gmail.example\"; auth = \"oauth2\"; to = \"u@x.example\";\n"
	                "  oauth2 = { provider = \"google\"; client_id = \"gid\"; "
	                "client_secret = \"gsecret\"; }; } ); };\n"
	                "relay = { smarthosts = ( { host = \"idp.example\"; user = \"u\"; "
	                "auth = \"oauth2\";\n  oauth2 = { provider = \"custom\"; client_id = \"c\"; "
	                "token_url = \"https://idp.example/token\";\n"
	                "  device_url = \"https://idp.example/device\"; scope = \"mail\"; }; } ); };\n",
	                0, &err);
	g_assert_no_error(err);
	o = &cfg->fetcher.accounts[0].ep.oauth2;
	g_assert_cmpint(cfg->fetcher.accounts[0].ep.auth, ==, HM_AUTH_OAUTH2);
	g_assert_null(cfg->fetcher.accounts[0].ep.password.value);
	g_assert_cmpstr(o->token_url, ==,
	                "https://login.microsoftonline.com/consumers/oauth2/v2.0/token");
	g_assert_cmpstr(o->device_url, ==,
	                "https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode");
	g_assert_nonnull(strstr(o->scope, "https://outlook.office.com/IMAP.AccessAsUser.All"));
	g_assert_nonnull(strstr(o->scope, "offline_access"));
	g_assert_cmpint(hm_oauth2_conf_flow(o), ==, HM_OAUTH2_FLOW_DEVICE);
	o = &cfg->fetcher.accounts[1].ep.oauth2;
	g_assert_cmpstr(o->client_secret.value, ==, "gsecret");
	g_assert_cmpstr(o->scope, ==, "https://mail.google.com/");
	g_assert_cmpstr(o->token_url, ==, "https://oauth2.googleapis.com/token");
	g_assert_null(o->device_url);
	g_assert_cmpint(hm_oauth2_conf_flow(o), ==, HM_OAUTH2_FLOW_CODE);
	o = &cfg->relay.smarthosts[0].ep.oauth2;
	g_assert_cmpint(cfg->relay.smarthosts[0].ep.auth, ==, HM_AUTH_OAUTH2);
	g_assert_cmpstr(o->scope, ==, "mail");
	g_assert_null(o->authorize_url);
	g_assert_cmpint(hm_oauth2_conf_flow(o), ==, HM_OAUTH2_FLOW_DEVICE);
	g_assert_cmpint(cfg->fetcher.accounts[0].ep.auth == HM_AUTH_PASSWORD, ==, FALSE);

	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"),
	             ":2: fetcher.accounts.[0].oauth2: required with auth = \"oauth2\" "
	             "(provider, client_id)");
	expect_error(f, ACCT(" user = \"u\"; auth = \"token\";\n"),
	             ":3: fetcher.accounts.[0].auth: must be \"password\" or \"oauth2\"");
	expect_error(f, ACCT(" auth = \"oauth2\"; oauth2 = { provider = \"google\"; client_id = \"c\"; };\n"),
	             ":2: fetcher.accounts.[0].user: required with auth = \"oauth2\"");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n password = \"p\";\n"
	                     " oauth2 = { provider = \"google\"; client_id = \"c\"; };\n"),
	             ":4: fetcher.accounts.[0].password: not used with auth = \"oauth2\"");
	expect_error(f, ACCT(" user = \"u\"; password = \"p\";\n"
	                     " oauth2 = { provider = \"google\"; client_id = \"c\"; };\n"),
	             ":4: fetcher.accounts.[0].oauth2: needs auth = \"oauth2\"");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = { client_id = \"c\"; };\n"),
	             ":4: fetcher.accounts.[0].oauth2.provider: required (\"google\", \"microsoft\" "
	             "or \"custom\")");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = { provider = \"yahoo\"; client_id = \"c\"; };\n"),
	             ":4: fetcher.accounts.[0].oauth2.provider: must be \"google\", \"microsoft\" "
	             "or \"custom\"");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = { provider = \"google\"; };\n"),
	             ":4: fetcher.accounts.[0].oauth2.client_id: required");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = { provider = \"custom\"; client_id = \"c\";\n"
	                     "  token_url = \"http://idp.example/token\"; };\n"),
	             ":5: fetcher.accounts.[0].oauth2.token_url: must be an https:// URL");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = { provider = \"custom\"; client_id = \"c\";\n"
	                     "  token_url = \"https://idp.example/token\"; };\n"),
	             ":4: fetcher.accounts.[0].oauth2: a custom provider needs device_url or "
	             "authorize_url");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = { provider = \"microsoft\"; client_id = \"c\";\n"
	                     "  tenant = \"../evil\"; };\n"),
	             ":4: fetcher.accounts.[0].oauth2: tenant must be \"common\", \"consumers\", "
	             "\"organizations\", a domain or a tenant ID");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = { provider = \"google\"; client_id = \"c\";\n"
	                     "  tenant = \"common\"; };\n"),
	             ":5: fetcher.accounts.[0].oauth2.tenant: only for provider \"microsoft\"");
	expect_error(f, ACCT(" user = \"u\"; auth = \"oauth2\";\n"
	                     " oauth2 = ( \"google\" );\n"),
	             ":4: fetcher.accounts.[0].oauth2: must be a group: oauth2 = { ... }");
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(Fixture *, gconstpointer);
	} tests[] = {
		{ "/config/wrong-types", test_wrong_types },
		{ "/config/unknown-keys", test_unknown_keys },
		{ "/config/syntax", test_syntax },
		{ "/config/ranges", test_ranges },
		{ "/config/large-values", test_large_values },
		{ "/config/bad-cidr", test_bad_cidr },
		{ "/config/empty-and-missing", test_empty_and_missing },
		{ "/config/binary", test_binary },
		{ "/config/tls-none", test_tls_none },
		{ "/config/plaintext-refused", test_plaintext_refused },
		{ "/config/bad-fingerprint", test_bad_fingerprint },
		{ "/config/password-and-file", test_password_and_file },
		{ "/config/users", test_users },
		{ "/config/password-hash", test_password_hash },
		{ "/config/aliases", test_aliases },
		{ "/config/deliver", test_deliver },
		{ "/config/defaults", test_defaults },
		{ "/config/deliver-default", test_deliver_default },
		{ "/config/full", test_full },
		{ "/config/secret-not-in-messages", test_secret_not_in_messages },
		{ "/config/missing-secret", test_missing_secret },
		{ "/config/no-secrets", test_no_secrets },
		{ "/config/include", test_include },
		{ "/config/inline-secret-exposed", test_inline_secret_exposed },
		{ "/config/inline-secret-in-include", test_inline_secret_in_include },
		{ "/config/tls-key-exposed", test_tls_key_exposed },
		{ "/config/secret-file-group", test_secret_file_group },
		{ "/config/not-regular", test_not_regular },
		{ "/config/include-lexing", test_include_lexing },
		{ "/config/examples", test_examples },
		{ "/config/tls-profile", test_tls_profile },
		{ "/config/relay-keys", test_relay_keys },
		{ "/config/oauth2", test_oauth2 },
	};

	g_test_init(&argc, &argv, NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(tests); i++)
		g_test_add(tests[i].name, Fixture, NULL, fixture_set_up, tests[i].fn, fixture_tear_down);
	return g_test_run();
}
