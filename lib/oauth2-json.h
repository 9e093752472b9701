/* The little JSON the OAuth2 code reads (token and device answers, the
 * stored token): json-glib, with the checks each caller would repeat. */
#ifndef HM_OAUTH2_JSON_H
#define HM_OAUTH2_JSON_H

#include <json-glib/json-glib.h>

#include "json-load.h"

/* Answers and stored tokens are a few KB; anything near this is not one. */
#define HM_OAUTH2_JSON_MAX (64 * 1024)

/* The top-level object of text (len bytes, at most HM_OAUTH2_JSON_MAX),
 * or NULL when it is not one. *parser owns it: g_object_unref() it. */
JsonObject *hm_oauth2_json_object(const char *text, gsize len, JsonParser **parser);

/* The string member name of o, or NULL (absent, or not a string). */
const char *hm_oauth2_json_string(JsonObject *o, const char *name);

/* The integer member name of o (a string of digits counts: some providers
 * send expires_in so), or -1 (absent, negative, not a number). */
gint64 hm_oauth2_json_int(JsonObject *o, const char *name);

/* An error answer's "error" code and "error_description" in words,
 * "CODE (DESCRIPTION)", or none when o (may be NULL) has no code.
 * g_free() it. */
char *hm_oauth2_json_error_words(JsonObject *o, const char *none);

#endif
