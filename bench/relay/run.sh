#!/bin/bash
# bench/relay/run.sh — homemail-relay against Postfix as the box's relay,
# homemail-sendmail against Postfix's sendmail and msmtp, and the receive
# path (homemail-fetcher -> homemail-relay -> Maildir) against fetchmail ->
# Postfix and against the fetcher's own direct delivery (issue 10,
# "Benchmark (bench/relay)").
#
# Usage (as root):  bench/relay/run.sh [--quick] [options]
#
# Parts (--parts relay,sendmail,receive; all by default):
#  relay     smtp-source (10 sessions, 5,000 messages of 5,000 bytes) into a
#            freshly started relay: ours, Postfix, and Postfix with
#            smtp_tls_connection_reuse; each relays through the same smart
#            host, a private Postfix with STARTTLS + SASL AUTH (Dovecot)
#            delivering into one Maildir. Runs alternate, order rotating per
#            rep. Measured: accept rate, time until the last message is in the
#            smart host's Maildir, CPU (process tree, reaped children
#            included), peak RSS-sum and PSS of the relay's tree, idle RSS/PSS.
#            Verified: every message once, envelope sender and From:
#            rewritten to user@isp.example, bodies byte-identical.
#  sendmail  500 sequential submissions each with homemail-sendmail,
#            Postfix's sendmail and msmtp (direct to the smart host), round by
#            round, order rotating; per-invocation wall and CPU; all verified
#            at the smart host.
#  receive   2,000 messages (bench/fetch's corpus) from a private Dovecot
#            over POP3: homemail-fetcher -> homemail-relay -> Maildir,
#            homemail-fetcher direct (deliver = "local"), fetchmail -> Postfix
#            -> Maildir; time until all are in the Maildir, verified.
# Prints medians, ratios against the issue's targets and per-run detail, and
# appends a dated section to bench/RESULTS.md.
#
# Options:
#   --quick              500 relay msgs, 50 submissions, 200 fetched, 1 rep (~2 min)
#   --builddir DIR       where the programs are (default $HM_BUILDDIR or /work/main/build)
#   --workdir DIR        scratch space, wiped (default /tmp/hm-bench-relay)
#   --parts LIST         relay,sendmail,receive
#   --reps N             reps per system in the relay and receive parts (3)
#   --messages N --sessions N --length N    smtp-source's -m, -s, -l (5000, 10, 5000)
#   --relays LIST        ours,postfix,postfix-reuse (ours-bindnow: ours with LD_BIND_NOW=1, a diagnostic)
#   --receivers LIST     ours-relay,ours-direct,fetchmail-postfix (receive part paths)
#   --submissions N      sendmail part (500)
#   --fetch-count N      receive part corpus (2000)     --proto pop3|imap (pop3)
#   --perf               one more relay run of ours under perf record; top entries in the report
#   --note TEXT          a line for the results ("machine shared with builds")
#   --results FILE | --no-results     --keep (keep the work directory)
# Needs: root, postfix (smtp-source, smtp-sink), msmtp, fetchmail, dovecot
# (imapd, pop3d), python3-trustme, /usr/bin/python3. Loopback ports only,
# picked free at start; every process started is stopped by PID.
set -e
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
