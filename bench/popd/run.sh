#!/bin/bash
# bench/popd/run.sh — homemail-popd vs Dovecot POP3, homemail-deliver vs dovecot-lda.
#
# Usage (as root):  bench/popd/run.sh [--quick] [options]
#
# In one run, alternating ours and Dovecot's on the same content:
#  1. delivery: the same generated corpus (default 10,000 msgs, 2-50 KiB + 5 x 1 MiB)
#     delivered one process per message (as an MTA runs them) by
#     `homemail-deliver -c CONF -d USER` and `dovecot-lda -c CONF -d USER -f SENDER`
#     (both fsync), in alternating chunks of 500: messages/s and CPU; plus a
#     tight shell-loop variant (--tight N messages);
#  2. POP3 load (load.py: USER/PASS, STAT, UIDL, LIST, RETR every message with size
#     check, QUIT) against homemail-popd and a private Dovecot (pop3_uidl_format
#     %08Xu%08Xv, SHA512-CRYPT passwd-file; ours: the same $6$ hash) at 1, 10, 50
#     concurrent sessions on a small (20 msgs) and the big box (the Maildir
#     homemail-deliver filled), one user with its own hard-linked Maildir copy per
#     concurrent session: sessions/s, MB/s, server CPU over the process tree
#     (procmon.py: utime+stime+cutime+cstime, so reaped session children count),
#     tree PSS / RSS-sum peak, and a single held session's peak RSS (VmHWM);
#  3. cold connect+login+STAT of the 10,000-message Maildir homemail-deliver
#     filled (page cache dropped; Dovecot's index/uidlist removed), and of a
#     gen.py Maildir without ,S=/,W= in the names;
#  4. prints a table (ours/Dovecot ratios, targets from issue 4 with PASS/MISS)
#     and appends a dated section to bench/RESULTS.md.
#
# Options:
#   --quick              1,000 msgs, smaller session counts, 2 cold reps (~2-3 min)
#   --builddir DIR       where homemail-popd/-deliver are (default $HM_BUILDDIR or
#                        /work/main/build): DIR/popd/homemail-popd, DIR/deliver/homemail-deliver
#   --workdir DIR        scratch space, wiped (default /tmp/hm-bench-popd)
#   --big N              messages delivered / in the big box (10000)
#   --tight N            messages for the tight-loop delivery variant (2000; 0 = skip)
#   --conc 1,10,50       concurrency levels
#   --small-sessions a,b,c   sessions per level on the small box (200,1000,1000)
#   --cold-reps N        cold STAT repetitions per server (3)
#   --gen-maildir        POP3 boxes from gen.py, skip the delivery bench (no homemail-deliver needed)
#   --results FILE | --no-results    where to append (default bench/RESULTS.md) / don't
#   --keep               keep the work directory
# Needs: root, dovecot 2.3 (dovecot, /usr/lib/dovecot/dovecot-lda), openssl, /usr/bin/python3.
# Ports: two free 127.0.0.1 ports picked at start. Servers are stopped by PID.
# Full run ~10-15 min on 2 cores; nothing is written to the source tree but bench/RESULTS.md.
set -e
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
