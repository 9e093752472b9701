"""Transcript tests of homemail-fetcher's IMAP client against the scripted
peer: the exact commands of a normal run, and for each hostile or broken
server (the bug classes of fetchmail's advisories) exit status 1, one clear
line naming the account, no STORE/EXPUNGE sent and nothing delivered."""
import os
import textwrap

import pytest

import fixtures
from fixtures.scriptpeer import expect, expect_eof, flood, long_line, reply_to, send, send_raw

MSG = b"Subject: hi\r\n\r\nhello\r\n"
CAPS = b"IMAP4rev1 IDLE UIDPLUS"
GREETING = send(b"* OK [CAPABILITY " + CAPS + b"] ready")
LOGIN = reply_to(b'A0001 LOGIN "u" "p"', [b"A0001 OK [CAPABILITY " + CAPS + b"] Logged in"])
LIST_CMD = b"A0003 UID FETCH 1:* (UID RFC822.SIZE)"
LIST = reply_to(LIST_CMD, [b"* 1 FETCH (UID 1 RFC822.SIZE %d)" % len(MSG), b"A0003 OK done"])
FETCH_CMD = b"A0004 UID FETCH 1 (BODY.PEEK[] RFC822.SIZE)"


def select(exists=b"1", validity=b"7"):
    return reply_to(b"A0002 SELECT INBOX", [b"* %s EXISTS" % exists, b"* OK [UIDVALIDITY %s] ok" % validity,
                                            b"A0002 OK [READ-WRITE] selected"])


def write_conf(tmp_path, port, tls="none", extra="", keep=False):
    conf = tmp_path / "homemail.conf"
    conf.write_text(textwrap.dedent("""\
        hostname = "box.test";
        state_dir = "%(tmp)s/state";
        mail_dir = "%(tmp)s/mail";
        local_domains = [ "box.test" ];
        users = ( { name = "alice"; } );
        fetcher = {
          deliver = "local";
          accounts = (
            { name = "isp"; protocol = "imap"; host = "127.0.0.1"; port = %(port)d;
              tls = "%(tls)s"; user = "u"; password = "p"; folders = [ "INBOX" ];
              keep = %(keep)s; to = "alice"; %(extra)s }
          );
        };
        """) % {"tmp": tmp_path, "port": port, "tls": tls, "extra": extra,
               "keep": "true" if keep else "false"})
    os.chmod(conf, 0o600)
    return conf


def run_fetcher(bin, conf, *args):
    return fixtures.run([bin("fetcher/homemail-fetcher"), "--once", "-c", conf] + list(args), timeout=60)


def delivered(tmp_path):
    found = []
    for root, _dirs, files in os.walk(tmp_path / "mail" / "alice"):
        found += [os.path.join(root, f) for f in files]
    return found


def assert_failed(r, peer, tmp_path, reason):
    assert r.rc == 1, r
    lines = [ln for ln in r.err.splitlines() if "isp: " in ln]
    assert len(lines) == 1, r
    assert reason in lines[0], (reason, r)
    assert peer.wait() == [], peer.transcript()
    for cmd in peer.received:
        assert b"STORE" not in cmd and b"EXPUNGE" not in cmd, peer.transcript()
    assert delivered(tmp_path) == [], r


def test_normal_run(bin, script_peer, tmp_path):
    peer = script_peer([
        GREETING, LOGIN, select(), LIST,
        expect(FETCH_CMD),
        send_raw(b"* 1 FETCH (UID 1 RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\nA0004 OK done\r\n"
                 % (len(MSG), len(MSG), MSG)),
        expect(b"A0005 UID STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)"),
        expect(b"A0006 UID EXPUNGE 1"),
        send_raw(b"A0005 OK stored\r\n* 1 EXPUNGE\r\nA0006 OK expunged\r\n"),
        reply_to(b"A0007 LOGOUT", [b"* BYE logging out", b"A0007 OK done"]),
    ])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received[-1] == b"A0007 LOGOUT", peer.transcript()
    files = delivered(tmp_path)
    assert len(files) == 1, r
    with open(files[0], "rb") as f:
        data = f.read()
    assert data.replace(b"\r\n", b"\n").endswith(b"Subject: hi\n\nhello\n"), data


def test_literal_over_the_bound(bin, script_peer, tmp_path):
    peer = script_peer([
        GREETING, LOGIN, select(), LIST,
        expect(FETCH_CMD),
        send(b"* 1 FETCH (UID 1 BODY[] {300000000}"),
        expect_eof(timeout=10),
    ])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert_failed(r, peer, tmp_path, "isp: literal of 300000000 octets exceeds the limit")


def test_bye_mid_fetch(bin, script_peer, tmp_path):
    peer = script_peer([
        GREETING, LOGIN, select(), LIST,
        expect(FETCH_CMD),
        send(b"* 1 FETCH (UID 1 FLAGS (\\Seen))"),
        send(b"* BYE \x1b[2JDisconnected for inactivity"),
        expect_eof(timeout=10),
    ])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert_failed(r, peer, tmp_path, "isp: server said BYE: [2JDisconnected for inactivity")


def test_preauth_with_starttls(bin, script_peer, tmp_path, tls_cert):
    peer = script_peer([
        send(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in already"),
        expect_eof(timeout=10),
    ])
    conf = write_conf(tmp_path, peer.port, tls="starttls", extra='ca_file = "%s";' % tls_cert.cert)
    r = run_fetcher(bin, conf)
    assert_failed(r, peer, tmp_path, "isp: TLS: server sent PREAUTH, so STARTTLS is impossible")
    assert peer.received == [], peer.transcript()


def test_starttls_missing(bin, script_peer, tmp_path, tls_cert):
    peer = script_peer([
        send(b"* OK ready"),
        reply_to(b"A0001 CAPABILITY", [b"* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR", b"A0001 OK done"]),
        expect_eof(timeout=10),
    ])
    conf = write_conf(tmp_path, peer.port, tls="starttls", extra='ca_file = "%s";' % tls_cert.cert)
    r = run_fetcher(bin, conf)
    assert_failed(r, peer, tmp_path, "isp: TLS: server does not offer STARTTLS")
    assert peer.received == [b"A0001 CAPABILITY"], peer.transcript()


def test_starttls_injected_plaintext(bin, script_peer, tmp_path, tls_cert):
    """A MITM appends a forged reply after the STARTTLS OK (CVE-2011-0411):
    it must not be read as TLS-protected, and no password may follow."""
    peer = script_peer([
        send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready"),
        expect(b"A0001 STARTTLS"),
        send_raw(b"A0001 OK Begin TLS negotiation now\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"),
        expect_eof(timeout=10),
    ])
    conf = write_conf(tmp_path, peer.port, tls="starttls", extra='ca_file = "%s";' % tls_cert.cert)
    r = run_fetcher(bin, conf)
    assert_failed(r, peer, tmp_path, "isp: TLS: ")
    assert peer.received == [b"A0001 STARTTLS"], peer.transcript()


def test_reply_line_over_the_limit(bin, script_peer, tmp_path):
    peer = script_peer([
        GREETING, LOGIN, select(),
        expect(LIST_CMD),
        long_line(1100 * 1024, fill=b"x", prefix=b"* 1 FETCH (UID 1 RFC822.SIZE 24 X-JUNK "),
        expect_eof(timeout=10),
    ])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert_failed(r, peer, tmp_path, "isp: response line too long")


def new_uids(n):
    """The Nth thousand of a listing that never ends, each a new message."""
    return b"".join(b"* %d FETCH (UID %d RFC822.SIZE 10)\r\n" % (k, k)
                    for k in range(n * 1000 + 1, n * 1000 + 1001))


def test_listing_past_exists(bin, script_peer, tmp_path):
    """A server that counts 1 message and then lists new ones for ever is
    cut off once the listing passes EXISTS (and a margin for mail arriving
    meanwhile), with the session dropped: before, the listing grew without
    bound (4 GB in 40 s)."""
    peer = script_peer([GREETING, LOGIN, select(), expect(LIST_CMD), flood(new_uids, seconds=20)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert_failed(r, peer, tmp_path, "isp: INBOX: the server lists more messages than EXISTS counted (1)")
    assert peer.received[-1] == LIST_CMD, peer.transcript()


def test_command_kept_open(bin, script_peer, tmp_path):
    """A server that answers a command with untagged lines for ever and
    never completes it: the run fails once the command has brought more
    responses than any of ours needs, instead of never ending (each line
    arrives well within the read deadline)."""
    peer = script_peer([GREETING, LOGIN, select(), expect(LIST_CMD),
                        flood(b"* OK still listing\r\n" * 1000, seconds=50)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert_failed(r, peer, tmp_path,
                  "isp: server sent more than 2000000 responses without completing the command")
    assert peer.received[-1] == LIST_CMD, peer.transcript()


@pytest.mark.parametrize("steps, reason", [
    ([reply_to(b"A0002 SELECT INBOX", [b"* 99999999999 EXISTS"])], "bad number in an untagged response"),
    ([reply_to(b"A0002 SELECT INBOX", [b"* -1 EXISTS"])], "malformed untagged response"),
    ([reply_to(b"A0002 SELECT INBOX", [b"* 1 EXISTS", b"* OK [UIDVALIDITY -5] x"])], "bad UIDVALIDITY"),
    ([reply_to(b"A0002 SELECT INBOX", [b"* 1 EXISTS", b"* OK [UIDVALIDITY 4294967296] x"])],
     "bad UIDVALIDITY"),
    ([reply_to(b"A0002 SELECT INBOX", [b"* 1 EXISTS", b"A0002 OK no validity"])],
     "server sent no UIDVALIDITY for INBOX"),
    ([select(), reply_to(LIST_CMD, [b"* 1 FETCH (UID 4294967297 RFC822.SIZE 24)", b"A0003 OK"])],
     "bad UID in a FETCH reply"),
    ([select(), reply_to(LIST_CMD, [b"* 1 FETCH (UID -1 RFC822.SIZE 24)", b"A0003 OK"])],
     "bad UID in a FETCH reply"),
    ([select(), reply_to(LIST_CMD, [b"* 1 FETCH (UID 1 RFC822.SIZE -24)", b"A0003 OK"])],
     "bad RFC822.SIZE in a FETCH reply"),
], ids=["exists-huge", "exists-negative", "uidvalidity-negative", "uidvalidity-huge",
        "uidvalidity-missing", "uid-huge", "uid-negative", "size-negative"])
def test_bad_numbers(bin, script_peer, tmp_path, steps, reason):
    peer = script_peer([GREETING, LOGIN] + steps + [expect_eof(timeout=10)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert_failed(r, peer, tmp_path, "isp: " + reason)


def test_login_refused(bin, script_peer, tmp_path):
    peer = script_peer([
        GREETING,
        reply_to(b'A0001 LOGIN "u" "p"', [b"A0001 NO [AUTHENTICATIONFAILED] Authentication failed."]),
        expect_eof(timeout=10),
    ])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert_failed(r, peer, tmp_path, "isp: login refused: [AUTHENTICATIONFAILED] Authentication failed.")


# --- the listing against the server's count (EXISTS) ---------------------------

def msg(uid):
    return b"Subject: message %d\r\n\r\nbody %d\r\n" % (uid, uid)


def examine(exists):
    return reply_to(b"A0002 EXAMINE INBOX", [b"* %d EXISTS" % exists, b"* OK [UIDVALIDITY 7] ok",
                                             b"A0002 OK [READ-ONLY] examined"])


def listing(first, seq_uids):
    """Expects the listing from FIRST; answers one FETCH per (seq, uid)."""
    return reply_to(b"A0003 UID FETCH %d:* (UID RFC822.SIZE)" % first,
                    [b"* %d FETCH (UID %d RFC822.SIZE %d)" % (seq, uid, len(msg(uid)))
                     for seq, uid in seq_uids] + [b"A0003 OK done"])


def retrieve(tag, uids):
    """Expects one pipelined UID FETCH per UID from TAG on; answers them."""
    steps = [expect(b"A%04d UID FETCH %d (BODY.PEEK[] RFC822.SIZE)" % (tag + i, uid))
             for i, uid in enumerate(uids)]
    steps.append(send_raw(b"".join(
        b"* 1 FETCH (UID %d BODY[] {%d}\r\n%s)\r\nA%04d OK done\r\n" % (uid, len(msg(uid)), msg(uid), tag + i)
        for i, uid in enumerate(uids))))
    return steps


def remove(tag, uid, store_reply=b"OK stored"):
    return [expect(b"A%04d UID STORE %d +FLAGS.SILENT (\\Seen \\Deleted)" % (tag, uid)),
            expect(b"A%04d UID EXPUNGE %d" % (tag + 1, uid)),
            send_raw(b"A%04d %s\r\nA%04d OK expunged\r\n" % (tag, store_reply, tag + 1))]


def logout(tag):
    return reply_to(b"A%04d LOGOUT" % tag, [b"* BYE logging out", b"A%04d OK done" % tag])


def delivered_uids(tmp_path):
    """The UIDs of the msg() messages delivered, sorted (once per copy)."""
    uids = []
    for path in delivered(tmp_path):
        with open(path, "rb") as f:
            uids.append(int(f.read().rsplit(b"body ", 1)[1]))
    return sorted(uids)


def test_exists_but_listed_nothing(bin, script_peer, tmp_path):
    """A server that counts 50 messages and lists none: the run fails for
    the folder, says both, fetches and removes nothing, and is not taken
    for "no new mail"."""
    peer = script_peer([GREETING, LOGIN, select(b"50"),
                        reply_to(LIST_CMD, [b"* 3 FETCH (FLAGS (\\Seen) UID 9)", b"A0003 OK done"]),
                        logout(4)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port), "-v")
    assert r.rc == 1, r
    assert ("isp: INBOX: EXISTS is 50 but the server lists no message: nothing fetched, "
            "the mail stays on the server") in r.err, r
    assert "no new mail" not in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert peer.received[-1] == b"A0004 LOGOUT", peer.transcript()
    assert delivered(tmp_path) == [], r


def test_fewer_than_exists(bin, script_peer, tmp_path):
    """Listed 2 of 3: both numbers logged, what was listed fetched."""
    peer = script_peer([GREETING, LOGIN, select(b"3"), listing(1, [(1, 1), (3, 3)])]
                       + retrieve(4, [1, 3])
                       + [expect(b"A0006 UID STORE 1,3 +FLAGS.SILENT (\\Seen \\Deleted)"),
                          expect(b"A0007 UID EXPUNGE 1,3"),
                          send_raw(b"A0006 OK stored\r\nA0007 OK expunged\r\n"), logout(8)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert r.rc == 0, r
    assert "isp: INBOX: EXISTS is 3 but the server lists 2 messages" in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert delivered_uids(tmp_path) == [1, 3], r


def test_short_listing_holds_the_watermark(bin, script_peer, tmp_path):
    """keep = true: a listing short of EXISTS must not move the watermark
    past the message it left out, or that message is never fetched."""
    peer = script_peer([GREETING, LOGIN, examine(3), listing(1, [(1, 1), (3, 3)])]
                       + retrieve(4, [1, 3]) + [logout(6)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port, keep=True))
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    peer = script_peer([GREETING, LOGIN, examine(3), listing(1, [(1, 1), (2, 2), (3, 3)])]
                       + retrieve(4, [2]) + [logout(5)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port, keep=True))
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert delivered_uids(tmp_path) == [1, 2, 3], r


def test_short_listing_keeps_the_state(bin, script_peer, tmp_path):
    """keep = false: a message delivered but not yet removed (its STORE
    failed) that a short listing leaves out stays in the state, so the
    next run removes it instead of fetching it again."""
    peer = script_peer([GREETING, LOGIN, select(b"1"), listing(1, [(1, 1)])] + retrieve(4, [1])
                       + remove(5, 1, store_reply=b"NO [CANNOT] not now") + [logout(7)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert r.rc == 1 and "isp: UID STORE/EXPUNGE refused: [CANNOT] not now" in r.err, r
    assert peer.wait() == [], peer.transcript()
    peer = script_peer([GREETING, LOGIN, select(b"2"), listing(1, [(2, 2)])] + retrieve(4, [2])
                       + remove(5, 2) + [logout(7)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    peer = script_peer([GREETING, LOGIN, select(b"1"), listing(1, [(1, 1)])] + remove(4, 1)
                       + [logout(6)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert r.rc == 0, r
    assert peer.wait() == [], peer.transcript()
    assert delivered_uids(tmp_path) == [1, 2], r


def test_shared_uid_left_upstream(bin, script_peer, tmp_path):
    """Two messages listed with one UID (a server bug): fetching one would
    record the UID as fetched, and UID STORE / UID EXPUNGE 5 would remove
    both. Both stay upstream with a warning naming the UID, as POP3's
    shared UIDLs do; the rest of the folder is fetched and the run
    succeeds."""
    peer = script_peer([GREETING, LOGIN, select(b"3"),
                        reply_to(LIST_CMD, [b"* 1 FETCH (UID 5 RFC822.SIZE %d)" % len(msg(5)),
                                            b"* 2 FETCH (UID 5 RFC822.SIZE %d)" % len(msg(5)),
                                            b"* 3 FETCH (UID 6 RFC822.SIZE %d)" % len(msg(6)),
                                            b"A0003 OK done"])]
                       + retrieve(4, [6]) + remove(5, 6) + [logout(7)])
    r = run_fetcher(bin, write_conf(tmp_path, peer.port))
    assert r.rc == 0, r
    assert ("isp: INBOX: more than one message has the UID 5 (a server bug), so none of them "
            "can be tracked: left on the server") in r.err, r
    assert "EXISTS is" not in r.err, r
    assert peer.wait() == [], peer.transcript()
    assert delivered_uids(tmp_path) == [6], r
