#!/bin/bash
# bench/setup/run.sh — the time from `homemail setup --answers` to the first
# fetched message readable over POP3 (issue 13, "Measure and record in
# bench/RESULTS.md").
#
# Usage (as root):  bench/setup/run.sh [options]
#
# An upstream Dovecot (tests/integration/fixtures/dovecot.py) holds one
# message for alice@isp.example on POP3S; its CA is trusted through
# SSL_CERT_FILE, as a person's public CA would be. Each run, in a fresh
# directory, times with a monotonic clock:
#   setup        `homemail setup -c CONF --no-start --answers FILE`, live
#                checks included (mail type "fetch": received via the fetcher,
#                no smart host; the upstream login is checked live; a
#                self-signed certificate is made)
#   start-up     `homemail -c CONF up` started -> the relay and popd accept
#                connections
#   first fetch  -> the message is in alice's Maildir (fetcher -> relay ->
#                Maildir, the fetcher daemon's start-up pass)
#   POP3 read    -> poplib on homemail-popd: LIST shows it, RETR returns its
#                Message-ID
# and the total; medians (min-max) over the runs. Discovery is kept on
# loopback (a private BIND with an empty zone, autoconfig to a dead port):
# it finds nothing at once, where a person's run asks the provider.
# Appends a dated section to bench/RESULTS.md. ~1 minute for 5 runs.
#
# Options:
#   --runs N             runs (5)
#   --builddir DIR       where the programs are (default $HM_BUILDDIR or build/)
#   --workdir DIR        scratch space, wiped (default /tmp/hm-bench-setup)
#   --timeout S          per phase (60)
#   --note TEXT          a line for the results
#   --results FILE | --no-results     --keep (keep the work directory)
# Needs: root, dovecot-pop3d, bind9, /usr/bin/python3. Loopback ports only;
# every process started is stopped by PID, also on Ctrl-C or failure.
set -e
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
