/* The trace fields a program adds in front of a message it passes on:
 * RFC 5322 dates and RFC 5321 section 4.4 Received: fields. */
#ifndef HM_RECEIVED_H
#define HM_RECEIVED_H

#include <time.h>

#include <glib.h>

/* Appends when as an RFC 5322 date-time in local time with its numeric
 * zone ("Fri, 4 Dec 2026 18:55:28 +0100"), in English whatever the
 * process locale says. */
void hm_rfc5322_date_append(GString *out, time_t when);

/* The parts of a Received: field; NULL parts are left out. */
typedef struct {
	const char *from;     /* who handed the message over: a host, or
	                       * "helo (name [addr])" */
	const char *by;       /* our host name */
	const char *comment;  /* after by, in parentheses: program and details */
	const char *with;     /* "ESMTPS", "POP3", "IMAPS", "LMTP"... */
	const char *id;       /* queue or message id */
	const char *for_addr; /* the one recipient, without <> */
} HmReceived;

/* Appends "Received: from F\r\n\tby B (C) with W id I\r\n\tfor <R>; DATE\r\n"
 * for r at when, folded as shown (each part only when set), so lines stay
 * short whatever the host names are. */
void hm_received_append(GString *out, const HmReceived *r, time_t when);

#endif
