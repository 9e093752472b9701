"""Transcript tests of homemail-fetcher's POP3 client against the scripted
peer: the exact commands sent, and the refusal of hostile or broken servers
(the bug classes of fetchmail's advisories). Every hostile case must end with
exit status 1, one clear error line naming the account, no DELE sent and
nothing delivered.

The program under test is the real one: build/fetcher/homemail-fetcher
--once -c CONF, delivering locally (deliver = "local") to user alice.
"""
import os
import shutil
import tempfile

import pytest

import fixtures
from fixtures.scriptpeer import (accept_next, cut, expect, long_line, reply_to, send, send_lines,
                                 send_raw, starttls)

GREETING = send(b"+OK POP3 ready <1.2@upstream>")
CAPA_PLAIN = reply_to(b"CAPA", [b"+OK", b"USER", b"UIDL", b"TOP", b"."])
CAPA_PIPE = reply_to(b"CAPA", [b"+OK", b"USER", b"UIDL", b"PIPELINING", b"."])
CAPA_STLS = reply_to(b"CAPA", [b"+OK", b"USER", b"UIDL", b"STLS", b"."])
CAPA_NO_STLS = reply_to(b"CAPA", [b"+OK", b"USER", b"UIDL", b"SASL PLAIN", b"."])
LOGIN = [reply_to(b"USER u", [b"+OK"]), reply_to(b"PASS p", [b"+OK logged in"])]
LOGIN_CMDS = [b"CAPA", b"USER u", b"PASS p"]

MSG1 = [b"From: a@upstream.test", b"Subject: one", b"", b"first", b"..dot line"]
MSG2 = [b"From: b@upstream.test", b"Subject: two", b"", b"second"]


class Box:
    """A config, state_dir and mail_dir of its own for each test."""

    def __init__(self, base):
        self.dir = tempfile.mkdtemp(prefix="fetch-pop3-", dir=base)
        self.mail = os.path.join(self.dir, "mail")
        self.conf = os.path.join(self.dir, "homemail.conf")
        self.exe = fixtures.program("fetcher/homemail-fetcher")

    def write(self, port, tls="none", extra=""):
        with open(self.conf, "w") as f:
            f.write('hostname = "box.test";\n'
                    'state_dir = "%s/state";\n'
                    'mail_dir = "%s";\n'
                    'local_domains = [ "box.test" ];\n'
                    'users = ( { name = "alice"; } );\n'
                    'fetcher = {\n'
                    '  deliver = "local";\n'
                    '  accounts = ( { name = "isp"; protocol = "pop3"; host = "127.0.0.1";\n'
                    '                 port = %d; tls = "%s"; %s\n'
                    '                 user = "u"; password = "p"; keep = false; to = "alice"; } );\n'
                    '};\n' % (self.dir, self.mail, port, tls, extra))

    def run(self, peer, tls="none", extra="", timeout=60, args=()):
        self.write(peer.port, tls, extra)
        return fixtures.run([self.exe, "--once", "-c", self.conf, *args], timeout=timeout)

    def delivered(self):
        return fixtures.maildir_files(os.path.join(self.mail, "alice"))


@pytest.fixture
def box(hm_tmp):
    b = Box(hm_tmp)
    yield b
    shutil.rmtree(b.dir, ignore_errors=True)


def assert_failed(box, r, peer, needle):
    """Exit 1, one error line "...isp: <reason>" containing needle, no DELE
    sent, nothing delivered, and the peer saw no deviation from its script."""
    assert r.rc == 1, r
    lines = [ln for ln in r.err.splitlines() if "isp: " in ln and needle in ln]
    assert len(lines) == 1, (needle, r)
    assert peer.wait() == [], peer.transcript()
    assert not any(c.startswith(b"DELE") for c in peer.received), peer.transcript()
    assert box.delivered() == [], box.delivered()


def listing(count, uidl, scan=None):
    """STAT, UIDL and LIST as a client without PIPELINING asks for them
    (without LIST when scan is None: a bad UIDL listing must end it)."""
    steps = [reply_to(b"STAT", [b"+OK %d %d" % (count, 100 * count)]),
             reply_to(b"UIDL", [b"+OK"] + uidl + [b"."])]
    if scan is not None:
        steps.append(reply_to(b"LIST", [b"+OK"] + scan + [b"."]))
    return steps


def test_fetch_pipelined_exact_commands(box, script_peer):
    """The baseline: with PIPELINING, STAT/UIDL/LIST go together, both RETRs
    go before the first reply, then both DELEs, then QUIT."""
    peer = script_peer([
        GREETING, CAPA_PIPE, *LOGIN,
        expect(b"STAT"), expect(b"UIDL"), expect(b"LIST"),
        send_lines([b"+OK 2 100", b"+OK", b"1 uid-one", b"2 uid-two", b".",
                    b"+OK", b"1 60", b"2 40", b"."]),
        expect(b"RETR 1"), expect(b"RETR 2"),
        send_lines([b"+OK"] + MSG1 + [b".", b"+OK"] + MSG2 + [b"."]),
        expect(b"DELE 1"), expect(b"DELE 2"), send_lines([b"+OK", b"+OK"]),
        reply_to(b"QUIT", [b"+OK bye"]),
    ])
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received == LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"RETR 1", b"RETR 2",
                                          b"DELE 1", b"DELE 2", b"QUIT"], peer.transcript()
    files = box.delivered()
    assert len(files) == 2, r
    bodies = sorted(open(f, "rb").read() for f in files)
    assert any(b.endswith(b"\n\nfirst\n.dot line\n") for b in bodies), bodies
    assert any(b.endswith(b"\n\nsecond\n") for b in bodies), bodies


LONG_UID = b"u" * 71
HOSTILE = {
    "stat-negative": ([reply_to(b"STAT", [b"+OK -1 0"])],
                      'STAT reply: message count is not a decimal number'),
    "stat-huge": ([reply_to(b"STAT", [b"+OK 4294967297 100"])],
                  "STAT reply: more than 1000000 messages"),
    "stat-junk": ([reply_to(b"STAT", [b"+OK 2x 100"])],
                  "STAT reply: message count is not a decimal number"),
    "stat-missing-ok": ([reply_to(b"STAT", [b"2 100"])],
                        'malformed STAT reply (no +OK or -ERR): "2 100"'),
    "uidl-negative": (listing(2, [b"-1 a", b"2 b"]),
                      "UIDL line 1: message number is not a decimal number"),
    "uidl-huge": (listing(2, [b"1 a", b"4294967297 b"]),
                  "UIDL line 2: message number out of range"),
    "uidl-zero": (listing(2, [b"0 a"]), "UIDL line 1: message number out of range"),
    "uidl-over-count": (listing(2, [b"1 a", b"3 b"]),
                        "UIDL line 2: message number out of range"),
    "list-negative": (listing(2, [b"1 a", b"2 b"], [b"1 10", b"2 -10"]),
                      "LIST line 2: size is not a decimal number"),
    "list-huge": (listing(2, [b"1 a", b"2 b"], [b"4294967297 10"]),
                  "LIST line 1: message number out of range"),
    "list-over-count": (listing(2, [b"1 a", b"2 b"], [b"1 10", b"3 10"]),
                        "LIST line 2: message number out of range"),
    "list-trailing-junk": (listing(2, [b"1 a", b"2 b"], [b"1 10;rm"]),
                           "LIST line 1: size is not a decimal number"),
    "list-missing-one": (listing(2, [b"1 a", b"2 b"], [b"2 10"]),
                         "LIST listed 1 messages, STAT counted 2"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_numbers(box, script_peer, case):
    steps, needle = HOSTILE[case]
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *steps])
    r = box.run(peer)
    assert_failed(box, r, peer, needle)
    # Nothing after the hostile reply: not even QUIT on a session out of step.
    assert peer.received == LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST"][:len(steps)], \
        peer.transcript()


def test_reply_line_over_limit(box, script_peer):
    """RFC 2449: a reply line is at most 512 octets with its CRLF."""
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN,
                        reply_to(b"STAT", [b"+OK 1 100"]),
                        expect(b"UIDL"), send(b"+OK"), long_line(600, prefix=b"1 "), send(b".")])
    r = box.run(peer)
    assert_failed(box, r, peer, "reply line too long (over 512 octets) in UIDL reply")
    assert peer.received == LOGIN_CMDS + [b"STAT", b"UIDL"], peer.transcript()


def test_greeting_without_ok(box, script_peer):
    peer = script_peer([send(b"* OK IMAP4rev1 server ready")])
    r = box.run(peer)
    assert_failed(box, r, peer, 'malformed greeting (no +OK or -ERR): "* OK IMAP4rev1 server ready"')
    assert peer.received == [], peer.transcript()


def test_stls_missing_sends_nothing_more(box, script_peer, tls_cert):
    """tls = "starttls" and no STLS in CAPA: abort. Nothing at all is sent
    after CAPA, not even QUIT: the connection is simply closed."""
    peer = script_peer([GREETING, CAPA_NO_STLS])
    r = box.run(peer, tls="starttls", extra='fingerprint = "%s";' % tls_cert.fingerprint)
    assert_failed(box, r, peer, "TLS: server does not offer STLS")
    assert peer.received == [b"CAPA"], peer.transcript()


def test_stls_plaintext_injection(box, script_peer, tls_cert):
    """Clear text appended to the STLS reply (CVE-2011-0411 class) must not
    be read as if it came over TLS: abort before the handshake."""
    peer = script_peer([GREETING, CAPA_STLS, expect(b"STLS"),
                        send_raw(b"+OK Begin TLS\r\n+OK injected\r\n")])
    r = box.run(peer, tls="starttls", extra='fingerprint = "%s";' % tls_cert.fingerprint)
    assert_failed(box, r, peer, "TLS: ")
    assert "plaintext" in r.err, r
    assert peer.received == [b"CAPA", b"STLS"], peer.transcript()


def test_stls_fetch(box, script_peer, tls_cert):
    """The good STLS path: CAPA again after the handshake, then login and
    fetch over TLS, certificate pinned."""
    peer = script_peer([GREETING, CAPA_STLS, reply_to(b"STLS", [b"+OK Begin TLS"]),
                        starttls(tls_cert.cert, tls_cert.key), CAPA_PLAIN, *LOGIN,
                        *listing(1, [b"1 only"], [b"1 40"]),
                        reply_to(b"RETR 1", [b"+OK"] + MSG2 + [b"."]),
                        reply_to(b"DELE 1", [b"+OK"]), reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer, tls="starttls", extra='fingerprint = "%s";' % tls_cert.fingerprint)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert peer.tls_version in ("TLSv1.2", "TLSv1.3")
    assert peer.received == [b"CAPA", b"STLS"] + LOGIN_CMDS + [
        b"STAT", b"UIDL", b"LIST", b"RETR 1", b"DELE 1", b"QUIT"], peer.transcript()
    assert len(box.delivered()) == 1


def test_connection_cut_mid_message(box, script_peer):
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN,
                        *listing(1, [b"1 only"], [b"1 400"]),
                        expect(b"RETR 1"),
                        cut(b"+OK\r\nFrom: a@upstream.test\r\nSubject: cut\r\n\r\nhalf a li")])
    r = box.run(peer)
    assert_failed(box, r, peer, "connection lost while reading RETR 1 reply")
    assert peer.received == LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"RETR 1"], peer.transcript()


def bodies(box):
    return sorted(open(f, "rb").read() for f in box.delivered())


def test_message_with_a_2mib_line(box, script_peer):
    """A message line has no cap of its own (only the message size has):
    a 2 MiB line, after a stuffed dot, arrives whole between two ordinary
    messages, and all three are deleted."""
    line = b"z" * (2 * 1024 * 1024)
    big = [b"From: big@upstream.test", b"Subject: long", b"", b".." + line, b"tail"]
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN,
                        *listing(3, [b"1 uid-1", b"2 uid-2", b"3 uid-3"],
                                 [b"1 60", b"2 %d" % (len(line) + 60), b"3 40"]),
                        reply_to(b"RETR 1", [b"+OK"] + MSG1 + [b"."]),
                        reply_to(b"RETR 2", [b"+OK"] + big + [b"."]),
                        reply_to(b"RETR 3", [b"+OK"] + MSG2 + [b"."]),
                        reply_to(b"DELE 1", [b"+OK"]), reply_to(b"DELE 2", [b"+OK"]),
                        reply_to(b"DELE 3", [b"+OK"]), reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    got = bodies(box)
    assert len(got) == 3
    assert sum(b.endswith(b"\nSubject: long\n\n." + line + b"\ntail\n") for b in got) == 1


def flood(mib):
    """Sends MIB MiB of message lines of 1 MiB each; the client may hang up
    before it has read them all."""
    def step(ctx):
        ctx.log("S(flood): %d MiB" % mib)
        chunk = b"y" * (1024 * 1024 - 2) + b"\r\n"
        try:
            for _ in range(mib):
                ctx.sendall(chunk)
        except OSError:
            pass
    step.__name__ = "flood"
    return step


# What breaks a session in the middle of RETR: the connection is cut, or
# the message grows past HM_FETCH_MAX_MESSAGE (256 MiB) whatever LIST said.
BREAKERS = {
    "cut": ([cut(b"+OK\r\nFrom: a@upstream.test\r\nSubject: cut\r\n\r\nhalf a li")],
            "connection lost while reading RETR %d reply"),
    "oversize": ([send(b"+OK"), flood(257)], "RETR %d reply: message larger than 256 MiB"),
}
THREE = listing(3, [b"1 uid-1", b"2 uid-2", b"3 uid-3"], [b"1 60", b"2 60", b"3 40"])
TWO = listing(2, [b"1 uid-2", b"2 uid-3"], [b"1 60", b"2 40"])


@pytest.mark.parametrize("breaker", sorted(BREAKERS))
def test_delivered_mail_is_removed_past_a_message_that_breaks_the_session(box, script_peer,
                                                                          breaker):
    """Run 1 delivers message 1, then message 2 breaks the session: no QUIT,
    so nothing is deleted. Run 2 meets the same bad message: it deletes
    message 1 first and commits that with QUIT, then logs in again and
    fails on message 2 as before. Run 3, with message 2 good again, fetches
    the rest. Every message arrives once; nothing stays upstream for ever."""
    steps, needle = BREAKERS[breaker]
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *THREE,
                        reply_to(b"RETR 1", [b"+OK"] + MSG1 + [b"."]), expect(b"RETR 2"), *steps])
    r = box.run(peer, timeout=120)
    assert r.rc == 1, r
    assert needle % 2 in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert not any(c.startswith(b"DELE") for c in peer.received), peer.transcript()
    assert len(box.delivered()) == 1

    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *THREE,
                        reply_to(b"DELE 1", [b"+OK"]), reply_to(b"QUIT", [b"+OK"]), accept_next(),
                        GREETING, CAPA_PLAIN, *LOGIN, *TWO, expect(b"RETR 1"), *steps])
    r = box.run(peer, timeout=120)
    assert r.rc == 1, r
    assert needle % 1 in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received == LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"DELE 1", b"QUIT"] + \
        LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"RETR 1"], peer.transcript()
    assert len(box.delivered()) == 1

    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *TWO,
                        reply_to(b"RETR 1", [b"+OK"] + MSG2 + [b"."]),
                        reply_to(b"RETR 2", [b"+OK", b"Subject: three", b"", b"3", b"."]),
                        reply_to(b"DELE 1", [b"+OK"]), reply_to(b"DELE 2", [b"+OK"]),
                        reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    got = bodies(box)
    assert len(got) == 3
    assert [sum(b.endswith(t) for b in got) for t in (b"\n.dot line\n", b"\nsecond\n", b"\n3\n")] \
        == [1, 1, 1], got


def test_untrackable_uids_are_left_upstream(box, script_peer):
    """A malformed UIDL line, and two messages that share a UID, leave those
    three messages upstream with one warning each (the shared pair: one
    together), every run; the rest is fetched and deleted; exit 0."""
    uidl = [b"1 uid-1", b"2 " + LONG_UID, b"3 dup", b"4 uid-4", b"5 dup"]
    scan = [b"%d 50" % n for n in range(1, 6)]
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *listing(5, uidl, scan),
                        reply_to(b"RETR 1", [b"+OK"] + MSG1 + [b"."]),
                        reply_to(b"RETR 4", [b"+OK"] + MSG2 + [b"."]),
                        reply_to(b"DELE 1", [b"+OK"]), reply_to(b"DELE 4", [b"+OK"]),
                        reply_to(b"QUIT", [b"+OK"])])
    malformed = "isp: message 2 has a malformed UIDL line (UID longer than 70 octets): " \
                "left on the server"
    shared = 'isp: messages 3, 5 share the UID "dup" (a server bug), so none of them can be ' \
             'tracked: left on the server'
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert r.err.count(malformed) == 1 and r.err.count(shared) == 1, r
    assert len(box.delivered()) == 2

    # The next run says it again (once), and fetches nothing more.
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN,
                        *listing(3, [b"1 " + LONG_UID, b"2 dup", b"3 dup"], scan[:3]),
                        reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    malformed, shared = malformed.replace("message 2", "message 1"), \
        shared.replace("messages 3, 5", "messages 2, 3")
    assert r.err.count(malformed) == 1 and r.err.count(shared) == 1, r
    assert "does not support UIDL" not in r.err, r   # message 1 is untracked, not UID-less
    assert len(box.delivered()) == 2


def test_verbose_log_says_no_new_mail_only_when_true(box, script_peer):
    """-v: "no new mail" is logged when it is true, never just before the
    error of a run that failed to fetch what is new."""
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *listing(1, [b"1 only"], [b"1 40"]),
                        expect(b"RETR 1"), cut(b"+OK\r\nSubject: cut\r\n")])
    r = box.run(peer, args=["-v"])
    assert r.rc == 1, r
    assert "connection lost while reading RETR 1 reply" in r.err, r
    assert "no new mail" not in r.err, r
    assert peer.wait() == [], peer.transcript()

    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *listing(0, [], []),
                        reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer, args=["-v"])
    assert r.rc == 0, r
    assert "isp: no new mail (0 upstream)" in r.err, r
    assert peer.wait() == [], peer.transcript()


DOT_LF = [b"From: a@upstream.test", b"Subject: dots", b"", b"before"]


def test_dot_bare_lf_is_content_from_a_crlf_server(box, script_peer):
    """The server ends its lines with CRLF but does not dot-stuff a "."
    line that ends in a bare LF: that line is content, the message arrives
    whole (the LF made CRLF, nothing else changed) and only then is it
    deleted."""
    wire = b"+OK\r\n" + b"".join(ln + b"\r\n" for ln in DOT_LF) + b".\nafter\r\n..\r\n.\r\n"
    peer = script_peer([GREETING, CAPA_PLAIN, *LOGIN, *listing(1, [b"1 only"], [b"1 70"]),
                        expect(b"RETR 1"), send_raw(wire), reply_to(b"DELE 1", [b"+OK"]),
                        reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    got = bodies(box)
    assert len(got) == 1 and got[0].endswith(b"\n\nbefore\n.\nafter\n.\n"), got


def test_bare_lf_server(box, script_peer):
    """A server that ends every line with a bare LF, its status lines too:
    "." with a bare LF ends its replies."""
    lf = b"\n"
    peer = script_peer([send(b"+OK POP3 ready", eol=lf),
                        reply_to(b"CAPA", [b"+OK", b"USER", b"UIDL", b"."], eol=lf),
                        reply_to(b"USER u", [b"+OK"], eol=lf), reply_to(b"PASS p", [b"+OK"], eol=lf),
                        reply_to(b"STAT", [b"+OK 1 60"], eol=lf),
                        reply_to(b"UIDL", [b"+OK", b"1 only", b"."], eol=lf),
                        reply_to(b"LIST", [b"+OK", b"1 60", b"."], eol=lf),
                        reply_to(b"RETR 1", [b"+OK"] + DOT_LF + [b"..", b"after", b"."], eol=lf),
                        reply_to(b"DELE 1", [b"+OK"], eol=lf), reply_to(b"QUIT", [b"+OK"], eol=lf)])
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    got = bodies(box)
    assert len(got) == 1 and got[0].endswith(b"\n\nbefore\n.\nafter\n"), got
