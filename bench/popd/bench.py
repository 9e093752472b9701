#!/usr/bin/python3
"""bench/popd driver: homemail-popd vs Dovecot POP3, homemail-deliver vs
dovecot-lda.  Run through bench/popd/run.sh (see there for the options).

Everything lives under --workdir (default /tmp/hm-bench-popd, wiped first);
nothing is written into the source tree except the section appended to
bench/RESULTS.md.  Servers are started as plain processes and stopped by PID.
"""
import argparse, datetime, glob, json, os, platform, shlex, shutil, signal, socket
import statistics, subprocess, sys, time, resource

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
LDA = "/usr/lib/dovecot/dovecot-lda"
PASSWORD = "poppass"
NOBODY = (65534, 65534)
TCK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, os.path.dirname(HERE))   # bench/: proctree
from proctree import children_map, tree, tree_cpu  # noqa: E402

ap = argparse.ArgumentParser(prog="run.sh")
ap.add_argument("--quick", action="store_true")
ap.add_argument("--builddir", default=os.environ.get("HM_BUILDDIR", "/work/main/build"))
ap.add_argument("--workdir", default="/tmp/hm-bench-popd")
ap.add_argument("--big", type=int, help="messages in the big mailbox = messages delivered (10000; quick 1000)")
ap.add_argument("--tight", type=int, help="messages for the tight-loop delivery variant (2000; quick 200)")
ap.add_argument("--conc", help="concurrency levels (1,10,50)")
ap.add_argument("--small-sessions", help="sessions per level on the small box (200,1000,1000; quick 100,300,300)")
ap.add_argument("--cold-reps", type=int, help="cold STAT repetitions (3; quick 2)")
ap.add_argument("--gen-maildir", action="store_true",
                help="fill the POP3 mailboxes with gen.py instead of homemail-deliver (skips the delivery bench)")
ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
ap.add_argument("--no-results", action="store_true", help="do not append to RESULTS.md")
ap.add_argument("--keep", action="store_true", help="keep the work directory")
A = ap.parse_args()
Q = A.quick
A.big = A.big or (1000 if Q else 10000)
A.tight = A.tight if A.tight is not None else (200 if Q else 2000)
A.conc = [int(x) for x in (A.conc or "1,10,50").split(",")]
ss = [int(x) for x in (A.small_sessions or ("100,300,300" if Q else "200,1000,1000")).split(",")]
A.small_n = {c: ss[min(i, len(ss) - 1)] for i, c in enumerate(A.conc)}
A.cold_reps = A.cold_reps or (2 if Q else 3)
CMDLINE = ("HM_BUILDDIR=%s " % shlex.quote(os.environ["HM_BUILDDIR"]) if os.environ.get("HM_BUILDDIR") else "") + \
    "bench/popd/run.sh " + " ".join(shlex.quote(x) for x in sys.argv[1:])
W = A.workdir
POPD = os.path.join(A.builddir, "popd", "homemail-popd")
DELIVER = os.path.join(A.builddir, "deliver", "homemail-deliver")
CMAX = max(A.conc)
NOTES = []
T0 = time.time()


def log(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, pid_alive, t=10):
    end = time.time() + t
    while time.time() < end:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=1)
            g = c.recv(200); c.close()
            if g.startswith(b"+OK"):
                return
        except OSError:
            pass
        if not pid_alive():
            break
        time.sleep(0.05)
    raise SystemExit("server on port %d did not come up" % port)


def alive(pid):
    try:
        os.kill(pid, 0); return True
    except OSError:
        return False


def comm(p):
    try:
        return open("/proc/%d/comm" % p).read().strip()
    except OSError:
        return "?"


def proc_mem(p):
    """(VmHWM kB, VmRSS kB, Pss kB) of one process."""
    hwm = rss = pss = 0
    try:
        for l in open("/proc/%d/status" % p):
            if l.startswith("VmHWM:"): hwm = int(l.split()[1])
            elif l.startswith("VmRSS:"): rss = int(l.split()[1])
        for l in open("/proc/%d/smaps_rollup" % p):
            if l.startswith("Pss:"): pss = int(l.split()[1]); break
    except OSError:
        pass
    return hwm, rss, pss


# ---------------------------------------------------------------- setup
if os.geteuid() != 0:
    raise SystemExit("run as root (Dovecot drops to uid 65534, drop_caches needs root)")
if not os.access(POPD, os.X_OK):
    raise SystemExit("no %s: build first (HM_BUILDDIR / --builddir)" % POPD)
if not A.gen_maildir and not os.access(DELIVER, os.X_OK):
    raise SystemExit("no %s: build it, or pass --gen-maildir to skip the delivery bench" % DELIVER)
if os.path.exists(W):
    # only ever our own work dir: refuse anything that does not look like it
    if not os.path.exists(os.path.join(W, ".hm-bench-popd")) and os.listdir(W):
        raise SystemExit("%s exists and is not a bench/popd work dir" % W)
    shutil.rmtree(W)
for d in ("corpus", "hm/mail", "hm/state", "dc/mail", "dc/run", "dc/state", "out"):
    os.makedirs(os.path.join(W, d))
open(os.path.join(W, ".hm-bench-popd"), "w").close()
HMAIL, DMAIL = os.path.join(W, "hm/mail"), os.path.join(W, "dc/mail")
HASH = subprocess.run(["openssl", "passwd", "-6", "-salt", "hmbenchsalt", PASSWORD],
                      check=True, capture_output=True, text=True).stdout.strip()
P_HM, P_DC = free_port(), free_port()
while P_DC == P_HM:
    P_DC = free_port()
BIG_USERS = ["b%d" % i for i in range(1, CMAX + 1)]
SMALL_USERS = ["s%d" % i for i in range(1, CMAX + 1)]
HM_USERS = ["tmplbig", "tmplsmall", "tight", "coldh", "forh"] + BIG_USERS + SMALL_USERS
DC_USERS = ["lda", "ldatight", "coldd", "ford"] + BIG_USERS + SMALL_USERS

HMCONF = os.path.join(W, "hm/homemail.conf")
with open(HMCONF, "w") as f:
    f.write('hostname = "bench.example";\nstate_dir = "%s";\nmail_dir = "%s";\n'
            'local_domains = [ "home.example" ];\nrun_as = "nobody";\nlog = "stderr";\nusers = (\n'
            % (os.path.join(W, "hm/state"), HMAIL))
    f.write(",\n".join('  { name = "%s"; password = "%s"; }' % (u, HASH) for u in HM_USERS))
    f.write('\n);\npopd = {\n  listen = [ "127.0.0.1:%d" ];\n  allow_plaintext_from = [ "127.0.0.1/32" ];\n};\n' % P_HM)

DCDIR = os.path.join(W, "dc")
DCCONF = os.path.join(DCDIR, "dovecot.conf")
with open(os.path.join(DCDIR, "users"), "w") as f:
    for u in DC_USERS:
        f.write("%s:{SHA512-CRYPT}%s:65534:65534::%s/%s\n" % (u, HASH, DMAIL, u))
DCLOG = os.path.join(DCDIR, "dovecot.log")
open(DCLOG, "w").close(); os.chmod(DCLOG, 0o666)
with open(DCCONF, "w") as f:
    f.write("""# written by bench/popd: shared/peers/serve/dovecot.sh, minus TLS and SASL
base_dir = {d}/run
instance_name = hm-bench-popd
state_dir = {d}/state
protocols = pop3
listen = 127.0.0.1
log_path = {log}
info_log_path = {log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~
first_valid_uid = 100
pop3_uidl_format = %08Xu%08Xv
hostname = bench.example
postmaster_address = postmaster@bench.example
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
  # high-performance mode: one login proc serves many connections
  service_count = 0
  process_min_avail = 1
}}
service pop3 {{
  process_limit = 1024
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
default_client_limit = 2000
""".format(d=DCDIR, log=DCLOG, port=P_DC))

PIDS = {}


def start_dovecot():
    sh(["dovecot", "-c", DCCONF])
    pf = os.path.join(DCDIR, "run/master.pid")
    for _ in range(100):
        if os.path.exists(pf) and os.path.getsize(pf) > 0:
            break
        time.sleep(0.05)
    pid = int(open(pf).read())
    PIDS["dovecot"] = pid
    wait_port(P_DC, lambda: alive(pid))
    return pid


def start_popd():
    lf = open(os.path.join(W, "hm/popd.log"), "ab")
    p = subprocess.Popen([POPD, "-c", HMCONF], stdout=lf, stderr=lf)
    PIDS["popd"] = p.pid
    PIDS["popd_popen"] = p
    wait_port(P_HM, lambda: p.poll() is None)
    return p.pid


def stop_all():
    for name in ("popd", "dovecot"):
        pid = PIDS.pop(name, None)
        if pid and alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if name == "popd":
                    if PIDS["popd_popen"].poll() is not None:
                        break
                elif not alive(pid):
                    break
                time.sleep(0.05)
            else:
                log("%s pid %d did not stop on SIGTERM; SIGKILL" % (name, pid))
                os.kill(pid, signal.SIGKILL)


def on_signal(sig, frm):
    stop_all(); sys.exit(130)


signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)


def chown_tree(path):
    sh(["chown", "-R", "%d:%d" % NOBODY, path])


def count_msgs(md):
    return sum(len([x for x in os.listdir(os.path.join(md, d)) if not x.startswith(".")])
               for d in ("new", "cur") if os.path.isdir(os.path.join(md, d)))


def link_copy(src, dst, to_cur=False):
    """Hard-link copy of a Maildir (messages only, no index/lock files).
    to_cur: put every message in cur/ as NAME:2,S (the state both servers
    leave a message in after a client has RETRieved it once)."""
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(dst, d), exist_ok=True)
    for d in ("new", "cur"):
        for n in os.listdir(os.path.join(src, d)):
            if n.startswith("."):
                continue
            if to_cur and d == "new":
                os.link(os.path.join(src, d, n), os.path.join(dst, "cur", n + ":2,S"))
            else:
                os.link(os.path.join(src, d, n), os.path.join(dst, d, n))


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError as e:
        NOTES.append("drop_caches failed: %s (cold STAT numbers are NOT cold)" % e)
        return False


def load(port, users, c, n, extra=(), mon=None, tag=""):
    cmd = [PY, os.path.join(HERE, "load.py"), "--port", str(port), "--pass", PASSWORD,
           "--users", ",".join(users), "-c", str(c), "-n", str(n), "--procs", str(min(2, c))] + list(extra)
    if mon:
        cmd = [PY, os.path.join(HERE, "procmon.py"), "-i", "0.1", "-p", str(mon), "--"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True)
    with open(os.path.join(W, "out", "load.log"), "a") as f:
        f.write("### %s\n$ %s\n%s%s\n" % (tag, " ".join(cmd), r.stdout, r.stderr))
    res = {}
    for l in r.stdout.splitlines():
        if l.startswith("JSON "):
            res.update(json.loads(l[5:]))
        elif l.startswith("PROCMON "):
            res["mon"] = json.loads(l[8:])
    if r.returncode != 0 or not res:
        NOTES.append("%s: load client rc=%d: %s" % (tag, r.returncode,
                     (res.get("first_errors") or r.stderr.strip().splitlines()[-1:] or ["?"])[:3]))
    return res


RES = {"deliver": {}, "tight": {}, "cold": {}, "load": {}, "probe": {}}

try:
    log("work dir %s; ours :%d, dovecot :%d; builddir %s" % (W, P_HM, P_DC, A.builddir))
    chown_tree(os.path.join(W, "hm")); chown_tree(DMAIL)
    start_dovecot()
    DPID = PIDS["dovecot"]

    # ------------------------------------------------------------ 1. delivery
    corpus = os.path.join(W, "corpus")
    log("generating corpus: %d messages" % A.big)
    g = sh([PY, os.path.join(HERE, "gen.py"), "--out", corpus, "--count", str(A.big),
            "--big", "1" if Q else "5"], capture_output=True, text=True).stdout.strip()
    RES["corpus"] = g; log(g)
    files = sorted(glob.glob(os.path.join(corpus, "*.eml")))
    small_corpus = os.path.join(W, "corpus-small")
    sh([PY, os.path.join(HERE, "gen.py"), "--out", small_corpus, "--count", "20", "--big", "0",
        "--seed", "7"], capture_output=True)
    ours_cmd = lambda u: [DELIVER, "-c", HMCONF, "-d", u]
    lda_cmd = lambda u: [LDA, "-c", DCCONF, "-d", u, "-f", "sender@example.net"]
    if not A.gen_maildir:
        log("delivery: %d msgs each, one process per message, alternating chunks of 500" % len(files))
        acc = {k: {"wall": 0.0, "cpu": 0.0, "daemon_cpu": 0.0, "fail": 0, "first_err": None}
               for k in ("ours", "lda")}
        for i in range(0, len(files), 500):
            chunk = files[i:i + 500]
            order = [("ours", ours_cmd("tmplbig")), ("lda", lda_cmd("lda"))]
            if (i // 500) % 2:
                order.reverse()
            for k, cmd in order:
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN); d0 = tree_cpu(DPID)
                t = time.perf_counter()
                for fn in chunk:
                    with open(fn, "rb") as inp:
                        r = subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE)
                    if r.returncode != 0:
                        acc[k]["fail"] += 1
                        acc[k]["first_err"] = acc[k]["first_err"] or "rc=%d %s" % (
                            r.returncode, r.stderr.decode(errors="replace").strip()[:300])
                acc[k]["wall"] += time.perf_counter() - t
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                acc[k]["cpu"] += (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
                acc[k]["daemon_cpu"] += tree_cpu(DPID) - d0
        got = {"ours": count_msgs(os.path.join(HMAIL, "tmplbig")),
               "lda": count_msgs(os.path.join(DMAIL, "lda"))}
        for k in acc:
            acc[k]["delivered"] = got[k]
            acc[k]["msgs_per_s"] = len(files) / acc[k]["wall"]
            if acc[k]["fail"] or got[k] != len(files):
                NOTES.append("delivery %s: %d failures, %d/%d messages in the Maildir; first error: %s"
                             % (k, acc[k]["fail"], got[k], len(files), acc[k]["first_err"]))
        RES["deliver"] = acc
        log("deliver: ours %.1f msg/s, dovecot-lda %.1f msg/s" % (acc["ours"]["msgs_per_s"], acc["lda"]["msgs_per_s"]))
        # tight-loop variant: a shell loop, no Python between the processes
        if A.tight:
            tl = files[:A.tight]
            lst = os.path.join(W, "tight.lst")
            open(lst, "w").write("\n".join(tl) + "\n")
            for k, cmd in (("ours", ours_cmd("tight")), ("lda", lda_cmd("ldatight"))):
                script = 'while read -r f; do "$@" < "$f" >/dev/null 2>&1 || echo FAIL; done < %s' % shlex.quote(lst)
                t = time.perf_counter()
                r = subprocess.run(["bash", "-c", script, "bash"] + cmd, capture_output=True, text=True)
                el = time.perf_counter() - t
                RES["tight"][k] = {"n": len(tl), "wall": el, "msgs_per_s": len(tl) / el,
                                   "fail": r.stdout.count("FAIL")}
            RES["tight"]["ours"]["delivered"] = count_msgs(os.path.join(HMAIL, "tight"))
            RES["tight"]["lda"]["delivered"] = count_msgs(os.path.join(DMAIL, "ldatight"))
            log("tight loop: ours %.1f msg/s, lda %.1f msg/s" % (RES["tight"]["ours"]["msgs_per_s"],
                                                               RES["tight"]["lda"]["msgs_per_s"]))
        for fn in sorted(glob.glob(os.path.join(small_corpus, "*.eml"))):
            with open(fn, "rb") as inp:
                sh(ours_cmd("tmplsmall"), stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        NOTES.append("--gen-maildir: POP3 mailboxes written by gen.py (no ,S=/,W= in names), delivery not measured")
        shutil.rmtree(os.path.join(HMAIL, "tmplbig"), ignore_errors=True)
        sh([PY, os.path.join(HERE, "gen.py"), "--maildir", "--out", os.path.join(HMAIL, "tmplbig"),
            "--count", str(A.big), "--big", "1" if Q else "5"], capture_output=True)
        sh([PY, os.path.join(HERE, "gen.py"), "--maildir", "--out", os.path.join(HMAIL, "tmplsmall"),
            "--count", "20", "--big", "0", "--seed", "7"], capture_output=True)
    TB, TS = os.path.join(HMAIL, "tmplbig"), os.path.join(HMAIL, "tmplsmall")
    RES["big_msgs"], RES["small_msgs"] = count_msgs(TB), count_msgs(TS)
    RES["sample_names"] = sorted(os.listdir(os.path.join(TB, "new")) or os.listdir(os.path.join(TB, "cur")))[:2]
    log("big template %d msgs, small %d; e.g. %s" % (RES["big_msgs"], RES["small_msgs"], RES["sample_names"][:1]))

    # ------------------------------------------------------------ mailboxes
    t = time.perf_counter()
    link_copy(TB, os.path.join(HMAIL, "coldh")); link_copy(TB, os.path.join(DMAIL, "coldd"))
    fmd = os.path.join(W, "foreign")
    sh([PY, os.path.join(HERE, "gen.py"), "--maildir", "--out", fmd, "--count", str(A.big),
        "--big", "1" if Q else "5", "--seed", "11"], capture_output=True)
    link_copy(fmd, os.path.join(HMAIL, "forh")); link_copy(fmd, os.path.join(DMAIL, "ford"))
    for u in BIG_USERS:
        link_copy(TB, os.path.join(HMAIL, u), True); link_copy(TB, os.path.join(DMAIL, u), True)
    for u in SMALL_USERS:
        link_copy(TS, os.path.join(HMAIL, u), True); link_copy(TS, os.path.join(DMAIL, u), True)
    chown_tree(HMAIL); chown_tree(DMAIL); chown_tree(fmd)
    log("mailbox copies (hard links) made in %.1fs" % (time.perf_counter() - t))

    HPID = start_popd()
    log("homemail-popd pid %d, dovecot master pid %d" % (HPID, DPID))

    # ------------------------------------------------------------ 3. cold STAT
    def reset_dovecot_md(md):
        for n in os.listdir(md):
            if n.startswith("dovecot"):
                os.unlink(os.path.join(md, n))
        for n in os.listdir(os.path.join(md, "cur")):
            os.rename(os.path.join(md, "cur", n), os.path.join(md, "new", n.split(":2,")[0]))

    for label, hu, du in (("deliver", "coldh", "coldd"), ("foreign", "forh", "ford")):
        rows = {"ours": [], "dovecot": []}
        for rep in range(A.cold_reps):
            order = [("ours", P_HM, hu), ("dovecot", P_DC, du)]
            if rep % 2:
                order.reverse()
            for k, port, u in order:
                if k == "dovecot":
                    reset_dovecot_md(os.path.join(DMAIL, u))
                ok = drop_caches()
                r = load(port, [u], 1, 1, ["--no-retr"], tag="cold-%s-%s-%d" % (label, k, rep))
                rows[k].append({"to_stat_ms": r.get("to_stat_p50_ms"), "login_ms": r.get("login_p50_ms"),
                                "msgs": (r.get("mailbox_msgs_octets") or [None])[0], "dropped": ok})
        RES["cold"][label] = rows
        log("cold STAT %s: ours %s ms, dovecot %s ms" % (label, [x["to_stat_ms"] for x in rows["ours"]],
                                                        [x["to_stat_ms"] for x in rows["dovecot"]]))

    # ------------------------------------------------------------ warm-up
    # page cache: read every message once; Dovecot: build its index/uidlist
    # for every load user (one STAT/UIDL/LIST session each, both servers).
    for md in (TB, TS):
        for d in ("new", "cur"):
            for n in os.listdir(os.path.join(md, d)):
                with open(os.path.join(md, d, n), "rb") as f:
                    while f.read(1 << 20):
                        pass
    for port, tag in ((P_HM, "ours"), (P_DC, "dovecot")):
        for users in (BIG_USERS, SMALL_USERS):
            load(port, users, min(len(users), 10), len(users), ["--no-retr"], tag="warmup-" + tag)
    log("warm-up done")

    # ------------------------------------------------------------ memory probe
    def probe(port, user, srv_pid, kind):
        cmd = [PY, os.path.join(HERE, "load.py"), "--port", str(port), "--pass", PASSWORD,
               "--users", user, "-c", "1", "-n", "1", "--hold", "1.0"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        mem = None
        for l in p.stdout:
            if l.startswith("HOLDING"):
                cands = [x for x in tree(srv_pid) if x != srv_pid]
                if kind == "dovecot":
                    cands = [x for x in cands if comm(x) == "pop3"]
                else:
                    cands = [x for x in cands if x in children_map().get(srv_pid, [])]
                ms = [proc_mem(x) for x in cands]
                if len(ms) == 1:
                    mem = {"hwm_kB": ms[0][0], "rss_kB": ms[0][1], "pss_kB": ms[0][2]}
                else:
                    NOTES.append("probe %s %s: %d candidate session processes" % (kind, user, len(ms)))
                    if ms:
                        mem = {"hwm_kB": max(m[0] for m in ms), "rss_kB": max(m[1] for m in ms),
                               "pss_kB": max(m[2] for m in ms)}
        p.wait()
        return mem

    for box, user in (("small", SMALL_USERS[0]), ("big", BIG_USERS[0])):
        RES["probe"][box] = {"ours": probe(P_HM, user, HPID, "ours"),
                             "dovecot": probe(P_DC, user, DPID, "dovecot")}
    RES["idle"] = {k: sum(proc_mem(x)[2] for x in tree(pid)) for k, pid in (("ours", HPID), ("dovecot", DPID))}
    log("probe: %s" % json.dumps(RES["probe"]))

    # ------------------------------------------------------------ 2. load
    i = 0
    for box, users in (("small", SMALL_USERS), ("big", BIG_USERS)):
        for c in A.conc:
            n = A.small_n[c] if box == "small" else c
            order = [("ours", P_HM, HPID), ("dovecot", P_DC, DPID)]
            if i % 2:
                order.reverse()
            i += 1
            for k, port, pid in order:
                r = load(port, users[:c], c, n, mon=pid, tag="load-%s-c%d-%s" % (box, c, k))
                RES["load"].setdefault("%s/%d" % (box, c), {})[k] = r
                m = r.get("mon", {})
                log("%-5s C=%-2d %-7s %8.1f sess/s %7.1f MB/s cpu %.2fs rss-sum %.1f MB pss %.1f MB fail=%s" % (
                    box, c, k, r.get("sessions_per_s", 0), r.get("MB_per_s", 0), m.get("daemon_cpu_s", 0),
                    m.get("daemon_rss_peak_MB", 0), m.get("daemon_pss_peak_MB", 0), r.get("sessions_failed")))
finally:
    stop_all()
    json.dump(RES, open(os.path.join(W, "out", "results.json"), "w"), indent=1, default=str)

# ---------------------------------------------------------------- report
def ratio(a, b):
    try:
        return a / b
    except (TypeError, ZeroDivisionError):
        return float("nan")


def f(x, fmt="%.1f"):
    return "n/a" if x is None or x != x else fmt % x


def verdict(ok):
    return "**PASS**" if ok else "**MISS**"


L = []
L.append("| measurement | ours | Dovecot | ours/Dovecot | target | result |")
L.append("|---|---|---|---|---|---|")
if RES["deliver"]:
    d = RES["deliver"]
    L.append("| deliver %d msgs, 1 process/msg, fsync: msgs/s | %s | %s | %s | | |" % (
        len(files), f(d["ours"]["msgs_per_s"]), f(d["lda"]["msgs_per_s"]),
        f(ratio(d["ours"]["msgs_per_s"], d["lda"]["msgs_per_s"]), "%.2f")))
    L.append("| deliver: CPU ms/msg (process; + Dovecot daemons for LDA) | %s | %s + %s | %s | | |" % (
        f(1e3 * d["ours"]["cpu"] / len(files), "%.2f"), f(1e3 * d["lda"]["cpu"] / len(files), "%.2f"),
        f(1e3 * d["lda"]["daemon_cpu"] / len(files), "%.2f"),
        f(ratio(d["ours"]["cpu"], d["lda"]["cpu"] + d["lda"]["daemon_cpu"]), "%.2f")))
if RES["tight"]:
    t = RES["tight"]
    L.append("| deliver %d msgs, tight shell loop: msgs/s | %s | %s | %s | | |" % (
        t["ours"]["n"], f(t["ours"]["msgs_per_s"]), f(t["lda"]["msgs_per_s"]),
        f(ratio(t["ours"]["msgs_per_s"], t["lda"]["msgs_per_s"]), "%.2f")))
cpu_ratios = []
for key, row in RES["load"].items():
    box, c = key.split("/"); c = int(c)
    o, dv = row.get("ours", {}), row.get("dovecot", {})
    r = ratio(o.get("sessions_per_s"), dv.get("sessions_per_s"))
    tgt = res = ""
    if box == "small" and c in (10, 50):
        tgt, res = ">= 2", verdict(r >= 2)
    fails = " (%s/%s failed)" % (o.get("sessions_failed"), dv.get("sessions_failed")) if (
        o.get("sessions_failed") or dv.get("sessions_failed")) else ""
    L.append("| %s box C=%d: sessions/s%s | %s | %s | %s | %s | %s |" % (
        box, c, fails, f(o.get("sessions_per_s"), "%.2f"), f(dv.get("sessions_per_s"), "%.2f"), f(r, "%.2f"), tgt, res))
    r = ratio(o.get("MB_per_s"), dv.get("MB_per_s"))
    tgt, res = (">= 1", verdict(r >= 1)) if box == "big" else ("", "")
    L.append("| %s box C=%d: MB/s | %s | %s | %s | %s | %s |" % (
        box, c, f(o.get("MB_per_s")), f(dv.get("MB_per_s")), f(r, "%.2f"), tgt, res))
    co = ratio(o.get("mon", {}).get("daemon_cpu_s"), o.get("sessions_ok"))
    cd = ratio(dv.get("mon", {}).get("daemon_cpu_s"), dv.get("sessions_ok"))
    r = ratio(co, cd); cpu_ratios.append(r)
    L.append("| %s box C=%d: server CPU ms/session (tree incl. reaped children) | %s | %s | %s | <= 0.5 | %s |" % (
        box, c, f(1e3 * co, "%.2f"), f(1e3 * cd, "%.2f"), f(r, "%.2f"), verdict(r <= 0.5)))
    po = o.get("mon", {}).get("daemon_pss_peak_MB"); pd = dv.get("mon", {}).get("daemon_pss_peak_MB")
    L.append("| %s box C=%d: server tree PSS peak / RSS-sum peak MB | %s / %s | %s / %s | %s | | |" % (
        box, c, f(po), f(o.get("mon", {}).get("daemon_rss_peak_MB")), f(pd),
        f(dv.get("mon", {}).get("daemon_rss_peak_MB")), f(ratio(po, pd), "%.2f")))
for box, pr in RES["probe"].items():
    o, dv = pr.get("ours") or {}, pr.get("dovecot") or {}
    r = ratio(o.get("hwm_kB"), dv.get("hwm_kB"))
    L.append("| %s box: session process peak RSS (VmHWM) MB / PSS MB | %s / %s | %s / %s | %s | < 1 | %s |" % (
        box, f(o.get("hwm_kB", 0) / 1024), f(o.get("pss_kB", 0) / 1024), f(dv.get("hwm_kB", 0) / 1024),
        f(dv.get("pss_kB", 0) / 1024), f(r, "%.2f"), verdict(r < 1)))
for label, rows in RES["cold"].items():
    mo = statistics.median(x["to_stat_ms"] for x in rows["ours"] if x["to_stat_ms"] is not None) if rows["ours"] else None
    md = statistics.median(x["to_stat_ms"] for x in rows["dovecot"] if x["to_stat_ms"] is not None) if rows["dovecot"] else None
    so = statistics.median(x["to_stat_ms"] - x["login_ms"] for x in rows["ours"]) if rows["ours"] else None
    sd = statistics.median(x["to_stat_ms"] - x["login_ms"] for x in rows["dovecot"]) if rows["dovecot"] else None
    name = ("Maildir filled by homemail-deliver" if label == "deliver" and not A.gen_maildir
            else "Maildir from gen.py (no ,S=/,W=)")
    tgt, res = ("< 100 ms", verdict(mo < 100)) if label == "deliver" else ("", "")
    L.append("| cold connect+login+STAT, %d msgs, %s: ms (median of %d; STAT alone ours/Dovecot %s / %s ms) | %s | %s | %s | %s | %s |" % (
        RES["big_msgs"], name, A.cold_reps, f(so), f(sd), f(mo), f(md), f(ratio(mo, md), "%.3f"), tgt, res))
table = "\n".join(L)
D = ["| run | server | wall s | sessions ok/failed | session p50 s | login p50 ms | RETR p50 ms | server CPU s | load-client CPU s | server procs peak |",
     "|---|---|---|---|---|---|---|---|---|---|"]
for key, row in RES["load"].items():
    for k in ("ours", "dovecot"):
        r = row.get(k, {}); m = r.get("mon", {})
        D.append("| %s | %s | %s | %s/%s | %s | %s | %s | %s | %s | %s |" % (
            key, k, m.get("wall_s"), r.get("sessions_ok"), r.get("sessions_failed"), r.get("session_p50_s"),
            r.get("login_p50_ms"), r.get("retr_p50_ms"), m.get("daemon_cpu_s"), m.get("client_cpu_s"),
            m.get("daemon_procs_peak")))
detail = "\n".join(D)
print()
print(table)
print()
print(detail)
for n in NOTES:
    print("NOTE:", n)

def mach():
    cpu = ""
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip(); break
    mem = int(open("/proc/meminfo").readline().split()[1]) // 1024
    dv = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
    return "nproc %d, kernel %s, %s, %d MB RAM, Dovecot %s, Python %s" % (
        os.cpu_count(), platform.release(), cpu, mem, dv, platform.python_version())


if not A.no_results:
    sec = ["", "## bench/popd — %s%s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), " (--quick)" if Q else ""), "",
           "Command: `%s` (binaries from %s)  " % (CMDLINE.strip(), A.builddir),
           "Machine: %s  " % mach(),
           "Corpus: %s; big box %d msgs, small box %d msgs (names e.g. `%s`); total run %.0f s." % (
               RES.get("corpus"), RES["big_msgs"], RES["small_msgs"], RES["sample_names"][0] if RES["sample_names"] else "?",
               time.time() - T0),
           "Load: `load.py --procs 2`, one user (own hard-linked Maildir copy) per concurrent session; "
           "small box C=1/10/50 with %s sessions, big box N=C sessions; RETR of every message, no DELE." % (
               "/".join(str(A.small_n[c]) for c in A.conc)),
           "",
           table, "", "Per-run detail (load client and server share the same cores):", "", detail, ""]
    for n in NOTES:
        sec.append("* NOTE: " + n)
    if not os.path.exists(A.results):
        open(A.results, "w").write("# bench results\n\nAppended by the scripts in bench/; newest last.\n")
    with open(A.results, "a") as fh:
        fh.write("\n".join(sec) + "\n")
    log("appended to %s" % A.results)
if not A.keep:
    shutil.rmtree(W, ignore_errors=True)
