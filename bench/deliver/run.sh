#!/bin/bash
# bench/deliver/run.sh — homemail-deliver vs a minimal C MDA and dovecot-lda.
#
# Usage:  bench/deliver/run.sh [--quick] [options]
#
# An MDA is started once per message, so what it costs is mostly start-up.
# In one run, on the same messages and the same file system, alternating
# round by round (the order rotates each round):
#   minimal      bench/deliver/minimal-mda.c, built here with cc -O2: read
#                stdin, tmp/ O_EXCL, write, fdatasync, link into new/, unlink,
#                fsync new/ -- the system calls homemail-deliver makes for one
#                message, and nothing else: the floor
#   ours         homemail-deliver -c CONF -f SENDER -d alice, CONF being
#                examples/homemail.conf with its paths moved into the work dir
#                (every section, six secret files: a real box's config)
#   dovecot-lda  /usr/lib/dovecot/dovecot-lda -c CONF -f SENDER, standalone with
#                a private config (no master, no auth; delivers to the loop's
#                own user), as a real peer
#   LABEL        with --compare LABEL=PATH, another homemail-deliver binary
#                (e.g. a build of the parent commit), for before/after numbers
# Each delivery is one posix_spawn (no shell) with the message as stdin:
# wall = spawn to reap, CPU = the child's user+sys from wait4. Prints, per
# program, median wall (p10-p90), mean CPU, peak RSS and the ratios to
# minimal (and ours/dovecot-lda) with their spread over 10 blocks of rounds;
# checks every Maildir holds exactly what it was given; appends a dated
# section to bench/RESULTS.md. As root the loop runs as uid 65534 (setpriv):
# dovecot-lda needs -d and a userdb when run as root.
#
# Options:
#   --quick              200 rounds (default 1000; ~2 min on 2 cores)
#   --runs N             timed rounds          --msgs N   distinct messages (50)
#   --seed S             message generator seed (1)
#   --builddir DIR       where homemail-deliver is (DIR/deliver/homemail-deliver;
#                        default $HM_BUILDDIR or /work/main/build)
#   --workdir DIR        scratch space, wiped (default $TMPDIR/hm-bench-deliver)
#   --compare LABEL=PATH another homemail-deliver to run alongside (repeatable)
#   --no-lda             leave dovecot-lda out
#   --results FILE | --no-results   where to append (default bench/RESULTS.md) / don't
#   --keep               keep the work directory
# Needs: cc, /usr/bin/python3, dovecot-lda (dovecot-core) unless --no-lda.
# Timing-sensitive: run it on a quiet machine (see `uptime`) and look at the
# block spread; fsync latency, which all programs pay, varies with the disk.
set -e
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
