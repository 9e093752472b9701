/* The machine-readable part of a DSN (RFC 3464 2.2, 2.3; RFC 6533 for
 * UTF-8 addresses), and the cleaning and folding every part relies on to
 * keep text from outside within one field and one line. */
#include <config.h>

#include <string.h>

#include "lib/received.h"
#include "relay/dsn-private.h"

RelayNotify
relay_dsn_kind(RelayDsnAction action)
{
	switch (action) {
	case RELAY_DSN_FAILED:
		return RELAY_NOTIFY_FAILURE;
	case RELAY_DSN_DELAYED:
		return RELAY_NOTIFY_DELAY;
	case RELAY_DSN_DELIVERED:
	case RELAY_DSN_RELAYED:
	case RELAY_DSN_EXPANDED:
		break;
	}
	return RELAY_NOTIFY_SUCCESS;
}

char *
relay_dsn_host(const char *s)
{
	GString *o = g_string_new(NULL);

	for (; s != NULL && *s != '\0' && o->len < RELAY_DSN_TEXT_MAX; s++)
		if (g_ascii_isalnum(*s) || strchr("-._:[]", *s) != NULL)
			g_string_append_c(o, *s);
	if (o->len == 0)
		g_string_assign(o, "invalid");
	return g_string_free(o, FALSE);
}

gboolean
relay_dsn_is_8bit(const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if ((guchar)s[i] >= 0x80)
			return TRUE;
	return FALSE;
}

gsize
relay_dsn_utf8_cut(const char *s, gsize room)
{
	gsize n = room;

	while (n > 0 && ((guchar)s[n] & 0xc0) == 0x80)
		n--;
	return n > 0 ? n : room;
}

/* Line and paragraph separators count as control characters here: a
 * viewer may break the line there, which is what a remote must not do. */
static gboolean
is_control(gunichar u)
{
	return u < 0x20 || u == 0x7f || (u >= 0x80 && u < 0xa0) || u == 0x2028 || u == 0x2029;
}

char *
relay_dsn_clean(const char *s, gboolean utf8)
{
	GString *o = g_string_new(NULL);
	const char *p = s != NULL ? s : "", *end = p + strlen(p);

	while (p < end) {
		gunichar u = (guchar)*p;
		gsize clen = 1;

		if (u >= 0x80) {
			u = g_utf8_get_char_validated(p, (gssize)(end - p));
			if (u == (gunichar)-1 || u == (gunichar)-2)
				u = '?';
			else
				clen = (gsize)(g_utf8_next_char(p) - p);
		}
		if (o->len + clen > RELAY_DSN_TEXT_MAX) {
			g_string_append(o, "...");
			break;
		}
		if (is_control(u) || u == ' ') {
			if (o->len > 0 && o->str[o->len - 1] != ' ')
				g_string_append_c(o, ' ');
		} else if (u < 0x80) {
			g_string_append_c(o, (char)u);
		} else if (utf8) {
			g_string_append_len(o, p, (gssize)clen);
		} else {
			g_string_append_c(o, '?');
		}
		p += clen;
	}
	if (o->len > 0 && o->str[o->len - 1] == ' ')
		g_string_truncate(o, o->len - 1);
	return g_string_free(o, FALSE);
}

void
relay_dsn_diag_split(const char *diag, gboolean utf8, char **type, char **text)
{
	g_autofree char *c = relay_dsn_clean(diag, utf8);
	const char *p = c;

	*type = *text = NULL;
	if (*c == '\0')
		return;
	while (g_ascii_isalnum(*p) || *p == '-')
		p++;
	if (p > c && (*p == ';' || (p[0] == ' ' && p[1] == ';'))) {
		*type = g_strndup(c, (gsize)(p - c));
		p = strchr(p, ';') + 1;
		while (*p == ' ')
			p++;
		*text = g_strdup(p);
		return;
	}
	*type = g_strdup("X-homemail");
	*text = g_steal_pointer(&c);
}

/* RFC 3463: class "." subject "." detail, 1 to 3 digits each. */
static gboolean
status_valid(const char *s)
{
	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return FALSE;
	s += 2;
	for (int group = 0; group < 2; group++) {
		int digits = 0;

		while (g_ascii_isdigit(*s) && digits < 4) {
			s++;
			digits++;
		}
		if (digits < 1 || digits > 3)
			return FALSE;
		if (group == 0 && *s++ != '.')
			return FALSE;
	}
	return *s == '\0';
}

const char *
relay_dsn_status_code(const RelayDsnRcpt *r)
{
	if (status_valid(r->status))
		return r->status;
	switch (relay_dsn_kind(r->action)) {
	case RELAY_NOTIFY_FAILURE:
		return "5.0.0";
	case RELAY_NOTIFY_DELAY:
		return "4.0.0";
	default:
		return "2.0.0";
	}
}

void
relay_dsn_field_append(GString *out, const char *name, const char *value)
{
	gsize line_start = out->len;
	const char *p = value;

	g_string_append_printf(out, "%s: ", name);
	while (*p != '\0') {
		const char *q = p;
		gsize seg, col = out->len - line_start;

		while (*q == ' ')
			q++;
		while (*q != '\0' && *q != ' ')
			q++;
		seg = (gsize)(q - p);
		if (*p == ' ' && col + seg > RELAY_DSN_FOLD_AT) {
			g_string_append(out, "\r\n");
			line_start = out->len;
			col = 0;
		}
		while (col + seg > RELAY_DSN_LINE_MAX) {
			gsize cut = relay_dsn_utf8_cut(p, RELAY_DSN_LINE_MAX - col);

			g_string_append_len(out, p, (gssize)cut);
			g_string_append(out, "\r\n ");
			line_start = out->len - 1;
			col = 1;
			p += cut;
			seg -= cut;
		}
		g_string_append_len(out, p, (gssize)seg);
		p = q;
	}
	g_string_append(out, "\r\n");
}

static void
date_field(GString *out, const char *name, time_t when)
{
	g_autoptr(GString) d = g_string_new(NULL);

	hm_rfc5322_date_append(d, when);
	relay_dsn_field_append(out, name, d->str);
}

/* RFC 6533's utf-8-addr-xtext: the 7-bit form of a UTF-8 address, every
 * character outside QCHAR (printable ASCII but for SP, "+", "=" and "\")
 * written as \x{HEX}. */
static void
xtext_append(GString *out, const char *addr)
{
	for (const char *p = addr; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar u = g_utf8_get_char(p);

		if (u > 0x20 && u < 0x7f && u != '+' && u != '=' && u != '\\')
			g_string_append_c(out, (char)u);
		else
			g_string_append_printf(out, "\\x{%" G_GINT32_MODIFIER "X}", (gint32)u);
	}
}

/* Appends "Name: type; address". An ASCII address keeps its type; a UTF-8
 * one of type rfc822 or utf-8 gets RFC 6533's "utf-8" type, as it is in
 * the global report and 7-bit encoded in the classic one. */
static void
address_field(GString *out, const char *name, const char *type, const char *addr, gboolean global)
{
	g_autofree char *clean = relay_dsn_clean(addr, TRUE);
	g_autoptr(GString) v = g_string_new(NULL);
	gboolean utf8_type = g_ascii_strcasecmp(type, "rfc822") == 0 ||
	                     g_ascii_strcasecmp(type, "utf-8") == 0;

	if (!relay_dsn_is_8bit(clean, strlen(clean))) {
		g_string_append_printf(v, "%s; %s", type, clean);
	} else if (utf8_type) {
		g_string_append(v, "utf-8; ");
		if (global)
			g_string_append(v, clean);
		else
			xtext_append(v, clean);
	} else {
		g_autofree char *ascii = relay_dsn_clean(addr, global);

		g_string_append_printf(v, "%s; %s", type, ascii);
	}
	relay_dsn_field_append(out, name, v->str);
}

/* ORCPT is "addr-type ; xtext" (RFC 3461 4.2); a value without a type is
 * left out rather than guessed at. */
static void
orcpt_field(GString *out, const char *orcpt, gboolean global)
{
	const char *semi = orcpt != NULL ? strchr(orcpt, ';') : NULL;
	g_autoptr(GString) type = g_string_new(NULL);

	if (semi == NULL)
		return;
	for (const char *p = orcpt; p < semi; p++)
		if (g_ascii_isalnum(*p) || *p == '-')
			g_string_append_c(type, *p);
	if (type->len == 0)
		return;
	address_field(out, "Original-Recipient", type->str, semi + 1, global);
}

static const char *
action_name(RelayDsnAction action)
{
	switch (action) {
	case RELAY_DSN_FAILED:
		return "failed";
	case RELAY_DSN_DELAYED:
		return "delayed";
	case RELAY_DSN_DELIVERED:
		return "delivered";
	case RELAY_DSN_RELAYED:
		return "relayed";
	case RELAY_DSN_EXPANDED:
		break;
	}
	return "expanded";
}

static void
recipient_fields(GString *out, const RelayDsnRcpt *r, gboolean global)
{
	g_autofree char *type = NULL, *text = NULL;

	orcpt_field(out, r->orcpt, global);
	address_field(out, "Final-Recipient", "rfc822", r->address, global);
	relay_dsn_field_append(out, "Action", action_name(r->action));
	relay_dsn_field_append(out, "Status", relay_dsn_status_code(r));
	if (r->remote_mta != NULL) {
		g_autofree char *host = relay_dsn_host(r->remote_mta);
		g_autofree char *v = g_strconcat("dns; ", host, NULL);

		relay_dsn_field_append(out, "Remote-MTA", v);
	}
	relay_dsn_diag_split(r->diagnostic, global, &type, &text);
	if (type != NULL) {
		g_autofree char *v = g_strconcat(type, "; ", text, NULL);

		relay_dsn_field_append(out, "Diagnostic-Code", v);
	}
	if (r->last_attempt != 0)
		date_field(out, "Last-Attempt-Date", r->last_attempt);
	if (r->action == RELAY_DSN_DELAYED && r->will_retry_until != 0)
		date_field(out, "Will-Retry-Until", r->will_retry_until);
}

void
relay_dsn_status_append(GString *out, const RelayDsnParams *p, const RelayDsnRcpt *const *rcpts,
                        gsize n, gboolean global)
{
	g_autofree char *host = relay_dsn_host(p->reporting_mta);
	g_autofree char *mta = g_strconcat("dns; ", host, NULL);

	relay_dsn_field_append(out, "Reporting-MTA", mta);
	if (p->envid != NULL) {
		g_autofree char *envid = relay_dsn_clean(p->envid, global);

		relay_dsn_field_append(out, "Original-Envelope-Id", envid);
	}
	if (p->arrival != 0)
		date_field(out, "Arrival-Date", p->arrival);
	for (gsize i = 0; i < n; i++) {
		g_string_append(out, "\r\n");
		recipient_fields(out, rcpts[i], global);
	}
}
