#!/usr/bin/python3
"""POP3 load client for bench/popd (stdlib only; adapted from
shared/peers/serve/pop3-load.py).

Each session: connect, greeting, [STLS], USER/PASS, STAT, UIDL, LIST,
RETR every message (verifying received octets == LIST size, after removing
dot-stuffing), QUIT (never DELE).  C sessions run concurrently (threads,
optionally spread over several processes); N sessions in total.

  load.py -c 10 -n 20 --user big --pass poppass [--stls] [--procs 2]
  load.py -c 10 -n 1000 --users s1,s2,...,s10   # one user (maildrop) per thread
  load.py -c 1 -n 1 --no-retr -v                # phase timings of one session
  load.py -c 1 -n 1 --hold 2                    # print HOLDING, wait 2 s before QUIT

With --users, concurrent thread number k (over all --procs) always logs in as
users[k % len(users)], so with len(users) >= C no two live sessions share a
maildrop (POP3 servers lock the maildrop: a second login gets [IN-USE]).

Output: one summary block + a final line 'JSON {...}' for machine parsing.
Exit status 1 if any session failed or any size check failed.
"""
import argparse, json, multiprocessing as mp, socket, ssl, sys, threading, time

class ProtoError(Exception):
    pass

class Conn:
    def __init__(self, host, port, timeout):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise ProtoError("connection closed by server")
        self.buf += d

    def line(self):
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                l = bytes(self.buf[:i]); del self.buf[:i + 2]; return l
            start = max(0, len(self.buf) - 1)
            self._fill()

    def cmd(self, c, multi=False):
        self.s.sendall(c + b"\r\n")
        st = self.line()
        if not st.startswith(b"+OK"):
            raise ProtoError("%r -> %r" % (c.split(b" ")[0] if not c.startswith(b"PASS") else b"PASS", st))
        if not multi:
            return st, None
        # multi-line: data ends with CRLF . CRLF ; data may be empty ('.\r\n' first)
        if self.buf[:3] == b".\r\n":
            del self.buf[:3]; return st, b""
        start = 0
        while True:
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                data = bytes(self.buf[:i + 2]); del self.buf[:i + 5]; return st, data
            start = max(0, len(self.buf) - 4)
            self._fill()
            if self.buf[:3] == b".\r\n":
                del self.buf[:3]; return st, b""

    def starttls(self, ctx, host):
        self.s = ctx.wrap_socket(self.s, server_hostname=host)

def unstuffed_len(data):
    n = data.count(b"\r\n..")
    if data.startswith(b".."):
        n += 1
    return len(data) - n

def session(a, stats, lock, ctx, user):
    t0 = time.perf_counter(); ph = {}
    c = Conn(a.host, a.port, a.timeout)
    g = c.line()
    if not g.startswith(b"+OK"):
        raise ProtoError("greeting %r" % g)
    ph["greeting"] = time.perf_counter() - t0
    if a.stls:
        c.cmd(b"STLS"); c.starttls(ctx, a.host)
    c.cmd(b"USER " + user.encode()); c.cmd(b"PASS " + a.password.encode())
    ph["login"] = time.perf_counter() - t0
    t = time.perf_counter(); st, _ = c.cmd(b"STAT"); ph["stat"] = time.perf_counter() - t
    ph["to_stat"] = time.perf_counter() - t0
    parts = st.split()
    cnt, tot = int(parts[1]), int(parts[2])
    t = time.perf_counter(); _, ud = c.cmd(b"UIDL", True); ph["uidl"] = time.perf_counter() - t
    t = time.perf_counter(); _, ld = c.cmd(b"LIST", True); ph["list"] = time.perf_counter() - t
    uidls = [l.split() for l in ud.split(b"\r\n") if l]
    sizes = {}
    for l in ld.split(b"\r\n"):
        if l:
            n, s = l.split(); sizes[int(n)] = int(s)
    errs = []
    if len(uidls) != cnt or len(sizes) != cnt:
        errs.append("count mismatch STAT=%d UIDL=%d LIST=%d" % (cnt, len(uidls), len(sizes)))
    if sum(sizes.values()) != tot:
        errs.append("STAT size %d != sum(LIST) %d" % (tot, sum(sizes.values())))
    if len(set(u[1] for u in uidls)) != len(uidls):
        errs.append("duplicate UIDLs")
    got = 0; retr_lat = []
    if not a.no_retr:
        lim = cnt if a.max_retr is None else min(cnt, a.max_retr)
        t = time.perf_counter()
        for n in range(1, lim + 1):
            r0 = time.perf_counter()
            _, data = c.cmd(b"RETR %d" % n, True)
            retr_lat.append(time.perf_counter() - r0)
            L = unstuffed_len(data)
            if L != sizes.get(n):
                errs.append("RETR %d: got %d octets, LIST says %s" % (n, L, sizes.get(n)))
            got += L
        ph["retr_all"] = time.perf_counter() - t
    if a.hold:
        print("HOLDING", flush=True); time.sleep(a.hold)
    c.cmd(b"QUIT")
    c.s.close()
    el = time.perf_counter() - t0
    with lock:
        stats["sessions"] += 1; stats["bytes"] += got; stats["msgs"] += len(retr_lat)
        stats["lat"].append(el); stats["login"].append(ph["login"]); stats["to_stat"].append(ph["to_stat"])
        stats["retr_lat"].extend(retr_lat); stats["errors"].extend(errs[:5])
        stats["mailbox"] = (cnt, tot)
        if a.verbose:
            print("session %.4fs phases: %s" % (el, " ".join("%s=%.4f" % kv for kv in ph.items())), flush=True)

def worker(a, nsess, conc, q, first_thread):
    stats = {"sessions": 0, "bytes": 0, "msgs": 0, "lat": [], "login": [], "to_stat": [], "retr_lat": [],
             "errors": [], "failed": 0, "mailbox": None}
    lock = threading.Lock()
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    todo = [nsess]
    def run(k):
        user = a.users[k % len(a.users)]
        while True:
            with lock:
                if todo[0] <= 0: return
                todo[0] -= 1
            try:
                session(a, stats, lock, ctx, user)
            except Exception as e:
                with lock:
                    stats["failed"] += 1; stats["errors"].append("%s: %s" % (type(e).__name__, e))
    ts = [threading.Thread(target=run, args=(first_thread + k,)) for k in range(conc)]
    for t in ts: t.start()
    for t in ts: t.join()
    q.put(stats)

def pct(v, p):
    if not v: return float("nan")
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1"); ap.add_argument("--port", type=int, default=22110)
    ap.add_argument("--user", default="big"); ap.add_argument("--pass", dest="password", default="poppass")
    ap.add_argument("-c", "--concurrency", type=int, default=1)
    ap.add_argument("-n", "--sessions", type=int, default=None, help="total sessions (default = C)")
    ap.add_argument("--procs", type=int, default=1, help="spread C over this many processes")
    ap.add_argument("--stls", action="store_true"); ap.add_argument("--no-retr", action="store_true")
    ap.add_argument("--max-retr", type=int, default=None, help="RETR only the first K messages")
    ap.add_argument("--users", default=None, help="comma-separated user list, one per concurrent thread")
    ap.add_argument("--hold", type=float, default=0, help="before QUIT: print HOLDING and sleep this long")
    ap.add_argument("--timeout", type=float, default=120); ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    a.users = a.users.split(",") if a.users else [a.user]
    N = a.sessions or a.concurrency
    P = max(1, min(a.procs, a.concurrency))
    q = mp.Queue(); procs = []
    t0 = time.perf_counter()
    first = 0
    for i in range(P):
        conc = a.concurrency // P + (1 if i < a.concurrency % P else 0)
        ns = N // P + (1 if i < N % P else 0)
        p = mp.Process(target=worker, args=(a, ns, conc, q, first)); p.start(); procs.append(p)
        first += conc
    res = [q.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs: p.join()
    S = {k: (sum(r[k] for r in res) if isinstance(res[0][k], int) else [x for r in res for x in r[k]])
         for k in ("sessions", "bytes", "msgs", "failed", "lat", "login", "to_stat", "retr_lat", "errors")}
    mb = next((r["mailbox"] for r in res if r["mailbox"]), None)
    out = {"concurrency": a.concurrency, "sessions_ok": S["sessions"], "sessions_failed": S["failed"],
           "wall_s": round(wall, 3), "sessions_per_s": round(S["sessions"] / wall, 3),
           "msgs_retrieved": S["msgs"], "MB_per_s": round(S["bytes"] / wall / 1e6, 2),
           "bytes": S["bytes"], "mailbox_msgs_octets": mb,
           "session_p50_s": round(pct(S["lat"], 50), 4), "session_p99_s": round(pct(S["lat"], 99), 4),
           "login_p50_ms": round(pct(S["login"], 50) * 1e3, 2), "login_p99_ms": round(pct(S["login"], 99) * 1e3, 2),
           "retr_p50_ms": round(pct(S["retr_lat"], 50) * 1e3, 3), "retr_p99_ms": round(pct(S["retr_lat"], 99) * 1e3, 3),
           "to_stat_p50_ms": round(pct(S["to_stat"], 50) * 1e3, 2),
           "size_errors": len(S["errors"]) - S["failed"], "first_errors": S["errors"][:5], "stls": a.stls}
    print("C=%d sessions ok=%d failed=%d wall=%.2fs  %.3f sessions/s  %.1f MB/s  msgs=%d" % (
        a.concurrency, S["sessions"], S["failed"], wall, out["sessions_per_s"], out["MB_per_s"], S["msgs"]))
    print("session latency p50=%.3fs p99=%.3fs  login p50=%.2fms p99=%.2fms  RETR p50=%.3fms p99=%.3fms" % (
        out["session_p50_s"], out["session_p99_s"], out["login_p50_ms"], out["login_p99_ms"],
        out["retr_p50_ms"], out["retr_p99_ms"]))
    if S["errors"]:
        print("ERRORS:", *S["errors"][:10], sep="\n  ")
    print("JSON " + json.dumps(out))
    sys.exit(1 if S["errors"] or S["failed"] else 0)

if __name__ == "__main__":
    main()
