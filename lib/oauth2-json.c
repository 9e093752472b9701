#include <config.h>

#include "oauth2-json.h"
#include "printable.h"

JsonObject *
hm_oauth2_json_object(const char *text, gsize len, JsonParser **parser)
{
	JsonNode *root;

	*parser = json_parser_new();
	/* json-glib takes NULL or empty data as a programming error
	 * (g_return_val_if_fail): an empty body or file is just no object. */
	if (text == NULL || len == 0 || len > HM_OAUTH2_JSON_MAX || !json_parser_load_from_data(*parser, text, (gssize)len, NULL))
		return NULL;
	root = json_parser_get_root(*parser);
	return root != NULL && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

const char *
hm_oauth2_json_string(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

gint64
hm_oauth2_json_int(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	guint64 v;

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n))
		return -1;
	if (json_node_get_value_type(n) == G_TYPE_INT64)
		return json_node_get_int(n) >= 0 ? json_node_get_int(n) : -1;
	if (json_node_get_value_type(n) == G_TYPE_STRING &&
	    g_ascii_string_to_unsigned(json_node_get_string(n), 10, 0, G_MAXINT32, &v, NULL))
		return (gint64)v;
	return -1;
}

char *
hm_oauth2_json_error_words(JsonObject *o, const char *none)
{
	const char *code = o != NULL ? hm_oauth2_json_string(o, "error") : NULL;
	const char *desc = o != NULL ? hm_oauth2_json_string(o, "error_description") : NULL;
	g_autofree char *words = NULL;

	if (code == NULL)
		return g_strdup(none);
	/* The provider's words reach terminals and logs, and are stored. */
	words = desc != NULL ? g_strdup_printf("%s (%s)", code, desc) : g_strdup(code);
	return hm_printable(words, -1);
}
