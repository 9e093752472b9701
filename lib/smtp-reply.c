/* The pure SMTP/LMTP reply and EHLO parsers: no I/O, so the client in
 * smtpc.c and the fuzz target share exactly the code that reads what a
 * server sends. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "parse.h"
#include "smtp-reply.h"

/* Longest SASL mechanism name (RFC 4422 3.1), and its characters. */
#define SMTPC_MECH_MAX 20
#define MECH_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* ---- replies ---------------------------------------------------------- */

void
hm_smtp_reply_init(HmSmtpReply *r)
{
	memset(r, 0, sizeof(*r));
	r->text = g_string_new(NULL);
}

void
hm_smtp_reply_clear(HmSmtpReply *r)
{
	if (r->text != NULL)
		g_string_free(r->text, TRUE);
	memset(r, 0, sizeof(*r));
}

/* A copy of untrusted text that is safe in an error message or a log:
 * control characters become '?', line breaks between reply lines a space. */
static char *
printable(const char *s, gsize len, gsize max)
{
	GString *out = g_string_sized_new(MIN(len, max) + 1);

	for (gsize i = 0; i < len && out->len < max; i++) {
		guchar ch = (guchar)s[i];

		if (ch == '\n')
			g_string_append_c(out, ' ');
		else
			g_string_append_c(out, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
	}
	return g_string_free(out, FALSE);
}

static int
bad_line(GError **err, const char *what, const char *line, gsize len)
{
	g_autofree char *shown = printable(line, len, 40);

	g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "%s: \"%s\"", what, shown);
	return -1;
}

static gboolean
valid_code(const char *p)
{
	return p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '5' && g_ascii_isdigit(p[2]);
}

/* The length of an RFC 3463 code "C.SSS.DDD" of class cls at the start of
 * text, when one stands there followed by a space or the end; else 0. */
static gsize
enhanced_len(const char *t, gsize len, char cls)
{
	gsize i = 1;

	if (len < 5 || t[0] != cls)
		return 0;
	for (int part = 0; part < 2; part++) {
		gsize start;

		if (i >= len || t[i++] != '.')
			return 0;
		for (start = i; i < len && i - start < 4 && g_ascii_isdigit(t[i]); i++)
			;
		if (i == start || i - start > 3)
			return 0;
	}
	return i == len || t[i] == ' ' ? i : 0;
}

int
hm_smtp_reply_feed(HmSmtpReply *r, const char *line, gsize len, GError **err)
{
	const char *text = line + MIN(len, 4);
	gsize tlen = len - MIN(len, 4), elen;
	guint code;

	if (r->done)
		return bad_line(err, "reply goes on after its last line", line, len);
	if (len + 2 > HM_SMTP_REPLY_LINE_MAX)
		return bad_line(err, "reply line too long", line, len);
	if (r->n_lines >= HM_SMTP_REPLY_LINES_MAX) {
		g_set_error(err, HM_ERROR, HM_ERROR_PROTOCOL, "reply has more than %d lines",
		            HM_SMTP_REPLY_LINES_MAX);
		return -1;
	}
	if (len < 3 || !valid_code(line) || (len > 3 && line[3] != ' ' && line[3] != '-') ||
	    memchr(line, '\0', len) != NULL)
		return bad_line(err, "malformed reply line", line, len);
	code = (guint)(line[0] - '0') * 100 + (guint)(line[1] - '0') * 10 + (guint)(line[2] - '0');
	if (r->n_lines > 0 && code != r->code)
		return bad_line(err, "reply code changes within a reply", line, len);
	/* Enhanced codes repeat on every line (RFC 2034); keep the first. */
	if ((elen = enhanced_len(text, tlen, line[0])) > 0) {
		if (r->n_lines == 0)
			memcpy(r->enhanced, text, elen);  /* at most 9 octets */
		text += elen;
		tlen -= elen;
		if (tlen > 0) {
			text++;
			tlen--;
		}
	}
	if (r->n_lines > 0)
		g_string_append_c(r->text, '\n');
	r->code = code;
	g_string_append_len(r->text, text, (gssize)tlen);
	r->n_lines++;
	if (len == 3 || line[3] == ' ') {
		r->done = TRUE;
		return 1;
	}
	return 0;
}

int
hm_smtp_reply_parse(const char *buf, gsize len, HmSmtpReply *r, gsize *consumed,
                    GError **err)
{
	gsize pos = 0;

	while (pos < len) {
		const char *start = buf + pos;
		const char *lf = memchr(start, '\n', len - pos);
		gsize total, llen;
		int rc;

		if (lf == NULL) {
			/* Too long already, whatever line end follows. */
			gsize least = len - pos - (buf[len - 1] == '\r' ? 1 : 0);

			if (least + 2 > HM_SMTP_REPLY_LINE_MAX)
				return bad_line(err, "reply line too long", start, len - pos);
			return 0;
		}
		total = (gsize)(lf - start) + 1;
		if (total > HM_SMTP_REPLY_LINE_MAX)
			return bad_line(err, "reply line too long", start, total);
		llen = total - 1;
		if (llen > 0 && start[llen - 1] == '\r')
			llen--;
		rc = hm_smtp_reply_feed(r, start, llen, err);
		pos += total;
		if (rc != 0) {
			*consumed = pos;
			return rc;
		}
	}
	return 0;
}

char *
hm_smtp_reply_oneline(const HmSmtpReply *r)
{
	g_autoptr(GString) s = g_string_new(NULL);

	g_string_append_printf(s, "%03u", r->code);
	if (r->enhanced[0] != '\0')
		g_string_append_printf(s, " %s", r->enhanced);
	if (r->text != NULL && r->text->len > 0) {
		g_autofree char *t = printable(r->text->str, r->text->len, HM_SMTP_ONELINE_MAX);

		g_string_append_printf(s, " %s", t);
	}
	if (s->len > HM_SMTP_ONELINE_MAX)
		g_string_truncate(s, HM_SMTP_ONELINE_MAX);
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- EHLO extensions ---------------------------------------------------- */

static void
add_mechs(GPtrArray *mechs, const char *params)
{
	g_auto(GStrv) words = g_strsplit(params, " ", -1);

	for (char **w = words; *w != NULL; w++) {
		g_autofree char *up = NULL;
		gboolean dup = FALSE;

		gsize n = strlen(*w);

		/* RFC 4422 3.1: up to 20 of A-Z 0-9 - _ */
		if (n == 0 || n > SMTPC_MECH_MAX || strspn(*w, MECH_CHARS) != n ||
		    mechs->len >= HM_SMTP_AUTH_MECHS_MAX)
			continue;
		up = g_ascii_strup(*w, -1);
		for (guint i = 0; i < mechs->len; i++)
			dup = dup || strcmp(mechs->pdata[i], up) == 0;
		if (!dup)
			g_ptr_array_add(mechs, g_steal_pointer(&up));
	}
}

/* One "KEYWORD [params]" line of an EHLO reply. */
static void
ext_line(HmSmtpExt *ext, GPtrArray *mechs, const char *line)
{
	const char *sp = strchr(line, ' ');
	gsize klen = sp != NULL ? (gsize)(sp - line) : strlen(line);
	const char *params = sp != NULL ? sp + 1 : "";
	static const struct {
		const char *name;
		guint flag;
	} simple[] = {
		{ "PIPELINING", HM_SMTP_EXT_PIPELINING },
		{ "8BITMIME", HM_SMTP_EXT_8BITMIME },
		{ "STARTTLS", HM_SMTP_EXT_STARTTLS },
		{ "ENHANCEDSTATUSCODES", HM_SMTP_EXT_ENHANCEDSTATUSCODES },
		{ "DSN", HM_SMTP_EXT_DSN },
		{ "SMTPUTF8", HM_SMTP_EXT_SMTPUTF8 },
		{ "CHUNKING", HM_SMTP_EXT_CHUNKING },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(simple); i++)
		if (klen == strlen(simple[i].name) &&
		    g_ascii_strncasecmp(line, simple[i].name, klen) == 0)
			ext->flags |= simple[i].flag;
	if (klen == 4 && g_ascii_strncasecmp(line, "SIZE", 4) == 0) {
		guint64 n = 0;

		ext->flags |= HM_SMTP_EXT_SIZE;
		if (hm_parse_uint(params, 1, G_MAXUINT64, &n) == 0)
			ext->size_max = n;
	} else if (klen == 4 && g_ascii_strncasecmp(line, "AUTH", 4) == 0) {
		ext->flags |= HM_SMTP_EXT_AUTH;
		add_mechs(mechs, params);
	} else if (g_ascii_strncasecmp(line, "AUTH=", 5) == 0) {
		/* The pre-standard form some servers still send. */
		ext->flags |= HM_SMTP_EXT_AUTH;
		add_mechs(mechs, line + 5);
	}
}

void
hm_smtp_ext_parse(const HmSmtpReply *r, HmSmtpExt *ext)
{
	g_auto(GStrv) lines = NULL;
	GPtrArray *mechs = g_ptr_array_new();

	memset(ext, 0, sizeof(*ext));
	if (r->text != NULL) {
		lines = g_strsplit(r->text->str, "\n", -1);
		/* The first line is the server's name and greeting text. */
		for (guint i = 1; lines[0] != NULL && lines[i] != NULL; i++)
			ext_line(ext, mechs, lines[i]);
	}
	if (ext->flags & HM_SMTP_EXT_AUTH) {
		g_ptr_array_add(mechs, NULL);
		ext->auth_mechs = (char **)g_ptr_array_free(mechs, FALSE);
	} else {
		g_ptr_array_free(mechs, TRUE);
	}
}

void
hm_smtp_ext_clear(HmSmtpExt *ext)
{
	g_strfreev(ext->auth_mechs);
	memset(ext, 0, sizeof(*ext));
}

gboolean
hm_smtp_ext_has_auth(const HmSmtpExt *ext, const char *mech)
{
	for (char **m = ext->auth_mechs; m != NULL && *m != NULL; m++)
		if (g_ascii_strcasecmp(*m, mech) == 0)
			return TRUE;
	return FALSE;
}
