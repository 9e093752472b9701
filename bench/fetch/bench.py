#!/usr/bin/python3
"""bench/fetch driver: homemail-fetcher vs fetchmail, getmail6 and mpop.
Run through bench/fetch/run.sh (see there for the options).

Everything lives under --workdir (default /tmp/hm-bench-fetch, wiped first);
nothing is written into the source tree except the section appended to
bench/RESULTS.md. Dovecot (tests/integration/fixtures/dovecot.py) runs as
our child in its own session; the delay proxies
(tests/integration/fixtures/proxy.py, command-line mode) are our children;
a client that overruns --timeout is killed by its own process group. All
are stopped by PID, also on SIGINT/SIGTERM.
"""
import argparse, json, os, shlex, shutil, signal, statistics
import subprocess, sys, threading, time, types

sys.dont_write_bytecode = True          # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))   # bench/: proctree
try:
    import pytest  # noqa: F401  (fixtures/__init__ imports it)
except ImportError:
    # fixtures only use pytest.fail() in helpers this bench does not call
    stub = types.ModuleType("pytest")
    stub.fail = lambda msg, pytrace=True: (_ for _ in ()).throw(RuntimeError(msg))
    sys.modules["pytest"] = stub
from fixtures import corpus as corpusmod       # noqa: E402
from fixtures.dovecot import Dovecot           # noqa: E402
from fixtures.tls import make_cert             # noqa: E402
import clients                                 # noqa: E402
from proctree import tree_cpu                  # noqa: E402
from verify import Index                       # noqa: E402

PY = "/usr/bin/python3"
PROXY_PY = os.path.join(REPO, "tests", "integration", "fixtures", "proxy.py")
NOBODY = 65534
TCK = os.sysconf("SC_CLK_TCK")
RUNAS = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]

ap = argparse.ArgumentParser(prog="run.sh")
ap.add_argument("--quick", action="store_true", help="200 messages, 1 rep, 40 ms for ours+mpop only")
ap.add_argument("--builddir", default=os.environ.get("HM_BUILDDIR", "/work/main/build"))
ap.add_argument("--workdir", default="/tmp/hm-bench-fetch")
ap.add_argument("--count", type=int, help="corpus messages (2000)")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--reps", type=int, help="reps per client and setting (3)")
ap.add_argument("--slow-reps", type=int, help="reps of fetchmail/getmail at the delay setting (1)")
ap.add_argument("--delay-ms", type=float, default=20.0, help="one-way proxy delay (20)")
ap.add_argument("--settings", default="loopback,delay")
ap.add_argument("--clients", default=",".join(clients.CLIENTS))
ap.add_argument("--timeout", type=float, default=1800.0, help="per client run, seconds")
ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
ap.add_argument("--no-results", action="store_true")
ap.add_argument("--keep", action="store_true", help="keep the work directory")
A = ap.parse_args()
A.count = A.count or (200 if A.quick else 2000)
A.reps = A.reps or (1 if A.quick else 3)
A.slow_reps = A.slow_reps if A.slow_reps is not None else (0 if A.quick else 1)
A.settings = A.settings.split(",")
A.clients = A.clients.split(",")
for c in A.clients:
    if c not in clients.CLIENTS:
        raise SystemExit("unknown client %s (have %s)" % (c, ", ".join(clients.CLIENTS)))
DELAY = "%g ms proxy" % (2 * A.delay_ms)
SETTING_NAME = {"loopback": "loopback", "delay": DELAY}
CMDLINE = ("HM_BUILDDIR=%s " % shlex.quote(os.environ["HM_BUILDDIR"]) if os.environ.get("HM_BUILDDIR") else "") + \
    "bench/fetch/run.sh " + " ".join(shlex.quote(x) for x in sys.argv[1:])
W = A.workdir
FETCHER = os.path.join(A.builddir, "fetcher", "homemail-fetcher")
NOTES = []
T0 = time.time()
CHILDREN = {}      # name -> Popen of our long-lived children (proxies)
RUNNING = {}       # the client run in progress: {"pid": pid}


def log(*a):
    print("[%7.1fs]" % (time.time() - T0), *a, flush=True)


def busy_cpu():
    """CPU s the whole machine spent busy (user+nice+system+irq+softirq+steal)."""
    x = open("/proc/stat").readline().split()[1:]
    return sum(int(x[i]) for i in (0, 1, 2, 5, 6, 7)) / TCK


def chown_tree(path):
    for root, dirs, files in os.walk(path):
        os.chown(root, NOBODY, NOBODY)
        for f in files:
            os.chown(os.path.join(root, f), NOBODY, NOBODY)


def count_files(md):
    return sum(len(os.listdir(os.path.join(md, s))) for s in ("new", "cur")
               if os.path.isdir(os.path.join(md, s)))


def version(argv, pick=0):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and "WARNING" not in l]
        return lines[pick].strip() if lines else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# ---------------------------------------------------------------- processes
def start_proxy(name, target):
    p = subprocess.Popen([PY, PROXY_PY, "--target-port", str(target), "--delay-ms", "%g" % A.delay_ms],
                         stdout=subprocess.PIPE, stderr=open(os.path.join(W, "logs", name + ".log"), "ab"),
                         text=True)
    CHILDREN[name] = p
    line = p.stdout.readline()
    if not line.startswith("proxy 127.0.0.1:"):
        raise SystemExit("proxy %s did not start: %r" % (name, line))
    return int(line.split(":")[1])


def stop_proxy(name):
    p = CHILDREN.pop(name, None)
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        log("proxy %s (pid %d) did not stop on SIGTERM; SIGKILL" % (name, p.pid))
        p.kill(); p.wait()


DC = None


def stop_all():
    pid = RUNNING.pop("pid", None)
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)   # the client's own session
        except ProcessLookupError:
            pass
    for name in list(CHILDREN):
        stop_proxy(name)
    if DC is not None:
        DC.stop()


def on_signal(sig, frm):
    stop_all(); sys.exit(130)


signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)


# ---------------------------------------------------------------- one run
def reset_upstream(corpus_md):
    """The corpus, hard-linked into an empty upstream Maildir; no Dovecot
    index/uidlist (Dovecot only renames or unlinks Maildir files, never
    rewrites them, so the corpus copy stays intact)."""
    md = DC.maildir
    shutil.rmtree(md)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    for n in os.listdir(os.path.join(corpus_md, "new")):
        os.link(os.path.join(corpus_md, "new", n), os.path.join(md, "new", n))
    chown_tree(md)


def run_client(setting, client, rep, up, corpus_md, index):
    reset_upstream(corpus_md)
    rd = os.path.join(W, "run")
    shutil.rmtree(rd, ignore_errors=True)
    os.makedirs(rd)
    home = os.path.join(rd, "home"); os.makedirs(home)
    argv, md, files = clients.setup(client, rd, up, {"fetcher": FETCHER, "mda": MDA})
    chown_tree(rd)
    full = RUNAS + ["env", "HOME=" + home, "LC_ALL=C.UTF-8"] + argv
    # /usr/bin/time, not our own wait4(): a child forked from this Python
    # keeps its pre-exec peak RSS (~50 MB) in ru_maxrss. time forks the
    # client from a small process; setpriv and env exec into it.
    tf = os.path.join(W, "time.out")
    tag = "%s.%s.%d" % (setting, client, rep)
    logf = os.path.join(W, "logs", tag + ".log")
    os.sync(); time.sleep(0.5)
    dpid = DC.proc.pid
    d0 = tree_cpu(dpid)
    prox = [CHILDREN[n].pid for n in CHILDREN]
    p0 = sum(tree_cpu(p) for p in prox)
    timed_out = []
    b0 = busy_cpu()
    with open(logf, "wb") as lf:
        t = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf] + full, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                             start_new_session=True)
        RUNNING["pid"] = p.pid

        def overrun():
            timed_out.append(1)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(A.timeout, overrun); timer.start()
        p.wait()
        wall = time.perf_counter() - t
        timer.cancel()
        RUNNING.pop("pid", None)
    try:
        # the last line: earlier ones are time's "Command exited with non-zero status"
        _, user, sys_, rss = open(tf).read().split("\n")[-2].split()
        user, sys_, rss = float(user), float(sys_), int(rss)
    except (OSError, ValueError, IndexError):
        user = sys_ = rss = float("nan")
    time.sleep(0.5)       # let Dovecot reap its pop3/imap process
    dcpu = tree_cpu(dpid) - d0
    pcpu = sum(tree_cpu(p) for p in prox) - p0
    busy = busy_cpu() - b0
    v = index.check(md)
    left = count_files(DC.maildir)
    status_s = v["summary"]
    if left and v["ok"]:
        status_s = "FAIL (%d left upstream)" % left
    elif left:
        status_s = status_s[:-1] + ", %d left upstream)" % left
    if timed_out:
        status_s = "TIMEOUT after %.0f s; %s" % (A.timeout, status_s)
    if p.returncode != 0:
        status_s += " exit %d" % p.returncode
    r = {"setting": setting, "client": client, "rep": rep, "wall": wall,
         "user": user, "sys": sys_, "cpu": user + sys_, "rss_kB": rss, "dovecot_cpu": dcpu,
         "proxy_cpu": pcpu if prox else None,
         # everything else the machine did meanwhile (other users' jobs; our
         # own bookkeeping is ~0.01 s): big values mean a contended run
         "other_cpu": busy - (user + sys_) - dcpu - (pcpu if prox else 0),
         "rc": p.returncode, "left": left, "verify": v, "status": status_s,
         "ok": v["ok"] and not left and not timed_out and p.returncode == 0,
         "cmd": " ".join(shlex.quote(x) for x in argv), "files": files}
    if not r["ok"]:
        with open(logf, "rb") as f:
            tail = f.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        NOTES.append("%s %s rep %d: %s; problems %s; log tail: %s" % (
            SETTING_NAME[setting], client, rep, status_s, v["problems"][:3], " | ".join(tail)))
    log("%-9s %-15s rep %d: %7.2f s  cpu %6.2f s  rss %6.1f MB  dovecot %5.2f s  other %5.2f s%s  %s%s" % (
        setting, client, rep, wall, r["cpu"], rss / 1024, dcpu, r["other_cpu"],
        "  proxy %.2f s" % pcpu if prox else "", status_s,
        "  (hdr changed in %d)" % v["hdr_changed"] if v["hdr_changed"] else ""))
    shutil.rmtree(rd, ignore_errors=True)
    return r


# ---------------------------------------------------------------- setup
if os.geteuid() != 0:
    raise SystemExit("run as root (clients run as uid 65534 via setpriv; Dovecot needs root)")
if not os.access(FETCHER, os.X_OK):
    raise SystemExit("no %s: build first (HM_BUILDDIR / --builddir)" % FETCHER)
for prog in ("fetchmail", "getmail", "mpop", "dovecot", "setpriv", "cc"):
    if not shutil.which(prog):
        raise SystemExit("%s not found (apt-get install fetchmail getmail6 mpop dovecot-imapd "
                         "dovecot-pop3d dovecot-lmtpd util-linux gcc)" % prog)
if os.path.exists(W):
    if not os.path.exists(os.path.join(W, ".hm-bench-fetch")) and os.listdir(W):
        raise SystemExit("%s exists and is not a bench/fetch work dir" % W)
    shutil.rmtree(W)
os.makedirs(os.path.join(W, "logs"))
os.makedirs(os.path.join(W, "bin"))
os.chmod(W, 0o755)                      # Dovecot's mail processes (65534) traverse it
open(os.path.join(W, ".hm-bench-fetch"), "w").close()
MDA = os.path.join(W, "bin", "maildir-deliver")
subprocess.run(["cc", "-O2", "-o", MDA, os.path.join(HERE, "maildir-deliver.c")], check=True)

import report  # noqa: E402  (tables and the RESULTS.md section)

RES = {"runs": [], "source": report.source(FETCHER)}
try:
    log("work dir %s; fetcher %s" % (W, FETCHER))
    corpus = corpusmod.generate(A.count, seed=A.seed)
    corpus_md = os.path.join(W, "corpus")
    corpusmod.write_maildir(corpus, corpus_md, NOBODY, NOBODY)
    sizes = sorted(m.size for m in corpus.messages)
    RES["corpus"] = "%d msgs (seed %d), %.1f MB (LF), sizes min %.1f KB / median %.1f KB / max %.0f KB, %d of ~1 MB" % (
        len(sizes), A.seed, sum(sizes) / 1e6, sizes[0] / 1e3, statistics.median(sizes) / 1e3, sizes[-1] / 1e3,
        sum(1 for m in corpus.messages if "big" in m.traps))
    log("corpus: " + RES["corpus"])
    index = Index(corpus)
    del corpus
    DC = Dovecot(W, make_cert(os.path.join(W, "tls")))
    DC.start()
    log("dovecot pid %d: pop3 :%d imap :%d" % (DC.proc.pid, DC.pop3_port, DC.imap_port))
    slow = ("fetchmail", "getmail")
    for setting in A.settings:
        up = {"host": "127.0.0.1", "pop3_port": DC.pop3_port, "imap_port": DC.imap_port,
              "user": DC.user, "password": DC.password}
        reps = A.reps
        if setting == "delay":
            up["pop3_port"] = start_proxy("proxy-pop3", DC.pop3_port)
            up["imap_port"] = start_proxy("proxy-imap", DC.imap_port)
            reps = max(A.reps, A.slow_reps)
            log("delay proxies (%g ms each way): pop3 :%d imap :%d" % (A.delay_ms, up["pop3_port"], up["imap_port"]))
        for rep in range(1, reps + 1):
            for client in A.clients:
                n = A.slow_reps if setting == "delay" and client.startswith(slow) else A.reps
                if rep <= n:
                    RES["runs"].append(run_client(setting, client, rep, up, corpus_md, index))
        for name in ("proxy-pop3", "proxy-imap"):
            stop_proxy(name)
finally:
    stop_all()
    DC = None
    json.dump(RES, open(os.path.join(W, "results.json"), "w"), indent=1, default=str)


# ---------------------------------------------------------------- report
text = report.build(RES, A, NOTES, SETTING_NAME, CMDLINE, FETCHER, time.time() - T0, version)
print()
print(text)
if not A.no_results:
    if not os.path.exists(A.results):
        open(A.results, "w").write("# bench results\n\nAppended by the scripts in bench/; newest last.\n")
    with open(A.results, "a") as fh:
        fh.write("\n" + text + "\n")
    log("appended to %s" % A.results)
if not A.keep:
    shutil.rmtree(W, ignore_errors=True)
