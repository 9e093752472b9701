/* Cloudflare API v4 answers and request bodies (see cloudflare.h). Every
 * answer has the same envelope: { "success": bool, "errors": [ { "code":
 * N, "message": "..." } ], "messages": [...], "result": ... }. */
#include <config.h>

#include <string.h>

#include "dyndns/cloudflare.h"

/* What a log line shows of the API's own words: enough to read, not
 * enough for a hostile server to flood the log. */
#define CF_MESSAGE_MAX 200
#define CF_ERRORS_SHOWN 3

/* The API's error codes that mean the token is wrong, expired or lacks a
 * permission: asking again with the same token cannot help. */
static const gint64 auth_codes[] = { 9103, 9109, 10000 };

/* s as one printable log line of at most CF_MESSAGE_MAX characters. */
static char *
clean_text(const char *s)
{
	char *out = g_utf8_substring(s, 0, MIN((glong)CF_MESSAGE_MAX, g_utf8_strlen(s, -1)));

	for (char *p = out; *p != '\0'; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return out;
}

static JsonNode *
member(JsonObject *o, const char *name, JsonNodeType type)
{
	JsonNode *n = o != NULL ? json_object_get_member(o, name) : NULL;

	return n != NULL && JSON_NODE_TYPE(n) == type ? n : NULL;
}

static const char *
string_member(JsonObject *o, const char *name)
{
	JsonNode *n = member(o, name, JSON_NODE_VALUE);

	return n != NULL && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n)
	                                                                 : NULL;
}

/* Reads "errors" into a text ("9109: Invalid access token; ...") and
 * whether one of them is an authentication error; *first_code is the first
 * code (0: none). */
static char *
read_errors(JsonObject *root, gboolean *auth, gint64 *first_code)
{
	JsonNode *errs = member(root, "errors", JSON_NODE_ARRAY);
	JsonArray *a = errs != NULL ? json_node_get_array(errs) : NULL;
	GString *text = g_string_new("");
	guint n = a != NULL ? json_array_get_length(a) : 0;

	*auth = FALSE;
	*first_code = 0;
	for (guint i = 0; i < n; i++) {
		JsonNode *e = json_array_get_element(a, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : NULL;
		JsonNode *c = member(o, "code", JSON_NODE_VALUE);
		const char *msg = string_member(o, "message");
		gint64 code = c != NULL && json_node_get_value_type(c) == G_TYPE_INT64
		                      ? json_node_get_int(c)
		                      : 0;
		g_autofree char *shown = clean_text(msg != NULL ? msg : "(no message)");

		for (guint k = 0; k < G_N_ELEMENTS(auth_codes); k++)
			*auth |= code == auth_codes[k];
		if (*first_code == 0)
			*first_code = code;
		if (i < CF_ERRORS_SHOWN)
			g_string_append_printf(text, "%s%" G_GINT64_FORMAT ": %s",
			                       i > 0 ? "; " : "", code, shown);
	}
	if (n > CF_ERRORS_SHOWN)
		g_string_append_printf(text, " (and %u more)", n - CF_ERRORS_SHOWN);
	return g_string_free(text, FALSE);
}

/* The answer is JSON but says no: what it means for the record. */
static void
refused(long status, JsonObject *root, HmDynResult *res)
{
	gboolean auth = FALSE;
	gint64 first = 0;
	g_autofree char *errors = read_errors(root, &auth, &first);
	g_autofree char *code = first != 0 ? g_strdup_printf("%" G_GINT64_FORMAT, first) : NULL;
	const char *words = errors[0] != '\0' ? errors : "no error given";

	if (auth || status == 401 || status == 403)
		hm_dyn_result_set(res, HM_DYN_HOLD, code,
		                  "Cloudflare refused the API token (HTTP %ld): %s", status, words);
	else if (status == 429 || status >= 500)
		hm_dyn_result_set(res, HM_DYN_BACKOFF, code,
		                  "HTTP %ld: Cloudflare has trouble or asks us to wait: %s", status,
		                  words);
	else
		hm_dyn_result_set(res, HM_DYN_BACKOFF, code, "Cloudflare API error (HTTP %ld): %s",
		                  status, words);
}

JsonNode *
hm_dyn_cf_answer(long status, const char *body, gsize len, HmDynResult *res)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonNode *root = NULL, *ok, *result;
	JsonObject *o;

	if (len <= G_MAXSSIZE && json_parser_load_from_data(parser, body, (gssize)len, NULL))
		root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		if (status == 429 || status >= 500)
			hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL,
			                  "HTTP %ld: Cloudflare has trouble or asks us to wait",
			                  status);
		else
			hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL,
			                  "HTTP %ld: the answer is not Cloudflare API JSON",
			                  status);
		return NULL;
	}
	o = json_node_get_object(root);
	ok = member(o, "success", JSON_NODE_VALUE);
	if (ok == NULL || json_node_get_value_type(ok) != G_TYPE_BOOLEAN) {
		hm_dyn_result_set(res, HM_DYN_BACKOFF, NULL,
		                  "HTTP %ld: the answer has no \"success\"", status);
		return NULL;
	}
	if (!json_node_get_boolean(ok) || status < 200 || status > 299) {
		refused(status, o, res);
		return NULL;
	}
	result = json_object_get_member(o, "result");
	return result != NULL ? json_node_copy(result) : json_node_new(JSON_NODE_NULL);
}

/* Ids go into URL paths: only what Cloudflare's (32 hex digits) look
 * like may. */
static gboolean
valid_id(const char *id)
{
	gsize n = id != NULL ? strlen(id) : 0;

	if (n == 0 || n > 64)
		return FALSE;
	for (gsize i = 0; i < n; i++)
		if (!g_ascii_isalnum(id[i]))
			return FALSE;
	return TRUE;
}

static gboolean
same_name(const char *a, const char *b)
{
	return a != NULL && b != NULL && g_ascii_strcasecmp(a, b) == 0;
}

char *
hm_dyn_cf_zone_id(JsonNode *result, const char *zone)
{
	JsonArray *a = result != NULL && JSON_NODE_HOLDS_ARRAY(result) ? json_node_get_array(result)
	                                                               : NULL;
	guint n = a != NULL ? json_array_get_length(a) : 0;

	for (guint i = 0; i < n; i++) {
		JsonNode *e = json_array_get_element(a, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : NULL;
		const char *id = string_member(o, "id");

		if (same_name(string_member(o, "name"), zone) && valid_id(id))
			return g_strdup(id);
	}
	return NULL;
}

int
hm_dyn_cf_find_record(JsonNode *result, const char *rr, const char *host, char **id, char **content)
{
	JsonArray *a;
	int count = 0;

	*id = *content = NULL;
	if (result == NULL || !JSON_NODE_HOLDS_ARRAY(result))
		return -1;
	a = json_node_get_array(result);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);
		JsonObject *o = JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : NULL;
		const char *rid = string_member(o, "id");
		const char *c = string_member(o, "content");

		if (!same_name(string_member(o, "type"), rr) ||
		    !same_name(string_member(o, "name"), host))
			continue;
		if (!valid_id(rid) || c == NULL) {
			g_clear_pointer(id, g_free);
			g_clear_pointer(content, g_free);
			return -1;
		}
		if (count++ == 0) {
			*id = g_strdup(rid);
			*content = g_strdup(c);
		}
	}
	return count;
}

static char *
generate(JsonBuilder *b)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);

	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}

char *
hm_dyn_cf_create_body(const char *rr, const char *host, const char *addr, guint ttl)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, rr);
	json_builder_set_member_name(b, "name");
	json_builder_add_string_value(b, host);
	json_builder_set_member_name(b, "content");
	json_builder_add_string_value(b, addr);
	json_builder_set_member_name(b, "ttl");
	json_builder_add_int_value(b, ttl);
	json_builder_set_member_name(b, "proxied");
	json_builder_add_boolean_value(b, FALSE);
	json_builder_end_object(b);
	return generate(b);
}

char *
hm_dyn_cf_patch_body(const char *addr)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "content");
	json_builder_add_string_value(b, addr);
	json_builder_end_object(b);
	return generate(b);
}

char **
hm_dyn_cf_zone_candidates(const char *hostname)
{
	g_auto(GStrv) labels = g_strsplit(hostname, ".", -1);
	GPtrArray *out = g_ptr_array_new();
	guint n = g_strv_length(labels);

	/* "box.example." names the same zone as "box.example". */
	if (n > 0 && labels[n - 1][0] == '\0')
		g_clear_pointer(&labels[--n], g_free);
	for (guint i = 0; i + 2 <= n; i++)
		g_ptr_array_add(out, g_strjoinv(".", labels + i));
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}
