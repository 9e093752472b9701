/* The two ways `homemail setup` gets its answers: the dialogue on the
 * terminal, and an answers file. Both walk the same plan of questions and
 * store the same ids.
 *
 * The dialogue is plain lines (it works over ssh, in any terminal): each
 * question shows its default in brackets, Enter takes it (as debconf's
 * questions do), "-" empties an optional answer, "<" or "back" returns to
 * the previous question, a bad answer is explained and the question asked
 * again. Everything is read with read(2) on fd 0, so no stdio buffer holds
 * typed-ahead text while echo is off for a password. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/passwd.h"
#include "admin/setup.h"
#include "admin/tty.h"

/* The longest answer: host names, paths and lists are far shorter. */
#define ANSWER_MAX 1024

typedef enum { ASK_NEXT, ASK_BACK, ASK_GOTO, ASK_FAIL } AskResult;

static gboolean
is_back(const char *line)
{
	return strcmp(line, "<") == 0 || g_ascii_strcasecmp(line, "back") == 0;
}

static void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* One line from the terminal; -1 with *err when it closed. */
static int
read_answer(char *buf, GError **err)
{
	gboolean eof;
	gssize n;

	for (;;) {
		n = hm_tty_read_line(STDIN_FILENO, buf, ANSWER_MAX, TRUE, &eof, err);
		if (n == -2) {
			say("  That answer is too long (at most %d characters); try again: ",
			    ANSWER_MAX - 1);
			continue;
		}
		if (n < 0)
			return -1;
		if (eof && n == 0) {
			g_set_error_literal(err, HM_ERROR, HM_ERROR_FAILED,
			                    "the input ended; nothing was written");
			return -1;
		}
		g_strstrip(buf);
		return 0;
	}
}

/* What an optional answer is emptied with: Enter takes the default, and
 * no optional answer can be "-" itself (a name, an address, a pin, a URL,
 * a path). */
#define EMPTY_ANSWER "-"

static gboolean
is_empty_answer(const HmStep *st, const char *line)
{
	return st->q->optional && strcmp(line, EMPTY_ANSWER) == 0;
}

static void
show_question(const HmStep *st, const char *def)
{
	const char *p = st->q->prompt;
	gsize n = strlen(p);

	if (st->q->help != NULL)
		say("%s\n", st->q->help);
	for (const HmChoice *c = st->q->choices; c != NULL && c->word != NULL; c++)
		say("  %d. %-10s %s\n", (int)(c - st->q->choices) + 1, c->word, c->text);
	/* "(empty: no LAN)" becomes "(empty: no LAN; "-" empties it)" when
	 * Enter would keep an answer. */
	if (st->q->optional && def != NULL && *def != '\0' && n > 0 && p[n - 1] == ')')
		say("%.*s; \"" EMPTY_ANSWER "\" empties it) [%s]: ", (int)(n - 1), p, def);
	else if (st->q->optional && def != NULL && *def != '\0')
		say("%s (\"" EMPTY_ANSWER "\" empties it) [%s]: ", p, def);
	else
		say("%s [%s]: ", p, def != NULL ? def : "");
}

static AskResult
ask_text(HmSetup *s, const HmStep *st, GError **err)
{
	g_autofree char *def = hm_setup_default(s, st);
	char line[ANSWER_MAX];

	for (;;) {
		g_autoptr(GError) why = NULL;
		const char *answer = line;
		char *v;

		show_question(st, def);
		if (read_answer(line, err) < 0)
			return ASK_FAIL;
		if (is_back(line))
			return ASK_BACK;
		if (is_empty_answer(st, line))
			answer = "";
		else if (*line == '\0' && def != NULL)
			answer = def;
		v = hm_setup_accept(s, st, answer, &why);
		if (v != NULL) {
			g_hash_table_replace(s->answers, g_strdup(st->id), v);
			return ASK_NEXT;
		}
		say("  %s\n", why->message);
	}
}

/* The item's name: "alice" for "user.alice". */
static const char *
item_name(const HmStep *st)
{
	const char *dot = strchr(st->item, '.');

	return dot != NULL ? dot + 1 : st->item;
}

/* The answer of a password or secret question kept from the config or
 * an answers file (a hash, a file's path), checked as every answer is: it
 * goes into the config as a quoted string. NULL when there is none, or
 * (with *err) when it is no valid answer. */
static char *
kept_secret(const HmSetup *s, const HmStep *st, GError **err)
{
	g_autofree char *def = hm_setup_default(s, st);
	char *v;

	if (def == NULL || *def == '\0')
		return NULL;
	if ((v = hm_setup_accept(s, st, def, err)) == NULL)
		g_prefix_error(err, "%s: ", st->id);
	return v;
}

/* Where a secret given in this run goes: the file the answers name for
 * it, else a file of its own (hm_setup_secret_path()). NULL with *err
 * when the answer cannot be a path in the config. */
static char *
secret_file(const HmSetup *s, const HmStep *st, GError **err)
{
	const char *given = g_hash_table_lookup(s->answers, st->id);
	char *v;

	if (given == NULL || *given == '\0')
		return hm_setup_secret_path(s, st->id);
	if ((v = hm_setup_accept(s, st, given, err)) == NULL)
		g_prefix_error(err, "%s: ", st->id);
	return v;
}

/* The default of a password or secret question, said when it cannot be
 * kept (then there is none). */
static char *
secret_default(const HmSetup *s, const HmStep *st)
{
	g_autoptr(GError) bad = NULL;
	char *def = kept_secret(s, st, &bad);

	if (bad != NULL)
		say("  %s\n  It cannot be kept: give a new one.\n", bad->message);
	return def;
}

/* The dialogue ends on why (the terminal closed or failed), before
 * anything was written. */
static void
stop(GError **err, GError *why)
{
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "%s; nothing was written", why->message);
	g_error_free(why);
}

/* Reads a password or secret: the length, -1 (*err) when the terminal
 * failed or closed; a password too long is explained and asked again. */
static gssize
read_secret(const char *prompt, char *buf, GError **err)
{
	for (;;) {
		g_autoptr(GError) why = NULL;
		gssize n = hm_tty_read_secret(STDIN_FILENO, prompt, buf, &why);

		if (n >= 0)
			return n;
		if (n == -1) {
			stop(err, g_steal_pointer(&why));
			return -1;
		}
		say("  %s; try again.\n", why->message);
	}
}

/* A new password for a local user, typed twice; Enter keeps the current
 * hash. */
static AskResult
ask_password(HmSetup *s, const HmStep *st, GError **err)
{
	g_autofree char *def = secret_default(s, st);
	g_autofree char *prompt = g_strdup_printf("Password for %s (not shown%s): ", item_name(st),
	                                          def != NULL ? "; Enter keeps it" : "");
	char buf[HM_TTY_SECRET_BUF];
	AskResult res = ASK_FAIL;

	for (;;) {
		g_autoptr(GError) why = NULL;
		gssize n = read_secret(prompt, buf, err);
		HmTtyPassword ok = HM_TTY_PASSWORD_BAD;
		char *hash;

		if (n < 0)
			break;
		if (n == 0 && def != NULL) {
			g_hash_table_replace(s->answers, g_strdup(st->id), g_steal_pointer(&def));
			res = ASK_NEXT;
			break;
		}
		if (is_back(buf)) {
			res = ASK_BACK;
			break;
		}
		if (hm_tty_password_check(buf, (gsize)n, &why) == 0)
			ok = hm_tty_confirm_password(STDIN_FILENO, "Retype the password: ", buf,
			                             (gsize)n, &why);
		if (ok == HM_TTY_PASSWORD_ERROR) {
			stop(err, g_steal_pointer(&why));
			break;
		}
		if (ok != HM_TTY_PASSWORD_OK) {
			say("  %s; try again.\n", why->message);
			continue;
		}
		if ((hash = hm_password_hash(buf, err)) == NULL)
			break;
		g_hash_table_replace(s->answers, g_strdup(st->id), hash);
		res = ASK_NEXT;
		break;
	}
	explicit_bzero(buf, sizeof(buf));
	return res;
}

/* A password or token for a server, typed once (the live check tells a
 * typo), kept for its file; Enter keeps the current file. */
static AskResult
ask_secret(HmSetup *s, const HmStep *st, GError **err)
{
	g_autofree char *def = secret_default(s, st);
	g_autofree char *prompt = g_strdup_printf("%s [%s]: ", st->q->prompt,
	                                          def != NULL ? "Enter keeps the current one" : "");
	char buf[HM_TTY_SECRET_BUF];
	AskResult res = ASK_FAIL;

	for (;;) {
		g_autoptr(GError) why = NULL;
		gssize n = read_secret(prompt, buf, err);
		char *path;

		if (n < 0)
			break;
		if (n == 0 && def != NULL) {
			g_hash_table_replace(s->answers, g_strdup(st->id), g_steal_pointer(&def));
			res = ASK_NEXT;
			break;
		}
		if (is_back(buf)) {
			res = ASK_BACK;
			break;
		}
		if (hm_tty_password_check(buf, (gsize)n, &why) < 0) {
			say("  %s; try again.\n",
			    n == 0 ? "An answer is required here" : why->message);
			continue;
		}
		if ((path = secret_file(s, st, err)) == NULL)
			break;
		g_hash_table_replace(s->secrets, g_strdup(st->id), g_strdup(buf));
		g_hash_table_replace(s->answers, g_strdup(st->id), path);
		res = ASK_NEXT;
		break;
	}
	explicit_bzero(buf, sizeof(buf));
	return res;
}

/* Offers to pin the certificate a failed check did not trust. Returns
 * ASK_NEXT when the person pinned it (check again), ASK_GOTO when not,
 * ASK_BACK or ASK_FAIL. */
static AskResult
offer_pin(HmSetup *s, const char *group, const char *pin, GError **err)
{
	char line[ANSWER_MAX];

	say("  The certificate's fingerprint is\n    %s\n"
	    "  Pin it only if the server's operator confirms this fingerprint: homemail\n"
	    "  then trusts this one certificate and no other for %s.\n"
	    "Trust this certificate anyway (pin it)? [no]: ",
	    pin, group);
	if (read_answer(line, err) < 0)
		return ASK_FAIL;
	if (is_back(line))
		return ASK_BACK;
	if (g_ascii_strncasecmp(line, "y", 1) != 0)
		return ASK_GOTO;
	g_hash_table_replace(s->answers, g_strconcat(group, ".fingerprint", NULL),
	                     g_strdup(pin));
	return ASK_NEXT;
}

/* What a check step checks: its id without ".check" ("account.NAME",
 * "smarthost", "dyndns"); the answers of that group share the prefix. */
static char *
check_group(const char *id)
{
	return g_str_has_suffix(id, ".check") ? g_strndup(id, strlen(id) - strlen(".check"))
	                                      : g_strdup(id);
}

/* The live check; when the certificate is not trusted, the person may pin
 * it and check again; when it fails, go back to the server settings of
 * the group. */
static AskResult
ask_check(HmSetup *s, const HmStep *st, GError **err)
{
	char line[ANSWER_MAX];
	g_autofree char *group = check_group(st->id);

	for (;;) {
		g_autoptr(GError) why = NULL;
		g_autofree char *pin = NULL;
		AskResult r;

		if (hm_setup_run_check(s, group, &why) != HM_SETUP_CHECK_FAILED)
			return ASK_NEXT;
		say("  %s: the check failed: %s\n", group, why->message);
		if ((pin = hm_setup_check_pin(why)) == NULL)
			break;
		if ((r = offer_pin(s, group, pin, err)) != ASK_NEXT && r != ASK_GOTO)
			return r;
		if (r == ASK_GOTO)
			break;
	}
	say("Change the settings? [yes]: ");
	if (read_answer(line, err) < 0)
		return ASK_FAIL;
	if (is_back(line))
		return ASK_BACK;
	return *line == '\0' || g_ascii_strncasecmp(line, "y", 1) == 0 ? ASK_GOTO : ASK_NEXT;
}

/* A heading when the item changes; *shown (owned: the plan it came from
 * is rebuilt after each answer) is the item of the last heading. */
static void
show_section(const HmStep *st, char **shown)
{
	const char *what = NULL;

	if (strcmp(st->item, *shown) == 0)
		return;
	g_free(*shown);
	*shown = g_strdup(st->item);
	if (g_str_has_prefix(st->item, "user."))
		what = st->q->kind == HM_Q_PASSWORD ? "Local user" : "Sender of local user";
	else if (g_str_has_prefix(st->item, "account."))
		what = "Upstream mailbox";
	else if (strcmp(st->item, "smarthost") == 0)
		what = "Outgoing smart host";
	if (what != NULL)
		say("\n== %s %s ==\n", what,
		    strcmp(st->item, "smarthost") == 0 ? "" : item_name(st));
}

static AskResult
ask(HmSetup *s, const HmStep *st, GError **err)
{
	if (st->q->kind != HM_Q_CHECK)
		say("\n");
	switch (st->q->kind) {
	case HM_Q_PASSWORD:
		return ask_password(s, st, err);
	case HM_Q_SECRET:
		return ask_secret(s, st, err);
	case HM_Q_CHECK:
		return ask_check(s, st, err);
	default:
		return ask_text(s, st, err);
	}
}

/* The index of id in plan, or -1. */
static int
find_step(GPtrArray *plan, const char *id)
{
	for (guint i = 0; i < plan->len; i++)
		if (strcmp(((HmStep *)g_ptr_array_index(plan, i))->id, id) == 0)
			return (int)i;
	return -1;
}

/* After an account's address is answered: discovery, unless the address
 * is the one the config already has (its settings are the defaults). */
static void
after_answer(HmSetup *s, const HmStep *st)
{
	const char *now = g_hash_table_lookup(s->answers, st->id);
	const char *before = g_hash_table_lookup(s->current, st->id);

	if (g_str_has_suffix(st->id, ".address") && g_str_has_prefix(st->id, "account.") &&
	    (before == NULL || g_ascii_strcasecmp(before, now) != 0))
		hm_setup_discover(s, st->item);
}

/* Where the plan goes on after step i of old, in plan (made again after
 * its answer): at the step after it or, when the answer took the step
 * itself out (an emptied pin is not asked for), at the first of those
 * that followed it and are still there. */
static guint
after_step(GPtrArray *old, guint i, GPtrArray *plan)
{
	for (guint k = i; k < old->len; k++) {
		int j = find_step(plan, ((HmStep *)g_ptr_array_index(old, k))->id);

		if (j >= 0)
			return (guint)j + (k == i ? 1 : 0);
	}
	return plan->len;
}

/* Where the dialogue goes in plan after step i of old ended with r. */
static int
next_index(GPtrArray *old, guint i_old, GPtrArray *plan, AskResult r)
{
	const char *id = ((HmStep *)g_ptr_array_index(old, i_old))->id;
	int i = find_step(plan, id);

	if (r == ASK_NEXT)
		return (int)after_step(old, i_old, plan);
	if (r == ASK_GOTO) {
		/* A server's settings start at its host; dyndns's at the provider. */
		g_autofree char *group = check_group(id);
		g_autofree char *host = g_strconcat(group, ".host", NULL);
		g_autofree char *provider = g_strconcat(group, ".provider", NULL);

		return find_step(plan, host) >= 0 ? find_step(plan, host)
		                                  : MAX(find_step(plan, provider), 0);
	}
	do
		i--;
	while (i >= 0 && ((HmStep *)g_ptr_array_index(plan, i))->q->kind == HM_Q_CHECK);
	if (i < 0) {
		say("  This is the first question.\n");
		return 0;
	}
	return i;
}

int
hm_setup_dialogue(HmSetup *s, GError **err)
{
	g_autoptr(GPtrArray) plan = hm_setup_plan(s);
	g_autofree char *shown = g_strdup("");
	int i = 0;

	if (!isatty(STDIN_FILENO)) {
		g_set_error_literal(err, HM_ERROR, HM_ERROR_FAILED,
		                    "the dialogue needs a terminal (or use --answers FILE)");
		return -1;
	}
	say("homemail setup: Enter takes the answer in [brackets], \"" EMPTY_ANSWER
	    "\" empties an optional one, \"<\" goes back.\n");
	while ((guint)i < plan->len) {
		const HmStep *st = g_ptr_array_index(plan, i);
		g_autoptr(GPtrArray) old = NULL;
		AskResult r;

		show_section(st, &shown);
		r = ask(s, st, err);
		if (r == ASK_FAIL)
			return -1;
		if (r == ASK_NEXT)
			after_answer(s, st);
		old = g_steal_pointer(&plan);
		plan = hm_setup_plan(s);
		i = next_index(old, (guint)i, plan, r);
		if (r != ASK_NEXT) {
			g_free(shown);
			shown = g_strdup("");
		}
	}
	return 0;
}

/* --- unattended ---------------------------------------------------------- */

static int
missing(const HmStep *st, GError **err)
{
	const char *alias = st->q->kind == HM_Q_PASSWORD ? " (or its plain text as .password)"
	                    : st->q->kind == HM_Q_SECRET ? " (or the secret itself as .password)"
	                                                 : "";

	g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "missing answer: %s%s", st->id, alias);
	return -1;
}

/* A password or secret of the answers file: given in plain (hashed, or
 * kept for its file), as a hash or path, or kept from the config. */
static int
take_secret(HmSetup *s, const HmStep *st, GError **err)
{
	const char *plain = g_hash_table_lookup(s->secrets, st->id);
	GError *why = NULL;
	char *v;

	if (plain == NULL) {
		if ((v = kept_secret(s, st, &why)) == NULL && why == NULL)
			return missing(st, err);
		if (v == NULL) {
			g_propagate_error(err, why);
			return -1;
		}
	} else if (hm_tty_password_check(plain, strlen(plain), err) < 0) {
		g_prefix_error(err, "%s: ", st->id);
		return -1;
	} else if (st->q->kind == HM_Q_PASSWORD) {
		if ((v = hm_password_hash(plain, err)) == NULL)
			return -1;
	} else if ((v = secret_file(s, st, err)) == NULL) {
		return -1;
	}
	g_hash_table_replace(s->answers, g_strdup(st->id), v);
	return 0;
}

static int
take(HmSetup *s, const HmStep *st, GError **err)
{
	g_autofree char *def = NULL;
	char *v;

	if (st->q->kind == HM_Q_PASSWORD || st->q->kind == HM_Q_SECRET)
		return take_secret(s, st, err);
	if (st->q->kind == HM_Q_CHECK) {
		g_autoptr(GError) why = NULL;

		g_autofree char *group = check_group(st->id);

		if (hm_setup_run_check(s, group, &why) == HM_SETUP_CHECK_FAILED)
			fprintf(stderr, "homemail: setup: warning: %s: %s\n", group, why->message);
		return 0;
	}
	def = hm_setup_default(s, st);
	if (def == NULL && !st->q->optional)
		return missing(st, err);
	v = hm_setup_accept(s, st, def != NULL ? def : "", err);
	if (v == NULL) {
		g_prefix_error(err, "%s: ", st->id);
		return -1;
	}
	g_hash_table_replace(s->answers, g_strdup(st->id), v);
	return 0;
}

int
hm_setup_unattended(HmSetup *s, GError **err)
{
	g_autoptr(GPtrArray) plan = hm_setup_plan(s);
	GHashTableIter it;
	gpointer key, value;

	for (guint i = 0; i < plan->len;) {
		const HmStep *st = g_ptr_array_index(plan, i);
		g_autoptr(GPtrArray) old = NULL;

		if (take(s, st, err) < 0)
			return -1;
		if (st->q->kind != HM_Q_CHECK)
			after_answer(s, st);
		old = g_steal_pointer(&plan);
		plan = hm_setup_plan(s);
		i = after_step(old, i, plan);
	}
	g_hash_table_iter_init(&it, s->answers);
	/* An empty one may have taken its own question away (a pin). */
	while (g_hash_table_iter_next(&it, &key, &value))
		if (find_step(plan, key) < 0 && *(const char *)value != '\0')
			fprintf(stderr, "homemail: setup: warning: answer %s is not used\n",
			        (const char *)key);
	return 0;
}
