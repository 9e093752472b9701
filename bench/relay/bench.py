#!/usr/bin/python3
"""bench/relay driver: homemail-relay against Postfix as the box's relay,
homemail-sendmail against Postfix's sendmail and msmtp, and the receive
path (fetcher -> relay -> Maildir) against fetchmail -> Postfix. Run
through bench/relay/run.sh (see there for the options).

Everything lives under --workdir (wiped first); nothing is written into
the source tree except the section appended to bench/RESULTS.md. Every
daemon is our child in a session of its own, stopped by PID, also on
SIGINT/SIGTERM.
"""
import argparse, json, os, shlex, shutil, signal, subprocess, sys, time, types

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "bench", "fetch"))   # verify.Index
sys.path.insert(0, os.path.dirname(HERE))                  # bench/: proctree
sys.path.insert(0, HERE)
try:
    import pytest  # noqa: F401  (fixtures/__init__ imports it)
except ImportError:
    stub = types.ModuleType("pytest")
    stub.fail = lambda msg, pytrace=True: (_ for _ in ()).throw(RuntimeError(msg))
    sys.modules["pytest"] = stub

import parts       # noqa: E402
import report      # noqa: E402

PARTS = ("relay", "sendmail", "receive")
ap = argparse.ArgumentParser(prog="run.sh")
ap.add_argument("--quick", action="store_true", help="small counts, 1 rep: a smoke run")
ap.add_argument("--builddir", default=os.environ.get("HM_BUILDDIR", "/work/main/build"))
ap.add_argument("--workdir", default="/tmp/hm-bench-relay")
ap.add_argument("--parts", default=",".join(PARTS))
ap.add_argument("--reps", type=int, help="reps per system in the relay and receive parts (3)")
ap.add_argument("--messages", type=int, help="smtp-source messages (5000)")
ap.add_argument("--sessions", type=int, default=10, help="smtp-source sessions (10)")
ap.add_argument("--length", type=int, default=5000, help="smtp-source message length (5000)")
ap.add_argument("--relays", default="ours,postfix,postfix-reuse",
                help="relay part systems: ours, postfix, postfix-reuse")
ap.add_argument("--submissions", type=int, help="sendmail part: sequential submissions each (500)")
ap.add_argument("--fetch-count", type=int, help="receive part: corpus messages (2000)")
ap.add_argument("--receivers", default="ours-relay,ours-direct,fetchmail-postfix",
                help="receive part paths (a diagnostic run may leave fetchmail-postfix out)")
ap.add_argument("--proto", default="pop3", choices=("pop3", "imap"), help="receive part upstream")
ap.add_argument("--timeout", type=float, default=600.0, help="per run, for the last arrival")
ap.add_argument("--perf", action="store_true",
                help="also perf-record our relay's tree during one extra relay run")
ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
ap.add_argument("--no-results", action="store_true")
ap.add_argument("--keep", action="store_true")
ap.add_argument("--note", default="", help="a line for the results (e.g. 'machine shared with builds')")
A = ap.parse_args()
A.parts = [p for p in A.parts.split(",") if p]
for p in A.parts:
    if p not in PARTS:
        raise SystemExit("unknown part %s (have %s)" % (p, ", ".join(PARTS)))
A.relays = A.relays.split(",")
A.receivers = A.receivers.split(",")
A.reps = A.reps or (1 if A.quick else 3)
A.messages = A.messages or (500 if A.quick else 5000)
A.submissions = A.submissions or (50 if A.quick else 500)
A.fetch_count = A.fetch_count or (200 if A.quick else 2000)
A.cmdline = ("HM_BUILDDIR=%s " % shlex.quote(os.environ["HM_BUILDDIR"]) if os.environ.get("HM_BUILDDIR") else "") + \
    "bench/relay/run.sh " + " ".join(shlex.quote(x) for x in sys.argv[1:])
W = A.workdir
MARK = ".hm-bench-relay"

if os.geteuid() != 0:
    raise SystemExit("run as root (Postfix and Dovecot need it)")
for prog in ("postfix", "smtp-source", "smtp-sink", "msmtp", "fetchmail", "dovecot"):
    if not shutil.which(prog):
        raise SystemExit("%s not found (apt-get install postfix msmtp fetchmail dovecot-imapd "
                         "dovecot-pop3d)" % prog)
BIN = {k: os.path.join(A.builddir, *v) for k, v in {
    "relay": ("relay", "homemail-relay"), "sendmail": ("relay", "homemail-sendmail"),
    "fetcher": ("fetcher", "homemail-fetcher")}.items()}
need = {"relay": ["relay"], "sendmail": ["relay", "sendmail"], "receive": ["relay", "fetcher"]}
for p in A.parts:
    for b in need[p]:
        if not os.access(BIN[b], os.X_OK):
            raise SystemExit("no %s: build it first (--builddir / HM_BUILDDIR)" % BIN[b])
if os.path.exists(W):
    if not os.path.exists(os.path.join(W, MARK)):
        raise SystemExit("%s exists and is not a bench/relay work dir" % W)
    shutil.rmtree(W)
os.makedirs(os.path.join(W, "logs"))
os.chmod(W, 0o755)
open(os.path.join(W, MARK), "w").close()

ctx = parts.Context(A, W, BIN)
signal.signal(signal.SIGINT, lambda s, f: (ctx.stop_all(), sys.exit(130)))
signal.signal(signal.SIGTERM, lambda s, f: (ctx.stop_all(), sys.exit(143)))
RES = {"source": report.source(BIN), "started": time.time()}
try:
    for p in A.parts:
        RES[p] = getattr(parts, "run_" + p)(ctx)
finally:
    ctx.stop_all()
    RES["elapsed"] = time.time() - RES["started"]
    json.dump(RES, open(os.path.join(W, "results.json"), "w"), indent=1, default=str)

text = report.build(RES, A)
print()
print(text)
if not A.no_results:
    with open(A.results, "a") as fh:
        fh.write("\n" + text + "\n")
    ctx.log("appended to %s" % A.results)
if not A.keep:
    shutil.rmtree(W, ignore_errors=True)
