/* Internals shared by the loader (config.c: load, typed getters, messages,
 * secrets, free) and the schema (config-schema.c: one reader per section).
 * Nothing outside conf/config*.c includes this. */
#ifndef HM_CONFIG_PRIVATE_H
#define HM_CONFIG_PRIVATE_H

#include <libconfig.h>
#include <sys/stat.h>

#include "conf/hmconfig.h"

/* A secret file larger than this is not a password: refuse it rather than
 * hold an arbitrary file in memory. */
#define HM_SECRET_MAX 4096

/* Times are seconds; a value past this is a typo, not a policy. */
#define HM_CFG_TIME_MAX (90u * 86400u)
/* Polling more often than this hammers the ISP; less often than daily is
 * no longer a poller. */
#define HM_CFG_INTERVAL_MIN 10
#define HM_CFG_INTERVAL_MAX 86400

/* One file libconfig reads: the main file or an @include. */
typedef struct {
	/* As libconfig names it: the main file's path as given, an
	 * @include's string as written. */
	char *name;
	char *path; /* where it was read */
	GBytes *text;
	/* Its mode and group, for the warnings about secrets written in it. */
	struct stat st;
} HmCfgFile;

/* The state of one load; passed to every reader (no globals). */
typedef struct {
	const char *file;          /* the main file, as given (for messages) */
	char *dir;                 /* its absolute directory: base of relative paths */
	guint flags;               /* HmConfigFlags */
	HmConfigWarnFunc warn;
	gpointer warn_data;
	/* "file\nline\nname" of integer literals libconfig 1.5 silently
	 * wrapped to 32 bits (see hm_cfg_scan_wrapped() in config-intwrap.c). */
	GHashTable *wrapped;
	GPtrArray *files; /* HmCfgFile: the main file, then its @includes */
	/* The user the daemons run as: run_as, or NULL for whoever runs this.
	 * Set as soon as run_as is read, before any secret. */
	const char *run_as;
} HmCfgCtx;

/* The dotted key path of a setting: "relay.smarthosts.[0].port". */
char *hm_cfg_key(const config_setting_t *s);

/* Sends "FILE:LINE: KEY: MESSAGE" for setting s to the warning callback. */
void hm_cfg_warn(HmCfgCtx *ctx, const config_setting_t *s, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Sets *err to "FILE:LINE: KEY: MESSAGE" for setting s. Returns -1. */
int hm_cfg_fail(HmCfgCtx *ctx, const config_setting_t *s, GError **err, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* As hm_cfg_fail() for the absent member name of group (the group's line;
 * "FILE: KEY: MESSAGE" at the top level). Returns -1. */
int hm_cfg_fail_at(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                   GError **err, const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* Warns about every member of group not in the NULL-terminated known. */
void hm_cfg_check_keys(HmCfgCtx *ctx, const config_setting_t *group,
                       const char *const *known);

/* Typed getters for member name of group. Each returns 0 and leaves *out
 * untouched when the member is absent (so callers preset defaults), fills
 * *out when present and valid, or returns -1 with *err set ("must be a
 * string", "must be 1-65535"...). */
int hm_cfg_string(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                  char **out, GError **err);
int hm_cfg_bool(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                gboolean *out, GError **err);
int hm_cfg_uint(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                guint64 min, guint64 max, guint64 *out, GError **err);
/* As hm_cfg_string(), then a relative path is made absolute against the
 * config file's directory; "" leaves *out untouched. */
int hm_cfg_path(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                char **out, GError **err);
/* A list or array: *out is the setting (NULL when absent). */
int hm_cfg_list(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                const config_setting_t **out, GError **err);
/* A list of groups (users, smarthosts...): *out NULL when absent. */
int hm_cfg_group_list(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                      const config_setting_t **out, GError **err);
/* A group: *out NULL when absent. */
int hm_cfg_group(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                 const config_setting_t **out, GError **err);
/* The string value of a list element, or -1 "must be a string". */
int hm_cfg_elem_string(HmCfgCtx *ctx, const config_setting_t *elem, const char **out,
                       GError **err);
/* A list of strings as a NULL-terminated vector (*out untouched when
 * absent). */
int hm_cfg_strv(HmCfgCtx *ctx, const config_setting_t *group, const char *name,
                char ***out, GError **err);

/* The member name of group, or NULL (also when group is NULL: an absent
 * section reads as an empty one). */
const config_setting_t *hm_cfg_member(const config_setting_t *group, const char *name);

/* Reads path, the main file, into ctx->files, then every file it @includes
 * (at any depth), each once and before libconfig opens it: a file that is
 * there but is not a regular file (a FIFO would block libconfig's fopen()
 * for ever), is too large or cannot be read is an error, one line naming
 * the @include ("FILE:LINE: @include \"NAME\": PATH is not a regular file
 * (a FIFO)"). An @include that cannot be opened at all is left to
 * libconfig's own message. Returns 0 or -1 (config-files.c). */
int hm_cfg_read_files(HmCfgCtx *ctx, const char *path, GError **err);

/* The file libconfig calls name (config_setting_source_file(), NULL for
 * the main file), or NULL. */
const HmCfgFile *hm_cfg_find_file(const HmCfgCtx *ctx, const char *name);

/* Frees a file of ctx->files. */
void hm_cfg_file_free(gpointer f);

/* Skips the comment or string literal that starts at p (libconfig's
 * lexer), counting newlines into *line; returns the position after it
 * (config-intwrap.c). */
const char *hm_cfg_skip_comment_or_string(const char *p, const char *end, guint *line);

/* Key under which hm_cfg_scan_wrapped() records a wrapped literal. */
char *hm_cfg_wrapped_key(const char *file, guint line, const char *name);

/* Records in ctx->wrapped every integer literal, in the files of
 * ctx->files, that libconfig 1.5 silently wrapped to 32 bits
 * (config-intwrap.c). */
void hm_cfg_scan_wrapped(HmCfgCtx *ctx);

/* Reads the secret given inline as inline_key or in the file file_key
 * (both at once is an error). The file must be a regular file holding one
 * line (a trailing newline is dropped), at most HM_SECRET_MAX bytes. A
 * secret file, or the config file holding a secret inline, that others can
 * read, or a group the daemons' user is not in, is warned about. With
 * HM_CONFIG_SECRETS_OPTIONAL a file that cannot be opened is a warning and
 * leaves value NULL; with HM_CONFIG_NO_SECRETS no file is opened and its
 * value stays NULL (config-secret.c). */
int hm_cfg_secret(HmCfgCtx *ctx, const config_setting_t *group, const char *inline_key,
                  const char *file_key, HmSecret *out, GError **err);

/* Warns at setting s, as hm_cfg_secret() does for a secret file, about
 * path, a file holding a secret that the loader does not read itself (the
 * TLS key). One that cannot be looked at is left to the program that loads
 * it (config-secret.c). */
void hm_cfg_check_secret_path(HmCfgCtx *ctx, const config_setting_t *s, const char *path);

/* DNS names compare without case; they are stored lower-cased. */
void hm_cfg_lower_in_place(char *s);

/* Reads how to log in to the server described by group g into ep: `auth`
 * ("password", the default, or "oauth2"), `user`, and either `password` /
 * `password_file` or the `oauth2` group, completed by its provider's
 * presets. A user is required with user_required, and always with
 * "oauth2"; a password needs a user and a user needs a password. Every
 * mistake fails at its FILE:LINE (config-auth.c). */
int hm_cfg_read_auth(HmCfgCtx *ctx, const config_setting_t *g, gboolean user_required,
                     HmEndpoint *ep, GError **err);

/* Reads the dyndns section (config-dyndns.c). */
int hm_cfg_read_dyndns(HmCfgCtx *ctx, const config_setting_t *root, HmDyndnsConf *d,
                       GError **err);

/* Reads every section of root into cfg (config-schema.c). */
int hm_cfg_read_root(HmCfgCtx *ctx, const config_setting_t *root, HmConfig *cfg,
                     GError **err);

/* TRUE for a syntactically valid domain name (LDH labels, 1-63 each, at
 * most 253 in all). */
gboolean hm_cfg_valid_domain(const char *s);

/* TRUE for a numeric IPv4 or IPv6 address (no brackets). */
gboolean hm_cfg_is_ip_literal(const char *s);
/* TRUE for a valid domain name or IP address. */
gboolean hm_cfg_valid_host(const char *s);
/* TRUE for a user or alias name: 1-64 of [A-Za-z0-9._-], not starting with
 * '.' or '-' (it names a directory under mail_dir). */
gboolean hm_cfg_valid_name(const char *s);

/* Member name must be one of the NULL-terminated choices; *out receives
 * its index (untouched when absent). */
int hm_cfg_pick(HmCfgCtx *ctx, const config_setting_t *g, const char *name,
                const char *const *choices, int *out, GError **err);
/* A string that must be present and non-empty. */
int hm_cfg_required_string(HmCfgCtx *ctx, const config_setting_t *g, const char *name,
                           char **out, GError **err);
/* text (the value of setting s) as an address, canonical form in *out. */
int hm_cfg_address_value(HmCfgCtx *ctx, const config_setting_t *s, const char *text,
                         char **out, GError **err);
/* Member name, when present, as an address (canonical form in *out). */
int hm_cfg_address_member(HmCfgCtx *ctx, const config_setting_t *g, const char *name,
                          char **out, GError **err);
/* Member name, required, a host name or IP address. */
int hm_cfg_host_member(HmCfgCtx *ctx, const config_setting_t *g, const char *name,
                       char **out, GError **err);

#endif
