/* Delivery status notifications (RFC 3464, RFC 3461, RFC 6522, RFC 6533):
 * bounces, delay notices and success notices, built as complete messages.
 * A pure formatter: no I/O and no clock (the times are parameters), so
 * the same input always gives the same octets. */
#ifndef RELAY_DSN_H
#define RELAY_DSN_H

#include <time.h>

#include <glib.h>

#include "relay/envelope.h"

/* What happened to one recipient (RFC 3464 2.3.3). FAILED makes a bounce,
 * DELAYED a delay notice, the other three a success notice. */
typedef enum {
	RELAY_DSN_FAILED,
	RELAY_DSN_DELAYED,
	RELAY_DSN_DELIVERED,
	RELAY_DSN_RELAYED,  /* passed to a next hop that does not do DSN */
	RELAY_DSN_EXPANDED, /* delivered to an alias or list that fanned out */
} RelayDsnAction;

typedef struct {
	const char *address; /* final recipient as queued (UTF-8 allowed) */
	const char *orcpt;   /* ORCPT value "rfc822;x@y", xtext-decoded, or NULL */
	RelayDsnAction action;
	const char *status;      /* "5.1.1", "4.4.1"...; an invalid one is
	                          * replaced by X.0.0 of the action's class */
	const char *remote_mta;  /* the smart host's name, or NULL (local) */
	const char *diagnostic;  /* "smtp; 550 5.1.1 <x@y>: no such user": the
	                          * remote's own words, or ours ("no such user",
	                          * which gets the type "X-homemail; ") for local
	                          * and expired failures; NULL when none */
	time_t last_attempt;     /* 0: none */
	time_t will_retry_until; /* DELAYED only; 0: none */
} RelayDsnRcpt;

typedef struct {
	const char *reporting_mta;     /* our host name */
	const char *envid;             /* ENVID, xtext-decoded, or NULL */
	const char *sender;            /* the original envelope sender: the DSN's To: */
	const char *postmaster;        /* "postmaster@<hostname>", the contact the
	                                * text names; NULL: none named */
	time_t arrival;                /* when we queued the original; 0: unknown */
	time_t now;                    /* the DSN's Date: */
	const char *message_id_domain; /* right side of our Message-ID; NULL: reporting_mta */
	const char *boundary_seed;     /* something unique (the queue id): the
	                                * boundary and Message-ID derive from it */
	RelayRet ret;                  /* bounces only: FULL returns the whole
	                                * original, HDRS and DEFAULT its header
	                                * section; delay and success notices always
	                                * return the header section (RFC 3461 4.3) */
	const char *original;          /* the original message (CRLF or LF lines) */
	gsize original_len;
	/* Bounces with RET=FULL: the most octets the whole DSN may have
	 * (what the way to the sender takes: the smart host's SIZE, our own
	 * relay.max_message_size); an original that would make it larger
	 * goes back as its header section, as RFC 3461 4.3 allows, and the
	 * text says why. 0: no limit. */
	guint64 max_size;
	/* The original came with SMTPUTF8: the report uses the RFC 6533 types
	 * (message/global-delivery-status, message/global...). */
	gboolean smtputf8;
} RelayDsnParams;

/* Builds one DSN as a complete RFC 5322 message with CRLF line ends,
 * appended to out: From: Mail Delivery System <MAILER-DAEMON@reporting_mta>,
 * To: the sender, a Subject by kind ("Undelivered Mail Returned to
 * Sender", "Delayed Mail (still being retried)", "Successful Mail Delivery
 * Report"), Date, Message-ID, Auto-Submitted: auto-replied (RFC 3834),
 * MIME-Version and a multipart/report with three parts: a plain-English
 * explanation naming each recipient and quoting the remote's words, the
 * message/delivery-status fields, and the original (message/rfc822 for a
 * bounce with RET=FULL, else text/rfc822-headers).
 *
 * rcpts[i] is included only if relay_dsn_wanted(notify[i], its action);
 * notify may be NULL (every recipient without NOTIFY). All recipients
 * passed must be of one kind (failed; delayed; delivered, relayed or
 * expanded): a queue entry with some failed and some delayed recipients
 * makes one call per kind — the caller's job.
 *
 * Every line is at most 998 octets: long fields are folded, and a run
 * longer than a line gets a fold inserted. Text from outside (addresses,
 * ENVID, diagnostics) has control characters replaced by spaces and, in
 * the ASCII-only parts, non-ASCII by "?" (addresses by RFC 6533 "utf-8"
 * encoding). An original that cannot travel intact (a NUL, a lone CR, a
 * line over 998 octets), or that would make the DSN larger than
 * p->max_size, is returned as its header section only.
 *
 * The DSN must be sent with an empty envelope sender (MAIL FROM:<>), with
 * BODY=8BITMIME if it holds 8-bit octets, and with SMTPUTF8 if
 * p->smtputf8. Returns the number of recipients included; 0 (nothing
 * wanted, or an empty sender: no DSN to a null reverse path) appends
 * nothing. */
int relay_dsn_build(const RelayDsnParams *p, const RelayDsnRcpt *rcpts, gsize n_rcpts,
                    const guint *notify, GString *out);

/* TRUE if a recipient with this NOTIFY set (0: none given) wants a DSN for
 * this action: FAILURE for FAILED, DELAY for DELAYED, SUCCESS for the
 * others. */
gboolean relay_dsn_wanted(guint notify, RelayDsnAction action);

#endif
