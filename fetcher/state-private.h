/* What the parts of the fetch state share: fetcher/state.c (file names,
 * the journal, the API), fetcher/state-format.c (the text format: reading,
 * replaying and writing it, and the in-memory model every change goes
 * through) and fetcher/lock.c. Nothing else includes this. */
#ifndef HM_FETCH_STATE_PRIVATE_H
#define HM_FETCH_STATE_PRIVATE_H

#include <glib.h>

#include "fetcher/state.h"

/* Both files are text, version 1, one record per line:
 *
 *	homemail-fetch-state 1        (the journal: homemail-fetch-journal 1)
 *	generation G                  which base generation this is / applies to
 *	uidvalidity V                 starts an epoch (in the base: the current one)
 *	watermark W
 *	previous FP                   a delivered fingerprint of an earlier epoch
 *	UID D [FP]                    delivered (with its fingerprint)
 *	UID S [SIZE]                  skipped for its size (SIZE: what was over)
 *	UID R TIME                    left upstream undelivered at TIME, to retry
 *	UID P                         arrived short: delivered, original left upstream
 *	UID -                         forgotten (journal only)
 *
 * A record is told from a keyword line by its second field (D, S, R, P, -),
 * so a UID may be any word, even "watermark". FP is 16 lowercase hex
 * digits, SIZE and TIME decimal. The base is replayed exactly as the journal is, so there is one
 * parser. The generation ties the journal to its base: compaction writes
 * base G+1, then an empty journal G+1, so a crash between the two leaves a
 * journal G that is already folded into the base and is ignored, never
 * replayed twice (a replayed "uidvalidity" would wipe what followed it). */
#define HM_FETCH_STATE_MAGIC "homemail-fetch-state"
#define HM_FETCH_JOURNAL_MAGIC "homemail-fetch-journal"
#define HM_FETCH_STATE_VERSION 1

/* RFC 1939: a UIDL is 1 to 70 characters in the range 0x21 to 0x7E. IMAP
 * UIDs in decimal fit the same rule. */
#define HM_FETCH_UID_MAX 70

/* The longest record line: a UID, " D ", 16 hex digits (or up to 20
 * decimal ones) and the LF. */
#define HM_FETCH_RECORD_MAX (HM_FETCH_UID_MAX + 3 + 20 + 1)

typedef struct {
	guint64 fp;      /* D with has_fp: the fingerprint; S, R: the value */
	guint8 mark;     /* HmFetchMark */
	guint8 has_fp;
	char uid[];      /* the entries table's key points here */
} HmStateEntry;

/* A fingerprint and v = n << 1 | prev: n delivered entries of this epoch
 * carry it, prev says an earlier epoch had it. Counted, so a forget drops
 * exactly what it should. fp comes first: g_int64_hash() reads it. */
typedef struct {
	guint64 fp;
	gsize v;
} HmStateFp;

struct HmFetchState {
	char *base_path;
	char *journal_path;
	guint64 generation;   /* of the base file (0: none written yet) */
	guint32 uidvalidity;
	guint32 watermark;
	GHashTable *entries;  /* uid -> HmStateEntry (owned; key inside it) */
	GHashTable *fps;      /* set of HmStateFp (owned), hashed on fp */
	int jfd;              /* journal, open for appending; -1 until first write */
	gsize jlen;           /* journal bytes that are whole, valid lines */
	gsize jroom;          /* disk set aside for the journal up to this
	                       * offset (hm_fetch_state_reserve()); 0: none known */
	gboolean jreset;      /* journal missing or stale: write a fresh one first */
	gboolean jdirty;      /* a write failed part-way: cut back to jlen first */
};


/* Checks the account name, creates <state_dir>/fetch (and state_dir if
 * need be) and returns its path (g_free()), with the escaped account name
 * in *acct (g_free()). NULL with *err on failure. */
char *hm_fetch_dir(const char *state_dir, const char *account, char **acct, GError **err);

/* <state_dir>/fetch/<escaped account><suffix>, creating nothing (for
 * readers such as `homemail status`); g_free() it. */
char *hm_fetch_account_file(const char *state_dir, const char *account, const char *suffix);

/* --- state-format.c ------------------------------------------------------- */

/* TRUE for a UID we can record: 1-HM_FETCH_UID_MAX octets 0x21-0x7E. */
gboolean hm_fetch_uid_valid(const char *uid, gsize len);

/* The fingerprint of a delivered message: the first 64 bits of SHA-256
 * over "<size>\n<message-id>". */
guint64 hm_fetch_fingerprint(guint64 size, const char *message_id);

/* The in-memory model; every change goes through these, live or replayed.
 * hm_fetch_fp_adjust() adds delta (+1, -1) to the count of this epoch's
 * entries carrying fp, or with delta 0 notes fp as an earlier epoch's.
 * hm_fetch_apply_record() takes the fingerprint in fp when has_fp, else
 * the entry's value (HmStateEntry). */
void hm_fetch_fp_adjust(HmFetchState *st, guint64 fp, int delta);
void hm_fetch_apply_record(HmFetchState *st, const char *uid, gsize len, int mark,
                           gboolean has_fp, guint64 fp);
void hm_fetch_apply_forget(HmFetchState *st, const char *uid);
void hm_fetch_apply_uidvalidity(HmFetchState *st, guint32 uidvalidity);

/* Reads the base (journal FALSE) or the journal into st. A missing base
 * is an empty state. A missing, empty or stale journal (its generation is
 * already folded into the base) is left for the first write to replace,
 * and a torn last journal line (crash mid-append) is ignored here and cut
 * off at the first write. Returns 0, or -1 with *err ("FILE:LINE: ..."). */
int hm_fetch_state_load(HmFetchState *st, gboolean journal, GError **err);

/* The base file text for generation gen. */
GString *hm_fetch_state_format_base(const HmFetchState *st, guint64 gen);

#endif
