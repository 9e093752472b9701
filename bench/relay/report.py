"""bench/relay: the RESULTS.md section.

    source(bins)          the binaries and the tree they came from (call first)
    build(res, args)      the markdown text
"""
import datetime
import os
import platform
import statistics
import subprocess

MB = 2 ** 20


def _f(x, fmt="%.2f"):
    return "n/a" if x is None or x != x else fmt % x


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _ratio(a, b):
    try:
        return a / b
    except (TypeError, ZeroDivisionError):
        return None


def _q(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


def _version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        return lines[0].strip() if lines else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def source(bins):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rev = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    out = []
    for name, path in bins.items():
        try:
            m = datetime.datetime.fromtimestamp(os.stat(path).st_mtime).strftime("%Y-%m-%d %H:%M")
        except OSError:
            m = "missing"
        out.append("%s (built %s)" % (path, m))
    return "%s; source tree at %s" % ("; ".join(out), rev)


def _machine(res):
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return ("nproc %d, kernel %s, %s; load average at the end %s; Postfix %s; %s; %s; Dovecot %s; "
            "Python %s" % (os.cpu_count(), platform.release(), cpu,
                           " ".join(open("/proc/loadavg").read().split()[:3]),
                           _version(["postconf", "-d", "-h", "mail_version"]), _version(["msmtp", "--version"]),
                           _version(["fetchmail", "--version"]), _version(["dovecot", "--version"]),
                           platform.python_version()))


def _verdict(ok):
    return "**PASS**" if ok else "**MISS**"


# ------------------------------------------------------------------ relay
def _relay(r, a):
    n = a.messages
    by = {}
    for run in r["runs"]:
        by.setdefault(run["system"], []).append(run)
    L = ["| relay | runs | accepted msg/s | end-to-end s (min-max) | end-to-end msg/s | relay CPU ms/msg | "
         "smart host CPU ms/msg | auth CPU s | relay peak RSS-sum / PSS MB | relay peak procs | "
         "idle RSS-sum / PSS MB (procs) | smart-host connections | verify |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    med = {}
    for system, runs in by.items():
        e2e = [x["e2e_s"] for x in runs]
        m = {"acc": _med([n / x["accept_s"] for x in runs]),
             "e2e": _med(e2e), "rate": _med([n / x for x in e2e if x]),
             "cpu": _med([1000 * x["res"]["relay"]["cpu"] / n for x in runs]),
             "sh_cpu": _med([1000 * x["res"]["smarthost"]["cpu"] / n for x in runs]),
             "auth": _med([x["res"]["auth"]["cpu"] for x in runs]),
             "rss": _med([x["res"]["relay"]["rss_peak"] / MB for x in runs]),
             "pss": _med([x["res"]["relay"]["pss_peak"] / MB for x in runs]),
             "procs": max(x["res"]["relay"]["procs_peak"] for x in runs),
             "irss": _med([x["idle"]["rss"] / MB for x in runs]),
             "ipss": _med([x["idle"]["pss"] / MB for x in runs]),
             "iprocs": max(x["idle"]["procs"] for x in runs),
             "conn": _med([x["connects"] for x in runs]),
             "ok": all(x["ok"] for x in runs)}
        med[system] = m
        okn = sum(x["ok"] for x in runs)
        L.append("| %s | %d | %s | %s (%s-%s) | %s | %s | %s | %s | %s / %s | %d | %s / %s (%d) | %s | %s |" % (
            system, len(runs), _f(m["acc"], "%.0f"), _f(m["e2e"]),
            _f(min((x for x in e2e if x), default=None)), _f(max((x for x in e2e if x), default=None)),
            _f(m["rate"], "%.0f"), _f(m["cpu"]), _f(m["sh_cpu"]), _f(m["auth"]), _f(m["rss"], "%.1f"),
            _f(m["pss"], "%.1f"), m["procs"], _f(m["irss"], "%.1f"), _f(m["ipss"], "%.1f"), m["iprocs"],
            _f(m["conn"], "%.0f"), "OK %d/%d" % (okn, len(runs)) if m["ok"] else "**FAIL** %d/%d ok" % (okn, len(runs))))
    T = ["| ours against | end-to-end rate ours/peer (>= 2) | relay CPU per msg ours/peer (<= 0.5) | "
         "idle RSS-sum ours/peer (<= 0.1) | idle PSS ours/peer (<= 0.1) |", "|---|---|---|---|---|"]
    o = med.get("ours")
    for system, m in med.items():
        if system.startswith("ours") or o is None:
            continue
        rr, rc = _ratio(o["rate"], m["rate"]), _ratio(o["cpu"], m["cpu"])
        ri, rp = _ratio(o["irss"], m["irss"]), _ratio(o["ipss"], m["ipss"])
        T.append("| %s | %s %s | %s %s | %s %s | %s %s |" % (
            system, _f(rr), _verdict(rr is not None and rr >= 2 and o["ok"]), _f(rc),
            _verdict(rc is not None and rc <= 0.5), _f(ri, "%.3f"), _verdict(ri is not None and ri <= 0.1),
            _f(rp, "%.3f"), _verdict(rp is not None and rp <= 0.1)))
    D = ["| relay | rep | accepted s | end-to-end s | relay CPU s | smart host CPU s | auth CPU s | "
         "smtp-source CPU s | machine busy CPU s | relay RSS-sum / PSS peak MB | connections | "
         "authenticated | Received: naming the client (laptop.home.lan) | relay CPU s: master own / "
         "reaped children / long-lived children | verify |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for x in r["runs"]:
        v = x["verify"]
        sp = x.get("split")
        D.append("| %s | %d | %.2f | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f / %.1f | %d | %d | %d | %s | %s |" % (
            x["system"], x["rep"], x["accept_s"], _f(x["e2e_s"]), x["res"]["relay"]["cpu"],
            x["res"]["smarthost"]["cpu"], x["res"]["auth"]["cpu"], x["client_cpu"], x["busy"],
            x["res"]["relay"]["rss_peak"] / MB, x["res"]["relay"]["pss_peak"] / MB, x["connects"],
            v["authenticated"], v["leaks"],
            "%.2f / %.2f / %.2f" % (sp["own"], sp["reaped"], sp["helpers"]) if sp else "n/a", v["summary"]))
    out = ["### Relay: smtp-source -> relay -> smart host", "",
           "`smtp-source -s %d -m %d -l %d -f user@myhost.localdomain -t rcpt@remote.example -M "
           "laptop.home.lan 127.0.0.1:PORT` (one message per connection, smtp-source's default) into a "
           "freshly started relay; end-to-end = from smtp-source's start until the smart host's Maildir "
           "holds all %d. The smart host is a private Postfix (tests/integration/fixtures/postfix.py's "
           "PostfixSmarthost with virtual(8) delivery into one Maildir, 20 in parallel, see "
           "bench/relay/peers.py): STARTTLS required, SASL AUTH through Dovecot, MAIL FROM must be "
           "user@isp.example. Relay CPU = utime+stime+cutime+cstime of the relay's process tree "
           "(reaped children included) from the start of the load to the last arrival; RSS-sum and PSS "
           "sampled every 0.25 s; idle = 3 s after start-up, before any mail. Verify: exactly %d "
           "files at the smart host, every Message-ID once, envelope sender (Return-Path) "
           "user@isp.example, From: rewritten to it, body byte-identical to smtp-source's. Informative: "
           "how many arrived with the smart host's \"Authenticated sender\" note, and how many name the "
           "LAN client's HELO name in a Received: field (Postfix's generic maps leave it; ours drops it "
           "unless relay.full_trace)." % (
               a.sessions, n, a.length, n, n), "", "\n".join(L), "", "\n".join(T), "",
           "Per run:", "", "\n".join(D)]
    if r.get("perf"):
        out += ["", "perf (one more run of ours, `perf record -F 999 --inherit -p RELAY`: the relay's tree, sessions and queue runner included), by command and DSO:",
                "", "```"] + r["perf"]["by_dso"] + ["```", "", "by symbol:", "", "```"] + \
            r["perf"]["by_sym"] + ["```"]
    return "\n".join(out), med


# --------------------------------------------------------------- sendmail
def _sendmail(s):
    L = ["| program | submissions | wall ms median | p10-p90 | max | CPU ms mean | exit != 0 | verify | "
         "From: rewritten |", "|---|---|---|---|---|---|---|---|---|"]
    for p, x in s["progs"].items():
        w, c = x["samples"]["wall"], x["samples"]["cpu"]
        L.append("| %s | %d | %.2f | %.2f-%.2f | %.1f | %.2f | %d | %s | %d |" % (
            p, len(w), statistics.median(w), _q(w, .1), _q(w, .9), max(w), statistics.mean(c),
            x["samples"]["fail"], x["verify"]["summary"], x["verify"]["from_rewritten"]))
    ours = s["progs"].get("ours")
    verdict = ""
    if ours:
        m = statistics.median(ours["samples"]["wall"])
        verdict = "Target (issue 10): homemail-sendmail <= 5 ms per submission: median %.2f ms %s." % (
            m, _verdict(m <= 5 and ours["verify"]["ok"]))
    cmds = ["    %s: %s < MESSAGE" % (p, " ".join(x["argv"])) for p, x in s["progs"].items()]
    return "\n".join([
        "### Local submissions: homemail-sendmail, Postfix's sendmail, msmtp", "",
        "%d sequential submissions each, round by round with the order rotating; each is one posix_spawn "
        "(no shell) with a ~3.9 KB message on stdin, wall = spawn to reap, CPU = the child's rusage "
        "(with its children: postdrop). ours and Postfix's sendmail hand the message to their relay's "
        "queue (both relays running, started fresh); msmtp talks to the smart host itself (STARTTLS, "
        "AUTH). Loop %.1f s; everything at the smart host %s s later. Daemon CPU during the loop: ours "
        "%.2f s, Postfix %.2f s." % (s["n"], s["loop_s"], _f(s["drain_s"]), s["daemons"]["ours"]["cpu"],
                                    s["daemons"]["postfix"]["cpu"]),
        "", "\n".join(L), "", verdict, "", "```"] + cmds + ["```"])


# ---------------------------------------------------------------- receive
def _receive(r, a):
    by = {}
    for x in r["runs"]:
        by.setdefault(x["system"], []).append(x)
    L = ["| path | runs | client s | until all in the Maildir s (min-max) | msgs/s | client CPU s | "
         "MTA CPU s | Dovecot CPU s | verify |", "|---|---|---|---|---|---|---|---|---|"]
    med = {}
    for system, runs in by.items():
        e = [x["e2e_s"] for x in runs if x["e2e_s"]]
        m = {"client": _med([x["client_s"] for x in runs]), "e2e": _med(e),
             "cpu": _med([x["client_cpu"] for x in runs]), "mta": _med([x["mta_cpu"] for x in runs]),
             "dc": _med([x["dovecot_cpu"] for x in runs]), "ok": all(x["ok"] for x in runs)}
        med[system] = m
        okn = sum(x["ok"] for x in runs)
        L.append("| %s | %d | %s | %s (%s-%s) | %s | %s | %s | %s | %s |" % (
            system, len(runs), _f(m["client"]), _f(m["e2e"]), _f(min(e, default=None)),
            _f(max(e, default=None)), _f(_ratio(a.fetch_count, m["e2e"]), "%.0f"), _f(m["cpu"]),
            _f(m["mta"]), _f(m["dc"]),
            "OK %d/%d" % (okn, len(runs)) if m["ok"] else "**FAIL** %d/%d ok" % (okn, len(runs))))
    T = []
    o, d, f = med.get("ours-relay"), med.get("ours-direct"), med.get("fetchmail-postfix")
    if o and f:
        x = _ratio(f["e2e"], o["e2e"])
        T.append("* fetchmail -> Postfix / ours via the relay, end-to-end: %s (target >= 20) %s" % (
            _f(x), _verdict(x is not None and x >= 20 and o["ok"])))
    if o and d:
        x = _ratio(o["e2e"], d["e2e"])
        T.append("* ours via the relay / ours direct (deliver = \"local\"): %s (target <= 1.3) %s" % (
            _f(x), _verdict(x is not None and x <= 1.3 and o["ok"])))
    D = ["| path | rep | client s | end-to-end s | client CPU s | MTA CPU s | Dovecot CPU s | machine busy CPU s | "
         "exit | left upstream | verify |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for x in r["runs"]:
        D.append("| %s | %d | %.2f | %s | %.2f | %s | %.2f | %.2f | %d | %d | %s |" % (
            x["system"], x["rep"], x["client_s"], _f(x["e2e_s"]), x["client_cpu"], _f(x["mta_cpu"]),
            x["dovecot_cpu"], x["busy"], x["rc"], x["left"], x["verify"]["summary"]))
    return "\n".join([
        "### Receive path: upstream Dovecot -> local Maildir", "",
        "%d messages (%.1f MB; tests/integration/fixtures/corpus.py, seed 1, as bench/fetch) hard-linked "
        "into a private Dovecot's Maildir before every run, fetched over %s on loopback and deleted "
        "upstream: ours-relay = homemail-fetcher --once with deliver = smtp to a freshly started "
        "homemail-relay, which delivers to the local user's Maildir; ours-direct = the same fetcher with "
        "deliver = \"local\"; fetchmail-postfix = fetchmail (fetchall nokeep, smtphost = a freshly started "
        "private Postfix, virtual(8) into a Maildir: tests/integration/fixtures/postfix.py). End-to-end = "
        "client start until the Maildir holds all messages (the relay delivers after the client quits). "
        "Every path durable at every hop. Verify as bench/fetch (every message once, body identical, "
        "upstream empty)." % (a.fetch_count, r["corpus_bytes"] / 1e6, a.proto.upper()),
        "", "\n".join(L), ""] + T + ["", "Per run:", "", "\n".join(D)])


def build(res, a):
    out = ["## bench/relay — %s%s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                     " (--quick)" if a.quick else ""), "",
           "Command: `%s` (as root; total run %.0f s)  " % (a.cmdline.strip(), res["elapsed"]),
           "Binaries: %s  " % res["source"],
           "Machine: %s  " % _machine(res)]
    if a.note:
        out.append("Note: %s  " % a.note)
    out.append("")
    if "relay" in res:
        out += [_relay(res["relay"], a)[0], ""]
    if "sendmail" in res:
        out += [_sendmail(res["sendmail"]), ""]
    if "receive" in res:
        out += [_receive(res["receive"], a), ""]
    return "\n".join(out)
