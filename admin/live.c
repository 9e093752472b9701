/* The live checks of one server each (live.h): the fetcher's own login,
 * the relay's own smart-host session, the dyndns updater's own detection
 * and dry run, with their failures put in words. */
#include <config.h>

#include <string.h>
#include <sys/socket.h>

#include "admin/live.h"
#include "dyndns/detect.h"
#include "dyndns/provider.h"
#include "fetcher/account.h"
#include "lib/error.h"
#include "lib/smtpc.h"
#include "lib/tls.h"
#include "relay/smarthost.h"

G_DEFINE_QUARK(hm - live - error - quark, hm_live_error)

static const char *
tls_name(HmTlsMode m)
{
	return m == HM_TLS_MODE_TLS ? "tls" : m == HM_TLS_MODE_STARTTLS ? "starttls" : "none";
}

/* What each kind of untrusted certificate means, keyed by lib/tls's words
 * (hm_tls_verify_peer()), and what the person can do about it. */
static const struct {
	const char *needle;
	const char *advice;
} tls_advice[] = {
	{ "self-signed",
	  "The server's certificate is self-signed: no certificate authority vouches for it. "
	  "Usual for a server run by a friend or an old NAS, never for a large provider." },
	{ "unknown certificate authority",
	  "The certificate was issued by a certificate authority this box does not know (a "
	  "private or company CA). Give that CA's certificate as ca_file, or pin the server's "
	  "certificate." },
	{ "expired on",
	  "The certificate has expired: the server's operator must renew it. Until then only "
	  "a pin gets through, and it must be replaced once the certificate is renewed." },
	{ "not valid before",
	  "The certificate is not valid yet: check this box's clock (date), or the server's." },
	{ "does not match host name",
	  "The certificate is made out to another name: the host name in the config may be "
	  "wrong (compare it with the provider's documentation), or the provider serves this "
	  "name with another's certificate." },
	{ "does not match the pinned one",
	  "The certificate is not the one pinned: the server renewed it, or something between "
	  "this box and the server is not what it claims. Pin the new one only once you know "
	  "which." },
	{ "does not offer STARTTLS",
	  "The server does not offer STARTTLS on this port: a wrong port (465 needs tls = "
	  "\"tls\"), or a firewall stripping it. Nothing was sent in clear text." },
};

/* Explains a TLS failure (err's text) under report, and the pin line to
 * paste into where ("fetcher.accounts [isp]") when err names one. */
static void
explain_tls(GString *report, const GError *err, const char *where)
{
	g_autofree char *pin = hm_tls_error_pin(err);

	for (gsize i = 0; i < G_N_ELEMENTS(tls_advice); i++)
		if (strstr(err->message, tls_advice[i].needle) != NULL) {
			g_string_append_printf(report, "  %s\n", tls_advice[i].advice);
			break;
		}
	if (pin == NULL)
		return;
	g_string_append_printf(report,
	                       "  If you trust this server anyway (ask its operator to confirm the "
	                       "fingerprint), add this line to %s:\n"
	                       "    fingerprint = \"%s\";\n",
	                       where, pin);
}

/* Sets *err to code and why, and appends the failure in words to report:
 * headline (what failed), then the detail as the program said it. -1. */
static int
fail(GString *report, GError **err, HmLiveError code, const char *headline, const char *why)
{
	g_string_append_printf(report, "FAILED\n  %s\n  (%s)\n", headline, why);
	g_set_error(err, HM_LIVE_ERROR, code, "%s: %s", headline, why);
	return -1;
}

/* Our words for a secret that cannot be read here, or NULL when ep has
 * what its login needs. */
static char *
missing_secret(const HmEndpoint *ep)
{
	if (ep->auth == HM_AUTH_OAUTH2 || ep->user == NULL || ep->password.value != NULL)
		return NULL;
	if (ep->password.file != NULL)
		return g_strdup_printf("cannot read password_file %s (run the check as a user who "
		                       "may, e.g. root)",
		                       ep->password.file);
	return g_strdup("no password configured");
}

static const char *
secret_kind(const HmEndpoint *ep)
{
	return ep->auth == HM_AUTH_OAUTH2 ? "OAuth2 token" : "password";
}

/* The fetcher's error in the live check's terms, with its headline. */
static HmLiveError
account_error(const HmAccountConf *acct, const GError *e, char **headline)
{
	const HmEndpoint *ep = &acct->ep;

	switch (e->domain == HM_FETCH_ERROR ? e->code : -1) {
	case HM_FETCH_ERROR_NETWORK:
		*headline = g_strdup_printf("cannot reach %s port %u", ep->host, ep->port);
		return HM_LIVE_ERROR_NETWORK;
	case HM_FETCH_ERROR_TLS:
		*headline = g_strdup_printf("no trusted TLS connection to %s", ep->host);
		return HM_LIVE_ERROR_TLS;
	case HM_FETCH_ERROR_AUTH:
	case HM_FETCH_ERROR_TOKEN:
		*headline = g_strdup_printf("the server refused user %s's %s", ep->user,
		                            secret_kind(ep));
		return HM_LIVE_ERROR_AUTH;
	case HM_FETCH_ERROR_SIGN_IN:
		*headline = g_strdup_printf("not signed in: run homemail oauth login %s",
		                            acct->name);
		return HM_LIVE_ERROR_SIGN_IN;
	case HM_FETCH_ERROR_LOCAL:
		*headline = g_strdup("cannot test from here");
		return HM_LIVE_ERROR_CONFIG;
	default:
		*headline = g_strdup_printf("%s refused or broke the session", ep->host);
		return HM_LIVE_ERROR_SERVER;
	}
}

/* Counts the messages of each folder into report (nothing is fetched).
 * 0 or -1 with *e. */
static int
count_folders(HmAccount *a, HmFetchSession *s, GString *found, GError **e)
{
	for (char **f = a->acct->folders; *f != NULL; f++) {
		g_autoptr(GPtrArray) items = NULL;
		guint32 uidvalidity;

		if (a->backend->select(s, *f, 0, &uidvalidity, &items, e) < 0) {
			g_prefix_error(e, "%s: ", *f);
			return -1;
		}
		g_string_append_printf(found, "%s%s holds %u message%s",
		                       f == a->acct->folders ? "" : ", ", *f, items->len,
		                       items->len == 1 ? "" : "s");
	}
	return 0;
}

int
hm_live_account(const HmConfig *cfg, const HmAccountConf *acct, GString *report, GError **err)
{
	const HmEndpoint *ep = &acct->ep;
	g_autofree char *where = g_strdup_printf("fetcher.accounts [%s]", acct->name);
	g_autofree char *missing = missing_secret(ep);
	g_autofree char *headline = NULL;
	g_autoptr(GString) found = g_string_new(NULL);
	g_autoptr(GError) e = NULL;
	HmFetchSession *s;
	HmAccount a;
	HmLiveError code;
	int rc;

	g_string_append_printf(report, "fetch account %s (%s, %s port %u, %s): ", acct->name,
	                       acct->protocol == HM_PROTO_IMAP ? "imap" : "pop3", ep->host,
	                       ep->port, tls_name(ep->tls));
	if (missing != NULL)
		return fail(report, err, HM_LIVE_ERROR_CONFIG, "nothing to log in with", missing);
	if (hm_account_init(&a, cfg, acct, &e) < 0) {
		hm_account_clear(&a);
		return fail(report, err, HM_LIVE_ERROR_CONFIG, "cannot test from here", e->message);
	}
	a.params.timeout_ms = HM_LIVE_TIMEOUT_MS;
	s = hm_account_open(&a, &e);
	rc = s != NULL ? count_folders(&a, s, found, &e) : -1;
	if (s != NULL && rc == 0)
		rc = a.backend->close(s, &e);
	else if (s != NULL)
		a.backend->abort(s);
	hm_account_clear(&a);
	if (rc == 0) {
		g_string_append_printf(report,
		                       "ok\n  logged in as %s; %s; nothing fetched or deleted\n",
		                       ep->user, found->str);
		return 0;
	}
	code = account_error(acct, e, &headline);
	fail(report, err, code, headline, e->message);
	if (code == HM_LIVE_ERROR_TLS)
		explain_tls(report, e, where);
	else if (code == HM_LIVE_ERROR_AUTH)
		g_string_append_printf(report, "  Check user and password%s of %s.\n",
		                       ep->password.file != NULL ? "_file" : "", where);
	return -1;
}

/* The smart-host client's error in the live check's terms. */
static HmLiveError
smarthost_error(const HmSmarthostConf *sh, const GError *e, const RelaySmarthostProbe *p,
                char **headline)
{
	const HmEndpoint *ep = &sh->ep;

	if (g_error_matches(e, HM_ERROR, HM_ERROR_AUTH) && p->refused) {
		*headline = g_strdup_printf("the server refused user %s's %s", ep->user,
		                            secret_kind(ep));
		return HM_LIVE_ERROR_AUTH;
	}
	if (g_error_matches(e, HM_ERROR, HM_ERROR_AUTH) && p->needs_login) {
		*headline = g_strdup_printf("not signed in: run homemail oauth login %s", sh->name);
		return HM_LIVE_ERROR_SIGN_IN;
	}
	if (g_error_matches(e, HM_ERROR, HM_ERROR_TLS)) {
		*headline = g_strdup_printf("no trusted TLS connection to %s", ep->host);
		return HM_LIVE_ERROR_TLS;
	}
	if (g_error_matches(e, HM_ERROR, HM_ERROR_IO) ||
	    g_error_matches(e, HM_ERROR, HM_ERROR_TIMEOUT)) {
		*headline = g_strdup_printf("cannot reach %s port %u", ep->host, ep->port);
		return HM_LIVE_ERROR_NETWORK;
	}
	*headline = g_strdup_printf("%s refused or broke the session", ep->host);
	return HM_LIVE_ERROR_SERVER;
}

int
hm_live_smarthost(const HmConfig *cfg, const HmSmarthostConf *sh, GString *report, GError **err)
{
	const HmEndpoint *ep = &sh->ep;
	g_autofree char *where = g_strdup_printf("relay.smarthosts [%s]", sh->name);
	g_autofree char *missing = missing_secret(ep);
	g_autofree char *headline = NULL;
	g_autoptr(GError) e = NULL;
	RelaySmarthostProbe probe;
	HmLiveError code;

	g_string_append_printf(report, "smart host %s (%s port %u, %s): ", sh->name, ep->host,
	                       ep->port, tls_name(ep->tls));
	if (missing != NULL)
		return fail(report, err, HM_LIVE_ERROR_CONFIG, "nothing to log in with", missing);
	if (relay_smarthost_probe(cfg, sh, &probe, &e) == 0) {
		g_string_append_printf(report, "ok\n  EHLO as %s, %s%s%s; QUIT without sending\n",
		                       cfg->hostname, probe.tls != NULL ? probe.tls : "no TLS",
		                       probe.logged_in ? ", logged in as "
		                                       : ", no login configured",
		                       probe.logged_in ? ep->user : "");
		relay_smarthost_probe_clear(&probe);
		return 0;
	}
	code = smarthost_error(sh, e, &probe, &headline);
	relay_smarthost_probe_clear(&probe);
	/* The relay's words for a refused login already say what to check. */
	fail(report, err, code, headline, e->message);
	if (code == HM_LIVE_ERROR_TLS)
		explain_tls(report, e, where);
	return -1;
}

/* One family of rec: detection, then what an update would send. 0 or -1
 * with *err; the lines go to report. */
static int
dyndns_family(const HmConfig *cfg, const HmDnsRecordConf *rec, int family, GString *report,
              GError **err)
{
	HmDynUpdate u = { .rec = rec, .secret = hm_dyn_record_secret(rec) };
	const HmDynProvider *prov = hm_dyn_provider(rec->provider);
	const char *fam = family == AF_INET ? "IPv4" : "IPv6";
	g_autofree char *source = NULL;
	g_autofree char *addr = NULL;
	g_autofree char *what = NULL;

	if (!hm_dyn_detect(&cfg->dyndns, family, &u.addr, &source)) {
		g_string_append_printf(report,
		                       "  no %s address detected (dyndns.detect; the reasons "
		                       "are above)\n",
		                       fam);
		g_set_error(err, HM_LIVE_ERROR, HM_LIVE_ERROR_DETECT,
		            "%s: no publishable %s address detected", rec->hostname, fam);
		return -1;
	}
	addr = hm_ip_to_string(&u.addr);
	g_string_append_printf(report, "  %s address %s (%s)\n", fam, addr, source);
	if (u.secret == NULL) {
		g_string_append_printf(report, "  the secret of this record cannot be read here\n");
		g_set_error(err, HM_LIVE_ERROR, HM_LIVE_ERROR_CONFIG,
		            "%s: the secret cannot be read", rec->hostname);
		return -1;
	}
	what = prov->describe(&u);
	g_string_append_printf(report, "  an update would send: %s\n", what);
	return 0;
}

int
hm_live_dyndns(const HmConfig *cfg, const HmDnsRecordConf *rec, GString *report, GError **err)
{
	g_autoptr(GString) lines = g_string_new(NULL);
	g_autoptr(GError) e = NULL;
	int rc = 0;

	g_string_append_printf(report, "dyndns record %s (%s): ", rec->hostname, rec->provider);
	if (rec->ipv4 && dyndns_family(cfg, rec, AF_INET, lines, &e) < 0)
		rc = -1;
	if (rec->ipv6 && dyndns_family(cfg, rec, AF_INET6, lines, e == NULL ? &e : NULL) < 0)
		rc = -1;
	g_string_append_printf(report,
	                       "%s\n%s  nothing sent (homemail-dyndns sends an update "
	                       "only when the address changed)\n",
	                       rc == 0 ? "ok" : "FAILED", lines->str);
	if (rc < 0)
		g_propagate_error(err, g_steal_pointer(&e));
	return rc;
}
