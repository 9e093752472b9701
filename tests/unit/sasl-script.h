/* A SASL client framing for the unit tests (HmSaslProto) that records what
 * the client sends and replays scripted server replies, shared by
 * test-sasl.c and test-sasl-oauth.c. Each test brings its own start
 * callback (what a trace may show of the start differs by mechanism). */
#ifndef HM_TEST_SASL_SCRIPT_H
#define HM_TEST_SASL_SCRIPT_H

#include "lib/sasl.h"

typedef struct {
	const char *const *replies; /* "+ B64", "OK", "NO words", "!" for an I/O error */
	guint next;
	GString *sent;              /* every line sent, '|'-separated */
	const char *secret;         /* must never show in a trace; NULL: not checked */
} Script;

/* HmSaslProto.send_line: records line; asserts the trace shows it masked
 * ("********", or "*" for a cancel). */
int hm_script_line(gpointer io, const char *line, const char *shown, GError **err);

/* HmSaslProto.read_reply: the next scripted reply ("+ B64" a challenge,
 * "OK..." success, "NO words" failure, "!" or the end an I/O error). */
int hm_script_reply(gpointer io, HmSaslVerdict *v, char **text, GError **err);

#endif
