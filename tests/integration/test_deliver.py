"""homemail-deliver, the real binary: sysexits codes, nothing partial on a
full disk, a whole corpus stored byte for byte, concurrent deliveries."""
import os
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

import fixtures
from fixtures import corpus as corpusmod

ENVELOPE = "sender@origin.test"
RCPT = "alice@home.example"


class Box:
    """A config and mail_dir of its own for each test."""

    def __init__(self, base, max_size=52428800):
        self.dir = tempfile.mkdtemp(prefix="deliver-", dir=base)
        self.mail = os.path.join(self.dir, "mail")
        self.conf = os.path.join(self.dir, "homemail.conf")
        with open(self.conf, "w") as f:
            f.write('hostname = "box.example";\n'
                    'state_dir = "%s/state";\n'
                    'mail_dir = "%s";\n'
                    'local_domains = [ "home.example", "localhost" ];\n'
                    'users = ( { name = "alice"; },\n'
                    '          { name = "bob"; mail_format = "mbox"; } );\n'
                    'aliases = { postmaster = "alice"; ext = "x@far.example"; };\n'
                    'relay = { max_message_size = %d; };\n' % (self.dir, self.mail, max_size))
        self.exe = fixtures.program("deliver/homemail-deliver")

    def run(self, args, data, timeout=60):
        p = subprocess.run([self.exe, "-c", self.conf] + list(args), input=data,
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    def files(self, user="alice", subs=("new", "cur", "tmp")):
        return fixtures.maildir_files(os.path.join(self.mail, user), subs)


@pytest.fixture
def box(hm_tmp):
    b = Box(hm_tmp)
    yield b
    shutil.rmtree(b.dir, ignore_errors=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def prefix(sender=ENVELOPE, rcpt=RCPT):
    return ("Return-Path: <%s>\nDelivered-To: %s\n" % (sender, rcpt)).encode()


MSG = b"From: a@b.example\nSubject: test\n\nhello\n"


def test_delivered_exit_0(box):
    rc, err = box.run(["-f", ENVELOPE, RCPT], MSG)
    assert rc == 0, err
    files = box.files()
    assert len(files) == 1 and "/new/" in files[0]
    assert read(files[0]) == prefix() + MSG
    m = re.search(r",S=(\d+),W=(\d+)$", files[0])
    assert m and int(m.group(1)) == len(prefix() + MSG)
    assert int(m.group(2)) == len(corpusmod.crlf(prefix() + MSG))
    for d in ("", "/new", "/cur", "/tmp"):
        assert os.stat(os.path.join(box.mail, "alice") + d).st_mode & 0o777 == 0o700


def test_d_user_and_alias(box):
    rc, err = box.run(["-d", "postmaster", "-f", "<>"], MSG)
    assert rc == 0, err
    assert read(box.files()[0]) == prefix("", RCPT) + MSG


def test_unknown_user_67(box):
    rc, err = box.run(["-f", ENVELOPE, "nobody@home.example"], MSG)
    assert rc == 67
    assert err.startswith("homemail-deliver: ") and err.count("\n") == 1, err
    rc, err = box.run(["-f", ENVELOPE, "alice@far.example"], MSG)
    assert rc == 67 and "not local" in err
    rc, err = box.run(["-f", ENVELOPE, "ext"], MSG)
    assert rc == 67 and "not local" in err
    assert box.files() == []


@pytest.mark.parametrize("data", [b"", b"no header line\n\nbody\n", b"A: b\n\nx\0y\n",
                                  b"From x Mon Jan  1 00:00:00 2024\n"])
def test_malformed_65(box, data):
    rc, err = box.run(["-f", ENVELOPE, RCPT], data)
    assert rc == 65, err
    assert err.startswith("homemail-deliver: ")
    assert box.files() == []


def test_loop_65(box):
    rc, err = box.run(["-f", ENVELOPE, RCPT], b"Delivered-To: Alice@Home.Example\n" + MSG)
    assert rc == 65 and "loop" in err
    looped = b"Received: from relay\nDelivered-To: alice@home.example\nReceived: from far\n" + MSG
    rc, err = box.run(["-f", ENVELOPE, RCPT], looped)
    assert rc == 65 and "loop" in err
    assert box.files() == []


def test_postfix_mailbox_command(box):
    # what Postfix local(8) pipes into a mailbox_command: its From_ line and
    # its own Delivered-To above its Received:, which is no loop
    data = (b"From sender@origin.test  Mon Jan  1 00:00:00 2024\n"
            b"Return-Path: <sender@origin.test>\nX-Original-To: alice@home.example\n"
            b"Delivered-To: alice@home.example\nReceived: by box (Postfix)\n" + MSG)
    rc, err = box.run(["-f", ENVELOPE, RCPT], data)
    assert rc == 0, err
    assert read(box.files()[0]) == prefix() + data.split(b"\n", 1)[1]


def test_too_big_65(hm_tmp):
    b = Box(hm_tmp, max_size=2048)
    try:
        rc, err = b.run(["-f", ENVELOPE, RCPT], MSG + b"x" * 4096 + b"\n")
        assert rc == 65 and "max_message_size" in err
        assert b.files() == []
    finally:
        shutil.rmtree(b.dir, ignore_errors=True)


def test_temporary_75(box):
    os.makedirs(box.mail)
    with open(os.path.join(box.mail, "alice"), "w"):
        pass  # a file where the Maildir should be
    rc, err = box.run(["-f", ENVELOPE, RCPT], MSG)
    assert rc == 75, err
    assert err.startswith("homemail-deliver: ")


@pytest.mark.parametrize("sub", ["tmp", "new"])
def test_linked_maildir_sub_75(box, sub):
    """Run as root (another MTA's mailbox_command, or by hand) on a Maildir
    whose owner made tmp/ or new/ a symbolic link to a directory of the
    system: nothing is written there, the message is not lost (75: the
    MTA keeps it) and the error names the link."""
    md = os.path.join(box.mail, "alice")
    rc, err = box.run(["-f", ENVELOPE, RCPT], MSG)
    assert rc == 0, err
    victim = os.path.join(box.dir, "etc-cron.d")
    os.makedirs(victim)
    shutil.rmtree(os.path.join(md, sub))
    os.symlink(victim, os.path.join(md, sub))
    rc, err = box.run(["-f", ENVELOPE, RCPT], MSG)
    assert rc == 75, err
    assert "%s/%s is a symbolic link" % (md, sub) in err, err
    assert os.listdir(victim) == []
    assert len(box.files(subs=("new", "cur"))) == (1 if sub == "tmp" else 0)


def test_bad_config_75(box):
    with open(box.conf, "a") as f:
        f.write("this is not libconfig\n")
    rc, err = box.run(["-f", ENVELOPE, RCPT], MSG)
    assert rc == 75 and err.startswith("homemail-deliver: ")


def test_secrets_not_read(box):
    # An MTA runs the MDA as the recipient or as itself, not as the user
    # the daemons' secrets belong to: delivery reads none of them.
    secret = os.path.join(box.dir, "isp.secret")
    with open(secret, "w") as f:
        f.write("s3cret\n")
    os.chmod(secret, 0o600)
    with open(box.conf) as f:
        conf = f.read()
    with open(box.conf, "w") as f:
        f.write(conf.replace("relay = { ", 'relay = { smarthosts = ( { host = "smtp.isp.example";\n'
                             '  user = "u"; password_file = "%s"; } );\n' % secret))
        f.write('fetcher = { accounts = ( { name = "isp"; protocol = "imap"; host = "imap.isp.example";\n'
                '  user = "u"; password_file = "%s/missing.secret"; to = "alice"; } ); };\n'
                % box.dir)
    os.chmod(box.dir, 0o755)
    os.makedirs(box.mail)
    os.chown(box.mail, 65534, 65534)
    p = subprocess.run([box.exe, "-c", box.conf, "-f", ENVELOPE, RCPT], input=MSG,
                       capture_output=True, timeout=60, user=65534, group=65534,
                       extra_groups=[])
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    assert read(box.files()[0]) == prefix() + MSG


def as_nobody(box, args, data):
    pw = pwd.getpwnam("nobody")
    return subprocess.run([box.exe, "-c", box.conf] + args, input=data, capture_output=True,
                          timeout=60, user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])


def test_root_drops_to_run_as(box):
    """Run as root with run_as set (the cron example of the man page), it
    delivers as that user, as the daemons do: a message file or Maildir
    made by root is one popd, running as run_as, cannot read, and one
    later deliveries as run_as cannot write into."""
    assert os.geteuid() == 0, "this test runs homemail-deliver as root, as CI does"
    pw = pwd.getpwnam("nobody")
    owner = (pw.pw_uid, pw.pw_gid)
    with open(box.conf, "a") as f:
        f.write('run_as = "nobody";\n')
    os.chmod(box.dir, 0o755)
    os.makedirs(box.mail)
    os.chown(box.mail, *owner)
    rc, err = box.run(["-f", "root", "-d", "alice"], MSG)
    assert rc == 0, err
    assert err == ""
    md = os.path.join(box.mail, "alice")
    made = [md] + [os.path.join(md, sub) for sub in ("cur", "new", "tmp")] + box.files()
    assert len(made) == 5
    for path in made:
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == owner, path
    rc, err = box.run(["-d", "bob"], MSG)
    assert rc == 0, err
    st = os.stat(os.path.join(box.mail, "bob.mbox"))
    assert (st.st_uid, st.st_gid) == owner
    # The service user goes on delivering into what root's run made.
    p = as_nobody(box, ["-d", "alice"], MSG)
    assert p.returncode == 0, p.stderr
    assert len(box.files()) == 2
    # Where run_as may not write, the mail waits (75); root writes nothing.
    os.chown(box.mail, 0, 0)
    os.chmod(box.mail, 0o755)
    shutil.rmtree(md)
    rc, err = box.run(["-f", "root", "-d", "alice"], MSG)
    assert rc == 75, err
    assert "Permission denied" in err, err
    assert not os.path.exists(md)


def test_root_becomes_mail_dirs_owner_without_run_as(box):
    """As the systemd units run the daemons (their User=, run_as unset),
    root's delivery (cron) is made as mail_dir's owner: popd, running as
    that user, can read it, and its later deliveries can write there."""
    assert os.geteuid() == 0, "this test runs homemail-deliver as root, as CI does"
    pw = pwd.getpwnam("nobody")
    owner = (pw.pw_uid, pw.pw_gid)
    os.chmod(box.dir, 0o755)
    os.makedirs(box.mail)
    os.chown(box.mail, *owner)
    rc, err = box.run(["-f", "root", "-d", "alice"], MSG)
    assert rc == 0, err
    md = os.path.join(box.mail, "alice")
    for path in [md] + [os.path.join(md, sub) for sub in ("cur", "new", "tmp")] + box.files():
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == owner, path
    p = as_nobody(box, ["-d", "alice"], MSG)
    assert p.returncode == 0, p.stderr
    assert len(box.files()) == 2
    # A root-owned mail_dir: root delivers as root, as before.
    os.chown(box.mail, 0, 0)
    shutil.rmtree(md)
    rc, err = box.run(["-d", "alice"], MSG)
    assert rc == 0, err
    assert all(os.stat(f).st_uid == 0 for f in box.files())


def test_usage(box):
    assert box.run([], MSG)[0] == 64
    assert box.run(["-d", "alice", RCPT], MSG)[0] == 64
    p = subprocess.run([box.exe, "--version"], capture_output=True, timeout=10)
    assert p.returncode == 0 and p.stdout.startswith(b"homemail-deliver ")
    p = subprocess.run([box.exe, "--help"], capture_output=True, timeout=10)
    assert p.returncode == 0 and b"-d" in p.stdout


def test_non_ascii_arguments(box):
    """An MTA runs the MDA in the C locale and hands it SMTPUTF8 addresses
    in UTF-8: arguments that are UTF-8 are taken as they are, whatever the
    locale (they failed with 64, which Postfix bounces); other bytes are
    converted from the locale's charset ($CHARSET, as GLib reads it), and
    what cannot be is a usage error."""
    def run(args, charset=None):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        if charset:
            env["CHARSET"] = charset
        p = subprocess.run([box.exe, "-c", box.conf] + list(args), input=MSG, env=env,
                           capture_output=True, timeout=60)
        return p.returncode, p.stderr.decode("utf-8", "replace")
    rc, err = run(["-d", "älice"])
    assert rc == 67 and "älice: no such user" in err, err
    rc, err = run(["älice@home.example"])
    assert rc == 67, err
    rc, err = run(["-f", "ä@x.example", "-d", "alice"])
    assert rc == 0, err
    assert read(box.files()[0]).startswith("Return-Path: <ä@x.example>\n".encode())
    rc, err = run([b"-d", b"al\xe4ice"], "ISO-8859-1")
    assert rc == 67 and "aläice: no such user" in err, err
    rc, err = run([b"-d", b"al\xe4ice"])
    assert rc == 64 and "Invalid byte sequence" in err, (rc, err)


def test_several_recipients_worst_code(box):
    # the good one is delivered; the unknown one decides the exit code
    rc, err = box.run(["-f", ENVELOPE, "nobody@home.example", RCPT, "Alice@home.example"], MSG)
    assert rc == 67, err
    assert len(box.files()) == 1  # one copy per user
    # a temporary failure wins over 67, so that the MTA retries
    os.makedirs(os.path.join(box.mail, "bob.mbox"))  # a directory: bob's mbox fails
    rc, err = box.run(["-f", ENVELOPE, "nobody", "bob", RCPT], MSG)
    assert rc == 75, err
    assert len(err.strip().split("\n")) == 2, err  # one line per failed recipient
    assert len(box.files()) == 2


def test_no_sender_uses_return_path(box):
    data = b"Return-Path: <up@stream.example>\n" + MSG
    rc, err = box.run([RCPT], data)
    assert rc == 0, err
    assert read(box.files()[0]) == b"Delivered-To: %s\n" % RCPT.encode() + data


def test_mbox(box):
    rc, err = box.run(["-f", ENVELOPE, "bob"], MSG + b"From here\n>From there\n")
    assert rc == 0, err
    got = read(os.path.join(box.mail, "bob.mbox"))
    assert got.startswith(b"From sender@origin.test ")
    assert got.endswith(b"\nhello\n>From here\n>>From there\n\n")


def test_disk_full_75(box):
    os.makedirs(box.mail)
    with fixtures.tmpfs(box.mail, "64k"):
        big = MSG + (b"x" * 76 + b"\n") * 20000  # ~1.5 MB
        rc, err = box.run(["-f", ENVELOPE, RCPT], big)
        assert rc == 75, err
        assert err.startswith("homemail-deliver: ") and "No space" in err, err
        assert box.files() == []
        # room is left for the next, small message: nothing leaked
        rc, err = box.run(["-f", ENVELOPE, RCPT], MSG)
        assert rc == 0, err
        assert len(box.files()) == 1


def test_corpus_stored_exactly(box, corpus):
    for i, m in enumerate(corpus.messages):
        # every fourth message arrives with CRLF line ends, as from SMTP
        data = m.crlf if i % 4 == 1 else m.data
        rc, err = box.run(["-f", ENVELOPE, RCPT], data)
        assert rc == 0, (m.msgid, err)
    files = box.files()
    assert len(files) == len(corpus.messages)
    seen = set()
    for path in files:
        assert "/new/" in path
        got = read(path)
        assert got.startswith(prefix())
        body = got[len(prefix()):]
        msgid = corpusmod.msgid_of(body)
        m = corpus.by_msgid[msgid]
        assert body == m.data, msgid
        s, w = re.search(r",S=(\d+),W=(\d+)$", path).groups()
        assert int(s) == len(got) and int(w) == len(corpusmod.crlf(got))
        seen.add(msgid)
    assert len(seen) == len(corpus.messages)


def test_concurrent(box):
    procs = []
    for i in range(20):
        data = b"Message-ID: <c%d@test>\nSubject: %d\n\nbody %d\n" % (i, i, i)
        p = subprocess.Popen([box.exe, "-c", box.conf, "-f", ENVELOPE, RCPT],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        procs.append((p, data))
    for p, data in procs:
        out, err = p.communicate(data, timeout=60)
        assert p.returncode == 0, err
    files = box.files(subs=("new",))
    assert len(files) == 20
    names = {os.path.basename(f).split(",")[0] for f in files}
    assert len(names) == 20
    bodies = {read(f) for f in files}
    assert bodies == {prefix() + b"Message-ID: <c%d@test>\nSubject: %d\n\nbody %d\n" % (i, i, i)
                      for i in range(20)}
    assert box.files(subs=("tmp",)) == []
