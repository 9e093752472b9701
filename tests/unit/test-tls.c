/* TLS client verification against a real handshake with lib/'s TLS server:
 * chain + name, self-signed refusal naming the pin, pins, TLS 1.2 minimum. */
#include <config.h>

#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "lib/conn.h"
#include "lib/error.h"
#include "lib/tls.h"

static char *tmpdir, *cert_pem, *key_pem;
/* What try_client()'s server offers; its context, when not NULL. */
static HmTlsProfile server_profile = HM_TLS_PROFILE_INTERMEDIATE;
static SSL_CTX *server_ctx;

static void
make_cert(void)
{
	g_autoptr(GError) err = NULL;
	int status = 0;
	g_autofree char *cmd = NULL, *out = NULL, *errout = NULL;

	tmpdir = g_dir_make_tmp("hm-tls-XXXXXX", &err);
	g_assert_no_error(err);
	cert_pem = g_build_filename(tmpdir, "cert.pem", NULL);
	key_pem = g_build_filename(tmpdir, "key.pem", NULL);
	cmd = g_strdup_printf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost "
	                      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
	                      "-keyout %s -out %s", key_pem, cert_pem);
	g_spawn_command_line_sync(cmd, &out, &errout, &status, &err);
	g_assert_no_error(err);
	g_assert_cmpint(status, ==, 0);
}

static void
cert_fp(guint8 fp[HM_SHA256_LEN])
{
	FILE *f = fopen(cert_pem, "r");
	X509 *x;

	g_assert_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	g_assert_nonnull(x);
	hm_tls_cert_fingerprint(x, fp);
	X509_free(x);
}

typedef struct {
	int fd;
	SSL_CTX *ctx;
	int rc;
} Server;

/* Accepts TLS, sends a greeting and echoes one line. */
static gpointer
server_thread(gpointer p)
{
	Server *s = p;
	HmConn *c = hm_conn_new(s->fd, 3000);
	HmLine l;

	s->rc = hm_conn_start_tls_server(c, s->ctx, NULL);
	if (s->rc == 0) {
		hm_conn_printf(c, NULL, "+OK ready\r\n");
		hm_conn_flush(c, NULL);
		if (hm_conn_read_line(c, 100, 0, &l, NULL) == HM_IO_OK) {
			hm_conn_printf(c, NULL, "echo %s\r\n", l.data);
			hm_conn_flush(c, NULL);
		}
	}
	hm_conn_free(c);
	return NULL;
}

/* Connects a client with the given verification policy; returns 0 if it
 * verified and exchanged a line, else -1 with *err. */
static int
try_client(SSL_CTX *client_ctx, const char *host, const guint8 *pin, GError **err)
{
	int sv[2];
	Server s = { 0 };
	GThread *t;
	HmConn *c;
	HmLine l;
	int rc;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	s.fd = sv[1];
	s.ctx = server_ctx != NULL ? server_ctx
	                           : hm_tls_server_ctx(cert_pem, key_pem, server_profile, NULL);
	g_assert_nonnull(s.ctx);
	t = g_thread_new("server", server_thread, &s);
	c = hm_conn_new(sv[0], 3000);
	rc = hm_conn_start_tls_client(c, client_ctx, host, pin, err);
	if (rc == 0) {
		g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, "+OK ready");
		hm_conn_printf(c, NULL, "hello\r\n");
		g_assert_cmpint(hm_conn_flush(c, NULL), ==, 0);
		g_assert_cmpint(hm_conn_read_line(c, 100, 0, &l, NULL), ==, HM_IO_OK);
		g_assert_cmpstr(l.data, ==, "echo hello");
	}
	hm_conn_free(c);
	g_thread_join(t);
	if (s.ctx != server_ctx)
		SSL_CTX_free(s.ctx);
	return rc;
}

/* Without SSL_CERT_FILE or SSL_CERT_DIR, the system store of a machine
 * whose CA directory has hash links (Debian's /etc/ssl/certs) reads no
 * certificate up front, and elsewhere is OpenSSL's default; with
 * SSL_CERT_FILE, that file is read. */
static void
test_system_store(void)
{
	g_autofree char *file = g_strdup(g_getenv("SSL_CERT_FILE"));
	g_autofree char *dir = g_strdup(g_getenv("SSL_CERT_DIR"));
	GDir *d = g_dir_open(X509_get_default_cert_dir(), 0, NULL);
	gboolean hashed = FALSE;
	const char *name;
	guint n;
	SSL_CTX *ctx;

	g_unsetenv("SSL_CERT_FILE");
	g_unsetenv("SSL_CERT_DIR");
	while (d != NULL && !hashed && (name = g_dir_read_name(d)) != NULL)
		hashed = g_regex_match_simple("^[0-9a-f]{8}\\.[0-9]+$", name, 0, 0);
	if (d != NULL)
		g_dir_close(d);
	ctx = hm_tls_client_ctx(NULL, NULL);
	g_assert_nonnull(ctx);
	n = sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx)));
	if (hashed) {
		g_assert_cmpuint(n, ==, 0);
	} else {   /* OpenSSL's own default, whatever this machine has */
		SSL_CTX *ref = SSL_CTX_new(TLS_client_method());

		g_assert_cmpint(SSL_CTX_set_default_verify_paths(ref), ==, 1);
		g_assert_cmpuint(n, ==, sk_X509_OBJECT_num(X509_STORE_get0_objects(
		                            SSL_CTX_get_cert_store(ref))));
		SSL_CTX_free(ref);
	}
	SSL_CTX_free(ctx);
	g_setenv("SSL_CERT_FILE", cert_pem, TRUE);
	ctx = hm_tls_client_ctx(NULL, NULL);
	g_assert_cmpint(sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))), ==, 1);
	SSL_CTX_free(ctx);
	if (file != NULL)
		g_setenv("SSL_CERT_FILE", file, TRUE);
	else
		g_unsetenv("SSL_CERT_FILE");
	if (dir != NULL)
		g_setenv("SSL_CERT_DIR", dir, TRUE);
}

static void
test_self_signed_refused(void)
{
	SSL_CTX *ctx = hm_tls_client_ctx(NULL, NULL);
	g_autoptr(GError) err = NULL;
	guint8 fp[HM_SHA256_LEN];
	g_autofree char *fptext = NULL;

	cert_fp(fp);
	fptext = hm_tls_fingerprint_format(fp);
	g_assert_cmpint(try_client(ctx, "localhost", NULL, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TLS);
	g_assert_nonnull(strstr(err->message, "self-signed"));
	g_assert_nonnull(strstr(err->message, fptext));
	SSL_CTX_free(ctx);
}

static void
test_ca_file_and_name(void)
{
	SSL_CTX *ctx = hm_tls_client_ctx(cert_pem, NULL);
	g_autoptr(GError) err = NULL;

	g_assert_nonnull(ctx);
	g_assert_cmpint(try_client(ctx, "localhost", NULL, &err), ==, 0);
	g_assert_cmpint(try_client(ctx, "127.0.0.1", NULL, &err), ==, 0);
	g_assert_cmpint(try_client(ctx, "mail.example.org", NULL, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "does not match host name mail.example.org"));
	g_clear_error(&err);
	g_assert_cmpint(try_client(ctx, "127.0.0.2", NULL, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "does not match"));
	SSL_CTX_free(ctx);
}

/* Expired and not yet valid said in words with the date, and the pin in
 * the text hm_tls_error_pin() finds: the client's clock is moved rather
 * than the certificate's dates (made 2 days valid, from now). */
static void
test_untrusted_words(void)
{
	SSL_CTX *ctx = hm_tls_client_ctx(cert_pem, NULL);
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	g_autoptr(GError) err = NULL;
	g_autofree char *fptext = NULL;
	g_autofree char *pin = NULL;
	guint8 fp[HM_SHA256_LEN];

	cert_fp(fp);
	fptext = hm_tls_fingerprint_format(fp);
	X509_VERIFY_PARAM_set_time(param, time(NULL) + 10 * 86400);
	g_assert_cmpint(try_client(ctx, "localhost", NULL, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "certificate not trusted (expired on 2"));
	pin = hm_tls_error_pin(err);
	g_assert_cmpstr(pin, ==, fptext);
	g_clear_error(&err);
	X509_VERIFY_PARAM_set_time(param, time(NULL) - 10 * 86400);
	g_assert_cmpint(try_client(ctx, "localhost", NULL, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "certificate not trusted (not valid before 2"));
	g_clear_error(&err);
	g_set_error(&err, HM_ERROR, HM_ERROR_TLS, "TLS: handshake failed");
	g_assert_null(hm_tls_error_pin(err));
	g_clear_error(&err);
	g_set_error(&err, HM_ERROR, HM_ERROR_TLS, "pin sha256:AB:CD to trust it");
	g_assert_null(hm_tls_error_pin(err));
	SSL_CTX_free(ctx);
}

static void
test_pin(void)
{
	SSL_CTX *ctx = hm_tls_client_ctx(NULL, NULL);
	g_autoptr(GError) err = NULL;
	guint8 fp[HM_SHA256_LEN];

	cert_fp(fp);
	/* A pin trusts the certificate whatever its chain and names say. */
	g_assert_cmpint(try_client(ctx, "any.name.example", fp, &err), ==, 0);
	fp[31] ^= 1;
	g_assert_cmpint(try_client(ctx, "localhost", fp, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "does not match the pinned one"));
	SSL_CTX_free(ctx);
}

static void
test_old_protocol_refused(void)
{
	SSL_CTX *ctx = hm_tls_client_ctx(cert_pem, NULL);
	g_autoptr(GError) err = NULL;

	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_set_security_level(ctx, 0);
	g_assert_cmpint(try_client(ctx, "localhost", NULL, &err), ==, -1);
	g_assert_error(err, HM_ERROR, HM_ERROR_TLS);
	SSL_CTX_free(ctx);
}

/* A client limited to one protocol version and a cipher list; then
 * whether try_client() gets through to a server with profile. */
static int
try_profile(HmTlsProfile profile, int version, const char *ciphers)
{
	SSL_CTX *ctx = hm_tls_client_ctx(cert_pem, NULL);
	g_autoptr(GError) err = NULL;
	int rc;

	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	SSL_CTX_set_security_level(ctx, 0);
	if (ciphers != NULL)
		g_assert_cmpint(SSL_CTX_set_cipher_list(ctx, ciphers), ==, 1);
	server_profile = profile;
	rc = try_client(ctx, "localhost", NULL, &err);
	server_profile = HM_TLS_PROFILE_INTERMEDIATE;
	SSL_CTX_free(ctx);
	return rc;
}

/* Mozilla's profiles: intermediate offers TLS 1.2 AEAD suites with
 * forward secrecy and TLS 1.3 (no CBC, no static RSA); modern TLS 1.3
 * only; old adds TLS 1.0 and CBC suites for clients that need them. */
static void
test_profiles(void)
{
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_INTERMEDIATE, TLS1_3_VERSION, NULL), ==, 0);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_INTERMEDIATE, TLS1_2_VERSION,
	                            "ECDHE-ECDSA-AES128-GCM-SHA256"), ==, 0);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_INTERMEDIATE, TLS1_2_VERSION,
	                            "ECDHE-ECDSA-CHACHA20-POLY1305"), ==, 0);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_INTERMEDIATE, TLS1_2_VERSION,
	                            "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384"), ==, -1);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_INTERMEDIATE, TLS1_1_VERSION, "ALL"), ==, -1);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_MODERN, TLS1_3_VERSION, NULL), ==, 0);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_MODERN, TLS1_2_VERSION,
	                            "ECDHE-ECDSA-AES128-GCM-SHA256"), ==, -1);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_OLD, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA"),
	                ==, 0);
	g_assert_cmpint(try_profile(HM_TLS_PROFILE_OLD, TLS1_VERSION, "ECDHE-ECDSA-AES128-SHA"),
	                ==, 0);
}

static void
test_fingerprint_text(void)
{
	guint8 fp[HM_SHA256_LEN], back[HM_SHA256_LEN];
	g_autofree char *text = NULL;
	g_autofree char *lower = NULL;
	g_autoptr(GError) err = NULL;
	static const char *const bad[] = {
		"", "sha256:", "AB", "sha1:00", "zz", "0",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
		"00:01:02 03", NULL,
	};

	for (int i = 0; i < HM_SHA256_LEN; i++)
		fp[i] = (guint8)(i * 7 + 3);
	text = hm_tls_fingerprint_format(fp);
	g_assert_true(g_str_has_prefix(text, "sha256:"));
	g_assert_cmpint(hm_tls_fingerprint_parse(text, back, NULL), ==, 0);
	g_assert_cmpmem(fp, sizeof(fp), back, sizeof(back));
	lower = g_ascii_strdown(text + 7, -1);
	g_strdelimit(lower, ":", ':');
	g_assert_cmpint(hm_tls_fingerprint_parse(lower, back, NULL), ==, 0);
	g_assert_cmpmem(fp, sizeof(fp), back, sizeof(back));
	g_assert_cmpint(hm_tls_fingerprint_parse(
	    "000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f", back, NULL), ==, 0);
	g_assert_cmpuint(back[31], ==, 0x1f);
	for (int i = 0; bad[i] != NULL; i++) {
		g_assert_cmpint(hm_tls_fingerprint_parse(bad[i], back, &err), ==, -1);
		g_assert_error(err, HM_ERROR, HM_ERROR_PARSE);
		g_clear_error(&err);
	}
}

static void
test_server_ctx_errors(void)
{
	g_autoptr(GError) err = NULL;

	g_assert_null(hm_tls_server_ctx("/nonexistent/cert.pem", key_pem, HM_TLS_PROFILE_INTERMEDIATE,
	                                &err));
	g_assert_nonnull(strstr(err->message, "/nonexistent/cert.pem"));
	g_clear_error(&err);
	/* The key does not belong to... itself as a certificate file. */
	g_assert_null(hm_tls_server_ctx(cert_pem, cert_pem, HM_TLS_PROFILE_INTERMEDIATE, &err));
	g_assert_nonnull(strstr(err->message, cert_pem));
	g_clear_error(&err);
	g_assert_null(hm_tls_client_ctx("/nonexistent/ca.pem", &err));
	g_assert_nonnull(strstr(err->message, "/nonexistent/ca.pem"));
}

/* Runs script with sh -e in tmpdir. */
static void
shell(const char *script)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *out = NULL, *errout = NULL;
	const char *argv[] = { "/bin/sh", "-ec", script, NULL };
	int status = 0;

	g_spawn_sync(tmpdir, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errout,
	             &status, &err);
	g_assert_no_error(err);
	if (status != 0)
		g_error("%s: %s", script, errout);
}

static char *
in_tmp(const char *name)
{
	return g_build_filename(tmpdir, name, NULL);
}

/* hm_tls_server_new() reads the files at once, checks them (in a child
 * process) and makes the context at the first hm_tls_server_get(). */
static void
test_server_lazy(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *enc = in_tmp("enc.pem");
	g_autofree char *copy = in_tmp("copy.pem"), *copy_key = in_tmp("copy-key.pem");
	HmTlsServer *ts;
	SSL_CTX *ctx, *client;

	shell("cp cert.pem copy.pem && cp key.pem copy-key.pem");
	ts = hm_tls_server_new(copy, copy_key, HM_TLS_PROFILE_INTERMEDIATE, &err);
	g_assert_no_error(err);
	/* Read at start: the files may go (or become unreadable) after it. */
	unlink(copy);
	unlink(copy_key);
	ctx = hm_tls_server_get(ts, &err);
	g_assert_no_error(err);
	g_assert_true(hm_tls_server_get(ts, NULL) == ctx);
	server_ctx = ctx;
	client = hm_tls_client_ctx(cert_pem, NULL);
	g_assert_cmpint(try_client(client, "localhost", NULL, &err), ==, 0);
	server_ctx = NULL;
	SSL_CTX_free(client);
	hm_tls_server_free(ts);

	g_assert_null(hm_tls_server_new("/nonexistent/cert.pem", key_pem,
	                                HM_TLS_PROFILE_INTERMEDIATE, &err));
	g_assert_nonnull(strstr(err->message, "/nonexistent/cert.pem"));
	g_clear_error(&err);
	/* Found bad by the checking child, whose words come back. */
	g_assert_null(hm_tls_server_new(cert_pem, cert_pem, HM_TLS_PROFILE_INTERMEDIATE, &err));
	g_assert_nonnull(strstr(err->message, cert_pem));
	g_clear_error(&err);
	/* An encrypted key: a daemon never asks for the passphrase. */
	shell("openssl pkey -in key.pem -aes256 -passout pass:secret -out enc.pem");
	g_assert_null(hm_tls_server_new(cert_pem, enc, HM_TLS_PROFILE_INTERMEDIATE, &err));
	g_assert_nonnull(strstr(err->message, enc));
	unlink(enc);
}

/* The certificate file's chain goes to the client: with only the root
 * CA, it verifies through the intermediate the server sends, and fails
 * without it. */
static void
test_server_chain(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *root = in_tmp("root.pem"), *chain = in_tmp("chain.pem");
	g_autofree char *leaf = in_tmp("leaf.pem"), *leaf_key = in_tmp("leaf.key");
	SSL_CTX *client;
	HmTlsServer *ts;

	shell("set -e; ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
	      "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign\\n' >ca.ext\n"
	      "printf 'subjectAltName=DNS:localhost\\n' >leaf.ext\n"
	      "openssl req -x509 $ec -days 2 -subj /CN=root -keyout root.key -out root.pem "
	      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign\n"
	      "openssl req $ec -subj /CN=inter -keyout inter.key -out inter.csr\n"
	      "openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -days 2 -extfile ca.ext "
	      "-out inter.pem 2>/dev/null\n"
	      "openssl req $ec -subj /CN=localhost -keyout leaf.key -out leaf.csr\n"
	      "openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -days 2 "
	      "-extfile leaf.ext -out leaf.pem 2>/dev/null\n"
	      "cat leaf.pem inter.pem >chain.pem\n");
	client = hm_tls_client_ctx(root, &err);
	g_assert_no_error(err);
	ts = hm_tls_server_new(chain, leaf_key, HM_TLS_PROFILE_INTERMEDIATE, &err);
	g_assert_no_error(err);
	server_ctx = hm_tls_server_get(ts, &err);
	g_assert_cmpint(try_client(client, "localhost", NULL, &err), ==, 0);
	hm_tls_server_free(ts);
	ts = hm_tls_server_new(leaf, leaf_key, HM_TLS_PROFILE_INTERMEDIATE, &err);
	g_assert_no_error(err);
	server_ctx = hm_tls_server_get(ts, &err);
	g_assert_cmpint(try_client(client, "localhost", NULL, &err), ==, -1);
	g_assert_nonnull(strstr(err->message, "not trusted"));
	server_ctx = NULL;
	hm_tls_server_free(ts);
	SSL_CTX_free(client);
	shell("rm -f root.* inter.* leaf.* chain.pem ca.ext");
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	make_cert();
	g_test_add_func("/tls/system-store", test_system_store);
	g_test_add_func("/tls/self-signed-refused", test_self_signed_refused);
	g_test_add_func("/tls/ca-file-and-name", test_ca_file_and_name);
	g_test_add_func("/tls/pin", test_pin);
	g_test_add_func("/tls/untrusted-words", test_untrusted_words);
	g_test_add_func("/tls/old-protocol-refused", test_old_protocol_refused);
	g_test_add_func("/tls/profiles", test_profiles);
	g_test_add_func("/tls/fingerprint-text", test_fingerprint_text);
	g_test_add_func("/tls/server-ctx-errors", test_server_ctx_errors);
	g_test_add_func("/tls/server-lazy", test_server_lazy);
	g_test_add_func("/tls/server-chain", test_server_chain);
	rc = g_test_run();
	unlink(cert_pem);
	unlink(key_pem);
	rmdir(tmpdir);
	return rc;
}
