/* Abuse limits of homemail-popd, each with its reason. */
#ifndef POPD_LIMITS_H
#define POPD_LIMITS_H

/* RFC 2449 allows 255 octets per command; clients with long AUTH initial
 * responses exceed that a little, so 512 (CRLF included), then an error. */
#define POPD_LINE_MAX 512
/* A SASL continuation line: base64 of three 255-octet PLAIN fields. */
#define POPD_SASL_LINE_MAX 2048
/* RFC 1939 section 3: an inactivity timer of at least 10 minutes. */
#define POPD_IDLE_TIMEOUT_MS (10 * 60 * 1000)
/* Time allowed to finish a TLS handshake on an implicit-TLS port. */
#define POPD_HANDSHAKE_TIMEOUT_MS (60 * 1000)
/* Unknown or malformed commands before we hang up (Dovecot uses 20). */
#define POPD_MAX_BAD_COMMANDS 20
/* Wrong passwords in one session before we hang up. */
#define POPD_MAX_AUTH_FAILS 3
/* Delay before answering a failed login: slows guessing to a crawl while a
 * real user barely notices. Each session is its own process, so the
 * sleep holds up no one else. */
#define POPD_AUTH_FAIL_DELAY_MS 2000
/* Failed logins from one address within the window (counted over all its
 * sessions) before that address may not try again, and is refused new
 * connections, for the rest of the window. */
#define POPD_MAX_AUTH_FAILS_PER_IP 10
#define POPD_AUTH_FAIL_WINDOW_S 300
/* Longest a login waits for the password checks of the same address's
 * other sessions to end (see hm_login_bar_begin()). */
#define POPD_AUTH_BAR_WAIT_MS (30 * 1000)
/* Concurrent sessions: in total, and from one address (a LAN host runs
 * a few clients; 64 still lets a busy office NAT through). */
#define POPD_MAX_SESSIONS 256
#define POPD_MAX_SESSIONS_PER_IP 64
/* Longest argument of a POP3 command (RFC 1939: 40 octets); so also the
 * longest USER name. Passwords: HM_PASSWORD_MAX (lib/passwd.h). */
#define POPD_ARG_MAX 40

#endif
