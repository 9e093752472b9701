/* Setup's discovery seam filled by admin/discover.c: the presets, the
 * provider's autoconfig file and its SRV records turn the address the
 * person typed into the defaults of the server questions, and the person
 * is told where each came from. */
#include <config.h>

#include <stdio.h>

#include "admin/discover.h"
#include "admin/setup.h"

static const char *
tls_name(HmTlsMode m)
{
	return m == HM_TLS_MODE_TLS ? "tls" : m == HM_TLS_MODE_STARTTLS ? "starttls" : "none";
}

static void
take(const HmDiscovery *d, HmDiscProto p, HmSetupServer *to)
{
	const HmDiscServer *s = &d->server[p];

	to->protocol = g_strdup(hm_disc_proto_name(p));
	to->host = g_strdup(s->host);
	to->port = s->port;
	to->tls = g_strdup(tls_name(s->tls));
	to->user = g_strdup(s->user);
	printf("  %s: %s port %u (%s), from %s\n", to->protocol, s->host, s->port, to->tls,
	       s->source);
	if (s->auth == HM_DISC_AUTH_OAUTH2)
		printf("  %s signs in with OAuth2%s%s: setup signs you in after its questions.\n",
		       to->protocol, s->oauth2_provider != NULL ? " at " : "",
		       s->oauth2_provider != NULL ? s->oauth2_provider : "");
	else if (s->auth == HM_DISC_AUTH_APP_PASSWORD)
		printf("  %s wants an app password made in the provider's web settings.\n",
		       to->protocol);
}

gboolean
hm_setup_discover_servers(const char *address, HmSetupServer *in, HmSetupServer *out)
{
	HmDiscovery d = { 0 };
	g_autoptr(GError) err = NULL;
	gboolean found;

	printf("Looking up the settings for %s ...\n", address);
	fflush(stdout);
	if (hm_discover(address, NULL, &d, &err) < 0) {
		printf("  %s; please enter them.\n", err->message);
		hm_discovery_clear(&d);
		return FALSE;
	}
	if (d.provider != NULL)
		printf("  provider: %s\n", d.provider);
	if (d.note != NULL)
		printf("  note: %s\n", d.note);
	if (d.server[HM_DISC_IMAP].host != NULL)
		take(&d, HM_DISC_IMAP, in);
	else if (d.server[HM_DISC_POP3].host != NULL)
		take(&d, HM_DISC_POP3, in);
	if (d.server[HM_DISC_SMTP].host != NULL)
		take(&d, HM_DISC_SMTP, out);
	found = in->host != NULL || out->host != NULL;
	fflush(stdout);
	hm_discovery_clear(&d);
	return found;
}
