#!/usr/bin/python3
"""bench/deliver driver: homemail-deliver vs a minimal C MDA (the floor) and
dovecot-lda, one process per message.  Run through bench/deliver/run.sh
(see there for the options).

Everything lives under --workdir (wiped first); nothing is written into the
source tree except the section appended to bench/RESULTS.md.  As root, the
timed loop runs as uid 65534 (dovecot-lda wants -d and a userdb as root; as
any other user it delivers to $HOME's user with no daemon at all).
"""
import argparse, datetime, json, os, platform, random, shlex, shutil, statistics
import subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LDA = "/usr/lib/dovecot/dovecot-lda"
SENDER = "sender@example.net"
NOBODY = 65534
MARK = ".hm-bench-deliver"

ap = argparse.ArgumentParser(prog="run.sh")
ap.add_argument("--quick", action="store_true")
ap.add_argument("--builddir", default=os.environ.get("HM_BUILDDIR", "/work/main/build"))
ap.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "hm-bench-deliver"))
ap.add_argument("--runs", type=int, help="timed deliveries per program (1000; quick 200)")
ap.add_argument("--msgs", type=int, default=50, help="distinct messages, used in turn (50)")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--compare", action="append", default=[], metavar="LABEL=PATH",
                help="another homemail-deliver binary to run alongside (e.g. a build of the parent commit)")
ap.add_argument("--no-lda", action="store_true", help="leave dovecot-lda out")
ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
ap.add_argument("--no-results", action="store_true", help="do not append to RESULTS.md")
ap.add_argument("--keep", action="store_true", help="keep the work directory")
ap.add_argument("--measure", help=argparse.SUPPRESS)   # internal: the timed loop
A = ap.parse_args()
WARMUP = 10
RSS_RUNS = 5


def q(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


# --------------------------------------------------------------- timed loop
def measure(plan_file):
    """Runs every program once per round, in an order rotating by round,
    each as a fresh process with the round's message on stdin: wall = spawn
    to reap (posix_spawn, no shell), CPU = the child's rusage."""
    with open(plan_file) as f:
        plan = json.load(f)
    progs, msgs, env = plan["progs"], plan["msgs"], plan["env"]
    out = {p["label"]: {"wall": [], "cpu": [], "rss": []} for p in progs}
    for r in range(-WARMUP, plan["runs"]):
        msg = msgs[r % len(msgs)]
        k = r % len(progs)
        for p in progs[k:] + progs[:k]:
            fa = [(os.POSIX_SPAWN_OPEN, 0, msg, os.O_RDONLY, 0)]
            t0 = time.perf_counter_ns()
            pid = os.posix_spawn(p["argv"][0], p["argv"], env, file_actions=fa)
            _, status, ru = os.wait4(pid, 0)
            t1 = time.perf_counter_ns()
            if status != 0:
                raise SystemExit("%s: exit status %#x on %s" % (p["label"], status, msg))
            if r >= 0:
                o = out[p["label"]]
                o["wall"].append((t1 - t0) / 1e6)
                o["cpu"].append((ru.ru_utime + ru.ru_stime) * 1e3)
    # Peak RSS apart, through /usr/bin/time (fork + exec): wait4's
    # ru_maxrss after posix_spawn would be Python's, whose memory the
    # child shares until its exec.
    rss_file = os.path.join(os.path.dirname(plan_file), "rss.txt")
    for p in progs:
        for i in range(RSS_RUNS):
            with open(msgs[i % len(msgs)]) as stdin:
                subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + p["argv"], stdin=stdin,
                               env=env, check=True)
            with open(rss_file) as f:
                out[p["label"]]["rss"].append(int(f.read().split()[-1]) / 1024)
    with open(os.path.join(os.path.dirname(plan_file), "samples.json"), "w") as f:
        json.dump(out, f)


if A.measure:
    measure(A.measure)
    sys.exit(0)

# -------------------------------------------------------------------- setup
A.runs = A.runs or (200 if A.quick else 1000)
W = os.path.abspath(A.workdir)
DELIVER = os.path.join(A.builddir, "deliver", "homemail-deliver")
CMDLINE = ("HM_BUILDDIR=%s " % shlex.quote(os.environ["HM_BUILDDIR"]) if os.environ.get("HM_BUILDDIR") else "") + \
    "bench/deliver/run.sh " + " ".join(shlex.quote(x) for x in sys.argv[1:])
AS_ROOT = os.geteuid() == 0
UID = NOBODY if AS_ROOT else os.geteuid()
T0 = time.time()


def log(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


def out(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


for path in [DELIVER] + [c.split("=", 1)[1] for c in A.compare]:
    if not os.access(path, os.X_OK):
        raise SystemExit("no %s: build it first (--builddir DIR or HM_BUILDDIR)" % path)
if os.path.exists(W):
    if not os.path.exists(os.path.join(W, MARK)):
        raise SystemExit("%s exists and is not a bench/deliver work dir" % W)
    shutil.rmtree(W)
os.makedirs(os.path.join(W, "corpus"))
open(os.path.join(W, MARK), "w").close()

subprocess.run(["cc", "-O2", "-o", os.path.join(W, "minimal-mda"),
                os.path.join(HERE, "minimal-mda.c")], check=True)

# The corpus: text messages of a mail-like size spread (median ~5 KB,
# a few of 50-200 KB), the same bytes for every program in a round.
rng = random.Random(A.seed)
msgs = []
for i in range(A.msgs):
    size = int(min(200000, rng.lognormvariate(8.5, 0.9)))
    words = " ".join(rng.choice(["mail", "home", "box", "deliver", "fsync", "maildir", "dovecot",
                                 "quick", "brown", "fox", "lazy", "dog"]) for _ in range(size // 6))
    body = "\n".join(words[j:j + 72] for j in range(0, len(words), 72))
    m = ("Return-Path: <%s>\nReceived: from mx.example.net by box.dyn.example; Thu, 4 Dec 2025 10:%02d:00 +0000\n"
         "From: Sender <%s>\nTo: alice@home.example\nSubject: bench message %d\n"
         "Message-ID: <bench-%d@example.net>\nDate: Thu, 4 Dec 2025 10:%02d:00 +0000\n\n%s\n"
         % (SENDER, i % 60, SENDER, i, i, i % 60, body))
    p = os.path.join(W, "corpus", "%03d.eml" % i)
    with open(p, "w") as f:
        f.write(m)
    msgs.append(p)
sizes = sorted(os.path.getsize(p) for p in msgs)

# homemail: the commented example config (every section, secret files of
# fetch accounts, smart hosts and dyndns records), paths moved into W; one
# config and mail_dir per homemail binary.
with open(os.path.join(REPO, "examples", "homemail.conf")) as f:
    example = f.read()
os.makedirs(os.path.join(W, "secret"))
for s in ("isp", "work", "isp-imap", "bob-pop", "dyn", "tsig"):
    p = os.path.join(W, "secret", s)
    with open(p, "w") as f:
        f.write("bench-%s-secret\n" % s)
    os.chmod(p, 0o600)   # readable by the uid that runs the loop (chown below)
homemails = [("ours", DELIVER)] + [tuple(c.split("=", 1)) for c in A.compare]
progs = [{"label": "minimal", "argv": [os.path.join(W, "minimal-mda"), os.path.join(W, "mail", "minimal")]}]
for d in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(W, "mail", "minimal", d))
for label, exe in homemails:
    conf = os.path.join(W, "hm-%s.conf" % label)
    text = example.replace("/var/lib/homemail/mail", os.path.join(W, "mail", label)) \
                  .replace("/var/lib/homemail", os.path.join(W, "state")) \
                  .replace("/etc/homemail/secret", os.path.join(W, "secret")) \
                  .replace('run_as = "homemail";', "")
    with open(conf, "w") as f:
        f.write(text)
    progs.append({"label": label, "argv": [os.path.abspath(exe), "-c", conf, "-f", SENDER, "-d", "alice"]})
if not A.no_lda:
    os.makedirs(os.path.join(W, "dc", "run"))
    with open(os.path.join(W, "dc", "dovecot.conf"), "w") as f:
        f.write("""# bench/deliver: dovecot-lda alone, no master, no auth
base_dir = {w}/dc/run
instance_name = hm-bench-deliver
state_dir = {w}/dc/run
log_path = {w}/dc/lda.log
info_log_path = {w}/dc/lda.log
ssl = no
protocols =
mail_location = maildir:{w}/mail/dovecot-lda
postmaster_address = postmaster@bench.example
hostname = bench.example
first_valid_uid = 1
""".format(w=W))
    progs.append({"label": "dovecot-lda", "argv": [LDA, "-c", os.path.join(W, "dc", "dovecot.conf"), "-f", SENDER]})

env = {"PATH": "/usr/bin:/bin", "HOME": W, "USER": "nobody" if AS_ROOT else os.environ.get("USER", "")}
plan = os.path.join(W, "plan.json")
with open(plan, "w") as f:
    json.dump({"progs": progs, "msgs": msgs, "env": env, "runs": A.runs}, f)
if AS_ROOT:
    os.chmod(W, 0o755)
    subprocess.run(["chown", "-R", "%d:%d" % (NOBODY, NOBODY), W], check=True)

# ----------------------------------------------------------------- measure
load0 = os.getloadavg()
log("%d rounds (+%d warm-up) of %s, work dir %s (%s), uid %d" % (
    A.runs, WARMUP, ", ".join(p["label"] for p in progs), W, out(["findmnt", "-n", "-o", "FSTYPE", "--target", W]), UID))
cmd = [sys.executable, os.path.abspath(__file__), "--measure", plan]
if AS_ROOT:
    cmd = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + cmd
subprocess.run(cmd, check=True)
load1 = os.getloadavg()
with open(os.path.join(W, "samples.json")) as f:
    S = json.load(f)
elapsed = time.time() - T0

# Every program must hold exactly the messages it was given.
for p in progs:
    user = "alice" if p["label"] in dict(homemails) else ""
    new = os.path.join(W, "mail", p["label"], user, "new")
    n = len(os.listdir(new))
    if n != A.runs + WARMUP + RSS_RUNS:
        raise SystemExit("%s: %d messages in %s, expected %d" % (p["label"], n, new, A.runs + WARMUP + RSS_RUNS))

# ------------------------------------------------------------------ report
BLOCKS = 10


def block_ratios(a, b, key, f):
    n = len(S[a][key]) // BLOCKS
    return [f(S[a][key][i * n:(i + 1) * n]) / f(S[b][key][i * n:(i + 1) * n]) for i in range(BLOCKS)]


def fmt_ratio(a, b, key, f):
    r = f(S[a][key]) / f(S[b][key])
    br = block_ratios(a, b, key, f)
    return "%.2f (%.2f-%.2f)" % (r, min(br), max(br))


machine = "nproc %d, kernel %s, %s, %s RAM; work dir on %s; load average %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end" % (
    os.cpu_count(), platform.release(),
    next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
    "%d MB" % (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20),
    out(["findmnt", "-n", "-o", "FSTYPE", "--target", W]), *load0, *load1)
L = []
L.append("## bench/deliver — %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
L.append("")
L.append("Command: `%s` (%s; total run %.0f s)  " % (CMDLINE, "as root, loop as uid 65534" if AS_ROOT else "uid %d" % UID, elapsed))
L.append("Binaries: ours = %s (%s)%s  " % (DELIVER, out(["git", "-C", REPO, "describe", "--always", "--dirty"]),
         "".join("; %s = %s" % (l, e) for l, e in homemails[1:])))
L.append("Machine: %s; %s; %s; Python %s  " % (machine, out(["cc", "--version"]),
         "Dovecot " + out(["dovecot", "--version"]) if not A.no_lda else "no dovecot-lda", platform.python_version()))
L.append("Messages: %d generated (seed %d), %d-%d bytes, median %d; round r gives every program message r mod %d on stdin.  " % (
    A.msgs, A.seed, sizes[0], sizes[-1], sizes[len(sizes) // 2], A.msgs))
L.append("Runs: %d rounds after %d warm-up rounds; in each round every program delivers once, in an order rotating by round; "
         "wall = posix_spawn to wait4 (no shell), CPU = the child's user+sys (rusage). All write into Maildirs on one file system, "
         "each fsyncing the message and new/ (dovecot-lda also its uidlist and index). homemail-deliver gets the example config "
         "(examples/homemail.conf: every section, six secret files) and `-f SENDER -d alice`; minimal = bench/deliver/minimal-mda.c "
         "(cc -O2); dovecot-lda = standalone, private config, no -d (the loop's own user). Peak RSS: median of %d more "
         "deliveries each under /usr/bin/time.  " % (A.runs, WARMUP, RSS_RUNS))
L.append("")
L.append("| program | wall ms median | p10-p90 | CPU ms mean (median) | peak RSS MB | wall - minimal ms | "
         "wall / minimal (block min-max) | CPU / minimal (block min-max) |")
L.append("|---|---|---|---|---|---|---|---|")
for p in progs:
    s, lab = S[p["label"]], p["label"]
    L.append("| %s | %.2f | %.2f-%.2f | %.2f (%.2f) | %.1f | %+.2f | %s | %s |" % (
        lab, statistics.median(s["wall"]), q(s["wall"], .1), q(s["wall"], .9), statistics.mean(s["cpu"]),
        statistics.median(s["cpu"]), statistics.median(s["rss"]),
        statistics.median(s["wall"]) - statistics.median(S["minimal"]["wall"]),
        "1" if lab == "minimal" else fmt_ratio(lab, "minimal", "wall", statistics.median),
        "1" if lab == "minimal" else fmt_ratio(lab, "minimal", "cpu", statistics.mean)))
if not A.no_lda:
    L.append("")
    L.append("ours / dovecot-lda: wall %s, CPU %s, peak RSS %.2f." % (
        fmt_ratio("ours", "dovecot-lda", "wall", statistics.median),
        fmt_ratio("ours", "dovecot-lda", "cpu", statistics.mean),
        statistics.median(S["ours"]["rss"]) / statistics.median(S["dovecot-lda"]["rss"])))
L.append("")
L.append("Ratios are of the medians (wall) and means (CPU) over all rounds; in brackets the lowest and highest ratio "
         "over %d consecutive blocks of %d rounds, as the spread. The wall ratio to minimal depends on how long the "
         "file system takes to fsync, which every program pays alike; wall - minimal is the overhead itself." % (
             BLOCKS, A.runs // BLOCKS))
L.append("")
report = "\n".join(L)
print(report)
if not A.no_results:
    with open(A.results, "a") as f:
        f.write("\n" + report)
    log("appended to %s" % A.results)
if not A.keep:
    shutil.rmtree(W)
