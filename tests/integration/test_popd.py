"""homemail-popd with real clients (fetchmail, mpop, getmail6, curl, Python's
poplib) on loopback: every body arrives byte-identical to what
homemail-deliver stored; UIDLs stable and never reused; DELE only at QUIT;
IN-USE; plain-text login policy; failed-login delay and per-IP bar; hostile
lines; a 10,000-message Maildir; connection limits; IPv6 (DESIGN.md
invariants 4, 5 and 7).

One daemon serves the whole module; each test works on a user of its own
(fixtures.popd.USERS), and failed logins come only from 127.0.0.3/.4, so no
test bars another's address."""
import base64
import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import fixtures
from fixtures import corpus as corpusmod
from fixtures.popd import PASSWORD, Popd, uidl_of

# Debian packages of the clients (a missing one is a failure, never a skip).
CLIENTS = {"fetchmail": "fetchmail", "mpop": "mpop", "getmail": "getmail6", "curl": "curl"}


@pytest.fixture(scope="module")
def popd(hm_tmp, tls_cert):
    base = tempfile.mkdtemp(prefix="popd-", dir=hm_tmp)
    os.chmod(base, 0o755)
    p = Popd(base, tls_cert).start()
    try:
        yield p
    finally:
        rc = p.stop()
        shutil.rmtree(base, ignore_errors=True)
    assert rc == 0, "homemail-popd exited %r on SIGTERM" % rc


@pytest.fixture(autouse=True)
def daemon_survives(request):
    """Whatever a test did, the daemon is still there after it."""
    yield
    if "popd" in request.fixturenames:
        p = request.getfixturevalue("popd")
        assert p.alive(), "homemail-popd died; log:\n" + p.log()


@pytest.fixture(scope="module")
def alice(popd, corpus):
    """The whole corpus delivered to alice by homemail-deliver: {uidl: bytes}.
    Clients that keep the mail read it in turn."""
    for m in corpus.messages:
        popd.deliver("alice", m.data)
    stored = popd.stored_messages("alice")
    assert len(stored) == len(corpus)
    return stored


def fill(popd, user, messages):
    for m in messages:
        popd.deliver(user, m.data)
    stored = popd.stored_messages(user)
    assert len(stored) == len(messages)
    return stored


def subset(corpus, n=30):
    """Message 0 (every trap), every ~1 MB one, and the first N others."""
    big = [m for m in corpus.messages if "big" in m.traps]
    rest = [m for m in corpus.messages[1:] if "big" not in m.traps][:n]
    return [corpus.messages[0]] + big + rest


def scratch(popd, name):
    d = tempfile.mkdtemp(prefix=name + "-", dir=popd.base)
    os.chmod(d, 0o755)
    return d


def client(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is not installed (Debian package %s)" % (name, CLIENTS[name]),
                    pytrace=False)
    return path


def read_dir(d):
    out = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out.append(f.read())
    return out


def first_diff(a, b):
    la, lb = a.split(b"\n"), b.split(b"\n")
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return "line %d: stored %r, got %r" % (i + 1, x[:120], y[:120])
    return "stored %d lines, got %d" % (len(la), len(lb))


def assert_identical(got, stored, what, expect=None):
    """GOT: raw messages as a client stored them; STORED: {uidl: bytes} as
    deliver wrote them. Compared by Message-ID after CRLF -> LF; EXPECT maps
    a stored message to what this client is documented to make of it."""
    exp = {}
    for data in stored.values():
        exp[corpusmod.msgid_of(data)] = expect(data) if expect else data
    have = {}
    for data in got:
        data = corpusmod.lf(data)
        mid = corpusmod.msgid_of(data)
        assert mid not in have, "%s: %s arrived twice" % (what, mid)
        have[mid] = data
    missing, extra = set(exp) - set(have), set(have) - set(exp)
    assert not missing and not extra, "%s: missing %s, extra %s" % (
        what, sorted(missing)[:5], sorted(extra)[:5])
    bad = [m for m in sorted(exp) if have[m] != exp[m]]
    assert not bad, "%s: %d of %d differ; first %s: %s" % (
        what, len(bad), len(exp), bad[0], first_diff(exp[bad[0]], have[bad[0]]))


def store_script(popd):
    """An MDA that writes the raw message on stdin to a new file in $1."""
    path = os.path.join(popd.base, "store.sh")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write('#!/bin/sh\nexec cat > "$(mktemp "$1/m.XXXXXXXX")"\n')
        os.chmod(path, 0o755)
    return path


def wait_unlocked(popd, user, timeout=10.0):
    """Waits until USER's mailbox can be locked again (the process of a
    dropped session has gone), then quits that probe session."""
    deadline = time.monotonic() + timeout
    while True:
        p = poplib.POP3("127.0.0.1", popd.port, timeout=10)
        p.user(user)
        try:
            p.pass_(PASSWORD)
        except poplib.error_proto as e:
            p.close()
            assert b"[IN-USE]" in e.args[0], e
            assert time.monotonic() < deadline, "%s still locked after %.0fs" % (user, timeout)
            time.sleep(0.05)
            continue
        p.quit()
        return


# --- clients built on poplib and raw sockets ------------------------------

class SrcPOP3(poplib.POP3):
    """poplib.POP3 whose socket is bound to a given source address."""

    def __init__(self, host, port, source=None, timeout=15):
        self._source = source
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout):
        src = (self._source, 0) if self._source else None
        return socket.create_connection((self.host, self.port), timeout, source_address=src)


class SrcPOP3_SSL(poplib.POP3_SSL):  # noqa: N801 - poplib's naming
    """poplib.POP3_SSL bound to a given source address (POP3_SSL calls
    POP3._create_socket by name, so it is done here in full)."""

    def __init__(self, host, port, source=None, context=None, timeout=15):
        self._source = source
        super().__init__(host, port, timeout=timeout, context=context)

    def _create_socket(self, timeout):
        sock = SrcPOP3._create_socket(self, timeout)
        return self.context.wrap_socket(sock, server_hostname=self.host)


def tls_context(cert):
    return ssl.create_default_context(cafile=cert.cert)


class Raw:
    """A line-level POP3 client on a plain socket, for what poplib won't send."""

    def __init__(self, host, port, source=None, timeout=10):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf, self.pos, self.closed = b"", 0, False
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        """One line without CRLF; b"" on EOF."""
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                ln, self.pos = self.buf[self.pos:i], i + 2
                return ln
            chunk = self.sock.recv(262144)
            if not chunk:
                self.closed = True
                rest, self.buf, self.pos = self.buf[self.pos:], b"", 0
                return rest
            self.buf = self.buf[self.pos:] + chunk
            self.pos = 0

    def cmd(self, text):
        self.send(text.encode() + b"\r\n" if isinstance(text, str) else text)
        return self.line()

    def multi(self):
        lines = []
        while True:
            ln = self.line()
            if ln == b".":
                return lines
            assert not self.closed, "connection closed in a multi-line reply"
            lines.append(ln[1:] if ln.startswith(b".") else ln)

    def login(self, user, password=PASSWORD):
        assert self.cmd("USER " + user).startswith(b"+OK")
        r = self.cmd("PASS " + password)
        assert r.startswith(b"+OK"), r
        return r

    def eof(self, timeout=10):
        """True once the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            self.buf, self.pos = b"", 0
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def login(popd, user, host="127.0.0.1", port=None):
    """A logged-in poplib session. Tolerates [IN-USE] for a moment (the
    process of a session the test just dropped may not have gone yet);
    test_login_right_after_quit holds popd to the stricter rule after QUIT."""
    deadline = time.monotonic() + 5
    while True:
        p = poplib.POP3(host, port or popd.port, timeout=15)
        p.user(user)
        try:
            p.pass_(PASSWORD)
            return p
        except poplib.error_proto as e:
            p.close()
            if b"[IN-USE]" not in e.args[0] or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def uidls(p):
    """{number: uidl} from a poplib session."""
    out = {}
    for ln in p.uidl()[1]:
        n, u = ln.split()
        out[int(n)] = u.decode()
    return out


def retr_all(p):
    count = p.stat()[0]
    out = []
    for n in range(1, count + 1):
        resp, lines, _ = p.retr(n)
        out.append(b"\n".join(lines) + b"\n")
    return out


# --- 1. real clients: every body byte-identical ----------------------------

def fetchmail(popd, user, out, *opts, keep=True):
    home = scratch(popd, "fetchmail-home")
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 protocol pop3 port %d\n'
                '  user "%s" there is root here password "%s"\n' % (popd.port, user, PASSWORD))
    os.chmod(rc, 0o600)
    argv = [client("fetchmail"), "-f", rc, "--idfile", os.path.join(home, "ids"),
            "--pidfile", os.path.join(home, "pid"), "--fetchall", "--invisible", "--norewrite",
            "--nodetach", "-v", "--mda", "%s %s" % (store_script(popd), out)]
    argv += ["--keep"] if keep else ["--nokeep"]
    r = fixtures.run(argv + list(opts), timeout=120, env=dict(os.environ, HOME=home))
    assert r.rc == 0, r
    return r


def test_fetchmail_plain_keep(popd, alice):
    out = scratch(popd, "fm-out")
    r = fetchmail(popd, "alice", out, "--sslproto", "", "--nosslcertck")
    assert "POP3> STLS" not in r.out + r.err, r  # never upgraded
    # --invisible: fetchmail adds no Received:, so the bytes are what the MDA gets.
    assert_identical(read_dir(out), alice, "fetchmail POP3")
    assert set(popd.stored_messages("alice")) == set(alice), "--keep deleted mail"


def test_fetchmail_stls_keep_then_delete(popd, corpus, tls_cert):
    stored = fill(popd, "bob", subset(corpus))
    tls = ["--sslproto", "tls1.2+", "--sslcertck", "--sslcertfile", tls_cert.cert,
           # fetchmail matches only DNS names, not the IP SAN.
           "--sslcommonname", "localhost"]
    out = scratch(popd, "fm-stls")
    r = fetchmail(popd, "bob", out, *tls)
    assert "POP3> STLS" in r.err + r.out, r
    assert_identical(read_dir(out), stored, "fetchmail STLS --keep")
    assert set(popd.stored_messages("bob")) == set(stored)
    out2 = scratch(popd, "fm-stls-del")
    fetchmail(popd, "bob", out2, *tls, keep=False)
    assert_identical(read_dir(out2), stored, "fetchmail STLS delete")
    assert popd.stored_messages("bob") == {}, "fetchmail without --keep left mail behind"
    assert "login user=bob peer=127.0.0.1 tls=yes" in popd.log()


def mpop(popd, user, out, tls_cert, starttls, keep):
    d = scratch(popd, "mpop")
    rc = os.path.join(d, "mpoprc")
    with open(rc, "w") as f:
        f.write("defaults\naccount default\nhost 127.0.0.1\n"
                "port %d\ntls on\ntls_starttls %s\ntls_trust_file %s\n"
                "user %s\npassword %s\nauth user\nkeep %s\nonly_new off\n"
                "received_header off\nuidls_file %s/uidls\n"
                'delivery mda "%s %s"\n'
                % (popd.port if starttls else popd.tls_port, "on" if starttls else "off",
                   tls_cert.cert, user, PASSWORD, "on" if keep else "off", d,
                   store_script(popd), out))
    os.chmod(rc, 0o600)
    r = fixtures.run([client("mpop"), "-C", rc, "-d"], timeout=120)
    assert r.rc == 0, r
    return r


def test_mpop_implicit_tls_keep(popd, alice, tls_cert):
    out = scratch(popd, "mpop-out")
    mpop(popd, "alice", out, tls_cert, starttls=False, keep=True)
    assert_identical(read_dir(out), alice, "mpop POP3S")
    assert set(popd.stored_messages("alice")) == set(alice)


def test_mpop_stls_delete(popd, corpus, tls_cert):
    stored = fill(popd, "carol", subset(corpus, 20))
    out = scratch(popd, "mpop-stls")
    r = mpop(popd, "carol", out, tls_cert, starttls=True, keep=False)
    assert "STLS" in r.err + r.out, r
    assert_identical(read_dir(out), stored, "mpop STLS")
    assert popd.stored_messages("carol") == {}


def unfold_header(data):
    """The message with its header unfolded (RFC 5322 2.2.3), the body as is."""
    head, sep, body = data.partition(b"\n\n")
    return head.replace(b"\n ", b" ").replace(b"\n\t", b"\t") + sep + body


def getmail_expect(data):
    """What getmail6 stores of DATA: one Return-Path: (the envelope sender,
    taken from the first) in place of all the message's Return-Path: headers,
    and the header re-folded by Python's email package (so both sides are
    compared unfolded; the body stays byte for byte)."""
    head, sep, body = data.partition(b"\n\n")
    lines, seen = [], False
    for ln in head.split(b"\n"):
        if ln.lower().startswith(b"return-path:"):
            if seen:
                continue
            seen = True
        lines.append(ln)
    return unfold_header(b"\n".join(lines) + sep + body)


def getmail_run(popd, tls_cert):
    """One getmail6 run over POP3S into a fresh Maildir; returns (Result,
    Maildir). getmail delivers each message in a child process and installs
    its SIGCHLD handler only after fork(): a child that exits first (a
    loaded machine) leaves it waiting for a signal that never comes, until
    the retriever's timeout says "waiting child pid N timed out"
    (getmail6 6.18's ForkingBase.forkchild). The timeout is set short so
    that such a run ends soon and can be told apart."""
    d = scratch(popd, "getmail")
    md = os.path.join(d, "Maildir")
    for sub in ("", "/cur", "/new", "/tmp"):
        os.makedirs(md + sub, exist_ok=True)
        os.chown(md + sub, 65534, 65534)  # getmail6 refuses to deliver as root
    rc = os.path.join(d, "getmailrc")
    with open(rc, "w") as f:
        f.write("[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\nport = %d\n"
                "username = alice\npassword = %s\nca_certs = %s\ntimeout = 20\n\n"
                "[destination]\ntype = Maildir\npath = %s/\nuser = nobody\n\n"
                "[options]\nread_all = true\ndelete = false\ndelivered_to = false\n"
                "received = false\nverbose = 0\n" % (popd.tls_port, PASSWORD, tls_cert.cert, md))
    os.chmod(rc, 0o600)
    return fixtures.run([client("getmail"), "--getmaildir", d, "--rcfile", rc], timeout=120), md


def test_getmail6_pop3s_maildir(popd, alice, tls_cert):
    for attempt in range(3):
        r, md = getmail_run(popd, tls_cert)
        # Only getmail's own lost-SIGCHLD race is run again, from scratch.
        if r.rc == 0 or "waiting child pid" not in r.out + r.err:
            break
    assert r.rc == 0, r
    got = read_dir(os.path.join(md, "new")) + read_dir(os.path.join(md, "cur"))
    assert_identical([unfold_header(corpusmod.lf(m)) for m in got], alice, "getmail6 POP3S",
                     expect=getmail_expect)
    assert set(popd.stored_messages("alice")) == set(alice)


def test_curl(popd, alice, tls_cert):
    curl = client("curl")
    auth = ["-u", "alice:" + PASSWORD]
    base = "pop3://127.0.0.1:%d/" % popd.port
    r = fixtures.run([curl, "-sS", base] + auth)
    assert r.rc == 0, r
    listing = [tuple(map(int, ln.split())) for ln in r.out.splitlines()]
    # Sizes are octets of the CRLF form; the order is popd's message order.
    p = login(popd, "alice")
    order = uidls(p)
    p.quit()
    assert listing == [(n, len(corpusmod.crlf(alice[order[n]]))) for n in sorted(order)]
    r = fixtures.run([curl, "-sS", "-X", "UIDL", base] + auth)
    assert r.rc == 0, r
    assert [ln.split()[1] for ln in r.out.splitlines()] == [order[n] for n in sorted(order)]

    out = scratch(popd, "curl")
    cfg = os.path.join(out, "curl.cfg")
    with open(cfg, "w") as f:
        for n in sorted(order):
            f.write('url = "%s%d"\noutput = "%s/m%05d"\n' % (base, n, out, n))
    r = fixtures.run([curl, "-sS", "-K", cfg] + auth, timeout=120)
    os.unlink(cfg)
    assert r.rc == 0, r
    assert_identical(read_dir(out), alice, "curl pop3://")

    # TLS both ways, on a few messages (every big one among them).
    pick = [n for n in sorted(order) if len(alice[order[n]]) > 500000 or n <= 5]
    for scheme, port, extra in (("pop3s", popd.tls_port, []),
                                ("pop3", popd.port, ["--ssl-reqd"])):
        out = scratch(popd, "curl-" + scheme)
        argv = [curl, "-sS", "--cacert", tls_cert.cert] + extra + auth
        for n in pick:
            argv += ["%s://127.0.0.1:%d/%d" % (scheme, port, n), "-o", "%s/m%05d" % (out, n)]
        r = fixtures.run(argv, timeout=120)
        assert r.rc == 0, r
        assert_identical(read_dir(out), {order[n]: alice[order[n]] for n in pick},
                         "curl " + scheme + " ".join(extra))


def test_poplib_plain_ssl_stls(popd, alice, tls_cert):
    p = login(popd, "alice")
    assert p.stat() == (len(alice), sum(len(corpusmod.crlf(d)) for d in alice.values()))
    order = uidls(p)
    assert sorted(order.values()) == sorted(alice)
    sizes = {int(n): int(s) for n, s in (ln.split() for ln in p.list()[1])}
    assert sizes == {n: len(corpusmod.crlf(alice[u])) for n, u in order.items()}
    assert_identical(retr_all(p), alice, "poplib POP3")
    p.quit()

    p = SrcPOP3_SSL("127.0.0.1", popd.tls_port, context=tls_context(tls_cert))
    assert "STLS" not in p.capa()
    p.user("alice")
    p.pass_(PASSWORD)
    assert_identical(retr_all(p), alice, "poplib POP3_SSL")
    p.quit()

    p = poplib.POP3("127.0.0.1", popd.port, timeout=15)
    assert "STLS" in p.capa()
    p.stls(tls_context(tls_cert))
    assert "STLS" not in p.capa()
    p.user("alice")
    p.pass_(PASSWORD)
    some = {u: alice[u] for n, u in order.items() if n <= 20}
    got = [b"\n".join(p.retr(n)[1]) + b"\n" for n in sorted(order) if n <= 20]
    assert_identical(got, some, "poplib STLS")
    p.quit()
    # Everything was retrieved and kept: new/ -> cur/ with the S flag.
    assert os.listdir(os.path.join(popd.maildir("alice"), "new")) == []
    cur = os.listdir(os.path.join(popd.maildir("alice"), "cur"))
    assert len(cur) == len(alice) and all(n.endswith(":2,S") for n in cur), cur[:3]
    assert popd.stored_messages("alice") == alice


def _s_client(port, *args):
    """openssl s_client's handshake with popd's implicit-TLS port: the
    cipher it agreed, or None when the handshake failed."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "localhost", *args],
                       input=b"QUIT\r\n", capture_output=True, timeout=30)
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        if "Cipher is " in line and "(NONE)" not in line:
            return line.split("Cipher is ", 1)[1].strip()
    return None


def test_tls_intermediate_profile(popd):
    """popd offers Mozilla's intermediate profile by default: TLS 1.3, and
    TLS 1.2 only with AEAD suites with forward secrecy (no CBC, no static
    RSA key exchange, nothing older than TLS 1.2)."""
    assert _s_client(popd.tls_port, "-tls1_3") is not None
    for good in ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
                 "DHE-RSA-AES128-GCM-SHA256"):  # the fixture's key is RSA
        assert _s_client(popd.tls_port, "-tls1_2", "-cipher", good) == good, good
    for weak in ("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "AES128-SHA",
                 "AES128-GCM-SHA256"):  # CBC, or no forward secrecy
        assert _s_client(popd.tls_port, "-tls1_2", "-cipher", weak) is None, weak
    assert _s_client(popd.tls_port, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0") is None


def test_tls_retr_latency(popd, alice, tls_cert):
    """A message larger than one TLS record (16 KB) must not wait for the
    client's delayed ACK: ~40 ms per message would make POP3S 20-30 times
    slower than plain POP3 (Nagle's algorithm holding the second record;
    servers set TCP_NODELAY)."""
    p = login(popd, "alice")
    order = uidls(p)
    p.quit()
    pick = [n for n in sorted(order) if 17000 < len(corpusmod.crlf(alice[order[n]])) < 60000][:20]
    assert len(pick) == 20
    p = SrcPOP3_SSL("127.0.0.1", popd.tls_port, context=tls_context(tls_cert))
    p.user("alice")
    p.pass_(PASSWORD)
    times = []
    for n in pick:
        t0 = time.monotonic()
        p.retr(n)
        times.append(time.monotonic() - t0)
    p.quit()
    times.sort()
    median = times[len(times) // 2]
    print("POP3S RETR of 17-60 KB messages: median %.1f ms" % (median * 1000))
    assert median < 0.025, "median POP3S RETR of a 17-60 KB message took %.1f ms" % (median * 1000)


def test_capabilities_and_auth_plain(popd, corpus):
    fill(popd, "olivia", corpus.messages[:2])
    r = Raw("127.0.0.1", popd.port)
    assert r.greeting.startswith(b"+OK")
    assert r.cmd("CAPA").startswith(b"+OK")
    caps = r.multi()
    for c in (b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING",
              b"EXPIRE NEVER", b"USER", b"SASL PLAIN LOGIN", b"STLS"):
        assert c in caps, caps
    assert any(c.startswith(b"IMPLEMENTATION") for c in caps), caps
    # AUTH PLAIN with the initial response, then pipelined commands.
    token = base64.b64encode(b"\0olivia\0" + PASSWORD.encode()).decode()
    assert r.cmd("AUTH PLAIN " + token).startswith(b"+OK")
    r.send(b"STAT\r\nNOOP\r\nLIST 1\r\nUIDL 2\r\n")
    stat, noop, list1, uidl2 = (r.line() for _ in range(4))
    assert stat.startswith(b"+OK 2 ") and noop.startswith(b"+OK"), (stat, noop)
    assert list1.startswith(b"+OK 1 ") and uidl2.startswith(b"+OK 2 "), (list1, uidl2)
    assert r.cmd("QUIT").startswith(b"+OK")
    assert r.eof()
    # AUTH PLAIN with a continuation.
    r = Raw("127.0.0.1", popd.port)
    assert r.cmd("AUTH PLAIN") == b"+ "
    assert r.cmd("*").startswith(b"-ERR")  # cancelled (RFC 5034): not a failed login
    assert r.cmd("AUTH PLAIN") == b"+ "
    assert r.cmd(token).startswith(b"+OK")
    r.cmd("QUIT")
    r.close()
    wait_unlocked(popd, "olivia")
    # AUTH LOGIN (what Outlook and Thunderbird fall back to), and the list.
    r = Raw("127.0.0.1", popd.port)
    assert r.cmd("AUTH").startswith(b"+OK") and r.multi() == [b"PLAIN", b"LOGIN"]
    assert r.cmd("AUTH LOGIN") == b"+ " + base64.b64encode(b"Username:")
    assert r.cmd(base64.b64encode(b"olivia").decode()) == b"+ " + base64.b64encode(b"Password:")
    assert r.cmd(base64.b64encode(PASSWORD.encode()).decode()).startswith(b"+OK")
    assert r.cmd("STAT").startswith(b"+OK 2 ")
    r.cmd("QUIT")
    r.close()
    wait_unlocked(popd, "olivia")


def test_pipelined_retr_of_everything(popd, alice):
    """RFC 2449 PIPELINING: every RETR sent at once, the replies in order."""
    p = login(popd, "alice")
    order = uidls(p)
    p.quit()
    r = Raw("127.0.0.1", popd.port, timeout=30)
    r.send(b"USER alice\r\nPASS " + PASSWORD.encode() + b"\r\n" +
           b"".join(b"RETR %d\r\n" % n for n in sorted(order)) + b"QUIT\r\n")
    while True:  # [IN-USE] only while an earlier session's process lingers
        assert r.line().startswith(b"+OK")
        resp = r.line()
        if not resp.startswith(b"-ERR [IN-USE]"):
            break
        r.close()
        time.sleep(0.05)
        r = Raw("127.0.0.1", popd.port, timeout=30)
        r.send(b"USER alice\r\nPASS " + PASSWORD.encode() + b"\r\n" +
               b"".join(b"RETR %d\r\n" % n for n in sorted(order)) + b"QUIT\r\n")
    assert resp.startswith(b"+OK"), resp
    got = []
    for n in sorted(order):
        head = r.line()
        assert head == b"+OK %d octets" % len(corpusmod.crlf(alice[order[n]])), (n, head)
        got.append(b"\n".join(r.multi()) + b"\n")
    assert r.line().startswith(b"+OK")  # QUIT
    r.close()
    assert_identical(got, alice, "pipelined RETR")


# --- 2. UIDLs --------------------------------------------------------------

def test_uidl_stable_snapshot_never_reused(popd, corpus):
    user = "dave"
    stored = fill(popd, user, corpus.messages[1:6])
    p = login(popd, user)
    first = uidls(p)
    p.quit()
    assert sorted(first.values()) == sorted(stored)
    for u in first.values():  # RFC 1939: 1 to 70 characters in 0x21..0x7E
        assert 1 <= len(u) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in u), u
    p = login(popd, user)
    assert uidls(p) == first
    p.quit()
    assert popd.restart() == 0
    p = login(popd, user)
    assert uidls(p) == first, "UIDLs changed across a restart"
    # A message delivered during a session is not part of its snapshot.
    stat = p.stat()
    new_name = popd.deliver(user, corpus.messages[7].data)
    assert p.stat() == stat
    assert uidls(p) == first
    with pytest.raises(poplib.error_proto):
        p.retr(len(first) + 1)
    p.quit()
    p = login(popd, user)
    second = uidls(p)
    assert {n: u for n, u in second.items() if n <= len(first)} == first
    assert set(second.values()) - set(first.values()) == {uidl_of(new_name)}
    # Delete one, deliver another: the old UIDL does not come back.
    gone = second[1]
    p.dele(1)
    p.quit()
    newer = popd.deliver(user, corpus.messages[0].data)  # the same bytes as a new message
    p = login(popd, user)
    third = uidls(p)
    p.quit()
    assert gone not in third.values()
    assert uidl_of(newer) in third.values()
    assert uidl_of(newer) not in set(first.values()) | set(second.values())
    assert len(set(third.values())) == len(third)


# --- 3. DELE only at QUIT ----------------------------------------------------

def test_dele_drop_rset_quit(popd, corpus):
    user = "erin"
    stored = fill(popd, user, corpus.messages[10:14])
    # DELE, then the connection drops: nothing is deleted.
    r = Raw("127.0.0.1", popd.port)
    r.login(user)
    assert r.cmd("DELE 1").startswith(b"+OK")
    assert r.cmd("DELE 2").startswith(b"+OK")
    assert r.cmd("STAT").startswith(b"+OK 2 ")
    assert r.cmd("RETR 1").startswith(b"-ERR")
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
    r.close()
    wait_unlocked(popd, user)
    assert popd.stored_messages(user) == stored
    # DELE, then the daemon is stopped: the session ends, nothing deleted.
    p = login(popd, user)
    p.dele(1)
    assert popd.restart() == 0
    p.close()
    assert popd.stored_messages(user) == stored
    # DELE, RSET, QUIT: nothing deleted.
    p = login(popd, user)
    p.dele(1)
    p.dele(3)
    p.rset()
    assert p.stat()[0] == 4
    p.quit()
    assert popd.stored_messages(user) == stored
    # DELE, QUIT: exactly that one is gone.
    p = login(popd, user)
    order = uidls(p)
    p.dele(2)
    with pytest.raises(poplib.error_proto):
        p.dele(2)
    assert 2 not in uidls(p)
    p.quit()
    left = popd.stored_messages(user)
    assert set(left) == set(stored) - {order[2]}
    assert all(left[u] == stored[u] for u in left)


# --- 4. IN-USE ---------------------------------------------------------------

def test_in_use(popd, corpus):
    user = "frank"
    fill(popd, user, corpus.messages[20:22])
    first = login(popd, user)
    second = poplib.POP3("127.0.0.1", popd.port, timeout=15)
    second.user(user)
    with pytest.raises(poplib.error_proto) as e:
        second.pass_(PASSWORD)
    assert e.value.args[0].startswith(b"-ERR [IN-USE]"), e.value
    second.close()
    # The same with AUTH PLAIN.
    r = Raw("127.0.0.1", popd.port)
    token = base64.b64encode(b"\0frank\0" + PASSWORD.encode()).decode()
    assert r.cmd("AUTH PLAIN " + token).startswith(b"-ERR [IN-USE]")
    r.close()
    assert first.stat()[0] == 2  # the first session is unharmed
    first.quit()
    wait_unlocked(popd, user)


def test_login_right_after_quit(popd, corpus):
    """A client that got +OK to QUIT may log in again at once (fetchmail
    polling twice, a desktop client's quick re-check): the lock must be gone
    by the time QUIT is answered, not some time after. The window is small,
    so busy loops (stopped by PID) keep the CPUs contended meanwhile."""
    user = "rupert"
    fill(popd, user, corpus.messages[25:26])
    wait_unlocked(popd, user)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(2 * (os.cpu_count() or 1))]
    refused = 0
    try:
        for _ in range(200):
            p = poplib.POP3("127.0.0.1", popd.port, timeout=15)
            p.user(user)
            try:
                p.pass_(PASSWORD)
                p.stat()
                p.quit()
            except poplib.error_proto as e:
                assert e.args[0].startswith(b"-ERR [IN-USE]"), e
                refused += 1
                p.close()
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert refused == 0, "%d of 200 logins right after a clean QUIT got [IN-USE]" % refused


# --- 5. plain-text login policy ---------------------------------------------

def test_plaintext_refused_from_foreign_address_stls_works(popd, corpus, tls_cert):
    user = "grace"
    stored = fill(popd, user, corpus.messages[30:32])
    p = SrcPOP3("127.0.0.1", popd.port, source="127.0.0.2")
    caps = p.capa()
    assert "USER" not in caps and "SASL" not in caps and "STLS" in caps, caps
    with pytest.raises(poplib.error_proto) as e:
        p.user(user)
    assert e.value.args[0].startswith(b"-ERR [AUTH] Plaintext authentication disallowed")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0grace\0" + PASSWORD.encode()).decode())
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    p.stls(tls_context(tls_cert))
    caps = p.capa()
    assert "USER" in caps and "STLS" not in caps, caps
    p.user(user)
    p.pass_(PASSWORD)
    assert_identical(retr_all(p), stored, "poplib STLS from 127.0.0.2")
    p.quit()
    # Implicit TLS from the same address.
    p = SrcPOP3_SSL("127.0.0.1", popd.tls_port, source="127.0.0.2", context=tls_context(tls_cert))
    p.user(user)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 2
    p.quit()
    assert "login user=grace peer=127.0.0.2 tls=yes" in popd.log()
    assert "login user=grace peer=127.0.0.2 tls=no" not in popd.log()


# --- 6. failed logins --------------------------------------------------------

def test_wrong_password_delay(popd, tls_cert):
    user = "heidi"
    # 127.0.0.4 is not allowed plain text: log in over TLS.
    p = SrcPOP3_SSL("127.0.0.1", popd.tls_port, source="127.0.0.4", context=tls_context(tls_cert))
    p.user(user)
    t0 = time.monotonic()
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("not the password")
    elapsed = time.monotonic() - t0
    assert e.value.args[0].startswith(b"-ERR [AUTH]"), e.value
    assert elapsed >= 1.5, "failed login answered after %.2fs" % elapsed
    assert "login failed peer=127.0.0.4" in popd.log()
    p.user(user)  # the session goes on; the right password works
    p.pass_(PASSWORD)
    p.quit()


def _wrong_logins(popd, tls_cert, source, user, tries):
    """One POP3S session from source trying tries wrong passwords for user:
    (answers, the line after them, what came after that line)."""
    p = SrcPOP3_SSL("127.0.0.1", popd.tls_port, source=source, context=tls_context(tls_cert))
    answers = []
    for i in range(tries):
        p.user(user)
        try:
            p.pass_("wrong%d" % i)
            answers.append(b"+OK?!")
        except poplib.error_proto as e:
            answers.append(e.args[0])
    try:  # the server says why and hangs up
        last = p._getline()[0]
    except (OSError, poplib.error_proto) as e:
        last = repr(e).encode()
    try:
        after = p.file.read()
    except OSError:
        after = b""
    return answers, last, after


def test_three_failures_end_session_ten_bar_address(popd, tls_cert):
    """3 parallel sessions from 127.0.0.3, 3 wrong passwords each (one for an
    unknown user): each session ends after its 3rd. A 4th session's first
    wrong password is the address's 10th: answered; its next try is refused
    without a check, and then the address is barred from connecting."""
    results = [None] * 3

    def attempt(i):
        try:
            results[i] = _wrong_logins(popd, tls_cert, "127.0.0.3",
                                       "nosuchuser" if i == 0 else "ivan", 3)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for res in results:
        assert isinstance(res, tuple), res
        answers, last, after = res
        assert all(a.startswith(b"-ERR [AUTH] Authentication failed") for a in answers), answers
        assert last.startswith(b"-ERR") and after == b"", (last, after)
    answers, last, after = _wrong_logins(popd, tls_cert, "127.0.0.3", "ivan", 2)
    assert answers[0].startswith(b"-ERR [AUTH] Authentication failed"), answers
    assert answers[1].startswith(b"-ERR [AUTH] Too many failed logins"), answers
    r = Raw("127.0.0.1", popd.port, source="127.0.0.3")
    assert r.greeting.startswith(b"-ERR [AUTH] Too many failed logins"), r.greeting
    assert r.eof()
    assert popd.log().count("login failed peer=127.0.0.3") == 10
    # Other addresses are not affected.
    p = login(popd, "ivan")
    p.quit()
    r = Raw("127.0.0.1", popd.port, source="127.0.0.4")
    assert r.greeting.startswith(b"+OK")
    r.close()


def test_parallel_guessing_gets_ten_answers(popd, tls_cert):
    """64 sessions of one address guessing in parallel (the most popd lets
    one address open): the bar is shared, so only 10 guesses are checked
    and answered in the window, not one per session (was 177 in 11 s)."""
    checked = []
    lock = threading.Lock()
    deadline = time.monotonic() + 12

    def guesser(i):
        while time.monotonic() < deadline:
            try:
                p = SrcPOP3_SSL("127.0.0.1", popd.tls_port, source="127.0.0.5",
                                context=tls_context(tls_cert))
            except (OSError, poplib.error_proto):
                return  # barred (or refused) at the greeting
            try:
                for j in range(3):
                    p.user("ivan")
                    try:
                        answer = p.pass_("guess-%d-%d" % (i, j))
                    except poplib.error_proto as e:
                        answer = e.args[0]
                    with lock:
                        checked.append(answer)
                    if not answer.startswith(b"-ERR [AUTH] Authentication failed"):
                        break
            except (OSError, poplib.error_proto):
                pass
            p.close()

    threads = [threading.Thread(target=guesser, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    failed = [a for a in checked if a.startswith(b"-ERR [AUTH] Authentication failed")]
    assert len(failed) == 10, (len(failed), len(checked))
    assert popd.log().count("login failed peer=127.0.0.5") == 10
    assert all(a.startswith(b"-ERR") for a in checked), checked


def plain_token(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def test_password_length_limit(hm_tmp, tls_cert):
    """One limit, HM_PASSWORD_MAX = 255 octets: `homemail passwd` sets a
    password that long, popd takes it by USER/PASS and by AUTH PLAIN, and
    answers a longer one at once with -ERR [AUTH] naming the limit, without
    counting it as a failed login (it can never be right, so it tells a
    guesser nothing): not after 3 in a session, nor 10 from one address.
    A daemon of its own, so the shared one's bars are not touched."""
    base = tempfile.mkdtemp(prefix="popd-pwlen-", dir=hm_tmp)
    os.chmod(base, 0o755)
    p = Popd(base, tls_cert, users=("longpw",), password="initial")
    longest, over = "p" * 255, "p" * 256
    r = subprocess.run([fixtures.program("admin/homemail"), "passwd", "--stdin", "-c", p.conf,
                        "longpw"], input=(longest + "\n").encode(), capture_output=True,
                       timeout=60, start_new_session=True)
    assert r.returncode == 0, r
    p.start()
    try:
        too_long = b"-ERR [AUTH] Password longer than 255 octets."
        c = poplib.POP3("127.0.0.1", p.port, timeout=15)
        t0 = time.monotonic()
        for _ in range(6):
            c.user("longpw")
            with pytest.raises(poplib.error_proto) as e:
                c.pass_(over)
            assert e.value.args[0] == too_long
            with pytest.raises(poplib.error_proto) as e:
                c._shortcmd("AUTH PLAIN " + plain_token("longpw", over))
            assert e.value.args[0] == too_long
            c._putcmd("AUTH PLAIN")
            assert c._getline()[0] == b"+ "
            with pytest.raises(poplib.error_proto) as e:
                c._shortcmd(plain_token("longpw", over + "q" * 200))
            assert e.value.args[0] == too_long
        assert time.monotonic() - t0 < 1.5, "over-long passwords were delayed as wrong ones"
        c.user("longpw")
        assert c.pass_(longest).startswith(b"+OK")
        c.quit()
        c = poplib.POP3("127.0.0.1", p.port, timeout=15)
        assert c._shortcmd("AUTH PLAIN " + plain_token("longpw", longest)).startswith(b"+OK")
        c.quit()
        assert "login failed" not in p.log()
        assert p.log().count("login refused peer=127.0.0.1: password longer than 255") == 18
        # A wrong password of the longest length is an ordinary failure.
        c = poplib.POP3("127.0.0.1", p.port, timeout=15)
        c.user("longpw")
        with pytest.raises(poplib.error_proto) as e:
            c.pass_("q" * 255)
        assert e.value.args[0] == b"-ERR [AUTH] Authentication failed."
        c.quit()
        assert p.log().count("login failed peer=127.0.0.1") == 1
    finally:
        assert p.stop() == 0
        shutil.rmtree(base, ignore_errors=True)


# --- 7. hostile input ----------------------------------------------------------

def test_verbose_log_masks_what_clients_send_wrong(popd):
    """popd -v traces client lines; passwords must not reach the log even
    when a client errs: a SASL response sent after a refused AUTH, PASS
    with a tab, USER and PASS in one line split by a bare CR, an unknown
    mechanism followed by its token, a response line that is no command."""
    secrets = [b"S3cret-one", b"S3cret-two", b"S3cret-three", b"S3cret-four", b"S3cret-five"]
    b64 = base64.b64encode(b"\0alice\0" + secrets[0])
    r = Raw("127.0.0.1", popd.port, source="127.0.0.6")  # plain text not allowed from here
    assert r.cmd("AUTH PLAIN").startswith(b"-ERR [AUTH]")
    assert r.cmd(b64 + b"\r\n").startswith(b"-ERR")
    assert r.cmd(b"PASS\t" + secrets[1] + b"\r\n").startswith(b"-ERR")
    assert r.cmd(b"USER alice\rPASS " + secrets[2] + b"\r\n").startswith(b"-ERR")
    assert r.cmd("auth xoauth2").startswith(b"-ERR")
    assert r.cmd(secrets[3] + b"\r\n").startswith(b"-ERR")
    assert r.cmd(b"pass " + secrets[4] + b"\r\n").startswith(b"-ERR")
    assert r.cmd("QUIT").startswith(b"+OK")
    r.close()
    deadline = time.monotonic() + 5
    with open(popd.logfile, "rb") as f:
        log = f.read()
    while b"C: QUIT" not in log.split(b"peer=127.0.0.6", 1)[-1] and time.monotonic() < deadline:
        time.sleep(0.05)
        with open(popd.logfile, "rb") as f:
            log = f.read()
    mine = log[log.rindex(b"peer=127.0.0.6"):]
    assert b"C: QUIT" in mine, mine
    for sec in secrets + [b64, b64[:12]]:
        assert sec not in log, sec
    for shown in (b"C: AUTH PLAIN\n", b"C: PASS ********", b"C: USER ********",
                  b"C: AUTH xoauth2\n"):
        assert shown in mine, (shown, mine)
    assert mine.count(b"C: ********") == 2, mine



def test_long_lines_nul_and_bad_commands(popd, corpus):
    user = "judy"
    stored = fill(popd, user, corpus.messages[40:42])
    r = Raw("127.0.0.1", popd.port)
    # Before login: a 10 KB line, a NUL, then a normal login.
    assert r.cmd("USER " + "x" * 10240) == b"-ERR Input line too long."
    assert r.cmd(b"NO\0OP\r\n").startswith(b"-ERR")
    assert r.cmd("NOOP").startswith(b"+OK")
    r.login(user)
    # After login, pipelined with good commands around it.
    r.send(b"STAT\r\nLIST " + b"9" * 10240 + b"\r\nSTAT\r\n")
    a, b, c = r.line(), r.line(), r.line()
    assert a.startswith(b"+OK 2 ") and b == b"-ERR Input line too long." and c == a, (a, b, c)
    assert r.cmd(b"RETR 1\0\r\n").startswith(b"-ERR")
    assert r.cmd("RETR 1").startswith(b"+OK")
    body = b"\n".join(r.multi()) + b"\n"
    p_order = r.cmd("UIDL 1").split()[2].decode()
    assert body == stored[p_order]
    assert r.cmd("QUIT").startswith(b"+OK")
    r.close()

    # The limit is 512 octets with the CRLF: 512 is a command, 513 too long.
    r = Raw("127.0.0.1", popd.port)
    assert r.cmd("NOOP " + "y" * 505) != b"-ERR Input line too long."
    assert r.cmd("NOOP " + "y" * 506) == b"-ERR Input line too long."
    assert r.cmd("NOOP").startswith(b"+OK")
    r.cmd("QUIT")
    r.close()

    # 20 bad commands end the session.
    r = Raw("127.0.0.1", popd.port)
    answers = [r.cmd("BOGUS%d" % i) for i in range(19)]
    assert all(a.startswith(b"-ERR") for a in answers), answers
    assert r.cmd("X" * 1000).startswith(b"-ERR")  # the 20th
    assert r.eof(), "session still open after 20 bad commands"
    # A line that never ends, then the connection drops.
    r = Raw("127.0.0.1", popd.port)
    r.send(b"A" * 200000)
    r.close()
    wait_unlocked(popd, user)
    assert popd.stored_messages(user) == stored


# --- 8. a 10,000-message Maildir ----------------------------------------------

def test_ten_thousand_messages(popd):
    user = "big"
    new = os.path.join(popd.maildir(user), "new")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(popd.maildir(user), sub), exist_ok=True)
    total = 0
    for i in range(10000):
        data = (b"From: sender%d@origin.test\nTo: big@home.example\nSubject: message %d\n"
                b"Message-ID: <big-%d@corpus.test>\n\n" % (i, i, i)) + b"line of text\n" * (i % 37)
        w = len(corpusmod.crlf(data))
        total += w
        name = "%d.M%06dP4242Q%d.pophost,S=%d,W=%d" % (1700000000 + i // 100, i, i, len(data), w)
        with open(os.path.join(new, name), "wb") as f:
            f.write(data)
    delivered = popd.deliver(user, b"Subject: one more\n\nvia homemail-deliver\n")
    with open(os.path.join(popd.maildir(user), delivered), "rb") as f:
        total += len(corpusmod.crlf(f.read()))
    r = Raw("127.0.0.1", popd.port)
    t0 = time.monotonic()
    r.login(user)
    stat = r.cmd("STAT")
    first_stat = time.monotonic() - t0
    assert stat == b"+OK 10001 %d" % total
    t0 = time.monotonic()
    assert r.cmd("UIDL").startswith(b"+OK")
    lines = r.multi()
    uidl_time = time.monotonic() - t0
    assert len(lines) == 10001 and len({ln.split()[1] for ln in lines}) == 10001
    assert lines[-1].split()[1].decode() == uidl_of(delivered)
    assert r.cmd("RETR 10000").startswith(b"+OK")
    assert b"Message-ID: <big-9999@corpus.test>" in r.multi()
    r.cmd("QUIT")
    r.close()
    print("10,000-message Maildir: login+STAT %.3fs, UIDL %.3fs" % (first_stat, uidl_time))
    assert first_stat < 2.0, "login + STAT of 10,000 messages took %.2fs" % first_stat


# --- 9. connection limits ---------------------------------------------------------

def test_connection_limits(popd):
    held = []
    try:
        for _ in range(64):
            held.append(Raw("127.0.0.1", popd.port, source="127.0.0.10"))
        assert all(r.greeting.startswith(b"+OK") for r in held)
        extra = Raw("127.0.0.1", popd.port, source="127.0.0.10")
        assert extra.greeting.startswith(b"-ERR"), extra.greeting
        assert extra.eof()
        extra.close()
        # Another address still gets in, up to 256 sessions in all.
        for src in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
            for _ in range(64):
                held.append(Raw("127.0.0.1", popd.port, source=src))
        assert all(r.greeting.startswith(b"+OK") for r in held), \
            [r.greeting for r in held if not r.greeting.startswith(b"+OK")][:3]
        extra = Raw("127.0.0.1", popd.port, source="127.0.0.14")
        assert extra.greeting.startswith(b"-ERR"), extra.greeting
        extra.close()
    finally:
        for r in held:
            r.close()
    # Once they are gone, the address is welcome again.
    deadline = time.monotonic() + 10
    while True:
        r = Raw("127.0.0.1", popd.port, source="127.0.0.10")
        ok = r.greeting.startswith(b"+OK")
        r.close()
        if ok:
            break
        assert time.monotonic() < deadline, "127.0.0.10 still refused: " + repr(r.greeting)
        time.sleep(0.1)


# --- 10. IPv6 -----------------------------------------------------------------------

def test_ipv6(popd, corpus):
    user = "niaj"
    stored = fill(popd, user, corpus.messages[50:53])
    p = poplib.POP3("::1", popd.port6, timeout=15)
    caps = p.capa()
    assert "USER" in caps and "STLS" in caps, caps  # ::1 may log in in plain text
    p.user(user)
    p.pass_(PASSWORD)
    assert_identical(retr_all(p), stored, "poplib over ::1")
    p.quit()
    assert "login user=niaj peer=::1" in popd.log()


# --- 11. TOP, LIST n, UIDL n, bad message numbers -------------------------------------

def test_top_list_uidl_and_bad_numbers(popd, corpus):
    user = "peggy"
    msg = (b"Subject: top test\nMessage-ID: <top@corpus.test>\n\nbody 1\n.dot line\n"
           b"body 3\n..two dots\n.\nlast\n")
    name1 = popd.deliver(user, msg)
    fill_names = [popd.deliver(user, m.data) for m in corpus.messages[60:62]]
    # A message another MDA put there: no ,S= or ,W= in its name.
    other = os.path.join(popd.maildir(user), "new", "1999999999.M1P1.othermda")
    with open(other, "wb") as f:
        f.write(corpus.messages[0].data)
    stored = popd.stored_messages(user)
    p = login(popd, user)
    order = uidls(p)
    assert order[1] == uidl_of(name1) and order[4] == "1999999999.M1P1.othermda"
    assert [order[2], order[3]] == [uidl_of(n) for n in fill_names]
    for n, u in order.items():
        assert p.list(n) == b"+OK %d %d" % (n, len(corpusmod.crlf(stored[u])))
        assert p.uidl(n) == b"+OK %d %s" % (n, u.encode())
    full = stored[order[1]]
    head = full.split(b"\n\n", 1)[0].split(b"\n")
    body = full.split(b"\n\n", 1)[1].split(b"\n")
    assert p.top(1, 0)[1] == head + [b""]
    assert p.top(1, 2)[1] == head + [b""] + body[:2]
    assert p.top(1, 5)[1] == head + [b""] + body[:5]
    assert p.top(1, 1000)[1] == head + [b""] + body[:-1]
    assert b"\n".join(p.retr(4)[1]) + b"\n" == corpus.messages[0].data
    bad = ["LIST 5", "LIST 0", "LIST 4294967297", "LIST 4294967296", "LIST -1", "LIST 1x",
           "UIDL 5", "UIDL 0", "RETR 0", "RETR -1", "RETR 5", "RETR 18446744073709551617",
           "TOP 5 1", "TOP 0 1", "TOP 1 -1", "TOP 1", "DELE 0", "DELE 5", "RETR", "LIST 1 2"]
    for c in bad:
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(c)
        assert e.value.args[0].startswith(b"-ERR"), (c, e.value)
    assert p.stat()[0] == 4  # the session survived all of that
    p.quit()
    assert popd.stored_messages(user) == stored


# --- 12. what is not a regular file in a Maildir ----------------------------------------

def outside_secret(popd, name):
    """A readable file outside every Maildir (popd runs as root here, so it
    could read it): a symbolic link to it must never be served."""
    path = os.path.join(popd.base, name)
    with open(path, "wb") as f:
        f.write(b"Subject: not mail\n\nSECRET-%s\n" % name.encode())
    return path


def test_symlinks_not_listed_or_served(popd, corpus, tls_cert):
    user = "mallory"
    stored = fill(popd, user, corpus.messages[70:72])
    secret = outside_secret(popd, "mallory-secret")
    md = popd.maildir(user)
    links = ["cur/1500000000.M1P1Q1.evil,S=40,W=42:2,S", "new/1500000001.M1P1Q1.evil",
             "new/1500000002.M1P1Q1.evil,S=40,W=42"]
    for name in links:
        os.symlink(secret, os.path.join(md, name))
    p = login(popd, user)
    assert p.stat()[0] == 2
    assert sorted(uidls(p).values()) == sorted(stored)
    assert len(p.list()[1]) == 2
    got = retr_all(p)
    assert_identical(got, stored, "poplib beside symlinks")
    assert not any(b"SECRET" in m for m in got)
    with pytest.raises(poplib.error_proto):
        p.retr(3)
    p.quit()
    # curl lists and fetches the same two, and nothing at number 3.
    auth = ["-u", user + ":" + PASSWORD]
    base = "pop3://127.0.0.1:%d/" % popd.port
    r = fixtures.run([client("curl"), "-sS", base] + auth)
    assert r.rc == 0 and len(r.out.splitlines()) == 2, r
    r = fixtures.run([client("curl"), "-sS", base + "3"] + auth)
    assert r.rc != 0 and "SECRET" not in r.out, r
    # Left alone: the links are still there, the target untouched.
    assert all(os.path.islink(os.path.join(md, n)) for n in links)
    with open(secret, "rb") as f:
        assert b"SECRET-mallory-secret" in f.read()
    assert "skipped 1500000001.M1P1Q1.evil: a symbolic link, not a regular file" in popd.log()


def test_fifo_hangs_nothing(popd, corpus):
    """A FIFO in cur/ (and one in new/ whose name has no ,W=, which popd
    would open at login to measure): LIST, UIDL and RETR answer, QUIT
    releases the lock, and the next login gets in at once."""
    user = "sybil"
    stored = fill(popd, user, corpus.messages[72:73])
    md = popd.maildir(user)
    os.mkfifo(os.path.join(md, "cur", "1500000000.M1P1Q1.fifo,S=10,W=12:2,S"))
    os.mkfifo(os.path.join(md, "new", "1500000001.M1P1Q1.fifo"))
    p = poplib.POP3("127.0.0.1", popd.port, timeout=10)
    p.user(user)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 1
    assert len(p.list()[1]) == 1 and list(uidls(p).values()) == list(stored)
    assert_identical(retr_all(p), stored, "poplib beside FIFOs")
    assert p.quit().startswith(b"+OK")
    p = poplib.POP3("127.0.0.1", popd.port, timeout=10)
    p.user(user)
    assert p.pass_(PASSWORD).startswith(b"+OK")  # no [IN-USE]: nothing hangs
    p.quit()
    assert "skipped 1500000001.M1P1Q1.fifo: a FIFO, not a regular file" in popd.log()


def test_message_replaced_after_login(popd, corpus):
    """Between the listing at login and RETR, a message file is replaced by
    a symbolic link to a readable file, another by a FIFO: each gets -ERR
    (not the link's target, and no hang), and the session goes on."""
    user = "trent"
    names = [popd.deliver(user, m.data) for m in corpus.messages[74:77]]
    stored = popd.stored_messages(user)
    secret = outside_secret(popd, "trent-secret")
    md = popd.maildir(user)
    p = login(popd, user)
    order = uidls(p)
    assert [order[n] for n in (1, 2, 3)] == [uidl_of(n) for n in names]
    os.unlink(os.path.join(md, names[1]))
    os.symlink(secret, os.path.join(md, names[1]))
    os.unlink(os.path.join(md, names[2]))
    os.mkfifo(os.path.join(md, names[2]))
    for cmd in ("RETR 2", "TOP 2 0", "RETR 3", "TOP 3 1"):
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(cmd)
        assert e.value.args[0].startswith(b"-ERR"), (cmd, e.value)
    assert b"\n".join(p.retr(1)[1]) + b"\n" == stored[order[1]]
    assert p.stat()[0] == 3
    assert p.quit().startswith(b"+OK")
    assert os.path.islink(os.path.join(md, names[1]))
    log = popd.log()
    assert "skipped %s: a symbolic link" % os.path.basename(names[1]) in log
    assert "skipped %s: a FIFO" % os.path.basename(names[2]) in log


# --- 13. UIDLs whatever the file names hold ----------------------------------------------

def uidl_listing(popd, user):
    """{uidl: message bytes} of one poplib session that checks each UIDL line
    (RFC 1939: 1-70 characters in 0x21..0x7E, unique), retrieves everything
    and QUITs (so retrieved messages move from new/ to cur/)."""
    p = login(popd, user)
    count = p.stat()[0]
    lines = p.uidl()[1]
    assert len(lines) == count, lines  # no line injected
    out = {}
    for i, ln in enumerate(lines, 1):
        n, u = ln.split(b" ")
        assert int(n) == i and re.fullmatch(rb"[\x21-\x7e]{1,70}", u), ln
        assert u.decode() not in out, "UIDL %r given twice" % u
        out[u.decode()] = b"\n".join(p.retr(i)[1]) + b"\n"
    assert p.quit().startswith(b"+OK")
    return out


def test_uidls_valid_unique_stable(popd, corpus):
    user = "victor"
    names = [popd.deliver(user, m.data) for m in corpus.messages[80:83]]
    md = os.fsencode(popd.maildir(user))
    hostile = [b"new/1600000000.evil\r\n+OK 99 injected", b"new/1600000001.with space,S=9",
               b"new/1600000002.caf\xe9", b"new/" + b"7" * 80, b"cur/:2,S",
               b"new/1600000003.dup", b"cur/1600000003.dup:2,S"]
    for i, name in enumerate(hostile):
        with open(os.path.join(md, name), "wb") as f:
            f.write(b"Subject: hostile %d\nMessage-ID: <hostile-%d@corpus.test>\n\nbody\n" % (i, i))
    first = uidl_listing(popd, user)
    assert len(first) == len(names) + len(hostile)
    for name in names:
        assert uidl_of(name) in first  # plain names keep their UIDL
    # Everything was retrieved, so QUIT moved new/ to cur/ (all but
    # new/1600000003.dup, whose cur/ name is taken): the same UIDL for the
    # same message in the next two sessions.
    assert sorted(os.listdir(os.path.join(md, b"new"))) == [b"1600000003.dup"]
    assert uidl_listing(popd, user) == first
    assert uidl_listing(popd, user) == first
    # curl lists the same UIDLs.
    r = fixtures.run([client("curl"), "-sS", "-X", "UIDL", "pop3://127.0.0.1:%d/" % popd.port,
                      "-u", user + ":" + PASSWORD])
    assert r.rc == 0, r
    assert sorted(ln.split()[1] for ln in r.out.splitlines()) == sorted(first)
