/* The relay's durable queue (state_dir/queue/). One immutable file per
 * message, named by its queue ID: a text envelope (sender, recipients
 * with their DSN parameters, where it came from), a blank line, then the
 * message with CRLF line ends, our Received: field included. Beside it,
 * ID.s holds each recipient's delivery state, replaced atomically as
 * attempts are made; a missing ID.s means "no attempt yet". An entry goes
 * only when every recipient is final (DESIGN.md invariant 2).
 *
 * A message file is written without syncs and linked into place under
 * its new ID; the session then makes it durable with the group commit
 * (lib/groupcommit.h) before it answers 250. A crash before that commit
 * may leave a name whose data never reached the disk: the envelope's
 * size field, checked at each load, finds it, and since no 250 was given
 * the file is dropped (relay_queue_load() says so).
 *
 * File names: IDs are 16 upper-case hex digits (time and a per-process
 * unique part); temporary files start with "." (lib/atomic.c; what a
 * crash leaves of them relay_spool_clear_stale() removes); ID.s is the
 * status; "drop/" and "pickup" belong to homemail-sendmail. */
#ifndef RELAY_QUEUE_H
#define RELAY_QUEUE_H

#include <glib.h>

#include "relay/envelope.h"

/* Recipients per entry the format accepts: far above relay.max_recipients'
 * ceiling, only a bound for a damaged file. */
#define RELAY_QUEUE_MAX_RCPTS 100000

typedef enum {
	RELAY_ORIGIN_SMTP,      /* an SMTP client */
	RELAY_ORIGIN_SENDMAIL,  /* homemail-sendmail on this box */
	RELAY_ORIGIN_DSN,       /* a bounce or notice we made */
} RelayOrigin;

typedef enum {
	RELAY_RCPT_PENDING,     /* not yet delivered: try (again) at next_try */
	RELAY_RCPT_DELIVERED,   /* final: delivered locally or accepted by the smart host */
	RELAY_RCPT_FAILED,      /* final: permanent failure, DSN sent when wanted */
	RELAY_RCPT_EXPIRED,     /* final: gave up after give_up_after, DSN sent when wanted */
} RelayRcptState;

typedef struct {
	char *addr;             /* as given at RCPT; never "" */
	guint notify;           /* RelayNotify bits, 0 for none given */
	char *orcpt;            /* ORCPT value ("rfc822;bob@example.org") or NULL */
	/* Delivery state (ID.s). */
	RelayRcptState state;
	guint attempts;
	gint64 next_try;        /* seconds since the epoch; 0: as soon as possible */
	gint64 last_try;        /* 0: never tried */
	gboolean warned;        /* a delay notice was sent */
	char *reply;            /* last reply or reason, one line; NULL none */
} RelayQueueRcpt;

typedef struct {
	char *id;
	gint64 arrival;         /* seconds since the epoch */
	char *sender;           /* "" for the null sender */
	RelayOrigin origin;
	char *client;           /* "[192.0.2.7]" or "uid 1000"; NULL unknown */
	char *helo;             /* NULL for local submissions */
	char *auth_user;        /* AUTH user, or the local user who ran sendmail */
	RelayBody body;
	gboolean smtputf8;
	RelayRet ret;
	char *envid;            /* decoded ENVID or NULL */
	GArray *rcpts;          /* of RelayQueueRcpt */
	guint64 size;           /* octets of the message */
	goffset data_offset;    /* where the message starts in the file */
	GBytes *file;           /* the whole file when relay_queue_load() read all
	                         * of it with the envelope (a file no larger
	                         * than RELAY_QUEUE_ENVELOPE_CHUNK), for
	                         * relay_queue_message(); else NULL */
} RelayQueueEntry;

/* A new entry: empty recipients, arrival now. Free with
 * relay_queue_entry_free(). */
RelayQueueEntry *relay_queue_entry_new(void);
void relay_queue_entry_free(RelayQueueEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RelayQueueEntry, relay_queue_entry_free)

/* Appends a pending recipient (copies its strings). */
void relay_queue_entry_add_rcpt(RelayQueueEntry *e, const char *addr, guint notify,
                                const char *orcpt);

static inline RelayQueueRcpt *
relay_queue_rcpt(const RelayQueueEntry *e, guint i)
{
	return &g_array_index(e->rcpts, RelayQueueRcpt, i);
}

/* TRUE when every recipient is final: the entry may be removed. */
gboolean relay_queue_entry_done(const RelayQueueEntry *e);

/* TRUE if id has the form of a queue ID (so it can be joined to the queue
 * directory safely: no "/", no ".."). */
gboolean relay_queue_id_valid(const char *id);

/* A new unique queue ID. */
char *relay_queue_new_id(void);

/* --- writing a message file -------------------------------------------- */

typedef struct RelayQueueFile RelayQueueFile;

/* Starts the message file for e in dir under e->id (a new ID when it is
 * NULL: a caller that names the ID in the message, as Received: does,
 * sets it first), and writes the envelope with room for the size. NULL
 * with *err (HM_ERROR_PARSE for an envelope field that
 * relay_queue_envelope_check() refuses). */
RelayQueueFile *relay_queue_file_new(const char *dir, RelayQueueEntry *e, GError **err);

/* As relay_queue_file_new(), but the file is only held in memory until
 * its message passes hold_max octets or it is committed: a session that
 * may deliver the message at once (relay/inline.h) then never makes a
 * queue file for it. An error creating the file comes from the write or
 * the commit that makes it. */
RelayQueueFile *relay_queue_file_new_held(const char *dir, RelayQueueEntry *e, gsize hold_max,
                                          GError **err);

/* The message of a file still held in memory, and its length in *len;
 * NULL once the file is written out. */
const char *relay_queue_file_held(const RelayQueueFile *qf, gsize *len);

/* Appends message data (CRLF line ends already). 0, or -1 with *err
 * (HM_ERROR_NOSPACE for a full disk); the file can then only be aborted. */
int relay_queue_file_write(RelayQueueFile *qf, const void *data, gsize len, GError **err);

/* Octets of message data written so far. */
guint64 relay_queue_file_size(const RelayQueueFile *qf);

/* Fills in the size and links the file into place as dir/ID, without
 * syncing: the caller makes it durable (hm_group_commit_sync()) and, if
 * that fails, removes it with relay_queue_remove(). An ID another message
 * took in the same microsecond is replaced with a new one in the entry
 * (the Received: field written keeps the first: the log says so), so a
 * clash never fails a message. Frees qf either way. 0, or -1 with *err
 * (nothing left behind). The entry must outlive qf. */
int relay_queue_file_commit(RelayQueueFile *qf, GError **err);

/* Removes the unfinished file and frees qf. NULL-safe. */
void relay_queue_file_abort(RelayQueueFile *qf);

/* --- reading and updating ---------------------------------------------- */

/* Loads entry id (envelope and delivery state, not the message): reads
 * the file only up to the chunk that holds the envelope's end
 * (relay_queue_envelope_read()), and compares the file's size with the
 * size field. A symbolic link by that name is refused, not followed (nor
 * for ID.s): `homemail queue` runs as root in a directory the relay's
 * user writes. NULL with *err: HM_ERROR_IO (errno ENOENT when it is
 * gone, ELOOP for a link), HM_ERROR_PARSE for a damaged file (a
 * truncated one included: see above). */
RelayQueueEntry *relay_queue_load(const char *dir, const char *id, GError **err);

/* TRUE if err, from relay_queue_load(), says the file is shorter than
 * its envelope promises: linked but never made durable (a crash before
 * the commit), so never answered 250. The runner removes such a file. */
gboolean relay_queue_error_uncommitted(const GError *err);

/* Words of the errors relay_queue_error_uncommitted() recognises. */
#define RELAY_QUEUE_CUT_SHORT "cut short"

/* The message of a loaded entry, mapped read-only. NULL with *err (also
 * when the file no longer has e->size octets of message). */
GBytes *relay_queue_message(const char *dir, const RelayQueueEntry *e, GError **err);

/* The first max octets of the message of a loaded entry (all of a
 * shorter one), read: for what shows its header section, which must not
 * read a large message whole. NULL with *err. */
GBytes *relay_queue_message_head(const char *dir, const RelayQueueEntry *e, gsize max,
                                 GError **err);

/* Saves e's delivery state in dir/ID.s, atomically and durably. 0, or -1
 * with *err. */
int relay_queue_save_state(const char *dir, const RelayQueueEntry *e, GError **err);

/* As relay_queue_save_state(), atomically but without a sync of the file
 * or the directory: what it records outlives the process (a kill -9: the
 * page cache holds it), not a power loss, until relay_queue_save_state()
 * or a syncfs of the queue's file system makes it durable. For the
 * runner, which notes each message's outcome as the smart host answers
 * it and pays the sync once per batch. 0, or -1 with *err. */
int relay_queue_note_state(const char *dir, const RelayQueueEntry *e, GError **err);

/* Checks that entry id is there to act on by hand (`homemail queue show`
 * and `delete`): dir/ID a regular file, never followed when it is a link.
 * 0, or -1 with *err: "ID: no such queue entry" (errno ENOENT; also for
 * what is not a queue ID), "PATH is not a regular file (a symbolic link,
 * not followed)" or "(a FIFO)"..., or why it cannot be read. */
int relay_queue_entry_check(const char *dir, const char *id, GError **err);

/* Removes entry id: the message file first, so a crash in between leaves
 * only a state file that relay_queue_list() clears away. 0 (also when
 * already gone), or -1 with *err. */
int relay_queue_remove(const char *dir, const char *id, GError **err);

/* Takes finished entry id out of the queue without the cost of removing
 * it: a rename into dir/done/ (RELAY_QUEUE_DONE), where
 * relay_queue_reap() removes it later, when the runner is idle. Unlinking
 * a message frees its blocks, which on a file system with online discard
 * waits for the device: off the delivery path, it delays no one. Falls
 * back to relay_queue_remove() when done/ is missing. 0, or -1 with *err. */
int relay_queue_retire(const char *dir, const char *id, GError **err);

/* Removes every file in dir/done/; the number removed (0 when there is no
 * done/). Never follows a link: a name is unlinked, not what it points at. */
guint relay_queue_reap(const char *dir);

/* The IDs in dir, oldest first. Removes state files whose message is
 * gone. NULL with *err when dir cannot be read. */
GPtrArray *relay_queue_list(const char *dir, GError **err);

/* The envelope ends with "size " and the message size in this many
 * digits, then "\n\n": the field is written as zeros and filled in when
 * the message is complete. */
#define RELAY_QUEUE_SIZE_WIDTH 20

/* The envelope's first line. */
#define RELAY_QUEUE_MAGIC "HMQ1"

/* The envelope is read in reads of this many octets: one holds the
 * envelope of nearly every entry (a few hundred octets per recipient),
 * and the whole file of most, which the runner then sends without a
 * second read. */
#define RELAY_QUEUE_ENVELOPE_CHUNK (64 * 1024)

/* Where relay_queue_retire() puts finished entries (relay/spool.h). */
#define RELAY_QUEUE_DONE "done"

/* The envelope and state in text form (private to the queue, exposed for
 * its tests and fuzz target). relay_queue_envelope_parse() fills e from
 * buf[0..len) up to and including the blank line and sets *header_len;
 * -1 with *err (HM_ERROR_PARSE) for anything malformed. */
void relay_queue_envelope_format(const RelayQueueEntry *e, GString *out);
/* 0 if every field relay_queue_envelope_format() writes as it is
 * (sender, client, helo, auth, recipients) is free of control octets,
 * else -1 with *err (HM_ERROR_PARSE): a CR or LF would end the line and
 * let the value write lines of its own (a recipient). The queue and the
 * drop folder check before they write; the SMTP parser let none through
 * in the first place. */
int relay_queue_envelope_check(const RelayQueueEntry *e, GError **err);
int relay_queue_envelope_parse(const char *buf, gsize len, RelayQueueEntry *e, gsize *header_len,
                               GError **err);
void relay_queue_state_format(const RelayQueueEntry *e, GString *out);
int relay_queue_state_parse(const char *buf, gsize len, RelayQueueEntry *e, GError **err);

/* Reads the envelope from fd (at its offset: the start of a queue or
 * drop file) and parses it into e as relay_queue_envelope_parse() does.
 * Reads RELAY_QUEUE_ENVELOPE_CHUNK octets at a time and stops after the
 * read that brought the blank line, at the end of the file, after the
 * first read when the file does not begin as an envelope: fd is left
 * less than a chunk past the envelope, the message is not read. An
 * envelope of max octets or more is HM_ERROR_PARSE. Returns what was
 * read (the envelope first, *header_len octets of it), or NULL with *err
 * (HM_ERROR_IO for a read error, errno kept; HM_ERROR_PARSE as the
 * parser). */
GBytes *relay_queue_envelope_read(int fd, gsize max, RelayQueueEntry *e, gsize *header_len,
                                  GError **err);

#endif
