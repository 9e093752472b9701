/* Handing fetched mail to the local side: the injectors smtp, lmtp and
 * local (in-process deliver), one descriptor each, chosen by
 * fetcher.deliver. One injector serves one account run and keeps its
 * connection open for the whole run. */
#ifndef HM_FETCH_INJECT_H
#define HM_FETCH_INJECT_H

#include <glib.h>

#include "conf/hmconfig.h"
#include "deliver/deliver.h"

typedef enum {
	HM_INJECT_OK = 0,   /* the local side holds the message durably */
	HM_INJECT_TEMP,     /* try again later (4xx, timeout, connection lost, disk full) */
	HM_INJECT_PERM,     /* refused for good (5xx, unknown recipient, malformed) */
} HmInjectResult;

typedef struct HmInjector HmInjector;

/* Opens the injector configured in cfg->fetcher (connecting for smtp/lmtp:
 * greeting, EHLO/LHLO with cfg->hostname). Returns NULL with *err set
 * ("relay smtp:127.0.0.1:25: connect: Connection refused"). */
HmInjector *hm_injector_open(const HmConfig *cfg, GError **err);

/* Delivers one message: head (our Received: field; may be NULL) and msg
 * back to back, in wire form (CRLF line ends, not dot-stuffed, may end
 * without a final CRLF). Two parts so that a large message is never
 * copied to put a line in front of it. sender is the envelope sender without <> ("" for the
 * null sender); rcpt the recipient (a local user name or an address; a
 * bare user name is sent as user@hostname over SMTP/LMTP). Returns
 * HM_INJECT_OK only after the local side said it holds the message
 * durably (SMTP 250 after DATA, LMTP 250 for the recipient, Maildir file
 * and directory fsynced); otherwise *err holds the server's reply or the
 * cause. After HM_INJECT_TEMP over a lost connection the next call
 * reconnects. */
HmInjectResult hm_injector_send(HmInjector *inj, const char *sender, const char *rcpt,
                                const char *head, gsize head_len, const char *msg, gsize len,
                                GError **err);

/* TRUE when the injector can stage messages for a group commit: only
 * local delivery, where durability is the fetcher's own fsync to pay. */
gboolean hm_injector_can_stage(const HmInjector *inj);

/* As hm_injector_send(), but a Maildir delivery is only staged (see
 * hm_deliver_message_staged()): HM_INJECT_OK here means written, not yet
 * durable, until hm_injector_sync() returned 0 and the caller published
 * the file (hm_maildir_publish()) and fsynced new/. staged->tmp_path is
 * NULL when the delivery was completed at once (mbox). */
HmInjectResult hm_injector_stage(HmInjector *inj, const char *sender, const char *rcpt,
                                 const char *head, gsize head_len, const char *msg, gsize len,
                                 HmDeliverStaged *staged, GError **err);

/* Makes every message staged since the last call durable, with one
 * syncfs(2) per file system involved rather than one fsync per message.
 * Returns 0 or -1 with *err. */
int hm_injector_sync(HmInjector *inj, GError **err);

/* TRUE when messages can go to the local side back to back and be
 * settled together (smtp, when the server offers PIPELINING and
 * CHUNKING, as homemail-relay does): the server then makes the group
 * durable with one flush instead of one per message. */
gboolean hm_injector_can_queue(HmInjector *inj);

/* Sends a message (as hm_injector_send() takes it) without waiting for
 * its outcome. HM_INJECT_OK: sent, to be settled by hm_injector_collect();
 * otherwise as hm_injector_send(), and nothing was queued. */
HmInjectResult hm_injector_queue(HmInjector *inj, const char *sender, const char *rcpt,
                                 const char *head, gsize head_len, const char *msg, gsize len,
                                 GError **err);

/* Settles the first n of the messages queued and not yet settled (those
 * queued after them stay for a later call), in order:
 * results[i] as hm_injector_send() would have said, errors[i] (NULL for
 * HM_INJECT_OK; the caller frees the others) why not. HM_INJECT_OK means
 * the local side holds that message durably. */
void hm_injector_collect(HmInjector *inj, HmInjectResult *results, GError **errors, guint n);

/* Says QUIT (smtp/lmtp) and frees. NULL-safe. */
void hm_injector_close(HmInjector *inj);

/* "smtp:127.0.0.1:25", "lmtp:/run/dovecot/lmtp", "local": for logs. */
const char *hm_injector_describe(const HmInjector *inj);

#endif
