"""`homemail up` runs the whole bundle on one config against real peers:
relay, popd, the fetcher's daemon (fetching from a real Dovecot into the
relay) and the dyndns daemon (against the dyndns2 fixture). A child
killed with SIGKILL is started again and works; SIGTERM stops every
process (checked by PID and start time). `homemail network-up` (and the
NetworkManager / networkd-dispatcher hooks that run it) makes a running
`up` catch up at once: a message queued while the smart host was down is
sent, the fetcher polls and dyndns updates, each long before its timer.
`homemail status` reports all of it from the real state files."""
import fcntl
import os
import poplib
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time

import pytest

import fixtures
from fixtures import corpus as corpusmod
from fixtures.dynhttp import PASSWORD as DYN_PW
from fixtures.popd import crypt_hash
from fixtures.proxy import Proxy
from fixtures.relay import conf_group, conf_value
from test_systemd import has_libsystemd

PASSWORD = "Corr3ct horse"
CHILDREN = ("homemail-relay", "homemail-popd", "homemail-fetcher", "homemail-dyndns")
# Every timer far beyond the test: whatever happens at once was asked for.
LONG = 3600


class Up:
    """A config for every program and `homemail up -v` running it."""

    def __init__(self, base, tls_cert, dovecot=None, dyn=None, dyn_cert=None, smarthost=None,
                 run_as=None, fetch_own_popd=False):
        """run_as: the config's run_as, with the state and mail folders its
        own; fetch_own_popd: the fetcher's one account is alice's mailbox
        at this bundle's popd (as in the demo), not the Dovecot."""
        self.base = base
        self.conf = os.path.join(base, "homemail.conf")
        self.state = os.path.join(base, "state")
        self.mail = os.path.join(base, "mail")
        self.logfile = os.path.join(base, "up.log")
        self.smtp_port = fixtures.free_port()
        self.pop_port = fixtures.free_port()
        while self.pop_port == self.smtp_port:
            self.pop_port = fixtures.free_port()
        relay = {"listen": ["127.0.0.1:%d" % self.smtp_port],
                 "trusted_networks": ["127.0.0.1/32"], "allow_plaintext_from": ["127.0.0.1/32"],
                 "retry": {"first": LONG, "max_interval": LONG}}
        text = ('run_as = "%s";\n' % run_as) if run_as else ""
        text += ('hostname = "box.test";\nstate_dir = "%s";\nmail_dir = "%s";\n'
                'local_domains = [ "box.test", "localhost" ];\n'
                'tls = { cert = "%s"; key = "%s"; };\n'
                'users = ( { name = "alice"; password = "%s"; send_as = "alice@isp.example"; } );\n'
                % (self.state, self.mail, tls_cert.cert, tls_cert.key, crypt_hash(PASSWORD)))
        if smarthost is not None:
            relay["smarthosts"] = "SMARTHOSTS"
        text += "relay = %s;\n" % conf_group(relay)
        if smarthost is not None:
            text = text.replace('smarthosts = "SMARTHOSTS";',
                                "smarthosts = ( %s );" % conf_group(smarthost))
        text += "popd = %s;\n" % conf_group({"listen": ["127.0.0.1:%d" % self.pop_port],
                                             "allow_plaintext_from": ["127.0.0.1/32"]})
        if fetch_own_popd:
            acct = {"name": "own", "protocol": "pop3", "host": "127.0.0.1",
                    "port": self.pop_port, "tls": "none", "user": "alice",
                    "password": PASSWORD, "keep": True, "to": "alice"}
            text += "fetcher = { interval = %d; accounts = ( %s ); };\n" % (LONG, conf_group(acct))
        elif dovecot is not None:
            acct = {"name": "isp", "protocol": "pop3", "host": "127.0.0.1",
                    "port": dovecot.pop3_port, "tls": "none", "user": dovecot.user,
                    "password": dovecot.password, "keep": True, "to": "alice"}
            text += "fetcher = { interval = %d; accounts = ( %s ); };\n" % (LONG, conf_group(acct))
        if dyn is not None:
            secret = fixtures.write_secret(os.path.join(base, "dyn.secret"), DYN_PW)
            rec = {"provider": "dyndns2", "server": dyn.url, "hostname": "box.dyn.test",
                   "user": "dynuser", "password_file": secret, "ca_file": dyn_cert.cert}
            text += ('dyndns = { interval = %d; detect = "web"; detect_url4 = "%s/ip4"; '
                     'ca_file = "%s"; records = ( %s ); };\n'
                     % (LONG, dyn.url, dyn_cert.cert, conf_group(rec)))
        with open(self.conf, "w") as f:
            f.write(text)
        os.chmod(self.conf, 0o600)  # it holds passwords inline
        if run_as:
            pw = pwd.getpwnam(run_as)
            os.chmod(base, 0o755)
            os.makedirs(self.mail)
            os.chown(self.mail, pw.pw_uid, pw.pw_gid)
        self.expected = ("homemail-relay", "homemail-popd") + \
            (("homemail-fetcher",) if dovecot is not None or fetch_own_popd else ()) + \
            (("homemail-dyndns",) if dyn is not None else ())
        self.proc = None
        self.seen = {}  # {pid: starttime} of every child ever seen

    def start(self, env=None, wait=True):
        """Starts up; with wait, until every child runs and the relay and
        popd listen."""
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([fixtures.program("admin/homemail"), "-v", "-c", self.conf,
                                      "up"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True, env=env)
        log.close()
        if not wait:
            return self
        self.wait_children(self.expected)
        for port in (self.smtp_port, self.pop_port):
            assert fixtures.wait_port("127.0.0.1", port), self.log()
        return self

    def children(self):
        """{program name: pid} of up's children now."""
        out = {}
        for pid, start in fixtures.descendants(self.proc.pid).items():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode()
                with open("/proc/%d/stat" % pid) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid:
                out[os.path.basename(argv0)] = pid
                self.seen[pid] = start
        return out

    def wait_children(self, names, other_than=(), timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            now = self.children()
            if all(n in now and now[n] not in other_than for n in names):
                return now
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail("children %r not running (have %r); log:\n%s"
                            % (names, now, self.log()), pytrace=False)
            time.sleep(0.1)

    def homemail(self, *args):
        return fixtures.run([fixtures.program("admin/homemail"), "-c", self.conf] + list(args))

    def stop(self):
        """SIGTERM to up; its exit status. Fails the test when a process it
        ever started is still alive afterwards."""
        if self.proc is None:
            return None
        self.children()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        finally:
            left = [p for p, s in self.seen.items() if fixtures.same_process_alive(p, s)]
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            for p in left:
                os.kill(p, signal.SIGKILL)
            self.proc = None
        assert not left, "still running after up stopped: %r\n%s" % (left, self.log())
        return rc

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read()[-20000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def maildir(self):
        return corpusmod.read_maildir(os.path.join(self.mail, "alice"))

    def wait_mail(self, n, timeout=15.0):
        deadline = time.monotonic() + timeout
        while len(self.maildir()) < n:
            if time.monotonic() > deadline:
                pytest.fail("alice has %d of %d messages; log:\n%s"
                            % (len(self.maildir()), n, self.log()), pytrace=False)
            time.sleep(0.1)
        return self.maildir()


@pytest.fixture
def make_up(hm_tmp):
    made = []

    def make(**kw):
        d = os.path.join(hm_tmp, "up-%d" % len(os.listdir(hm_tmp)))
        os.makedirs(d)
        u = Up(d, **kw)
        made.append(u)
        return u

    yield make
    for u in made:
        if u.proc is not None:
            u.stop()


def wait_for(cond, what, timeout=10.0, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("%s not within %.0f s; log:\n%s" % (what, timeout, log()), pytrace=False)
        time.sleep(0.1)


def pop3_count(port):
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    try:
        p.user("alice")
        p.pass_(PASSWORD)
        return p.stat()[0]
    finally:
        p.quit()


def smtp_send(port, rcpt, subject):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("alice@box.test", [rcpt], "From: alice@box.test\r\nTo: %s\r\nSubject: %s\r\n"
                   "\r\nhello\r\n" % (rcpt, subject))


def test_up_runs_all_and_restarts_each(make_up, tls_cert, dovecot, dyn, dyn_cert):
    dovecot.load(corpusmod.generate(count=2, seed=13, n_big=0))
    up = make_up(tls_cert=tls_cert, dovecot=dovecot, dyn=dyn, dyn_cert=dyn_cert).start()

    # Each child works: the fetcher fetched into the relay, which
    # delivered; popd serves it; dyndns published the address.
    up.wait_mail(2)
    assert pop3_count(up.pop_port) == 2
    # The fetcher started only once the relay said READY=1: its first pass
    # delivered, none met a relay not yet listening.
    assert "local delivery failed" not in up.log(), up.log()
    assert up.log().index("homemail-relay: started") < up.log().index("homemail-fetcher: started")
    wait_for(lambda: len(dyn.updates()) == 1, "the first dyndns update", log=up.log)
    # Each dyndns pass runs in a process of its own (dyndns/run.c): the
    # daemon between passes maps nothing a pass loaded (libcurl's tree).
    dyn_pid = up.children()["homemail-dyndns"]
    wait_for(lambda: not fixtures.descendants(dyn_pid), "the dyndns pass ending", log=up.log)
    with open("/proc/%d/maps" % dyn_pid) as f:
        assert "libcurl" not in f.read()
    r = up.homemail("status")
    assert r.rc == 0, r
    assert re.search(r"127\.0\.0\.1:%d: accepting" % up.smtp_port, r.out), r.out
    assert re.search(r"127\.0\.0\.1:%d: accepting" % up.pop_port, r.out), r.out
    assert re.search(r"isp \(%s@127\.0\.0\.1\): last fetch .*: ok, 2 new" % dovecot.user, r.out)
    assert "address: 81.2.69.160, accepted" in r.out

    for name in CHILDREN:
        old = up.children()[name]
        os.kill(old, signal.SIGKILL)
        new = up.wait_children([name], other_than=(old,))[name]
        assert new != old
        assert re.search(r"%s: pid=%d killed by signal 9.*restarting in 1 s" % (name, old),
                         up.log()), up.log()
        # ...and works again.
        if name == "homemail-relay":
            assert fixtures.wait_port("127.0.0.1", up.smtp_port)
            smtp_send(up.smtp_port, "alice@box.test", "after the relay's restart")
            up.wait_mail(3)
        elif name == "homemail-popd":
            assert fixtures.wait_port("127.0.0.1", up.pop_port)
            wait_for(lambda: pop3_count(up.pop_port) == 3, "popd serving again")
        elif name == "homemail-fetcher":
            # It polls at its start: one more message upstream is fetched.
            before = len(up.maildir())
            dovecot.load(corpusmod.generate(count=3, seed=14, n_big=0))
            os.kill(new, signal.SIGKILL)
            new = up.wait_children([name], other_than=(new,), timeout=20)[name]
            up.wait_mail(before + 3, timeout=20)
        else:
            dyn.ip4 = "81.2.69.161"
            os.kill(new, signal.SIGKILL)
            up.wait_children([name], other_than=(new,), timeout=20)
            wait_for(lambda: len(dyn.updates()) == 2, "dyndns updating after its restart",
                     timeout=20, log=up.log)

    # A child started again is not waited for and gets no NOTIFY_SOCKET:
    # nothing listens there any more.
    assert "cannot tell" not in up.log(), up.log()
    # A second kill soon after doubles the back-off (the fetcher above).
    assert re.search(r"homemail-fetcher: pid=\d+ killed by signal 9.*restarting in 2 s",
                     up.log()), up.log()
    pids = dict(up.children())
    assert up.stop() == 0
    for name, pid in pids.items():
        assert re.search(r"%s: pid=%d exited with status 0" % (name, pid), up.log()), up.log()
    assert not os.path.exists(os.path.join(up.state, "up.pid"))


def test_up_as_root_waits_for_relay_and_popd(make_up, tls_cert):
    """As an install runs it: root with run_as. The relay and popd say
    READY=1 after they dropped to run_as, and `up` hears both before it
    starts the fetcher, whose first pass (at this bundle's own popd, as in
    the demo) then finds popd listening."""
    assert os.geteuid() == 0, "this test starts up as root, as CI does"
    assert has_libsystemd(fixtures.program("relay/homemail-relay")), \
        "built without libsystemd: relay and popd cannot say READY=1"
    up = make_up(tls_cert=tls_cert, run_as="nobody", fetch_own_popd=True).start()
    wait_for(lambda: "own: no new mail" in up.log(), "the fetcher's first pass", log=up.log)
    log = up.log()
    assert "not ready after" not in log and "cannot tell" not in log, log
    assert "Connection refused" not in log, log
    assert log.index("popd listening") < log.index("homemail-fetcher: started"), log
    assert log.index("relay listening") < log.index("homemail-popd: started"), log
    kids = up.children()
    for name in ("homemail-relay", "homemail-popd"):
        with open("/proc/%d/status" % kids[name]) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        assert uids == [str(pwd.getpwnam("nobody").pw_uid)] * 4, (name, uids)
    assert up.stop() == 0


FAKE_RELAY = r"""#!/usr/bin/python3
# A relay that is slow to get ready, and whose child says READY=1 first.
import os, signal, socket, sys, time
addr = os.environ["NOTIFY_SOCKET"]
addr = "\0" + addr[1:] if addr.startswith("@") else addr
def ready():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"READY=1", addr)
    s.close()
if os.fork() == 0:
    ready()
    os._exit(0)
time.sleep(2)
sys.stderr.write("fake relay: ready now\n")
sys.stderr.flush()
ready()
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(1)
"""


def test_up_waits_for_the_child_itself(make_up, tls_cert, hm_tmp):
    """A READY=1 from another process (the relay's own child here) is not
    the relay's, and a signal that comes while up waits (SIGUSR1, as from
    network-up at boot) does not end the wait: popd starts only once the
    relay itself said it."""
    progs = tempfile.mkdtemp(prefix="progs-", dir=hm_tmp)
    with open(os.path.join(progs, "homemail-relay"), "w") as f:
        f.write(FAKE_RELAY)
    os.chmod(os.path.join(progs, "homemail-relay"), 0o755)
    for prog in ("popd/homemail-popd", "fetcher/homemail-fetcher"):
        os.symlink(fixtures.program(prog), os.path.join(progs, os.path.basename(prog)))
    up = make_up(tls_cert=tls_cert, fetch_own_popd=True)
    up.start(env=dict(os.environ, HOMEMAIL_PROGRAM_DIR=progs), wait=False)
    wait_for(lambda: "homemail-relay: started" in up.log(), "the fake relay", log=up.log)
    os.kill(up.proc.pid, signal.SIGUSR1)
    wait_for(lambda: "homemail-popd: started" in up.log(), "popd", timeout=15, log=up.log)
    log = up.log()
    assert "network up:" in log, log
    assert log.index("fake relay: ready now") < log.index("homemail-popd: started"), log
    assert "not ready after" not in log, log
    assert up.stop() == 0


# The program, after a slow start: a SIGHUP meanwhile finds it not ready.
# Not sh, which clears the signal mask it was started with.
SLOW_START = """#!/usr/bin/python3
import os, sys, time
time.sleep(1)
os.execv("%s", ["%s"] + sys.argv[1:])
"""


def test_sighup_waits_for_a_young_child(make_up, tls_cert, dyn, dyn_cert, hm_tmp):
    """A SIGHUP to up that passes on before the relay or dyndns took over
    their signals (here: while a wrapper sleeps before it execs them) is
    neither a crash (default action: terminate) nor lost: each reloads
    once it is ready."""
    progs = tempfile.mkdtemp(prefix="progs-", dir=hm_tmp)
    for prog in ("relay/homemail-relay", "dyndns/homemail-dyndns"):
        path = os.path.join(progs, os.path.basename(prog))
        with open(path, "w") as f:
            f.write(SLOW_START % (fixtures.program(prog), fixtures.program(prog)))
        os.chmod(path, 0o755)
    os.symlink(fixtures.program("popd/homemail-popd"), os.path.join(progs, "homemail-popd"))
    up = make_up(tls_cert=tls_cert, dyn=dyn, dyn_cert=dyn_cert)
    up.start(env=dict(os.environ, HOMEMAIL_PROGRAM_DIR=progs), wait=False)
    wait_for(lambda: "homemail-dyndns: started" in up.log(), "the children", log=up.log)
    os.kill(up.proc.pid, signal.SIGHUP)
    wait_for(lambda: "relay reloaded" in up.log() and "reloaded %s" % up.conf in up.log()
             .replace("relay reloaded", ""), "the relay and dyndns reloading", log=up.log)
    log = up.log()
    assert "killed by signal" not in log and "restarting in" not in log, log
    assert fixtures.wait_port("127.0.0.1", up.smtp_port), log
    assert up.stop() == 0


def test_up_killed_leaves_no_child(make_up, tls_cert, dovecot, dyn, dyn_cert):
    """Even SIGKILL to up itself: its children get SIGTERM from the kernel
    (PR_SET_PDEATHSIG) and stop."""
    up = make_up(tls_cert=tls_cert, dovecot=dovecot, dyn=dyn, dyn_cert=dyn_cert).start()
    kids = {pid: fixtures.descendants(up.proc.pid).get(pid) for pid in up.children().values()}
    os.kill(up.proc.pid, signal.SIGKILL)
    up.proc.wait(5)
    up.proc = None
    wait_for(lambda: not any(fixtures.same_process_alive(p, s) for p, s in kids.items()),
             "every child gone after up was killed")
    # The pid file it left is stale: network-up does not signal anyone.
    r = fixtures.run([fixtures.program("admin/homemail"), "-c", up.conf, "network-up"])
    assert r.rc == 0 and "catching up now" not in r.out and "no homemail up" in r.out, r


def test_up_refuses_second_and_empty(make_up, tls_cert, hm_tmp):
    up = make_up(tls_cert=tls_cert).start()  # relay and popd only
    r = up.homemail("up")
    assert r.rc == 1 and "already runs" in r.err, r
    assert up.stop() == 0
    empty = os.path.join(hm_tmp, "up-empty.conf")
    with open(empty, "w") as f:
        f.write('hostname = "box.test";\nstate_dir = "%s/up-empty";\n' % hm_tmp)
    r = fixtures.run([fixtures.program("admin/homemail"), "-c", empty, "up"])
    assert r.rc == 1 and "gives no program work" in r.err, r


def test_network_up_catches_up(make_up, tls_cert, dovecot, dyn, dyn_cert, postfix_smarthost):
    sh = postfix_smarthost(users={"alice@isp.example": "pw"})
    down_port = fixtures.free_port()
    smarthost = {"name": "isp", "host": "127.0.0.1", "port": down_port, "tls": "starttls",
                 "user": "alice@isp.example", "password": "pw", "ca_file": sh.ca_file,
                 "senders": ["*@isp.example"]}
    dovecot.load(corpusmod.generate(count=1, seed=15, n_big=0))
    up = make_up(tls_cert=tls_cert, dovecot=dovecot, dyn=dyn, dyn_cert=dyn_cert,
                 smarthost=smarthost).start()
    up.wait_mail(1)
    wait_for(lambda: len(dyn.updates()) == 1, "the first dyndns update", log=up.log)

    # Offline: the smart host cannot be reached; the message waits an hour.
    smtp_send(up.smtp_port, "bob@example.org", "queued while offline")
    wait_for(lambda: "Connection refused" in up.homemail("queue").out or
             "refused" in up.homemail("queue").out, "a failed attempt", log=up.log)
    r = up.homemail("status")
    assert "relay queue: 1 message" in r.out and "next retry:" in r.out, r.out
    assert "oldest:" in r.out
    # Meanwhile new mail upstream and a new address.
    dovecot.load(corpusmod.generate(count=2, seed=16, n_big=0))
    dyn.ip4 = "81.2.69.170"
    time.sleep(2.5)  # older than HM_UP_YOUNG_S, so up signals them
    assert len(up.maildir()) == 1 and len(dyn.updates()) == 1

    # The network is back: the NetworkManager hook runs network-up.
    with Proxy(sh.port, port=down_port):
        run_nm_hook(up, "eth0", "down")
        time.sleep(1.5)
        assert sh.messages() == [] and len(dyn.updates()) == 1
        run_nm_hook(up, "eth0", "up")
        wait_for(lambda: sh.messages(), "the queued message at the smart host", timeout=15,
                 log=up.log)
        msgs = sh.messages()
        assert msgs[0].mail_from == "alice@isp.example"
        up.wait_mail(3)
        wait_for(lambda: len(dyn.updates()) == 2, "dyndns after network-up", log=up.log)
        assert dyn.updates()[1]["query"]["myip"] == "81.2.69.170"
    assert "network up: flushing the queue" in up.log()
    assert up.stop() == 0


def run_nm_hook(up, iface, action):
    """The installed NetworkManager dispatcher script, its homemail being a
    wrapper that adds this test's -c."""
    bindir = os.path.join(up.base, "bin")
    os.makedirs(bindir, exist_ok=True)
    wrapper = os.path.join(bindir, "homemail")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec "%s" -c "%s" "$@"\n' % (fixtures.program("admin/homemail"),
                                                        up.conf))
    os.chmod(wrapper, 0o755)
    hook = os.path.join(up.base, "nm-hook")
    with open(os.path.join(fixtures.srcdir(), "systemd", "NetworkManager", "50-homemail.in")) as f:
        text = f.read().replace("@bindir@", bindir)
    with open(hook, "w") as f:
        f.write(text)
    os.chmod(hook, 0o755)
    r = fixtures.run([hook, iface, action])
    assert r.rc == 0, r
    return r


def test_networkd_hook_runs_network_up(make_up, tls_cert):
    up = make_up(tls_cert=tls_cert).start()
    bindir = os.path.join(up.base, "bin")
    os.makedirs(bindir)
    with open(os.path.join(bindir, "homemail"), "w") as f:
        f.write('#!/bin/sh\nexec "%s" -c "%s" "$@"\n' % (fixtures.program("admin/homemail"),
                                                        up.conf))
    os.chmod(os.path.join(bindir, "homemail"), 0o755)
    src = os.path.join(fixtures.srcdir(), "systemd", "networkd-dispatcher", "50-homemail.in")
    hook = os.path.join(up.base, "networkd-hook")
    with open(src) as f, open(hook, "w") as g:
        g.write(f.read().replace("@bindir@", bindir))
    os.chmod(hook, 0o755)
    r = fixtures.run([hook], env=dict(os.environ, IFACE="eth0", STATE="routable"))
    assert r.rc == 0 and "catching up now" in r.out, r
    wait_for(lambda: "network up: flushing the queue" in up.log(), "up's network-up", log=up.log)
    assert up.stop() == 0
    shutil.rmtree(bindir)


def as_user(user, argv):
    """argv run as user (and its group), as the hooks' root would not."""
    return ["setpriv", "--reuid", user, "--regid", "nogroup" if user == "nobody" else user,
            "--clear-groups", "--"] + list(argv)


def plain_conf(d, state, extra=""):
    """A config with no secret in it (so any user may read it) and state."""
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write('hostname = "box.test";\nstate_dir = "%s";\n%s' % (state, extra))
    os.chmod(conf, 0o644)
    return conf


def test_network_up_signals_nothing_but_up(hm_tmp):
    """The hooks run network-up as root; up.pid lies in a state_dir that
    the service user owns, who may write any PID there and hold its lock
    (`echo $PID > up.pid; flock -x up.pid sleep 30`). Root must not send
    SIGUSR1 (whose default action ends a process) to what the file
    names: not a process of another user, and not one of that user's that
    is not homemail."""
    assert os.geteuid() == 0, "network-up runs as root, as the hooks run it"
    nobody = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="forged-", dir=hm_tmp)
    state = os.path.join(d, "state")
    os.makedirs(state)
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    conf = plain_conf(d, state)
    pidfile = os.path.join(state, "up.pid")
    victims = [subprocess.Popen(["sleep", "60"]),
               subprocess.Popen(as_user("nobody", ["sleep", "60"]))]
    try:
        with open(pidfile, "w") as f:
            f.write("%d\n" % victims[0].pid)
        os.chown(pidfile, nobody.pw_uid, nobody.pw_gid)
        with open(pidfile) as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            # root's process, named by nobody's file
            r = fixtures.run([fixtures.program("admin/homemail"), "-c", conf, "network-up"])
            assert r.rc == 1 and "runs as another user" in r.err, r
            assert "not signalling it" in r.err and "catching up" not in r.out, r
            # nobody's own process, which is not homemail
            with open(pidfile, "w") as f:
                f.write("%d\n" % victims[1].pid)
            r = fixtures.run([fixtures.program("admin/homemail"), "-c", conf, "network-up"])
            assert r.rc == 1 and "not this homemail program" in r.err, r
            # and root's, in a file of root's
            with open(pidfile, "w") as f:
                f.write("%d\n" % victims[0].pid)
            os.chown(pidfile, 0, 0)
            r = fixtures.run([fixtures.program("admin/homemail"), "-c", conf, "network-up"])
            assert r.rc == 1 and "not this homemail program" in r.err, r
        time.sleep(0.2)
        assert [v.poll() for v in victims] == [None, None]
    finally:
        for v in victims:
            v.kill()
            v.wait()


def test_network_up_reaches_an_up_of_another_user(hm_tmp):
    """An up that the service user runs itself (its file, its process) is
    signalled by root's network-up: with nobody's privileges."""
    nobody = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="up-nobody-", dir=hm_tmp)
    os.chmod(d, 0o755)
    state = os.path.join(d, "state")
    os.makedirs(state)
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    # dyndns alone: a record whose server nobody serves, a fixed address.
    conf = plain_conf(d, state, 'dyndns = { interval = %d; detect = "static:81.2.69.160"; '
                      'records = ( { provider = "dyndns2"; server = "https://127.0.0.1:%d"; '
                      'hostname = "box.dyn.test"; user = "u"; password = "p"; } ); };\n'
                      % (LONG, fixtures.free_port()))
    os.chown(conf, nobody.pw_uid, nobody.pw_gid)
    os.chmod(conf, 0o600)
    logfile = os.path.join(d, "up.log")
    with open(logfile, "wb") as log:
        proc = subprocess.Popen(as_user("nobody", [fixtures.program("admin/homemail"), "-v",
                                                   "-c", conf, "up"]),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)

    def logtext():
        with open(logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")
    try:
        wait_for(lambda: "homemail-dyndns: started" in logtext(), "up as nobody", log=logtext)
        wait_for(lambda: os.path.exists(os.path.join(state, "up.pid")), "up.pid", log=logtext)
        r = fixtures.run([fixtures.program("admin/homemail"), "-c", conf, "network-up"])
        assert r.rc == 0 and "homemail up (pid %d): catching up now" % proc.pid in r.out, r
        wait_for(lambda: "network up: flushing the queue" in logtext(), "up's network-up",
                 log=logtext)
    finally:
        kids = fixtures.descendants(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(20) == 0, logtext()
        assert not any(fixtures.same_process_alive(p, s) for p, s in kids.items())


def test_network_up_cannot_read_state_dir(hm_tmp):
    """Run by a user who may not look into state_dir, network-up does not
    take an up.pid it cannot open for no up running: it names the file."""
    d = tempfile.mkdtemp(prefix="netup-denied-", dir=hm_tmp)
    os.chmod(d, 0o755)
    state = os.path.join(d, "state")
    os.makedirs(state, mode=0o700)
    conf = plain_conf(d, state)
    r = fixtures.run(as_user("nobody", [fixtures.program("admin/homemail"), "-c", conf,
                                        "network-up"]))
    assert r.rc == 1, r
    assert "%s/up.pid: Permission denied" % state in r.err, r
    assert "not running" not in r.out, r
