/* Sender rewriting: envelope sender, From:/Sender: fields, smart host
 * choice. Who a local address belongs to is deliver/'s resolver's answer
 * (aliases, +tags, case, extra addresses), so a sender and a recipient
 * mean the same user. */
#include <config.h>

#include <fnmatch.h>
#include <string.h>

#include "deliver/deliver.h"
#include "lib/address.h"
#include "lib/header.h"
#include "relay/addrlist.h"
#include "relay/rewrite.h"

struct RelayRewriter {
	const HmConfig *cfg;
	char **system_names; /* lower-cased, no trailing dot */
};

/* What one sender address means here. */
typedef struct {
	RelayRewriteResult result;
	char *user; /* the local user (DONE from a user, NO_SEND_AS) */
	char *out;  /* DONE: the new sender; FOREIGN: the sender as given */
	char *why;  /* UNKNOWN_LOCAL: the resolver's reason */
} Verdict;

static void
verdict_clear(Verdict *v)
{
	g_free(v->user);
	g_free(v->out);
	g_free(v->why);
}

static char *
lower_name(const char *name)
{
	gsize len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	return g_ascii_strdown(name, (gssize)len);
}

RelayRewriter *
relay_rewriter_new(const HmConfig *cfg, const char *const *system_names)
{
	RelayRewriter *rw = g_new0(RelayRewriter, 1);
	GPtrArray *names = g_ptr_array_new();

	rw->cfg = cfg;
	for (const char *const *n = system_names; n != NULL && *n != NULL; n++)
		if (**n != '\0')
			g_ptr_array_add(names, lower_name(*n));
	g_ptr_array_add(names, NULL);
	rw->system_names = (char **)g_ptr_array_free(names, FALSE);
	return rw;
}

void
relay_rewriter_free(RelayRewriter *rw)
{
	if (rw == NULL)
		return;
	g_strfreev(rw->system_names);
	g_free(rw);
}

gboolean
relay_rewriter_is_ours(const RelayRewriter *rw, const char *domain)
{
	g_autofree char *d = NULL;

	if (domain == NULL || domain[0] == '\0')
		return TRUE;
	if (hm_config_is_local_domain(rw->cfg, domain))
		return TRUE;
	d = lower_name(domain);
	return g_strv_contains((const char *const *)rw->system_names, d) ||
	       hm_config_is_local_domain(rw->cfg, d) || g_ascii_strcasecmp(d, rw->cfg->hostname) == 0;
}

/* The sender without angle brackets and surrounding white space. */
static char *
bare_sender(const char *sender)
{
	g_autofree char *s = g_strstrip(g_strdup(sender));
	gsize len = strlen(s);

	if (len >= 2 && s[0] == '<' && s[len - 1] == '>')
		return g_strstrip(g_strndup(s + 1, len - 2));
	return g_steal_pointer(&s);
}

/* The local user of addr, trying the address as written (local domains,
 * users' extra addresses) and then, for a system name or no domain, the
 * same local part at the first local domain: root@myhost is root@box.lan.
 * NULL with *why set (may be NULL) when neither resolves. */
static char *
resolve_user(const RelayRewriter *rw, const char *bare, const HmAddress *a, gboolean ours,
             char **why)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GError) err2 = NULL;
	g_autofree char *alt = NULL;
	char *user = hm_recipient_resolve(rw->cfg, bare, &err);
	const char *first = rw->cfg->local_domains != NULL ? rw->cfg->local_domains[0] : NULL;

	if (user != NULL || !ours)
		return user;
	if (a->domain != NULL && a->domain[0] != '\0' && first != NULL &&
	    !hm_config_is_local_domain(rw->cfg, a->domain)) {
		HmAddress at_first = { a->local, (char *)first };

		alt = hm_address_format(&at_first);
		if ((user = hm_recipient_resolve(rw->cfg, alt, &err2)) != NULL)
			return user;
	}
	if (why != NULL)
		*why = g_strdup((err2 != NULL ? err2 : err)->message);
	return NULL;
}

static void
judge(const RelayRewriter *rw, const char *sender, Verdict *v)
{
	g_autofree char *bare = bare_sender(sender);
	HmAddress a = { 0 };
	const HmUserConf *u;
	gboolean ours;

	memset(v, 0, sizeof(*v));
	if (bare[0] == '\0') {
		v->result = RELAY_REWRITE_DONE;
		v->out = g_strdup("");
		return;
	}
	if (hm_address_parse(bare, strlen(bare), HM_ADDR_UTF8 | HM_ADDR_NO_DOMAIN, &a, NULL) < 0) {
		v->result = RELAY_REWRITE_FOREIGN;
		v->out = g_steal_pointer(&bare);
		return;
	}
	ours = relay_rewriter_is_ours(rw, a.domain);
	if (ours && g_ascii_strcasecmp(a.local, "MAILER-DAEMON") == 0) {
		v->result = RELAY_REWRITE_DONE;
		v->out = g_strdup("");
	} else if ((v->user = resolve_user(rw, bare, &a, ours, &v->why)) == NULL) {
		v->result = ours ? RELAY_REWRITE_UNKNOWN_LOCAL : RELAY_REWRITE_FOREIGN;
		if (!ours)
			v->out = g_steal_pointer(&bare);
	} else if ((u = hm_config_find_user(rw->cfg, v->user)) != NULL && u->send_as != NULL) {
		v->result = RELAY_REWRITE_DONE;
		v->out = g_strdup(u->send_as);
	} else {
		v->result = RELAY_REWRITE_NO_SEND_AS;
	}
	hm_address_clear(&a);
}

char *
relay_sender_user(const RelayRewriter *rw, const char *sender)
{
	Verdict v;
	char *user;

	judge(rw, sender, &v);
	user = g_steal_pointer(&v.user);
	verdict_clear(&v);
	return user;
}

RelayRewriteResult
relay_rewrite_sender(const RelayRewriter *rw, const char *sender, char **out, char **user)
{
	Verdict v;

	judge(rw, sender, &v);
	*out = g_steal_pointer(&v.out);
	if (user != NULL)
		*user = g_steal_pointer(&v.user);
	verdict_clear(&v);
	return v.result;
}

char *
relay_rewrite_refusal(const RelayRewriter *rw, RelayRewriteResult result, const char *sender,
                      const char *user)
{
	g_autofree char *bare = bare_sender(sender);
	Verdict v;
	char *line = NULL;

	switch (result) {
	case RELAY_REWRITE_NO_SEND_AS:
		user = user != NULL ? user : "?";
		return g_strdup_printf(
			"sender <%s> belongs to local user %s; %s has no send_as: set "
			"users.[%s].send_as to the address your ISP knows you by",
			bare, user, user, user);
	case RELAY_REWRITE_UNKNOWN_LOCAL:
		judge(rw, sender, &v);
		line = g_strdup_printf("sender <%s> is in a local domain but no local user has it "
		                       "(%s): send as a user's address, or make it a user or an "
		                       "alias of a user that has a send_as",
		                       bare, v.why != NULL ? v.why : "unknown");
		verdict_clear(&v);
		return line;
	case RELAY_REWRITE_DONE:
	case RELAY_REWRITE_FOREIGN:
	default:
		return NULL;
	}
}

static gboolean
senders_match(const HmSmarthostConf *h, const char *sender)
{
	for (char **p = h->senders; p != NULL && *p != NULL; p++)
		if (fnmatch(*p, sender, FNM_CASEFOLD) == 0)
			return TRUE;
	return FALSE;
}

const HmSmarthostConf *
relay_smarthost_for(const HmConfig *cfg, const char *rewritten_sender)
{
	if (cfg->relay.n_smarthosts == 0)
		return NULL;
	if (rewritten_sender != NULL && rewritten_sender[0] != '\0')
		for (gsize i = 0; i < cfg->relay.n_smarthosts; i++)
			if (senders_match(&cfg->relay.smarthosts[i], rewritten_sender))
				return &cfg->relay.smarthosts[i];
	return &cfg->relay.smarthosts[0];
}

/* --- header fields -------------------------------------------------------- */

/* Appends text with every bare LF made CRLF. */
static void
append_crlf(GString *dst, const char *p, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			g_string_append_c(dst, '\r');
		g_string_append_c(dst, p[i]);
	}
}

/* The send_as that replaces addr (a span's addr-spec), or NULL when addr
 * is not one of user's addresses or user has no send_as. Another local
 * user's address stays as it is: the envelope says who sends, and a
 * header naming someone else must not come out as that user's real
 * address (a forged From: would then be a genuine-looking one). */
static char *
header_target(const RelayRewriter *rw, const char *user, const RelayAddrSpan *sp)
{
	Verdict v;
	char *out = NULL;

	judge(rw, sp->addr, &v);
	if (v.result == RELAY_REWRITE_DONE && v.user != NULL && strcmp(v.user, user) == 0 &&
	    strcmp(v.out, sp->addr) != 0)
		out = g_steal_pointer(&v.out);
	verdict_clear(&v);
	return out;
}

static gboolean
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Breaks the line f[start..le) (after a fold that added lead octets)
 * where it fits RELAY_REWRITE_LINE_MAX: the last WSP, or the last
 * insertion point (where a fold adds a space), with something other than
 * WSP on both sides. Returns the break or 0; *insert tells its kind. */
static gsize
find_break(const char *f, gsize start, gsize le, gsize lead, const guint8 *points, gboolean *insert)
{
	gsize last_nw = start, best = 0;
	gboolean seen_nw = FALSE;

	for (gsize i = start; i < le; i++)
		if (!is_wsp(f[i]))
			last_nw = i;
	for (gsize p = start + 1; p <= last_nw && lead + (p - start) <= RELAY_REWRITE_LINE_MAX;
	     p++) {
		seen_nw = seen_nw || !is_wsp(f[p - 1]);
		/* A point just after white space gives way to that space. */
		if (seen_nw && (is_wsp(f[p]) || (points[p] && !is_wsp(f[p - 1])))) {
			best = p;
			*insert = !is_wsp(f[p]);
		}
	}
	return best;
}

/* Appends the field f[0..len) (CRLF line ends, the last one included),
 * folding each line longer than RELAY_REWRITE_LINE_MAX where it can. */
static void
refold(const char *f, gsize len, const guint8 *points, GString *dst)
{
	gsize ls = 0;

	while (ls < len) {
		const char *crlf = g_strstr_len(f + ls, (gssize)(len - ls), "\r\n");
		gsize le = crlf != NULL ? (gsize)(crlf - f) : len;
		gsize start = ls, lead = 0, brk;
		gboolean insert = FALSE;

		while (lead + (le - start) > RELAY_REWRITE_LINE_MAX &&
		       (brk = find_break(f, start, le, lead, points, &insert)) != 0) {
			g_string_append_len(dst, f + start, (gssize)(brk - start));
			g_string_append(dst, insert ? "\r\n " : "\r\n");
			lead = insert ? 1 : 0;
			start = brk;
		}
		g_string_append_len(dst, f + start, (gssize)(le - start));
		g_string_append(dst, "\r\n");
		ls = le + 2;
	}
}

/* TRUE if addr is one of only (any case); every address passes when
 * only is NULL. */
static gboolean
among(const GPtrArray *only, const char *addr)
{
	if (only == NULL)
		return TRUE;
	for (guint i = 0; i < only->len; i++)
		if (g_ascii_strcasecmp(only->pdata[i], addr) == 0)
			return TRUE;
	return FALSE;
}

/* Rewrites the field norm[0..len) (CRLF line ends, the last included)
 * whose value starts at voff into dst, only user's addresses among only
 * (NULL: all). Returns FALSE (dst untouched) when no address changes. */
static gboolean
rewrite_field(const RelayRewriter *rw, const char *user, const char *norm, gsize len, gsize voff,
              const GPtrArray *only, GString *dst)
{
	g_autoptr(GArray) spans = relay_addrlist_parse(norm + voff, len - 2 - voff);
	g_autoptr(GString) f = NULL;
	g_autoptr(GArray) points = NULL;
	gsize done = 0;
	gboolean changed = FALSE;

	if (spans == NULL)
		return FALSE;
	f = g_string_sized_new(len + 64);
	points = g_array_new(FALSE, TRUE, 1);
	for (guint i = 0; i < spans->len; i++) {
		const RelayAddrSpan *sp = &g_array_index(spans, RelayAddrSpan, i);
		g_autofree char *to = among(only, sp->addr) ? header_target(rw, user, sp) : NULL;
		gsize start = voff + sp->start, end = voff + sp->end;
		gsize outer_end = voff + sp->outer_end;

		g_string_append_len(f, norm + done, (gssize)(voff + sp->outer_start - done));
		g_array_set_size(points, (guint)f->len + 1);
		points->data[f->len] = 1;
		g_string_append_len(f, norm + voff + sp->outer_start,
		                    (gssize)(start - voff - sp->outer_start));
		if (to != NULL) {
			g_string_append(f, to);
			changed = TRUE;
		} else {
			g_string_append_len(f, norm + start, (gssize)(end - start));
		}
		g_string_append_len(f, norm + end, (gssize)(outer_end - end));
		done = outer_end;
		g_array_set_size(points, (guint)f->len + 1);
		points->data[f->len] = 1;
	}
	if (!changed)
		return FALSE;
	g_string_append_len(f, norm + done, (gssize)(len - done));
	g_array_set_size(points, (guint)f->len + 1);
	refold(f->str, f->len, (const guint8 *)points->data, dst);
	return TRUE;
}

/* Appends the raw field msg[0..len) (value at voff) to dst, rewritten
 * when it is From: or Sender: and holds an address of user, or Reply-To:
 * holding one of the From: addresses that is user's (a reply must reach
 * the user at the address the world sees; any other Reply-To address is
 * the user's choice and stays). */
static gboolean
append_field(const RelayRewriter *rw, const char *user, const HmHeaderField *hf, const char *raw,
             gsize len, const GPtrArray *from_addrs, GString *dst)
{
	g_autoptr(GString) norm = NULL;
	const GPtrArray *only = NULL;

	if (hm_header_is(hf, "Reply-To"))
		only = from_addrs;
	else if (!hm_header_is(hf, "From") && !hm_header_is(hf, "Sender"))
		return FALSE;
	norm = g_string_sized_new(len + 16);
	append_crlf(norm, raw, len);
	if (norm->len < 2 || memcmp(norm->str + norm->len - 2, "\r\n", 2) != 0)
		g_string_append(norm, "\r\n");
	/* The value starts after the colon, before which there is no line end
	 * to normalise, so its offset is the same in norm. */
	return rewrite_field(rw, user, norm->str, norm->len, (gsize)(hf->value - raw), only, dst);
}

/* The addresses of the From: fields of the header section msg[0..end). */
static GPtrArray *
from_addresses(const char *msg, gsize end)
{
	GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
	HmHeaderIter it;
	HmHeaderField f;

	hm_header_iter_init(&it, msg, end);
	while (hm_header_next(&it, &f) == 1) {
		g_autoptr(GArray) spans = NULL;

		if (!hm_header_is(&f, "From"))
			continue;
		spans = relay_addrlist_parse(f.value, f.value_len);
		for (guint i = 0; spans != NULL && i < spans->len; i++)
			g_ptr_array_add(addrs, g_strdup(g_array_index(spans, RelayAddrSpan, i).addr));
	}
	return addrs;
}

int
relay_rewrite_headers(const RelayRewriter *rw, const char *user, const char *msg, gsize len,
                      char **new_head, gsize *head_end)
{
	gsize end = hm_header_section_end(msg, len);
	g_autoptr(GString) out = NULL;
	g_autoptr(GPtrArray) from = NULL;
	HmHeaderIter it;
	HmHeaderField f;

	*new_head = NULL;
	*head_end = end;
	if (!rw->cfg->relay.rewrite_header_from || user == NULL)
		return 0;
	from = from_addresses(msg, end);
	hm_header_iter_init(&it, msg, end);
	for (;;) {
		const char *pos = it.p;
		g_autoptr(GString) field = g_string_new(NULL);
		gboolean changed;

		if (hm_header_next(&it, &f) != 1)
			break;
		changed = append_field(rw, user, &f, pos, (gsize)(it.p - pos), from, field);
		if (changed && out == NULL) {
			out = g_string_sized_new(end + 64);
			append_crlf(out, msg, (gsize)(pos - msg));
		}
		if (out == NULL)
			continue;
		if (!changed)
			append_crlf(out, pos, (gsize)(it.p - pos));
		else
			g_string_append_len(out, field->str, (gssize)field->len);
		if (out->str[out->len - 1] != '\n')
			g_string_append(out, "\r\n");
	}
	if (out == NULL)
		return 0;
	append_crlf(out, it.p, (gsize)(msg + end - it.p));
	if (out->len > 0 && out->str[out->len - 1] != '\n')
		g_string_append(out, "\r\n");
	*new_head = g_string_free(g_steal_pointer(&out), FALSE);
	return 0;
}
