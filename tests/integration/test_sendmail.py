"""homemail-sendmail and the relay's import of the drop folder: what a local
user may hand in, what is refused at once (exit 65) rather than lost in
drop/.bad.*, and a drop file that changes under the importing runner.

The everyday cases (-t and Bcc:, -f as root and nobody, the relay down,
-bp, exit codes) are in test_relay.py.
"""
import os
import re
import secrets
import subprocess
import time

import fixtures
from fixtures.smtpraw import RawSMTP
from test_relay import one_with as wait_for, token


def return_path(msg):
    m = re.search(rb"^Return-Path: <([^>]*)>", msg, re.M)
    return m.group(1).decode() if m else None


def bad_drops(r):
    d = os.path.join(r.queue_dir, "drop")
    return sorted(n for n in os.listdir(d) if n.startswith(".bad."))


def poke(r):
    fd = os.open(os.path.join(r.queue_dir, "pickup"), os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, b"m")
    finally:
        os.close(fd)


# -- a drop file that shrinks while the runner imports it ----------------------

def reading(r, path):
    """True once a process of the relay has PATH open or mapped."""
    for pid in fixtures.descendants(r.proc.pid):
        try:
            with open("/proc/%d/maps" % pid) as f:
                if path in f.read():
                    return True
            fd_dir = "/proc/%d/fd" % pid
            for fd in os.listdir(fd_dir):
                if os.readlink(os.path.join(fd_dir, fd)) == path:
                    return True
        except OSError:
            continue
    return False


def test_drop_file_truncated_during_import(relay):
    """The sender owns its drop file and may truncate it while the runner
    reads it: a mapping of it would die of SIGBUS. The runner must live
    on, keep no half-written queue file, and go on delivering. The file is
    cut as soon as the runner has it open (or mapped)."""
    r = relay()
    # Short lines: many of them, slow to import, a wide window.
    body = b"Subject: big\n\n" + (b"y" * 9 + b"\n") * 4000000
    for _ in range(3):
        env = (b"HMQ1\narrival %d\norigin sendmail\nsender <>\nbody 7BIT\n"
               b"rcpt - - <bob>\nsize %020d\n\n" % (int(time.time()), len(body)))
        path = os.path.join(r.queue_dir, "drop", secrets.token_hex(16))
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, env)
            view = memoryview(body)
            off = 0
            while off < len(body):
                off += os.write(fd, view[off:off + (1 << 20)])
            poke(r)
            deadline = time.monotonic() + 10
            while not reading(r, path) and os.path.exists(path):
                assert time.monotonic() < deadline, r.log()
            os.ftruncate(fd, len(env) + 100)
        finally:
            os.close(fd)
        deadline = time.monotonic() + 15
        while os.path.exists(path):
            assert time.monotonic() < deadline, r.log()
            time.sleep(0.02)
        assert "died of signal" not in r.log(), r.log()
        assert "while it was read" in r.log(), r.log()
    tok = token()
    res = r.sendmail(["bob@box.test"], b"Subject: after " + tok.encode() + b"\n\nx\n")
    assert res.rc == 0, res
    wait_for(r, "bob", tok, timeout=5.0)
    assert not [n for n in os.listdir(r.queue_dir) if n.startswith(".")], os.listdir(r.queue_dir)
    assert "died of signal" not in r.log(), r.log()


# -- limits: refused by sendmail exactly where the import would refuse --------

def test_size_limit_counts_crlf(relay):
    """relay.max_message_size counts the message as stored, CRLF line ends:
    one under the limit with LF ends is over it with CRLF ones."""
    r = relay(relay_extra="  max_message_size = 100000;\n")
    head = b"From: <root@box.test>\nSubject: near\n\n"
    lines = (100000 - len(head)) // 100
    msg = head + (b"z" * 99 + b"\n") * lines
    assert len(msg) <= 100000 < len(msg) + msg.count(b"\n")
    res = r.sendmail(["-i", "bob@box.test"], msg)
    assert res.rc == 65, res
    assert "larger than 100000" in res.err, res
    assert not r.drop_files() and not bad_drops(r)
    # What fits with CRLF ends goes through.
    tok = token()
    small = b"Subject: " + tok.encode() + b"\n\n" + (b"z" * 99 + b"\n") * (lines - 50)
    res = r.sendmail(["-i", "bob@box.test"], small)
    assert res.rc == 0, res
    wait_for(r, "bob", tok)
    assert not bad_drops(r), r.log()


def test_too_many_recipients_for_the_envelope(relay):
    """20000 long recipients make an envelope over what the import takes:
    refused at once, nothing left in drop/."""
    r = relay()
    rcpts = ["bob+%05d-%s@box.test" % (i, "x" * 40) for i in range(20000)]
    res = r.sendmail(rcpts, b"Subject: many\n\nx\n")
    assert res.rc == 65, res
    assert "envelope" in res.err, res
    time.sleep(0.5)
    assert not r.drop_files() and not bad_drops(r), r.log()


def test_recipient_the_smtp_server_would_refuse(relay):
    """A recipient the relay's SMTP server refuses at RCPT (here a path over
    256 octets with its "<>") is refused by homemail-sendmail too: exit 65,
    the address named, nothing queued (the other recipients of that
    command neither: the caller learns at once and can send again). One
    octet shorter, both take it."""
    r = relay(users={"alice": {"send_as": "alice@isp.example"}, "bob": {}})
    too_long = "%s@%s.%s.%s.remote.example" % ("a" * 60, "b" * 60, "c" * 60, "d" * 57)
    fits = too_long[1:]
    assert (len(too_long), len(fits)) == (255, 254)
    with RawSMTP("127.0.0.1", r.port) as c:
        c.ehlo("pc1.lan")
        assert c.cmd("MAIL FROM:<alice@box.test>")[0] == 250
        code, text = c.cmd("RCPT TO:<%s>" % too_long)
        assert code == 553 and "longer than" in text, (code, text)
        assert c.cmd("RCPT TO:<%s>" % fits)[0] == 250
        assert c.cmd("RSET")[0] == 250
    res = r.sendmail(["-f", "alice@box.test", "bob@box.test", too_long], b"Subject: long\n\nx\n")
    assert res.rc == 65, res
    assert too_long in res.err and "longer than 254 octets" in res.err, res
    time.sleep(0.5)
    assert not r.drop_files() and not bad_drops(r), r.log()
    assert not r.maildir("bob")
    tok = token()
    res = r.sendmail(["-f", "alice@box.test", "bob@box.test", fits],
                     b"Subject: " + tok.encode() + b"\n\nx\n")
    assert res.rc == 0, res
    wait_for(r, "bob", tok)


# -- -f ------------------------------------------------------------------------

BAD_SENDERS = [
    "x@y\rz",
    "x@y>\nrcpt - - <alice@box.test",
    "\x1b[31mred@x.example",
    "alice@box.test <x@y.example>",
    "<x@y.example",
    "a@@b.example",
]


def test_f_is_validated(relay):
    r = relay()
    for sender in BAD_SENDERS:
        res = r.sendmail(["-f", sender, "bob@box.test"], b"Subject: f\n\nx\n", user="nobody")
        assert res.rc == 65, (repr(sender), res)
        assert "sender" in res.err, (repr(sender), res)
    time.sleep(0.5)
    assert not r.drop_files() and not bad_drops(r), r.log()
    assert not r.maildir("alice") and not r.maildir("bob")
    # The null sender and the forms sendmail takes still do.
    for sender, want in (("", ""), ("<>", ""), ("<carol@remote.example>", "carol@remote.example"),
                         ("carol@remote.example", "carol@remote.example")):
        tok = token()
        res = r.sendmail(["-f", sender, "bob@box.test"], b"Subject: " + tok.encode() + b"\n\nx\n",
                         user="nobody")
        assert res.rc == 0, (sender, res)
        assert return_path(wait_for(r, "bob", tok)) == want, sender


def test_f_send_as_of_another_user(relay):
    """A local user may not claim another's address, and another's send_as
    is theirs too: it becomes the invoker's own, as at SMTP AUTH."""
    r = relay(users={"alice": {"send_as": "alice@isp.example"}, "bob": {},
                     "nobody": {"send_as": "nobody@isp.example"}})
    tok = token()
    res = r.sendmail(["-f", "alice@isp.example", "bob@box.test"],
                     b"Subject: " + tok.encode() + b"\n\nx\n", user="nobody")
    assert res.rc == 0, res
    assert return_path(wait_for(r, "bob", tok)) == "nobody@box.test"
    # Their own send_as and a foreign address are theirs to use.
    for sender in ("nobody@isp.example", "someone@remote.example"):
        tok = token()
        res = r.sendmail(["-f", sender, "bob@box.test"],
                         b"Subject: " + tok.encode() + b"\n\nx\n", user="nobody")
        assert res.rc == 0, res
        assert return_path(wait_for(r, "bob", tok)) == sender


def test_f_bare_name_is_qualified(relay):
    """-f root is qualified as the default sender (the invoker's login) is:
    root@hostname, in the queued envelope, the Return-Path and the From:
    sendmail adds, as Postfix appends its origin; "<root>" too."""
    r = relay()
    r.stop()
    res = r.sendmail(["-f", "root", "friend@remote.example"], b"Subject: q\n\nx\n")
    assert res.rc == 0, res
    (name,) = r.drop_files()
    with open(os.path.join(r.queue_dir, "drop", name), "rb") as f:
        got = f.read()
    assert b"\nsender <root@box.test>\n" in got, got
    assert b"\n\nFrom: <root@box.test>\n" in got, got
    r.start()
    for sender in ("root", "<root>", "nobody"):
        tok = token()
        res = r.sendmail(["-f", sender, "bob@box.test"], b"Subject: " + tok.encode() + b"\n\nx\n")
        assert res.rc == 0, (sender, res)
        got = wait_for(r, "bob", tok)
        want = sender.strip("<>") + "@box.test"
        assert return_path(got) == want, (sender, got[:800])
        assert re.search(rb"^From: <%s>\r?$" % want.encode(), got, re.M), got[:800]


# -- the end of the input ------------------------------------------------------

def test_lone_dot_split_across_reads(relay):
    """A "." line ended by CRLF whose LF comes in a later read still ends
    the message; so does one after a NUL octet."""
    r = relay()
    tok = token()
    argv = [fixtures.program("relay/homemail-sendmail"), "-C", r.conf, "bob@box.test"]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(b"Subject: d " + tok.encode() + b"\n\nline1\n.\r")
    p.stdin.flush()
    time.sleep(0.5)
    try:
        p.stdin.write(b"\nAFTER\n")
        p.stdin.close()
    except BrokenPipeError:
        pass
    assert p.wait(30) == 0, p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    got = wait_for(r, "bob", tok)
    assert b"line1" in got and b"AFTER" not in got, got

    # What follows the "." line is not read: its NUL does not matter.
    r.stop()
    res = r.sendmail(["bob@box.test"], b"Subject: n\n\nbinary\n.\nAFT\0ER\n")
    assert res.rc == 0, res
    (name,) = r.drop_files()
    with open(os.path.join(r.queue_dir, "drop", name), "rb") as f:
        got = f.read()
    assert got.endswith(b"\n\nbinary\n"), got


def test_nul_refused_at_once(relay):
    """A NUL octet in the message is refused by sendmail (exit 65), as the
    relay refuses it over SMTP, instead of being queued and bounced: with
    the relay down nothing reaches drop/, and with it up nothing arrives
    and nothing is kept aside."""
    r = relay()
    r.stop()
    for msg in (b"Subject: n\n\nbin\0ary\n.\nAFTER\n", b"Subject: n\0\n\nbody\n"):
        res = r.sendmail(["bob@box.test"], msg)
        assert res.rc == 65, res
        assert "NUL byte" in res.err, res
        assert not r.drop_files() and not bad_drops(r)
    r.start()
    res = r.sendmail(["-i", "bob@box.test"], b"Subject: n\n\nbin\0ary\n")
    assert res.rc == 65, res
    tok = token()
    res = r.sendmail(["bob@box.test"], b"Subject: " + tok.encode() + b"\n\nafter\n")
    assert res.rc == 0, res
    got = wait_for(r, "bob", tok)
    assert b"bin" not in got, got
    assert len(r.maildir("bob")) == 1, r.maildir("bob")
    assert not r.drop_files() and not bad_drops(r), r.log()


def test_nul_drop_file_kept_aside(relay):
    """A drop file with a NUL, written past sendmail, is kept as .bad.*
    with the reason logged, as any file over the import's limits: not
    queued to bounce later."""
    r = relay()
    body = b"Subject: n\n\nbin\0ary\n"
    env = (b"HMQ1\narrival %d\norigin sendmail\nsender <>\nbody 7BIT\n"
           b"rcpt - - <bob>\nsize %020d\n\n" % (int(time.time()), len(body)))
    name = secrets.token_hex(16)
    with open(os.path.join(r.queue_dir, "drop", name), "xb") as f:
        f.write(env + body)
    poke(r)
    deadline = time.monotonic() + 10
    while bad_drops(r) != [".bad." + name]:
        assert time.monotonic() < deadline, r.log()
        time.sleep(0.05)
    assert "NUL byte" in r.log(), r.log()
    assert not r.queue_ids() and not r.maildir("bob"), r.log()


# -- -t ------------------------------------------------------------------------

def test_t_quoted_comma_and_bare_names(relay):
    r = relay(users=("alice", "bob", "carol"))
    tok = token()
    res = r.sendmail(["-t", "-i"], ('From: alice@box.test\n'
                                    'To: "Smith, John" <bob@box.test>, carol\n'
                                    'Subject: q %s\n\nbody\n' % tok).encode())
    assert res.rc == 0, res
    wait_for(r, "bob", tok)
    wait_for(r, "carol", tok)
    tok = token()
    res = r.sendmail(["-t", "-i"], ("From: alice@box.test\nTo: carol, bob (Bob B.)\n"
                                    "Subject: plain %s\n\nbody\n" % tok).encode())
    assert res.rc == 0, res
    wait_for(r, "bob", tok)
    wait_for(r, "carol", tok)
