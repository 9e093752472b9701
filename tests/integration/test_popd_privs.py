"""homemail-popd started as root with run_as set: it binds its ports and
loads its TLS key as root, then every process serving clients runs as that
user (least privilege); without a valid run_as user it refuses to start."""
import os
import poplib
import ssl
import subprocess
import tempfile
import time

import pytest

import fixtures
from fixtures.popd import Popd, PASSWORD

NOBODY = 65534


def proc_uids(pid):
    """The four uids of process pid, or None if it has already exited."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return [int(x) for x in line.split()[1:]]
    except FileNotFoundError:
        return None
    raise AssertionError("no Uid line for %d" % pid)


def children(ppid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid:
            out.append(int(name))
    return out


@pytest.fixture
def root_popd(hm_tmp, tls_cert):
    assert os.geteuid() == 0, "these tests start popd as root, as CI does"
    base = tempfile.mkdtemp(prefix="privs-", dir=hm_tmp)
    os.chmod(base, 0o755)
    p = Popd(base, tls_cert, users=("alice",), run_as="nobody")
    yield p
    p.stop()


def test_sessions_run_as_run_as_user(root_popd):
    p = root_popd
    p.deliver("alice", b"Subject: privs\n\nhello\n")
    # The Maildir belongs to the unprivileged user, as systemd's tmpfiles
    # snippet will arrange.
    subprocess.run(["chown", "-R", "%d:%d" % (NOBODY, NOBODY), p.mail_dir], check=True)
    p.start()
    # The ports accept connections (what start() waits for) a moment before
    # the daemon drops root, so give it that moment, not more.
    deadline = time.monotonic() + 5
    while proc_uids(p.proc.pid) != [NOBODY] * 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc_uids(p.proc.pid) == [NOBODY] * 4, "the listener process kept root"

    c = poplib.POP3("127.0.0.1", p.port, timeout=10)
    c.user("alice")
    c.pass_(PASSWORD)
    assert c.stat()[0] == 1
    # Another session (the fixture's readiness probe) may be exiting just
    # now; ours is alive while c is logged in.
    uids = [u for u in map(proc_uids, children(p.proc.pid)) if u is not None]
    assert uids, "no session process found"
    for u in uids:
        assert u == [NOBODY] * 4
    assert b"hello" in b"\n".join(c.retr(1)[1])
    c.quit()

    # The TLS key was loaded before the drop: implicit TLS still works.
    ctx = ssl.create_default_context(cafile=p.tls_cert.cert)
    s = poplib.POP3_SSL("localhost", p.tls_port, context=ctx, timeout=10)
    s.user("alice")
    s.pass_(PASSWORD)
    assert s.stat()[0] == 1
    s.quit()
    assert "running as root" not in p.log()


def test_unknown_run_as_user_refused(hm_tmp, tls_cert):
    base = tempfile.mkdtemp(prefix="privs-bad-", dir=hm_tmp)
    p = Popd(base, tls_cert, users=("alice",), run_as="no-such-user-hm")
    r = subprocess.run([p.exe, "-c", p.conf], capture_output=True, timeout=20)
    assert r.returncode == 1
    assert b'run_as: no user "no-such-user-hm"' in r.stderr
