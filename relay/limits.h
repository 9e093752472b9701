/* Abuse limits and timeouts of homemail-relay, each with its reason. */
#ifndef RELAY_LIMITS_H
#define RELAY_LIMITS_H

/* RFC 5321 4.5.3.1.4: 512 octets per command line, CRLF included; AUTH
 * initial responses run longer (RFC 4954 4: 12288 allowed), so command
 * lines may reach this, SASL continuation lines too. */
#define RELAY_LINE_MAX 12288
/* A text line of message content is read in segments of this many octets
 * (RFC 5321 4.5.3.1.6 says 1000; longer lines are passed on as they are,
 * as Postfix does up to its line_length_limit). */
#define RELAY_DATA_SEGMENT 8192
/* A message that may be delivered at once (relay/inline.h) is held in the
 * session's memory up to this size, and written to no queue file; a
 * larger one goes through the queue. Most mail is far smaller, and a
 * session process holds one message at a time. */
#define RELAY_INLINE_MAX (1024 * 1024)
/* RFC 5321 4.5.3.2: initial 220 wait 5 min, MAIL/RCPT 5 min, DATA
 * initiation 2 min, data block 3 min, "." termination 10 min; a server
 * should wait at least 5 minutes for the next command. One idle timeout
 * for commands and one for each read of message data cover them. */
#define RELAY_COMMAND_TIMEOUT_MS (5 * 60 * 1000)
#define RELAY_DATA_TIMEOUT_MS (3 * 60 * 1000)
#define RELAY_HANDSHAKE_TIMEOUT_MS (60 * 1000)
/* Unknown or malformed commands before we hang up (Dovecot uses 20,
 * Postfix's smtpd_hard_error_limit 20). */
#define RELAY_MAX_BAD_COMMANDS 20
/* Refused recipients in one session before we hang up: a dictionary
 * attack on local names is noisy, a real client rarely errs this much. */
#define RELAY_MAX_REFUSED_RCPTS 50
/* Failed AUTH in one session, delay after each, and the per-address bar
 * shared by all sessions: as popd (popd/limits.h explains the numbers). */
#define RELAY_MAX_AUTH_FAILS 3
#define RELAY_AUTH_FAIL_DELAY_MS 2000
#define RELAY_MAX_AUTH_FAILS_PER_IP 10
#define RELAY_AUTH_FAIL_WINDOW_S 300
#define RELAY_AUTH_BAR_WAIT_MS (30 * 1000)
/* Concurrent sessions in total and per address (Postfix's default
 * process limit is 100, its per-client connection limit 50). */
#define RELAY_MAX_SESSIONS 100
#define RELAY_MAX_SESSIONS_PER_IP 50
/* A session process serves up to this many clients, one after the other,
 * and waits this long for the next before it exits (Postfix's max_use 100
 * and max_idle 100 s): a fork per connection cost more than the session. */
#define RELAY_SESSION_MAX_USE 100
#define RELAY_SESSION_MAX_IDLE_S 60
/* Header section scanned for Message-ID:/Date: before they would be
 * added: past it, nothing is added (a header that large is no plain
 * submission from a mail client). */
#define RELAY_HEADER_SCAN_MAX (256 * 1024)
/* A temporary file in the queue unchanged for this long has no writer
 * left (relay_spool_clear_stale()): a session writes its message as the
 * data comes, each read waiting at most RELAY_DATA_TIMEOUT_MS, and
 * commits it at once after the last; the runner writes its files in one
 * go. The margin is for clock steps, as on a box without a battery-backed
 * clock that sets its time from the network after it booted. */
#define RELAY_STALE_TEMP_S 3600
/* Time allowed for a DNSBL answer before the client is accepted anyway. */
#define RELAY_DNSBL_TIMEOUT_MS 5000
/* The smart-host client (RFC 5321 4.5.3.2 for the client side): the TCP
 * connect and an implicit TLS handshake as Postfix's smtp_connect_timeout;
 * the greeting and every command 5 minutes; the reply to the final "."
 * 10 minutes, since the server may deliver or fsync first. */
#define RELAY_SMARTHOST_CONNECT_TIMEOUT_MS (30 * 1000)
#define RELAY_SMARTHOST_COMMAND_TIMEOUT_MS (5 * 60 * 1000)
#define RELAY_SMARTHOST_FINAL_TIMEOUT_MS (10 * 60 * 1000)
/* After a smart host could not be reached (connect, TLS, AUTH), the
 * messages that follow in the same queue run fail with the same reason
 * for this long instead of trying again each: a queue of 100 messages
 * must not wait 100 connect timeouts, nor offer a wrong password 100
 * times (the ISP may lock the account). */
#define RELAY_SMARTHOST_DOWN_MS (60 * 1000)
/* A smart-host session outlives the queue pass that opened it: each
 * message homemail-sendmail or a client hands in wakes a pass of its
 * own, and a TLS handshake with AUTH per message costs both ends far
 * more than the message. It is kept while idle for this long, then
 * closed with QUIT, as Postfix's smtp_connection_cache_time_limit (2 s):
 * long enough for a burst, short enough not to sit logged in at the ISP
 * and hold one of its connection slots. */
#define RELAY_SMARTHOST_IDLE_S 2
/* Nor is one session reused for ever: past this age (Postfix's
 * smtp_connection_reuse_time_limit, 300 s) or this many transactions it
 * is closed and a new one opened, so whatever the server tied to the
 * session (limits per connection, a changed password) gets a fresh start. */
#define RELAY_SMARTHOST_REUSE_S 300
#define RELAY_SMARTHOST_REUSE_MAX 100
/* A stopping relay (SIGTERM) waits this long for its queue runner, which
 * finishes the message it is sending and records it, then kills it: under
 * the unit's TimeoutStopSec (60 s, systemd/homemail-relay.service.in),
 * after which systemd kills what is left anyway. A smart host slow to
 * answer the final "." (RELAY_SMARTHOST_FINAL_TIMEOUT_MS allows 10
 * minutes) may thus have that one message again after the restart. */
#define RELAY_RUNNER_STOP_WAIT_MS (45 * 1000)
/* A runner that finds the queue held by another (relay_spool_lock())
 * tries again this often: the other ends within its message. */
#define RELAY_RUNNER_LOCK_POLL_MS 250
/* Sessions one smart host may have open at once. A message at a time
 * goes over one; a queue pass with more due uses a second, so that the
 * smart host's own work per message (its queue file's fsync, its
 * delivery) runs beside the next one's instead of after it: a burst of
 * 5,000 reached a Postfix smart host on the same two cores in 7.7-7.9 s
 * instead of 11.0 s (bench/relay). Postfix opens up to 20 per destination
 * (default_destination_concurrency_limit), but submission servers count
 * an account's sessions: Microsoft 365 takes three per mailbox and answers
 * the fourth with 432 4.3.2, and the person's own mail client may hold
 * one of those. Each session logs in once and is then reused. */
#define RELAY_SMARTHOST_SESSIONS 2

#endif
