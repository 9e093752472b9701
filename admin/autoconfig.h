/* Thunderbird-style autoconfig ("clientConfig" version 1.1, as served at
 * autoconfig.DOMAIN and DOMAIN/.well-known/autoconfig): fetched over
 * verified HTTPS and read with GLib's GMarkup for hm_discover(). */
#ifndef ADMIN_AUTOCONFIG_H
#define ADMIN_AUTOCONFIG_H

#include <glib.h>

#include "admin/discover.h"

/* A file larger than this is refused: real ones are a few kilobytes. */
#define HM_AUTOCONFIG_MAX (64 * 1024)
/* Deeper nesting is refused: the format needs 4 levels. */
#define HM_AUTOCONFIG_DEPTH_MAX 16
/* Longest text of one element (a host name, a user name, ...). */
#define HM_AUTOCONFIG_TEXT_MAX 1024

/* Reads the clientConfig document xml[0..len) for address: per protocol
 * (incomingServer type="imap" / "pop3", outgoingServer type="smtp") the
 * first server homemail can use (socketType SSL, STARTTLS or plain, a
 * port, a valid host name after placeholder expansion, authentication
 * password-cleartext or OAuth2), a TLS one before a plain one. User names
 * are expanded (hm_discover_expand()). Fills only the servers of out that
 * are still empty (host NULL), each with source "autoconfig from
 * SOURCE_URL", and out->provider from displayName when it is NULL.
 * Returns the number of servers filled (0 or more), or -1 with *err
 * (HM_ERROR_PARSE) in words, out unchanged: larger than
 * HM_AUTOCONFIG_MAX, not XML, a DTD (no entity is ever expanded), nested
 * deeper than HM_AUTOCONFIG_DEPTH_MAX, an element's text over
 * HM_AUTOCONFIG_TEXT_MAX, a root other than clientConfig, no
 * emailProvider, or no usable server at all. */
int hm_autoconfig_parse(const char *xml, gsize len, const char *address, const char *source_url,
                        HmDiscovery *out, GError **err);

/* Fetches the autoconfig file for address (whose domain is domain) from
 * the two URLs in turn (up to 3 redirects, to https only) and reads the
 * first one that answers 200 with a usable file, as hm_autoconfig_parse().
 * Each URL that fails (connection, TLS, timeout, HTTP status, bad file)
 * adds one line to out->tried. Returns the number of servers filled, 0
 * when neither URL gave any. */
int hm_autoconfig_lookup(const char *address, const char *domain, const HmDiscoverOptions *opt,
                         HmDiscovery *out);

#endif
