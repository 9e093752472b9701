"""The smart-host fixture (fixtures.postfix.PostfixSmarthost) proven with
real clients before the relay's tests rely on it: swaks and msmtp submit
through STARTTLS or implicit TLS with AUTH PLAIN/LOGIN; refusals come with
Postfix's own words; every accepted message is read back with its envelope.
"""
import hashlib
import os
import smtplib
import socket
import ssl
import subprocess

import pytest

import fixtures
from fixtures.tls import openssl_fingerprint

ALICE, ALICE_PW = "alice@isp.example", "alice-Pw.5e1"
BOB, BOB_PW = "bob@isp.example", "bob-Pw.77c"
FAIL_RCPT = {"temp@remote.example": "450 4.2.0 try later",
             "gone@remote.example": "550 5.1.1 no such user"}


@pytest.fixture(scope="module")
def sh(postfix_smarthost):
    """The strict ISP: TLS required, sender must be the login."""
    return postfix_smarthost(users={ALICE: ALICE_PW, BOB: BOB_PW}, fail_rcpt=FAIL_RCPT,
                             enforce_sender=True)


@pytest.fixture(scope="module")
def lax(postfix_smarthost):
    """TLS offered but not required, no implicit-TLS port, any sender, and
    Postfix's own smuggling defence on."""
    return postfix_smarthost(users={ALICE: ALICE_PW}, require_tls=False, implicit_tls=False,
                             bare_newline="normalize")


@pytest.fixture(autouse=True)
def _fresh(request):
    for name in ("sh", "lax"):
        if name in request.fixturenames:
            request.getfixturevalue(name).clear()


def swaks(peer, *args, tls="--tls", port=None, to="rcpt@remote.example", sender=ALICE):
    argv = ["swaks", "--server", peer.host, "--port", port or peer.port, "--to", to,
            "--from", sender, "--ehlo", "box.home.example", "--tls-verify",
            "--tls-ca-path", peer.ca_file, "--tls-sni", "localhost"]
    if tls:
        argv.append(tls)
    return fixtures.run(argv + list(args), timeout=20)


def auth(mech, user=ALICE, password=ALICE_PW):
    return ["--auth", mech, "--auth-user", user, "--auth-password", password]


def test_certificate_and_fingerprint(sh):
    assert sh.fingerprint == openssl_fingerprint(sh.cert_file)[7:].replace(":", "").lower()
    assert len(sh.fingerprint) == 64
    # The CA is a CA, not the server certificate itself: pinning and chain
    # verification are different paths in the relay.
    assert openssl_fingerprint(sh.ca_file) != openssl_fingerprint(sh.cert_file)
    ctx = ssl.create_default_context(cafile=sh.ca_file)
    for name in ("localhost", "127.0.0.1"):
        with socket.create_connection((sh.host, sh.tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                assert s.recv(512).startswith(b"220 ")
                der = s.getpeercert(binary_form=True)
    assert hashlib.sha256(der).hexdigest() == sh.fingerprint


def test_starttls_auth_plain_delivers_with_envelope(sh):
    r = swaks(sh, *auth("PLAIN"), "--header", "Subject: plain-1",
              "--body", "hello through the smart host", to="x@remote.example,y@other.example")
    assert r.rc == 0, r
    assert "250 2.0.0 Ok: queued" in r.out, r
    (msg,) = sh.wait_messages(1)
    assert msg.mail_from == ALICE
    assert sorted(msg.rcpt_to) == ["x@remote.example", "y@other.example"]
    assert b"Subject: plain-1\r\n" in msg.content
    assert b"hello through the smart host" in msg.content
    assert msg.raw.startswith(b"Received: from box.home.example")
    assert b"with ESMTPSA" in msg.raw.split(b"\n\n", 1)[0]
    assert not msg.content.startswith(b"Received:")


def test_auth_login_and_implicit_tls(sh):
    r = swaks(sh, *auth("LOGIN", BOB, BOB_PW), sender=BOB, tls="--tls-on-connect",
              port=sh.tls_port, to="z@remote.example")
    assert r.rc == 0, r
    (msg,) = sh.wait_messages(1)
    assert (msg.mail_from, msg.rcpt_to) == (BOB, ["z@remote.example"])


def test_without_auth_relaying_is_refused(sh):
    r = swaks(sh)
    assert r.rc != 0
    assert "554 5.7.1 <rcpt@remote.example>: Relay access denied" in r.out, r


def test_tls_required_before_mail(sh):
    r = swaks(sh, tls=None)
    assert "530 5.7.0 Must issue a STARTTLS command first" in r.out, r
    # AUTH is not even offered before TLS.
    ehlo = r.out.split("STARTTLS", 1)[0]
    assert "AUTH" not in ehlo, r


def test_wrong_password_is_refused(sh):
    for mech in ("PLAIN", "LOGIN"):
        r = swaks(sh, *auth(mech, password="not-it"))
        assert r.rc != 0
        assert "535 5.7.8 Error: authentication failed" in r.out, r
    assert sh.messages() == []


def test_fail_rcpt_answers_with_its_code(sh):
    for rcpt, want in FAIL_RCPT.items():
        r = swaks(sh, *auth("PLAIN"), to=rcpt)
        code, dsn, text = want.split(" ", 2)
        assert "%s %s <%s>: Recipient address rejected: %s" % (code, dsn, rcpt, text) in r.out, r
    # One bad recipient among good ones: the others are delivered.
    with smtp_session(sh) as s:
        refused = s.sendmail(ALICE, ["ok@remote.example", "temp@remote.example"], b"Subject: t\r\n\r\nx\r\n")
    assert refused == {"temp@remote.example": (450, b"4.2.0 <temp@remote.example>: "
                                                     b"Recipient address rejected: try later")}
    (msg,) = sh.wait_messages(1)
    assert msg.rcpt_to == ["ok@remote.example"]


def test_set_fail_rcpt_holds_from_next_connection(sh):
    sh.set_fail_rcpt({"later@remote.example": "451 4.3.0 queue full"})
    try:
        with smtp_session(sh) as s:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                s.sendmail(ALICE, ["later@remote.example"], b"\r\n")
        assert e.value.recipients["later@remote.example"][0] == 451
        r = swaks(sh, *auth("PLAIN"), to="temp@remote.example")
        assert r.rc == 0, r
        (msg,) = sh.wait_messages(1)
        assert msg.rcpt_to == ["temp@remote.example"]
    finally:
        sh.set_fail_rcpt(FAIL_RCPT)


def test_sender_must_be_the_login(sh):
    r = swaks(sh, *auth("PLAIN"), sender=BOB)
    assert r.rc != 0
    assert ("553 5.7.1 <%s>: Sender address rejected: not owned by user %s" % (BOB, ALICE)) in r.out, r
    # The null sender (a bounce the relay forwards) is not refused.
    with smtp_session(sh) as s:
        s.sendmail("<>", ["dsn@remote.example"], b"Subject: bounce\r\n\r\nx\r\n")
    (msg,) = sh.wait_messages(1)
    assert (msg.mail_from, msg.rcpt_to) == ("", ["dsn@remote.example"])


def test_msmtp(sh, hm_tmp):
    rc = os.path.join(hm_tmp, "msmtprc-smarthost")
    with open(rc, "w") as f:
        f.write("account isp\nhost %s\nport %d\ntls on\ntls_starttls on\ntls_trust_file %s\n"
                "auth on\nuser %s\npassword %s\nfrom %s\ndomain box.home.example\n"
                "set_date_header off\nset_msgid_header off\n"
                % (sh.host, sh.port, sh.ca_file, ALICE, ALICE_PW, ALICE))
    os.chmod(rc, 0o600)
    body = b"From: Alice <alice@isp.example>\r\nSubject: via msmtp\r\n\r\nline one\r\n.dot line\r\n"
    r = subprocess.run(["msmtp", "-C", rc, "-a", "isp", "m1@remote.example", "m2@remote.example"],
                       input=body, capture_output=True, timeout=20)
    assert r.returncode == 0, r
    (msg,) = sh.wait_messages(1)
    assert msg.mail_from == ALICE
    assert sorted(msg.rcpt_to) == ["m1@remote.example", "m2@remote.example"]
    assert msg.content == body


def test_lax_instance_plain_session(lax):
    """require_tls=False: mail may start without TLS, but AUTH is still
    offered only after STARTTLS, so relaying stays refused."""
    with smtplib.SMTP(lax.host, lax.port, timeout=10) as s:
        s.ehlo("box.home.example")
        assert not s.has_extn("auth")
        assert s.has_extn("starttls")
        assert s.docmd("MAIL FROM:<%s>" % BOB)[0] == 250
        code, text = s.docmd("RCPT TO:<x@remote.example>")
        assert (code, text) == (554, b"5.7.1 <x@remote.example>: Relay access denied")
    assert lax.tls_port is None
    with smtp_session(lax) as s:
        s.sendmail(BOB, ["x@remote.example"], b"Subject: any sender\r\n\r\nx\r\n")
    (msg,) = lax.wait_messages(1)
    assert msg.mail_from == BOB


SMUGGLE = (b"Subject: outer\r\n\r\nbody\n.\nMAIL FROM:<%s>\r\nRCPT TO:<evil@remote.example>\r\n"
           b"DATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n" % ALICE.encode())


def raw_data(peer, payload, replies):
    """One authenticated transaction whose DATA bytes are PAYLOAD as they
    are (no dot-stuffing, no line-ending fixes), reading REPLIES replies."""
    with smtp_session(peer) as s:
        assert s.docmd("MAIL FROM:<%s>" % ALICE)[0] == 250
        assert s.docmd("RCPT TO:<bob@remote.example>")[0] == 250
        assert s.docmd("DATA")[0] == 354
        s.send(payload)
        return [s.getreply() for _ in range(replies)]


def test_bare_lf_dot_ends_data_by_default(sh):
    """smtpd_forbid_bare_newline = no (the fixture's default): a bare-LF
    "." ends DATA, so a smuggled message arrives as a second one. This is
    what the relay's smuggling test detects."""
    got = raw_data(sh, SMUGGLE, 5)
    assert [c for c, _ in got] == [250, 250, 250, 354, 250]
    msgs = sh.wait_messages(2)
    assert [m.rcpt_to for m in msgs] == [["bob@remote.example"], ["evil@remote.example"]]


def test_dot_line_as_content_arrives_once(sh):
    """What a correct relay sends for that input: the "." line stuffed
    (".."), CRLF endings. One message, the "." line and the would-be
    commands as content."""
    stuffed = SMUGGLE.replace(b"body\n.\n", b"body\r\n..\r\n")
    assert raw_data(sh, stuffed, 1)[0][0] == 250
    (msg,) = sh.wait_messages(1)
    assert b"\nbody\n.\nMAIL FROM:" in msg.raw
    assert b"\r\nbody\r\n.\r\nMAIL FROM:" in msg.content
    assert b"Subject: smuggled" in msg.content


def test_bare_newline_normalize(lax):
    """bare_newline="normalize": Postfix itself ends DATA only at
    <CR><LF>.<CR><LF> (and drops the bare-LF "." line)."""
    assert raw_data(lax, SMUGGLE, 1)[0][0] == 250
    (msg,) = lax.wait_messages(1)
    assert b"\nbody\nMAIL FROM:" in msg.raw


# -- helpers ----------------------------------------------------------------
class smtp_session:
    """smtplib session after STARTTLS (verified against the fixture's CA)
    and AUTH as ALICE; closed at the end of the with block."""

    def __init__(self, peer):
        self.peer = peer

    def __enter__(self):
        self.s = smtplib.SMTP(self.peer.host, self.peer.port, local_hostname="box.home.example",
                              timeout=10)
        self.s.starttls(context=ssl.create_default_context(cafile=self.peer.ca_file))
        self.s.login(ALICE, ALICE_PW)
        return self.s

    def __exit__(self, *exc):
        try:
            self.s.quit()
        except smtplib.SMTPException:
            self.s.close()

