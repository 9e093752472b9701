"""bench/fetch: the RESULTS.md section (medians, ratios with the issue's
targets, per-run detail, command lines and configuration files).

    text = build(res, args, notes, setting_names, cmdline, fetcher, elapsed, version)
"""
import datetime
import os
import platform
import statistics
import subprocess

PEER_OF = {"fetchmail": "fetchmail", "getmail": "getmail6", "mpop": "mpop"}


def _f(x, fmt="%.2f"):
    return "n/a" if x is None or x != x else fmt % x


def _med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _ratio(a, b):
    try:
        return a / b
    except (TypeError, ZeroDivisionError):
        return float("nan")


def _machine(version, workdir):
    cpu = ""
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
    mem = int(open("/proc/meminfo").readline().split()[1]) // 1024
    fs = subprocess.run(["df", "--output=fstype", os.path.dirname(workdir.rstrip("/")) or "/"],
                        capture_output=True, text=True).stdout.split()[-1:]
    return ("nproc %d, kernel %s, %s, %d MB RAM, work dir on %s, load average at the end %s; "
            "%s; %s; %s; %s; Dovecot %s; Python %s" % (
        os.cpu_count(), platform.release(), cpu, mem, fs[0] if fs else "?",
        " ".join(open("/proc/loadavg").read().split()[:3]),
        version(["fetchmail", "--version"]), version(["getmail", "--version"]),
        version(["mpop", "--version"]), version(["setpriv", "--version"]),
        version(["dovecot", "--version"]), platform.python_version()))


def _source(fetcher):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rev = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.rstrip("\n")
    built = os.stat(fetcher).st_mtime
    mtime = datetime.datetime.fromtimestamp(built).strftime("%Y-%m-%d %H:%M:%S")
    ctime = subprocess.run(["git", "-C", repo, "log", "-1", "--format=%ct"],
                           capture_output=True, text=True).stdout.strip()
    if ctime.isdigit() and int(ctime) > built:
        rev += " (committed after the build: the binary may predate it)"
    changed = []
    for l in dirty.splitlines():
        path = l[3:]
        if path.startswith("bench/"):
            continue        # the benchmark's own files and results
        try:
            late = os.stat(os.path.join(repo, path)).st_mtime > built
        except OSError:
            late = False
        changed.append(path + ("*" if late else ""))
    return "%s built %s from commit %s%s" % (
        fetcher, mtime, rev, " + uncommitted changes in the working tree (%s; * = modified after "
        "the build, so not in this binary)" % ", ".join(changed) if changed else "")


def _groups(res):
    g = {}
    for r in res["runs"]:
        g.setdefault((r["setting"], r["client"]), []).append(r)
    return g


def _medians(res, n, names):
    L = ["| setting | client | runs | wall s (min-max) | msgs/s | CPU s (user+sys) | CPU ms/msg | "
         "peak RSS MB | Dovecot CPU s | verify |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    med = {}
    for (setting, client), runs in _groups(res).items():
        m = {k: _med(runs, k) for k in ("wall", "cpu", "user", "sys", "rss_kB", "dovecot_cpu")}
        m["ok"] = all(r["ok"] for r in runs)
        med[(setting, client)] = m
        walls = [r["wall"] for r in runs]
        nok = sum(r["ok"] for r in runs)
        ver = "OK %d/%d" % (nok, len(runs)) if m["ok"] else "**FAIL** %d/%d ok" % (nok, len(runs))
        hdr = max(r["verify"]["hdr_changed"] for r in runs)
        if hdr:
            ver += " (headers re-written in %d msgs)" % hdr
        L.append("| %s | %s | %d | %s (%s-%s) | %s | %s (%s+%s) | %s | %s | %s | %s |" % (
            names[setting], client, len(runs), _f(m["wall"]), _f(min(walls)), _f(max(walls)),
            _f(_ratio(n, m["wall"]), "%.1f"), _f(m["cpu"]), _f(m["user"]), _f(m["sys"]),
            _f(_ratio(1000 * m["cpu"], n), "%.3f"), _f(m["rss_kB"] / 1024, "%.1f"),
            _f(m["dovecot_cpu"]), ver))
    return "\n".join(L), med


def _ratios(med, names):
    """peer/ours per setting and protocol, with the issue's targets."""
    L = ["| setting | peer | ours | wall peer/ours | CPU peer/ours | target | result |",
         "|---|---|---|---|---|---|---|"]
    verdicts = []
    for (setting, client), m in med.items():
        prog, proto = client.split("-")
        ours = med.get((setting, "ours-" + proto))
        if prog == "ours" or ours is None:
            continue
        rw, rc = _ratio(m["wall"], ours["wall"]), _ratio(m["cpu"], ours["cpu"])
        if setting == "delay":
            need = 10.0 if prog == "fetchmail" else 1.0
            tgt = "wall >= 10" if prog == "fetchmail" else "wall > 1"
            ok = rw >= need if prog == "fetchmail" else rw > 1
        else:
            tgt, ok = "wall > 1 and CPU > 1", rw > 1 and rc > 1
        why = ""
        if not ours["ok"]:
            ok, why = False, " (ours failed verification)"
        elif not m["ok"]:
            why = " (peer failed verification)"
        res = ("**PASS**" if ok else "**MISS**") + why
        verdicts.append((names[setting], client, ok))
        L.append("| %s | %s | ours-%s | %s | %s | %s | %s |" % (
            names[setting], client, proto, _f(rw), _f(rc), tgt, res))
    return "\n".join(L), verdicts


def _detail(res, names):
    L = ["| setting | client | rep | wall s | CPU s | user s | sys s | peak RSS MB | Dovecot CPU s | "
         "proxy CPU s | other CPU s | exit | upstream left | verify | fields added |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        v = r["verify"]
        L.append("| %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %.1f | %.2f | %s | %s | %d | %d | %s | %s |" % (
            names[r["setting"]], r["client"], r["rep"], r["wall"], r["cpu"], r["user"], r["sys"],
            r["rss_kB"] / 1024, r["dovecot_cpu"], _f(r["proxy_cpu"]), _f(r.get("other_cpu")),
            r["rc"], r["left"],
            r["status"] + (" (hdr re-written: %d)" % v["hdr_changed"] if v["hdr_changed"] else ""),
            ", ".join(v["added"])))
    return "\n".join(L)


def _commands(res, names):
    seen, L = set(), []
    for r in res["runs"]:
        key = (r["setting"], r["client"])
        if key in seen:
            continue
        seen.add(key)
        L.append("%s, %s:\n    %s" % (names[r["setting"]], r["client"], r["cmd"]))
        if r["setting"] == res["runs"][0]["setting"]:
            for path, text in r["files"].items():
                body = "".join("      " + l + "\n" for l in text.splitlines())
                L.append(("    %s:\n%s" % (path, body)).rstrip())
    return "\n".join(L)


def source(fetcher):
    """The binary and the tree it came from; call before the runs."""
    return _source(fetcher)


def build(res, a, notes, names, cmdline, fetcher, elapsed, version):
    n = a.count
    table, med = _medians(res, n, names)
    ratios, verdicts = _ratios(med, names)
    reps = "loopback: %d rep(s) per client" % a.reps
    if "delay" in a.settings:
        reps += "; %s: %d rep(s) for ours and mpop, %d for fetchmail and getmail6 (minutes per run)" % (
            names["delay"], a.reps, a.slow_reps)
    out = ["## bench/fetch — %s%s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                      " (--quick)" if a.quick else ""), "",
           "Command: `%s` (as root; total run %.0f s)  " % (cmdline.strip(), elapsed),
           "Binary: %s (working tree as found when the bench started)  " % res.get("source", "?"),
           "Machine: %s  " % _machine(version, a.workdir),
           "Corpus: %s (tests/integration/fixtures/corpus.py), hard-linked into the private Dovecot's "
           "empty Maildir before every run (index/uidlist removed); every client delivers into an empty "
           "Maildir with fresh state and deletes what it fetched.  " % res.get("corpus"),
           "Settings: loopback = clients connect to Dovecot directly on 127.0.0.1; %s = through "
           "tests/integration/fixtures/proxy.py (%g ms each way, one proxy process per port, started once "
           "for the setting; the proxy ACKs locally, so round trips are emulated, not slow start or a "
           "bandwidth limit).  " % (names.get("delay", "delay"), a.delay_ms),
           "Reps: %s; runs alternate client by client in the order %s.  " % (reps, ", ".join(a.clients)),
           "Measured: wall = fork to reap; CPU (user+sys) and peak RSS by `/usr/bin/time` (wait4 rusage "
           "of the client: includes the children it reaped, e.g. fetchmail's MDA; peak RSS is that of "
           "the largest single process); "
           "Dovecot CPU = utime+stime+cutime+cstime delta over the Dovecot process tree; other CPU = "
           "the machine's busy CPU time (/proc/stat) during the run minus client, Dovecot and proxy: "
           "whatever else ran meanwhile (near 0 on a quiet machine; with 2 cores, large values mean "
           "the run competed for CPU). Every client "
           "runs as uid 65534 (setpriv; getmail refuses to deliver as root).  ",
           "Verify: exactly %d files, every corpus message once by Message-ID, body byte-identical after "
           "CRLF->LF; upstream must be empty afterwards. Header changes are counted, not failed." % n,
           "", table, "",
           "Ratios (medians; > 1 means ours is faster / uses less CPU; each peer against ours on the same "
           "protocol):", "", ratios, "",
           "Targets (issue 5): through the %s at least 10x faster than fetchmail and faster than every "
           "peer; on loopback faster than every peer with less CPU per message: %d of %d comparisons "
           "**PASS**%s." % (names.get("delay", "delay"), sum(ok for _, _, ok in verdicts), len(verdicts),
                            "" if all(ok for _, _, ok in verdicts) else "; missed: " + ", ".join(
                                "%s %s" % (s, c) for s, c, ok in verdicts if not ok)),
           "", "Per-run detail:", "", _detail(res, names), "",
           "Command lines (run with `setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=... "
           "LC_ALL=C.UTF-8` in front) and configuration files (loopback ports; the delay runs differ "
           "only in the port):", "", "```", _commands(res, names), "```"]
    for note in notes:
        out.append("* NOTE: " + note)
    return "\n".join(out)
