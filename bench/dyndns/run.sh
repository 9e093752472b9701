#!/bin/bash
# bench/dyndns/run.sh — a scripted week of 5-minute timer runs (2,016 `--once`
# runs on a fake clock) for homemail-dyndns, ddclient and inadyn against the
# same dyndns2 fixture, side by side (issue 11, "Benchmark (bench/dyndns)").
#
# Usage (as root):  bench/dyndns/run.sh [options]
#
# The week: the address changes 3 times, the check-IP page glitches twice
# (a private address, an HTML page without one), the provider answers 911 for
# 6 h and later badauth until the secret is fixed in the client's config.
# Counted from the fixture's log: check-IP and update requests, accepted
# updates per address, wrong updates (private or empty myip), update requests
# while badauth stood, the gaps after 911; then CPU and peak RSS of single
# --once runs (/usr/bin/time). Checks ours against the issue (PASS/MISS) and
# appends a dated section to bench/RESULTS.md. ~15 min on 2 cores (ddclient's
# 2,016 perl start-ups dominate).
#
# Options:
#   --builddir DIR     where homemail-dyndns is (default $HM_BUILDDIR or /work/main/build)
#   --clients LIST     ours,ddclient,inadyn
#   --polls N          a shortened week (smoke run; the checks need 2016)
#   --reps N           single --once runs timed per client (5)
#   --workdir DIR      scratch, wiped (default /tmp/hm-bench-dyndns)
#   --note TEXT        a line for the results ("machine shared with builds")
#   --results FILE | --no-results
# Needs: root (unshare -n), ddclient, inadyn, libfaketime, openssl, python3.
# Everything runs in a private network namespace with lo as its only link:
# no client can reach anything but the fixture (inadyn falls back to
# api.ipify.org when its check-IP page fails; in here that lookup fails).
set -e
export PYTHONDONTWRITEBYTECODE=1
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (unshare -n)" >&2; exit 2; }
for p in ddclient inadyn; do
	command -v $p >/dev/null || { echo "run.sh: $p is not installed (./bootstrap)" >&2; exit 2; }
done
cmdline=$(printf '%q ' "$0" "$@")
exec unshare -n /usr/bin/python3 "$(dirname "$0")/bench.py" --cmdline "$cmdline" "$@"
