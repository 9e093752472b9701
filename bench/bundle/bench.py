#!/usr/bin/python3
"""bench/bundle driver: idle memory of our whole bundle against the peers
doing the same job (issue 13). Run through bench/bundle/run.sh (see there
for the options and systems.py for the two bundles).

Round by round (the order alternating), each bundle is started afresh
(new state, a fresh message upstream for each account), waited for until
every daemon is up and has done its first work (both messages in the local
Maildirs, the dyndns record updated), left idle for --idle s, and then
every process of its trees is sampled: RSS and PSS (smaps_rollup, via
bench/relay/sampler.py). The upstream Dovecots, the dyndns2 fixture (a
thread of this driver) and the smart host are not counted.
"""
import argparse
import datetime
import os
import platform
import shlex
import shutil
import signal
import statistics
import sys
import time
import types

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for sub in ("tests/integration", "bench/dyndns", "bench/relay", "bench"):
    sys.path.insert(0, os.path.join(REPO, sub))
sys.path.insert(0, HERE)
try:
    import pytest  # noqa: F401  (fixtures/__init__ imports it)
except ImportError:
    stub = types.ModuleType("pytest")
    stub.fail = lambda msg, pytrace=True: (_ for _ in ()).throw(RuntimeError(msg))
    sys.modules["pytest"] = stub

import parts        # noqa: E402  (bench/relay: Context, the smart host)
import report       # noqa: E402  (bench/relay: source())
import sampler      # noqa: E402
import systems      # noqa: E402

MB = 2 ** 20
TARGET_MB = 15.0
# A test artefact, not the peer: with no syslog here the Postfix fixture
# logs through maillog_file, which runs postlogd; a default install logs
# to syslog (as ours log to journald) and has no postlogd.
NOT_COUNTED = {"postlogd"}
OURS = ("homemail-relay", "homemail-popd", "homemail-fetcher", "homemail-dyndns")
PEERS = ("postfix", "dovecot", "fetchmail", "ddclient")

ap = argparse.ArgumentParser(prog="run.sh")
ap.add_argument("--rounds", type=int, default=3, help="rounds of ours + peers (3)")
ap.add_argument("--idle", type=float, default=10.0, help="seconds idle before sampling (10)")
ap.add_argument("--settle", type=float, default=110.0,
                help="seconds idle before a second sample, after the session processes both keep "
                     "for the next client have exited (Postfix max_idle 100 s, ours 60 s); 0: none (110)")
ap.add_argument("--timeout", type=float, default=60.0, help="for the first work, per bundle")
ap.add_argument("--builddir", default=os.environ.get("HM_BUILDDIR", os.path.join(REPO, "build")))
ap.add_argument("--workdir", default="/tmp/hm-bench-bundle")
ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
ap.add_argument("--no-results", action="store_true")
ap.add_argument("--keep", action="store_true")
ap.add_argument("--note", default="", help="a line for the results")
ap.add_argument("--ours-only", action="store_true",
                help="run only our bundle and print its samples, for a quick look while changing "
                     "code (implies --no-results: the results compare both bundles)")
A = ap.parse_args()
A.no_results = A.no_results or A.ours_only
A.cmdline = ("HM_BUILDDIR=%s " % shlex.quote(os.environ["HM_BUILDDIR"]) if os.environ.get("HM_BUILDDIR") else "") + \
    "bench/bundle/run.sh " + " ".join(shlex.quote(x) for x in sys.argv[1:])
MARK = ".hm-bench-bundle"


def setup():
    if os.geteuid() != 0:
        raise SystemExit("run as root (Postfix and Dovecot need it)")
    why = systems.needs()
    if why:
        raise SystemExit(why)
    bins = {k: os.path.join(A.builddir, k, "homemail-" + k) for k in ("relay", "popd", "fetcher", "dyndns")}
    for b in bins.values():
        if not os.access(b, os.X_OK):
            raise SystemExit("no %s: build it first (--builddir / HM_BUILDDIR)" % b)
    if os.path.exists(A.workdir):
        if not os.path.exists(os.path.join(A.workdir, MARK)):
            raise SystemExit("%s exists and is not a bench/bundle work dir" % A.workdir)
        shutil.rmtree(A.workdir)
    os.makedirs(A.workdir)
    os.chmod(A.workdir, 0o755)
    open(os.path.join(A.workdir, MARK), "w").close()
    return bins


def sample(bundle):
    """{"programs": {program: {"rss", "pss", "procs", "detail": [per process],
    "maps": {mapping: {"rss", "pss"}} over its counted processes}},
    "total": {"rss", "pss", "procs"}} of BUNDLE now."""
    out = {}
    for prog, pids in bundle.roots.items():
        procs = [p for pid in pids for p in sampler.processes(pid)]
        counted = [p for p in procs if p["name"] not in NOT_COUNTED]
        maps = {}
        for p in counted:
            for name, m in sampler.mappings(p["pid"]).items():
                t = maps.setdefault(name, {"rss": 0, "pss": 0})
                t["rss"] += m["rss"]
                t["pss"] += m["pss"]
        out[prog] = {"rss": sum(p["rss"] for p in counted), "pss": sum(p["pss"] for p in counted),
                     "procs": len(counted), "detail": procs, "maps": maps}
        if not procs:
            raise systems.BenchError("%s exited while idle\n%s" % (prog, bundle.log_tails()))
    return {"programs": out, "total": {k: sum(r[k] for r in out.values()) for k in ("rss", "pss", "procs")}}


def _say(ctx, kind, rnd, when, s):
    ctx.log("%-5s round %d, %s: idle RSS-sum %.1f MB, PSS %.1f MB, %d processes (%s)"
            % (kind, rnd, when, s["total"]["rss"] / MB, s["total"]["pss"] / MB, s["total"]["procs"],
               ", ".join("%s %.1f/%.1f" % (p, r["rss"] / MB, r["pss"] / MB) for p, r in s["programs"].items())))


def one(ctx, up, kind, rnd):
    """Starts bundle KIND, waits for its first work, idles, samples (after
    --idle s and, with --settle, again after --settle s), stops it."""
    up.reset(seed=1000 + rnd * 10 + (kind == "peers"))
    b = (systems.Ours if kind == "ours" else systems.Peers)(ctx, up, rnd)
    t0 = time.monotonic()
    run = {"kind": kind, "round": rnd}
    try:
        b.start()
        while not b.first_work_done():
            if time.monotonic() - t0 > A.timeout:
                raise systems.BenchError("%s round %d: no first work after %.0f s\n%s"
                                         % (kind, rnd, A.timeout, b.log_tails()))
            time.sleep(0.1)
        run["ready_s"] = time.monotonic() - t0
        ctx.log("%-5s round %d: first work after %.1f s" % (kind, rnd, run["ready_s"]))
        time.sleep(A.idle)
        run["idle"] = sample(b)
        _say(ctx, kind, rnd, "%.0f s" % A.idle, run["idle"])
        if A.settle > A.idle:
            time.sleep(A.settle - A.idle)
            run["settled"] = sample(b)
            _say(ctx, kind, rnd, "%.0f s" % A.settle, run["settled"])
    finally:
        b.stop()
    return run


def _med(xs):
    return statistics.median(xs) if xs else float("nan")


def _span(xs):
    return "%.1f-%.1f" % (min(xs), max(xs)) if xs else ""


def _names(sample, prog):
    """'master, qmgr, pickup x2': the processes of PROG in SAMPLE."""
    seen = {}
    for p in sample["programs"][prog]["detail"]:
        seen[p["name"]] = seen.get(p["name"], 0) + 1
    return ", ".join(n + (" x%d" % c if c > 1 else "") + (" (not counted)" if n in NOT_COUNTED else "")
                     for n, c in seen.items())


def _cells(samples, get):
    """'RSS (min-max) | PSS (min-max) | procs' over SAMPLES, GET(sample) giving
    a {"rss", "pss", "procs"} dict."""
    rss = [get(x)["rss"] / MB for x in samples]
    pss = [get(x)["pss"] / MB for x in samples]
    return "%.1f (%s) | %.1f (%s) | %d" % (_med(rss), _span(rss), _med(pss), _span(pss),
                                           _med([get(x)["procs"] for x in samples]))


def _rows(runs, progs, label):
    keys = [k for k in ("idle", "settled") if k in runs[0]]
    lines = []
    for prog in progs:
        lines.append("| %s | %s | %s |" % (prog, " | ".join(_cells([r[k] for r in runs], lambda x: x["programs"][prog])
                                                          for k in keys),
                                            " / ".join(_names(runs[-1][k], prog) for k in keys)))
    lines.append("| **%s total** | %s | |" % (label, " | ".join(_cells([r[k] for r in runs], lambda x: x["total"])
                                                               for k in keys)))
    return lines


def _detail(runs):
    """Every process of the last round of each bundle: at --idle, at --settle."""
    out = ["| bundle | program | process | pid | RSS / PSS MB at %.0f s | at %.0f s |" % (A.idle, A.settle),
           "|---|---|---|---|---|---|"]
    for r in runs:
        for prog, res in r["idle"]["programs"].items():
            later = {p["pid"]: p for p in r["settled"]["programs"][prog]["detail"]} if "settled" in r else {}
            for p in res["detail"]:
                q = later.get(p["pid"])
                out.append("| %s | %s | %s%s | %d | %.1f / %.1f | %s |" % (
                    r["kind"], prog, p["name"], " (not counted)" if p["name"] in NOT_COUNTED else "",
                    p["pid"], p["rss"] / MB, p["pss"] / MB,
                    "%.1f / %.1f" % (q["rss"] / MB, q["pss"] / MB) if q else "exited" if later else ""))
    return out


def _top(maps, n):
    """The N largest mappings, then the rest summed (shared libraries each
    cost a few pages of relocations and data however little is used)."""
    ranked = sorted(maps.items(), key=lambda kv: -kv[1]["rss"])
    rest = ranked[n:]
    return ", ".join("%s %.1f/%.1f" % (k, v["rss"] / MB, v["pss"] / MB) for k, v in ranked[:n]) + \
        "; the other %d mappings %.1f/%.1f" % (len(rest), sum(v["rss"] for _, v in rest) / MB,
                                               sum(v["pss"] for _, v in rest) / MB)


def _maps(run):
    """Where the RSS of the last round goes, per program (ours) and in all."""
    s = run.get("settled", run["idle"])
    tot = {}
    for res in s["programs"].values():
        for k, v in res["maps"].items():
            t = tot.setdefault(k, {"rss": 0, "pss": 0})
            t["rss"] += v["rss"]
            t["pss"] += v["pss"]
    out = ["* %s, all programs: %s" % (run["kind"], _top(tot, 10))]
    if run["kind"] == "ours":
        out += ["* %s (%d process%s): %s" % (p, r["procs"], "es" if r["procs"] > 1 else "", _top(r["maps"], 6))
                for p, r in s["programs"].items()]
    return out


def _verdict(mb):
    return "**PASS**" if mb <= TARGET_MB else "**MISS** by %.1f MB" % (mb - TARGET_MB)


def build(res):
    ours = [r for r in res["runs"] if r["kind"] == "ours"]
    peers = [r for r in res["runs"] if r["kind"] == "peers"]
    keys = [k for k in ("idle", "settled") if k in ours[0]]
    when = {"idle": "%.0f s" % A.idle, "settled": "%.0f s" % A.settle}
    v = res["versions"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    t = ["## bench/bundle — %s" % datetime.datetime.fromtimestamp(res["started"]).strftime("%Y-%m-%d %H:%M"),
         "",
         "Command: `%s` (%s)  " % (A.cmdline, res["source"]),
         "Machine: nproc %d, kernel %s, %s, load average at the end %s; Postfix %s, Dovecot %s, %s, "
         "ddclient %s (perl %s), %s, Python %s  " % (
             os.cpu_count(), platform.release(), cpu, res["load"], v["postfix"], v["dovecot"],
             v["fetchmail"], v["ddclient"], v["perl"], v["openssl"], platform.python_version()),
         "Job (both bundles): relay with a STARTTLS+AUTH smart host, two users, POP3 and POP3S for the LAN, "
         "alice's mailbox over IMAPS with IDLE, bob's over POP3S every 300 s, both delivered through the "
         "relay, one dyndns2 record over HTTPS every 300 s. Sampled %s after the first work (both "
         "messages in the Maildirs, the record updated)%s; %d rounds, order alternating; medians "
         "(min-max); MB = 2^20 bytes. %s" % (
             when["idle"], " and again at %s" % when["settled"] if "settled" in keys else "",
             A.rounds, A.note),
         "",
         "| program | %s | processes (last round%s) |" % (
             " | ".join("RSS-sum MB at %s | PSS MB at %s | procs" % (when[k], when[k]) for k in keys),
             ", " + " / ".join(when[k] for k in keys)),
         "|---|%s---|" % ("---|---|---|" * len(keys))]
    t += _rows(ours, OURS, "ours")
    t += _rows(peers, PEERS, "peers")
    t += ["", "| measurement | ours | peers | ours/peers | target | result |", "|---|---|---|---|---|---|"]
    for k in keys:
        for m in ("rss", "pss"):
            o = _med([r[k]["total"][m] / MB for r in ours])
            p = _med([r[k]["total"][m] / MB for r in peers])
            t.append("| idle %s MB, whole bundle, at %s | %.1f | %.1f | %.2f | %s | %s |" % (
                "RSS-sum" if m == "rss" else "PSS", when[k], o, p, o / p,
                "<= %.0f MB (ours)" % TARGET_MB if m == "rss" else "", _verdict(o) if m == "rss" else ""))
    # Our systemd units run dyndns from a timer (homemail-dyndns.timer, a
    # --once pass every 5 minutes), so between passes the bundle they run
    # has no dyndns process; the peers keep ddclient's daemon, as Debian's
    # ddclient.service runs it. RSS does not depend on which other
    # processes run, so this is the total less our dyndns daemon.
    k = keys[-1]
    o = _med([(r[k]["total"]["rss"] - r[k]["programs"]["homemail-dyndns"]["rss"]) / MB for r in ours])
    p = _med([r[k]["total"]["rss"] / MB for r in peers])
    t.append("| idle RSS-sum MB at %s, as the systemd units run ours (dyndns from its timer: no process "
             "between passes) | %.1f | %.1f | %.2f | <= %.0f MB (ours) | %s |"
             % (when[k], o, p, o / p, TARGET_MB, _verdict(o)))
    t += ["| time to first work s (start to both messages in the Maildirs and the record updated) "
          "| %.1f | %.1f | | | |" % (_med([r["ready_s"] for r in ours]), _med([r["ready_s"] for r in peers])),
          "",
          "Largest mappings, RSS-sum / PSS MB over the counted processes (last round, at %s):"
          % when[keys[-1]], ""]
    t += _maps(ours[-1]) + _maps(peers[-1])
    t += ["", "Every process of the last round:", ""]
    t += _detail([ours[-1], peers[-1]])
    return "\n".join(t)


def main():
    bins = setup()
    ctx = parts.Context(A, A.workdir, bins)
    up = systems.Upstream(ctx)

    def bye(code):
        ctx.stop_all()
        up.stop()
        sys.exit(code)
    signal.signal(signal.SIGINT, lambda s, f: bye(130))
    signal.signal(signal.SIGTERM, lambda s, f: bye(143))
    res = {"source": report.source(bins), "started": time.time(), "versions": systems.versions(),
           "runs": []}
    try:
        up.start()
        ctx.log("upstream: IMAPS :%d, POP3S :%d, dyndns2 %s, smart host :%d"
                % (up.imap.imaps_port, up.pop3.pop3s_port, up.dyn.url, up.sh.port))
        for rnd in range(A.rounds):
            for kind in (("ours",) if A.ours_only else ("ours", "peers") if rnd % 2 == 0 else ("peers", "ours")):
                res["runs"].append(one(ctx, up, kind, rnd))
    finally:
        ctx.stop_all()
        up.stop()
    if A.ours_only:
        for r in res["runs"]:
            s = r.get("settled", r["idle"])
            print("round %d: %s" % (r["round"], "; ".join(
                "%s %s" % (p, _top(v["maps"], 8)) for p, v in s["programs"].items())))
        if not A.keep:
            shutil.rmtree(A.workdir, ignore_errors=True)
        return
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
