#!/bin/bash
# bench/fetch/run.sh — homemail-fetcher vs fetchmail, getmail6 and mpop.
#
# Usage (as root):  bench/fetch/run.sh [--quick] [options]
#
# One private Dovecot (tests/integration/fixtures/dovecot.py, a plain child
# process) serves one generated corpus (fixtures/corpus.py, 2,000 msgs, seed 1,
# 2-20 KB text, ~10% 20-100 KB, 33 x ~1 MB); before every run the corpus is
# hard-linked into its empty Maildir (Dovecot's index/uidlist removed). Each
# run is one client fetching everything once, deleting upstream, into an empty
# Maildir with fresh state, as uid 65534 (setpriv):
#   ours-pop3, ours-imap   homemail-fetcher --once, deliver = "local", keep = false
#   fetchmail-pop3/-imap   fetchall nokeep, mda = maildir-deliver (built from
#                          bench/fetch/maildir-deliver.c: tmp/, fsync, new/)
#   getmail-pop3/-imap     getmail6, Maildir destination, delete + read_all
#   mpop-pop3              delivery maildir, keep off
# all plaintext (tls none / sslproto "" / tls off + auth user), alternating
# client by client, in two settings: loopback (direct) and through
# fixtures/proxy.py adding 20 ms each way (40 ms round trip; one proxy per
# port, started once per setting, stopped by PID).
# Per run: wall time, CPU (user+sys) and peak RSS (/usr/bin/time: wait4 rusage),
# Dovecot tree CPU, and verify.py (exactly N files, each corpus message once
# with an identical body, upstream empty). Prints medians, peer/ours ratios
# with the issue-5 targets, per-run detail; appends a dated section to
# bench/RESULTS.md.
#
# Options:
#   --quick            200 msgs, 1 rep, 40 ms setting for ours and mpop only (~2 min)
#   --builddir DIR     where homemail-fetcher is (DIR/fetcher/homemail-fetcher;
#                      default $HM_BUILDDIR or /work/main/build)
#   --workdir DIR      scratch space, wiped (default /tmp/hm-bench-fetch)
#   --count N          corpus size (2000)     --seed S   corpus seed (1)
#   --reps N           reps per client and setting (3)
#   --slow-reps N      reps of fetchmail/getmail6 in the 40 ms setting (1; each
#                      takes 3-6 min there)
#   --delay-ms MS      one-way delay of the proxy (20)
#   --settings loopback,delay      --clients ours-pop3,mpop-pop3,...
#   --timeout S        per run; an overrunning client is killed and recorded (1800)
#   --results FILE | --no-results  where to append (default bench/RESULTS.md) / don't
#   --keep             keep the work directory (logs, results.json)
# Needs: root, dovecot 2.3 (dovecot-imapd, -pop3d, -lmtpd), fetchmail, getmail6,
# mpop, openssl, cc, /usr/bin/python3. Ports: free 127.0.0.1 ports picked at start.
# Full run ~25-30 min on 2 cores (fetchmail and getmail6 at 40 ms take most of it).
set -e
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
