/* Why a FETCH, not a SEARCH: FETCH is what every IMAP client runs all
 * day, so it is the command servers get right; SEARCH is often served
 * from an index of its own, and a broken one has been seen to answer
 * nothing for a full folder. A FETCH also answers one line per message
 * (no reply-line bound to split around) and brings the size with the
 * UID (one round trip instead of SEARCH then FETCH). */
#include <config.h>

#include "fetcher/imap-list.h"

/* What the listing's FETCH replies brought. */
typedef struct {
	GPtrArray *all;     /* HmFetchItem *, owned */
	GHashTable *by_uid; /* UID -> HmFetchItem * in all */
} Listed;

static int
on_listed(const HmImapResponse *r, gpointer data, GError **err)
{
	Listed *ls = data;
	const HmImapToken *size;
	HmFetchItem *it;
	guint32 uid = 0;
	int rc = hm_imap_fetch_uid(r, &uid, err);

	/* Without RFC822.SIZE it is a flag change that names its UID. */
	if (rc <= 0 || (size = hm_imap_fetch_att(r, "RFC822.SIZE")) == NULL)
		return rc;
	if (size->type != HM_IMAP_NUMBER)
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                    "bad RFC822.SIZE in a FETCH reply");
	if (g_hash_table_contains(ls->by_uid, GUINT_TO_POINTER(uid)))
		return 0;
	it = g_new0(HmFetchItem, 1);
	it->num = uid;
	it->uid = g_strdup_printf("%u", uid);
	it->size = size->num;
	g_ptr_array_add(ls->all, it);
	g_hash_table_insert(ls->by_uid, GUINT_TO_POINTER(uid), it);
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
hm_imap_list(HmImapClient *ic, guint32 first, GPtrArray *items, GError **err)
{
	g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(item_free);
	g_autoptr(GHashTable) by_uid = g_hash_table_new(NULL, NULL);
	g_autofree char *cmd = g_strdup_printf("UID FETCH %u:* (UID RFC822.SIZE)", first);
	Listed ls = { all, by_uid };
	HmImapHandler h = { on_listed, &ls, NULL };

	if (hm_imapc_simple(ic, cmd, "UID FETCH refused", HM_FETCH_ERROR_SERVER, &h, err) < 0)
		return -1;
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
