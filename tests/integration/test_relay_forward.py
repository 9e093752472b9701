"""homemail-relay forwarding through a real Postfix smart host (STARTTLS or
implicit TLS, SASL AUTH required, as at an ISP), sender rewriting, bounces,
retries, the certificate pin, SMTP smuggling; and the fetcher injecting
into the relay (a real Dovecot upstream)."""
import re
import smtplib
import time
import uuid

import pytest

import fixtures
from fixtures import corpus as corpusmod
from fixtures.relay import smarthost_conf
from fixtures.smtpraw import RawSMTP
from fixtures.stallhost import SmtpSink

USERS = {"alice": {"send_as": "alice@isp.example"}, "bob": {}}


@pytest.fixture(scope="module")
def sh(postfix_smarthost):
    return postfix_smarthost(users={"alice@isp.example": "pw"})


@pytest.fixture
def smarthost(sh):
    """The module's smart host, emptied and with no failing recipients."""
    sh.set_fail_rcpt({})
    sh.clear()
    yield sh
    sh.set_fail_rcpt({})


def token():
    return uuid.uuid4().hex[:16]


def lan_send(r, rcpts, tok, sender="alice@box.test", from_hdr="Alice Example <alice@box.test>",
             helo="pc1.lan"):
    """A trusted LAN client (127.0.0.1, no AUTH) sends one message."""
    data = ("From: %s\r\nTo: %s\r\nSubject: out %s\r\nMessage-ID: <%s@pc1.lan>\r\n\r\n"
            "hello from the LAN\r\n" % (from_hdr, ", ".join(rcpts), tok, tok))
    with smtplib.SMTP("127.0.0.1", r.port, local_hostname=helo, timeout=15) as s:
        return s.sendmail(sender, rcpts, data.encode())


def wait_queue_reason(r, words, timeout=10.0):
    """`homemail queue` output once it contains WORDS (a regex)."""
    deadline = time.monotonic() + timeout
    while True:
        q = r.homemail(["queue"])
        if q.rc == 0 and re.search(words, q.out):
            return q.out
        if time.monotonic() > deadline:
            pytest.fail("`homemail queue` never said %r:\n%s\nlog:\n%s" % (words, q, r.log()),
                        pytrace=False)
        time.sleep(0.2)


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_rewritten_through_smarthost(relay, smarthost, tls):
    r = relay(users=USERS, smarthosts=[smarthost_conf(smarthost, tls=tls)])
    tok = token()
    assert lan_send(r, ["bob@remote.example"], tok) == {}
    msgs = smarthost.wait_messages(1)
    assert len(msgs) == 1
    m = msgs[0]
    assert m.mail_from == "alice@isp.example"
    assert m.rcpt_to == ["bob@remote.example"]
    assert tok.encode() in m.raw
    # Postfix's own Received: says TLS and AUTH were used ("ESMTPSA").
    first = m.raw.split(b"\n", 3)
    assert re.search(rb"with ESMTPSA", b"\n".join(first[:3])), m.raw[:600]
    content = m.content
    assert re.search(rb"^From: Alice Example <alice@isp\.example>\r$", content, re.M), content[:800]
    # The LAN stays private (relay.full_trace is off): no client address or
    # name in what leaves.
    head = content.split(b"\r\n\r\n", 1)[0]
    assert b"127.0.0.1" not in head and b"pc1.lan" not in head.replace(
        b"<%s@pc1.lan>" % tok.encode(), b""), head
    r.wait_queue_empty()


def smarthost_sessions(sh):
    """The smtpd sessions the smart host logged: one "disconnect from" line
    each, with Postfix's command counts ("mail=2 ... quit=1")."""
    with open(sh.log, "rb") as f:
        return [line for line in f.read().decode(errors="replace").splitlines()
                if "]: disconnect from " in line]


def test_one_session_for_a_burst_then_quit(relay, smarthost):
    """Messages handed in one after the other, each delivered before the
    next arrives, go over one smart-host session (no TLS handshake and AUTH
    each): the runner keeps it for 2 s idle (RELAY_SMARTHOST_IDLE_S), then
    ends it with QUIT on its own, while the relay keeps running."""
    r = relay(users=USERS, smarthosts=[smarthost_conf(smarthost)])
    before = len(smarthost_sessions(smarthost))
    # The session is kept while each pause between two deliveries stays
    # under 2 s: that, not the burst's total, is what a slow machine must
    # not exceed for the test to mean something.
    delivered = None
    for i in range(3):
        assert lan_send(r, ["bob@remote.example"], token()) == {}
        if delivered is not None:
            gap = time.monotonic() - delivered
            assert gap < 2.0, "too slow to test a kept session (%.1f s between two)" % gap
        r.wait_queue_empty()
        delivered = time.monotonic()
    sent = delivered
    assert len(smarthost.wait_messages(3)) == 3
    deadline = time.monotonic() + 10
    while len(smarthost_sessions(smarthost)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    ended = time.monotonic()
    sessions = smarthost_sessions(smarthost)[before:]
    assert len(sessions) == 1, sessions
    assert " mail=3 " in sessions[0] and " quit=1 " in sessions[0], sessions
    assert ended - sent > 1.0, "the session ended %.1f s after the last message" % (ended - sent)
    assert r.proc.poll() is None


def test_a_backlog_goes_over_two_sessions(relay, smarthost):
    """Twenty messages due at once (dropped by homemail-sendmail while the
    relay was down) go out over two smart-host sessions side by side
    (RELAY_SMARTHOST_SESSIONS), each logged in once and carrying a share;
    every message arrives once, and both sessions end with QUIT."""
    r = relay(users=USERS, smarthosts=[smarthost_conf(smarthost)])
    r.stop()
    toks = [token() for _ in range(20)]
    for tok in toks:
        res = r.sendmail(["-f", "alice@box.test", "bob@remote.example"],
                         ("Subject: backlog %s\n\nqueued while the relay was down\n" % tok)
                         .encode())
        assert res.rc == 0, res
    before = len(smarthost_sessions(smarthost))
    r.start()
    msgs = smarthost.wait_messages(len(toks))
    got = sorted(t for t in toks for m in msgs if t.encode() in m.raw)
    assert got == sorted(toks) and len(msgs) == len(toks)
    r.wait_queue_empty()
    deadline = time.monotonic() + 10
    while len(smarthost_sessions(smarthost)) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    sessions = smarthost_sessions(smarthost)[before:]
    assert len(sessions) == 2, sessions
    mails = [int(re.search(r" mail=(\d+)", line).group(1)) for line in sessions]
    assert sum(mails) == len(toks) and min(mails) > 0, sessions
    for line in sessions:
        assert " auth=1 " in line and " quit=1 " in line, line


def test_sendmail_root_goes_out_as_send_as(relay, smarthost):
    """Mail from root (the default sender of root's cron, and -f root,
    both qualified as root@box.test) goes out as the send_as of root's
    alias owner (root = alice), in the envelope and the From: that
    homemail-sendmail added."""
    r = relay(users=USERS, smarthosts=[smarthost_conf(smarthost)])
    toks = [token(), token()]
    for tok, args in zip(toks, ([], ["-f", "root"])):
        res = r.sendmail(args + ["bob@remote.example"],
                         ("Subject: cron %s\n\nfrom root\n" % tok).encode())
        assert res.rc == 0, res
    msgs = smarthost.wait_messages(2)
    for tok in toks:
        (m,) = [m for m in msgs if tok.encode() in m.raw]
        assert m.mail_from == "alice@isp.example", (tok, m.mail_from)
        assert m.rcpt_to == ["bob@remote.example"]
        assert re.search(rb"^From: <alice@isp\.example>\r$", m.content, re.M), m.content[:800]
    r.wait_queue_empty()


def test_permanent_failure_bounces(relay, smarthost):
    smarthost.set_fail_rcpt({"carol@remote.example": "550 5.1.1 carol is unknown at isp.example"})
    r = relay(users=USERS, smarthosts=[smarthost_conf(smarthost)])
    tok = token()
    lan_send(r, ["carol@remote.example"], tok)
    got = r.wait_mail("alice", 1)
    assert len(got) == 1
    dsn = list(got.values())[0]
    assert b"multipart/report" in dsn and b"report-type=delivery-status" in dsn, dsn[:1000]
    assert b"carol is unknown at isp.example" in dsn, dsn
    assert re.search(rb"^Return-Path: <>", dsn, re.M), dsn[:400]
    assert tok.encode() in dsn
    r.wait_queue_empty()
    assert smarthost.messages() == []


SMALL = 20000


@pytest.fixture(scope="module")
def small_sh(postfix_smarthost):
    """An ISP whose smart host takes at most SMALL octets (SIZE)."""
    return postfix_smarthost(users={"alice@isp.example": "pw"}, size_limit=SMALL)


@pytest.mark.parametrize("limit", ["smart-host-size", "max_message_size"])
def test_full_bounce_too_big_returns_the_headers(relay, smarthost, small_sh, limit):
    """RET=FULL of a message near the size limit would make a bounce over
    it, which the smart host (its SIZE) or this relay
    (relay.max_message_size) would refuse, so the sender would never hear:
    the bounce returns the header section only (RFC 3461 4.3), says why,
    and reaches the remote sender through the smart host."""
    if limit == "smart-host-size":
        sh = small_sh
        sh.clear()
        r = relay(users=USERS, smarthosts=[smarthost_conf(sh)])
    else:
        sh = smarthost
        r = relay(users=USERS, smarthosts=[smarthost_conf(sh)],
                  relay_extra="  max_message_size = %d;\n" % SMALL)
    sh.set_fail_rcpt({"gone@remote.example": "550 5.1.1 gone is unknown here"})
    try:
        tok = token()
        body = ("filler line of a large message %s\r\n" % ("x" * 40)) * (18500 // 74)
        data = ("From: <someone@remote.example>\r\nTo: gone@remote.example\r\n"
                "Subject: big %s\r\n\r\n%s" % (tok, body)).encode()
        assert SMALL - 2000 < len(data) < SMALL - 1000
        with smtplib.SMTP("127.0.0.1", r.port, local_hostname="pc1.lan", timeout=15) as s:
            s.sendmail("someone@remote.example", ["gone@remote.example"], data,
                       mail_options=["RET=FULL"], rcpt_options=["NOTIFY=FAILURE"])
        (dsn,) = sh.wait_messages(1, timeout=20)
        r.wait_queue_empty()
        assert (dsn.mail_from, dsn.rcpt_to) == ("", ["someone@remote.example"])
        text = b" ".join(dsn.content.split())
        assert b"Only the header section of your message is attached below" in text, text[:3000]
        assert b"exceed the %d octets" % SMALL in text, text[:3000]
        assert b"Content-Type: text/rfc822-headers" in dsn.content
        assert b"gone is unknown here" in dsn.content and tok.encode() in dsn.content
        assert b"filler line" not in dsn.content
        assert len(dsn.content) < SMALL
        assert r.maildir("alice") == {}  # postmaster was not told instead
    finally:
        sh.set_fail_rcpt({})


def unfolded(msg):
    """MSG (bytes) as text with folded lines joined."""
    return re.sub(r"\r?\n[ \t]+", " ", msg.decode(errors="replace"))


def test_notices_name_who_refused(relay, small_sh):
    """A bounce's Status: is the status of the failure, also when the words
    are ours ("5.1.1 ..." from local delivery); and a refusal of this relay
    (over the smart host's SIZE) is the relay's: Diagnostic-Code type
    X-homemail, no Remote-MTA, and the text says this relay refused,
    not that the smart host answered."""
    small_sh.clear()
    r = relay(users=USERS, smarthosts=[smarthost_conf(small_sh)])
    res = r.sendmail(["-f", "alice@box.test", "nosuch@box.test"], b"Subject: unknown\n\nx\n")
    assert res.rc == 0, res
    (dsn,) = r.wait_mail("alice", 1).values()
    text = unfolded(dsn)
    assert "Final-Recipient: rfc822; nosuch@box.test" in text, text
    assert re.search(r"(?m)^Status: 5\.1\.1\r?$", text), text
    assert re.search(r"(?m)^Diagnostic-Code: X-homemail; nosuch@box\.test: no such user", text), text
    tok = token()
    with smtplib.SMTP("127.0.0.1", r.port, local_hostname="pc1.lan", timeout=15) as s:
        s.sendmail("alice@box.test", ["bob@remote.example"],
                   ("From: alice@box.test\r\nSubject: %s\r\n\r\n" % tok).encode() +
                   (b"y" * 70 + b"\r\n") * (SMALL // 72 + 10))
    got = r.wait_mail("alice", 2)
    (dsn,) = [m for m in got.values() if tok.encode() in m]
    text = unfolded(dsn)
    assert re.search(r"(?m)^Status: 5\.3\.4\r?$", text), text
    assert re.search(r"(?m)^Diagnostic-Code: X-homemail; this relay refused to send the "
                     r"message: its size of \d+ octets exceeds the limit of %d octets that "
                     r"the smart host isp announces" % SMALL, text), text
    assert "Remote-MTA" not in text and "answered" not in text, text
    assert "<bob@remote.example>: this relay refused to send the message" in text, text
    assert small_sh.messages() == []
    r.wait_queue_empty()


def test_temporary_failure_retried(relay, smarthost):
    smarthost.set_fail_rcpt({"dave@remote.example": "450 4.2.0 dave is busy right now"})
    r = relay(users=USERS, smarthosts=[smarthost_conf(smarthost)])
    tok = token()
    lan_send(r, ["dave@remote.example"], tok)
    out = wait_queue_reason(r, r"dave is busy right now")
    assert "dave@remote.example" in out
    assert len(r.queue_ids()) == 1
    assert smarthost.messages() == []
    assert r.maildir("alice") == {}  # no bounce for a 4xx
    smarthost.set_fail_rcpt({})
    msgs = smarthost.wait_messages(1, timeout=20)
    assert [m.rcpt_to for m in msgs] == [["dave@remote.example"]]
    r.wait_queue_empty()
    time.sleep(1.0)
    assert len(smarthost.messages()) == 1


def test_no_smarthost_stays_queued(relay):
    r = relay(users=USERS)
    tok = token()
    lan_send(r, ["bob@remote.example"], tok)
    out = wait_queue_reason(r, r"no smart host")
    assert "bob@remote.example" in out
    assert len(r.queue_ids()) == 1


def test_wrong_pin_not_sent(relay, smarthost):
    conf = smarthost_conf(smarthost, fingerprint="sha256:" + "00" * 32, ca_file=None)
    r = relay(users=USERS, smarthosts=[conf])
    tok = token()
    lan_send(r, ["bob@remote.example"], tok)
    out = wait_queue_reason(r, r"(?i)fingerprint|pin")
    flat = re.sub(r"[^0-9a-f]", "", out.lower())
    assert smarthost.fingerprint in flat, "the reason does not name the real pin:\n" + out
    time.sleep(1.0)
    assert smarthost.messages() == []
    assert len(r.queue_ids()) == 1


def header_of(m, name):
    """The values of header field NAME in the message the smart host got."""
    head = m.content.split(b"\r\n\r\n", 1)[0].decode()
    return re.findall(r"(?mi)^%s: ([^\r\n]*)" % re.escape(name), head)


def test_headers_rewritten_only_for_the_envelope_senders_user(relay, smarthost):
    """relay.rewrite_header_from turns the sender's own box addresses into
    her send_as, and nothing else: a stranger writing to an alias that
    forwards off the box, or a logged-in bob, who put alice's box address
    in From:/Reply-To:, must not get it turned into alice's real address
    (a forgery the world would trust); it goes out as written, naming
    only the private box."""
    users = {"alice": {"send_as": "alice@isp.example"}, "bob": {"send_as": "bob@isp.example"}}
    r = relay(users=users, smarthosts=[smarthost_conf(smarthost)],
              aliases={"postmaster": "alice", "root": "alice", "fwd": "bob@gmail.example"})
    forged = ("From: Alice <alice@box.test>\r\nReply-To: alice@box.test\r\n"
              "Sender: root@box.test\r\nTo: %s\r\nSubject: %s\r\n\r\nwire money\r\n")
    toks = [token() for _ in range(3)]
    # A: a stranger from the internet, to the forwarding alias.
    with RawSMTP("127.0.0.1", r.port, source="127.0.0.2") as c:
        c.ehlo("evil.example")
        assert c.cmd("MAIL FROM:<spam@evil.example>")[0] == 250
        assert c.cmd("RCPT TO:<fwd@box.test>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send((forged % ("fwd@box.test", toks[0]) + ".\r\n").encode())
        assert c.reply()[0] == 250
    # B: bob, logged in, sends as himself with alice in the header.
    with smtplib.SMTP("127.0.0.1", r.port, local_hostname="bobs-pc.lan", timeout=15) as s:
        s.login("bob", r.password)
        s.sendmail("bob@box.test", ["victim@remote.example"],
                   (forged % ("victim@remote.example", toks[1])).encode())
    # alice herself: her From:, Sender: (root is her alias) and Reply-To go
    # out as her send_as.
    assert lan_send(r, ["carol@remote.example"], toks[2],
                    from_hdr="Alice <alice@box.test>\r\nReply-To: alice@box.test\r\n"
                             "Sender: root@box.test") == {}
    msgs = smarthost.wait_messages(3)
    r.wait_queue_empty()
    (a,) = [m for m in msgs if toks[0].encode() in m.raw]
    (b,) = [m for m in msgs if toks[1].encode() in m.raw]
    (ok,) = [m for m in msgs if toks[2].encode() in m.raw]
    assert (a.mail_from, a.rcpt_to) == ("spam@evil.example", ["bob@gmail.example"])
    assert (b.mail_from, b.rcpt_to) == ("bob@isp.example", ["victim@remote.example"])
    for m in (a, b):
        assert header_of(m, "From") == ["Alice <alice@box.test>"], m.content[:600]
        assert header_of(m, "Reply-To") == ["alice@box.test"], m.content[:600]
        assert header_of(m, "Sender") == ["root@box.test"], m.content[:600]
        assert b"alice@isp.example" not in m.content
    assert ok.mail_from == "alice@isp.example"
    assert header_of(ok, "From") == ["Alice <alice@isp.example>"], ok.content[:600]
    assert header_of(ok, "Reply-To") == ["alice@isp.example"], ok.content[:600]
    assert header_of(ok, "Sender") == ["alice@isp.example"], ok.content[:600]


SMUGGLE = [
    b"line one\n.\nMAIL FROM:<alice@box.test>\r\n",
    b"line one\r\n.\nMAIL FROM:<alice@box.test>\r\n",
    b"line one\n.\r\nMAIL FROM:<alice@box.test>\r\n",
]


@pytest.mark.parametrize("trick", SMUGGLE, ids=["lf.lf", "crlf.lf", "lf.crlf"])
def test_smuggling_arrives_as_one_message(relay, smarthost, trick):
    r = relay(users=USERS, smarthosts=[smarthost_conf(smarthost)])
    tok = token().encode()
    data = (b"From: alice@box.test\r\nTo: bob@remote.example\r\nSubject: smuggle " + tok +
            b"\r\n\r\n" + trick +
            b"RCPT TO:<victim@remote.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n"
            b"\r\n.\r\n")
    with RawSMTP("127.0.0.1", r.port) as c:
        c.ehlo("pc1.lan")
        assert c.cmd("MAIL FROM:<alice@box.test>")[0] == 250
        assert c.cmd("RCPT TO:<bob@remote.example>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(data)
        code, text = c.reply()
        assert code == 250, text
    msgs = smarthost.wait_messages(1)
    r.wait_queue_empty()
    time.sleep(1.5)
    msgs = smarthost.messages()
    assert len(msgs) == 1, [(m.mail_from, m.rcpt_to) for m in msgs]
    m = msgs[0]
    assert m.rcpt_to == ["bob@remote.example"]
    assert b"\n.\nMAIL FROM:<alice@box.test>\nRCPT TO:<victim@remote.example>" in m.raw, m.raw
    assert b"\r\n.\r\nMAIL FROM:" in m.content


# -- the fetcher injects into the relay ----------------------------------------

def test_fetcher_into_relay(relay, dovecot):
    corpus = corpusmod.generate(count=12, seed=5, n_big=0)
    dovecot.load(corpus)
    r = relay(start=False, users=USERS)
    r.extra = ("fetcher = { accounts = ( { name = \"isp\"; protocol = \"imap\"; "
               "host = \"127.0.0.1\"; port = %d; tls = \"tls\"; ca_file = \"%s\"; "
               "user = \"%s\"; password = \"%s\"; keep = false; to = \"alice\"; } ); };\n"
               % (dovecot.imaps_port, dovecot.cafile, dovecot.user, dovecot.password))
    r.write_conf()
    r.start()
    res = fixtures.run([fixtures.program("fetcher/homemail-fetcher"), "-c", r.conf, "--once",
                        "-v"], timeout=120)
    assert res.rc == 0, "%r\nrelay log:\n%s" % (res, r.log())
    got = r.wait_mail("alice", len(corpus.messages), timeout=30)
    assert len(got) == len(corpus.messages)
    want = {corpusmod.msgid_of(m.data) for m in corpus.messages}
    have = {corpusmod.msgid_of(m) for m in got.values()}
    assert want == have
    # Through the relay: its Received: field is on every message.
    for m in got.values():
        assert re.search(rb"\bby box\.test \(homemail\) with E?SMTP", m), m[:800]
    assert dovecot.read_maildir() == {}
    r.wait_queue_empty()


def test_fetcher_sends_the_next_group_while_the_relay_commits(relay, dovecot):
    """More than two groups of 64 back to back (BDAT), one message among
    them over the relay's size limit. The fetcher reads a group's replies
    only once the group after it is on its way, so the relay's flush does
    not stall the retrieval; every reply still lands on its own message:
    the refused one stays upstream, every other arrives once (delivered
    by the relay's session at once, no queue file), and the next run
    fetches nothing again."""
    corpus = corpusmod.generate(count=64 * 3 + 10, seed=9, n_big=1)
    big = [m for m in corpus.messages if len(m.data) > 200000]
    assert len(big) == 1
    dovecot.load(corpus)
    r = relay(start=False, users=USERS, relay_extra="  max_message_size = 200000;\n")
    r.extra = ("fetcher = { accounts = ( { name = \"isp\"; protocol = \"pop3\"; "
               "host = \"127.0.0.1\"; port = %d; tls = \"tls\"; ca_file = \"%s\"; "
               "user = \"%s\"; password = \"%s\"; keep = false; to = \"alice\"; } ); };\n"
               % (dovecot.pop3s_port, dovecot.cafile, dovecot.user, dovecot.password))
    r.write_conf()
    r.start()
    fetch = [fixtures.program("fetcher/homemail-fetcher"), "-c", r.conf, "--once"]
    res = fixtures.run(fetch + ["-v"], timeout=120)
    assert res.rc == 1, res
    assert "refused by the local side" in res.err and "552" in res.err, res.err
    # The 65th message went out before the first group's replies were read.
    trace = [l for l in res.err.splitlines() if ": inject " in l or "inject smtp" in l]
    mails = [i for i, l in enumerate(trace) if " C: MAIL FROM:" in l]
    queued = [i for i, l in enumerate(trace) if " S: 250 2.0.0" in l]
    assert len(mails) == len(corpus.messages) and queued, trace[:20]
    assert mails[64] < queued[0], (mails[64], queued[0])
    # Mail for a local user only is delivered by the relay's session
    # (relay/inline.h): in the Maildir before its 250, never queued.
    delivered = [l for l in trace if " S: 250 2.0.0 Ok: delivered as " in l]
    assert len(delivered) == len(corpus.messages) - 1, trace[:20]
    assert len(r.maildir("alice")) == len(corpus.messages) - 1
    assert "queued id=" not in r.log() and r.queue_ids() == [], r.log()
    got = r.wait_mail("alice", len(corpus.messages) - 1, timeout=30)
    have = sorted(corpusmod.msgid_of(m) for m in got.values())
    want = sorted(corpusmod.msgid_of(m.data) for m in corpus.messages if m is not big[0])
    assert have == want
    left = dovecot.read_maildir()
    assert [corpusmod.msgid_of(d) for d in left.values()] == [corpusmod.msgid_of(big[0].data)]
    res = fixtures.run(fetch, timeout=60)
    assert res.rc == 0, res
    time.sleep(0.5)
    assert len(r.maildir("alice")) == len(corpus.messages) - 1


def test_local_recipient_not_held_by_a_hung_smart_host(relay):
    """A message for bob (local) and a remote recipient, while the smart
    host never answers a final ".": bob has it at once, since a queue run
    delivers its local recipients before it sends to the smart host; the
    remote one waits for the smart host, queued."""
    sink = SmtpSink(port=fixtures.free_port()).start()
    sink.stall_all = True
    r = relay(users=USERS, smarthosts=[sink.conf()])
    try:
        tok = token()
        lan_send(r, ["bob@box.test", "x@remote.example"], tok)
        assert sink.stalled.wait(10), r.log()
        got = r.wait_mail("bob", 1, timeout=5)
        assert tok.encode() in list(got.values())[0]
        assert len(r.queue_ids()) == 1
    finally:
        sink.stop()
        r.stop()
