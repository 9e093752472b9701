"""bench/relay: the three parts (each returns a dict for report.py).

run_relay     smtp-source -> relay (ours | Postfix | Postfix with TLS
              connection reuse) -> smart host (Postfix, STARTTLS + AUTH) ->
              its Maildir; alternating, a fresh relay per run
run_sendmail  N sequential submissions each with homemail-sendmail,
              Postfix's sendmail and msmtp, round by round, order rotating
run_receive   homemail-fetcher -> our relay -> Maildir, homemail-fetcher
              direct (deliver = "local"), fetchmail -> Postfix -> Maildir,
              from one private Dovecot, alternating
"""
import os
import shutil
import socket
import statistics
import subprocess
import threading
import time

import confs
import sinkcheck
from fixtures import corpus as corpusmod, log_tail
from fixtures.dovecot import Dovecot
from fixtures.tls import make_cert
from peers import BenchSmarthost, OurRelay, PostfixLocal, PostfixRelay
from proctree import TCK
from sampler import Sampler, snapshot, split, split_delta

SH_LOGIN, SH_PASSWORD = confs.SEND_AS, "bench-Pass.42"
NOBODY = 65534


class Context:
    def __init__(self, args, workdir, bins):
        self.a, self.w, self.bin = args, workdir, bins
        self.t0 = time.time()
        self.daemons = []     # started, not yet stopped (stop_all on exit)
        self.sh = None

    def log(self, *a):
        print("[%7.1fs]" % (time.time() - self.t0), *a, flush=True)

    def dir(self, name):
        d = os.path.join(self.w, name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        return d

    def start(self, daemon):
        self.daemons.append(daemon)
        daemon.start()
        return daemon

    def stop(self, daemon):
        daemon.stop()
        if daemon in self.daemons:
            self.daemons.remove(daemon)

    def stop_all(self):
        for d in reversed(self.daemons):
            try:
                d.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                print("stopping %r: %s" % (d, e))
        self.daemons = []

    def smarthost(self):
        if self.sh is None:
            self.sh = self.start(BenchSmarthost(self.dir("sh"), SH_LOGIN, SH_PASSWORD))
            self.log("smart host (Postfix) pid %d on :%d, auth pid %d" % (
                self.sh.proc.pid, self.sh.port, self.sh.auth.proc.pid))
        return self.sh


def busy_cpu():
    """CPU s the whole machine spent busy so far (/proc/stat)."""
    x = open("/proc/stat").readline().split()[1:]
    return sum(int(x[i]) for i in (0, 1, 2, 5, 6, 7)) / TCK


def wait_count(count_fn, n, timeout, stall=60.0):
    """Polls COUNT_FN() every 20 ms until it reaches N; returns the time
    (perf_counter) it did, or None after TIMEOUT s, or once the count has
    not moved for STALL s (a run that failed)."""
    now = time.perf_counter()
    deadline, last, moved = now + timeout, -1, now
    while True:
        c = count_fn()
        now = time.perf_counter()
        if c >= n:
            return now
        if c != last:
            last, moved = c, now
        if now > deadline or now - moved > stall:
            return None
        time.sleep(0.02)


def run_timed(argv, logf, **kw):
    """Runs ARGV to completion: (wall s, CPU s of it and its reaped children, rc)."""
    with open(logf, "ab") as lf:
        t = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT, **kw)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, p.returncode


def sh_connects(sh):
    """smtpd connections the smart host logged so far."""
    try:
        with open(sh.log, "rb") as f:
            return sum(1 for line in f if b"]: connect from " in line)
    except OSError:
        return 0


# ------------------------------------------------------------------ relay
def _capture_one(srv, out):
    """Accepts one SMTP client on SRV and keeps its DATA in OUT[0]."""
    c, _ = srv.accept()
    with c, c.makefile("rb") as f:
        c.sendall(b"220 capture\r\n")
        data = None
        for line in f:
            if data is not None:
                if line == b".\r\n":
                    out.append(data)
                    data = None
                    c.sendall(b"250 ok\r\n")
                else:
                    data += line[1:] if line.startswith(b"..") else line
            elif line[:4].upper() == b"DATA":
                data = b""
                c.sendall(b"354 go\r\n")
            elif line[:4].upper() == b"QUIT":
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"250 ok\r\n")


def reference_body(ctx, length):
    """The body smtp-source sends with -l LENGTH (LF line ends), taken
    off the wire by a one-shot SMTP server of our own."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    out = []
    t = threading.Thread(target=_capture_one, args=(srv, out), daemon=True)
    t.start()
    subprocess.run(["smtp-source", "-m", "1", "-l", str(length), "-f", confs.LOCAL_SENDER,
                    "-t", confs.RCPT, "127.0.0.1:%d" % srv.getsockname()[1]], check=True, timeout=30)
    t.join(30)
    srv.close()
    data = out[0].replace(b"\r\n", b"\n")
    return data[data.index(b"\n\n") + 2:]


def make_relay(ctx, system, rep):
    sh = ctx.smarthost()
    if system in ("ours", "ours-bindnow"):
        # ours-bindnow: a diagnostic, the same binary with LD_BIND_NOW=1, so
        # the listener resolves every symbol once and its forked sessions
        # inherit that instead of each resolving lazily again
        d = ctx.dir("%s-%d" % (system, rep))
        return OurRelay(d, ctx.bin["relay"], confs.relay_conf(os.path.join(d, "ours"), sh),
                        env={"LD_BIND_NOW": "1"} if system == "ours-bindnow" else None)
    return PostfixRelay(ctx.dir("%s-%d" % (system, rep)), sh, reuse=system == "postfix-reuse")


def relay_run(ctx, system, rep, body):
    a, sh = ctx.a, ctx.smarthost()
    relay = ctx.start(make_relay(ctx, system, rep))
    time.sleep(3)                    # idle: after start-up, before any mail
    idle = snapshot(relay.proc.pid)
    c0 = sh_connects(sh)
    s = Sampler({"relay": relay.proc.pid, "smarthost": sh.proc.pid, "auth": sh.auth.proc.pid}).start()
    sp0 = split(relay.proc.pid)
    b0 = busy_cpu()
    argv = ["smtp-source", "-s", str(a.sessions), "-m", str(a.messages), "-l", str(a.length),
            "-f", confs.LOCAL_SENDER, "-t", confs.RCPT, "-M", confs.LAN_HELO,
            "127.0.0.1:%d" % relay.port]
    t0 = time.perf_counter()
    wall_acc, client_cpu, rc = run_timed(argv, os.path.join(ctx.w, "logs", "smtp-source.log"))
    t2 = wait_count(sh.count, a.messages, a.timeout)
    e2e = (t2 - t0) if t2 else None
    sp = split_delta(sp0, split(relay.proc.pid))
    res = s.stop()
    busy = busy_cpu() - b0
    v = sinkcheck.check(sh.sink_dir(), a.messages, body, confs.SEND_AS, confs.LAN_HELO)
    r = {"system": system, "rep": rep, "accept_s": wall_acc, "e2e_s": e2e, "client_cpu": client_cpu,
         "rc": rc, "idle": idle, "res": res, "busy": busy, "verify": v, "split": sp,
         "connects": sh_connects(sh) - c0,
         "ok": v["ok"] and rc == 0 and e2e is not None}
    ctx.log("relay %-13s rep %d: accepted %.2f s (%.0f/s), all at the smart host %s, relay CPU %.2f s, "
            "smart host CPU %.2f s, relay RSS-sum peak %.1f MB PSS %.1f MB, idle RSS %.1f MB PSS %.1f MB, "
            "%d connections, %s" % (
                system, rep, wall_acc, a.messages / wall_acc,
                "%.2f s (%.0f/s)" % (e2e, a.messages / e2e) if e2e else "TIMEOUT (%d)" % sh.count(),
                res["relay"]["cpu"], res["smarthost"]["cpu"], res["relay"]["rss_peak"] / 2**20,
                res["relay"]["pss_peak"] / 2**20, idle["rss"] / 2**20, idle["pss"] / 2**20,
                r["connects"], v["summary"]))
    if not r["ok"]:
        # What the client was told, then what the relay did: a run that
        # failed says why without the work directory it wipes.
        r["log_tail"] = relay.log_tail(15)
        ctx.log(log_tail((os.path.join(ctx.w, "logs", "smtp-source.log"),), 15))
        ctx.log(r["log_tail"])
    ctx.stop(relay)
    sh.clear()
    return r


def relay_perf(ctx, body):
    """One more run of ours with perf record on the relay's tree."""
    if not shutil.which("perf"):
        return None
    a, sh = ctx.a, ctx.smarthost()
    relay = ctx.start(make_relay(ctx, "ours", 99))
    time.sleep(1)
    data = os.path.join(ctx.w, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-F", "999", "--inherit", "-o", data,
                             "-p", str(relay.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    argv = ["smtp-source", "-s", str(a.sessions), "-m", str(a.messages), "-l", str(a.length),
            "-f", confs.LOCAL_SENDER, "-t", confs.RCPT, "-M", confs.LAN_HELO, "127.0.0.1:%d" % relay.port]
    run_timed(argv, os.path.join(ctx.w, "logs", "smtp-source.log"))
    wait_count(sh.count, a.messages, a.timeout)
    perf.send_signal(2)
    perf.wait()
    ctx.stop(relay)
    sh.clear()
    def rep(sort):
        out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort, "--stdio",
                              "-q", "-g", "none", "--percent-limit", "0.5"], capture_output=True, text=True).stdout
        return [l.rstrip() for l in out.splitlines() if l.strip()][:30]
    return {"by_dso": rep("comm,dso"), "by_sym": rep("dso,sym")}


def run_relay(ctx):
    a = ctx.a
    ctx.smarthost()
    body = reference_body(ctx, a.length)
    ctx.log("reference body: %d bytes" % len(body))
    runs = []
    for rep in range(1, a.reps + 1):
        k = (rep - 1) % len(a.relays)
        for system in a.relays[k:] + a.relays[:k]:
            runs.append(relay_run(ctx, system, rep, body))
    out = {"runs": runs}
    if a.perf and "ours" in a.relays:
        out["perf"] = relay_perf(ctx, body)
    return out


# --------------------------------------------------------------- sendmail
def sendmail_message(prog, i):
    """A ~3.9 KB local submission (as shared/peers/serve's msmtp bench)."""
    mid = "<sm-%s-%05d@myhost.localdomain>" % (prog, i)
    body = "".join("%04d %s\n" % (k, "x" * 70) for k in range(50))
    hdr = ("From: %s\nTo: %s\nSubject: sendmail bench %s %d\nMessage-ID: %s\n"
           "Date: Sat, 05 Dec 2026 08:00:00 +0000\n\n" % (confs.LOCAL_SENDER, confs.RCPT, prog, i, mid))
    return mid, (hdr + body).encode()


def run_sendmail(ctx):
    a, sh = ctx.a, ctx.smarthost()
    d = ctx.dir("sendmail")
    ours = ctx.start(OurRelay(d, ctx.bin["relay"], confs.relay_conf(os.path.join(d, "ours"), sh)))
    pf = ctx.start(PostfixRelay(ctx.dir("sendmail-pf"), sh))
    rc = os.path.join(d, "msmtprc")
    with open(rc, "w") as f:
        f.write(confs.msmtprc(sh, os.path.join(d, "msmtp.log")))
    os.chmod(rc, 0o600)
    progs = {
        "ours": [ctx.bin["sendmail"], "-C", ours.conf, "-f", confs.LOCAL_SENDER, confs.RCPT],
        "postfix": pf.sendmail_argv(confs.LOCAL_SENDER, confs.RCPT),
        "msmtp": ["/usr/bin/msmtp", "-C", rc, "-f", confs.LOCAL_SENDER, confs.RCPT],
    }
    msgdir = os.path.join(d, "msgs")
    os.makedirs(msgdir)
    want, bodies, files = {p: set() for p in progs}, {}, {}
    for p in progs:
        for i in range(a.submissions):
            mid, data = sendmail_message(p, i)
            path = os.path.join(msgdir, "%s.%d" % (p, i))
            with open(path, "wb") as f:
                f.write(data)
            files[(p, i)] = path
            want[p].add(mid)
            bodies[mid] = data[data.index(b"\n\n") + 2:]
    ctx.log("sendmail: %d submissions each, round by round: %s" % (a.submissions, ", ".join(progs)))
    samples = {p: {"wall": [], "cpu": [], "fail": 0} for p in progs}
    names = list(progs)
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": d}
    s = Sampler({"ours": ours.proc.pid, "postfix": pf.proc.pid}, pss=False).start()
    t0 = time.perf_counter()
    for i in range(a.submissions):
        k = i % len(names)
        for p in names[k:] + names[:k]:
            fa = [(os.POSIX_SPAWN_OPEN, 0, files[(p, i)], os.O_RDONLY, 0)]
            t = time.perf_counter_ns()
            pid = os.posix_spawn(progs[p][0], progs[p], env, file_actions=fa)
            _, status, ru = os.wait4(pid, 0)
            samples[p]["wall"].append((time.perf_counter_ns() - t) / 1e6)
            samples[p]["cpu"].append((ru.ru_utime + ru.ru_stime) * 1e3)
            if status != 0:
                samples[p]["fail"] += 1
    t1 = time.perf_counter()
    t2 = wait_count(sh.count, len(progs) * a.submissions, a.timeout)
    res = s.stop()
    out = {"n": a.submissions, "loop_s": t1 - t0, "drain_s": (t2 - t1) if t2 else None,
           "daemons": res, "progs": {}}
    for p in progs:
        v = sinkcheck.check(sh.sink_dir(), want[p], bodies, confs.SEND_AS, check_from=False)
        # the other programs' messages are "unknown" to this check: count ours only
        v["files"] -= v["unknown"]
        v["ok"] = not (v["missing"] or v["dups"] or v["bad_body"] or v["bad_sender"] or samples[p]["fail"])
        v["summary"] = "OK" if v["ok"] else "FAIL (%d missing, %d dup, %d body, %d sender, %d exit!=0)" % (
            v["missing"], v["dups"], v["bad_body"], v["bad_sender"], samples[p]["fail"])
        v["from_rewritten"] = len(want[p]) - v["missing"] - v["bad_from"]
        out["progs"][p] = {"samples": samples[p], "verify": v, "argv": progs[p]}
        w = samples[p]["wall"]
        ctx.log("sendmail %-8s median %.2f ms (p10 %.2f, p90 %.2f), CPU %.2f ms, %s, From: rewritten in %d" % (
            p, statistics.median(w), q(w, .1), q(w, .9), statistics.mean(samples[p]["cpu"]),
            v["summary"], v["from_rewritten"]))
    ctx.stop(ours)
    ctx.stop(pf)
    sh.clear()
    return out


def q(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


# ---------------------------------------------------------------- receive
def maildir_count(md):
    n = 0
    for sub in ("new", "cur"):
        try:
            n += len(os.listdir(os.path.join(md, sub)))
        except FileNotFoundError:
            pass
    return n


def reset_upstream(dc, corpus_md):
    md = dc.maildir
    shutil.rmtree(md)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    for n in os.listdir(os.path.join(corpus_md, "new")):
        os.link(os.path.join(corpus_md, "new", n), os.path.join(md, "new", n))
    for root, dirs, fs in os.walk(md):
        os.chown(root, NOBODY, NOBODY)
        for f in fs:
            os.chown(os.path.join(root, f), NOBODY, NOBODY)


def receive_run(ctx, system, rep, dc, up, corpus_md, index, leftovers):
    a = ctx.a
    reset_upstream(dc, corpus_md)
    d = ctx.dir("rx-%s-%d" % (system, rep))
    daemon = None
    if system in ("ours-relay", "ours-direct"):
        conf_text = confs.receive_conf(os.path.join(d, "ours"), up, system == "ours-relay")
        md = os.path.join(d, "ours", "mail", "bench")
        os.makedirs(os.path.join(d, "ours", "state"))
        if system == "ours-relay":
            daemon = ctx.start(OurRelay(d, ctx.bin["relay"], conf_text))
            conf = daemon.conf
        else:
            conf = os.path.join(d, "homemail.conf")
            with open(conf, "w") as f:
                f.write(conf_text)
            os.chmod(conf, 0o600)
        argv = [ctx.bin["fetcher"], "-c", conf, "--once"]
    else:
        daemon = ctx.start(PostfixLocal(d, users=("bench",)))
        md = daemon.maildir("bench")
        rc = os.path.join(d, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(confs.fetchmailrc(up, daemon.port, "bench@%s" % daemon.domain))
        os.chmod(rc, 0o600)
        argv = ["fetchmail", "-f", rc, "-i", os.path.join(d, "fetchids"), "--pidfile",
                os.path.join(d, "fetchmail.pid"), "--nosyslog"]
    os.sync()
    time.sleep(0.5)
    roots = {"dovecot": dc.proc.pid}
    if daemon is not None:
        roots["mta"] = daemon.proc.pid
    s = Sampler(roots, pss=False).start()
    b0 = busy_cpu()
    t0 = time.perf_counter()
    wall, cpu, rc = run_timed(argv, os.path.join(ctx.w, "logs", "rx-%s-%d.log" % (system, rep)),
                              env={"PATH": "/usr/sbin:/usr/bin:/bin", "HOME": d, "LC_ALL": "C.UTF-8"})
    t2 = wait_count(lambda: maildir_count(md), a.fetch_count, a.timeout)
    res = s.stop()
    busy = busy_cpu() - b0
    e2e = (t2 - t0) if t2 else None
    v = index.check(md)
    left = maildir_count(dc.maildir)
    r = {"system": system, "rep": rep, "client_s": wall, "e2e_s": e2e, "client_cpu": cpu, "rc": rc,
         "mta_cpu": res.get("mta", {}).get("cpu"), "dovecot_cpu": res["dovecot"]["cpu"], "busy": busy,
         "verify": {k: v[k] for k in ("ok", "summary", "files", "missing", "dups", "bad_body")},
         "left": left, "ok": v["ok"] and rc == 0 and not left and e2e is not None, "argv": argv}
    ctx.log("receive %-17s rep %d: client %.2f s, in the Maildir after %s, client CPU %.2f s, MTA CPU %s, "
            "%s, %d left upstream, exit %d" % (
                system, rep, wall, "%.2f s" % e2e if e2e else "TIMEOUT", cpu,
                "%.2f s" % r["mta_cpu"] if r["mta_cpu"] is not None else "-", v["summary"], left, rc))
    if daemon is not None:
        ctx.stop(daemon)
    # Removed after the last run, not now: on ext4 without a journal, a
    # new inode is not taken from among those freed in the last ~30 s,
    # and skipping thousands of them would slow whichever run came next.
    leftovers.append(d)
    return r


def run_receive(ctx):
    a = ctx.a
    corpus = corpusmod.generate(a.fetch_count, seed=1)
    base = ctx.dir("rx")
    corpus_md = os.path.join(base, "corpus")
    corpusmod.write_maildir(corpus, corpus_md, NOBODY, NOBODY)
    sys_path_fetch = __import__("verify")
    index = sys_path_fetch.Index(corpus)
    size = sum(m.size for m in corpus.messages)
    del corpus
    dc = ctx.start(Dovecot(base, make_cert(os.path.join(base, "tls"))))
    up = {"host": "127.0.0.1", "port": dc.pop3_port if a.proto == "pop3" else dc.imap_port,
          "protocol": a.proto, "user": dc.user, "password": dc.password}
    ctx.log("receive: Dovecot pid %d, %d msgs (%.1f MB), %s" % (dc.proc.pid, a.fetch_count, size / 1e6, a.proto))
    systems = a.receivers
    runs, leftovers = [], []
    for rep in range(1, a.reps + 1):
        k = (rep - 1) % len(systems)
        for system in systems[k:] + systems[:k]:
            runs.append(receive_run(ctx, system, rep, dc, up, corpus_md, index, leftovers))
    ctx.stop(dc)
    for d in leftovers:
        shutil.rmtree(d, ignore_errors=True)
    return {"runs": runs, "corpus_bytes": size}
