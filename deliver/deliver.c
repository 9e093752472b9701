/* Local delivery: checks and normalises one message, adds the trace
 * headers, and hands it to the user's Maildir (or mbox). */
#include <config.h>

#include <string.h>

#include "conf/hmconfig.h"
#include "deliver/deliver.h"
#include "deliver/mbox.h"
#include "lib/error.h"
#include "lib/header.h"
#include "lib/maildir.h"

G_DEFINE_QUARK(homemail-deliver-error-quark, hm_deliver_error)

char *
hm_deliver_maildir_path(const HmConfig *cfg, const char *user)
{
	return g_build_filename(cfg->mail_dir, user, NULL);
}

char *
hm_deliver_canonical_address(const HmConfig *cfg, const char *user)
{
	const HmUserConf *u = hm_config_find_user(cfg, user);

	if (u != NULL && u->addresses != NULL && u->addresses[0] != NULL)
		return g_strdup(u->addresses[0]);
	if (cfg->local_domains != NULL && cfg->local_domains[0] != NULL)
		return g_strconcat(user, "@", cfg->local_domains[0], NULL);
	return g_strconcat(user, "@", cfg->hostname, NULL);
}

int
hm_deliver_exit_code(const GError *err)
{
	if (err == NULL)
		return 0;
	if (err->domain == HM_DELIVER_ERROR) {
		switch ((HmDeliverError)err->code) {
		case HM_DELIVER_ERROR_UNKNOWN_USER:
			return 67;  /* EX_NOUSER */
		case HM_DELIVER_ERROR_MALFORMED:
		case HM_DELIVER_ERROR_LOOP:
			return 65;  /* EX_DATAERR */
		case HM_DELIVER_ERROR_TEMP:
			break;
		}
	} else if (err->domain == HM_ERROR && err->code == HM_ERROR_PARSE) {
		return 65;
	}
	/* Anything unforeseen is temporary: the MTA keeps the mail and
	 * retries, where a permanent code would bounce (or lose) it. */
	return 75;  /* EX_TEMPFAIL */
}

static int
malformed(GError **err, const char *why)
{
	g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_MALFORMED, "malformed message: %s",
	            why);
	return -1;
}

/* The message as handed over: head (trace fields the caller adds in front;
 * may be empty) and body, one message back to back. */
typedef struct {
	const char *head;
	gsize head_len;
	const char *body;
	gsize body_len;
} Input;

/* Checks the raw input and drops a leading mbox "From " envelope line,
 * which is no part of RFC 5322 mail (only at the very start: a caller's
 * head is header fields). */
static int
check_input(Input *in, GError **err)
{
	HmHeaderIter it;
	HmHeaderField f;

	if (in->head_len + in->body_len == 0)
		return malformed(err, "empty input");
	if (memchr(in->head, '\0', in->head_len) != NULL ||
	    memchr(in->body, '\0', in->body_len) != NULL)
		return malformed(err, "NUL byte in message");
	if (in->head_len == 0 && in->body_len >= 5 && memcmp(in->body, "From ", 5) == 0) {
		const char *nl = memchr(in->body, '\n', in->body_len);
		gsize skip = nl != NULL ? (gsize)(nl + 1 - in->body) : in->body_len;

		in->body += skip;
		in->body_len -= skip;
	}
	if (in->head_len > 0)
		hm_header_iter_init(&it, in->head, in->head_len);
	else
		hm_header_iter_init(&it, in->body, in->body_len);
	if (hm_header_next(&it, &f) != 1)
		return malformed(err, "the first line is not a header field");
	return 0;
}

/* Writes the stored form of a message -- LF line ends, ending with a LF
 * -- to a Maildir file through a small buffer, or appends it to a string
 * (mbox), as it converts: a large message is never held twice. A CRLF
 * becomes LF, a lone CR stays; the state carries a CR across feeds. */
#define STORED_CHUNK (64 * 1024)

typedef struct {
	HmMaildirDelivery *d;   /* the file, or */
	GString *into;          /* the string */
	char *buf;              /* STORED_CHUNK octets for d */
	gsize n;
	gboolean pending_cr;    /* a CR whose successor is not seen yet */
	char last;              /* the last octet out */
	GError *err;            /* the first write error; later writes are dropped */
} Stored;

static void
stored_flush(Stored *w)
{
	if (w->n > 0 && w->err == NULL)
		hm_maildir_delivery_write(w->d, w->buf, w->n, &w->err);
	w->n = 0;
}

static void
stored_emit(Stored *w, const char *p, gsize n)
{
	if (n == 0)
		return;
	w->last = p[n - 1];
	if (w->into != NULL) {
		g_string_append_len(w->into, p, (gssize)n);
		return;
	}
	if (w->n + n > STORED_CHUNK)
		stored_flush(w);
	if (n >= STORED_CHUNK) {
		if (w->err == NULL)
			hm_maildir_delivery_write(w->d, p, n, &w->err);
		return;
	}
	memcpy(w->buf + w->n, p, n);
	w->n += n;
}

/* Copies the runs between CRs whole: a byte at a time was a fifth of the
 * fetcher's CPU time. */
static void
stored_feed(Stored *w, const char *p, gsize len)
{
	const char *end = p + len;

	if (len > 0 && w->pending_cr) {
		if (*p != '\n')
			stored_emit(w, "\r", 1);
		w->pending_cr = FALSE;
	}
	while (p < end) {
		const char *cr = memchr(p, '\r', (gsize)(end - p));

		if (cr == NULL) {
			stored_emit(w, p, (gsize)(end - p));
			break;
		}
		stored_emit(w, p, (gsize)(cr - p));
		if (cr + 1 == end) {
			w->pending_cr = TRUE;
			break;
		}
		if (cr[1] != '\n')
			stored_emit(w, "\r", 1);
		p = cr + 1;
	}
}

/* Writes the whole message; 0, or -1 with *err (the file's write error). */
static int
stored_write(Stored *w, const Input *in, GError **err)
{
	stored_feed(w, in->head, in->head_len);
	stored_feed(w, in->body, in->body_len);
	if (w->pending_cr)
		stored_emit(w, "\r", 1);
	if (w->last != '\n')
		stored_emit(w, "\n", 1);
	if (w->into == NULL)
		stored_flush(w);
	if (w->err != NULL) {
		g_propagate_error(err, w->err);
		w->err = NULL;
		return -1;
	}
	return 0;
}

/* Scans the header section for a Delivered-To naming rcpt (a loop) and for
 * an existing Return-Path (*return_path: its address, the first one).
 * Delivered-To fields above the first Received: were prepended for this
 * very delivery by the MTA running us (Postfix's local(8) does so before a
 * mailbox_command, after its own loop check), so they only count when
 * the message has no Received: at all; a real loop always passed a relay
 * hop, which put a Received: above the old Delivered-To. */
static int
scan_header(const Input *in, const char *rcpt, char **return_path, GError **err)
{
	g_autoptr(GString) joined = NULL;
	HmHeaderIter it;
	HmHeaderField f;
	gboolean received = FALSE, above = FALSE, below = FALSE;

	if (in->head_len == 0) {
		hm_header_iter_init(&it, in->body, in->body_len);
	} else {
		/* The header fields run on from head into body: iterate over
		 * a copy of the header section only, never the whole message. */
		joined = g_string_new_len(in->head, (gssize)in->head_len);
		g_string_append_len(joined, in->body,
		                    (gssize)hm_header_section_end(in->body, in->body_len));
		hm_header_iter_init(&it, joined->str, joined->len);
	}
	while (hm_header_next(&it, &f) == 1) {
		if (hm_header_is(&f, "Received")) {
			received = TRUE;
		} else if (hm_header_is(&f, "Return-Path")) {
			if (*return_path == NULL) {
				g_autofree char *v = hm_header_value(&f);

				*return_path = hm_header_addr_spec(v);
			}
		} else if (hm_header_is(&f, "Delivered-To")) {
			g_autofree char *v = hm_header_value(&f);
			g_autofree char *a = hm_header_addr_spec(v);

			if (g_ascii_strcasecmp(a, rcpt) == 0)
				*(received ? &below : &above) = TRUE;
		}
	}
	if (below || (above && !received)) {
		g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_LOOP,
		            "mail loop: the message was already delivered to %s", rcpt);
		return -1;
	}
	return 0;
}

/* Envelope values end up in header fields: a CR or LF in them would let
 * the sender forge header lines. */
static gboolean
header_safe(const char *s)
{
	for (const guchar *p = (const guchar *)s; *p != '\0'; p++)
		if (*p < ' ' || *p == 127)
			return FALSE;
	return TRUE;
}

/* Turns a lower-layer error into HM_DELIVER_ERROR_TEMP, keeping its text. */
static int
temp_failure(GError **err, GError *cause, const char *user)
{
	g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_TEMP, "delivery to %s failed: %s", user,
	            cause->message);
	g_error_free(cause);
	return -1;
}

static int
write_maildir(const HmConfig *cfg, const char *user, const GString *prefix, const Input *in,
              char **where_out, HmDeliverStaged *staged, GError **err)
{
	g_autofree char *dir = hm_deliver_maildir_path(cfg, user);
	g_autofree char *name = NULL;
	g_autofree char *buf = g_malloc(STORED_CHUNK);
	HmMaildirDelivery *d;
	GError *cause = NULL;
	Stored w = { .buf = buf };

	d = hm_maildir_delivery_begin(dir, &cause);
	if (d == NULL)
		return temp_failure(err, cause, user);
	w.d = d;
	/* Through the buffer too: a small message is one write(2). */
	stored_emit(&w, prefix->str, prefix->len);
	if (stored_write(&w, in, &cause) < 0) {
		hm_maildir_delivery_abort(d);
		return temp_failure(err, cause, user);
	}
	if (staged != NULL) {
		if (hm_maildir_delivery_stage(d, &staged->tmp_path, &staged->new_path, &cause) < 0)
			return temp_failure(err, cause, user);
		return 0;
	}
	if (hm_maildir_delivery_commit(d, &name, &cause) < 0)
		return temp_failure(err, cause, user);
	if (where_out != NULL)
		*where_out = g_build_filename(dir, name, NULL);
	return 0;
}

static int
write_mbox(const HmConfig *cfg, const char *user, const char *sender, GString *prefix,
           const Input *in, char **where_out, GError **err)
{
	g_autofree char *file = g_strconcat(user, ".mbox", NULL);
	g_autofree char *path = g_build_filename(cfg->mail_dir, file, NULL);
	GError *cause = NULL;
	Stored w = { .into = prefix };

	stored_write(&w, in, NULL);  /* into a string: cannot fail */
	if (hm_mbox_deliver(path, sender != NULL ? sender : "", prefix->str, prefix->len,
	                    HM_MBOX_LOCK_TIMEOUT_MS, &cause) < 0)
		return temp_failure(err, cause, user);
	if (where_out != NULL)
		*where_out = g_steal_pointer(&path);
	return 0;
}

static int
deliver(const HmConfig *cfg, const char *user, const char *rcpt, const char *sender,
        Input *in, char **where_out, HmDeliverStaged *staged, GError **err)
{
	const HmUserConf *u = hm_config_find_user(cfg, user);
	g_autoptr(GString) prefix = g_string_sized_new(256);
	g_autofree char *canonical = NULL;
	g_autofree char *return_path = NULL;

	if (u == NULL) {
		g_set_error(err, HM_DELIVER_ERROR, HM_DELIVER_ERROR_UNKNOWN_USER, "%s: no such user",
		            user);
		return -1;
	}
	if (rcpt == NULL)
		rcpt = canonical = hm_deliver_canonical_address(cfg, user);
	if (!header_safe(rcpt) || (sender != NULL && !header_safe(sender)))
		return malformed(err, "control character in the sender or recipient address");
	if (check_input(in, err) < 0 || scan_header(in, rcpt, &return_path, err) < 0)
		return -1;
	/* With no envelope sender given, the Return-Path the message came
	 * with (an upstream MTA's) is the best one there is: keep it alone. */
	if (sender != NULL || return_path == NULL)
		g_string_append_printf(prefix, "Return-Path: <%s>\n", sender != NULL ? sender : "");
	g_string_append_printf(prefix, "Delivered-To: %s\n", rcpt);
	if (u->mail_format == HM_MAIL_FORMAT_MBOX)
		return write_mbox(cfg, u->name, sender != NULL ? sender : return_path, prefix, in,
		                  where_out, err);
	return write_maildir(cfg, u->name, prefix, in, where_out, staged, err);
}

int
hm_deliver_message(const HmConfig *cfg, const char *user, const char *rcpt, const char *sender,
                   const char *head, gsize head_len, const char *msg, gsize len,
                   char **where_out, GError **err)
{
	Input in = { head != NULL ? head : "", head != NULL ? head_len : 0, msg, len };

	return deliver(cfg, user, rcpt, sender, &in, where_out, NULL, err);
}

int
hm_deliver_message_staged(const HmConfig *cfg, const char *user, const char *rcpt,
                          const char *sender, const char *head, gsize head_len,
                          const char *msg, gsize len, HmDeliverStaged *staged, GError **err)
{
	Input in = { head != NULL ? head : "", head != NULL ? head_len : 0, msg, len };

	memset(staged, 0, sizeof(*staged));
	return deliver(cfg, user, rcpt, sender, &in, NULL, staged, err);
}

void
hm_deliver_staged_clear(HmDeliverStaged *staged)
{
	g_clear_pointer(&staged->tmp_path, g_free);
	g_clear_pointer(&staged->new_path, g_free);
}
