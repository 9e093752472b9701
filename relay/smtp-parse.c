#include <config.h>

#include "relay/smtp-parse.h"

#include <stdarg.h>
#include <string.h>

#include "lib/error.h"
#include "lib/header.h"
#include "lib/parse.h"

void
relay_reply_set(RelayReplyText *reply, guint code, const char *enhanced, const char *fmt, ...)
{
	va_list ap;

	reply->code = code;
	reply->enhanced = enhanced;
	va_start(ap, fmt);
	g_vsnprintf(reply->text, sizeof(reply->text), fmt, ap);
	va_end(ap);
	/* One pass over the finished text rather than over each echoed part:
	 * nothing a client sent can reach the wire as CR, LF or 8-bit. */
	for (char *p = reply->text; *p != '\0'; p++)
		if ((guchar)*p < 32 || (guchar)*p > 126)
			*p = '?';
}

void
relay_reply_append(const RelayReplyText *reply, GString *out)
{
	g_string_append_printf(out, "%u %s %s\r\n", reply->code, reply->enhanced, reply->text);
}

int
relay_cmd_split(const char *line, gsize len, char *verb, gsize verb_size, const char **args,
                RelayReplyText *reply)
{
	gsize n = 0;

	verb[0] = '\0';
	*args = NULL;
	while (n < len && g_ascii_isalnum(line[n]))
		n++;
	if (n == 0 || n >= verb_size || (n < len && line[n] != ' ') ||
	    memchr(line, '\0', len) != NULL) {
		relay_reply_set(reply, 500, "5.5.2", "Syntax error, command unrecognized");
		return -1;
	}
	for (gsize i = 0; i < n; i++)
		verb[i] = g_ascii_toupper(line[i]);
	verb[n] = '\0';
	for (gsize i = n; i < len; i++)
		if (line[i] != ' ') {
			*args = line + n + 1;
			break;
		}
	return 0;
}

/* ---- xtext -------------------------------------------------------------- */

static int
hex_upper_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
relay_xtext_decode(const char *s, GError **err)
{
	g_autoptr(GString) buf = g_string_new(NULL);

	for (const char *p = s; *p != '\0'; p++) {
		guchar c = (guchar)*p;
		int hi, lo;

		if (c < 33 || c > 126 || c == '=') {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "bad character in xtext");
			return NULL;
		}
		if (c != '+') {
			g_string_append_c(buf, (char)c);
			continue;
		}
		hi = hex_upper_value(p[1]);
		lo = hi < 0 ? -1 : hex_upper_value(p[2]);
		if (lo < 0 || (hi | lo) == 0) {
			g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "bad '+' escape in xtext");
			return NULL;
		}
		g_string_append_c(buf, (char)(hi << 4 | lo));
		p += 2;
	}
	return g_string_free(g_steal_pointer(&buf), FALSE);
}

void
relay_xtext_encode(const char *s, GString *out)
{
	for (const char *p = s; *p != '\0'; p++) {
		guchar c = (guchar)*p;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			g_string_append_printf(out, "+%02X", c);
		else
			g_string_append_c(out, (char)c);
	}
}

/* ---- ESMTP parameters --------------------------------------------------- */

/* What the parameter handlers work on: one of the two results, and the
 * facts they need. */
typedef struct {
	guint flags;
	guint64 max_size;
	RelayMailArgs *mail;
	RelayRcptArgs *rcpt;
} ParamCtx;

typedef int (*ParamFn)(ParamCtx *ctx, const char *keyword, const char *value,
                       RelayReplyText *reply);

typedef struct {
	const char *name;
	gboolean has_value; /* "SIZE=n" rather than "SMTPUTF8" */
	guint need_flag;    /* offered only with this flag; 0: always */
	ParamFn fn;
} ParamDef;

static int
param_bad(RelayReplyText *reply, const char *keyword)
{
	relay_reply_set(reply, 501, "5.5.4", "Bad %.*s parameter", RELAY_ECHO_MAX, keyword);
	return -1;
}

/* Decoded DSN and AUTH values travel on in DSNs and to the smart host;
 * control characters there could forge header lines. */
static gboolean
decoded_is_clean(const char *s, gboolean ascii_only)
{
	for (const char *p = s; *p != '\0'; p++) {
		guchar c = (guchar)*p;

		if (c < 32 || c == 127 || (ascii_only && c > 127))
			return FALSE;
	}
	return g_utf8_validate(s, -1, NULL);
}

static int
param_size(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	guint64 n;

	if (hm_parse_uint(value, 0, G_MAXUINT64, &n) < 0)
		return param_bad(reply, keyword);
	if (ctx->max_size != 0 && n > ctx->max_size) {
		relay_reply_set(reply, 552, "5.3.4",
		                "Message size exceeds fixed maximum message size");
		return -1;
	}
	ctx->mail->size = n;
	return 0;
}

static int
param_body(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	RelayBody body;

	if (relay_body_parse(value, &body) < 0)
		return param_bad(reply, keyword);
	if (body == RELAY_BODY_BINARYMIME && !(ctx->flags & RELAY_PARSE_BINARYMIME)) {
		relay_reply_set(reply, 555, "5.5.4", "BODY=BINARYMIME not supported");
		return -1;
	}
	ctx->mail->body = body;
	return 0;
}

static int
param_smtputf8(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	(void)keyword;
	(void)value;
	(void)reply;
	ctx->mail->smtputf8 = TRUE;
	return 0;
}

static int
param_ret(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	if (relay_ret_parse(value, &ctx->mail->ret) < 0)
		return param_bad(reply, keyword);
	return 0;
}

static int
param_envid(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	g_autofree char *dec = NULL;

	if (strlen(value) > RELAY_ENVID_MAX)
		return param_bad(reply, keyword);
	dec = relay_xtext_decode(value, NULL);
	/* RFC 3461 4.4: the ENVID is printable US-ASCII. */
	if (dec == NULL || *dec == '\0' || !decoded_is_clean(dec, TRUE))
		return param_bad(reply, keyword);
	ctx->mail->envid = g_steal_pointer(&dec);
	return 0;
}

static int
param_auth(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	g_autofree char *dec = NULL;

	if (strcmp(value, "<>") == 0) {
		ctx->mail->auth = g_strdup(value);
		return 0;
	}
	if (strlen(value) > RELAY_AUTH_PARAM_MAX)
		return param_bad(reply, keyword);
	dec = relay_xtext_decode(value, NULL);
	if (dec == NULL || *dec == '\0' || !decoded_is_clean(dec, FALSE))
		return param_bad(reply, keyword);
	ctx->mail->auth = g_steal_pointer(&dec);
	return 0;
}

static int
param_notify(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	if (relay_notify_parse(value, &ctx->rcpt->notify) < 0)
		return param_bad(reply, keyword);
	return 0;
}

/* "addr-type;xtext" (RFC 3461 4.2); the type is an atom ("rfc822",
 * "utf-8") and is kept, since the DSN repeats the value whole. */
static int
param_orcpt(ParamCtx *ctx, const char *keyword, const char *value, RelayReplyText *reply)
{
	const char *semi = strchr(value, ';');
	g_autofree char *dec = NULL;

	if (strlen(value) > RELAY_ORCPT_MAX || semi == NULL || semi == value)
		return param_bad(reply, keyword);
	for (const char *p = value; p < semi; p++)
		if (!g_ascii_isalnum(*p) && *p != '-')
			return param_bad(reply, keyword);
	dec = relay_xtext_decode(semi + 1, NULL);
	if (dec == NULL || *dec == '\0' || !decoded_is_clean(dec, FALSE))
		return param_bad(reply, keyword);
	ctx->rcpt->orcpt = g_strdup_printf("%.*s;%s", (int)(semi - value), value, dec);
	return 0;
}

static const ParamDef mail_params[] = {
	{ "SIZE", TRUE, 0, param_size },
	{ "BODY", TRUE, 0, param_body },
	{ "SMTPUTF8", FALSE, RELAY_PARSE_UTF8, param_smtputf8 },
	{ "RET", TRUE, 0, param_ret },
	{ "ENVID", TRUE, 0, param_envid },
	{ "AUTH", TRUE, 0, param_auth },
};

static const ParamDef rcpt_params[] = {
	{ "NOTIFY", TRUE, 0, param_notify },
	{ "ORCPT", TRUE, 0, param_orcpt },
};

/* esmtp-keyword of RFC 5321 4.1.2: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
static gboolean
keyword_valid(const char *s)
{
	if (!g_ascii_isalnum(s[0]))
		return FALSE;
	for (const char *p = s; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-')
			return FALSE;
	return TRUE;
}

/* Parses one "KEYWORD[=value]" against defs; seen holds a bit per def. */
static int
param_one(char *token, const ParamDef *defs, gsize n_defs, guint *seen, ParamCtx *ctx,
          RelayReplyText *reply)
{
	char *eq = strchr(token, '=');
	const char *value = NULL;

	if (eq != NULL) {
		*eq = '\0';
		value = eq + 1;
	}
	if (!keyword_valid(token)) {
		relay_reply_set(reply, 501, "5.5.4", "Bad parameter syntax");
		return -1;
	}
	for (gsize i = 0; i < n_defs; i++) {
		const ParamDef *d = &defs[i];

		if (g_ascii_strcasecmp(token, d->name) != 0 ||
		    (d->need_flag != 0 && !(ctx->flags & d->need_flag)))
			continue;
		if (*seen & (1u << i)) {
			relay_reply_set(reply, 501, "5.5.4", "Duplicate %s parameter", d->name);
			return -1;
		}
		*seen |= 1u << i;
		if (d->has_value != (value != NULL) || (value != NULL && *value == '\0'))
			return param_bad(reply, d->name);
		return d->fn(ctx, d->name, value, reply);
	}
	relay_reply_set(reply, 555, "5.5.4", "Unsupported parameter %.*s", RELAY_ECHO_MAX, token);
	return -1;
}

/* Parses the space-separated parameters in p (trailing spaces allowed). */
static int
params_parse(const char *p, const ParamDef *defs, gsize n_defs, ParamCtx *ctx,
             RelayReplyText *reply)
{
	guint seen = 0;

	for (;;) {
		const char *end;
		g_autofree char *token = NULL;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		token = g_strndup(p, (gsize)(end - p));
		if (param_one(token, defs, n_defs, &seen, ctx, reply) < 0)
			return -1;
		p = end;
	}
}

/* ---- paths -------------------------------------------------------------- */

/* Where the path that starts at s[0] == '<' ends: the offset after its
 * '>', found as lib/address.c finds it (a quoted '>' is a character), or
 * 0 when there is none. The parameters, which decide how the address is
 * parsed (SMTPUTF8), come after it. */
static gsize
path_extent(const char *s)
{
	gboolean quoted = FALSE;

	for (gsize i = 1; s[i] != '\0'; i++) {
		if (quoted && s[i] == '\\' && s[i + 1] != '\0')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '>')
			return i + 1;
	}
	return 0;
}

/* Finds "FROM:" or "TO:" (any case, one space after the colon allowed)
 * and the path after it. Returns the path's start, *path_len and *rest
 * (the parameters), or NULL when the syntax is wrong. */
static const char *
path_locate(const char *args, const char *prefix, gsize *path_len, const char **rest)
{
	gsize plen = strlen(prefix);
	const char *path;

	if (args == NULL || g_ascii_strncasecmp(args, prefix, plen) != 0)
		return NULL;
	path = args + plen;
	if (*path == ' ')
		path++;
	if (*path != '<' || (*path_len = path_extent(path)) == 0)
		return NULL;
	*rest = path + *path_len;
	if (**rest != '\0' && **rest != ' ')
		return NULL;
	return path;
}

/* Parses the located path into *out with the SMTPUTF8 rules of RFC 6531
 * 3.7.4.1: an 8-bit address needs SMTPUTF8 in this transaction. detail is
 * the enhanced code of a bad address (5.1.7 sender, 5.1.3 recipient). */
static int
path_parse(const char *path, gsize len, guint addr_flags, gboolean utf8_offered,
           gboolean utf8_given, gboolean *is_null, const char *detail, HmAddress *out,
           RelayReplyText *reply)
{
	g_autofree char *copy = g_strndup(path, len);
	g_autoptr(GError) err = NULL;
	gsize end = 0;

	if (hm_has_8bit(path, len) && !utf8_given) {
		if (utf8_offered)
			relay_reply_set(reply, 553, "5.6.7",
			                "Non-ASCII address requires the SMTPUTF8 parameter");
		else
			relay_reply_set(reply, 501, detail, "Non-ASCII address not supported");
		return -1;
	}
	if (utf8_given)
		addr_flags |= HM_ADDR_UTF8;
	if (hm_path_parse(copy, addr_flags, out, is_null, &end, &err) < 0 || end != len) {
		hm_address_clear(out);
		relay_reply_set(reply, 553, detail, "Bad address syntax: %s",
		                err != NULL ? err->message : "junk after the path");
		return -1;
	}
	return 0;
}

int
relay_parse_mail_args(const char *args, guint flags, guint64 max_size, RelayMailArgs *out,
                      RelayReplyText *reply)
{
	ParamCtx ctx = { flags, max_size, out, NULL };
	const char *path, *rest = NULL;
	gsize len = 0;

	memset(out, 0, sizeof(*out));
	path = path_locate(args, "FROM:", &len, &rest);
	if (path == NULL) {
		relay_reply_set(reply, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return -1;
	}
	if (params_parse(rest, mail_params, G_N_ELEMENTS(mail_params), &ctx, reply) < 0 ||
	    path_parse(path, len, 0, (flags & RELAY_PARSE_UTF8) != 0, out->smtputf8,
	               &out->null_sender, "5.1.7", &out->path, reply) < 0) {
		relay_mail_args_clear(out);
		return -1;
	}
	return 0;
}

int
relay_parse_rcpt_args(const char *args, guint flags, RelayRcptArgs *out, RelayReplyText *reply)
{
	ParamCtx ctx = { flags, 0, NULL, out };
	const char *path, *rest = NULL;
	gsize len = 0;

	memset(out, 0, sizeof(*out));
	path = path_locate(args, "TO:", &len, &rest);
	if (path == NULL) {
		relay_reply_set(reply, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return -1;
	}
	if (params_parse(rest, rcpt_params, G_N_ELEMENTS(rcpt_params), &ctx, reply) < 0 ||
	    path_parse(path, len, HM_ADDR_NO_DOMAIN, (flags & RELAY_PARSE_UTF8) != 0,
	               (flags & RELAY_PARSE_UTF8_TXN) != 0, NULL, "5.1.3", &out->addr, reply) < 0) {
		relay_rcpt_args_clear(out);
		return -1;
	}
	/* RFC 5321 4.1.1.3: only postmaster may come without a domain. */
	if (out->addr.domain == NULL && g_ascii_strcasecmp(out->addr.local, "postmaster") != 0) {
		relay_rcpt_args_clear(out);
		relay_reply_set(reply, 553, "5.1.3", "Bad address syntax: missing @domain");
		return -1;
	}
	return 0;
}

void
relay_mail_args_clear(RelayMailArgs *a)
{
	hm_address_clear(&a->path);
	g_free(a->envid);
	g_free(a->auth);
	memset(a, 0, sizeof(*a));
}

void
relay_rcpt_args_clear(RelayRcptArgs *a)
{
	hm_address_clear(&a->addr);
	g_free(a->orcpt);
	memset(a, 0, sizeof(*a));
}

/* ---- BDAT, AUTH, HELO/EHLO ---------------------------------------------- */

/* Splits s at single or repeated spaces into at most max words (trailing
 * spaces dropped); returns the number found, or max + 1 when there are
 * more. Words point into s and end at a space or NUL: lens says where. */
static guint
words_split(const char *s, const char **words, gsize *lens, guint max)
{
	guint n = 0;

	while (s != NULL) {
		const char *end;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (n == max)
			return max + 1;
		end = strchr(s, ' ');
		if (end == NULL)
			end = s + strlen(s);
		words[n] = s;
		lens[n++] = (gsize)(end - s);
		s = end;
	}
	return n;
}

int
relay_parse_bdat(const char *args, guint64 *size, gboolean *last, RelayReplyText *reply)
{
	const char *w[2];
	gsize l[2];
	guint n = words_split(args, w, l, 2);

	if (n == 0 || n > 2 || hm_parse_uint_n(w[0], l[0], 0, G_MAXUINT64, size) < 0 ||
	    (n == 2 && (l[1] != 4 || g_ascii_strncasecmp(w[1], "LAST", 4) != 0))) {
		relay_reply_set(reply, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
		return -1;
	}
	*last = n == 2;
	return 0;
}

/* RFC 4422 3.1: sasl-mech = 1*20mech-char, upper-case letters, digits,
 * '-' and '_'; lower case is accepted, as every server does. */
static gboolean
mech_valid(const char *s, gsize len)
{
	if (len == 0 || len > 20)
		return FALSE;
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_')
			return FALSE;
	return TRUE;
}

static gboolean
base64_chars(const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '+' && s[i] != '/' && s[i] != '=')
			return FALSE;
	return TRUE;
}

int
relay_parse_auth(const char *args, char **mech, char **initial, RelayReplyText *reply)
{
	const char *w[2];
	gsize l[2];
	guint n = words_split(args, w, l, 2);

	*mech = NULL;
	*initial = NULL;
	if (n == 0 || n > 2 || !mech_valid(w[0], l[0]) || (n == 2 && !base64_chars(w[1], l[1]))) {
		relay_reply_set(reply, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
		return -1;
	}
	*mech = g_ascii_strup(w[0], (gssize)l[0]);
	if (n == 2)
		*initial = g_strndup(w[1], l[1]);
	return 0;
}

static int
helo_fail(RelayReplyText *reply, gboolean ehlo, const char *why)
{
	relay_reply_set(reply, 501, "5.5.4", "Syntax: %s hostname (%s)", ehlo ? "EHLO" : "HELO",
	                why);
	return -1;
}

int
relay_parse_helo(const char *args, gboolean ehlo, char **domain, RelayReplyText *reply)
{
	const char *w[1];
	gsize l[1];
	guint n = words_split(args, w, l, 1);
	HmAddress lit;

	*domain = NULL;
	if (n == 0)
		return helo_fail(reply, ehlo, "no name");
	if (l[0] > RELAY_HELO_MAX)
		return helo_fail(reply, ehlo, "name too long");
	/* The rest of the line is ignored, but it may not carry controls or
	 * 8-bit octets either: the whole line may end up in a log. */
	for (const char *p = w[0]; *p != '\0'; p++)
		if ((guchar)*p < 32 || (guchar)*p > 126)
			return helo_fail(reply, ehlo, "bad character");
	if (w[0][0] != '[') {
		*domain = g_strndup(w[0], l[0]);
		return 0;
	}
	{
		g_autofree char *addr = g_strdup_printf("x@%.*s", (int)l[0], w[0]);

		if (hm_address_parse(addr, strlen(addr), 0, &lit, NULL) < 0)
			return helo_fail(reply, ehlo, "bad address literal");
	}
	*domain = g_steal_pointer(&lit.domain);
	hm_address_clear(&lit);
	return 0;
}
