"""OAuth2 failure challenges that no real server sends on demand, played by
the scripted peer beside the real Dovecot and Postfix of the other OAuth2
tests (issue 12): malformed base64, base64 that is not JSON, JSON without
the fields, a line over the limit. Each is answered with the empty response
RFC 7628 asks for (or the connection is dropped when the line is too long),
reported in words, and never leaks the token; the fetcher and the relay's
smart-host client behave alike."""
import base64
import re
import textwrap

import pytest

import fixtures
from fixtures.scriptpeer import accept_next, expect, expect_eof, long_line, reply_to, send

B64 = base64.b64encode


@pytest.fixture(autouse=True)
def _reset(oauth2_server):
    oauth2_server.reset()
    oauth2_server.user = "u@isp.example"
    oauth2_server.interval = 1
    oauth2_server.device_pending = 0
    yield


def oauth2_group(s, cert):
    return ('oauth2 = { provider = "custom"; client_id = "%s"; scope = "mail"; token_url = "%s";'
            ' device_url = "%s"; ca_file = "%s"; };' % (s.client_id, s.token_url, s.device_url,
                                                        cert.cert))


def sign_in(bin, conf, name):
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "login", name], timeout=60)
    assert r.rc == 0, r


def stored_token(tmp_path):
    import json
    import os
    folder = tmp_path / "state" / "oauth"
    (name,) = [n for n in os.listdir(folder) if n.endswith(".json")]
    return json.loads((folder / name).read_text())


# name: (the challenge, the client's answer, what the log says). A
# challenge that is not base64 cannot be a SASL step: the client cancels
# the exchange ("*", RFC 3501 6.2.2 and RFC 4954 4) and, as this is no
# sign of a stale token, does not try again with a fresh one.
CHALLENGES = {
    "not-base64": (b"!!not*base64!!", b"*",
                   "the server's OAUTHBEARER challenge: invalid base64"),
    "not-json": (B64(b"<html>no</html>"), b"AQ==", "could not be read"),
    "json-without-status": (B64(b'{"schemes":"bearer"}'), b"AQ==", "could not be read"),
    "invalid-token": (B64(b'{"status":"invalid_token","scope":"mail"}'), b"AQ==",
                      "the access token is invalid or expired (invalid_token; scope mail)"),
}


def fetch_conf(tmp_path, port, s, cert):
    conf = tmp_path / "homemail.conf"
    conf.write_text(textwrap.dedent("""\
        hostname = "box.test";
        state_dir = "%(tmp)s/state";
        mail_dir = "%(tmp)s/mail";
        local_domains = [ "box.test" ];
        users = ( { name = "alice"; } );
        fetcher = { deliver = "local"; accounts = ( {
          name = "isp"; protocol = "imap"; host = "127.0.0.1"; port = %(port)d; tls = "none";
          user = "u@isp.example"; auth = "oauth2"; keep = true; to = "alice";
          %(o2)s } ); };
        """) % {"tmp": tmp_path, "port": port, "o2": oauth2_group(s, cert)})
    return conf


def imap_refusal(challenge, answer):
    """One IMAP login with OAUTHBEARER (SASL-IR) refused with challenge."""
    return [
        send(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready"),
        expect(b"A0001 AUTHENTICATE OAUTHBEARER ", prefix=True),
        send(b"+ " + challenge),
        expect(answer),
        send(b"A0001 NO [AUTHENTICATIONFAILED] Authentication failed."),
    ]


@pytest.mark.parametrize("case", sorted(CHALLENGES))
def test_fetcher_imap_challenge(bin, script_peer, tmp_path, tls_cert, oauth2_server, case):
    challenge, answer, words = CHALLENGES[case]
    again = answer != b"*"
    peer = script_peer(imap_refusal(challenge, answer) +
                       ([accept_next()] + imap_refusal(challenge, answer) if again else []) +
                       [expect_eof()])
    conf = fetch_conf(tmp_path, peer.port, oauth2_server, tls_cert)
    sign_in(bin, conf, "isp")
    r = fixtures.run([bin("fetcher/homemail-fetcher"), "-c", conf, "--once", "-v"], timeout=60)
    assert peer.wait() == [], (peer.transcript(), r)
    assert r.rc == 1, r
    assert words in r.err, r.err
    assert ("refreshing the access token once" in r.err) == again, r.err
    tok = stored_token(tmp_path)
    assert tok["access_token"] not in r.err and tok["refresh_token"] not in r.err


@pytest.mark.parametrize("size", [100000, 2 * 1024 * 1024])
def test_fetcher_challenge_too_long(bin, script_peer, tmp_path, tls_cert, oauth2_server, size):
    """A challenge of 100,000 octets is over what a SASL challenge may be:
    cancelled. One of 2 MiB is over the IMAP reader's line bound: the
    fetcher drops the connection. Either way it says why."""
    script = [
        send(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready"),
        expect(b"A0001 AUTHENTICATE OAUTHBEARER ", prefix=True),
        long_line(size, fill=b"A", prefix=b"+ "),
    ]
    if size < 1024 * 1024:
        script += [expect(b"*"), send(b"A0001 BAD cancelled")]
    peer = script_peer(script + [expect_eof()])
    conf = fetch_conf(tmp_path, peer.port, oauth2_server, tls_cert)
    sign_in(bin, conf, "isp")
    r = fixtures.run([bin("fetcher/homemail-fetcher"), "-c", conf, "--once"], timeout=60)
    assert peer.wait() == [], (peer.transcript(), r)
    assert r.rc == 1, r
    assert re.search(r"isp: .*(too long|longer than|over)", r.err), r.err


def smarthost_conf(tmp_path, port, s, cert):
    conf = tmp_path / "homemail.conf"
    conf.write_text(
        'hostname = "box.home.example";\n'
        'state_dir = "%(d)s/state";\nmail_dir = "%(d)s/mail";\n'
        'local_domains = [ "box.lan" ];\n'
        'users = ( { name = "alice"; send_as = "u@isp.example"; } );\n'
        'relay = { smarthosts = ( { name = "isp"; host = "127.0.0.1"; port = %(port)d;\n'
        '  tls = "none"; user = "u@isp.example"; auth = "oauth2"; %(o2)s } ); };\n'
        % {"d": tmp_path, "port": port, "o2": oauth2_group(s, cert)})
    return conf


def smtp_refusal(challenge, answer):
    return [
        expect(b"AUTH OAUTHBEARER ", prefix=True),
        send(b"334 " + challenge),
        expect(answer),
        send(b"535 5.7.8 Authentication credentials invalid"),
    ]


@pytest.mark.parametrize("case", sorted(CHALLENGES))
def test_smarthost_challenge(bin, script_peer, tmp_path, tls_cert, oauth2_server, case):
    """The relay's smart-host client (tests/tools/hm-smarthost-send): the
    refusal in words, a second AUTH with a refreshed token on the same
    session where the token may be at fault, and the mail kept (code 0:
    not attempted, as a down smart host)."""
    challenge, answer, words = CHALLENGES[case]
    again = answer != b"*"
    peer = script_peer(
        [send(b"220 sh.test ESMTP"),
         reply_to(b"EHLO box.home.example", [b"250-sh.test", b"250 AUTH OAUTHBEARER XOAUTH2"])] +
        smtp_refusal(challenge, answer) + (smtp_refusal(challenge, answer) if again else []) +
        [reply_to(b"QUIT", [b"221 bye"])])
    conf = smarthost_conf(tmp_path, peer.port, oauth2_server, tls_cert)
    sign_in(bin, conf, "isp")
    msg = tmp_path / "message"
    msg.write_bytes(b"From: <alice@box.lan>\r\nSubject: t\r\n\r\nbody\r\n")
    r = fixtures.run([bin("tests/tools/hm-smarthost-send"), "-v", "-c", conf, "--message", msg,
                      "--from", "alice@box.lan", "x@remote.example"], timeout=60)
    assert peer.wait() == [], (peer.transcript(), r)
    assert r.rc == 0, r
    assert r.out.startswith("x@remote.example code=0 "), r
    assert words in r.out, r
    assert ("refreshing it once" in r.err) == again, r.err
    tok = stored_token(tmp_path)
    assert tok["access_token"] not in r.out + r.err
    assert tok["refresh_token"] not in r.out + r.err
