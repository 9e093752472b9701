"""bench/dyndns: the RESULTS.md section, and the checks of our expectations."""
import os
import platform
import statistics
import subprocess

T0, P = 1799020800, 300


def _pt(k):
    return T0 + P * k


def _pkg(name):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True,
                       text=True)
    return r.stdout.strip() or "?"


def _machine():
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return ("nproc %d, kernel %s, %s; load average at the end %s; ddclient %s, inadyn %s, "
            "libfaketime %s, Python %s" % (
                os.cpu_count(), platform.release(), cpu,
                " ".join(open("/proc/loadavg").read().split()[:3]), _pkg("ddclient"),
                _pkg("inadyn"), _pkg("libfaketime"), platform.python_version()))


def _accepted(r):
    return r["served"].split(" ")[0] in ("good", "nochg")


def analyse(w, reqs):
    """Counts for one client's week."""
    A = w["addresses"]
    ups = [r for r in reqs if r["kind"] == "update"]
    a = {"checkip": sum(r["kind"] == "checkip" for r in reqs), "updates": len(ups),
         "other": [r["path"] for r in reqs if r["kind"] == "other"]}
    a["accepted"] = [sum(_accepted(r) and r["q"].get("myip") == ip for r in ups) for ip in A]
    a["sent"] = [sum(r["q"].get("myip") == ip for r in ups) for ip in A]
    a["wrong"] = [r["q"].get("myip", "(none)") or "(empty)" for r in ups
                  if r["q"].get("myip") not in A]
    bad = [r for r in ups if r["served"] == "badauth"]
    fix = _pt(w["fix"]) - 1
    a["badauth_answers"] = len(bad)
    a["while_badauth"] = (sum(bad[0]["sim"] < r["sim"] < fix for r in ups) if bad else None)
    e0, e1 = _pt(w["e911"][0]) - 150, _pt(w["e911"][1]) - 150
    a["in_911"] = sum(e0 <= r["sim"] < e1 for r in ups)
    seq = []
    for r in ups:
        if r["sim"] >= e0:
            seq.append(r)
            if r["served"] != "911":
                break
    a["gaps_911_min"] = [round((y["sim"] - x["sim"]) / 60) for x, y in zip(seq, seq[1:])]
    lags = {}
    for name, k in list(w["changes"].items()):
        t = _pt(k) - 150
        first = [r["sim"] for r in ups if r["sim"] >= t and r["q"].get("myip") == A["ABCD".index(name)]]
        lags[name] = round(first[0] - t) if first else None
    a["lag_s"] = lags
    after_fix = [r for r in ups if r["sim"] >= fix and _accepted(r)]
    a["resumed_after_fix_s"] = round(after_fix[0]["sim"] - fix - 1) if after_fix else None
    return a


def expected_gaps(w):
    """Our rule: 30 min, doubling, until an attempt falls after the episode."""
    t, g, out = _pt(w["e911"][0]), 1800, []
    while t < _pt(w["e911"][1]) - 150:
        t += g
        out.append(g // 60)
        g = min(g * 2, 8 * 3600)
    return out


def verdicts(w, a, full, leftovers):
    v = []
    def check(ok, text):
        v.append("* %s: %s" % (text, "**PASS**" if ok else "**MISS**"))
        return ok
    ok = check(a["accepted"] == [1, 1, 1, 1] and a["sent"][:2] == [1, 1],
               "exactly 4 accepted updates, one per address (A at the first run, B, C, D)")
    ok &= check(not a["wrong"], "no wrong update (private or empty myip) during the check-IP glitches")
    ok &= check(a["while_badauth"] == 0 and a["badauth_answers"] == 1,
                "0 update requests while badauth stood (1 badauth answer, then silence until the config fix)")
    ok &= check(a["resumed_after_fix_s"] == 0, "resumed at the first run after the secret changed")
    ok &= check(a["gaps_911_min"] == expected_gaps(w),
                "gaps after 911 %s min (expected %s)" % (a["gaps_911_min"], expected_gaps(w)))
    ok &= check(a["checkip"] == w["polls"] and not a["other"], "one check-IP request per run, nothing else")
    ok &= check(not leftovers, "no client process left running")
    if not full:
        v.append("* (a shortened week: the checks above need the whole week)")
    return v, ok


def _med(xs, key):
    return statistics.median(x[key] for x in xs) if xs else float("nan")


def week_table(res):
    w = res["week"]
    head = ["| client | runs | check-IP requests | update requests | accepted updates A / B / C / D | "
            "update requests carrying A / B / C / D | wrong updates (myip sent) | update requests while "
            "badauth stood | badauth answers | update requests during the 6 h 911 episode | gaps after "
            "the first 911 (min) | delay after change B / C / D (s) | first accepted update after the "
            "config fix (s) | exit codes | real s |", "|" + "---|" * 15]
    A = {}
    for n in res["names"]:
        wk = res["weeks"][n]
        a = analyse(w, wk["requests"])
        A[n] = a
        wrong = ", ".join("%s x%d" % (ip, a["wrong"].count(ip)) for ip in sorted(set(a["wrong"])))
        gaps = a["gaps_911_min"]
        gtext = ", ".join(map(str, gaps[:8])) + (" ... (%d in all)" % len(gaps) if len(gaps) > 8 else "")
        head.append("| %s | %d | %d | %d | %s | %s | %d%s | %s | %d | %d | %s | %s | %s | %s | %.0f |" % (
            n, sum(wk["exit_codes"].values()), a["checkip"], a["updates"],
            " / ".join(map(str, a["accepted"])), " / ".join(map(str, a["sent"])), len(a["wrong"]),
            " (%s)" % wrong if wrong else "", a["while_badauth"], a["badauth_answers"], a["in_911"],
            gtext or "-", " / ".join(str(a["lag_s"][k]) for k in "BCD"),
            a["resumed_after_fix_s"], " ".join("rc %s: %d" % kv for kv in sorted(wk["exit_codes"].items())),
            wk["real_s"]))
    return "\n".join(head), A


def once_table(res):
    out = ["| client | first run (check-IP + update): wall s / CPU s / peak RSS MB | "
           "next run (nothing changed): wall s / CPU s / peak RSS MB | exit codes | updates seen |",
           "|---|---|---|---|---|"]
    for n in res["names"]:
        o = res["once"][n]
        cells = ["%.3f / %.3f / %.1f" % (_med(o[k], "wall"), _med(o[k], "cpu"), _med(o[k], "rss_kb") / 1024)
                 for k in ("update", "same")]
        rcs = sorted({x["rc"] for k in ("update", "same") for x in o[k]})
        out.append("| %s | %s | %s | %s | %d of %d runs |" % (n, cells[0], cells[1], rcs,
                                                             o["updates_seen"], len(o["update"])))
    return "\n".join(out)


def build(res, a):
    w = dict(res["week"])
    full = res["polls_run"] == w["polls"]
    w["polls"] = res["polls_run"]
    wt, A = week_table(res)
    out = ["## bench/dyndns — %s%s" % (res["date"], "" if full else " (shortened: %d polls)" % res["polls_run"]),
           "", "Command: `%s` (as root, in a private network namespace; total run %.0f s)  " %
           (a.cmdline.strip(), res["elapsed"]),
           "Binary: %s/dyndns/homemail-dyndns  " % res["builddir"], "Machine: %s  " % _machine()]
    if a.note:
        out.append("Note: %s  " % a.note)
    out += ["", "### A scripted week: one timer run every 5 minutes", "",
            "2,016 runs per client, one at a time per client, each started with libfaketime "
            "(`FAKETIME=\"@<poll time>\"`, the clock runs at x1 from there) at Monday 2027-01-04 "
            "00:00 + k x 300 s; state kept between runs. The three clients ran their weeks at the "
            "same time, each against its own instance of the same fixture (bench/dyndns/fixture.py: "
            "HTTPS on 127.0.0.1, own CA, every request logged with its simulated time). Script, in "
            "polls (a change \"at k\" is made 150 s before poll k): the check-IP page says A "
            "(81.2.69.10), B (.20) at 504, C (.30) at 1008, D (.40) at 1512; it says 192.168.1.5 for polls 700-705 and "
            "serves an HTML error page without an address for polls 850-855; the provider answers "
            "`911` to every update for 6 h from change C (polls 1008-1079); the password is changed at "
            "the provider at poll 1400 (so the update for D gets `badauth`) and in the client's config "
            "at poll 1800 (the user's fix). ddclient: `use=web`, `protocol=dyndns2`, `ssl=yes`; "
            "inadyn: a `custom` section (its built-in dyndns2 plugins cannot be pointed at another "
            "server); ours: `detect = [ \"web\" ]`, one dyndns2 record. Each run is stopped by PID "
            "after 10 s (none was, unless the exit codes say `rc None`).", "", wt, ""]
    ours = "homemail-dyndns"
    ok = True
    if ours in A:
        v, ok = verdicts(w, A[ours], full, res["leftovers"])
        out += ["Checks (ours):", ""] + v + [""]
    out += ["### One `--once` run", "",
            "Median of %d runs each, real clock, no libfaketime, `/usr/bin/time -f '%%e %%U %%S %%M'`: "
            "a first run with no state (check-IP, then an update) and the run after it (check-IP only)."
            % len(next(iter(res["once"].values()))["update"]), "", once_table(res), ""]
    return "\n".join(out), ok
