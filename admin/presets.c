/* Provider presets (see presets.h): data only. Each value is the
 * provider's documented one, as the comment above each entry says where
 * from; implicit TLS (RFC 8314) is chosen for submission where the
 * provider documents port 465, STARTTLS on 587 where that is all it
 * documents. Login is the whole address unless the comment says
 * otherwise. */
#include <config.h>

#include "admin/presets.h"

#define TLS HM_TLS_MODE_TLS
#define STARTTLS HM_TLS_MODE_STARTTLS
#define ADDR HM_DISC_LOGIN_ADDRESS
#define LOCAL HM_DISC_LOGIN_LOCALPART

static const char *const gmail_domains[] = { "gmail.com", "googlemail.com", NULL };
static const char *const outlook_domains[] = {
	"outlook.com", "hotmail.com", "live.com",   "msn.com",    "outlook.de",    "outlook.fr",
	"hotmail.de",  "hotmail.fr",  "hotmail.it", "hotmail.es", "hotmail.co.uk", "live.de",
	"live.fr",     "live.co.uk",  "live.nl",    NULL
};
static const char *const yahoo_domains[] = { "yahoo.com", "yahoo.de",       "yahoo.fr",
	                                     "yahoo.it",  "yahoo.es",       "yahoo.co.uk",
	                                     "ymail.com", "rocketmail.com", NULL };
static const char *const icloud_domains[] = { "icloud.com", "me.com", "mac.com", NULL };
static const char *const fastmail_domains[] = { "fastmail.com", "fastmail.fm", "fastmail.net",
	                                        "fastmail.org", "fastmail.de", "fastmail.co.uk",
	                                        "fastmail.us",  "fastmail.to", NULL };
static const char *const gmx_domains[] = { "gmx.de", "gmx.net", "gmx.at", "gmx.ch", NULL };
static const char *const gmx_com_domains[] = { "gmx.com", "gmx.us", "gmx.co.uk",
	                                       "gmx.fr",  "gmx.es", NULL };
static const char *const webde_domains[] = { "web.de", NULL };
static const char *const tonline_domains[] = { "t-online.de", "magenta.de", NULL };
static const char *const mailboxorg_domains[] = { "mailbox.org", NULL };
static const char *const no_domains[] = { NULL };

const HmPreset hm_presets[] = {
	/* Google, "Read Gmail messages on other email clients using POP" and
	 * "Add Gmail to another email client" (support.google.com/mail):
	 * imap.gmail.com 993, pop.gmail.com 995, smtp.gmail.com 465 SSL or
	 * 587 STARTTLS; XOAUTH2 or an app password (with 2-step
	 * verification). */
	{ "gmail",
	  "Gmail",
	  gmail_domains,
	  { { "imap.gmail.com", 993, TLS, ADDR },
	    { "pop.gmail.com", 995, TLS, ADDR },
	    { "smtp.gmail.com", 465, TLS, ADDR } },
	  HM_DISC_AUTH_OAUTH2,
	  "google",
	  "Gmail: needs an OAuth2 sign-in (or an app password); turn IMAP or POP on in Gmail's "
	  "settings" },
	/* Microsoft, "POP, IMAP, and SMTP settings for Outlook.com":
	 * outlook.office365.com 993 and 995 SSL, smtp-mail.outlook.com 587
	 * STARTTLS; basic authentication is gone, OAuth2 only. */
	{ "outlook",
	  "Outlook.com",
	  outlook_domains,
	  { { "outlook.office365.com", 993, TLS, ADDR },
	    { "outlook.office365.com", 995, TLS, ADDR },
	    { "smtp-mail.outlook.com", 587, STARTTLS, ADDR } },
	  HM_DISC_AUTH_OAUTH2,
	  "microsoft",
	  "Outlook.com: Microsoft takes only an OAuth2 sign-in; turn POP on in Outlook's "
	  "settings to use POP" },
	/* Microsoft 365 (work or school, the organisation's own domain),
	 * "POP, IMAP and SMTP settings" (learn.microsoft.com, Exchange
	 * Online): outlook.office365.com 993/995, smtp.office365.com 587
	 * STARTTLS; OAuth2. Chosen by name: the domains are the customers'. */
	{ "microsoft365",
	  "Microsoft 365",
	  no_domains,
	  { { "outlook.office365.com", 993, TLS, ADDR },
	    { "outlook.office365.com", 995, TLS, ADDR },
	    { "smtp.office365.com", 587, STARTTLS, ADDR } },
	  HM_DISC_AUTH_OAUTH2,
	  "microsoft",
	  "Microsoft 365: OAuth2 sign-in; the organisation's admin may have to allow IMAP, POP "
	  "and SMTP AUTH" },
	/* Yahoo help, "IMAP server settings for Yahoo Mail":
	 * imap.mail.yahoo.com 993, pop.mail.yahoo.com 995,
	 * smtp.mail.yahoo.com 465 SSL (or 587); third-party programs need an
	 * app password. */
	{ "yahoo",
	  "Yahoo Mail",
	  yahoo_domains,
	  { { "imap.mail.yahoo.com", 993, TLS, ADDR },
	    { "pop.mail.yahoo.com", 995, TLS, ADDR },
	    { "smtp.mail.yahoo.com", 465, TLS, ADDR } },
	  HM_DISC_AUTH_APP_PASSWORD,
	  NULL,
	  "Yahoo: needs an app password (Account security > Generate app password)" },
	/* Apple, "iCloud Mail server settings for other email client apps"
	 * (support.apple.com/102525): imap.mail.me.com 993 SSL, login the
	 * name part of the address only; smtp.mail.me.com 587 STARTTLS,
	 * login the whole address; no POP; app-specific password. */
	{ "icloud",
	  "iCloud Mail",
	  icloud_domains,
	  { { "imap.mail.me.com", 993, TLS, LOCAL },
	    { NULL, 0, TLS, ADDR },
	    { "smtp.mail.me.com", 587, STARTTLS, ADDR } },
	  HM_DISC_AUTH_APP_PASSWORD,
	  NULL,
	  "iCloud: needs an app-specific password (account.apple.com); IMAP only, no POP" },
	/* Fastmail help, "Server names and ports": imap.fastmail.com 993,
	 * pop.fastmail.com 995, smtp.fastmail.com 465 SSL (587 STARTTLS);
	 * third-party programs need an app password. */
	{ "fastmail",
	  "Fastmail",
	  fastmail_domains,
	  { { "imap.fastmail.com", 993, TLS, ADDR },
	    { "pop.fastmail.com", 995, TLS, ADDR },
	    { "smtp.fastmail.com", 465, TLS, ADDR } },
	  HM_DISC_AUTH_APP_PASSWORD,
	  NULL,
	  "Fastmail: needs an app password (Settings > Privacy & Security)" },
	/* GMX Hilfe, "IMAP/POP3/SMTP: Servereinstellungen" (hilfe.gmx.net):
	 * imap.gmx.net 993, pop.gmx.net 995, mail.gmx.net 587 STARTTLS;
	 * access by mail programs must be switched on first. */
	{ "gmx",
	  "GMX",
	  gmx_domains,
	  { { "imap.gmx.net", 993, TLS, ADDR },
	    { "pop.gmx.net", 995, TLS, ADDR },
	    { "mail.gmx.net", 587, STARTTLS, ADDR } },
	  HM_DISC_AUTH_PASSWORD,
	  NULL,
	  "GMX: switch on POP3/IMAP access in the web mailer's settings first" },
	/* GMX international (support.gmx.com, "POP3 and IMAP settings"):
	 * imap.gmx.com 993, pop.gmx.com 995, mail.gmx.com 587 STARTTLS. */
	{ "gmx-com",
	  "GMX (international)",
	  gmx_com_domains,
	  { { "imap.gmx.com", 993, TLS, ADDR },
	    { "pop.gmx.com", 995, TLS, ADDR },
	    { "mail.gmx.com", 587, STARTTLS, ADDR } },
	  HM_DISC_AUTH_PASSWORD,
	  NULL,
	  "GMX: switch on POP3/IMAP access in the web mailer's settings first" },
	/* WEB.DE Hilfe, "IMAP/POP3/SMTP: Servereinstellungen": imap.web.de
	 * 993, pop3.web.de 995, smtp.web.de 587 STARTTLS; access by mail
	 * programs must be switched on first. */
	{ "webde",
	  "WEB.DE",
	  webde_domains,
	  { { "imap.web.de", 993, TLS, ADDR },
	    { "pop3.web.de", 995, TLS, ADDR },
	    { "smtp.web.de", 587, STARTTLS, ADDR } },
	  HM_DISC_AUTH_PASSWORD,
	  NULL,
	  "WEB.DE: switch on POP3/IMAP access in the web mailer's settings first" },
	/* Telekom Hilfe, "E-Mail-Programm einrichten: Servereinstellungen":
	 * secureimap.t-online.de 993, securepop.t-online.de 995,
	 * securesmtp.t-online.de 465 SSL (or 587); the password is the
	 * separate e-mail password, not the Telekom login's. */
	{ "t-online",
	  "T-Online",
	  tonline_domains,
	  { { "secureimap.t-online.de", 993, TLS, ADDR },
	    { "securepop.t-online.de", 995, TLS, ADDR },
	    { "securesmtp.t-online.de", 465, TLS, ADDR } },
	  HM_DISC_AUTH_APP_PASSWORD,
	  NULL,
	  "T-Online: use the e-mail password set in the E-Mail Center, not the Telekom login's" },
	/* mailbox.org knowledge base, "E-mail configuration": imap.mailbox.org
	 * 993, pop3.mailbox.org 995, smtp.mailbox.org 465 SSL (587
	 * STARTTLS); an application password when 2FA is on. */
	{ "mailbox.org",
	  "mailbox.org",
	  mailboxorg_domains,
	  { { "imap.mailbox.org", 993, TLS, ADDR },
	    { "pop3.mailbox.org", 995, TLS, ADDR },
	    { "smtp.mailbox.org", 465, TLS, ADDR } },
	  HM_DISC_AUTH_PASSWORD,
	  NULL,
	  "mailbox.org: with two-factor authentication on, use an application password" },
	{ "other",
	  "Other provider",
	  no_domains,
	  { { NULL, 0, TLS, ADDR }, { NULL, 0, TLS, ADDR }, { NULL, 0, TLS, ADDR } },
	  HM_DISC_AUTH_PASSWORD,
	  NULL,
	  "other provider: its published settings are looked up, or asked" },
};

const gsize hm_n_presets = G_N_ELEMENTS(hm_presets);
