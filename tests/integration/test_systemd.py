"""The systemd units, timers, sysusers.d and tmpfiles.d snippets of systemd/,
as the build substituted them (build/systemd/; `make install` copies these).

test_systemd_start.py starts them under a real systemd (a user manager).
What is checked here, each with systemd's own tools or the real programs:
  - `systemd-analyze verify` of every unit is clean, in a scratch root
    (--root) that holds the units, the programs at their ExecStart paths,
    systemd's targets, and the man pages Documentation= names;
  - `systemd-analyze security --offline=true` rates every service 2.0 or
    lower (issue 13);
  - the units say what DESIGN.md says (parsed, not grepped): Type=notify
    relay with a SIGHUP reload and Type=notify popd, a oneshot `--once` fetcher every 5 minutes
    (systemd-analyze calendar), Persistent, the push daemon in conflict
    with the timer, CAP_NET_BIND_SERVICE for relay and popd only...;
  - systemd-sysusers and systemd-tmpfiles apply the snippets to a scratch
    root: the user, the directories, their owners and modes;
  - the relay and popd send READY=1 to $NOTIFY_SOCKET once they listen;
  - the sandbox does not break the programs: relay, popd, fetcher and
    dyndns do real work under strace, and every system call they make is
    one their unit's SystemCallFilter= lets through, every socket family
    one RestrictAddressFamilies= allows, and no mapping is both writable
    and executable (MemoryDenyWriteExecute=).
"""
import os
import poplib
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
import types

import pytest

import fixtures
from fixtures.fetchenv import FetchEnv
from fixtures.popd import Popd, PASSWORD as POPD_PASSWORD
from test_dyndns import write_conf as write_dyndns_conf

SERVICES = ("homemail-relay.service", "homemail-popd.service", "homemail-fetcher.service",
            "homemail-fetcher-push.service", "homemail-dyndns.service")
TIMERS = ("homemail-fetcher.timer", "homemail-dyndns.timer")
STATE_DIR = "/var/lib/homemail"     # conf/'s default (configure's HM_STATE_DIR)
MAX_EXPOSURE = 2.0


# --- the unit files -----------------------------------------------------------

def built(name):
    path = os.path.join(fixtures.builddir(), "systemd", name)
    assert os.path.isfile(path), "%s is not built (make)" % path
    return path


def parse_unit(path):
    """{section: {key: [values in order]}}: systemd's syntax as far as ours
    uses it (comments, sections, repeated keys; no line continuations)."""
    unit, section = {}, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                assert line.endswith("]"), "%s:%d: %s" % (path, n, line)
                section = unit.setdefault(line[1:-1], {})
                continue
            assert section is not None and "=" in line, "%s:%d: %s" % (path, n, line)
            key, value = line.split("=", 1)
            section.setdefault(key.strip(), []).append(value.strip())
    return unit


def one(unit, section, key):
    values = unit.get(section, {}).get(key)
    assert values is not None, "no %s= in [%s]" % (key, section)
    assert len(values) == 1, "%s= more than once: %r" % (key, values)
    return values[0]


def words(unit, section, key):
    """A list setting's words, all its lines together (an empty line resets)."""
    out = []
    for v in unit.get(section, {}).get(key, []):
        out = [] if v == "" else out + v.split()
    return out


@pytest.fixture(scope="module")
def units():
    return {name: parse_unit(built(name)) for name in SERVICES + TIMERS}


# --- a scratch root systemd-analyze can load the units from -------------------

def host_unit_dir():
    r = fixtures.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"])
    return r.out.strip() or "/lib/systemd/system"


@pytest.fixture(scope="module")
def unit_root(units, hm_tmp):
    root = tempfile.mkdtemp(prefix="sd-root-", dir=hm_tmp)
    # The targets and slices the units are ordered against.
    sysdir = os.path.join(root, host_unit_dir().lstrip("/"))
    os.makedirs(sysdir)
    for name in os.listdir(host_unit_dir()):
        if name.endswith((".target", ".slice")):
            shutil.copy2(os.path.join(host_unit_dir(), name), sysdir, follow_symlinks=False)
    etc = os.path.join(root, "etc/systemd/system")
    os.makedirs(etc)
    for name in units:
        shutil.copy(built(name), etc)
    # Every program at the path its unit names (verify checks they can run).
    for name, unit in units.items():
        for key in ("ExecStart", "ExecReload"):
            for cmd in unit.get("Service", {}).get(key, []):
                exe = cmd.split()[0]
                dest = os.path.join(root, exe.lstrip("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                src = exe if key == "ExecReload" else fixtures.program(
                    built_program(os.path.basename(exe)))
                shutil.copy2(src, dest)
    # The man pages Documentation= names, where man(1) finds them.
    man = os.path.join(root, "man")
    for page in os.listdir(os.path.join(fixtures.srcdir(), "doc")):
        m = re.fullmatch(r"[a-z.-]+\.([158])", page)
        if m:
            os.makedirs(os.path.join(man, "man" + m.group(1)), exist_ok=True)
            shutil.copy(os.path.join(fixtures.srcdir(), "doc", page),
                        os.path.join(man, "man" + m.group(1)))
    yield types.SimpleNamespace(root=root, man=man)
    shutil.rmtree(root, ignore_errors=True)


def built_program(base):
    """The build tree's path of an installed program's base name."""
    folder = {"homemail-relay": "relay", "homemail-popd": "popd",
              "homemail-fetcher": "fetcher", "homemail-dyndns": "dyndns"}[base]
    return "%s/%s" % (folder, base)


def analyze(root, *args):
    env = dict(os.environ, MANPATH=root.man, SYSTEMD_PAGER="", SYSTEMD_COLORS="0")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=root.root)


def test_verify_is_clean(unit_root):
    r = analyze(unit_root, "verify", "--root=" + unit_root.root, *SERVICES, *TIMERS)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r


def test_verify_catches_a_broken_unit(unit_root):
    """The check above can fail: a typo and a missing program are reported."""
    etc = os.path.join(unit_root.root, "etc/systemd/system")
    with open(os.path.join(etc, "homemail-relay.service")) as f:
        text = f.read()
    bad = os.path.join(etc, "homemail-broken.service")
    with open(bad, "w") as f:
        f.write(text.replace("ProtectHome=", "ProtectHomes=")
                .replace("/homemail-relay ", "/homemail-nothere "))
    try:
        r = analyze(unit_root, "verify", "--root=" + unit_root.root, "homemail-broken.service")
    finally:
        os.unlink(bad)
    assert "ProtectHomes" in r.stderr and "homemail-nothere" in r.stderr, r


@pytest.mark.parametrize("service", SERVICES)
def test_security_exposure_at_most_2(unit_root, service):
    r = analyze(unit_root, "security", "--offline=true", "--root=" + unit_root.root, service)
    m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(service), r.stdout)
    assert m, r
    assert float(m.group(1)) <= MAX_EXPOSURE, r.stdout


# --- what the units say ---------------------------------------------------------

def every_5_minutes(unit_root, spec):
    """True when the OnCalendar= spec fires exactly every 300 s (as
    systemd-analyze calendar computes its next elapses)."""
    r = analyze(unit_root, "calendar", "--iterations=4", spec)
    assert r.returncode == 0, r
    times = re.findall(r"(?:Next elapse|Iter\. #\d+): \S+ \S+ (\d\d):(\d\d):(\d\d)", r.stdout)
    assert len(times) == 4, r.stdout
    secs = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in times]
    return all((b - a) % 86400 == 300 for a, b in zip(secs, secs[1:]))


def exec_argv(unit):
    return one(unit, "Service", "ExecStart").split()


def test_popd_unit(units):
    u = units["homemail-popd.service"]
    assert one(u, "Service", "Type") == "notify"
    assert "--once" not in exec_argv(u)
    assert "multi-user.target" in words(u, "Install", "WantedBy")


def test_relay_unit(units):
    u = units["homemail-relay.service"]
    assert one(u, "Service", "Type") == "notify"
    argv = exec_argv(u)
    assert os.path.basename(argv[0]) == "homemail-relay" and "--once" not in argv
    reload = one(u, "Service", "ExecReload").split()
    assert os.path.basename(reload[0]) == "kill" and reload[1:] == ["-HUP", "$MAINPID"]
    assert "multi-user.target" in words(u, "Install", "WantedBy")


def test_fetcher_timer_and_push_are_the_two_ways(units, unit_root):
    svc, timer = units["homemail-fetcher.service"], units["homemail-fetcher.timer"]
    push = units["homemail-fetcher-push.service"]
    assert one(svc, "Service", "Type") == "oneshot"
    assert exec_argv(svc)[-1] == "--once" and exec_argv(push)[-1] != "--once"
    assert "Install" not in svc  # started by the timer only
    assert one(timer, "Timer", "Unit") == "homemail-fetcher.service"
    assert every_5_minutes(unit_root, one(timer, "Timer", "OnCalendar"))
    assert one(timer, "Timer", "Persistent") == "true"
    assert one(timer, "Timer", "RandomizedDelaySec") not in ("0", "")
    assert "timers.target" in words(timer, "Install", "WantedBy")
    assert "homemail-fetcher.timer" in words(push, "Unit", "Conflicts")
    assert "homemail-fetcher-push.service" in words(timer, "Unit", "Conflicts")
    assert one(push, "Service", "Type") == "exec"


def test_dyndns_timer(units, unit_root):
    svc, timer = units["homemail-dyndns.service"], units["homemail-dyndns.timer"]
    assert one(svc, "Service", "Type") == "oneshot" and exec_argv(svc)[-1] == "--once"
    assert one(timer, "Timer", "Unit") == "homemail-dyndns.service"
    assert every_5_minutes(unit_root, one(timer, "Timer", "OnCalendar"))
    assert one(timer, "Timer", "Persistent") == "true"
    # interface:NAME detection lists addresses over netlink
    assert "AF_NETLINK" in words(svc, "Service", "RestrictAddressFamilies")


@pytest.mark.parametrize("service", SERVICES)
def test_service_sandbox(units, service):
    u = units[service]
    argv = exec_argv(u)
    assert argv[1] == "-c" and argv[2].endswith("/homemail/homemail.conf")
    assert one(u, "Service", "User") == "homemail" and one(u, "Service", "Group") == "homemail"
    caps = words(u, "Service", "CapabilityBoundingSet")
    ambient = words(u, "Service", "AmbientCapabilities")
    if service in ("homemail-relay.service", "homemail-popd.service"):
        assert caps == ["CAP_NET_BIND_SERVICE"] and ambient == ["CAP_NET_BIND_SERVICE"]
    else:
        assert caps == [] and ambient == [] and "CapabilityBoundingSet" in u["Service"]
    assert one(u, "Service", "ProtectSystem") == "strict"
    assert words(u, "Service", "ReadWritePaths") == [STATE_DIR, STATE_DIR + "/mail"]
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                "RestrictNamespaces", "LockPersonality", "MemoryDenyWriteExecute",
                "RestrictRealtime", "RestrictSUIDSGID"):
        assert one(u, "Service", key) == "yes", key
    assert one(u, "Service", "ProtectHome") == "yes"
    assert one(u, "Service", "UMask") == "0027"
    assert one(u, "Service", "SystemCallArchitectures") == "native"
    assert u["Service"]["SystemCallFilter"][0] == "@system-service"
    assert set(words(u, "Service", "RestrictAddressFamilies")) >= {"AF_INET", "AF_INET6",
                                                                  "AF_UNIX"}


# --- sysusers.d and tmpfiles.d -----------------------------------------------------

def test_sysusers_and_tmpfiles(hm_tmp):
    root = tempfile.mkdtemp(prefix="sd-users-", dir=hm_tmp)
    try:
        os.makedirs(os.path.join(root, "etc"))
        r = fixtures.run(["systemd-sysusers", "--root=" + root,
                          built("sysusers.d/homemail.conf")])
        assert r.rc == 0, r
        with open(os.path.join(root, "etc/passwd")) as f:
            pw = {l.split(":")[0]: l.rstrip("\n").split(":") for l in f}
        with open(os.path.join(root, "etc/group")) as f:
            gr = {l.split(":")[0]: l.split(":") for l in f}
        user = pw["homemail"]
        uid, gid = int(user[2]), int(user[3])
        assert 0 < uid < 1000 and gid == int(gr["homemail"][2])
        assert user[5] == STATE_DIR and user[6].endswith("nologin")

        tmpfiles = built("tmpfiles.d/homemail.conf")
        r = fixtures.run(["systemd-tmpfiles", "--create", "--root=" + root, tmpfiles])
        assert r.rc == 0, r
        etc = [p for p in parse_tmpfiles(tmpfiles) if p.endswith("/etc/homemail")][0]
        want = {STATE_DIR: (0o755, uid, gid), STATE_DIR + "/mail": (0o700, uid, gid),
                etc: (0o755, 0, 0), etc + "/secret": (0o750, 0, gid)}
        for path, (mode, o, g) in want.items():
            st = os.stat(os.path.join(root, path.lstrip("/")))
            assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, o, g), path
        # a mode someone loosened is set back
        os.chmod(os.path.join(root, STATE_DIR.lstrip("/"), "mail"), 0o755)
        assert fixtures.run(["systemd-tmpfiles", "--create", "--root=" + root, tmpfiles]).rc == 0
        assert os.stat(os.path.join(root, STATE_DIR.lstrip("/"), "mail")).st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(root, ignore_errors=True)


def parse_tmpfiles(path):
    with open(path) as f:
        return [l.split()[1] for l in f if l.strip() and not l.startswith("#")]


# --- Type=notify ---------------------------------------------------------------

def has_libsystemd(exe):
    with open(exe, "rb") as f:
        return b"sd_notify" in f.read()


def start_notifying(server, hm_tmp):
    """Starts server (a relay or popd fixture, not started) with
    NOTIFY_SOCKET on a socket of ours; the first datagram it sends there."""
    assert has_libsystemd(server.exe), \
        "%s is built without libsystemd (configure found no libsystemd-dev)" % server.exe
    path = os.path.join(tempfile.mkdtemp(prefix="notify-", dir=hm_tmp), "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(path)
        sock.settimeout(15)
        log = open(server.logfile, "ab")
        server.proc = subprocess.Popen([server.exe, "-c", server.conf, "-v"],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True,
                                       env=dict(os.environ, NOTIFY_SOCKET=path))
        log.close()
        try:
            return sock.recv(4096)
        except socket.timeout:
            pytest.fail("no notification within 15 s; log:\n" + server.log())
    finally:
        sock.close()


def listening_now(server):
    """Ready means listening: every listener answers at once, no retry."""
    for host, port in (("127.0.0.1", server.port), ("127.0.0.1", server.tls_port),
                       ("::1", server.port6)):
        socket.create_connection((host, port), timeout=5).close()


def test_relay_sends_ready_once_it_listens(relay, hm_tmp):
    r = relay(start=False)
    try:
        msg = start_notifying(r, hm_tmp)
        assert b"READY=1" in msg.split(b"\n"), msg
        listening_now(r)
        with smtplib.SMTP("127.0.0.1", r.port, timeout=10) as s:
            assert s.noop()[0] == 250
    finally:
        assert r.stop() == 0, r.log()


def test_popd_sends_ready_once_it_listens(hm_tmp, tls_cert):
    p = Popd(tempfile.mkdtemp(prefix="notify-popd-", dir=hm_tmp), tls_cert, users=("alice",))
    try:
        msg = start_notifying(p, hm_tmp)
        assert b"READY=1" in msg.split(b"\n"), msg
        listening_now(p)
        c = poplib.POP3("127.0.0.1", p.port, timeout=10)
        c.user("alice")
        c.pass_(POPD_PASSWORD)
        assert c.stat()[0] == 0
        c.quit()
    finally:
        assert p.stop() == 0, p.log()


# --- the sandbox against what the programs really do ------------------------------

def syscall_groups():
    """{"@name": [members]} as this systemd knows them (members may be groups)."""
    r = fixtures.run(["systemd-analyze", "syscall-filter", "--no-pager"])
    assert r.rc == 0, r
    groups, cur = {}, None
    for line in r.out.splitlines():
        s = line.strip()
        if line.startswith("@"):
            cur = groups.setdefault(s, [])
        elif s and not s.startswith("#") and cur is not None:
            cur.append(s)
    return groups


def expand(names, groups):
    out = set()
    for n in names:
        out |= expand(groups[n], groups) if n.startswith("@") else {n}
    return out


def allowed_syscalls(unit, groups):
    """What the unit's SystemCallFilter= lines let through (an allow list
    first, then deny lists; @default is always allowed)."""
    allowed = expand(["@default"], groups)
    for line in unit["Service"]["SystemCallFilter"]:
        if line.startswith("~"):
            allowed -= expand(line[1:].split(), groups)
        else:
            allowed |= expand(line.split(), groups)
    return allowed


SYSCALL_RE = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]")
SOCKET_RE = re.compile(r"\bsocket\((AF_[A-Z0-9]+)")
WX_RE = re.compile(r"\b(?:mmap|mprotect|pkey_mprotect)\(.*PROT_WRITE\|PROT_EXEC|"
                   r"\b(?:mmap|mprotect|pkey_mprotect)\(.*PROT_EXEC\|PROT_WRITE")


# With ProcSubset=pid only the processes' own folders are left in /proc.
# /proc/filesystems is read by libselinux's constructor (relay, fetcher:
# json-glib brings GIO, and GIO libselinux), which, unable to read it, looks for
# selinuxfs where it is mounted instead: the same answer.
PROC_RE = re.compile(r'"/proc/(?!self/|thread-self/|\d+/|filesystems")')


def strace_argv(out):
    # -D: the tracer is a detached grandchild, so the program keeps its PID
    # (signals and the fixtures' stop() reach it, not strace).
    return ["strace", "-D", "-f", "-q", "-o", out, "--"]


def traced_wrapper(base, exe, out):
    """A script to stand for EXE in a fixture: runs it under strace."""
    path = os.path.join(base, "traced-" + os.path.basename(exe))
    asan = fixtures.wrapped_env()["ASAN_OPTIONS"]  # LeakSanitizer cannot run under ptrace
    with open(path, "w") as f:
        f.write("#!/bin/sh\nASAN_OPTIONS='%s' exec %s \"%s\" \"$@\"\n"
                % (asan, " ".join(strace_argv(out)), exe))
    os.chmod(path, 0o755)
    return path


def wait_trace_done(out, timeout=15.0):
    """strace -D writes its last lines after the program ended: wait for
    the first process's exit line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(out) as f:
            text = f.read()
        first = re.match(r"(\d+)\s", text)
        if first and re.search(r"^%s\s+\+\+\+ (exited|killed)" % first.group(1), text, re.M):
            return text
        time.sleep(0.1)
    pytest.fail("strace did not finish writing %s" % out)


def check_trace(text, unit, groups):
    allowed = allowed_syscalls(unit, groups)
    calls = {m.group(1) for m in map(SYSCALL_RE.match, text.splitlines()) if m}
    assert calls, text[:2000]
    assert not calls - allowed, "calls the unit's SystemCallFilter= refuses: %s" % sorted(
        calls - allowed)
    families = set(SOCKET_RE.findall(text)) - set(words(unit, "Service",
                                                         "RestrictAddressFamilies"))
    lines = text.splitlines()
    where = [i for i, l in enumerate(lines) if any("socket(" + f in l for f in families)]
    assert not families, "sockets the unit's RestrictAddressFamilies= refuses:\n" + "\n".join(
        "\n".join(lines[max(0, i - 12):i + 1]) for i in where[:2])
    wx = [l for l in text.splitlines() if WX_RE.search(l)]
    assert not wx, wx[:5]
    if unit["Service"].get("ProcSubset") == ["pid"]:
        proc = [l for l in text.splitlines() if PROC_RE.search(l)]
        assert not proc, proc[:5]


def test_relay_within_its_sandbox(relay, hm_tmp, units):
    out = os.path.join(tempfile.mkdtemp(prefix="trace-relay-", dir=hm_tmp), "strace")
    r = relay(start=False)
    r.exe = traced_wrapper(os.path.dirname(out), r.exe, out)
    r.start(timeout=30)
    with smtplib.SMTP("127.0.0.1", r.port, timeout=30) as s:
        s.sendmail("bob@box.test", ["alice@box.test"], b"Subject: sandbox\r\n\r\nhello\r\n")
    r.wait_mail("alice", 1)
    r.reload()
    time.sleep(0.5)
    assert r.stop() == 0, r.log()
    check_trace(wait_trace_done(out), units["homemail-relay.service"], syscall_groups())


def test_popd_within_its_sandbox(hm_tmp, tls_cert, units):
    base = tempfile.mkdtemp(prefix="trace-popd-", dir=hm_tmp)
    out = os.path.join(base, "strace")
    p = Popd(base, tls_cert, users=("alice",))
    p.exe = traced_wrapper(base, p.exe, out)
    p.deliver("alice", b"Subject: sandbox\n\nhello\n")
    p.start()
    try:
        c = poplib.POP3("127.0.0.1", p.port, timeout=30)
        c.user("alice")
        c.pass_(POPD_PASSWORD)
        assert b"hello" in b"\n".join(c.retr(1)[1])
        c.dele(1)
        c.quit()
    finally:
        assert p.stop() == 0, p.log()
    assert p.stored_messages("alice") == {}
    check_trace(wait_trace_done(out), units["homemail-popd.service"], syscall_groups())


def test_fetcher_within_its_sandbox(hm_tmp, tls_cert, units):
    """One --once pass over POP3 with TLS (popd as the upstream), delivered
    locally into a Maildir, as the timer's service runs it."""
    base = tempfile.mkdtemp(prefix="trace-fetch-", dir=hm_tmp)
    os.mkdir(os.path.join(base, "up"))
    up = Popd(os.path.join(base, "up"), tls_cert, users=("alice",))
    up.deliver("alice", b"Subject: sandbox\n\nfetched\n")
    up.start()
    try:
        env = FetchEnv(os.path.join(base, "local"),
                       types.SimpleNamespace(user="alice", password=POPD_PASSWORD))
        env.write_config([env.account("up", "pop3", up.tls_port, tls="tls",
                                      ca_file=tls_cert.cert)], deliver="local")
        out = os.path.join(base, "strace")
        argv = strace_argv(out) + [fixtures.program("fetcher/homemail-fetcher"), "-c",
                                   env.conf, "--once"]
        r = fixtures.run(argv, timeout=120, env=fixtures.wrapped_env())
        assert r.rc == 0, r
        assert [b"fetched" in m for m in env.delivered()] == [True]
    finally:
        up.stop()
    check_trace(wait_trace_done(out), units["homemail-fetcher.service"], syscall_groups())


def test_dyndns_within_its_sandbox(hm_tmp, dyn, dyn_cert, units):
    """One --once pass: the address from the check-IP page and from an
    interface (getifaddrs, netlink), one dyndns2 update over HTTPS."""
    base = tempfile.mkdtemp(prefix="trace-dyn-", dir=hm_tmp)
    conf = write_dyndns_conf(base, dyn, dyn_cert.cert, detect='[ "interface:lo", "web" ]')
    out = os.path.join(base, "strace")
    r = fixtures.run(strace_argv(out) + [fixtures.program("dyndns/homemail-dyndns"), "-c",
                                         conf, "--once"], timeout=120,
                     env=fixtures.wrapped_env())
    assert r.rc == 0, r
    assert len(dyn.updates()) == 1
    text = wait_trace_done(out)
    assert "socket(AF_NETLINK" in text  # interface:lo asked the kernel
    check_trace(text, units["homemail-dyndns.service"], syscall_groups())
