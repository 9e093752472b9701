/* Fuzzes the SMTP/LMTP reply parser and the EHLO extension parser: the
 * input is a stream of replies, parsed one after another as the client
 * does; whatever is accepted keeps every bound. */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "lib/smtp-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const HmSmtpReply *r)
{
	HmSmtpExt ext;
	char *one = hm_smtp_reply_oneline(r);

	if (r->code < 200 || r->code > 599 || r->n_lines < 1 ||
	    r->n_lines > HM_SMTP_REPLY_LINES_MAX || !r->done)
		__builtin_trap();
	if (strlen(one) > HM_SMTP_ONELINE_MAX)
		__builtin_trap();
	for (const char *p = one; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			__builtin_trap();
	g_free(one);
	hm_smtp_ext_parse(r, &ext);
	if (ext.auth_mechs != NULL && g_strv_length(ext.auth_mechs) > HM_SMTP_AUTH_MECHS_MAX)
		__builtin_trap();
	if (ext.auth_mechs != NULL && !(ext.flags & HM_SMTP_EXT_AUTH))
		__builtin_trap();
	hm_smtp_ext_clear(&ext);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	gsize pos = 0;

	while (pos < size) {
		HmSmtpReply r;
		gsize used = 0;
		int rc;

		hm_smtp_reply_init(&r);
		rc = hm_smtp_reply_parse(buf + pos, size - pos, &r, &used, NULL);
		if (rc == 1) {
			if (used == 0 || used > size - pos)
				__builtin_trap();
			check(&r);
			pos += used;
		}
		hm_smtp_reply_clear(&r);
		if (rc != 1)
			break;
	}
	return 0;
}
