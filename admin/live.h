/* Live checks: `homemail check --live` runs them all, `homemail setup`
 * one at a time as soon as a person has entered a server. Each logs in
 * the way the program that uses the server does (the fetcher's login,
 * the relay's smart-host session, the dyndns updater's detection) and
 * stops short of any change: nothing is fetched, deleted, sent or
 * updated.
 *
 * Each appends to report a headline ("fetch account isp (imap,
 * imap.isp.example port 993, tls): ok" or ": FAILED") and lines indented
 * by two spaces saying what it found, or what went wrong in words and
 * what to do: for a certificate, why it is not trusted and the
 * `fingerprint = "sha256:..."` line to paste if the person chooses to
 * trust it anyway. No secret ever reaches report. */
#ifndef HM_ADMIN_LIVE_H
#define HM_ADMIN_LIVE_H

#include <glib.h>

#include "conf/hmconfig.h"

#define HM_LIVE_ERROR hm_live_error_quark()
GQuark hm_live_error_quark(void);

/* What failed, for a caller to branch on (setup asks again for a refused
 * password, offers the pin for TLS, ...). */
typedef enum {
	HM_LIVE_ERROR_CONFIG,  /* nothing to test with: the password or secret
	                         * file cannot be read here, or a ca_file */
	HM_LIVE_ERROR_NETWORK, /* no connection: name unknown, refused, timeout, cut */
	HM_LIVE_ERROR_TLS,     /* TLS not offered, or the certificate not trusted */
	HM_LIVE_ERROR_AUTH,    /* the server refused the user's password (or
	                         * OAuth2 token, even once refreshed) */
	HM_LIVE_ERROR_SIGN_IN, /* OAuth2: not signed in, or the provider ended the
	                         * sign-in: `homemail oauth login NAME` */
	HM_LIVE_ERROR_SERVER,  /* the server refused something else (a folder,
	                         * EHLO) or broke the protocol */
	HM_LIVE_ERROR_DETECT,  /* dyndns: no method found a publishable address */
} HmLiveError;

/* Per-connection deadline of the live checks (connect, each read and
 * write): long enough for a slow server, short enough for a person
 * waiting at a prompt. */
#define HM_LIVE_TIMEOUT_MS (20 * 1000)

/* Fetch account: connect, TLS, log in (password, or the stored OAuth2
 * token, refreshed once if refused), count the messages of each folder,
 * log out. Returns 0, or -1 with *err (HM_LIVE_ERROR, one line). */
int hm_live_account(const HmConfig *cfg, const HmAccountConf *acct, GString *report, GError **err);

/* Smart host: connect, EHLO, STARTTLS, AUTH, then QUIT without MAIL.
 * Returns 0, or -1 with *err (HM_LIVE_ERROR, one line). */
int hm_live_smarthost(const HmConfig *cfg, const HmSmarthostConf *sh, GString *report,
                      GError **err);

/* Dyndns record: detects the address of each family the record wants
 * (dyndns.detect) and reports what an update would send, secrets
 * masked, as homemail-dyndns --dry-run does; nothing is sent. Returns 0,
 * or -1 with *err (HM_LIVE_ERROR_DETECT, HM_LIVE_ERROR_CONFIG). */
int hm_live_dyndns(const HmConfig *cfg, const HmDnsRecordConf *rec, GString *report, GError **err);

/* The advisory checks, which explain and never block: behind NAT or
 * carrier-grade NAT (the public IPv4 address from dyndns detection, when
 * records are configured, against the interfaces' addresses and the
 * router's WAN address); the host name resolving to a loopback address;
 * the public address on a DNS blocklist (relay.dnsbl, else
 * zen.spamhaus.org, through relay.dns_resolver); each smart host's port
 * reachable. Appends a headline and one paragraph per check. */
void hm_live_advise(const HmConfig *cfg, GString *report);

#endif
