#include <config.h>

#include "relay/envelope.h"

#include <string.h>

static const struct {
	const char *name;
	RelayNotify bit;
} notify_names[] = {
	{ "NEVER", RELAY_NOTIFY_NEVER },
	{ "SUCCESS", RELAY_NOTIFY_SUCCESS },
	{ "FAILURE", RELAY_NOTIFY_FAILURE },
	{ "DELAY", RELAY_NOTIFY_DELAY },
};

static guint
notify_keyword(const char *s, gsize len)
{
	for (gsize i = 0; i < G_N_ELEMENTS(notify_names); i++)
		if (strlen(notify_names[i].name) == len &&
		    g_ascii_strncasecmp(s, notify_names[i].name, len) == 0)
			return notify_names[i].bit;
	return 0;
}

int
relay_notify_parse(const char *value, guint *out)
{
	guint set = 0;
	const char *p = value;

	for (;;) {
		const char *comma = strchr(p, ',');
		gsize len = comma ? (gsize)(comma - p) : strlen(p);
		guint bit = notify_keyword(p, len);

		if (bit == 0 || (set & bit) != 0)
			return -1;
		set |= bit;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if ((set & RELAY_NOTIFY_NEVER) != 0 && set != RELAY_NOTIFY_NEVER)
		return -1;
	*out = set;
	return 0;
}

void
relay_notify_format(guint notify, GString *out)
{
	gboolean first = TRUE;

	for (gsize i = 0; i < G_N_ELEMENTS(notify_names); i++) {
		if ((notify & notify_names[i].bit) == 0)
			continue;
		if (!first)
			g_string_append_c(out, ',');
		g_string_append(out, notify_names[i].name);
		first = FALSE;
	}
}

gboolean
relay_notify_wants(guint notify, RelayNotify kind)
{
	if (notify == 0)
		return kind == RELAY_NOTIFY_FAILURE || kind == RELAY_NOTIFY_DELAY;
	return (notify & kind) != 0;
}

const char *
relay_ret_name(RelayRet ret)
{
	switch (ret) {
	case RELAY_RET_FULL:
		return "FULL";
	case RELAY_RET_HDRS:
		return "HDRS";
	case RELAY_RET_DEFAULT:
		break;
	}
	return NULL;
}

int
relay_ret_parse(const char *value, RelayRet *out)
{
	if (g_ascii_strcasecmp(value, "FULL") == 0)
		*out = RELAY_RET_FULL;
	else if (g_ascii_strcasecmp(value, "HDRS") == 0)
		*out = RELAY_RET_HDRS;
	else
		return -1;
	return 0;
}

static const char *const body_names[] = { "7BIT", "8BITMIME", "BINARYMIME" };

const char *
relay_body_name(RelayBody body)
{
	return body_names[body];
}

int
relay_body_parse(const char *value, RelayBody *out)
{
	for (gsize i = 0; i < G_N_ELEMENTS(body_names); i++)
		if (g_ascii_strcasecmp(value, body_names[i]) == 0) {
			*out = (RelayBody)i;
			return 0;
		}
	return -1;
}
