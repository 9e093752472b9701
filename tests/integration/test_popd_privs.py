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
NOGROUP = 65534


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


def service_mail_dir(p):
    os.makedirs(p.mail_dir)
    os.chown(p.mail_dir, NOBODY, NOGROUP)


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
    # mail_dir belongs to the unprivileged user, as systemd's tmpfiles
    # snippet arranges; homemail-deliver run as root (the cron example)
    # drops to run_as, so the Maildir it makes and the message are that
    # user's too.
    service_mail_dir(p)
    p.deliver("alice", b"Subject: privs\n\nhello\n")
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


def test_unreadable_message_logged(root_popd):
    """A message file popd, as run_as, may not read (root's, made by a
    tool run as root) is not taken for one that is gone: RETR says it
    cannot be read and the log names the file; one without a size in its
    name, which must be read to be listed, is left out of the listing, but
    logged too."""
    p = root_popd
    service_mail_dir(p)
    p.deliver("alice", b"Subject: first\n\nfirst\n")
    p.deliver("alice", b"Subject: gone\n\ngone\n")
    new = os.path.join(p.maildir("alice"), "new")
    sized = os.path.join(new, "1900000000.M1P1Q1.root,S=18,W=20")
    unsized = os.path.join(new, "1900000001.M1P1Q1.root")
    for path in (sized, unsized):
        with open(path, "wb") as f:
            f.write(b"Subject: root\n\nx\n")
        os.chmod(path, 0o600)
    p.start()
    c = poplib.POP3("127.0.0.1", p.port, timeout=10)
    c.user("alice")
    c.pass_(PASSWORD)
    assert c.stat()[0] == 3
    assert "maildir %s: cannot read new/1900000001.M1P1Q1.root: Permission denied" % (
        p.maildir("alice")) in p.log()
    with pytest.raises(poplib.error_proto) as e:
        c.retr(3)
    assert e.value.args[0] == b"-ERR [SYS/TEMP] Message 3 cannot be read."
    assert "maildir %s: cannot read new/1900000000.M1P1Q1.root,S=18,W=20: Permission denied" % (
        p.maildir("alice")) in p.log()
    # One that is really gone since login is told apart.
    os.unlink(os.path.join(new, sorted(n for n in os.listdir(new) if ".root" not in n)[1]))
    with pytest.raises(poplib.error_proto) as e:
        c.retr(2)
    assert e.value.args[0] == b"-ERR Message 2 is no longer there."
    assert b"first" in b"\n".join(c.retr(1)[1])
    c.quit()


@pytest.mark.parametrize("mode,group", [(0o1777, 0), (0o775, NOGROUP)],
                         ids=["sticky-1777", "group-writable"])
def test_foreign_maildir_link_refused(hm_tmp, tls_cert, mode, group):
    """popd running as root (run_as unset) and homemail-deliver run as
    root, with a mail_dir others may write to (the Postfix
    mailbox_command example makes it 1777): a user's Maildir that another
    user replaced by a symbolic link is not followed, whatever
    fs.protected_symlinks says (it covers sticky directories only, and
    may be off), so frank's login does not show bob's mail, and nothing
    is created where a link points. A link root made (a Maildir on
    another disk) is followed."""
    base = tempfile.mkdtemp(prefix="privs-link-", dir=hm_tmp)
    os.chmod(base, 0o755)
    p = Popd(base, tls_cert, users=("bob", "frank", "grace", "heidi"))
    os.makedirs(p.mail_dir)
    os.chown(p.mail_dir, 0, group)
    os.chmod(p.mail_dir, mode)
    p.deliver("bob", b"Subject: for bob\n\nsecret\n")
    private = os.path.join(base, "private")
    os.makedirs(private, 0o700)
    elsewhere = os.path.join(base, "other-disk")
    os.makedirs(elsewhere, 0o700)
    for target, name in ((p.maildir("bob"), "frank"), (private, "grace")):
        subprocess.run(["ln", "-s", target, os.path.join(p.mail_dir, name)], check=True,
                       user=NOBODY, group=NOGROUP, extra_groups=[])
    os.symlink(elsewhere, p.maildir("heidi"))
    p.start()
    try:
        for user in ("frank", "grace"):
            c = poplib.POP3("127.0.0.1", p.port, timeout=10)
            c.user(user)
            with pytest.raises(poplib.error_proto) as e:
                c.pass_(PASSWORD)
            assert e.value.args[0].startswith(b"-ERR [SYS/TEMP]")
            c.close()
            assert ("login refused user=%s: %s is a symbolic link owned by uid %d"
                    % (user, p.maildir(user), NOBODY)) in p.log()
        assert os.listdir(private) == []
        assert not os.path.exists(os.path.join(p.maildir("bob"), ".homemail-pop3.lock"))

        r = subprocess.run([p.deliver_exe, "-c", p.conf, "-d", "frank"],
                           input=b"Subject: for frank\n\nhi\n", capture_output=True, timeout=20)
        assert r.returncode == 75, r.stderr
        assert b"is a symbolic link owned by uid %d" % NOBODY in r.stderr
        assert len(os.listdir(os.path.join(p.maildir("bob"), "new"))) == 1
        assert os.listdir(private) == []

        p.deliver("heidi", b"Subject: for heidi\n\nhi\n")
        c = poplib.POP3("127.0.0.1", p.port, timeout=10)
        c.user("heidi")
        c.pass_(PASSWORD)
        assert c.stat()[0] == 1
        c.quit()
        assert sorted(os.listdir(elsewhere)) == [".homemail-pop3.lock", "cur", "new", "tmp"]
    finally:
        p.stop()
