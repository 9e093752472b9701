"""Transcript tests of homemail-fetcher against scripted POP3 and IMAP
servers whose listed sizes are not what they send: a message cut short or
empty on the way is never removed upstream, where the whole of it stays,
and max_size holds for the octets that arrive, not only for the listing.
Each asserts the exact commands sent (never a DELE or EXPUNGE for such a
message), what was delivered, and what the next run does.

The program under test is the real one: build/fetcher/homemail-fetcher
--once -c CONF, delivering locally (deliver = "local") to user alice.
"""
import os
import shutil
import tempfile

import pytest

import fixtures
from fixtures.smtpsink import SmtpSink
from fixtures.scriptpeer import expect, reply_to, send, send_lines, send_raw

# --- the set-up -----------------------------------------------------------------


class Box:
    """A config, state_dir and mail_dir of its own for each test."""

    def __init__(self, base):
        self.dir = tempfile.mkdtemp(prefix="fetch-sizes-", dir=base)
        self.mail = os.path.join(self.dir, "mail")
        self.conf = os.path.join(self.dir, "homemail.conf")
        self.exe = fixtures.program("fetcher/homemail-fetcher")

    def run(self, peer, proto="pop3", extra="", keep=False, deliver="local"):
        with open(self.conf, "w") as f:
            f.write('hostname = "box.test";\n'
                    'state_dir = "%s/state";\n'
                    'mail_dir = "%s";\n'
                    'local_domains = [ "box.test" ];\n'
                    'users = ( { name = "alice"; } );\n'
                    'fetcher = {\n'
                    '  deliver = "%s";\n'
                    '  accounts = ( { name = "isp"; protocol = "%s"; host = "127.0.0.1";\n'
                    '                 port = %d; tls = "none"; %s\n'
                    '                 user = "u"; password = "p"; keep = %s; to = "alice"; } );\n'
                    '};\n' % (self.dir, self.mail, deliver, proto, peer.port, extra,
                              "true" if keep else "false"))
        os.chmod(self.conf, 0o600)
        return fixtures.run([self.exe, "--once", "-c", self.conf], timeout=60)

    def bodies(self):
        out = []
        for path in fixtures.maildir_files(os.path.join(self.mail, "alice")):
            with open(path, "rb") as f:
                out.append(f.read())
        return out


@pytest.fixture
def box(hm_tmp):
    b = Box(hm_tmp)
    yield b
    shutil.rmtree(b.dir, ignore_errors=True)


# POP3: a server without PIPELINING, so each command waits for its reply.
P_GREETING = send(b"+OK POP3 ready")
P_CAPA = reply_to(b"CAPA", [b"+OK", b"USER", b"UIDL", b"."])
P_LOGIN = [reply_to(b"USER u", [b"+OK"]), reply_to(b"PASS p", [b"+OK logged in"])]
P_LOGIN_CMDS = [b"CAPA", b"USER u", b"PASS p"]


def p_listing(uids, sizes):
    return [reply_to(b"STAT", [b"+OK %d %d" % (len(uids), sum(sizes))]),
            reply_to(b"UIDL", [b"+OK"] + [b"%d %s" % (i + 1, u) for i, u in enumerate(uids)]
                     + [b"."]),
            reply_to(b"LIST", [b"+OK"] + [b"%d %d" % (i + 1, n) for i, n in enumerate(sizes)]
                     + [b"."])]


# IMAP
I_CAPS = b"IMAP4rev1 UIDPLUS"
I_GREETING = send(b"* OK [CAPABILITY " + I_CAPS + b"] ready")
I_LOGIN = reply_to(b'A0001 LOGIN "u" "p"', [b"A0001 OK [CAPABILITY " + I_CAPS + b"] in"])


def i_select(exists, keep=False):
    verb = b"EXAMINE" if keep else b"SELECT"
    return reply_to(b"A0002 %s INBOX" % verb, [b"* %d EXISTS" % exists, b"* OK [UIDVALIDITY 7] ok",
                                               b"A0002 OK selected"])


def i_listing(sizes, first=1):
    return reply_to(b"A0003 UID FETCH %d:* (UID RFC822.SIZE)" % first,
                    [b"* %d FETCH (UID %d RFC822.SIZE %d)" % (i + 1, i + 1, n)
                     for i, n in enumerate(sizes)] + [b"A0003 OK done"])


def i_body(tag, uid, data, listed):
    return [expect(b"A%04d UID FETCH %d (BODY.PEEK[] RFC822.SIZE)" % (tag, uid)),
            send_raw(b"* %d FETCH (UID %d RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\nA%04d OK done\r\n"
                     % (uid, uid, listed, len(data), data, tag))]


def i_logout(tag):
    return reply_to(b"A%04d LOGOUT" % tag, [b"* BYE bye", b"A%04d OK done" % tag])


SMALL = [b"From: s@upstream.test", b"Subject: small", b"", b"small"]
SMALL_CRLF = b"\r\n".join(SMALL) + b"\r\n"
BIG = [b"From: b@upstream.test", b"Subject: big", b""] + [b"x" * 998] * 200
BIG_CRLF = b"\r\n".join(BIG) + b"\r\n"


# --- max_size holds for what arrives ------------------------------------------------

def test_pop3_understated_size_over_max_size(box, script_peer):
    """LIST says 10 octets, RETR brings 200 KB, max_size is 1000: the rest
    of the message is read and dropped (the session stays in step: the
    next message is fetched and deleted, QUIT commits), the big one is
    neither delivered nor deleted, and the next run leaves it alone: the
    state remembers the size that arrived, not the one listed."""
    peer = script_peer([P_GREETING, P_CAPA, *P_LOGIN, *p_listing([b"big", b"small"], [10, 60]),
                        reply_to(b"RETR 1", [b"+OK"] + BIG + [b"."]),
                        reply_to(b"RETR 2", [b"+OK"] + SMALL + [b"."]),
                        reply_to(b"DELE 2", [b"+OK"]), reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer, "pop3", extra="max_size = 1000;")
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received == P_LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"RETR 1", b"RETR 2",
                                            b"DELE 2", b"QUIT"], peer.transcript()
    assert ("isp: INBOX: message big is %d octets (listed as 10), over max_size: left on "
            "the server" % len(BIG_CRLF)) in r.err, r.err
    got = box.bodies()
    assert len(got) == 1 and got[0].endswith(b"\n\nsmall\n"), got

    peer = script_peer([P_GREETING, P_CAPA, *P_LOGIN, *p_listing([b"big"], [10]),
                        reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer, "pop3", extra="max_size = 1000;")
    assert r.rc == 0 and "max_size" not in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received == P_LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"QUIT"], \
        peer.transcript()


def test_imap_understated_size_over_max_size(box, script_peer):
    """RFC822.SIZE says 10, the literal brings 200 KB, max_size is 1000:
    not delivered, no STORE or EXPUNGE, and not fetched again."""
    peer = script_peer([I_GREETING, I_LOGIN, i_select(1), i_listing([10]),
                        *i_body(4, 1, BIG_CRLF, 10), i_logout(5)])
    r = box.run(peer, "imap", extra="max_size = 1000;")
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received[-1] == b"A0005 LOGOUT", peer.transcript()
    assert ("isp: INBOX: message 1 is %d octets (listed as 10), over max_size: left on "
            "the server" % len(BIG_CRLF)) in r.err, r.err
    assert box.bodies() == []

    peer = script_peer([I_GREETING, I_LOGIN, i_select(1), i_listing([10]), i_logout(4)])
    r = box.run(peer, "imap", extra="max_size = 1000;")
    assert r.rc == 0 and "max_size" not in r.err, r
    assert peer.wait() == [], peer.transcript()


# --- a message cut short or empty is never removed upstream --------------------------

IMPORTANT = [b"From: i@upstream.test", b"Subject: important", b""] + [b"important line"] * 1000
IMPORTANT_CRLF = b"\r\n".join(IMPORTANT) + b"\r\n"
LISTED = len(IMPORTANT_CRLF)        # 16043


def test_pop3_cut_short(box, script_peer):
    """LIST says 16043 octets, RETR brings 200 and the end: what arrived is
    delivered (nothing that arrived is lost), but the message is not
    deleted, the run fails naming account, UID and both sizes, and the
    next run neither fetches nor deletes it. The message after it is
    fetched and deleted as usual."""
    cut = IMPORTANT[:8]
    peer = script_peer([P_GREETING, P_CAPA, *P_LOGIN,
                        *p_listing([b"uid-imp", b"uid-small"], [LISTED, 60]),
                        reply_to(b"RETR 1", [b"+OK"] + cut + [b"."]),
                        reply_to(b"RETR 2", [b"+OK"] + SMALL + [b"."]),
                        reply_to(b"DELE 2", [b"+OK"]), reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 1, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received == P_LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"RETR 1", b"RETR 2",
                                            b"DELE 2", b"QUIT"], peer.transcript()
    got_len = len(b"\r\n".join(cut) + b"\r\n")
    assert ("isp: INBOX: message uid-imp arrived with %d of the %d octets listed: delivered "
            "as it arrived, the original left on the server" % (got_len, LISTED)) in r.err, r.err
    assert ("error: isp: message uid-imp arrived incomplete (%d of the %d octets listed)"
            % (got_len, LISTED)) in r.err, r.err
    got = box.bodies()
    assert len(got) == 2, got
    assert sum(b.endswith(b"\n\nimportant line\nimportant line\nimportant line\nimportant line"
                          b"\nimportant line\n") for b in got) == 1, got

    peer = script_peer([P_GREETING, P_CAPA, *P_LOGIN, *p_listing([b"uid-imp"], [LISTED]),
                        reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 0 and "uid-imp" not in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received == P_LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"QUIT"], \
        peer.transcript()
    assert len(box.bodies()) == 2


@pytest.mark.parametrize("listed,sent", [(LISTED, 15000), (1300, 300), (100, 5000)],
                         ids=["few-percent", "small", "understated"])
def test_pop3_sizes_that_are_only_estimates(box, script_peer, listed, sent):
    """Listed sizes are estimates on some servers: a message a little short
    of its listed size (or short by under 1 KiB, or longer) is fetched and
    deleted as usual."""
    body = [b"Subject: estimate", b"", b"y" * (sent - 21 - 2)]        # sent octets
    peer = script_peer([P_GREETING, P_CAPA, *P_LOGIN, *p_listing([b"u1"], [listed]),
                        reply_to(b"RETR 1", [b"+OK"] + body + [b"."]),
                        reply_to(b"DELE 1", [b"+OK"]), reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert b"DELE 1" in peer.received, peer.transcript()
    assert len(box.bodies()) == 1


def test_pop3_empty(box, script_peer):
    """RETR answers +OK and at once ".": nothing is delivered or deleted."""
    peer = script_peer([P_GREETING, P_CAPA, *P_LOGIN, *p_listing([b"u1"], [LISTED]),
                        reply_to(b"RETR 1", [b"+OK", b"."]), reply_to(b"QUIT", [b"+OK"])])
    r = box.run(peer)
    assert r.rc == 1, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received == P_LOGIN_CMDS + [b"STAT", b"UIDL", b"LIST", b"RETR 1", b"QUIT"], \
        peer.transcript()
    assert ("isp: INBOX: message u1 arrived empty (listed as %d octets): not delivered, left "
            "on the server" % LISTED) in r.err, r.err
    assert box.bodies() == []


@pytest.mark.parametrize("sent", [b"", IMPORTANT_CRLF[:200]], ids=["empty", "cut"])
def test_imap_cut_short_or_empty(box, script_peer, sent):
    """RFC822.SIZE 16043, BODY[] {0} or {200}: no STORE, no EXPUNGE; the
    empty one is not delivered, the cut one is, as it arrived; the next
    run fetches neither again."""
    peer = script_peer([I_GREETING, I_LOGIN, i_select(1), i_listing([LISTED]),
                        *i_body(4, 1, sent, LISTED), i_logout(5)])
    r = box.run(peer, "imap")
    assert r.rc == 1, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received[-1] == b"A0005 LOGOUT", peer.transcript()
    assert not any(b"STORE" in c or b"EXPUNGE" in c for c in peer.received), peer.transcript()
    if sent:
        assert ("isp: INBOX: message 1 arrived with 200 of the %d octets listed: delivered as "
                "it arrived, the original left on the server" % LISTED) in r.err, r.err
        assert len(box.bodies()) == 1
    else:
        assert "isp: INBOX: message 1 arrived empty (listed as %d octets)" % LISTED in r.err
        assert box.bodies() == []

    peer = script_peer([I_GREETING, I_LOGIN, i_select(1), i_listing([LISTED]), i_logout(4)])
    r = box.run(peer, "imap")
    assert r.rc == 0 and "arrived" not in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert len(box.bodies()) == (1 if sent else 0)


def test_cut_short_between_messages_sent_back_to_back(box, script_peer):
    """To an SMTP server with PIPELINING and CHUNKING messages go back to
    back; a cut one goes alone after the others are settled: all three
    arrive, and only the two whole ones are deleted."""
    sink = SmtpSink(chunking=True).start()
    try:
        peer = script_peer([P_GREETING, P_CAPA, *P_LOGIN,
                            *p_listing([b"a", b"imp", b"b"], [60, LISTED, 60]),
                            reply_to(b"RETR 1", [b"+OK"] + SMALL + [b"."]),
                            reply_to(b"RETR 2", [b"+OK"] + IMPORTANT[:8] + [b"."]),
                            reply_to(b"RETR 3", [b"+OK"] + SMALL + [b"."]),
                            reply_to(b"DELE 1", [b"+OK"]), reply_to(b"DELE 3", [b"+OK"]),
                            reply_to(b"QUIT", [b"+OK"])])
        r = box.run(peer, "pop3", deliver="smtp:127.0.0.1:%d" % sink.port)
        assert r.rc == 1 and "message imp arrived incomplete" in r.err, r
        assert peer.wait() == [], peer.transcript()
        assert len(sink.messages) == 3
    finally:
        sink.stop()
