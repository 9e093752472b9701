#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "address.h"
#include "error.h"

/* Room for the longest valid literal content (an IPv6 address with an
 * embedded IPv4 part is 45 octets); anything longer is refused unread. */
#define ADDR_LITERAL_MAX 64

static int
addr_fail(GError **err, const char *why)
{
	g_set_error(err, HM_ERROR, HM_ERROR_PARSE, "%s", why);
	return -1;
}

/* atext of RFC 5322 3.2.3; with HM_ADDR_UTF8 also the bytes of non-ASCII
 * UTF-8 sequences (RFC 6531 3.3), whose validity is checked up front. */
static gboolean
is_atext(guchar c, guint flags)
{
	if (c >= 0x80)
		return (flags & HM_ADDR_UTF8) != 0;
	return g_ascii_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* qtextSMTP of RFC 5321 4.1.2: printable ASCII except '"' and '\'. */
static gboolean
is_qtext(guchar c, guint flags)
{
	if (c >= 0x80)
		return (flags & HM_ADDR_UTF8) != 0;
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

static const char *
local_bad_char(guchar c)
{
	return c >= 0x80 ? "non-ASCII local part needs SMTPUTF8" : "bad character in local part";
}

/* Scans a Dot-string from s[0..len); stops at the first character that is
 * neither atext nor '.', and returns how far it got. */
static int
dot_string_parse(const char *s, gsize len, guint flags, gsize *consumed, GError **err)
{
	gsize i = 0;

	while (i < len && (is_atext((guchar)s[i], flags) || s[i] == '.')) {
		if (s[i] == '.') {
			if (i == 0)
				return addr_fail(err, "local part starts with a dot");
			if (s[i - 1] == '.')
				return addr_fail(err, "two dots in a row in local part");
		}
		i++;
	}
	if (i == 0)
		return addr_fail(err, len == 0 || s[0] == '@' ? "empty local part" :
		                                               local_bad_char((guchar)s[0]));
	if (s[i - 1] == '.')
		return addr_fail(err, "local part ends with a dot");
	*consumed = i;
	return 0;
}

/* Scans a Quoted-string at s[0] == '"'; appends its content, quoted-pairs
 * resolved, to buf. */
static int
quoted_string_parse(const char *s, gsize len, guint flags, gsize *consumed, GString *buf,
                    GError **err)
{
	gsize i = 1;

	while (i < len && s[i] != '"') {
		guchar c = (guchar)s[i];

		if (c == '\\') {
			/* quoted-pairSMTP: a backslash and one printable ASCII. */
			if (i + 1 >= len || (guchar)s[i + 1] < 32 || (guchar)s[i + 1] > 126)
				return addr_fail(err, "bad quoted pair in local part");
			g_string_append_c(buf, s[i + 1]);
			i += 2;
			continue;
		}
		if (!is_qtext(c, flags))
			return addr_fail(err, c >= 0x80 ? "non-ASCII local part needs SMTPUTF8" :
			                                  "bad character in quoted local part");
		g_string_append_c(buf, (char)c);
		i++;
	}
	if (i >= len)
		return addr_fail(err, "unterminated quoted local part");
	if (buf->len == 0)
		return addr_fail(err, "empty local part");
	*consumed = i + 1;
	return 0;
}

static int
local_parse(const char *s, gsize len, guint flags, gsize *consumed, char **local,
            GError **err)
{
	g_autoptr(GString) buf = g_string_new(NULL);

	if (len > 0 && s[0] == '"') {
		if (quoted_string_parse(s, len, flags, consumed, buf, err) < 0)
			return -1;
	} else {
		if (dot_string_parse(s, len, flags, consumed, err) < 0)
			return -1;
		g_string_append_len(buf, s, (gssize)*consumed);
	}
	/* The limit applies to the local part as written, quotes included. */
	if (*consumed > HM_ADDR_LOCAL_MAX)
		return addr_fail(err, "local part longer than 64 octets");
	*local = g_string_free(g_steal_pointer(&buf), FALSE);
	return 0;
}

/* One sub-domain of RFC 5321 4.1.2: letters, digits and hyphens, neither
 * first nor last a hyphen, at most 63 octets (RFC 1035 2.3.4). */
static int
label_check(const char *s, gsize len, guint flags, GError **err)
{
	if (len == 0)
		return addr_fail(err, "empty label in domain");
	if (len > 63)
		return addr_fail(err, "domain label longer than 63 octets");
	if (s[0] == '-' || s[len - 1] == '-')
		return addr_fail(err, "domain label starts or ends with a hyphen");
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)s[i];

		if (c >= 0x80 && !(flags & HM_ADDR_UTF8))
			return addr_fail(err, "non-ASCII domain needs SMTPUTF8");
		if (c < 0x80 && !g_ascii_isalnum(c) && c != '-')
			return addr_fail(err, "bad character in domain");
	}
	return 0;
}

static int
ldh_domain_parse(const char *s, gsize len, guint flags, char **domain, GError **err)
{
	gsize start = 0;

	for (gsize i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		/* A trailing dot is DNS syntax, not SMTP syntax. */
		if (i == len && i > 0 && s[i - 1] == '.')
			return addr_fail(err, "domain ends with a dot");
		if (label_check(s + start, i - start, flags, err) < 0)
			return -1;
		start = i + 1;
	}
	*domain = g_ascii_strdown(s, (gssize)len);
	return 0;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]"; the General-address-literal of
 * RFC 5321 4.1.3 names no address we could use, so it is refused. */
static int
literal_parse(const char *s, gsize len, char **domain, GError **err)
{
	char buf[ADDR_LITERAL_MAX];
	guint8 bin[16];
	const char *inner = s + 1;
	gsize n;
	gboolean v6;

	if (len < 2 || s[len - 1] != ']')
		return addr_fail(err, "unterminated address literal");
	n = len - 2;
	v6 = n >= 5 && g_ascii_strncasecmp(inner, "IPv6:", 5) == 0;
	if (v6) {
		inner += 5;
		n -= 5;
	}
	/* inet_pton() would stop at an embedded NUL, so the characters are
	 * checked here first. */
	for (gsize i = 0; i < n; i++)
		if (!(g_ascii_isxdigit(inner[i]) || inner[i] == '.' || (v6 && inner[i] == ':')))
			return addr_fail(err, "bad character in address literal");
	if (n == 0 || n >= sizeof(buf))
		return addr_fail(err, "bad address literal");
	memcpy(buf, inner, n);
	buf[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, bin) != 1)
		return addr_fail(err, v6 ? "bad IPv6 address literal" : "bad IPv4 address literal");
	for (gsize i = 0; i < n; i++)
		buf[i] = g_ascii_tolower(buf[i]);
	/* The tag is kept in the RFC's spelling, the hex digits lower-cased,
	 * so that equal literals compare equal. */
	*domain = g_strdup_printf("[%s%s]", v6 ? "IPv6:" : "", buf);
	return 0;
}

static int
domain_parse(const char *s, gsize len, guint flags, char **domain, GError **err)
{
	if (len == 0)
		return addr_fail(err, "empty domain");
	if (len > HM_ADDR_DOMAIN_MAX)
		return addr_fail(err, "domain longer than 255 octets");
	if (s[0] == '[')
		return literal_parse(s, len, domain, err);
	return ldh_domain_parse(s, len, flags, domain, err);
}

int
hm_address_parse(const char *text, gsize len, guint flags, HmAddress *out, GError **err)
{
	g_autofree char *local = NULL;
	g_autofree char *domain = NULL;
	gsize pos = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len) != NULL)
		return addr_fail(err, "NUL character in address");
	if ((flags & HM_ADDR_UTF8) && !g_utf8_validate(text, (gssize)len, NULL))
		return addr_fail(err, "invalid UTF-8 in address");
	if (local_parse(text, len, flags, &pos, &local, err) < 0)
		return -1;
	if (pos == len) {
		if (!(flags & HM_ADDR_NO_DOMAIN))
			return addr_fail(err, "missing @domain");
	} else if (text[pos] != '@') {
		return addr_fail(err, local_bad_char((guchar)text[pos]));
	} else if (domain_parse(text + pos + 1, len - pos - 1, flags, &domain, err) < 0) {
		return -1;
	}
	/* Checked last, so that a part too long is named as such. A mailbox
	 * longer than this fits no MAIL FROM or RCPT TO, so taking one here
	 * (homemail-sendmail, the config) would only make mail that cannot
	 * leave. */
	if (len > HM_ADDR_MAILBOX_MAX)
		return addr_fail(err, "address longer than 254 octets");
	out->local = g_steal_pointer(&local);
	out->domain = g_steal_pointer(&domain);
	return 0;
}

/* Skips "@dom,@dom:" (RFC 5321 4.1.2 A-d-l), which servers must accept
 * and ignore (RFC 5321 3.6.1, appendix C); returns the offset after ':'. */
static int
source_route_skip(const char *text, gsize start, gsize *after, GError **err)
{
	gsize i = start;

	for (;;) {
		gsize dstart;
		g_autofree char *dom = NULL;

		if (text[i] != '@')
			return addr_fail(err, "bad source route");
		dstart = ++i;
		while (text[i] != '\0' && text[i] != ',' && text[i] != ':' && text[i] != '>')
			i++;
		if (i - dstart > HM_ADDR_DOMAIN_MAX)
			return addr_fail(err, "domain longer than 255 octets in source route");
		if (ldh_domain_parse(text + dstart, i - dstart, 0, &dom, err) < 0)
			return -1;
		if (text[i] == ':') {
			*after = i + 1;
			return 0;
		}
		if (text[i] != ',')
			return addr_fail(err, "bad source route");
		i++;
	}
}

/* Finds the '>' closing the path, stepping over quoted strings, in which
 * '>' is an ordinary character. */
static int
path_close_find(const char *text, gsize start, gsize *gt, GError **err)
{
	gboolean quoted = FALSE;

	for (gsize i = start; text[i] != '\0'; i++) {
		/* '>' at offset 255 makes the longest allowed path. */
		if (i >= HM_ADDR_PATH_MAX)
			return addr_fail(err, "path longer than 256 octets");
		if (quoted && text[i] == '\\' && text[i + 1] != '\0')
			i++;
		else if (text[i] == '"')
			quoted = !quoted;
		else if (!quoted && text[i] == '>') {
			*gt = i;
			return 0;
		}
	}
	return addr_fail(err, "missing '>' at the end of the path");
}

int
hm_path_parse(const char *text, guint flags, HmAddress *out, gboolean *is_null, gsize *end,
              GError **err)
{
	gsize start = 1, gt = 0;

	memset(out, 0, sizeof(*out));
	if (is_null != NULL)
		*is_null = FALSE;
	if (text[0] != '<')
		return addr_fail(err, "path must start with '<'");
	if (text[1] == '>') {
		if (is_null == NULL)
			return addr_fail(err, "null path <> not allowed here");
		*is_null = TRUE;
		if (end != NULL)
			*end = 2;
		return 0;
	}
	if (text[1] == '@' && source_route_skip(text, 1, &start, err) < 0)
		return -1;
	if (path_close_find(text, start, &gt, err) < 0)
		return -1;
	if (hm_address_parse(text + start, gt - start, flags, out, err) < 0)
		return -1;
	if (end != NULL)
		*end = gt + 1;
	return 0;
}

/* TRUE if s can be written as a Dot-string, without quotes. */
static gboolean
is_dot_string(const char *s)
{
	gsize len = strlen(s);

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((guchar)s[i], HM_ADDR_UTF8))
			return FALSE;
	}
	return TRUE;
}

char *
hm_address_format(const HmAddress *addr)
{
	GString *buf = g_string_new(NULL);

	if (is_dot_string(addr->local)) {
		g_string_append(buf, addr->local);
	} else {
		g_string_append_c(buf, '"');
		for (const char *p = addr->local; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				g_string_append_c(buf, '\\');
			g_string_append_c(buf, *p);
		}
		g_string_append_c(buf, '"');
	}
	if (addr->domain != NULL)
		g_string_append_printf(buf, "@%s", addr->domain);
	return g_string_free(buf, FALSE);
}

void
hm_address_clear(HmAddress *addr)
{
	g_clear_pointer(&addr->local, g_free);
	g_clear_pointer(&addr->domain, g_free);
}
