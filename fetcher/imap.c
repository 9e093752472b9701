/* The IMAP4rev1 fetch backend (RFC 3501, with IDLE RFC 2177, UIDPLUS RFC
 * 4315, SASL-IR RFC 4959). The engine in imap-client.c sends commands
 * with tags and reads responses until their tagged replies, keeping a
 * window of commands in flight; each operation here is a list of commands
 * plus a handler for the untagged data they bring. */
#include <config.h>

#include <string.h>

#include "fetcher/connect.h"
#include "fetcher/fetch.h"
#include "fetcher/imap-client.h"
#include "fetcher/imap-list.h"
#include "fetcher/imap-parse.h"
#include "lib/error.h"
#include "lib/header.h"
#include "lib/log.h"
#include "lib/sasl.h"

/* Command lines stay under this (RFC 7162 section 4 recommends clients
 * keep lines under 8192 octets); longer UID sets are split over several
 * pipelined commands. */
#define IMAP_MAX_COMMAND 8000
/* What a tag ("A0001 ") and CRLF add to a command. */
#define IMAP_TAG_ROOM 16
/* IDLE reads in slices this long, so *stop is noticed quickly. */
#define IMAP_IDLE_SLICE_MS 500

struct HmFetchSession {
	HmFetchParams p;
	HmImapClient ic;         /* the engine; its connection is the session's */
	GHashTable *caps;        /* upper-cased capability names */
	guint caps_gen;          /* bumped on each new capability list */
	gboolean logging_out;    /* BYE is expected */
	gboolean selected;
	gboolean have_exists, have_uidvalidity;
	guint32 uidvalidity;
	HmImapCount count;       /* of the selected folder */
	gboolean listed_whole;   /* the last listing agreed with EXISTS */
	guint32 recent;          /* the last RECENT of the selected folder */
	/* EXISTS or RECENT grew since the listing began (in any reply, during
	 * IDLE or before it) and no wait() has reported it yet. */
	gboolean new_mail;
	char *folder;
};

static void
session_free(HmFetchSession *s)
{
	if (s == NULL)
		return;
	hm_conn_free(s->ic.pp.conn);
	g_hash_table_unref(s->caps);
	g_free(s->folder);
	g_free(s);
}

static gboolean
has_cap(HmFetchSession *s, const char *cap)
{
	return g_hash_table_contains(s->caps, cap);
}

static void
set_caps(HmFetchSession *s, const GPtrArray *toks)
{
	g_hash_table_remove_all(s->caps);
	for (guint i = 0; i < toks->len; i++) {
		const HmImapToken *t = g_ptr_array_index(toks, i);

		if (t->type == HM_IMAP_ATOM)
			g_hash_table_add(s->caps, g_ascii_strup(t->str, -1));
	}
	s->caps_gen++;
}

/* What every untagged response may carry, whatever command is running. */
static int
common_untagged(HmFetchSession *s, const HmImapResponse *r, GError **err)
{
	const HmImapToken *t;

	if (r->status == HM_IMAP_BYE) {
		g_autofree char *text = hm_imap_quote(r->text);

		if (s->logging_out)
			return 0;
		s->ic.pp.broken = TRUE;
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL, "server said BYE: %s", text);
	}
	if (r->code != NULL && strcmp(r->code, "CAPABILITY") == 0)
		set_caps(s, r->code_args);
	if (r->code != NULL && strcmp(r->code, "UIDVALIDITY") == 0) {
		t = r->code_args->len == 1 ? g_ptr_array_index(r->code_args, 0) : NULL;
		if (t == NULL || t->type != HM_IMAP_NUMBER || t->num == 0)
			return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL, "bad UIDVALIDITY");
		s->uidvalidity = t->num;
		s->have_uidvalidity = TRUE;
	}
	if (r->status != HM_IMAP_DATA)
		return 0;
	if (strcmp(r->keyword, "CAPABILITY") == 0) {
		set_caps(s, r->args);
	} else if (r->has_number && strcmp(r->keyword, "EXISTS") == 0) {
		if (r->number > s->count.exists)
			s->new_mail = TRUE;
		s->count.exists = r->number;
		s->have_exists = TRUE;
	} else if (r->has_number && strcmp(r->keyword, "EXPUNGE") == 0) {
		s->count.expunges++;
		if (s->count.exists > 0)
			s->count.exists--;
	} else if (r->has_number && strcmp(r->keyword, "RECENT") == 0) {
		/* Growth only: a server may restate a count it gave before. */
		if (r->number > s->recent)
			s->new_mail = TRUE;
		s->recent = r->number;
	}
	return 0;
}

/* The engine's hook: every untagged response, and the capabilities a
 * tagged reply may carry. */
static int
on_response(const HmImapResponse *r, gpointer data, GError **err)
{
	HmFetchSession *s = data;

	if (r->kind != HM_IMAP_TAGGED)
		return common_untagged(s, r, err);
	if (r->code != NULL && strcmp(r->code, "CAPABILITY") == 0)
		set_caps(s, r->code_args);
	return 0;
}

static int
cmp_u32(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

	return x < y ? -1 : x > y;
}

static GPtrArray *
item_commands(HmFetchItem *const *items, guint n, const char *prefix, const char *suffix)
{
	g_autofree guint32 *uids = g_new(guint32, MAX(n, 1));

	for (guint i = 0; i < n; i++)
		uids[i] = items[i]->num;
	qsort(uids, n, sizeof(*uids), cmp_u32);
	return hm_imap_uid_commands(uids, n, prefix, suffix, IMAP_MAX_COMMAND - IMAP_TAG_ROOM);
}

/* --- open ------------------------------------------------------------------ */

/* Reads the greeting; sets *preauth. */
static int
greeting(HmFetchSession *s, gboolean *preauth, GError **err)
{
	g_autoptr(HmImapResponse) r = NULL;
	g_autofree char *text = NULL;

	if (hm_imapc_read(&s->ic, -1, &r, err) < 0)
		return -1;
	text = hm_imap_quote(r->kind == HM_IMAP_UNTAGGED ? r->rest : NULL);
	if (r->kind != HM_IMAP_UNTAGGED ||
	    (r->status != HM_IMAP_OK && r->status != HM_IMAP_PREAUTH && r->status != HM_IMAP_BYE))
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL, "unexpected greeting");
	if (r->status == HM_IMAP_BYE)
		return hm_imap_fail(err, HM_FETCH_ERROR_SERVER, "server said BYE: %s", text);
	*preauth = r->status == HM_IMAP_PREAUTH;
	if (*preauth && s->p.acct->ep.tls == HM_TLS_MODE_STARTTLS)
		return hm_imap_fail(err, HM_FETCH_ERROR_TLS, "TLS: server sent PREAUTH, so "
		                    "STARTTLS is impossible; refusing to continue in clear");
	if (r->code != NULL && strcmp(r->code, "CAPABILITY") == 0)
		set_caps(s, r->code_args);
	return 0;
}

static int
capability(HmFetchSession *s, GError **err)
{
	guint gen = s->caps_gen;

	if (hm_imapc_simple(&s->ic, "CAPABILITY", "CAPABILITY refused", HM_FETCH_ERROR_SERVER,
	                    NULL, err) < 0)
		return -1;
	if (s->caps_gen == gen)
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL, "server sent no CAPABILITY");
	return 0;
}

static int
starttls(HmFetchSession *s, GError **err)
{
	if (s->p.acct->ep.tls != HM_TLS_MODE_STARTTLS)
		return 0;
	if (!has_cap(s, "STARTTLS"))
		return hm_imap_fail(err, HM_FETCH_ERROR_TLS, "TLS: server does not offer STARTTLS");
	if (hm_imapc_simple(&s->ic, "STARTTLS", "TLS: server refused STARTTLS",
	                    HM_FETCH_ERROR_TLS, NULL, err) < 0)
		return -1;
	if (hm_fetch_starttls(&s->p, s->ic.pp.conn, err) < 0) {
		s->ic.pp.broken = TRUE;
		return -1;
	}
	/* What the server said before TLS may have been forged. */
	g_hash_table_remove_all(s->caps);
	return capability(s, err);
}

/* Sends "TAG verb args..." with each argument in the form it needs; a
 * literal waits for the server's "+" (a tagged refusal instead is
 * returned in *tagged, as the final reply is). With secret, only the
 * first line is traced (hm_fetch_trace masks it). */
static int
send_args(HmFetchSession *s, const char *verb, const char *const *args, guint nargs,
          gboolean atom_ok, gboolean secret, HmImapResponse **tagged, GError **err)
{
	g_autoptr(GString) line = g_string_new(NULL);
	guint tag = s->ic.next_tag++;
	gboolean first = TRUE;

	g_string_printf(line, "A%04u %s", tag, verb);
	for (guint i = 0; i < nargs; i++) {
		HmImapArgForm f = hm_imap_arg_form(args[i], atom_ok);

		g_string_append_c(line, ' ');
		if (f != HM_IMAP_ARG_LITERAL) {
			hm_imap_append_arg(line, args[i], f);
		} else {
			g_string_append_printf(line, "{%zu}", strlen(args[i]));
			if (hm_imapc_send_line(&s->ic, line->str, first || !secret ? NULL : "********",
			                       err) < 0 ||
			    hm_imapc_flush(&s->ic, err) < 0)
				goto fail;
			first = FALSE;
			if (hm_imapc_read_until(&s->ic, tag, NULL, TRUE, tagged, err) != 1)
				goto fail;
			g_clear_pointer(tagged, hm_imap_response_free);  /* the "+" */
			g_string_assign(line, args[i]);
		}
	}
	if (hm_imapc_send_line(&s->ic, line->str, first || !secret ? NULL : "********", err) < 0 ||
	    hm_imapc_flush(&s->ic, err) < 0)
		goto fail;
	explicit_bzero(line->str, line->len);
	return hm_imapc_read_until(&s->ic, tag, NULL, FALSE, tagged, err);
fail:
	explicit_bzero(line->str, line->len);
	s->ic.pp.broken = s->ic.pp.broken || *tagged == NULL;
	return *tagged != NULL ? 0 : -1;
}

/* The SASL framing of IMAP AUTHENTICATE (RFC 3501 6.2.2, SASL-IR RFC
 * 4959) for lib/sasl-client.c. */
typedef struct {
	HmFetchSession *s;
	guint tag;
	HmImapResponse *tagged;  /* the final reply */
} AuthIo;

static int
auth_line(gpointer io, const char *line, const char *shown, GError **err)
{
	AuthIo *a = io;
	HmImapClient *ic = &a->s->ic;

	if (hm_imapc_send_line(ic, line, shown, err) < 0)
		return -1;
	return hm_imapc_flush(ic, err);
}

static int
auth_start(gpointer io, const char *args, const char *shown, GError **err)
{
	AuthIo *a = io;
	char *line;
	g_autofree char *shown_line = NULL;
	int rc;

	a->tag = a->s->ic.next_tag++;
	line = g_strdup_printf("A%04u AUTHENTICATE %s", a->tag, args);
	shown_line = g_strdup_printf("A%04u AUTHENTICATE %s", a->tag, shown);
	rc = auth_line(io, line, shown_line, err);
	hm_sasl_free_secret(line);
	return rc;
}

static int
auth_reply(gpointer io, HmSaslVerdict *verdict, char **text, GError **err)
{
	AuthIo *a = io;
	HmImapResponse *r = NULL;
	int rc = hm_imapc_read_until(&a->s->ic, a->tag, NULL, TRUE, &r, err);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		*verdict = HM_SASL_CONTINUE;
		*text = g_strdup(r->rest != NULL ? r->rest : "");
		hm_imap_response_free(r);
		return 0;
	}
	*verdict = r->status == HM_IMAP_OK ? HM_SASL_SUCCESS : HM_SASL_FAILURE;
	*text = hm_imap_quote(*r->rest != '\0' ? r->rest : r->keyword);
	g_clear_pointer(&a->tagged, hm_imap_response_free);
	a->tagged = r;
	return 0;
}

static const HmSaslProto imap_sasl = {
	.send_start = auth_start,
	.send_line = auth_line,
	.read_reply = auth_reply,
	.max_start_line = 0,  /* the initial response only with SASL-IR, any length */
};

/* The mechanisms the server offers (AUTH=X), NULL-terminated; g_free() it
 * (the names are the capability table's). */
static const char **
offered_mechs(HmFetchSession *s)
{
	GPtrArray *out = g_ptr_array_new();
	GHashTableIter it;
	gpointer cap;

	g_hash_table_iter_init(&it, s->caps);
	while (g_hash_table_iter_next(&it, &cap, NULL))
		if (g_str_has_prefix(cap, "AUTH="))
			g_ptr_array_add(out, (char *)cap + 5);
	g_ptr_array_add(out, NULL);
	return (const char **)g_ptr_array_free(out, FALSE);
}

/* AUTHENTICATE with mech: 0 and the final reply in *tagged, or -1. */
static int
authenticate(HmFetchSession *s, const HmSaslMech *mech, HmSaslOauthError *refusal,
             HmImapResponse **tagged, GError **err)
{
	AuthIo io = { s, 0, NULL };
	HmSaslCreds creds = hm_fetch_creds(&s->p);
	int rc = hm_sasl_client_run_creds(&imap_sasl, &io, mech, &creds, has_cap(s, "SASL-IR"),
	                                  refusal, err);

	/* A refusal is the tagged NO the caller reports, as for LOGIN. */
	if (rc < 0 && io.tagged != NULL && g_error_matches(*err, HM_ERROR, HM_ERROR_AUTH)) {
		g_clear_error(err);
		rc = 0;
	} else if (rc < 0) {
		if (g_error_matches(*err, HM_ERROR, HM_ERROR_PROTOCOL))
			s->ic.pp.broken = TRUE;  /* a challenge we could not answer */
		hm_fetch_error_from_lib(err);
		g_clear_pointer(&io.tagged, hm_imap_response_free);
	}
	*tagged = io.tagged;
	return rc;
}

static int
login(HmFetchSession *s, GError **err)
{
	const HmAccountConf *a = s->p.acct;
	g_autoptr(HmImapResponse) t = NULL;
	g_autofree const char **mechs = NULL;
	const HmSaslMech *mech;
	HmSaslOauthError refusal = { 0 };
	guint gen = s->caps_gen;
	int rc;

	if (hm_fetch_secret(&s->p) == NULL)
		return hm_imap_fail(err, HM_FETCH_ERROR_AUTH, "no password configured");
	if (!hm_fetch_may_send_password(&s->p, s->ic.pp.conn))
		return hm_imap_fail(err, HM_FETCH_ERROR_TLS, "refusing to send the password in "
		                    "clear to %s (use tls, or allow_plaintext = true)", a->ep.host);
	mechs = offered_mechs(s);
	mech = hm_fetch_pick_mech(&s->p, mechs);
	if (a->ep.auth == HM_AUTH_OAUTH2 && mech == NULL)
		return hm_imap_fail(err, HM_FETCH_ERROR_AUTH, "the server offers neither "
		                    "AUTH=XOAUTH2 nor AUTH=OAUTHBEARER");
	/* OAuth2 and PLAIN when offered; LOGIN (the command) before the LOGIN
	 * mechanism, which only exists for servers that have disabled the
	 * command. */
	if (a->ep.auth == HM_AUTH_OAUTH2 ||
	    (mech != NULL &&
	     (strcmp(hm_sasl_mech_name(mech), "PLAIN") == 0 || has_cap(s, "LOGINDISABLED")))) {
		rc = authenticate(s, mech, &refusal, &t, err);
	} else if (has_cap(s, "LOGINDISABLED")) {
		return hm_imap_fail(err, HM_FETCH_ERROR_AUTH, "login refused: the server has "
		                    "LOGINDISABLED and does not offer AUTH=PLAIN or AUTH=LOGIN");
	} else {
		const char *args[] = { a->ep.user, a->ep.password.value };

		rc = send_args(s, "LOGIN", args, 2, FALSE, TRUE, &t, err);
	}
	if (rc < 0)
		return -1;
	if (t->status != HM_IMAP_OK && a->ep.auth == HM_AUTH_OAUTH2) {
		g_autofree char *words =
			g_strdup_printf("%s %s", t->keyword, t->rest != NULL ? t->rest : "");

		return hm_fetch_oauth_refused(err, &refusal, g_strstrip(words));
	}
	if (t->status != HM_IMAP_OK)
		return hm_imap_refused(err, HM_FETCH_ERROR_AUTH, "login refused", t);
	/* Capabilities may change after login; most servers say so in the OK. */
	return s->caps_gen == gen ? capability(s, err) : 0;
}

static HmFetchSession *
imap_open(const HmFetchParams *p, GError **err)
{
	HmFetchSession *s;
	gboolean preauth = FALSE;
	HmConn *conn = hm_fetch_connect(p, err);

	if (conn == NULL)
		return NULL;
	s = g_new0(HmFetchSession, 1);
	s->p = *p;
	s->caps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	hm_imapc_init(&s->ic, &s->p, conn, on_response, s);
	if (greeting(s, &preauth, err) < 0 ||
	    (g_hash_table_size(s->caps) == 0 && capability(s, err) < 0) ||
	    starttls(s, err) < 0 || (!preauth && login(s, err) < 0)) {
		session_free(s);
		return NULL;
	}
	return s;
}

/* --- select ------------------------------------------------------------- */

typedef struct {
	GHashTable *by_uid;      /* UID -> HmFetchItem * */
	GHashTable *seen;        /* UIDs already answered */
	HmFetchMessageFunc fn;
	gpointer user_data;
} Lookup;

static HmFetchItem *
lookup_item(const Lookup *lk, guint32 uid)
{
	return g_hash_table_lookup(lk->by_uid, GUINT_TO_POINTER(uid));
}

/* The Message-ID in a header section, without surrounding space; NULL if
 * there is none. */
static char *
message_id_of(const char *hdr, gsize len)
{
	HmHeaderIter it;
	HmHeaderField f;

	hm_header_iter_init(&it, hdr, len);
	while (hm_header_next(&it, &f) == 1) {
		if (hm_header_is(&f, "Message-ID")) {
			char *v = g_strstrip(hm_header_value(&f));

			if (*v != '\0')
				return v;
			g_free(v);
			return NULL;
		}
	}
	return NULL;
}

/* RFC822.SIZE and the Message-ID header of a FETCH reply, for
 * identify(); answered UIDs go into lk->seen. */
static int
on_meta(const HmImapResponse *r, gpointer data, GError **err)
{
	Lookup *lk = data;
	const HmImapToken *hdr, *size;
	HmFetchItem *it;
	guint32 uid = 0;
	int rc = hm_imap_fetch_uid(r, &uid, err);

	if (rc <= 0 || (it = lookup_item(lk, uid)) == NULL)
		return rc;
	if ((size = hm_imap_fetch_att(r, "RFC822.SIZE")) != NULL) {
		if (size->type != HM_IMAP_NUMBER)
			return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
			                    "bad RFC822.SIZE in a FETCH reply");
		it->size = size->num;
		g_hash_table_add(lk->seen, GUINT_TO_POINTER(uid));
	}
	hdr = hm_imap_fetch_att_prefix(r, "BODY[HEADER.FIELDS");
	if (hdr != NULL && hdr->type == HM_IMAP_STRING) {
		g_free(it->message_id);
		it->message_id = message_id_of(hdr->str, hdr->len);
	}
	return 0;
}

static int
imap_select(HmFetchSession *s, const char *folder, guint32 first_uid, guint32 *uidvalidity,
            GPtrArray **items, GError **err)
{
	g_autoptr(HmImapResponse) t = NULL;
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)hm_fetch_item_free);
	g_autofree char *name = hm_imap_quote(folder);
	const char *verb = s->p.acct->keep ? "EXAMINE" : "SELECT";

	s->selected = s->have_exists = s->have_uidvalidity = FALSE;
	s->count.exists = s->recent = 0;
	s->listed_whole = FALSE;
	g_free(s->folder);
	s->folder = g_strdup(name);
	if (send_args(s, verb, &folder, 1, TRUE, FALSE, &t, err) < 0)
		return -1;
	if (t->status != HM_IMAP_OK) {
		g_autofree char *what = g_strdup_printf("%s %s refused", verb, name);

		return hm_imap_refused(err, HM_FETCH_ERROR_SERVER, what, t);
	}
	if (!s->have_uidvalidity)
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                    "server sent no UIDVALIDITY for %s", name);
	if (!s->have_exists)
		return hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL, "server sent no EXISTS for %s",
		                    name);
	s->selected = TRUE;
	*uidvalidity = s->uidvalidity;
	s->listed_whole = TRUE;
	/* What the listing may miss is what is reported from now on. */
	s->new_mail = FALSE;
	if (s->count.exists > 0 && hm_imap_list(&s->ic, &s->count, name, MAX(first_uid, 1), list,
	                                        &s->listed_whole, err) < 0)
		return -1;
	*items = g_steal_pointer(&list);
	return 0;
}

static gboolean
imap_listed_all(HmFetchSession *s)
{
	return s->listed_whole;
}

/* --- identify, retrieve, remove -------------------------------------------- */

static GHashTable *
items_by_uid(HmFetchItem *const *items, guint n)
{
	GHashTable *h = g_hash_table_new(NULL, NULL);

	for (guint i = 0; i < n; i++)
		g_hash_table_insert(h, GUINT_TO_POINTER(items[i]->num), items[i]);
	return h;
}

static int
imap_identify(HmFetchSession *s, GPtrArray *items, GError **err)
{
	g_autoptr(GHashTable) by_uid = items_by_uid((HmFetchItem *const *)items->pdata, items->len);
	g_autoptr(GPtrArray) cmds = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
	Lookup lk = { by_uid, seen, NULL, NULL };
	HmImapHandler h = { on_meta, &lk, NULL };
	HmImapPipeline pl = { NULL, "UID FETCH refused", TRUE, HM_FETCH_ERROR_SERVER };

	if (items->len == 0)
		return 0;
	cmds = item_commands((HmFetchItem *const *)items->pdata, items->len, "UID FETCH ",
	                     " (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
	pl.cmds = cmds;
	return hm_imapc_pipeline(&s->ic, &pl, &h, err);
}

static int
on_message(const HmImapResponse *r, gpointer data, GError **err)
{
	Lookup *lk = data;
	const HmImapToken *body = hm_imap_fetch_att(r, "BODY[]");
	HmFetchItem *it;
	guint32 uid = 0;
	int rc;

	if (body == NULL || !r->has_number || strcmp(r->keyword, "FETCH") != 0)
		return 0;  /* flag changes and the like */
	if ((rc = hm_imap_fetch_uid(r, &uid, err)) <= 0)
		return rc < 0 ? -1 : hm_imap_fail(err, HM_FETCH_ERROR_PROTOCOL,
		                                  "FETCH reply without UID");
	it = lookup_item(lk, uid);
	if (it == NULL || body->type != HM_IMAP_STRING ||
	    g_hash_table_contains(lk->seen, GUINT_TO_POINTER(uid)))
		return 0;
	g_hash_table_add(lk->seen, GUINT_TO_POINTER(uid));
	return lk->fn(it, body->str, body->len, lk->user_data, err);
}

static int
imap_retrieve(HmFetchSession *s, HmFetchItem *const *items, guint n, HmFetchMessageFunc fn,
              gpointer user_data, GError **err)
{
	g_autoptr(GHashTable) by_uid = items_by_uid(items, n);
	g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
	g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func(g_free);
	Lookup lk = { by_uid, seen, fn, user_data };
	HmImapHandler h = { on_message, &lk, NULL };
	HmImapPipeline pl = { cmds, "UID FETCH", TRUE, HM_FETCH_ERROR_SERVER };

	for (guint i = 0; i < n; i++)
		g_ptr_array_add(cmds, g_strdup_printf("UID FETCH %u (BODY.PEEK[] RFC822.SIZE)",
		                                      items[i]->num));
	if (hm_imapc_pipeline(&s->ic, &pl, &h, err) < 0)
		return -1;
	for (guint i = 0; i < n; i++)
		if (!g_hash_table_contains(seen, GUINT_TO_POINTER(items[i]->num)))
			hm_info("%s: %s: UID %u: the server sent no message (expunged meanwhile?)",
			        s->p.acct->name, s->folder, items[i]->num);
	return 0;
}

static int
imap_remove(HmFetchSession *s, HmFetchItem *const *items, guint n, GError **err)
{
	g_autoptr(GPtrArray) cmds = NULL;
	g_autoptr(GPtrArray) expunge = NULL;
	HmImapHandler h = { NULL, NULL, NULL };
	HmImapPipeline pl = { NULL, "UID STORE refused", FALSE, HM_FETCH_ERROR_SERVER };

	if (n == 0)
		return 0;
	cmds = item_commands(items, n, "UID STORE ", " +FLAGS.SILENT (\\Seen \\Deleted)");
	pl.cmds = cmds;
	if (has_cap(s, "UIDPLUS")) {
		/* UID EXPUNGE touches only our UIDs, so it may follow the STOREs
		 * without waiting: a failed STORE leaves its messages unflagged. */
		expunge = item_commands(items, n, "UID EXPUNGE ", "");
		for (guint i = 0; i < expunge->len; i++)
			g_ptr_array_add(cmds, g_strdup(g_ptr_array_index(expunge, i)));
		pl.what = "UID STORE/EXPUNGE refused";
		return hm_imapc_pipeline(&s->ic, &pl, &h, err);
	}
	if (hm_imapc_pipeline(&s->ic, &pl, &h, err) < 0)
		return -1;
	return hm_imapc_simple(&s->ic, "EXPUNGE", "EXPUNGE refused", HM_FETCH_ERROR_SERVER, NULL,
	                       err);
}

/* --- IDLE, close ------------------------------------------------------------ */

static gboolean
imap_can_wait(HmFetchSession *s)
{
	return has_cap(s, "IDLE");
}

/* Whether new mail was reported and not yet said so; says it once. */
static gboolean
take_new_mail(HmFetchSession *s)
{
	gboolean was = s->new_mail;

	s->new_mail = FALSE;
	return was;
}

/* Reads during IDLE until new mail, the deadline, *stop, or the server
 * ending IDLE itself (*ended). Returns 0 or -1. */
static int
idle_loop(HmFetchSession *s, guint tag, gint64 deadline, const volatile gint *stop,
          gboolean *ended, GError **err)
{
	char want[16];

	g_snprintf(want, sizeof(want), "A%04u", tag);
	while ((stop == NULL || !*stop) && !s->new_mail) {
		g_autoptr(HmImapResponse) r = NULL;
		gint64 left = (deadline - g_get_monotonic_time() + 999) / 1000;
		int rc;

		if (left <= 0)
			return 0;
		rc = hm_imapc_read(&s->ic, (int)MIN(left, IMAP_IDLE_SLICE_MS), &r, err);
		if (rc < 0)
			return -1;
		if (rc == 1 || r->kind == HM_IMAP_CONTINUE)
			continue;
		if (r->kind == HM_IMAP_TAGGED) {
			if (strcmp(r->tag, want) != 0 || r->status != HM_IMAP_OK) {
				s->ic.pp.broken = TRUE;
				return hm_imap_refused(err, HM_FETCH_ERROR_SERVER, "IDLE ended", r);
			}
			*ended = TRUE;
			return 0;
		}
		if (common_untagged(s, r, err) < 0)
			return -1;
	}
	return 0;
}

static int
imap_wait(HmFetchSession *s, int timeout_ms, const volatile gint *stop, GError **err)
{
	g_autoptr(HmImapResponse) t = NULL;
	gint64 deadline = g_get_monotonic_time() + (gint64)MAX(timeout_ms, 0) * 1000;
	gboolean ended = FALSE;
	guint tag;
	int rc;

	if (!s->selected)
		return hm_imap_fail(err, HM_FETCH_ERROR_LOCAL, "IDLE without a selected folder");
	/* IDLE reports only what comes after it: mail reported during the
	 * pass (Dovecot says EXISTS in its UID EXPUNGE reply) is fetched
	 * first. */
	if (take_new_mail(s))
		return 1;
	if (hm_imapc_send(&s->ic, &tag, "IDLE", err) < 0 || hm_imapc_flush(&s->ic, err) < 0)
		return -1;
	rc = hm_imapc_read_until(&s->ic, tag, NULL, TRUE, &t, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return hm_imap_refused(err, HM_FETCH_ERROR_SERVER, "IDLE refused", t);
	g_clear_pointer(&t, hm_imap_response_free);  /* the "+ idling" */
	if (idle_loop(s, tag, deadline, stop, &ended, err) < 0)
		return -1;
	if (!ended) {
		if (hm_imapc_send_line(&s->ic, "DONE", NULL, err) < 0 ||
		    hm_imapc_flush(&s->ic, err) < 0 ||
		    hm_imapc_read_until(&s->ic, tag, NULL, FALSE, &t, err) < 0)
			return -1;
		if (t->status != HM_IMAP_OK)
			return hm_imap_refused(err, HM_FETCH_ERROR_SERVER, "IDLE failed", t);
	}
	/* Also what came with the reply to DONE, as IDLE is renewed. */
	return take_new_mail(s) ? 1 : 0;
}

static int
imap_close(HmFetchSession *s, GError **err)
{
	g_autoptr(GError) lerr = NULL;
	int rc = 0;

	if (s == NULL)
		return 0;
	/* LOGOUT changes nothing upstream, so a broken session just ends. */
	if (!s->ic.pp.broken) {
		s->logging_out = TRUE;
		if (hm_imapc_simple(&s->ic, "LOGOUT", "LOGOUT refused", HM_FETCH_ERROR_SERVER,
		                    NULL, &lerr) < 0 &&
		    !g_error_matches(lerr, HM_FETCH_ERROR, HM_FETCH_ERROR_NETWORK)) {
			g_propagate_error(err, g_steal_pointer(&lerr));
			rc = -1;
		}
	}
	session_free(s);
	return rc;
}

static void
imap_abort(HmFetchSession *s)
{
	session_free(s);
}

const HmFetchBackend hm_fetch_imap = {
	.name = "imap",
	.open = imap_open,
	.select = imap_select,
	.listed_all = imap_listed_all,
	.identify = imap_identify,
	.retrieve = imap_retrieve,
	.remove = imap_remove,
	.commit = NULL,
	.can_wait = imap_can_wait,
	.wait = imap_wait,
	.close = imap_close,
	.abort = imap_abort,
};
