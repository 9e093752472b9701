#!/usr/bin/python3
"""bench/setup driver: the time from `homemail setup --answers` to the
first fetched message readable over POP3 (issue 13). Run through
bench/setup/run.sh (see there for the options).

One upstream Dovecot and one private BIND serve every run; each run has a
directory of its own, a fresh message upstream, and is timed phase by
phase with time.monotonic(): setup, `homemail up` until its listeners
accept, the message in the Maildir, the message read over POP3.
"""
import argparse
import datetime
import os
import platform
import poplib
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
import types

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for sub in ("tests/integration", "bench/relay", "bench"):
    sys.path.insert(0, os.path.join(REPO, sub))
try:
    import pytest  # noqa: F401  (fixtures/__init__ imports it)
except ImportError:
    stub = types.ModuleType("pytest")
    stub.fail = lambda msg, pytrace=True: (_ for _ in ()).throw(RuntimeError(msg))
    sys.modules["pytest"] = stub

import parts        # noqa: E402  (bench/relay: Context, run_timed)
import report       # noqa: E402  (bench/relay: source())
from fixtures import SessionDaemon, corpus as corpusmod, free_port, log_tail, spawn_session  # noqa: E402
from fixtures.bind import Bind  # noqa: E402
from fixtures.dovecot import Dovecot  # noqa: E402
from fixtures.tls import make_cert  # noqa: E402
from proctree import tree  # noqa: E402

UP_USER, UP_PASSWORD = "alice@isp.example", "Up-Pass.13"
LAN_USER, LAN_PASSWORD = "alice", "Lan-Pass.13"
PHASES = (("setup", "setup"), ("startup", "start-up (up -> relay and popd listening)"),
          ("fetch", "first fetch (-> in the Maildir)"), ("pop3", "first POP3 read (LIST + RETR)"),
          ("total", "**total**"))
POLL_S = 0.002
RACE = "local delivery failed temporarily"

ap = argparse.ArgumentParser(prog="run.sh")
ap.add_argument("--runs", type=int, default=5, help="runs (5)")
ap.add_argument("--timeout", type=float, default=60.0, help="per phase (60)")
ap.add_argument("--builddir", default=os.environ.get("HM_BUILDDIR", os.path.join(REPO, "build")))
ap.add_argument("--workdir", default="/tmp/hm-bench-setup")
ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
ap.add_argument("--no-results", action="store_true")
ap.add_argument("--keep", action="store_true")
ap.add_argument("--note", default="", help="a line for the results")
A = ap.parse_args()
A.cmdline = ("HM_BUILDDIR=%s " % shlex.quote(os.environ["HM_BUILDDIR"]) if os.environ.get("HM_BUILDDIR") else "") + \
    ("bench/setup/run.sh " + " ".join(shlex.quote(x) for x in sys.argv[1:])).rstrip()
MARK = ".hm-bench-setup"


class BenchError(RuntimeError):
    pass


class Up(SessionDaemon):
    """`homemail -c CONF up` in a session of its own, started without
    waiting for anything (the clock runs); stop() ends its group, and up
    ends its children, each in a group of its own."""

    def __init__(self, argv, log, env):
        self.argv, self.log, self.env = argv, log, env

    def start(self):
        self.proc, self._stderr = spawn_session(self.argv, self.log, env=self.env)
        return self


def prepare():
    if os.geteuid() != 0:
        raise SystemExit("run as root (Dovecot needs it)")
    hm = os.path.join(A.builddir, "admin", "homemail")
    bins = {"homemail": hm}
    for k in ("relay", "popd", "fetcher"):
        bins[k] = os.path.join(A.builddir, k, "homemail-" + k)
    for b in bins.values():
        if not os.access(b, os.X_OK):
            raise SystemExit("no %s: build it first (--builddir / HM_BUILDDIR)" % b)
    if os.path.exists(A.workdir):
        if not os.path.exists(os.path.join(A.workdir, MARK)):
            raise SystemExit("%s exists and is not a bench/setup work dir" % A.workdir)
        shutil.rmtree(A.workdir)
    os.makedirs(A.workdir)
    os.chmod(A.workdir, 0o755)
    open(os.path.join(A.workdir, MARK), "w").close()
    return bins


def answers(d, dc, relay_port, popd_port):
    """What a person answers for an ISP mailbox over POP3S delivered to
    alice, no smart host (mail type "fetch"); everything else defaults."""
    return "\n".join("%s = %s" % kv for kv in (
        ("mail_type", "fetch"),
        ("hostname", "box.example.test"),
        ("lan_address", ""),
        ("relay.listen", "127.0.0.1:%d" % relay_port),
        ("state_dir", d + "/state"),
        ("users", LAN_USER),
        ("user.%s.password" % LAN_USER, LAN_PASSWORD),
        ("accounts", "isp"),
        ("account.isp.address", UP_USER),
        ("account.isp.protocol", "pop3"),
        ("account.isp.host", "127.0.0.1"),
        ("account.isp.tls", "tls"),
        ("account.isp.port", str(dc.pop3s_port)),
        ("account.isp.user", dc.user),
        ("account.isp.password", UP_PASSWORD),
        ("account.isp.to", LAN_USER),
        ("account.isp.keep", "no"),
        ("popd.listen", "127.0.0.1:%d" % popd_port),
        ("dyndns.provider", "none"))) + "\n"


def listening(port):
    """True once a socket listens on 127.0.0.1:PORT, read from
    /proc/net/tcp: a probe connection would start a relay session and
    cost the bundle CPU while it starts."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        return any(l.split()[1] == want and l.split()[3] == "0A" for l in list(f)[1:])


def in_maildir(maildir):
    return any(os.listdir(os.path.join(maildir, s)) for s in ("new", "cur")
               if os.path.isdir(os.path.join(maildir, s)))


def pop3_read(port, msgid):
    """True when alice's LIST shows one message and its RETR holds MSGID;
    QUIT without DELE, so the message stays."""
    try:
        p = poplib.POP3("127.0.0.1", port, timeout=5)
    except OSError:
        return False
    try:
        p.user(LAN_USER)
        p.pass_(LAN_PASSWORD)
        _, listing, _ = p.list()
        if len(listing) != 1:
            return False
        _, lines, _ = p.retr(1)
        return any(l.strip().lower() == b"message-id: " + msgid.encode().lower() for l in lines)
    except (poplib.error_proto, OSError):
        return False
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError):
            p.close()


def wait(what, ok, t0, log):
    """Polls OK() every POLL_S s until it is true; its monotonic time."""
    while not ok():
        if time.monotonic() - t0 > A.timeout:
            raise BenchError("no %s after %.0f s\n%s" % (what, A.timeout, log()))
        time.sleep(POLL_S)
    return time.monotonic()


def one(ctx, bins, dc, env, n):
    d = ctx.dir("run-%d" % n)
    conf = os.path.join(d, "homemail.conf")
    one_msg = corpusmod.generate(count=1, seed=2000 + n, n_big=0)
    msg = one_msg.messages[0]
    dc.load(one_msg)
    relay_port, popd_port = free_port(), free_port()
    afile = os.path.join(d, "answers")
    with open(afile, "w") as f:
        f.write(answers(d, dc, relay_port, popd_port))
    os.chmod(afile, 0o600)
    slog = os.path.join(d, "setup.log")
    run = {"run": n}

    def logs():
        return log_tail((slog, os.path.join(d, "up.log")), 40)

    t0 = time.monotonic()
    _, run["setup_cpu"], rc = parts.run_timed(
        [bins["homemail"], "setup", "-c", conf, "--no-start", "--answers", afile], slog, env=env)
    t1 = time.monotonic()
    if rc != 0:
        raise BenchError("setup exited %d\n%s" % (rc, logs()))
    up = ctx.start(Up([bins["homemail"], "-c", conf, "up"], os.path.join(d, "up.log"), env))
    try:
        t2 = wait("relay and popd listening", lambda: listening(relay_port) and listening(popd_port),
                  t1, logs)
        t3 = wait("message in the Maildir", lambda: in_maildir(os.path.join(d, "state", "mail", LAN_USER)),
                  t1, logs)
        t4 = wait("message over POP3", lambda: pop3_read(popd_port, msg.msgid), t1, logs)
        run["procs"] = len(tree(up.proc.pid))
        run["upstream_left"] = len(dc.read_maildir())
    finally:
        pids = tree(up.proc.pid)
        ctx.stop(up)
        run["left_running"] = sum(1 for p in pids if os.path.exists("/proc/%d" % p))
    # up starts the fetcher beside the relay, not after it listens: a first
    # pass that finds no relay keeps the mail upstream until its retry.
    with open(os.path.join(d, "up.log"), errors="replace") as f:
        run["refused"] = any(RACE in l for l in f)
    run.update(setup=t1 - t0, startup=t2 - t1, fetch=t3 - t2, pop3=t4 - t3, total=t4 - t0)
    ctx.log("run %d: setup %.3f s (CPU %.3f), start-up %.3f, first fetch %.3f, POP3 read %.3f, total %.3f s; "
            "%s%d processes under up, %d left upstream, %d left running after stop"
            % (n, run["setup"], run["setup_cpu"], run["startup"], run["fetch"], run["pop3"], run["total"],
               "fetcher's first pass found no relay; " if run["refused"] else "",
               run["procs"], run["upstream_left"], run["left_running"]))
    return run


def build(res):
    runs = res["runs"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    dv = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
    t = ["## bench/setup — %s" % datetime.datetime.fromtimestamp(res["started"]).strftime("%Y-%m-%d %H:%M"),
         "",
         "Command: `%s` (%s)  " % (A.cmdline, res["source"]),
         "Machine: nproc %d, kernel %s, %s, load average at the end %s; upstream Dovecot %s, Python %s  "
         % (os.cpu_count(), platform.release(), cpu, res["load"], dv, platform.python_version()),
         "Job: `homemail setup --no-start --answers FILE` (mail type fetch, one local user, one POP3S "
         "mailbox on a loopback Dovecot checked live, its CA through SSL_CERT_FILE, popd on loopback, "
         "a self-signed certificate made) -> `homemail up` -> the upstream message in the Maildir "
         "(fetcher daemon's start-up pass -> relay -> Maildir) -> LIST and RETR over POP3 from "
         "homemail-popd showing its Message-ID; a fresh directory per run; time.monotonic(), polled "
         "every %.0f ms (each later phase up to that late); %d runs, medians (min-max). %s" % (POLL_S * 1000, len(runs), A.note),
         "",
         "| phase | median s | min-max s |",
         "|---|---|---|"]
    for key, label in PHASES:
        xs = [r[key] for r in runs]
        t.append("| %s | %.3f | %.3f-%.3f |" % (label, statistics.median(xs), min(xs), max(xs)))
    raced = [r for r in runs if r["refused"]]
    clean = [r["total"] for r in runs if not r["refused"]]
    t += ["", "The fetcher's first pass found the relay not yet listening (the fetched mail stays "
          "upstream; the retry after 5 s delivers it) in %d of %d runs; total of the other runs: %s."
          % (len(raced), len(runs), "median %.3f s (%.3f-%.3f)" % (statistics.median(clean), min(clean), max(clean))
             if clean else "none")]
    t += ["", "| run | setup s | setup CPU s | start-up s | first fetch s | POP3 read s | total s "
          "| first pass found no relay | processes under up | left upstream | left running after stop |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        t.append("| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %d | %d | %d |" % (
            r["run"], r["setup"], r["setup_cpu"], r["startup"], r["fetch"], r["pop3"], r["total"],
            "yes" if r["refused"] else "no", r["procs"], r["upstream_left"], r["left_running"]))
    return "\n".join(t)


def main():
    bins = prepare()
    ctx = parts.Context(A, A.workdir, bins)

    def bye(code):
        ctx.stop_all()
        sys.exit(code)
    signal.signal(signal.SIGINT, lambda s, f: bye(130))
    signal.signal(signal.SIGTERM, lambda s, f: bye(143))
    res = {"source": report.source(bins), "started": time.time(), "runs": []}
    try:
        cert = make_cert(ctx.dir("cert"))
        dc = ctx.start(Dovecot(ctx.dir("upstream"), cert, user=UP_USER, password=UP_PASSWORD))
        # Discovery (run after the address is answered) finds nothing at
        # once and never leaves loopback: an empty zone, a dead port.
        ns = ctx.start(Bind(ctx.dir("bind"), zones={"isp.example": ""}))
        env = dict(os.environ, SSL_CERT_FILE=dc.cafile, HM_DISCOVER_RESOLVER=ns.resolver,
                   HM_DISCOVER_CONNECT_TO="127.0.0.1:%d" % free_port())
        ctx.log("upstream Dovecot POP3S :%d, BIND %s" % (dc.pop3s_port, ns.resolver))
        for n in range(1, A.runs + 1):
            res["runs"].append(one(ctx, bins, dc, env, n))
    finally:
        ctx.stop_all()
    res["load"] = " ".join(open("/proc/loadavg").read().split()[:3])
    text = build(res)
    print()
    print(text)
    if not A.no_results:
        with open(A.results, "a") as fh:
            fh.write("\n" + text + "\n")
        ctx.log("appended to %s" % A.results)
    if not A.keep:
        shutil.rmtree(A.workdir, ignore_errors=True)


main()
