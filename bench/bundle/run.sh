#!/bin/bash
# bench/bundle/run.sh — idle memory of the whole bundle against the peers
# doing the same job (issue 13, "Measure and record in bench/RESULTS.md").
#
# Usage (as root):  bench/bundle/run.sh [options]
#
# In one run, on loopback only, round by round (the order alternating):
#  ours   homemail-relay, homemail-popd, homemail-fetcher (daemon) and
#         homemail-dyndns (daemon) from one homemail.conf: relay with a smart
#         host (STARTTLS, AUTH, sender rewritten), TLS certificate, two users,
#         POP3 + POP3S for the LAN, alice's upstream mailbox over IMAPS with
#         idle = true, bob's over POP3S every 300 s (through the relay), one
#         dyndns2 record over HTTPS every 300 s;
#  peers  Postfix (the relay with the smart host, virtual(8) into the
#         Maildirs), Dovecot (POP3 + POP3S for the same two users), fetchmail
#         (two daemons, -d 300: IMAP IDLE for alice, POP3 for bob; one
#         fetchmail polls nothing else while it IDLEs) delivering into Postfix,
#         ddclient (-daemon=300, the same record).
# Each bundle is started afresh, waited for until every daemon is up and
# has done its first work (both upstream messages in the local Maildirs, the
# record updated), left idle 10 s, and sampled: RSS-sum and PSS of every
# process of its trees (/proc/PID/smaps_rollup). The upstream Dovecots, the
# dyndns2 fixture and the smart host (a private Postfix) are not counted.
# Prints per-program and total RSS-sum and PSS (medians over the rounds),
# ours/peers, the largest mappings, every process of the last round, checks
# the target (our RSS-sum <= 15 MB: PASS/MISS) and appends a dated section to
# bench/RESULTS.md. ~2 minutes for 3 rounds.
#
# Options:
#   --rounds N           rounds of ours + peers (3)
#   --idle S             seconds idle before sampling (10)
#   --builddir DIR       where the programs are (default $HM_BUILDDIR or build/)
#   --workdir DIR        scratch space, wiped (default /tmp/hm-bench-bundle)
#   --timeout S          for a bundle's first work (60)
#   --note TEXT          a line for the results
#   --results FILE | --no-results     --keep (keep the work directory)
#   --ours-only          only our bundle, its samples printed (no results): a
#                        quick look while changing code, ~10 s a round
# Needs: root, postfix, dovecot-imapd, dovecot-pop3d, fetchmail, ddclient,
# openssl, /usr/bin/python3. Loopback ports only, picked free at start;
# every process started is stopped by PID, also on Ctrl-C or failure.
set -e
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
