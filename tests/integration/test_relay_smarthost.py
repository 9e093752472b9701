"""relay/smarthost.c (through tests/tools/hm-smarthost-send) against a real
Postfix as the ISP's submission server (fixtures.postfix.PostfixSmarthost):
STARTTLS or implicit TLS, the certificate verified by CA or by pin, AUTH,
the sender rewritten to what the ISP knows, per-recipient refusals, DSN
parameters Postfix accepts, our own refusals where it lacks an extension,
and no SMTP smuggling past it.
"""
import re

import pytest

import fixtures

ALICE, ALICE_PW = "alice@isp.example", "alice-Pw.5e1"
FAIL_RCPT = {"temp@remote.example": "450 4.2.0 try later",
             "gone@remote.example": "550 5.1.1 no such user"}

MSG = (b"From: Alice <alice@box.lan>\r\nTo: x@remote.example\r\nSubject: hello\r\n\r\n"
       b"body line\r\n")


@pytest.fixture(scope="module")
def sh(postfix_smarthost):
    """The strict ISP: TLS required, the sender must be the login."""
    return postfix_smarthost(users={ALICE: ALICE_PW}, fail_rcpt=FAIL_RCPT, enforce_sender=True)


@pytest.fixture(scope="module")
def small(postfix_smarthost):
    """An ISP with a 4000-octet SIZE and no implicit-TLS port."""
    return postfix_smarthost(users={ALICE: ALICE_PW}, implicit_tls=False, size_limit=4000)


@pytest.fixture(autouse=True)
def _fresh(request):
    for name in ("sh", "small"):
        if name in request.fixturenames:
            request.getfixturevalue(name).clear()


def conf(tmp_path, peer, tls="starttls", port=None, password=ALICE_PW, extra=""):
    """A config whose one smart host is peer; alice@box.lan sends as ALICE."""
    path = tmp_path / "homemail.conf"
    path.write_text(
        'hostname = "box.home.example";\n'
        'mail_dir = "%s/mail";\n'
        'local_domains = [ "box.lan" ];\n'
        'users = ( { name = "alice"; send_as = "%s"; }, { name = "bob"; } );\n'
        'relay = { rewrite_header_from = true;\n'
        '  smarthosts = ( { name = "isp"; host = "127.0.0.1"; port = %d; tls = "%s";\n'
        '    user = "%s"; password = "%s"; %s } ); };\n'
        % (tmp_path, ALICE, port or peer.port, tls, ALICE, password, extra))
    path.chmod(0o600)  # it holds a password
    return path


def send(bin, tmp_path, config, rcpts, message=MSG, sender="alice@box.lan", *args):
    msg = tmp_path / "message"
    msg.write_bytes(message)
    r = fixtures.run([bin("tests/tools/hm-smarthost-send"), "-v", "-c", config, "--message", msg,
                      "--from", sender, *args, *rcpts], timeout=60)
    assert r.rc == 0, r
    results = {}
    for line in r.out.splitlines():
        m = re.match(r"(\S+) code=(\d+) via=(\S+) dsn=([01]) reply=(.*)$", line)
        assert m, r
        results.setdefault(m.group(1), []).append(
            (int(m.group(2)), m.group(3), m.group(4) == "1", m.group(5)))
    return results, r


def test_starttls_auth_rewrite_and_one_connection(bin, tmp_path, sh):
    """Two messages over one verified STARTTLS session with AUTH: the
    envelope sender and From: leave as ALICE, so the strict ISP takes them."""
    cfg = conf(tmp_path, sh, extra='ca_file = "%s";' % sh.ca_file)
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"], MSG, "alice@box.lan",
                  "--repeat", "2")
    assert [c for c, *_ in res["x@remote.example"]] == [250, 250], r
    assert all(via == "127.0.0.1" for _, via, *_ in res["x@remote.example"])
    msgs = sh.wait_messages(2)
    assert [m.mail_from for m in msgs] == [ALICE, ALICE]
    assert msgs[0].rcpt_to == ["x@remote.example"]
    assert b"From: Alice <alice@isp.example>\r\n" in msgs[0].content
    assert b"Subject: hello\r\nbody line" not in msgs[0].content  # the blank line stays
    assert b"\r\n\r\nbody line\r\n" in msgs[0].content
    assert r.err.count(": C: EHLO box.home.example") == 2  # before and after STARTTLS
    assert r.err.count(": C: STARTTLS") == 1  # one session for both messages
    # Postfix offers PIPELINING and CHUNKING: each message goes with its
    # envelope as one group, never DATA.
    assert r.err.count(": C: BDAT ") == 2 and ": C: DATA" not in r.err, r.err
    assert "AUTH PLAIN ********" in r.err and ALICE_PW not in r.err


def test_implicit_tls_with_pin(bin, tmp_path, sh):
    cfg = conf(tmp_path, sh, tls="tls", port=sh.tls_port,
               extra='fingerprint = "sha256:%s";' % sh.fingerprint.upper())
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"])
    assert res["x@remote.example"][0][0] == 250, r
    assert sh.wait_messages(1)[0].mail_from == ALICE


def test_wrong_pin_waits_and_names_the_fingerprint(bin, tmp_path, sh):
    cfg = conf(tmp_path, sh, extra='fingerprint = "%s";' % ("00" * 32))
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"])
    code, via, _, reply = res["x@remote.example"][0]
    assert (code, via) == (0, "-"), r
    assert reply.startswith("smart host isp: TLS: "), reply
    assert sh.fingerprint in reply.replace(":", "").lower(), reply
    assert sh.messages() == []


def wrong_password_waits(bin, tmp_path, peer, inbox):
    """535 is a problem of our config, not of the message: code 0 (retry),
    the password nowhere in the trace, nothing in INBOX (a PostfixSmarthost)."""
    cfg = conf(tmp_path, peer, password="Wr0ng-Pw.x9", extra='ca_file = "%s";' % peer.ca_file)
    res, r = send(bin, tmp_path, cfg, ["x@remote.example", "y@remote.example"])
    for rcpt in ("x@remote.example", "y@remote.example"):
        code, via, _, reply = res[rcpt][0]
        assert code == 0, r
        assert "AUTH as %s refused (535 5.7.8" % ALICE in reply, reply
    assert "Wr0ng-Pw.x9" not in r.err
    assert inbox.messages() == []


def test_wrong_password_waits(bin, tmp_path, sh):
    wrong_password_waits(bin, tmp_path, sh, sh)


def test_per_recipient_outcomes_and_refused_sender(bin, tmp_path, sh):
    cfg = conf(tmp_path, sh, extra='ca_file = "%s";' % sh.ca_file)
    res, r = send(bin, tmp_path, cfg,
                  ["ok@remote.example", "temp@remote.example", "gone@remote.example"])
    assert res["ok@remote.example"][0][0] == 250, r
    assert res["temp@remote.example"][0][0] == 450
    assert res["temp@remote.example"][0][3].startswith("450 4.2.0")
    assert res["gone@remote.example"][0][0] == 550
    (msg,) = sh.wait_messages(1)
    assert msg.rcpt_to == ["ok@remote.example"]
    # A foreign sender is not ALICE's to use at this ISP: Postfix says so.
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"], MSG, "carol@elsewhere.example")
    code, _, _, reply = res["x@remote.example"][0]
    assert code == 553 and "not owned by user" in reply, r
    # A local user without send_as never gets that far.
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"], MSG, "bob@box.lan")
    code, via, _, reply = res["x@remote.example"][0]
    assert (code, via) == (553, "-") and reply.startswith("5.7.1 this relay refused "), r


def test_dsn_parameters_accepted(bin, tmp_path, sh):
    cfg = conf(tmp_path, sh, extra='ca_file = "%s";' % sh.ca_file)
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"], MSG, "alice@box.lan",
                  "--notify", "SUCCESS,FAILURE", "--orcpt", "rfc822;x+1@remote.example",
                  "--ret", "HDRS", "--envid", "env id=1")
    code, _, dsn, _ = res["x@remote.example"][0]
    assert code == 250 and dsn, r
    assert ": C: MAIL FROM:<%s> SIZE=" % ALICE in r.err
    assert "RET=HDRS ENVID=env+20id+3D1" in r.err
    assert "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+2B1@remote.example" in r.err
    sh.wait_messages(1)


def test_no_smuggling_past_postfix(bin, tmp_path, sh):
    """A "." line (CRLF, or bare LF) inside the stored message is content:
    Postfix, which would take "<LF>.<LF>" as the end of DATA, receives one
    message holding the would-be commands as text."""
    smuggle = (b"Subject: s\r\n\r\nfirst\r\n.\r\nMAIL FROM:<alice@isp.example>\r\n"
               b"RCPT TO:<victim@remote.example>\r\nDATA\r\nsmuggled\n.\nlast\r\n")
    cfg = conf(tmp_path, sh, extra='ca_file = "%s";' % sh.ca_file)
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"], smuggle)
    assert res["x@remote.example"][0][0] == 250, r
    (msg,) = sh.wait_messages(1)
    assert msg.rcpt_to == ["x@remote.example"]
    assert b"\r\n.\r\nMAIL FROM:<alice@isp.example>\r\n" in msg.content
    assert b"smuggled\r\n.\r\nlast" in msg.content
    assert len(sh.messages()) == 1


def test_what_the_smart_host_lacks(bin, tmp_path, small):
    """Postfix here offers neither SMTPUTF8 nor more than 4000 octets: a
    message that needs either bounces (ours, 5xx, the smart host not named
    as the one that refused) without being sent."""
    cfg = conf(tmp_path, small, extra='ca_file = "%s";' % small.ca_file)
    res, r = send(bin, tmp_path, cfg, ["j\u00f6rg@remote.example"], MSG, "alice@box.lan",
                  "--smtputf8")
    code, via, _, reply = res["j\u00f6rg@remote.example"][0]
    assert (code, via) == (553, "-"), r
    assert reply == ("5.6.7 this relay refused to send the message: it needs SMTPUTF8 "
                     "(UTF-8 addresses), which the smart host isp does not offer")
    big = MSG + b"x" * 5000 + b"\r\n"
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"], big)
    code, _, _, reply = res["x@remote.example"][0]
    assert code == 552 and reply.startswith("5.3.4 this relay refused to send the message: "
                                            "its size of "), r
    assert reply.endswith(" octets exceeds the limit of 4000 octets that the smart host isp "
                          "announces"), r
    assert "MAIL FROM" not in r.err
    assert small.messages() == []
