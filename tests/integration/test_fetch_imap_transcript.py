"""Transcript tests of homemail-fetcher's IMAP client against the scripted
peer: the exact commands of a normal run, and for each hostile or broken
server (the bug classes of fetchmail's advisories) exit status 1, one clear
line naming the account, no STORE/EXPUNGE sent and nothing delivered."""
import os
import textwrap

import pytest

import fixtures
from fixtures.scriptpeer import expect, expect_eof, long_line, reply_to, send, send_raw

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


def write_conf(tmp_path, port, tls="none", extra=""):
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
              keep = false; to = "alice"; %(extra)s }
          );
        };
        """) % {"tmp": tmp_path, "port": port, "tls": tls, "extra": extra})
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

