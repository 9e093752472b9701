"""homemail-relay never loses a message it answered 250 for (DESIGN.md
invariants 1 and 2): kill -9 in the middle of a stream, a full disk under
the queue, and a full disk under the Maildirs only (a session delivering
local mail at once queues it instead); and what a kill leaves half-written
does not stay. Nor does it send again what the smart host took: kill -9
in the middle of a batch."""
import os
import random
import re
import smtplib
import threading
import time

import fixtures
from fixtures.smtpraw import RawSMTP
from fixtures.stallhost import SmtpSink, backlog, message_ids

BLOCK = 64 * 1024
ROUNDS = 20
RUNNER_BATCH = 64  # relay/runner.c


class Sender(threading.Thread):
    """Sends numbered messages to bob over one SMTP connection after another
    until told to stop or the relay goes away; records which got 250."""

    def __init__(self, port, prefix):
        super().__init__(daemon=True)
        self.port, self.prefix = port, prefix
        self.acked, self.errors = [], []
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
                    for _ in range(20):
                        if self.stop.is_set():
                            return
                        tok = "%s-%05d" % (self.prefix, n)
                        n += 1
                        s.sendmail("alice@box.test", ["bob@box.test"],
                                   ("Subject: durable %s\r\nMessage-ID: <%s@lan>\r\n\r\n%s\r\n"
                                    % (tok, tok, "x" * random.randint(10, 3000))).encode())
                        self.acked.append(tok)
            except (OSError, smtplib.SMTPException) as e:
                self.errors.append(repr(e))
                return


def tokens_in(r, user):
    """{token: how many copies} of the test messages in USER's Maildir."""
    out = {}
    for m in r.maildir(user).values():
        found = re.search(rb"^Subject: durable (\S+)", m, re.M)
        if found:
            tok = found.group(1).decode()
            out[tok] = out.get(tok, 0) + 1
    return out


def test_kill9_loses_nothing(relay):
    r = relay()
    rng = random.Random(20261205)
    acked = []
    # 20 rounds (the number): the kills land while sessions write,
    # while the group commit flushes and while the runner delivers.
    for rnd in range(ROUNDS):
        senders = [Sender(r.port, "r%d-s%d" % (rnd, k)) for k in range(3)]
        for s in senders:
            s.start()
        time.sleep(rng.uniform(0.1, 0.8))
        r.kill9()
        for s in senders:
            s.stop.set()
            s.join(15)
            acked += s.acked
        r.start()
    deadline = time.monotonic() + 30
    while True:
        have = tokens_in(r, "bob")
        lost = [t for t in acked if t not in have]
        if not lost or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(acked) > 20, "too few messages sent to prove anything: %d" % len(acked)
    assert not lost, "%d of %d acknowledged messages lost, e.g. %r; queue %r\nlog:\n%s" % (
        len(lost), len(acked), lost[:5], r.queue_entries(), r.log())
    r.wait_queue_empty(timeout=20)
    # Finished entries wait in done/ only until the runner is idle; the
    # kills leave some there, which a later runner clears too.
    done = os.path.join(r.queue_dir, "done")
    deadline = time.monotonic() + 10
    while os.listdir(done) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.listdir(done) == [], "done/ not reaped: %d left" % len(os.listdir(done))
    dups = {t: n for t, n in have.items() if n > 1}
    # What a kill may deliver twice: the runner's batch in flight (up to
    # RUNNER_BATCH local deliveries share one syncfs and are retired after
    # it: a kill between the two delivers them again) and the sessions'
    # messages being acknowledged. A message comes from the round in its
    # token, and is in flight at that round's kill or the next.
    per_round = {}
    for t, n in dups.items():
        assert n == 2, (t, n)
        rnd = t.split("-")[0]
        per_round[rnd] = per_round.get(rnd, 0) + 1
    for rnd, n in per_round.items():
        assert n <= 2 * (RUNNER_BATCH + 3), (rnd, n, dups)
    print("kill -9 x%d: %d acknowledged, none lost, %d delivered twice"
          % (ROUNDS, len(acked), len(dups)))


def fill(path):
    """Fills the file system of PATH to the last byte; returns the filler."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (BLOCK, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def send(port, tok, size=2000):
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as s:
        s.sendmail("alice@box.test", ["bob@box.test"],
                   ("Subject: durable %s\r\n\r\n%s\r\n" % (tok, "y" * size)).encode())


def test_full_disk(relay):
    """The queue and the Maildirs on one full file system: refused, then
    taken once there is room again."""
    r = relay(start=False)
    os.makedirs(r.state_dir)
    r.mail_dir = os.path.join(r.state_dir, "mail")
    r.write_conf()
    with fixtures.tmpfs(r.state_dir, "2m"):
        try:
            r.start()
            send(r.port, "before-full")
            r.wait_mail("bob", 1)
            r.wait_queue_empty()
            filler = fill(r.state_dir)
            refused = None
            try:
                send(r.port, "while-full", size=200000)
            except smtplib.SMTPResponseException as e:
                refused = (e.smtp_code, e.smtp_error, type(e).__name__)
            assert refused is not None, "a message was accepted on a full disk"
            assert refused[0] in (451, 452) and refused[2] == "SMTPDataError", refused
            assert r.alive(), r.log()
            os.unlink(filler)
            send(r.port, "after-full")
            got = tokens_in(r, "bob")
            deadline = time.monotonic() + 15
            while "after-full" not in got and time.monotonic() < deadline:
                time.sleep(0.1)
                got = tokens_in(r, "bob")
            assert got.get("before-full") == 1 and got.get("after-full") == 1, (got, r.log())
            assert "while-full" not in got
            r.wait_queue_empty()
            assert r.alive()
        finally:
            r.stop()


def data_reply(port, tok, size):
    """Sends one message to bob; the reply to its data."""
    with smtplib.SMTP("127.0.0.1", port, timeout=15) as s:
        s.ehlo()
        s.mail("alice@box.test")
        s.rcpt("bob@box.test")
        return s.data(("Subject: durable %s\r\n\r\n%s\r\n" % (tok, "z" * size)).encode())


def test_full_mail_disk_queues(relay):
    """Only the Maildirs' file system full: the session cannot deliver the
    message at once, so it is queued (250 queued as), nothing of it stays
    in tmp/, and the runner delivers it once there is room."""
    r = relay(start=False)
    os.makedirs(r.mail_dir)
    with fixtures.tmpfs(r.mail_dir, "2m"):
        try:
            r.start()
            code, text = data_reply(r.port, "before", 10)
            assert code == 250 and b"delivered as" in text, (code, text, r.log())
            assert tokens_in(r, "bob") == {"before": 1}
            filler = fill(r.mail_dir)
            code, text = data_reply(r.port, "while-full", 100000)
            assert code == 250 and b"queued as" in text, (code, text, r.log())
            tmp = os.path.join(r.maildir_path("bob"), "tmp")
            assert os.listdir(tmp) == [], os.listdir(tmp)
            assert tokens_in(r, "bob") == {"before": 1}
            os.unlink(filler)
            deadline = time.monotonic() + 20
            while tokens_in(r, "bob").get("while-full") != 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert tokens_in(r, "bob") == {"before": 1, "while-full": 1}, r.log()
            r.wait_queue_empty()
            assert os.listdir(tmp) == []
        finally:
            r.stop()


def temp_files(r):
    """The temporary files in the queue directory (lib/atomic.c names)."""
    return sorted(n for n in os.listdir(r.queue_dir) if re.fullmatch(r"\..+\.tmp\.\d+\.[0-9a-f]{8}", n))


def test_kill9_mid_data_leftovers_cleared_at_start(relay, hm_tmp):
    """A session killed in the middle of DATA leaves its unfinished queue
    file (no 250 was given, so nothing is lost), which no listing shows.
    The relay's next start removes it, and a link by such a name too (not
    what it points to); the queue's entries and other names stay."""
    r = relay()
    # An entry that waits: a remote recipient and no smart host.
    with smtplib.SMTP("127.0.0.1", r.port, timeout=15) as s:
        s.sendmail("printer@lan.example", ["friend@remote.example"], b"Subject: waits\r\n\r\nx\r\n")
    deadline = time.monotonic() + 10
    while not r.queue_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    ids = r.queue_ids()
    assert len(ids) == 1, (ids, r.log())
    c = RawSMTP("127.0.0.1", r.port)
    try:
        c.ehlo()
        assert c.cmd("MAIL FROM:<printer@lan.example>")[0] == 250
        assert c.cmd("RCPT TO:<friend@remote.example>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: cut short\r\n\r\n" + b"y" * 100000 + b"\r\n")
        deadline = time.monotonic() + 10
        while not temp_files(r) and time.monotonic() < deadline:
            time.sleep(0.05)
        r.kill9()
    finally:
        c.sock.close()
    left = temp_files(r)
    assert left, os.listdir(r.queue_dir)
    target = os.path.join(hm_tmp, "target")
    with open(target, "w") as f:
        f.write("keep\n")
    os.symlink(target, os.path.join(r.queue_dir, ".%s.s.tmp.4242.0badf00d" % ids[0]))
    other = os.path.join(r.queue_dir, ".not-ours")
    with open(other, "w") as f:
        f.write("x")
    q = r.homemail(["queue", "list"])
    assert q.rc == 0 and ids[0] in q.out and "1 Request." in q.out, q
    r.start()
    deadline = time.monotonic() + 10
    while temp_files(r) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert temp_files(r) == [], (os.listdir(r.queue_dir), r.log())
    assert "left by a crash removed" in r.log()
    with open(target) as f:
        assert f.read() == "keep\n"
    assert os.path.exists(other)
    assert r.queue_ids() == ids
    q = r.homemail(["queue", "show", ids[0]])
    assert q.rc == 0 and "friend@remote.example" in q.out, q


SEND_AS = {"alice": {"send_as": "alice@isp.example"}, "bob": {}}


def wait_for(pred, timeout, what, r):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "%s; log:\n%s" % (what, r.log())
        time.sleep(0.05)


def test_kill9_mid_batch_sends_nothing_twice(relay):
    """A backlog of 40 goes to the smart host as one batch over two
    sessions; it holds back its answer to the 30th message's final "."
    and the relay is killed (-9) while it waits. What the smart host took
    before the kill (the 38 others) is recorded as each answer came, so
    the restarted relay sends only the unanswered one again."""
    sink = SmtpSink(stall_at=30, port=fixtures.free_port())
    r = relay(users=SEND_AS, smarthosts=[sink.conf()])
    try:
        ids = backlog(r, sink, 40)
        wait_for(sink.stalled.is_set, 20, "the smart host saw no 30th message", r)
        wait_for(lambda: len(sink.accepted()) >= 39, 20, "the other session stopped", r)
        time.sleep(1.0)  # the relay reads the last answers
        r.kill9()
        sink.stall_at = None
        sink.release()
        r.start()
        r.wait_queue_empty(timeout=30)
        got = message_ids(sink.accepted())
        assert sorted(got) == sorted(ids), (got, r.log())
        twice = {k: n for k, n in got.items() if n > 1}
        assert not twice, "sent again after the kill: %d %r" % (len(twice), sorted(twice))
    finally:
        r.stop()
        sink.stop()


def state_lines(r, qid):
    """The recipients' lines of ID.s ("INDEX STATE ATTEMPTS ..."), or []."""
    try:
        with open(os.path.join(r.queue_dir, qid + ".s")) as f:
            return f.read().splitlines()[1:]
    except FileNotFoundError:
        return []


def test_full_disk_repeats_no_delivery(relay):
    """The state directory fills up after a message to ok@ and temp@ was
    queued: the smart host takes ok@ and defers temp@, and the state
    cannot be saved. The runner keeps what it knows, so the retries of
    temp@ (every 2-4 s) do not send ok@ again; once there is room the
    state is saved, ok@ delivered and temp@ pending."""
    def reply(addr):
        return b"450 4.2.0 try later" if addr.startswith("temp@") else b"250 2.1.5 Ok"

    sink = SmtpSink(rcpt_reply=reply, port=fixtures.free_port())
    r = relay(start=False, users=SEND_AS, smarthosts=[sink.conf()])
    os.makedirs(r.state_dir)
    with fixtures.tmpfs(r.state_dir, "2m"):
        try:
            r.start()
            with smtplib.SMTP("127.0.0.1", r.port, timeout=15) as s:
                s.sendmail("alice@box.test", ["ok@remote.example", "temp@remote.example"],
                           b"From: alice@box.test\r\nSubject: full\r\nMessage-ID: <full@lan>\r\n"
                           b"\r\n" + b"y" * 50000 + b"\r\n")
            wait_for(lambda: len(r.queue_ids()) == 1 and state_lines(r, r.queue_ids()[0]), 10,
                     "no state saved for the first attempt", r)
            (qid,) = r.queue_ids()
            filler = fill(r.state_dir)
            sink.start()
            assert r.homemail(["queue", "flush"]).rc == 0
            wait_for(lambda: "state not saved" in r.log(), 10, "the state was saved", r)
            time.sleep(8)  # two retries of temp@ at least
            got = [m.rcpt_to for m in sink.accepted()]
            assert got == [["ok@remote.example"]], (got, r.log())
            os.unlink(filler)
            wait_for(lambda: state_lines(r, qid)[0].split()[1] == "delivered", 10,
                     "the state is not saved once there is room", r)
            assert state_lines(r, qid)[1].split()[1] == "pending"
            got = [m.rcpt_to for m in sink.accepted()]
            assert got == [["ok@remote.example"]], (got, r.log())
            assert r.alive()
        finally:
            r.stop()
            sink.stop()
