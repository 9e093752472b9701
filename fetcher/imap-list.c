/* Why a FETCH, not a SEARCH: FETCH is what every IMAP client runs all
 * day, so it is the command servers get right; SEARCH is often served
 * from an index of its own, and a broken one has been seen to answer
 * nothing for a full folder. A FETCH also answers one line per message
 * (no reply-line bound to split around), brings the size with the UID
 * (one round trip instead of SEARCH then FETCH), and numbers each
 * message, which is what the cross-check below needs. */
#include <config.h>

#include <string.h>

#include "fetcher/imap-list.h"
#include "lib/log.h"

/* Messages a listing may hold beyond what the server counted: mail that
 * arrives while it runs may be listed before its EXISTS comes. */
#define LIST_MARGIN 1000

static int
cmp_u32(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

	return x < y ? -1 : x > y;
}

/* Shared UIDs named in one warning; the rest are counted. */
#define SHARED_NAMED 10

/* A UID as first listed. */
typedef struct {
	HmFetchItem *it;    /* in Listed.all */
	guint32 seq;        /* its message number then */
	guint gone;         /* Listed.gone->len then */
	gboolean shared;    /* another message has the UID too */
} Seen;

/* What the listing's FETCH replies brought. */
typedef struct {
	HmImapClient *ic;
	const char *folder;
	const HmImapCount *count; /* the session's, kept up to date meanwhile */
	guint expunges;     /* count->expunges when the listing began */
	GPtrArray *all;     /* HmFetchItem *, owned */
	GHashTable *by_uid; /* UID -> Seen *, owned */
	GArray *gone;       /* guint32: the message numbers expunged meanwhile */
	GArray *shared;     /* guint32: the UIDs more than one message has */
	guint32 low_seq;    /* the lowest message number among them */
} Listed;

/* Whether one more message fits: no more than the folder holds now and
 * held meanwhile (EXISTS, and what was expunged since the listing began)
 * and LIST_MARGIN, and never more than HM_IMAP_MAX_MESSAGES. A server
 * past that is listing what is not there, and would otherwise grow the
 * listing without end: the session is broken, so the engine stops
 * reading at once. */
static int
check_room(const Listed *ls, GError **err)
{
	guint64 room = (guint64)ls->count->exists + (ls->count->expunges - ls->expunges) +
	               LIST_MARGIN;

	if (ls->all->len >= HM_IMAP_MAX_MESSAGES) {
		ls->ic->pp.broken = TRUE;
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                    "%s: the server lists more than %u messages", ls->folder,
		                    HM_IMAP_MAX_MESSAGES);
	}
	if (ls->all->len >= room) {
		ls->ic->pp.broken = TRUE;
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                    "%s: the server lists more messages than EXISTS counted (%u)",
		                    ls->folder, ls->count->exists);
	}
	return 0;
}

/* The message number now of the message listed as seq when from
 * EXPUNGEs had come: each of a lower number moved it down; 0 when it was
 * expunged itself. */
static guint32
renumbered(const Listed *ls, guint32 seq, guint from)
{
	for (guint i = from; i < ls->gone->len && seq != 0; i++) {
		guint32 e = g_array_index(ls->gone, guint32, i);

		if (e < seq)
			seq--;
		else if (e == seq)
			seq = 0;
	}
	return seq;
}

/* Adds a message (uid, r's number, size) to the listing. */
static int
add_item(Listed *ls, guint32 uid, const HmImapResponse *r, guint32 size, HmFetchItem **out,
         GError **err)
{
	HmFetchItem *it;

	if (check_room(ls, err) < 0)
		return -1;
	it = g_new0(HmFetchItem, 1);
	it->num = uid;
	it->uid = g_strdup_printf("%u", uid);
	it->size = size;
	g_ptr_array_add(ls->all, it);
	if (ls->low_seq == 0 || r->number < ls->low_seq)
		ls->low_seq = r->number;
	*out = it;
	return 0;
}

/* A UID listed again. For the same message (the same number, allowing
 * for EXPUNGEs meanwhile) it is a repeat; for another message the server
 * gave two messages one UID. Fetching one would record the UID as
 * fetched (so the other looks fetched too), and removing it would be UID
 * STORE and UID EXPUNGE of that UID, which takes both: so, as POP3's
 * shared UIDLs, both are listed untracked and left upstream. A third
 * message with the UID is not listed again (the listing then looks
 * short, which is the safe side). */
static int
listed_again(Listed *ls, Seen *was, const HmImapResponse *r, guint32 size, GError **err)
{
	HmFetchItem *it;

	if (was->shared || renumbered(ls, was->seq, was->gone) == r->number)
		return 0;
	if (add_item(ls, was->it->num, r, size, &it, err) < 0)
		return -1;
	was->shared = TRUE;
	was->it->untracked = it->untracked = TRUE;
	g_array_append_val(ls->shared, was->it->num);
	return 0;
}

static int
on_listed(const HmImapResponse *r, gpointer data, GError **err)
{
	Listed *ls = data;
	const HmImapToken *size;
	Seen *seen;
	guint32 uid = 0;
	int rc;

	if (r->has_number && strcmp(r->keyword, "EXPUNGE") == 0) {
		g_array_append_val(ls->gone, r->number);
		return 0;
	}
	rc = hm_imap_fetch_uid(r, &uid, err);
	/* Without RFC822.SIZE it is a flag change that names its UID. */
	if (rc <= 0 || (size = hm_imap_fetch_att(r, "RFC822.SIZE")) == NULL)
		return rc;
	if (size->type != HM_IMAP_NUMBER)
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                    "bad RFC822.SIZE in a FETCH reply");
	if ((seen = g_hash_table_lookup(ls->by_uid, GUINT_TO_POINTER(uid))) != NULL)
		return listed_again(ls, seen, r, size->num, err);
	seen = g_new0(Seen, 1);
	if (add_item(ls, uid, r, size->num, &seen->it, err) < 0) {
		g_free(seen);
		return -1;
	}
	seen->seq = r->number;
	seen->gone = ls->gone->len;
	g_hash_table_insert(ls->by_uid, GUINT_TO_POINTER(uid), seen);
	return 0;
}

/* Says which UIDs more than one message has (listed_again()). */
static void
warn_shared(const Listed *ls)
{
	g_autoptr(GString) uids = g_string_new(NULL);
	guint n = ls->shared->len;

	if (n == 0)
		return;
	g_array_sort(ls->shared, cmp_u32);
	for (guint i = 0; i < MIN(n, SHARED_NAMED); i++)
		g_string_append_printf(uids, "%s%u", i > 0 ? ", " : "",
		                       g_array_index(ls->shared, guint32, i));
	if (n > SHARED_NAMED)
		g_string_append_printf(uids, " and %u more", n - SHARED_NAMED);
	hm_warn("%s: %s: more than one message has the UID%s %s (a server bug), so none of "
	        "them can be tracked: left on the server",
	        ls->ic->p->acct->name, ls->folder, n > 1 ? "s" : "", uids->str);
}

static int
on_last(const HmImapResponse *r, gpointer data, GError **err)
{
	guint32 *last = data, uid = 0;
	int rc = hm_imap_fetch_uid(r, &uid, err);

	if (rc > 0)
		*last = MAX(*last, uid);
	return rc < 0 ? -1 : 0;
}

/* The end of every error that fails a folder here. */
#define NOTHING_FETCHED "nothing fetched, the mail stays on the server"

/* A listing from first > 1 that named nothing: fine only when the last
 * message's UID is below first, i.e. the server merely leaves the last
 * message out of "first:*", as some do against RFC 3501. */
static int
check_nothing_new(HmImapClient *ic, const char *folder, guint32 first, guint32 exists, GError **err)
{
	guint32 last = 0;
	HmImapHandler h = { on_last, &last, NULL };

	if (hm_imapc_simple(ic, "FETCH * (UID)", "FETCH refused", HM_FETCH_ERROR_SERVER, &h, err))
		return -1;
	if (last != 0 && last < first)
		return 0;
	if (last == 0)
		return hm_imap_fail(err, HM_FETCH_ERROR_SERVER,
		                    "%s: EXISTS is %u but the server "
		                    "lists no message, not even its last one: " NOTHING_FETCHED,
		                    folder, exists);
	return hm_imap_fail(
		err, HM_FETCH_ERROR_SERVER,
		"%s: EXISTS is %u and the last message "
		"has UID %u, but the server lists none from UID %u on: " NOTHING_FETCHED,
		folder, exists, last, first);
}

/* The listing against the count: before and after are the count around
 * the FETCH, ls what it named. */
static int
cross_check(HmImapClient *ic, const char *folder, guint32 first, const HmImapCount *before,
            const HmImapCount *after, const Listed *ls, gboolean *whole, GError **err)
{
	const char *acct = ic->p->acct->name;
	guint n = ls->all->len, gone = after->expunges - before->expunges;
	/* Listed for sure: what was there before and was not expunged since. */
	guint32 lo = before->exists > gone ? before->exists - gone : 0;
	/* Listed at most: what is there now, and what went meanwhile. */
	guint32 hi = after->exists + gone;
	guint32 want;

	*whole = TRUE;
	if (n == 0 && lo > 0 && first > 1)
		return check_nothing_new(ic, folder, first, after->exists, err);
	if (n == 0 && lo > 0)
		return hm_imap_fail(
			err, HM_FETCH_ERROR_SERVER,
			"%s: EXISTS is %u but the server lists no message: " NOTHING_FETCHED,
			folder, after->exists);
	if (first == 1) {
		if (n < lo || n > hi)
			hm_warn("%s: %s: EXISTS is %u but the server lists %u messages", acct,
			        folder, after->exists, n);
		*whole = n >= lo;
		return 0;
	}
	/* From a higher UID, the listing holds the last messages: numbers
	 * low_seq to EXISTS. Mail that comes or goes meanwhile renumbers
	 * them, so they are only checked in a quiet folder. */
	if (n == 0 || gone > 0 || after->exists != before->exists || ls->low_seq == 0 ||
	    ls->low_seq > after->exists)
		return 0;
	want = after->exists - ls->low_seq + 1;
	if (n != want)
		hm_warn("%s: %s: EXISTS is %u but the server lists %u messages from message "
		        "number %u on, where %u should be",
		        acct, folder, after->exists, n, ls->low_seq, want);
	*whole = n >= want;
	return 0;
}

static void
item_free(gpointer it)
{
	hm_fetch_item_free(it);
}

static int
cmp_items(gconstpointer a, gconstpointer b)
{
	guint32 x = (*(HmFetchItem *const *)a)->num, y = (*(HmFetchItem *const *)b)->num;

	return x < y ? -1 : x > y;
}

int
hm_imap_list(HmImapClient *ic, const HmImapCount *count, const char *folder, guint32 first,
             GPtrArray *items, gboolean *whole, GError **err)
{
	g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(item_free);
	g_autoptr(GHashTable) by_uid = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GArray) shared = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autofree char *cmd = g_strdup_printf("UID FETCH %u:* (UID RFC822.SIZE)", first);
	Listed ls = { ic, folder, count, count->expunges, all, by_uid, gone, shared, 0 };
	HmImapHandler h = { on_listed, &ls, NULL };
	HmImapCount before = *count;

	if (count->exists > HM_IMAP_MAX_MESSAGES)
		return hm_imap_fail(err, HM_FETCH_ERROR_SERVER,
		                    "%s: EXISTS is %u, more than the %u messages a folder may "
		                    "hold: " NOTHING_FETCHED,
		                    folder, count->exists, HM_IMAP_MAX_MESSAGES);
	if (hm_imapc_simple(ic, cmd, "UID FETCH refused", HM_FETCH_ERROR_SERVER, &h, err) < 0 ||
	    cross_check(ic, folder, first, &before, count, &ls, whole, err) < 0)
		return -1;
	warn_shared(&ls);
	g_ptr_array_sort(all, cmp_items);
	/* "first:*" always matches the last message, even below first. */
	for (guint i = 0; i < all->len; i++) {
		HmFetchItem *it = g_ptr_array_index(all, i);

		if (it->num >= first) {
			g_ptr_array_add(items, it);
			all->pdata[i] = NULL;
		}
	}
	return 0;
}
