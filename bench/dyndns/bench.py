"""bench/dyndns: a scripted week of 5-minute timer runs for homemail-dyndns,
ddclient and inadyn against the same dyndns2 fixture, side by side.

Runs only inside a private network namespace (run.sh: `unshare -n`): lo is
the only link, so no client can reach anything but the fixture -- inadyn's
built-in fallback to api.ipify.org fails at its DNS lookup.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clients  # noqa: E402
import report  # noqa: E402
from fixture import Fixture  # noqa: E402

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
T0 = 1799020800                     # 2027-01-04 00:00:00 UTC, a Monday
P = 300                             # the timer's period
POLLS = 2016                        # one week
PW, NEWPW = "dyn-secret-pw", "dyn-new-secret"
# global unicast (ours refuses documentation ranges as implausible); the
# namespace keeps them on loopback
A, B, C, D = "81.2.69.10", "81.2.69.20", "81.2.69.30", "81.2.69.40"
PRIVATE = "192.168.1.5"
HTML = "<html><head><title>503</title></head><body>Service unavailable</body></html>"

# The week, in polls; "before poll k" means from 150 s before it.
CHANGE_B, CHANGE_C, CHANGE_D = 504, 1008, 1512
GLITCH_PRIVATE = (700, 706)         # the check-IP page says 192.168.1.5 for 30 min
GLITCH_HTML = (850, 856)            # ... an HTML error page without an address
E911 = (CHANGE_C, CHANGE_C + 72)    # the provider answers 911 for 6 h from change C
ROTATE = 1400                       # the password is changed at the provider...
FIX = 1800                          # ... and in the client's config a day after D
WEEK = {"period_s": P, "polls": POLLS, "changes": {"B": CHANGE_B, "C": CHANGE_C, "D": CHANGE_D},
        "private": GLITCH_PRIVATE, "html": GLITCH_HTML, "e911": E911, "rotate": ROTATE,
        "fix": FIX, "addresses": [A, B, C, D]}


def poll_time(k):
    return T0 + P * k


def state_at(k):
    """(check-IP body, forced answer or None, provider password) before poll k."""
    ip = A
    for at, addr in ((CHANGE_B, B), (CHANGE_C, C), (CHANGE_D, D)):
        if k >= at:
            ip = addr
    if GLITCH_PRIVATE[0] <= k < GLITCH_PRIVATE[1]:
        ip = PRIVATE
    if GLITCH_HTML[0] <= k < GLITCH_HTML[1]:
        ip = HTML
    answer = "911" if E911[0] <= k < E911[1] else None
    return ip, answer, NEWPW if k >= ROTATE else PW


def faketime_env(t):
    e = dict(os.environ)
    # libfaketime preloaded directly: the faketime wrapper forks, and the
    # client's own PID is what a timeout must stop
    e.update(TZ="UTC", LD_PRELOAD=LIBFAKETIME, DONT_FAKE_MONOTONIC="1",
             FAKETIME="@" + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)))
    return e


def run_one(argv, env, log, timeout):
    """Runs argv to its end, or stops it by PID after timeout s. Returns rc or None."""
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                         stdin=subprocess.DEVNULL)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        log.write(b"=== stopped by the bench after %d s\n" % timeout)
        return None


def week(cl, d, cert, polls, out):
    """The scripted week for one client; fills out[cl.name]."""
    fx = Fixture(cert["cert"], cert["key"], PW).start()
    cl.setup(d, fx.url, cert["ca"], PW)
    rcs, r0 = {}, time.time()
    with open(os.path.join(d, "run.log"), "wb") as log:
        for k in range(polls):
            fx.ip4, fx.answer, fx.password = state_at(k)
            if k == FIX:
                cl.set_password(d, NEWPW)
            t = poll_time(k)
            fx.set_clock(t)
            log.write(b"=== poll %d\n" % k)
            log.flush()
            rc = run_one(cl.cmd(d), faketime_env(t), log, 10)
            rcs[str(rc)] = rcs.get(str(rc), 0) + 1
    fx.stop()
    out[cl.name] = {"requests": fx.requests, "exit_codes": rcs, "real_s": time.time() - r0,
                    "log_tail": open(os.path.join(d, "run.log"), "rb").read()[-3000:].decode(
                        "utf-8", "replace")}


def time_once(cl, d, cert, reps):
    """CPU and peak RSS of single --once runs (real clock, no libfaketime):
    a first run that sends an update, then one that finds nothing changed."""
    fx = Fixture(cert["cert"], cert["key"], PW).start()
    fx.ip4 = A
    res = {"update": [], "same": []}
    for r in range(reps):
        rd = os.path.join(d, "rep%d" % r)
        shutil.rmtree(rd, ignore_errors=True)
        cl.setup(rd, fx.url, cert["ca"], PW)
        fx.published = None
        for kind in ("update", "same"):
            tf = os.path.join(rd, "time-" + kind)
            with open(os.path.join(rd, "run.log"), "ab") as log:
                run_one(["/usr/bin/time", "-f", "%e %U %S %M %x", "-o", tf] + cl.cmd(rd),
                        dict(os.environ, TZ="UTC"), log, 20)
            e, u, s, m, x = open(tf).read().split()[-5:]
            res[kind].append({"wall": float(e), "cpu": float(u) + float(s), "rss_kb": int(m),
                              "rc": int(x)})
    res["updates_seen"] = sum(1 for q in fx.requests if q["kind"] == "update")
    fx.stop()
    return res


def make_cert(d):
    """A CA and a server cert for 127.0.0.1, valid from now for 10 years: the
    faked clock (2027) must lie inside."""
    os.makedirs(d, exist_ok=True)
    sh = """set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
  -subj /CN=bench-dyndns-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign
openssl req -newkey rsa:2048 -nodes -keyout key.pem -out srv.csr -subj /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 3650 -extfile ext.cnf
"""
    subprocess.run(["sh", "-c", sh], cwd=d, check=True, capture_output=True)
    return {"ca": os.path.join(d, "ca.pem"), "cert": os.path.join(d, "cert.pem"),
            "key": os.path.join(d, "key.pem")}


def leftovers(names):
    """PIDs of any client still running (there must be none)."""
    found, me = [], os.readlink("/proc/self/ns/net")
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                comm = open("/proc/%s/comm" % pid).read().strip()
                ns = os.readlink("/proc/%s/ns/net" % pid)
            except OSError:
                continue
            # only this namespace's: the machine is shared
            if ns == me and comm in names:
                found.append((int(pid), comm))
    return found


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=os.environ.get("HM_BUILDDIR", "/work/main/build"))
    ap.add_argument("--workdir", default="/tmp/hm-bench-dyndns")
    ap.add_argument("--clients", default="ours,ddclient,inadyn")
    ap.add_argument("--polls", type=int, default=POLLS, help="shorter weeks for a smoke run")
    ap.add_argument("--reps", type=int, default=5, help="single --once runs timed per client")
    ap.add_argument("--note", default="")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "RESULTS.md"))
    ap.add_argument("--no-results", action="store_true")
    ap.add_argument("--cmdline", default=" ".join(sys.argv))
    return ap.parse_args()


def main():
    a = parse_args()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    if [ln.split(":")[1].strip() for ln in links.splitlines()] != ["lo"]:
        raise SystemExit("bench.py must run in a private network namespace: use run.sh")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    shutil.rmtree(a.workdir, ignore_errors=True)
    cert = make_cert(os.path.join(a.workdir, "cert"))
    cls = [clients.make(n, a.builddir) for n in a.clients.split(",")]
    t0 = time.time()
    weeks, threads = {}, []
    for cl in cls:
        th = threading.Thread(target=week, args=(cl, os.path.join(a.workdir, "week-" + cl.name),
                                                 cert, a.polls, weeks))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    once = {cl.name: time_once(cl, os.path.join(a.workdir, "once-" + cl.name), cert, a.reps)
            for cl in cls}
    res = {"week": WEEK, "polls_run": a.polls, "weeks": weeks, "once": once,
           "elapsed": time.time() - t0, "names": [cl.name for cl in cls],
           "leftovers": leftovers({"inadyn", "ddclient", "homemail-dyndn"}),
           "builddir": a.builddir, "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
    with open(os.path.join(a.workdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    text, ok = report.build(res, a)
    print(text)
    if not a.no_results:
        with open(a.results, "a") as f:
            f.write("\n" + text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
