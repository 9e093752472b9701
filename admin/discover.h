/* What `homemail setup` can learn about an e-mail address's mailbox and
 * smart host before asking the person: the presets of admin/presets.c for
 * the big providers, else the provider's own published settings, tried in
 * this order:
 *   1. Thunderbird-style autoconfig over HTTPS (admin/autoconfig.c):
 *      https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=ADDR,
 *      then https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml;
 *   2. SRV records (RFC 6186, RFC 8314; admin/srv.c), for what the
 *      autoconfig file did not give (all of it when there is none).
 * Every server found says where it came from; nothing is guessed: what no
 * source published stays empty (host NULL) or UNKNOWN, for setup to ask.
 *
 * Test hooks, read only here and only when the options leave them unset
 * (for the integration tests; a person has no reason to set them):
 *   HM_DISCOVER_RESOLVER=HOST:PORT    the DNS server asked for SRV records
 *                                     (and, by live-advise.c, for the
 *                                     blocklist, without relay.dns_resolver)
 *   HM_DISCOVER_CONNECT_TO=HOST:PORT  where every autoconfig request
 *                                     connects (TLS still checks the
 *                                     URL's name)
 *   HM_DISCOVER_CA_FILE=FILE          the only CAs trusted for autoconfig */
#ifndef ADMIN_DISCOVER_H
#define ADMIN_DISCOVER_H

#include <glib.h>

#include "lib/endpoint.h"

typedef enum { HM_DISC_IMAP, HM_DISC_POP3, HM_DISC_SMTP, HM_DISC_N } HmDiscProto;

/* The login name a server wants, relative to the address. */
typedef enum {
	HM_DISC_LOGIN_ADDRESS,   /* the whole address */
	HM_DISC_LOGIN_LOCALPART, /* the part before the '@' */
	HM_DISC_LOGIN_GIVEN,     /* another name the provider's file gives */
	HM_DISC_LOGIN_UNKNOWN,   /* not published (SRV records): ask */
} HmDiscLogin;

typedef enum {
	HM_DISC_AUTH_PASSWORD,     /* the account's password */
	HM_DISC_AUTH_APP_PASSWORD, /* a password made for this program in the
	                            * provider's web settings */
	HM_DISC_AUTH_OAUTH2,       /* sign-in at the provider (oauth2_provider) */
	HM_DISC_AUTH_UNKNOWN,      /* not published (SRV records) */
} HmDiscAuth;

typedef struct {
	/* NULL: no source offered this protocol */
	char *host;
	guint16 port;
	HmTlsMode tls;
	HmDiscLogin login;
	/* the login name for the address; NULL when login is UNKNOWN */
	char *user;
	HmDiscAuth auth;
	/* lib/oauth2.h's "google" or "microsoft" when auth is OAUTH2 and it
	 * is known; else NULL */
	char *oauth2_provider;
	/* "preset Gmail", "autoconfig from https://...", "SRV record
	 * _imaps._tcp.example.org" */
	char *source;
} HmDiscServer;

typedef struct {
	/* as asked, the domain lower-cased */
	char *address;
	/* a name for the person (the preset's, or the autoconfig file's
	 * displayName), or NULL */
	char *provider;
	/* one line for the person, or NULL */
	char *note;
	HmDiscServer server[HM_DISC_N];
	/* what did not work on the way, one line each ("https://...: HTTP
	 * 404", "SRV ...: no reply ..."), in order; never NULL after
	 * hm_discover() */
	GPtrArray *tried;
} HmDiscovery;

typedef struct {
	/* "HOST:PORT" for SRV lookups; NULL: the HM_DISCOVER_RESOLVER hook,
	 * else resolv.conf */
	const char *resolver;
	/* NULL: the HM_DISCOVER_CONNECT_TO hook */
	const char *connect_to;
	/* NULL: the HM_DISCOVER_CA_FILE hook, else the system CAs */
	const char *ca_file;
	/* per HTTP request and DNS query; 0: HM_DISCOVER_TIMEOUT_S */
	guint timeout_s;
	/* no network: the preset or nothing */
	gboolean presets_only;
} HmDiscoverOptions;

/* Default wait for one autoconfig request or SRV query: setup waits for
 * it with the person watching. */
#define HM_DISCOVER_TIMEOUT_S 10

/* Fills out (cleared first; hm_discovery_clear() it) for address: from
 * its domain's preset, else from autoconfig and SRV records as above.
 * Blocks for the network. Returns 0 when at least one server was found;
 * -1 with *err when the address is not one (HM_ERROR_PARSE, no network
 * asked) or nothing was found (HM_ERROR_FAILED "no settings published
 * for DOMAIN"; out->tried says what was tried). */
int hm_discover(const char *address, const HmDiscoverOptions *opt, HmDiscovery *out, GError **err);

/* Frees what out holds and zeroes it. */
void hm_discovery_clear(HmDiscovery *d);

/* "imap", "pop3", "smtp". */
const char *hm_disc_proto_name(HmDiscProto p);

/* Splits address into its local part and its domain (lower-cased), both
 * non-empty, the domain a host name (letters, digits, '-', '.'). Returns
 * 0 with the new strings, or -1 with *err (HM_ERROR_PARSE) in words. */
int hm_discover_split(const char *address, char **local, char **domain, GError **err);

/* tmpl with Thunderbird's placeholders %EMAILADDRESS%, %EMAILLOCALPART%
 * and %EMAILDOMAIN% replaced from address. Another %WORD% is left as it
 * is. Returns a new string, or NULL when address cannot be split. */
char *hm_discover_expand(const char *tmpl, const char *address);

/* TRUE if s is a usable host name for a server: 1-253 bytes of letters,
 * digits, '-' and '.', not starting with '.' or '-', no empty label. */
gboolean hm_discover_host_ok(const char *s);

/* Fills ep (zeroed, or an endpoint whose old content is freed) from s: host, port, tls, user (NULL when not
 * known), auth, and oauth2.provider for a known OAuth2 provider. Nothing
 * secret: setup asks for that. */
void hm_discover_endpoint(const HmDiscServer *s, HmEndpoint *ep);

/* Clears s and sets it from the arguments (strings copied; user may be
 * NULL). */
void hm_disc_server_set(HmDiscServer *s, const char *host, guint16 port, HmTlsMode tls,
                        HmDiscLogin login, const char *user, HmDiscAuth auth, const char *source);

/* Frees s's strings and zeroes it. */
void hm_disc_server_clear(HmDiscServer *s);

#endif
