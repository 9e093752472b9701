"""bench/relay: CPU and memory of daemon process trees while a load runs.

    s = Sampler({"relay": pid, "smarthost": pid2}, interval=0.25).start()
    ...                                    # the load
    res = s.stop()   # {"relay": {"cpu": s, "rss_peak": B, "pss_peak": B, "procs_peak": n}, ...}
    snapshot(pid)    # {"rss": B, "pss": B, "procs": n} of one tree, now
    processes(pid)   # [{"pid", "name", "rss", "pss"}] of every process of one tree, now
    mappings(pid)    # {"libcrypto.so.3": {"rss": B, "pss": B}, "[heap]": ...} of one process
    a = split(pid); ...; split_delta(a, split(pid))   # {"own", "reaped", "helpers"} CPU s

CPU of a tree is utime+stime+cutime+cstime over the root and all its
descendants (bench/proctree.py), so the sessions a daemon already reaped
count; the delta from start() to stop() is what the load cost. RSS sums
count shared pages once per process (an upper bound), PSS
(smaps_rollup) shares them out: both are reported.
"""
import os
import threading

from proctree import TCK, children_map, tree

PAGE = os.sysconf("SC_PAGE_SIZE")


def own_and_reaped(pid):
    """(utime+stime, cutime+cstime) of PID in ticks, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        x = s[s.rindex(")") + 2:].split()
        return int(x[11]) + int(x[12]), int(x[13]) + int(x[14])
    except (OSError, ValueError, IndexError):
        return None


def split(root):
    """{"own": ticks, "reaped": ticks, "children": {pid: ticks}} of ROOT now:
    its own CPU, that of the children it reaped, and each live child's tree."""
    cm = children_map()
    r = own_and_reaped(root) or (0, 0)
    return {"own": r[0], "reaped": r[1],
            "children": {c: _tree(c, cm, False)[0] for c in cm.get(root, [])}}


def split_delta(a, b):
    """CPU s between two split()s: the root's own, its reaped children's,
    and the live children present in both (long-lived helpers), summed."""
    kids = sum(b["children"][c] - a["children"][c] for c in b["children"] if c in a["children"])
    return {"own": (b["own"] - a["own"]) / TCK, "reaped": (b["reaped"] - a["reaped"]) / TCK,
            "helpers": kids / TCK}


def _proc(pid, pss=True):
    """(cpu ticks, rss bytes, pss bytes) of one process, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        x = s[s.rindex(")") + 2:].split()
        cpu = sum(int(v) for v in x[11:15])
        rss = int(x[21]) * PAGE
        p = 0
        if pss:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        p = int(line.split()[1]) * 1024
                        break
        return cpu, rss, p
    except (OSError, ValueError, IndexError):
        return None


def _tree(root, cm, pss=True):
    cpu = rss = ps = n = 0
    for p in tree(root, cm):
        r = _proc(p, pss)
        if r is None:
            continue
        cpu += r[0]
        rss += r[1]
        ps += r[2]
        n += 1
    return cpu, rss, ps, n


def snapshot(root):
    """{"rss", "pss", "procs"} of ROOT's tree now (bytes)."""
    _, rss, ps, n = _tree(root, children_map())
    return {"rss": rss, "pss": ps, "procs": n}


def processes(root):
    """[{"pid", "name" (comm), "rss", "pss"}] of ROOT's tree now (bytes);
    a process that ended meanwhile is left out."""
    out = []
    for p in tree(root, children_map()):
        r = _proc(p)
        try:
            with open("/proc/%d/comm" % p) as f:
                name = f.read().strip()
        except OSError:
            continue
        if r is not None:
            out.append({"pid": p, "name": name, "rss": r[1], "pss": r[2]})
    return out


def mappings(pid):
    """{mapping: {"rss", "pss"}} of one process now (bytes), from
    /proc/PID/smaps: a file mapping by its base name (all its segments
    together), the others as the kernel names them ("[heap]", "[stack]")
    or "[anon]"; {} if the process is gone."""
    out, name = {}, None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                key = line.split(None, 1)[0]
                if not key.endswith(":"):      # a mapping's header line
                    fields = line.split(None, 5)
                    path = fields[5].strip() if len(fields) > 5 else ""
                    name = os.path.basename(path) if path.startswith("/") else (path or "[anon]")
                    out.setdefault(name, {"rss": 0, "pss": 0})
                elif key in ("Rss:", "Pss:") and name is not None:
                    out[name][key[:-1].lower()] += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return out


class Sampler:
    def __init__(self, roots, interval=0.25, pss=True):
        self.roots = dict(roots)
        self.interval = interval
        self.pss = pss
        self.res = {k: {"cpu0": 0, "cpu1": 0, "rss_peak": 0, "pss_peak": 0, "procs_peak": 0}
                    for k in self.roots}
        self._stop = threading.Event()
        self._thread = None

    def _sample(self, first=False):
        cm = children_map()
        for k, pid in self.roots.items():
            cpu, rss, ps, n = _tree(pid, cm, self.pss)
            r = self.res[k]
            if first:
                r["cpu0"] = cpu
            r["cpu1"] = max(r["cpu1"], cpu)
            r["rss_peak"] = max(r["rss_peak"], rss)
            r["pss_peak"] = max(r["pss_peak"], ps)
            r["procs_peak"] = max(r["procs_peak"], n)

    def _run(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self):
        self._sample(first=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._sample()
        return {k: {"cpu": (r["cpu1"] - r["cpu0"]) / TCK, "rss_peak": r["rss_peak"],
                    "pss_peak": r["pss_peak"], "procs_peak": r["procs_peak"]}
                for k, r in self.res.items()}
