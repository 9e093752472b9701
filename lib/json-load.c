/* json-glib opened with dlopen() at the first use of JSON.
 *
 * Linked, json-glib brings GIO and what GIO needs (libmount, libblkid,
 * libselinux, libffi, GObject): 1.3 MB resident in every process, loaded
 * and relocated at start. JSON is only needed for OAuth2 token files and
 * challenges and for Cloudflare's API, which most setups never use, and the
 * relay, the fetcher and the dyndns daemon are the bundle's long-running
 * processes (issue 13's idle-memory budget). So, as lib/curl-load.c does
 * for libcurl, this file defines the functions our code calls under
 * json-glib's own names, checked against its headers, and each forwards to
 * the one in the library opened here. No program links json-glib
 * (Makefile.am: HM_OAUTH2_LIBS). */
#include <config.h>

#include <json-glib/json-glib.h>

#include "lib/dl.h"
#include "lib/error.h"
#include "lib/json-load.h"

/* json-glib 1.0's soname, unchanged since 2014. */
#define JSON_GLIB_SONAME "libjson-glib-1.0.so.0"

static struct {
	JsonParser *(*parser_new)(void);
	gboolean (*parser_load_from_data)(JsonParser *, const gchar *, gssize, GError **);
	JsonNode *(*parser_get_root)(JsonParser *);
	JsonBuilder *(*builder_new)(void);
	JsonBuilder *(*builder_begin_object)(JsonBuilder *);
	JsonBuilder *(*builder_end_object)(JsonBuilder *);
	JsonBuilder *(*builder_set_member_name)(JsonBuilder *, const gchar *);
	JsonBuilder *(*builder_add_string_value)(JsonBuilder *, const gchar *);
	JsonBuilder *(*builder_add_int_value)(JsonBuilder *, gint64);
	JsonBuilder *(*builder_add_boolean_value)(JsonBuilder *, gboolean);
	JsonNode *(*builder_get_root)(JsonBuilder *);
	JsonGenerator *(*generator_new)(void);
	void (*generator_set_root)(JsonGenerator *, JsonNode *);
	gchar *(*generator_to_data)(JsonGenerator *, gsize *);
	JsonNodeType (*node_get_node_type)(JsonNode *);
	GType (*node_get_value_type)(JsonNode *);
	JsonObject *(*node_get_object)(JsonNode *);
	JsonArray *(*node_get_array)(JsonNode *);
	const gchar *(*node_get_string)(JsonNode *);
	gint64 (*node_get_int)(JsonNode *);
	gboolean (*node_get_boolean)(JsonNode *);
	JsonNode *(*node_new)(JsonNodeType);
	JsonNode *(*node_copy)(JsonNode *);
	void (*node_unref)(JsonNode *);
	JsonNode *(*object_get_member)(JsonObject *, const gchar *);
	guint (*array_get_length)(JsonArray *);
	JsonNode *(*array_get_element)(JsonArray *, guint);
	/* GObject comes with json-glib: its objects are released with it. */
	void (*object_unref)(gpointer);
} fn;

#define SYM(field, name) { name, &fn.field, sizeof(fn.field) }

static const HmDlSym syms[] = {
	SYM(parser_new, "json_parser_new"),
	SYM(parser_load_from_data, "json_parser_load_from_data"),
	SYM(parser_get_root, "json_parser_get_root"),
	SYM(builder_new, "json_builder_new"),
	SYM(builder_begin_object, "json_builder_begin_object"),
	SYM(builder_end_object, "json_builder_end_object"),
	SYM(builder_set_member_name, "json_builder_set_member_name"),
	SYM(builder_add_string_value, "json_builder_add_string_value"),
	SYM(builder_add_int_value, "json_builder_add_int_value"),
	SYM(builder_add_boolean_value, "json_builder_add_boolean_value"),
	SYM(builder_get_root, "json_builder_get_root"),
	SYM(generator_new, "json_generator_new"),
	SYM(generator_set_root, "json_generator_set_root"),
	SYM(generator_to_data, "json_generator_to_data"),
	SYM(node_get_node_type, "json_node_get_node_type"),
	SYM(node_get_value_type, "json_node_get_value_type"),
	SYM(node_get_object, "json_node_get_object"),
	SYM(node_get_array, "json_node_get_array"),
	SYM(node_get_string, "json_node_get_string"),
	SYM(node_get_int, "json_node_get_int"),
	SYM(node_get_boolean, "json_node_get_boolean"),
	SYM(node_new, "json_node_new"),
	SYM(node_copy, "json_node_copy"),
	SYM(node_unref, "json_node_unref"),
	SYM(object_get_member, "json_object_get_member"),
	SYM(array_get_length, "json_array_get_length"),
	SYM(array_get_element, "json_array_get_element"),
	SYM(object_unref, "g_object_unref"),
};

static gpointer
load(gpointer unused)
{
	(void)unused;
	return hm_dl_open(JSON_GLIB_SONAME, syms, G_N_ELEMENTS(syms));
}

/* NULL when json-glib is ready, or why it is not. */
static const char *
why_not(void)
{
	static GOnce once = G_ONCE_INIT;

	return g_once(&once, load, NULL);
}

int
hm_json_load(GError **err)
{
	const char *why = why_not();

	if (why == NULL)
		return 0;
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
	            "JSON is not available: %s (Debian's package libjson-glib-1.0-0 has it)", why);
	return -1;
}

/* Every forwarder goes through here: a caller that skipped hm_json_load()
 * is a bug, stopped with its reason rather than a jump through NULL. */
static void
need(void)
{
	const char *why = why_not();

	if (why != NULL)
		g_error("JSON used without hm_json_load(): %s", why);
}

#define F(field) (need(), fn.field)

JsonParser *
json_parser_new(void)
{
	return F(parser_new)();
}

gboolean
json_parser_load_from_data(JsonParser *p, const gchar *data, gssize len, GError **err)
{
	return F(parser_load_from_data)(p, data, len, err);
}

JsonNode *
json_parser_get_root(JsonParser *p)
{
	return F(parser_get_root)(p);
}

JsonBuilder *
json_builder_new(void)
{
	return F(builder_new)();
}

JsonBuilder *
json_builder_begin_object(JsonBuilder *b)
{
	return F(builder_begin_object)(b);
}

JsonBuilder *
json_builder_end_object(JsonBuilder *b)
{
	return F(builder_end_object)(b);
}

JsonBuilder *
json_builder_set_member_name(JsonBuilder *b, const gchar *name)
{
	return F(builder_set_member_name)(b, name);
}

JsonBuilder *
json_builder_add_string_value(JsonBuilder *b, const gchar *value)
{
	return F(builder_add_string_value)(b, value);
}

JsonBuilder *
json_builder_add_int_value(JsonBuilder *b, gint64 value)
{
	return F(builder_add_int_value)(b, value);
}

JsonBuilder *
json_builder_add_boolean_value(JsonBuilder *b, gboolean value)
{
	return F(builder_add_boolean_value)(b, value);
}

JsonNode *
json_builder_get_root(JsonBuilder *b)
{
	return F(builder_get_root)(b);
}

JsonGenerator *
json_generator_new(void)
{
	return F(generator_new)();
}

void
json_generator_set_root(JsonGenerator *g, JsonNode *node)
{
	F(generator_set_root)(g, node);
}

gchar *
json_generator_to_data(JsonGenerator *g, gsize *len)
{
	return F(generator_to_data)(g, len);
}

JsonNodeType
json_node_get_node_type(JsonNode *node)
{
	return F(node_get_node_type)(node);
}

GType
json_node_get_value_type(JsonNode *node)
{
	return F(node_get_value_type)(node);
}

JsonObject *
json_node_get_object(JsonNode *node)
{
	return F(node_get_object)(node);
}

JsonArray *
json_node_get_array(JsonNode *node)
{
	return F(node_get_array)(node);
}

const gchar *
json_node_get_string(JsonNode *node)
{
	return F(node_get_string)(node);
}

gint64
json_node_get_int(JsonNode *node)
{
	return F(node_get_int)(node);
}

gboolean
json_node_get_boolean(JsonNode *node)
{
	return F(node_get_boolean)(node);
}

JsonNode *
json_node_new(JsonNodeType type)
{
	return F(node_new)(type);
}

JsonNode *
json_node_copy(JsonNode *node)
{
	return F(node_copy)(node);
}

void
json_node_unref(JsonNode *node)
{
	F(node_unref)(node);
}

JsonNode *
json_object_get_member(JsonObject *o, const gchar *name)
{
	return F(object_get_member)(o, name);
}

guint
json_array_get_length(JsonArray *a)
{
	return F(array_get_length)(a);
}

JsonNode *
json_array_get_element(JsonArray *a, guint i)
{
	return F(array_get_element)(a, i);
}

/* The parentheses keep out a type-checking macro GLib may define. */
void
(g_object_unref)(gpointer object)
{
	F(object_unref)(object);
}
