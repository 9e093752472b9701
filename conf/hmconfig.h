/* The configuration loader: one libconfig file -> one typed, validated,
 * read-only struct shared by every program. Errors name file:line and the
 * key path ("homemail.conf:12: relay.smarthosts.[0].port: must be 1-65535");
 * unknown keys are warned about with their line. */
#ifndef HM_CONFIG_H
#define HM_CONFIG_H

#include <glib.h>

#include "lib/cidr.h"
#include "lib/endpoint.h"
#include "lib/fingerprint.h"
#include "lib/net.h"

typedef enum { HM_PROTO_POP3, HM_PROTO_IMAP } HmFetchProto;

typedef enum {
	HM_DELIVER_SMTP,   /* smtp:HOST:PORT */
	HM_DELIVER_LMTP,   /* lmtp:HOST:PORT or lmtp:/path/socket */
	HM_DELIVER_LOCAL,  /* in-process delivery */
} HmDeliverKind;

typedef enum { HM_MAIL_FORMAT_MAILDIR, HM_MAIL_FORMAT_MBOX } HmMailFormat;

typedef struct {
	char *name;
	char *password_hash;     /* crypt(3) hash ("$y$...", "$6$..."), or NULL */
	char **addresses;        /* NULL-terminated, lower-cased domains */
	char *send_as;           /* envelope sender on the internet, or NULL */
	HmMailFormat mail_format;
	int line;
	int password_line;       /* line of the password setting, 0 when none;
	                          * `homemail passwd` rewrites it in place */
} HmUserConf;

typedef struct {
	char *name;
	char *target;            /* user name or address */
	int line;
} HmAliasConf;

typedef struct {
	char *name;
	HmEndpoint ep;           /* host, port, TLS, user and password */
	char **senders;          /* NULL-terminated glob patterns ("*@isp.example") */
	int line;
} HmSmarthostConf;

typedef struct {
	guint first, max_interval, warn_after, give_up_after;  /* seconds */
} HmRetryConf;

typedef struct {
	gboolean present;        /* the file has a relay group (homemail up runs
	                          * the relay for it) */
	HmListenSpec *listen;    /* n_listen entries */
	gsize n_listen;
	HmCidr *trusted_networks;
	gsize n_trusted_networks;
	HmCidr *allow_plaintext_from;
	gsize n_allow_plaintext_from;
	guint64 max_message_size;
	gboolean rewrite_header_from;
	HmSmarthostConf *smarthosts;
	gsize n_smarthosts;
	HmRetryConf retry;
	guint max_recipients;    /* per message (RFC 5321 4.5.3.1.8: at least 100) */
	char **dnsbl;            /* NULL-terminated list zones ("zen.spamhaus.org"), or NULL */
	char *dns_resolver;      /* "HOST:PORT" asked for DNSBL queries; NULL: the
	                          * system's resolv.conf */
	gboolean full_trace;     /* keep the LAN client's name and address in the
	                          * Received: field of mail that leaves the box */
} HmRelayConf;

typedef struct {
	char *name;
	HmFetchProto protocol;
	HmEndpoint ep;           /* host, port, TLS, user and password */
	char **folders;          /* NULL-terminated; default { "INBOX" } */
	gboolean keep;
	gboolean idle;
	guint64 max_size;        /* 0: no limit */
	char *to;                /* local user or address receiving the mail */
	int line;
} HmAccountConf;

typedef struct {
	guint interval;
	HmDeliverKind deliver_kind;
	char *deliver_host;      /* SMTP/LMTP over TCP */
	guint16 deliver_port;
	char *deliver_socket;    /* LMTP over a UNIX socket */
	HmAccountConf *accounts;
	gsize n_accounts;
} HmFetcherConf;

typedef struct {
	gboolean present; /* the file has a popd group (homemail up runs popd) */
	HmListenSpec *listen;
	gsize n_listen;
	HmCidr *allow_plaintext_from;
	gsize n_allow_plaintext_from;
} HmPopdConf;

typedef struct {
	char *provider;          /* "dyndns2", "duckdns", "cloudflare", "rfc2136" */
	char *server;            /* URL (HTTP providers) or HOST[:PORT] (rfc2136);
	                          * NULL: the provider's public one */
	char *zone;
	char *hostname;
	char *user;
	HmSecret password;       /* dyndns2's password; the API token of duckdns
	                          * and cloudflare (token, token_file) */
	char *tsig_name;
	char *tsig_algorithm;
	HmSecret tsig_secret;
	guint ttl;
	gboolean ipv4, ipv6;
	char *ca_file;
	int line;
} HmDnsRecordConf;

typedef struct {
	guint interval;
	char **detect;           /* tried in order: "router", "web", "interface:NAME",
	                          * "static:ADDR"; NULL-terminated, never empty */
	char **detect_url4;      /* check-IP pages tried in turn; NULL: none */
	char **detect_url6;
	char *ca_file;           /* trust for the check-IP pages (NULL: system) */
	char *router_url;        /* UPnP IGD description URL or natpmp://GATEWAY;
	                          * NULL: discover */
	gboolean allow_private;  /* interface: accept private IPv4 addresses */
	guint refresh_days;      /* update an unchanged address after this long */
	HmDnsRecordConf *records;
	gsize n_records;
} HmDyndnsConf;

typedef struct {
	char *file;              /* the path it was loaded from */
	char *hostname;
	char *state_dir;         /* absolute; relative paths in the file are
	                          * taken relative to the file's directory */
	char *mail_dir;
	char **local_domains;    /* NULL-terminated, lower-cased */
	char *tls_cert, *tls_key;
	HmTlsProfile tls_profile; /* what the servers offer (tls.profile) */
	char *run_as;            /* NULL: stay as started */
	gboolean use_syslog;     /* log = "syslog" instead of "stderr" */
	HmUserConf *users;
	gsize n_users;
	HmAliasConf *aliases;
	gsize n_aliases;
	HmRelayConf relay;
	HmFetcherConf fetcher;
	HmPopdConf popd;
	HmDyndnsConf dyndns;
} HmConfig;

/* A config file (or @include) larger than this is refused: a config is a
 * few kilobytes, so this only bounds a mistake (an @include of a log). */
#define HM_CONFIG_FILE_MAX (16 * 1024 * 1024)

/* Receives each warning (unknown key, insecure secret file...) as one line
 * "FILE:LINE: key: message". */
typedef void (*HmConfigWarnFunc)(const char *line, gpointer data);

/* Loads, resolves and validates the file. Secrets are read from their
 * password_file/tsig_secret_file; a secret file that cannot be read is an
 * error. Returns the config, or NULL with *err holding exactly one line
 * "FILE:LINE: KEY: MESSAGE" (or "FILE: MESSAGE" when no line applies).
 * warn may be NULL (warnings then go to hm_warn). Same as
 * hm_config_load_flags(path, 0, ...). */
HmConfig *hm_config_load(const char *path, HmConfigWarnFunc warn, gpointer warn_data,
                         GError **err);

typedef enum {
	/* A secret file that is missing or unreadable is a warning, not an
	 * error, and leaves its HmSecret.value NULL (file still set): for
	 * `homemail check`, run by someone who may not read the daemons'
	 * secrets, and on a box whose secrets are not in place yet. A program
	 * loading with this flag must refuse to use an account whose secret
	 * value is NULL while its file is set. */
	HM_CONFIG_SECRETS_OPTIONAL = 1 << 0,
	/* Secret files are not opened: the HmSecret of each stays with its
	 * file set and value NULL (an inline password, part of the file just
	 * read, is kept). The settings are validated as always. For
	 * homemail-deliver, which uses no secret, is started once per
	 * message, and runs as whatever user the MTA delivers as, who may
	 * not read the daemons' secrets. */
	HM_CONFIG_NO_SECRETS = 1 << 1,
} HmConfigFlags;

/* As hm_config_load() with HmConfigFlags. */
HmConfig *hm_config_load_flags(const char *path, guint flags, HmConfigWarnFunc warn,
                               gpointer warn_data, GError **err);

/* Frees the config and wipes its secrets. */
void hm_config_free(HmConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HmConfig, hm_config_free)

/* The compiled-in default path ($sysconfdir/homemail/homemail.conf). */
const char *hm_config_default_path(void);

/* Looks up a user by name; NULL when absent. */
const HmUserConf *hm_config_find_user(const HmConfig *cfg, const char *name);

/* Looks up a user by a name as people write it, in mail addresses and
 * logins: its exact name, else the first whose name differs only in
 * case (Alice for alice). NULL when there is none. */
const HmUserConf *hm_config_match_user(const HmConfig *cfg, const char *name);

/* The relay's listener that local clients reach (the fetcher's default
 * deliver, homemail-sendmail -bs): the first one without implicit TLS.
 * *host receives its address, a wildcard one as the loopback address of
 * its family. NULL when every listener is implicit TLS. */
const HmListenSpec *hm_config_relay_local(const HmRelayConf *relay, const char **host);

/* Why tls = "none" may not be used to host: the password would cross the
 * network in clear. NULL when it may (a loopback host, or allow_plaintext
 * set on that account or smart host); else the reason in words, to show
 * as it is. The rule the loader applies; `homemail setup` asks it too.
 * g_free() it. */
char *hm_config_plaintext_refused(const char *host, gboolean allow_plaintext);

/* TRUE if domain (any case) is one of local_domains. */
gboolean hm_config_is_local_domain(const HmConfig *cfg, const char *domain);

#endif
