/* What the fetcher already took from each account and folder, kept under
 * <state_dir>/fetch/<account>/<folder>.state (folder names escaped).
 *
 * Layout: a base file, replaced atomically (hm_atomic_write) when the
 * state is compacted, plus an append-only journal "<folder>.journal" of
 * the changes since: each hm_fetch_state_record() appends one line and
 * fdatasync()s it, so recording a message costs one small synchronous
 * append, not a rewrite of a file that may list 100,000 UIDs. Opening
 * replays the journal over the base; a torn last journal line (crash
 * mid-append) is ignored. Both files are text, versioned on the first
 * line, and refused with a clear error when they are not ours. */
#ifndef HM_FETCH_STATE_H
#define HM_FETCH_STATE_H

#include <glib.h>

typedef enum {
	HM_FETCH_MARK_DELIVERED = 1,  /* the local side holds it durably */
	HM_FETCH_MARK_SKIPPED,        /* left upstream for being over max_size; its
	                               * value is the size that was over (0 in
	                               * states written before it was kept): the
	                               * caller checks it against the limit of the
	                               * day, so a raised limit lets it through */
	HM_FETCH_MARK_RETRY,          /* left upstream undelivered (refused for good
	                               * by the local side, or it arrived empty);
	                               * its value is when (Unix time), so the
	                               * caller can try again later without trying
	                               * on every run */
	HM_FETCH_MARK_PARTIAL,        /* arrived much shorter than listed: what
	                               * arrived was delivered, the original is
	                               * left upstream for good (neither fetched
	                               * nor removed again) */
} HmFetchMark;

typedef struct HmFetchState HmFetchState;

/* Opens (creating directories 0700 as needed) the state of one account and
 * folder. A missing state is an empty one. Returns NULL with *err on an
 * unreadable or foreign file. */
HmFetchState *hm_fetch_state_open(const char *state_dir, const char *account,
                                  const char *folder, GError **err);
void hm_fetch_state_free(HmFetchState *st);

/* The folder's UIDVALIDITY recorded with the entries (0: none yet). */
guint32 hm_fetch_state_uidvalidity(const HmFetchState *st);

/* Starts a new UIDVALIDITY epoch: every entry's UID is forgotten, but the
 * fingerprints of delivered messages are kept (see _has_fingerprint) until
 * the next compaction, so re-numbered mail is recognised and not fetched
 * again. The watermark drops to 0. Durable when it returns 0. */
int hm_fetch_state_new_uidvalidity(HmFetchState *st, guint32 uidvalidity, GError **err);

/* How uid was recorded: 0 when unknown, else its HmFetchMark. */
int hm_fetch_state_lookup(const HmFetchState *st, const char *uid);

/* TRUE if a delivered message (current epoch or the one before the last
 * UIDVALIDITY change) had this size and Message-ID. message_id may be
 * NULL (no Message-ID): such messages never match. */
gboolean hm_fetch_state_has_fingerprint(const HmFetchState *st, guint64 size,
                                        const char *message_id);

/* How uid was recorded, as _lookup(), and the value it was recorded with
 * in *value (HmFetchMark says what it means; 0 when none). */
int hm_fetch_state_lookup_value(const HmFetchState *st, const char *uid, guint64 *value);

/* Records uid with mark: for delivered messages with the fingerprint
 * (size, message_id; message_id may be NULL), for skipped ones with size
 * as the value (message_id is ignored; so is size for partial ones,
 * which carry no fingerprint either: after a UIDVALIDITY change they
 * must not be taken for delivered and removed). HM_FETCH_MARK_RETRY takes
 * _record_retry(). Durable (journal line written and fdatasync'd) when it
 * returns 0; -1 with *err otherwise. */
int hm_fetch_state_record(HmFetchState *st, const char *uid, HmFetchMark mark,
                          guint64 size, const char *message_id, GError **err);

/* Records uid as HM_FETCH_MARK_RETRY, left upstream at when (Unix time).
 * Durable when it returns 0; -1 with *err otherwise. */
int hm_fetch_state_record_retry(HmFetchState *st, const char *uid, gint64 when, GError **err);

/* As hm_fetch_state_record() for a delivered message, but not synced:
 * for group commit, where the caller records a batch and then makes it
 * durable with one hm_fetch_state_sync(). */
int hm_fetch_state_record_unsynced(HmFetchState *st, const char *uid, guint64 size,
                                   const char *message_id, GError **err);

/* Sets disk aside for n more records (of any kind) in the journal,
 * creating it if need be, so that recording them cannot fail for lack of
 * space: called before a message is handed to the local side, whose
 * record must not be kept out by a full disk once the message is
 * delivered (it would be fetched and delivered again on every run).
 * Cheap when the room is there already. Returns 0, or -1 with *err
 * (HM_ERROR_NOSPACE when the disk is full). */
int hm_fetch_state_reserve(HmFetchState *st, guint n, GError **err);

/* fdatasync()s the journal: every record before it is durable. */
int hm_fetch_state_sync(HmFetchState *st, GError **err);

/* The path of a file beside the state's own, "<state>.<suffix>" (the
 * group-commit intent log uses it); g_free() it. */
char *hm_fetch_state_sidecar(const HmFetchState *st, const char *suffix);

/* Forgets uid (it is gone upstream). Not synced: losing a forget in a
 * crash only leaves an entry the next compaction drops. */
int hm_fetch_state_forget(HmFetchState *st, const char *uid, GError **err);

/* IMAP: every message with a UID <= the watermark is known, so a run may
 * list only UIDs above it. 0 when none. */
guint32 hm_fetch_state_watermark(const HmFetchState *st);
int hm_fetch_state_set_watermark(HmFetchState *st, guint32 uid, GError **err);

/* Calls fn for every entry of the current epoch, in no particular order,
 * with its mark and value (as _lookup_value()); fn must not change st. */
typedef void (*HmFetchStateFunc)(const char *uid, int mark, guint64 value, gpointer data);
void hm_fetch_state_foreach(const HmFetchState *st, HmFetchStateFunc fn, gpointer data);

/* Number of entries (of the current epoch). */
guint hm_fetch_state_count(const HmFetchState *st);

/* Drops every entry whose uid is not in present (a set of uid strings, as
 * a GHashTable used as a set), or only the previous epoch's fingerprints
 * when present is NULL, writes the base file atomically and truncates
 * the journal. Returns 0 or -1 with *err. */
int hm_fetch_state_compact(HmFetchState *st, GHashTable *present, GError **err);

#endif
