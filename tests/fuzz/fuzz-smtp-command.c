/* Fuzzes the SMTP server's command parsers: the input is one command
 * line, split into verb and arguments, and the arguments go through every
 * parser with no extension offered and with all of them. Whatever is
 * accepted keeps its documented shape; whatever is refused comes with a
 * reply that is safe to send, and leaves nothing allocated. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "lib/sasl.h"
#include "relay/smtp-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const RelayReplyText *r)
{
	if (r->code < 500 || r->code > 599 || r->enhanced == NULL || r->enhanced[0] != '5')
		__builtin_trap();
	for (const char *p = r->text; *p != '\0'; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
			__builtin_trap();
}

static void
check_mail(const char *args, guint flags)
{
	RelayMailArgs m;
	RelayReplyText r = { 0 };

	if (relay_parse_mail_args(args, flags, 1000, &m, &r) < 0) {
		check_reply(&r);
		if (m.path.local != NULL || m.envid != NULL || m.auth != NULL)
			__builtin_trap();
		return;
	}
	if (m.null_sender != (m.path.local == NULL) || (!m.null_sender && m.path.domain == NULL))
		__builtin_trap();
	if (m.size > 1000 || (m.smtputf8 && !(flags & RELAY_PARSE_UTF8)) ||
	    (m.body == RELAY_BODY_BINARYMIME && !(flags & RELAY_PARSE_BINARYMIME)))
		__builtin_trap();
	if (m.envid != NULL && (m.envid[0] == '\0' || strlen(m.envid) > RELAY_ENVID_MAX))
		__builtin_trap();
	relay_mail_args_clear(&m);
}

static void
check_rcpt(const char *args, guint flags)
{
	RelayRcptArgs t;
	RelayReplyText r = { 0 };

	if (relay_parse_rcpt_args(args, flags, &t, &r) < 0) {
		check_reply(&r);
		if (t.addr.local != NULL || t.orcpt != NULL)
			__builtin_trap();
		return;
	}
	if (t.addr.local == NULL ||
	    (t.addr.domain == NULL && g_ascii_strcasecmp(t.addr.local, "postmaster") != 0))
		__builtin_trap();
	if (t.orcpt != NULL && (strchr(t.orcpt, ';') == NULL || strpbrk(t.orcpt, "\r\n") != NULL))
		__builtin_trap();
	relay_rcpt_args_clear(&t);
}

static void
check_others(const char *args)
{
	RelayReplyText r = { 0 };
	guint64 n;
	gboolean last;
	char *mech, *initial, *domain;

	if (relay_parse_bdat(args, &n, &last, &r) < 0)
		check_reply(&r);
	if (relay_parse_auth(args, &mech, &initial, &r) == 0) {
		if (strlen(mech) < 1 || strlen(mech) > 20)
			__builtin_trap();
		g_free(mech);
		hm_sasl_free_secret(initial);
	} else {
		check_reply(&r);
	}
	for (int ehlo = 0; ehlo <= 1; ehlo++) {
		if (relay_parse_helo(args, ehlo, &domain, &r) == 0) {
			if (domain[0] == '\0' || strlen(domain) > RELAY_HELO_MAX ||
			    strpbrk(domain, " \r\n") != NULL)
				__builtin_trap();
			g_free(domain);
		} else {
			check_reply(&r);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *line = g_strndup((const char *)data, size);
	static const guint flag_sets[] = { 0, RELAY_PARSE_UTF8 | RELAY_PARSE_BINARYMIME |
		                                      RELAY_PARSE_UTF8_TXN };
	char verb[RELAY_VERB_MAX];
	const char *args = NULL;
	RelayReplyText r = { 0 };

	if (relay_cmd_split(line, size, verb, sizeof(verb), &args, &r) < 0) {
		check_reply(&r);
		/* The parsers must still cope with whatever follows a verb. */
		args = line;
	} else {
		for (const char *p = verb; *p != '\0'; p++)
			if (!g_ascii_isupper(*p) && !g_ascii_isdigit(*p))
				__builtin_trap();
		if (args != NULL && (args <= line || args > line + size))
			__builtin_trap();
	}
	for (gsize i = 0; i < G_N_ELEMENTS(flag_sets); i++) {
		check_mail(args, flag_sets[i]);
		check_rcpt(args, flag_sets[i]);
	}
	check_others(args);
	return 0;
}
