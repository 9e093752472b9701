"""The units start under a real systemd: a user manager (`systemd --user`,
as root) in a private mount namespace, since this machine has no systemd
as PID 1. The units are the ones the build made (build/systemd/), unchanged
but for where the manager finds them, with their full sandbox: User=,
ProtectSystem=strict, PrivateTmp=, SystemCallFilter= and the rest.

Inside the namespace, and only there:
  - /run/systemd/system exists (what sd_booted() and the manager ask);
  - /usr/local (the prefix: the programs and /usr/local/etc/homemail) and
    /var/lib (the state directory) are empty tmpfs, filled as `make
    install` would fill them, then by systemd-tmpfiles with our snippet;
  - /etc/passwd and /etc/group are copies that systemd-sysusers added our
    snippet's user to.
So nothing outside the test's directory changes.

Checked, against real peers (Dovecot upstream, the dyndns2 fixture):
the relay and popd (both Type=notify) start and listen; the fetcher's oneshot
unit fetches into the relay, which delivers as the homemail user into its
Maildir, read back over POP3 from popd; the dyndns oneshot publishes the
address; both timers are armed; homemail-sendmail run as nobody, who may
not read the config (root:homemail 0640), hands a message to the relay;
`homemail network-up` (its systemctl told to talk to this user manager:
the one change to what the dispatcher hooks run) flushes the relay and
starts the fetcher, which fetches a new upstream message at once, and
dyndns; a reload reaches the relay and keeps it running; stopping the
manager stops every process.
"""
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

import fixtures
from fixtures import corpus as corpusmod
from fixtures.dovecot import MAIL_GID, MAIL_UID
from fixtures.dynhttp import PASSWORD as DYN_PW
from fixtures.popd import crypt_hash
from fixtures.relay import conf_group
from test_up import PASSWORD, pop3_count, wait_for
from test_systemd import SERVICES, TIMERS, STATE_DIR, built, built_program

PREFIX = "/usr/local"
ETC = PREFIX + "/etc/homemail"

# The namespace: mounts, the user, the directories, then the manager.
NAMESPACE = r"""
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir /run/systemd/system /run/systemd/inaccessible
# What the system manager would have made: the nodes a unit's
# InaccessiblePaths= and ProtectSystem= mount over what they hide.
cd /run/systemd/inaccessible
mkdir -m 0 dir
touch reg && chmod 0 reg
mkfifo -m 0 fifo
mknod -m 0 chr c 0 0
mknod -m 0 blk b 0 0
python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")' && chmod 0 sock
cd /
mount -t tmpfs -o mode=0755 tmpfs %(prefix)s
mount -t tmpfs -o mode=0755 tmpfs /var/lib
# The manager's runtime directory, where its notify socket is, must be one
# the units see: not below /tmp (PrivateTmp=), nor below /run, where a
# user manager gives each unit an empty tmpfs (the system manager's
# /run/systemd/notify stays visible to its units).
mkdir -m 0755 "$XDG_RUNTIME_DIR"
mount --bind "$ROOT/etc/passwd" /etc/passwd
mount --bind "$ROOT/etc/group" /etc/group
cp -a "$ROOT/prefix/." %(prefix)s/
systemd-tmpfiles --create "$ROOT/tmpfiles.conf"
# A manager not PID 1 logs to /dev/console, and only to a terminal: a
# pseudo-terminal the test reads into console.log.
mount --bind "$CONSOLE" /dev/console
exec /lib/systemd/systemd --user --log-target=console --log-level=info \
    --default-standard-output=inherit --default-standard-error=inherit
"""


def built_prefix():
    """The prefix the build's units name (make distcheck builds with its own)."""
    with open(built("homemail-relay.service")) as f:
        exe = re.search(r"^ExecStart=(\S+)/bin/homemail-relay ", f.read(), re.M).group(1)
    return exe


def copy_at_prefix(src, dest, built_at):
    """SRC with the build's prefix BUILT_AT replaced by PREFIX, where the
    namespace has the programs and the config."""
    with open(src) as f:
        text = f.read()
    with open(dest, "w") as f:
        f.write(text.replace(built_at + "/", PREFIX + "/"))


class Manager:
    """`systemd --user` in its own mount namespace (NAMESPACE), driven with
    systemctl entering that namespace."""

    def __init__(self, root):
        self.root = root
        self.proc = None
        self.slave = None
        self.env = dict(fixtures.wrapped_env(), ROOT=root, HOME=os.path.join(root, "home"),
                        XDG_CONFIG_HOME=os.path.join(root, "home/.config"),
                        XDG_RUNTIME_DIR="/var/lib/user-runtime", SYSTEMD_PAGER="",
                        SYSTEMD_COLORS="0")
        self.log = os.path.join(root, "manager.log")

    def start(self):
        master, slave = os.openpty()
        self.env["CONSOLE"] = os.ttyname(slave)
        self.console = threading.Thread(target=copy_tty, daemon=True,
                                        args=(master, os.path.join(self.root, "console.log")))
        self.console.start()
        self.slave = slave  # open until the manager is gone: no hangup before
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
             NAMESPACE % {"prefix": PREFIX}],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            r = self.ctl("is-system-running", check=False)
            if r.out.strip() in ("running", "degraded"):
                break
            assert self.proc.poll() is None, "the manager exited: " + self.text()
            assert time.monotonic() < deadline, "the manager is not up: %s %s" % (r, self.text())
            time.sleep(0.2)
        # The system manager's notify socket is everyone's (srwxrwxrwx); a
        # user manager's is its user's, and the units run as homemail.
        r = self.inside("chmod", "0777", self.env["XDG_RUNTIME_DIR"] + "/systemd/notify")
        assert r.rc == 0, r
        return self

    def inside(self, *argv, timeout=30, **kw):
        """ARGV run in the manager's mount namespace, where the units' paths are."""
        return fixtures.run(["nsenter", "-t", str(self.proc.pid), "-m", "--", *argv],
                            timeout=timeout, env=self.env, **kw)

    def ctl(self, *args, check=True):
        r = self.inside("systemctl", "--user", "--no-ask-password", *args, timeout=60)
        if check:
            assert r.rc == 0, "%s\n%s" % (r, self.text())
        return r

    def show(self, unit, prop):
        return self.ctl("show", "-p", prop, "--value", unit).out.strip()

    def text(self):
        """The units' output (through the manager's), then the manager's log."""
        out = ""
        for name in ("manager.log", "console.log"):
            try:
                with open(os.path.join(self.root, name), errors="replace") as f:
                    out += "--- %s:\n%s" % (name, f.read()[-20000:])
            except FileNotFoundError:
                pass
        return out

    def stop(self):
        """SIGTERM: the manager stops every unit, then exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        if self.slave is not None:
            os.close(self.slave)
            self.slave = None
            self.console.join(timeout=10)


def copy_tty(master, path):
    with open(path, "ab") as out:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last holder of the slave closed it
                break
            if not data:
                break
            out.write(data.replace(b"\r\n", b"\n"))
            out.flush()
    os.close(master)


def install_tree(root, tls_cert, dyn_cert, dovecot, dyn, ports):
    """ROOT/prefix: what `make install` puts below the prefix, and the
    config with its secrets as setup writes them (root:homemail 0640 where
    the services read them). Returns the homemail user's (uid, gid)."""
    etc = os.path.join(root, "etc")
    os.makedirs(etc)
    for name in ("passwd", "group"):
        shutil.copy("/etc/" + name, etc)
    r = fixtures.run(["systemd-sysusers", "--root=" + root, built("sysusers.d/homemail.conf")])
    assert r.rc == 0, r
    with open(os.path.join(etc, "passwd")) as f:
        user = [l.split(":") for l in f if l.startswith("homemail:")][0]
    uid, gid = int(user[2]), int(user[3])
    with open(os.path.join(etc, "passwd")) as f:
        assert any(l.startswith("root:") for l in f), "sysusers lost root"

    built_at = built_prefix()
    copy_at_prefix(built("tmpfiles.d/homemail.conf"), os.path.join(root, "tmpfiles.conf"),
                   built_at)
    prefix = os.path.join(root, "prefix")
    bindir = os.path.join(prefix, "bin")
    os.makedirs(bindir)
    for svc in SERVICES:
        base = "homemail-" + svc.split("-")[1].split(".")[0]
        shutil.copy2(fixtures.program(built_program(base)), bindir)
    for cmd in ("admin/homemail", "relay/homemail-sendmail"):
        shutil.copy2(fixtures.program(cmd), bindir)
    conf = os.path.join(prefix, "etc/homemail")
    os.makedirs(os.path.join(conf, "secret"))

    def put(name, text, mode=0o640):
        path = os.path.join(conf, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, 0, gid)
        os.chmod(path, mode)
        return os.path.join(ETC, name)

    def copy(src, name):
        with open(src) as f:
            return put(name, f.read())

    cert, key = copy(tls_cert.cert, "tls.crt"), copy(tls_cert.key, "tls.key")
    dyn_ca = copy(dyn_cert.cert, "dyn-ca.crt")
    dyn_secret = put("secret/dyndns", DYN_PW + "\n")
    relay = {"listen": ["127.0.0.1:%d" % ports["smtp"]],
             "trusted_networks": ["127.0.0.1/32"], "allow_plaintext_from": ["127.0.0.1/32"]}
    acct = {"name": "isp", "protocol": "pop3", "host": "127.0.0.1", "port": dovecot.pop3_port,
            "tls": "none", "user": dovecot.user, "password": dovecot.password, "keep": True,
            "to": "alice"}
    rec = {"provider": "dyndns2", "server": dyn.url, "hostname": "box.dyn.test",
           "user": "dynuser", "password_file": dyn_secret, "ca_file": dyn_ca}
    put("homemail.conf",
        'hostname = "box.test";\nstate_dir = "%s";\nmail_dir = "%s/mail";\n'
        'local_domains = [ "box.test", "localhost" ];\n'
        'tls = { cert = "%s"; key = "%s"; };\n'
        'users = ( { name = "alice"; password = "%s"; } );\n'
        "relay = %s;\n"
        "popd = %s;\n"
        "fetcher = { accounts = ( %s ); };\n"
        'dyndns = { detect = "web"; detect_url4 = "%s/ip4"; ca_file = "%s"; records = ( %s ); };\n'
        % (STATE_DIR, STATE_DIR, cert, key, crypt_hash(PASSWORD), conf_group(relay),
           conf_group({"listen": ["127.0.0.1:%d" % ports["pop3"]],
                       "allow_plaintext_from": ["127.0.0.1/32"]}),
           conf_group(acct), dyn.url, dyn_ca, conf_group(rec)))
    for path, _, _ in os.walk(prefix):
        if path != conf and not path.startswith(conf + "/"):
            os.chmod(path, 0o755)
    os.chmod(conf, 0o755)
    os.chown(os.path.join(conf, "secret"), 0, gid)
    os.chmod(os.path.join(conf, "secret"), 0o750)

    units = os.path.join(root, "home/.config/systemd/user")
    os.makedirs(units)
    for name in SERVICES + TIMERS:
        copy_at_prefix(built(name), os.path.join(units, name), built_at)
    return uid, gid


@pytest.fixture
def manager(hm_tmp):
    root = fixtures.make_base_dir("hm-sd-")
    m = Manager(root)
    yield m
    m.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_units_start_under_a_user_manager(manager, tls_cert, dyn_cert, dovecot, dyn):
    dovecot.load(corpusmod.generate(count=2, seed=31, n_big=0))
    ports = {"smtp": fixtures.free_port()}
    ports["pop3"] = fixtures.free_port()
    while ports["pop3"] == ports["smtp"]:
        ports["pop3"] = fixtures.free_port()
    uid, gid = install_tree(manager.root, tls_cert, dyn_cert, dovecot, dyn, ports)
    manager.start()

    manager.ctl("start", "homemail-relay.service", "homemail-popd.service")
    for svc in ("homemail-relay.service", "homemail-popd.service"):
        assert manager.show(svc, "ActiveState") == "active", manager.text()
    # Type=notify: active means READY=1 came, and READY means listening.
    assert fixtures.wait_port("127.0.0.1", ports["smtp"], timeout=1), manager.text()
    assert fixtures.wait_port("127.0.0.1", ports["pop3"], timeout=1), manager.text()
    relay_pid = int(manager.show("homemail-relay.service", "MainPID"))
    popd_pid = int(manager.show("homemail-popd.service", "MainPID"))
    started = {pid: start for pid, start in fixtures.descendants(manager.proc.pid).items()
               if pid in (relay_pid, popd_pid)}
    assert len(started) == 2, "relay and popd are not the manager's children"
    with open("/proc/%d/status" % relay_pid) as f:
        status = f.read()
    assert re.search(r"^Uid:\s+%d\s" % uid, status, re.M), status
    assert re.search(r"^Seccomp:\s+2", status, re.M), status
    assert re.search(r"^NoNewPrivs:\s+1", status, re.M), status
    # libcurl is opened at the first HTTP request (lib/curl-load.c), which
    # a relay without OAuth2 never makes: its idle memory is the smaller.
    with open("/proc/%d/maps" % relay_pid) as f:
        assert "libcurl" not in f.read()

    # The oneshot fetcher: fetched into the relay, delivered, served.
    manager.ctl("start", "homemail-fetcher.service")
    assert manager.show("homemail-fetcher.service", "Result") == "success"
    wait_for(lambda: pop3_count(ports["pop3"]) == 2, "two messages over POP3", timeout=20,
             log=manager.text)

    # The oneshot dyndns: the address published through the fixture.
    manager.ctl("start", "homemail-dyndns.service")
    assert manager.show("homemail-dyndns.service", "Result") == "success"
    assert len(dyn.updates()) == 1, manager.text()

    for timer in TIMERS:
        manager.ctl("start", timer)
        assert manager.show(timer, "ActiveState") == "active"
        assert manager.show(timer, "NextElapseUSecRealtime") not in ("", "0", "n/a")

    # Any local user sends with homemail-sendmail, though the config
    # (root:homemail 0640) is not theirs to read.
    r = manager.inside("setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                       PREFIX + "/bin/homemail-sendmail", "-C", ETC + "/homemail.conf",
                       "alice@box.test", input=b"Subject: from cron\n\nhello\n")
    assert r.rc == 0, r
    wait_for(lambda: pop3_count(ports["pop3"]) == 3, "the local submission over POP3",
             log=manager.text)

    # network-up, as the NetworkManager or networkd-dispatcher hook runs
    # it: the relay flushes, and the fetcher and dyndns units start now.
    # Its systemctl is the real one, told to talk to this user manager.
    # A third upstream message, beside the two the fetcher has seen.
    corpusmod.write_maildir(corpusmod.generate(count=3, seed=31, n_big=0).messages[2:],
                            dovecot.maildir, MAIL_UID, MAIL_GID)
    dyndns_ran = manager.show("homemail-dyndns.service", "ExecMainStartTimestampMonotonic")
    shim = os.path.join(manager.root, "shim")
    os.makedirs(shim)
    with open(os.path.join(shim, "systemctl"), "w") as f:
        f.write('#!/bin/sh\nexec /bin/systemctl --user "$@"\n')
    os.chmod(os.path.join(shim, "systemctl"), 0o755)
    r = manager.inside("env", "PATH=%s:%s" % (shim, os.environ["PATH"]),
                       PREFIX + "/bin/homemail", "network-up", "-c", ETC + "/homemail.conf")
    assert r.rc == 0, r
    for said in ("relay: delivering the queue now", "fetcher: polling now",
                 "dyndns: checking the address now"):
        assert said in r.out, r
    wait_for(lambda: pop3_count(ports["pop3"]) == 4, "the new upstream message over POP3",
             log=manager.text)
    wait_for(lambda: manager.show("homemail-dyndns.service", "ExecMainStartTimestampMonotonic")
             != dyndns_ran, "dyndns started again", log=manager.text)

    # ExecReload (SIGHUP) reaches the relay, which keeps running.
    manager.ctl("reload", "homemail-relay.service")
    time.sleep(0.5)
    assert int(manager.show("homemail-relay.service", "MainPID")) == relay_pid
    assert manager.show("homemail-relay.service", "ActiveState") == "active"
    wait_for(lambda: pop3_count(ports["pop3"]) == 4, "popd still serving", log=manager.text)

    manager.stop()
    assert manager.proc.returncode == 0, manager.text()
    for pid, start in started.items():
        assert not fixtures.same_process_alive(pid, start), "pid %d outlived its manager" % pid
