/* Unit tests of the HTTP providers' pure parts: the Cloudflare API's JSON
 * answers and request bodies (dyndns/cloudflare-json.c) and DuckDNS's
 * OK/KO answers (dyndns/duckdns.c). */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "dyndns/cloudflare.h"
#include "dyndns/duckdns.h"
#include "conf/hmconfig.h"

/* hm_dyn_cf_answer() on a NUL-terminated body; *res is cleared first. */
static JsonNode *
answer(long status, const char *body, HmDynResult *res)
{
	hm_dyn_result_clear(res);
	memset(res, 0, sizeof(*res));
	return hm_dyn_cf_answer(status, body, strlen(body), res);
}

static void
assert_refused(long status, const char *body, HmDynOutcome want, const char *code,
               const char *words)
{
	HmDynResult res = { 0 };
	JsonNode *n = answer(status, body, &res);

	g_assert_null(n);
	g_assert_cmpint(res.outcome, ==, want);
	g_assert_cmpstr(res.code, ==, code);
	g_assert_nonnull(res.text);
	if (words != NULL && strstr(res.text, words) == NULL)
		g_error("\"%s\" not in \"%s\"", words, res.text);
	hm_dyn_result_clear(&res);
}

static void
test_cf_answer_ok(void)
{
	HmDynResult res = { 0 };
	g_autoptr(JsonNode) n = answer(200, "{\"success\":true,\"errors\":[],\"messages\":[],"
	                                    "\"result\":[{\"id\":\"abc\"}]}", &res);
	g_autoptr(JsonNode) none = NULL;

	g_assert_nonnull(n);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(n));
	g_assert_cmpuint(json_array_get_length(json_node_get_array(n)), ==, 1);
	g_assert_null(res.text);
	/* no result at all: a JSON null, not a failure */
	none = answer(201, "{\"success\":true}", &res);
	g_assert_nonnull(none);
	g_assert_true(JSON_NODE_HOLDS_NULL(none));
}

static void
test_cf_answer_auth(void)
{
	assert_refused(403, "{\"success\":false,\"errors\":[{\"code\":9109,\"message\":"
	                    "\"Invalid access token\"}],\"messages\":[],\"result\":null}",
	               HM_DYN_HOLD, "9109", "9109: Invalid access token");
	assert_refused(400, "{\"success\":false,\"errors\":[{\"code\":10000,\"message\":"
	                    "\"Authentication error\"}]}",
	               HM_DYN_HOLD, "10000", "Authentication error");
	/* the auth code need not be the first error */
	assert_refused(400, "{\"success\":false,\"errors\":[{\"code\":6003,\"message\":\"Invalid "
	                    "request headers\"},{\"code\":9103,\"message\":\"Unknown X-Auth-Key\"}]}",
	               HM_DYN_HOLD, "6003", "9103: Unknown X-Auth-Key");
	/* the HTTP status alone says it too */
	assert_refused(401, "{\"success\":false,\"errors\":[]}", HM_DYN_HOLD, NULL,
	               "no error given");
}

static void
test_cf_answer_backoff(void)
{
	assert_refused(429, "{\"success\":false,\"errors\":[{\"code\":971,\"message\":"
	                    "\"Please wait and consider throttling your request speed\"}]}",
	               HM_DYN_BACKOFF, "971", "throttling");
	assert_refused(500, "<html>Internal Server Error</html>", HM_DYN_BACKOFF, NULL, "HTTP 500");
	assert_refused(503, "", HM_DYN_BACKOFF, NULL, "trouble");
	assert_refused(502, "{\"success\":false,\"errors\":[{\"code\":1,\"message\":\"x\"}]}",
	               HM_DYN_BACKOFF, "1", "HTTP 502");
	/* success under an error status is not success */
	assert_refused(500, "{\"success\":true,\"result\":[]}", HM_DYN_BACKOFF, NULL, "HTTP 500");
	/* a refusal that is not about the token */
	assert_refused(400, "{\"success\":false,\"errors\":[{\"code\":81057,\"message\":"
	                    "\"Record already exists.\"}]}",
	               HM_DYN_BACKOFF, "81057", "81057: Record already exists.");
}

static void
test_cf_answer_garbage(void)
{
	static const char *const bad[] = {
		"", "not json", "[1,2]", "{}", "{\"success\":\"yes\"}", "{\"success\":1}",
		"{\"success\":true", "\"success\"", "{\"success\":null,\"result\":[]}",
		"{\"success\":true,\"result\":[]}}", "\xff\xfe{}",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_refused(200, bad[i], HM_DYN_BACKOFF, NULL, "HTTP 200");
}

/* The body is a byte range, not a C string: every prefix of a good
 * answer is refused, and bytes after len are never read. */
static void
test_cf_answer_prefixes(void)
{
	static const char good[] = "{\"success\":true,\"errors\":[],\"result\":[{\"id\":\"z1\","
	                           "\"name\":\"example.com\"}]}";

	for (gsize len = 0; len < sizeof(good) - 1; len++) {
		HmDynResult res = { 0 };
		g_autofree char *copy = g_memdup2(good, len);   /* no NUL: ASan sees overreads */
		JsonNode *n = hm_dyn_cf_answer(200, copy != NULL ? copy : "", len, &res);

		g_assert_null(n);
		g_assert_cmpint(res.outcome, ==, HM_DYN_BACKOFF);
		hm_dyn_result_clear(&res);
	}
}

static void
test_cf_answer_words_bounded(void)
{
	g_autoptr(GString) body = g_string_new("{\"success\":false,\"errors\":[");
	HmDynResult res = { 0 };

	for (guint i = 0; i < 6; i++)
		g_string_append_printf(body, "%s{\"code\":%u,\"message\":\"line\\r\\nbreak %u\"}",
		                       i > 0 ? "," : "", 1000 + i, i);
	g_string_append(body, ",{\"code\":7,\"message\":\"");
	for (guint i = 0; i < 1000; i++)
		g_string_append_c(body, 'x');
	g_string_append(body, "\"}]}");
	g_assert_null(hm_dyn_cf_answer(400, body->str, body->len, &res));
	g_assert_cmpint(res.outcome, ==, HM_DYN_BACKOFF);
	g_assert_null(strchr(res.text, '\n'));
	g_assert_null(strchr(res.text, '\r'));
	g_assert_nonnull(strstr(res.text, "1000: line  break 0; 1001"));
	g_assert_nonnull(strstr(res.text, "(and 4 more)"));
	g_assert_null(strstr(res.text, "1003"));
	g_assert_cmpuint(strlen(res.text), <, 800);
	hm_dyn_result_clear(&res);
}

static JsonNode *
parse(const char *text)
{
	g_autoptr(JsonParser) p = json_parser_new();

	g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
	return json_node_copy(json_parser_get_root(p));
}

static void
test_cf_zone_id(void)
{
	g_autoptr(JsonNode) one = parse("[{\"id\":\"023e105f4ecef8ad9ca31a8372d0c353\","
	                                "\"name\":\"example.com\",\"status\":\"active\"}]");
	g_autoptr(JsonNode) other = parse("[{\"id\":\"abc\",\"name\":\"example.org\"}]");
	g_autoptr(JsonNode) hostile = parse("[{\"id\":\"../../zones\",\"name\":\"example.com\"},"
	                                    "{\"id\":7,\"name\":\"example.com\"}, 3, null]");
	g_autoptr(JsonNode) obj = parse("{\"id\":\"abc\",\"name\":\"example.com\"}");
	g_autofree char *id = hm_dyn_cf_zone_id(one, "Example.COM");

	g_assert_cmpstr(id, ==, "023e105f4ecef8ad9ca31a8372d0c353");
	g_assert_null(hm_dyn_cf_zone_id(other, "example.com"));
	g_assert_null(hm_dyn_cf_zone_id(hostile, "example.com"));
	g_assert_null(hm_dyn_cf_zone_id(obj, "example.com"));
	g_assert_null(hm_dyn_cf_zone_id(NULL, "example.com"));
}

static void
check_records(const char *json, int want, const char *want_id, const char *want_content)
{
	g_autoptr(JsonNode) n = parse(json);
	g_autofree char *id = NULL;
	g_autofree char *content = NULL;

	g_assert_cmpint(hm_dyn_cf_find_record(n, "A", "box.example.com", &id, &content), ==, want);
	g_assert_cmpstr(id, ==, want_id);
	g_assert_cmpstr(content, ==, want_content);
}

static void
test_cf_find_record(void)
{
	check_records("[]", 0, NULL, NULL);
	check_records("[{\"id\":\"r1\",\"type\":\"A\",\"name\":\"box.example.com\","
	              "\"content\":\"81.2.69.160\",\"ttl\":1,\"proxied\":false}]",
	              1, "r1", "81.2.69.160");
	/* other types and names are not ours, whatever the server sent */
	check_records("[{\"id\":\"r0\",\"type\":\"AAAA\",\"name\":\"box.example.com\","
	              "\"content\":\"2a01::1\"},{\"id\":\"r9\",\"type\":\"A\",\"name\":"
	              "\"www.example.com\",\"content\":\"1.1.1.1\"},{\"id\":\"r1\",\"type\":\"a\","
	              "\"name\":\"BOX.example.com\",\"content\":\"81.2.69.160\"}]",
	              1, "r1", "81.2.69.160");
	check_records("[{\"id\":\"r1\",\"type\":\"A\",\"name\":\"box.example.com\",\"content\":"
	              "\"1.2.3.4\"},{\"id\":\"r2\",\"type\":\"A\",\"name\":\"box.example.com\","
	              "\"content\":\"5.6.7.8\"}]",
	              2, "r1", "1.2.3.4");
	check_records("{\"id\":\"r1\"}", -1, NULL, NULL);
	check_records("[{\"id\":\"r1\",\"type\":\"A\",\"name\":\"box.example.com\"}]", -1, NULL,
	              NULL);
	check_records("[{\"id\":\"r1\",\"type\":\"A\",\"name\":\"box.example.com\",\"content\":"
	              "\"1.2.3.4\"},{\"id\":\"r/2\",\"type\":\"A\",\"name\":\"box.example.com\","
	              "\"content\":\"5.6.7.8\"}]",
	              -1, NULL, NULL);
}

static void
test_cf_bodies(void)
{
	g_autofree char *create = hm_dyn_cf_create_body("AAAA", "b\"ox.example.com", "2a01::1", 1);
	g_autofree char *patch = hm_dyn_cf_patch_body("81.2.69.161");
	g_autoptr(JsonNode) c = parse(create);
	g_autoptr(JsonNode) p = parse(patch);
	JsonObject *co = json_node_get_object(c);

	g_assert_cmpstr(json_object_get_string_member(co, "type"), ==, "AAAA");
	g_assert_cmpstr(json_object_get_string_member(co, "name"), ==, "b\"ox.example.com");
	g_assert_cmpstr(json_object_get_string_member(co, "content"), ==, "2a01::1");
	g_assert_cmpint(json_object_get_int_member(co, "ttl"), ==, 1);
	g_assert_false(json_object_get_boolean_member(co, "proxied"));
	g_assert_cmpuint(json_object_get_size(co), ==, 5);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(p), "content"), ==,
	                "81.2.69.161");
	g_assert_cmpuint(json_object_get_size(json_node_get_object(p)), ==, 1);
}

static void
check_candidates(const char *host, const char *want)
{
	g_auto(GStrv) c = hm_dyn_cf_zone_candidates(host);
	g_autofree char *got = g_strjoinv(" ", c);

	g_assert_cmpstr(got, ==, want);
}

static void
test_cf_zone_candidates(void)
{
	check_candidates("a.b.example.com", "a.b.example.com b.example.com example.com");
	check_candidates("example.com.", "example.com");
	check_candidates("box.example.co.uk", "box.example.co.uk example.co.uk co.uk");
	check_candidates("localhost", "");
}

static void
check_duck(long status, const char *body, HmDynOutcome want, const char *code)
{
	HmDynResult res = { 0 };

	hm_dyn_duckdns_parse(status, body, &res);
	g_assert_cmpint(res.outcome, ==, want);
	g_assert_cmpstr(res.code, ==, code);
	g_assert_nonnull(res.text);
	hm_dyn_result_clear(&res);
}

static void
test_duckdns_answers(void)
{
	check_duck(200, "OK", HM_DYN_OK, "OK");
	check_duck(200, "OK\n81.2.69.160\n\nUPDATED", HM_DYN_OK, "OK");
	check_duck(200, " OK\r\n", HM_DYN_OK, "OK");
	check_duck(200, "KO", HM_DYN_HOLD, "KO");
	check_duck(400, "KO\n", HM_DYN_HOLD, "KO");
	check_duck(500, "OK", HM_DYN_BACKOFF, NULL);
	check_duck(503, "", HM_DYN_BACKOFF, NULL);
	check_duck(429, "KO", HM_DYN_BACKOFF, NULL);
	check_duck(200, "", HM_DYN_BACKOFF, NULL);
	check_duck(200, "<html>OK</html>", HM_DYN_BACKOFF, NULL);
	check_duck(200, "OKAY", HM_DYN_BACKOFF, NULL);
	check_duck(404, "OK", HM_DYN_BACKOFF, NULL);
}

static void
test_duckdns_answer_shown_on_one_line(void)
{
	HmDynResult res = { 0 };

	hm_dyn_duckdns_parse(200, "bad\033[2J\tanswer\rnext: fake log line", &res);
	g_assert_cmpint(res.outcome, ==, HM_DYN_BACKOFF);
	g_assert_cmpstr(res.text, ==, "HTTP 200, unexpected answer \"bad?[2J?answer\"");
	hm_dyn_result_clear(&res);
}

static void
test_duckdns_name(void)
{
	g_autofree char *a = hm_dyn_duckdns_name("box.duckdns.org");
	g_autofree char *b = hm_dyn_duckdns_name("box");
	g_autofree char *c = hm_dyn_duckdns_name("box.example.org");

	g_assert_cmpstr(a, ==, "box");
	g_assert_cmpstr(b, ==, "box");
	g_assert_cmpstr(c, ==, "box.example.org");
}

static void
no_warning(const char *line, gpointer data)
{
	g_error("unexpected warning: %s", line);
}

/* The config keys these providers changed: cloudflare finds its zone
 * itself, and its ttl defaults to Cloudflare's "automatic". */
static void
test_config_defaults(void)
{
	static const char text[] =
		"hostname = \"box.lan\";\n"
		"dyndns = { detect = \"static:81.2.69.160\"; records = (\n"
		"  { provider = \"cloudflare\"; hostname = \"box.example.com\"; token = \"t\"; },\n"
		"  { provider = \"cloudflare\"; hostname = \"b.example.com\"; token = \"t\";"
		" ttl = 300; },\n"
		"  { provider = \"duckdns\"; hostname = \"box\"; token = \"t\"; } ); };\n";
	g_autoptr(GError) err = NULL;
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("hm-dyncf-XXXXXX.conf", &path, &err);
	HmConfig *cfg;

	g_assert_no_error(err);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
	close(fd);
	cfg = hm_config_load(path, no_warning, NULL, &err);
	g_unlink(path);
	g_assert_no_error(err);
	g_assert_cmpuint(cfg->dyndns.n_records, ==, 3);
	g_assert_null(cfg->dyndns.records[0].zone);
	g_assert_null(cfg->dyndns.records[0].server);
	g_assert_cmpuint(cfg->dyndns.records[0].ttl, ==, 1);
	g_assert_cmpuint(cfg->dyndns.records[1].ttl, ==, 300);
	g_assert_cmpuint(cfg->dyndns.records[2].ttl, ==, 60);
	g_assert_cmpstr(cfg->dyndns.records[2].password.value, ==, "t");
	hm_config_free(cfg);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dyndns-cf/answer-ok", test_cf_answer_ok);
	g_test_add_func("/dyndns-cf/answer-auth", test_cf_answer_auth);
	g_test_add_func("/dyndns-cf/answer-backoff", test_cf_answer_backoff);
	g_test_add_func("/dyndns-cf/answer-garbage", test_cf_answer_garbage);
	g_test_add_func("/dyndns-cf/answer-prefixes", test_cf_answer_prefixes);
	g_test_add_func("/dyndns-cf/answer-words-bounded", test_cf_answer_words_bounded);
	g_test_add_func("/dyndns-cf/zone-id", test_cf_zone_id);
	g_test_add_func("/dyndns-cf/find-record", test_cf_find_record);
	g_test_add_func("/dyndns-cf/bodies", test_cf_bodies);
	g_test_add_func("/dyndns-cf/zone-candidates", test_cf_zone_candidates);
	g_test_add_func("/dyndns-cf/duckdns-answers", test_duckdns_answers);
	g_test_add_func("/dyndns-cf/duckdns-answer-one-line", test_duckdns_answer_shown_on_one_line);
	g_test_add_func("/dyndns-cf/duckdns-name", test_duckdns_name);
	g_test_add_func("/dyndns-cf/config-defaults", test_config_defaults);
	return g_test_run();
}
