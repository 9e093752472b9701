#!/usr/bin/python3
"""Run a command while sampling CPU and RSS of daemon process trees
(bench/popd copy of shared/peers/serve/procmon.py).

  procmon.py -p PID [-p PID ...] [-i 0.2] -- CMD ARGS...

For each root PID the tree (root + all descendants) is sampled every -i s.
CPU = delta of (utime+stime+cutime+cstime) summed over the tree, so CPU of
children that exited (and were reaped by the root) is counted.
RSS sums double-count shared pages; PSS (from smaps_rollup) does not.
Reports: daemon CPU seconds, average CPU % (of one core), peak and mean of
the summed RSS, peak process count; and the command's own CPU (rusage).
Last line: 'PROCMON {json}'.
"""
import os, sys, time, json, subprocess, resource, argparse
TCK = os.sysconf("SC_CLK_TCK"); PG = os.sysconf("SC_PAGE_SIZE")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # bench/
from proctree import children_map, tree  # noqa: E402


PSS = [0]
def sample(roots, per=None):
    cm = children_map(); cpu = 0; rss = 0; n = 0; PSS[0] = 0
    for r in roots:
        c_r = 0; r_r = 0; p_r = 0
        for p in tree(r, cm):
            try:
                with open("/proc/%d/stat" % p) as f:
                    s = f.read()
                x = s[s.rindex(")") + 2:].split()
                c = sum(int(v) for v in x[11:15]); m = int(x[21]) * PG
                cpu += c; rss += m; n += 1; c_r += c; r_r += m
                if PSS:
                    with open("/proc/%d/smaps_rollup" % p) as f:
                        for l in f:
                            if l.startswith("Pss:"):
                                v = int(l.split()[1]) * 1024; PSS[0] += v; p_r += v; break
            except (OSError, ValueError):
                pass
        if per is not None:
            e = per.setdefault(r, {"cpu0": c_r, "peak": 0, "pss": 0}); e["cpu1"] = c_r; e["peak"] = max(e["peak"], r_r); e["pss"] = max(e["pss"], p_r)
    global PSS_PEAK
    PSS_PEAK = max(PSS_PEAK, PSS[0])
    return cpu / TCK, rss, n
PSS_PEAK = 0

ap = argparse.ArgumentParser()
ap.add_argument("-p", "--pid", type=int, action="append", required=True)
ap.add_argument("-i", "--interval", type=float, default=0.2)
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
per = {}
c0, r0, n0 = sample(a.pid, per); t0 = time.time()
proc = subprocess.Popen(cmd)
peak = r0; rs = []; pn = n0
while proc.poll() is None:
    time.sleep(a.interval)
    c, r, n = sample(a.pid, per); peak = max(peak, r); rs.append(r); pn = max(pn, n)
wall = time.time() - t0
c1, r1, _ = sample(a.pid, per)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
out = {"wall_s": round(wall, 2), "daemon_cpu_s": round(c1 - c0, 2),
       "daemon_cpu_pct": round(100 * (c1 - c0) / wall, 1),
       "daemon_rss_peak_MB": round(peak / 2**20, 1),
       "daemon_rss_mean_MB": round((sum(rs) / len(rs) if rs else r1) / 2**20, 1),
       "daemon_pss_peak_MB": round(PSS_PEAK / 2**20, 1),
       "daemon_rss_idle_before_MB": round(r0 / 2**20, 1),
       "daemon_procs_peak": pn,
       "client_cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "rc": proc.returncode,
       "per_root": {str(k): {"cpu_s": round((v["cpu1"] - v["cpu0"]) / TCK, 2),
                             "rss_peak_MB": round(v["peak"] / 2**20, 1), "pss_peak_MB": round(v["pss"] / 2**20, 1)} for k, v in per.items()}}
print("PROCMON " + json.dumps(out), flush=True)
sys.exit(proc.returncode)
