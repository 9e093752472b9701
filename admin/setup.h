/* `homemail setup`: the parts of the guided set-up, shared by its files
 * (admin/setup*.c) and used by nothing else.
 *
 * Every question has an id ("hostname", "user.alice.password_hash",
 * "account.isp.port"); the dialogue and the answers file use the same ids,
 * and the config is rendered from the answers alone, so an interactive run
 * and `--answers` of the file it saved give the same config byte for byte. */
#ifndef HM_SETUP_H
#define HM_SETUP_H

#include <glib.h>

#include "conf/hmconfig.h"

/* --- the seams other parts plug into (admin/setup-hooks.c) -------------- */

/* Server settings for one service, as discovery finds them. */
typedef struct {
	char *protocol; /* "imap", "pop3" (incoming), "smtp" (outgoing) */
	char *host;
	guint16 port;
	char *tls;  /* "tls", "starttls", "none" */
	char *user; /* NULL: the address */
} HmSetupServer;

/* What a live check tests: an upstream mailbox ("account.NAME"), the smart
 * host ("smarthost") or the dyndns record ("dyndns"), with the answers
 * given so far (look them up by prefix + ".host" etc.) and the secret
 * typed in this run, if any. */
typedef struct _HmSetup HmSetup;

typedef struct {
	const char *prefix;
	GHashTable *answers;   /* id -> value, read-only */
	const char *secret;    /* the password or token, or NULL */
	const HmSetup *setup;  /* the whole run, to render the config so far */
} HmSetupCheck;

typedef enum {
	HM_SETUP_CHECK_SKIPPED, /* nothing was tested */
	HM_SETUP_CHECK_OK,
	HM_SETUP_CHECK_FAILED, /* *err says what failed and how to fix it */
} HmSetupCheckResult;

typedef struct {
	/* Turns an e-mail address into incoming (IMAP or POP3) and outgoing
	 * (SMTP) server settings (provider presets, autoconfig, SRV).
	 * Returns TRUE and fills what it found (either may stay zeroed);
	 * FALSE when it knows nothing, and the questions are asked without
	 * a default. */
	gboolean (*discover)(const char *address, HmSetupServer *in, HmSetupServer *out);
	/* Tests an account, the smart host or the dyndns record live. */
	HmSetupCheckResult (*check)(const HmSetupCheck *what, GError **err);
} HmSetupHooks;

/* The hooks setup uses. */
extern const HmSetupHooks hm_setup_hooks;

/* The discover hook: presets, autoconfig, SRV (admin/discover.h), saying
 * where each value came from. */
gboolean hm_setup_discover_servers(const char *address, HmSetupServer *in, HmSetupServer *out);

/* The check hook: the live checks of admin/live.h on the config the
 * answers so far make, with the secret typed in this run. */
HmSetupCheckResult hm_setup_check_live(const HmSetupCheck *what, GError **err);

/* The pin ("sha256:...") of the certificate a failed check did not trust,
 * to offer the person; NULL when err is no certificate failure or names
 * no fingerprint. g_free() it. */
char *hm_setup_check_pin(const GError *err);

/* Prints the advice of hm_live_advise() (NAT, host name, blocklist, the
 * smart host's port) on the config s wrote: it explains, and never
 * changes the outcome of the run. */
void hm_setup_advise(const HmSetup *s);

void hm_setup_server_clear(HmSetupServer *s);

/* --- the run ------------------------------------------------------------- */

struct _HmSetup {
	GHashTable *answers; /* id -> value: what this run decided */
	GHashTable *current; /* id -> value: from the existing config */
	GHashTable *found;   /* id -> value: from discovery in this run */
	GHashTable *secrets; /* id -> secret typed or given in this run;
	                         * wiped when freed */
	char *config_path;   /* absolute; where a link to it points */
	char *load_path;     /* the config as its readers name it: config_path,
	                         * or the link; relative paths in it are from its
	                         * folder, config_dir */
	char *config_dir;
	char *old_text; /* the existing config, or NULL */
	gboolean interactive;
	gboolean no_check; /* --no-check: no live test of any server */
};

HmSetup *hm_setup_new(const char *config_path);
void hm_setup_free(HmSetup *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HmSetup, hm_setup_free)

/* The value of id for the questions that follow: this run's answer,
 * else the existing config's; NULL if neither has it. */
const char *hm_setup_value(const HmSetup *s, const char *id);

/* Splits a list answer at spaces and commas; g_strfreev() it. */
char **hm_setup_split(const char *value);

/* --- questions (admin/setup-questions.c) -------------------------------- */

typedef enum {
	HM_Q_TEXT,     /* one line */
	HM_Q_LIST,     /* words separated by spaces or commas */
	HM_Q_CHOICE,   /* one of choices[], by word or number */
	HM_Q_PASSWORD, /* a new local password, twice, stored hashed */
	HM_Q_SECRET,   /* a password or token, once, stored in a file;
	                     * the answer is the file's path */
	HM_Q_CHECK,    /* no question: the live check of the group */
} HmQuestionKind;

typedef struct {
	const char *word;
	const char *text;
} HmChoice;

typedef struct HmQuestion HmQuestion;

struct HmQuestion {
	const char *id; /* "%s" stands for the item */
	HmQuestionKind kind;
	const char *prompt;
	const char *help;        /* shown before the prompt, or NULL */
	const HmChoice *choices; /* HM_Q_CHOICE: ends with { NULL, NULL } */
	gboolean optional;       /* an empty answer is a valid one */
	/* NULL: always asked. */
	gboolean (*applies)(const HmSetup *s, const char *item);
	/* The default when neither this run nor the config has one; NULL. */
	char *(*fallback)(const HmSetup *s, const char *item);
	/* Explains a bad answer in *err (one sentence) and returns FALSE. */
	gboolean (*valid)(const HmSetup *s, const char *item, const char *value, GError **err);
};

/* One question of the plan: a question for one item (a user, an
 * account...). */
typedef struct {
	const HmQuestion *q;
	char *item; /* "" when the question has none */
	char *id;
} HmStep;

/* The questions to ask, in order, given the answers so far (which users
 * and accounts there are, which kind of set-up). Free with
 * g_ptr_array_unref(). */
GPtrArray *hm_setup_plan(const HmSetup *s);

/* The default shown for a step, or NULL when there is none. g_free() it. */
char *hm_setup_default(const HmSetup *s, const HmStep *step);

/* Checks value as the answer to step (an empty value was replaced by the
 * default already). Returns the value to store (a choice's number made its
 * word, a list normalised to single spaces) or NULL with *err set. */
char *hm_setup_accept(const HmSetup *s, const HmStep *step, const char *value, GError **err);

/* Whether step's answer goes into the answers file. */
gboolean hm_setup_step_saved(const HmStep *step);


/* Calls discovery for the account prefix ("account.isp") from its address
 * and records what it found as defaults. */
void hm_setup_discover(HmSetup *s, const char *prefix);

/* --- secret files (admin/setup-secrets.c) ------------------------------- */

/* The path of the file for a new secret of id ("account.isp.password_file"):
 * the one the config has for it, unless another secret has that file too
 * (an older setup named them alike); else <config dir>/secret/ and a name
 * of the kind and item that no other secret can have ("account-isp",
 * "smarthost", "dyndns", "oauth-account-work"), and that no other secret
 * of the config or this run uses. */
char *hm_setup_secret_path(const HmSetup *s, const char *id);

/* --- valid answers (admin/setup-valid.c) -------------------------------- */

/* The checks of HmQuestion.valid: host names, lists of them, IP
 * addresses, networks, listen addresses, ports, e-mail addresses, names of
 * users and accounts, where an account's mail goes, URLs (https only for
 * OAuth2), dyndns detection methods, the encryption of a server (the
 * loader's rule for "none"), certificate pins, the system user. */
gboolean hm_setup_valid_dns_name(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_domains(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_ip(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_cidr(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_listen(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_port(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_address(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_names(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_to(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_url(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_urls(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_https(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_detect(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_tls(const HmSetup *s, const char *item, const char *v, GError **err);
gboolean hm_setup_valid_fingerprint(const HmSetup *s, const char *item, const char *v,
                                    GError **err);
gboolean hm_setup_valid_system_user(const HmSetup *s, const char *item, const char *v,
                                    GError **err);

/* --- detection (admin/setup-detect.c) ----------------------------------- */

/* The host's name, made fully qualified through getaddrinfo()'s canonical
 * name where it resolves; g_free() it. */
char *hm_setup_detect_hostname(void);

/* The first IPv4 address on an interface that is up and not loopback,
 * and its network in CIDR form; FALSE when there is none. */
gboolean hm_setup_detect_lan(char **address, char **network);

/* The person running setup (SUDO_USER, else the login name unless root);
 * NULL when unknown. g_free() it. */
char *hm_setup_detect_user(void);

/* TRUE when the system user `homemail` exists. */
gboolean hm_setup_service_user_exists(void);

/* --- the existing config (admin/setup-current.c) ------------------------ */

/* Loads the existing config at s->config_path (if there is one) into
 * s->current, as the answers that would write it, over the answers the
 * last run saved, and its text into s->old_text. A config_path that is a
 * symbolic link becomes the file it points to (that file is edited).
 * Prints which smart hosts and dyndns records the dialogue leaves as they
 * are. Returns 0 (also when there is no file), or -1 with *err when there
 * is a file that does not load, or a link to nothing. */
int hm_setup_load_current(HmSetup *s, GError **err);

/* TRUE if the dialogue asks about dyndns records of this provider (the
 * first such record of the config is the one it edits). */
gboolean hm_setup_dyndns_provider_asked(const char *provider);

/* --- the answers file (admin/setup-answers.c) --------------------------- */

/* Reads an answers file into s->answers (`id = value` lines, # comments);
 * plain passwords ("user.X.password", "....password") go to s->secrets.
 * as_current: into s->current instead, plain passwords ignored (the file
 * the last run saved: what the config cannot show, such as the LAN
 * address, comes back from it). Returns 0, or -1 with *err naming the
 * file and line. */
int hm_setup_answers_read(HmSetup *s, const char *path, gboolean as_current, GError **err);

/* Where the answers of a run are saved: beside the config, FILE.answers;
 * g_free() it. */
char *hm_setup_answers_path(const HmSetup *s);

/* The answers file for the plan, every saved step in order. */
char *hm_setup_answers_render(const HmSetup *s, GPtrArray *plan);

/* --- the two ways to answer (admin/setup-dialogue.c) -------------------- */

/* Asks every question on the terminal (fd 0 in, stdout out). Returns 0,
 * or -1 with *err (the terminal closed, the person quit). */
int hm_setup_dialogue(HmSetup *s, GError **err);

/* Completes s->answers from defaults without asking; a required answer
 * that is missing is an error naming its id. Returns 0 or -1. */
int hm_setup_unattended(HmSetup *s, GError **err);

/* Runs the live check of a group; prints the outcome. */
HmSetupCheckResult hm_setup_run_check(HmSetup *s, const char *prefix, GError **err);

/* --- the config text (admin/setup-render.c, admin/setup-merge.c) -------- */

/* The config the answers describe. */
char *hm_setup_render(const HmSetup *s);

/* new_text with what the person added to old_text kept: comments, blank
 * lines and settings setup does not manage (see setup-merge.c). *dropped
 * counts the old lines that had nowhere to go. */
char *hm_setup_merge(const char *old_text, const char *new_text, guint *dropped);

/* text with each list element that opens where the one before it closes
 * ("}, {") moved to a line of its own (admin/setup-split.c). */
char *hm_setup_split_elements(const char *text);

/* The config text setup writes: hm_setup_render() merged with the old
 * config when there is one. */
char *hm_setup_text(const HmSetup *s, guint *dropped);

/* --- writing (admin/setup-files.c, admin/setup-cert.c) ------------------ */

/* text loaded as a config with HmConfigFlags flags, from a file beside
 * the config; NULL with *err when it does not load. */
HmConfig *hm_setup_load_text(const HmSetup *s, const char *text, guint flags, GError **err);

/* Writes secrets, the certificate and key when both are missing, the
 * config (merged with the old one), the answers file and the Maildirs.
 * Returns 0, or -1 with *err; when the config does not load, the files
 * written before it (secrets, certificate, the config itself) are put
 * back as they were. */
int hm_setup_write(HmSetup *s, GError **err);

/* A self-signed certificate for names (DNS names or IP addresses) and its
 * key, PEM. Returns 0 or -1 with *err. */
int hm_setup_make_cert(const char *const *names, char **cert_pem, char **key_pem, GError **err);

/* --- the end (admin/setup-finish.c) ------------------------------------- */

/* Enables and starts the units when systemd runs (unless no_start), else
 * says what to run; then what a mail client on the LAN needs. Returns 0,
 * or 1 when systemctl failed. */
int hm_setup_finish(const HmSetup *s, gboolean no_start);

#endif
