"""relay/smarthost.c (through tests/tools/hm-smarthost-send) against a second
real smart-host implementation: Dovecot's submission service
(fixtures.submission.DovecotSubmission, STARTTLS + AUTH PLAIN, our
tls_cert verified by ca_file), relaying to a PostfixSmarthost where the
mail is read back.

Dovecot offers PIPELINING and CHUNKING, so our client sends MAIL, RCPT...
and "BDAT n LAST" with the message as one group (lib/smtpc-txn.c,
txn_chunked). test_relay_smarthost.py shows that works with Postfix; this
shows it with a server that is not Postfix: the replies come back in order,
per recipient, over one session, and the message arrives unchanged but for
the rewritten sender and Dovecot's Received: field.
"""
import pytest

from test_relay_smarthost import ALICE, ALICE_PW, MSG, conf, send, wrong_password_waits

RELAY, RELAY_PW = "submission@isp.example", "relay-Pw.3c8"
GONE = "gone@remote.example"


@pytest.fixture(scope="module")
def backend(postfix_smarthost):
    """The relay host behind Dovecot; it refuses GONE at RCPT."""
    return postfix_smarthost(users={RELAY: RELAY_PW}, implicit_tls=False,
                             fail_rcpt={GONE: "550 5.1.1 no such user"})


@pytest.fixture(scope="module")
def sub(dovecot_submission, backend):
    return dovecot_submission(users={ALICE: ALICE_PW}, relay=backend, relay_user=RELAY,
                              relay_password=RELAY_PW)


@pytest.fixture(autouse=True)
def _fresh(backend):
    backend.clear()


def without_dovecot_trace(content):
    """CONTENT without the Received: field Dovecot puts first."""
    assert content.startswith(b"Received: from box.home.example "), content
    lines = content.split(b"\r\n")
    i = 1
    while lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


def test_two_messages_chunked_over_one_session(bin, tmp_path, sub, backend):
    """Two messages over one verified STARTTLS session with AUTH, each as
    one MAIL/RCPT/BDAT group: sender and From: leave as ALICE, the rest of
    the message byte for byte."""
    cfg = conf(tmp_path, sub, extra='ca_file = "%s";' % sub.ca_file)
    res, r = send(bin, tmp_path, cfg, ["x@remote.example"], MSG, "alice@box.lan",
                  "--repeat", "2")
    assert [c for c, *_ in res["x@remote.example"]] == [250, 250], r
    msgs = backend.wait_messages(2)
    assert [m.mail_from for m in msgs] == [ALICE, ALICE]
    assert [m.rcpt_to for m in msgs] == [["x@remote.example"]] * 2
    rewritten = MSG.replace(b"From: Alice <alice@box.lan>", b"From: Alice <alice@isp.example>")
    assert [without_dovecot_trace(m.content) for m in msgs] == [rewritten] * 2
    assert r.err.count(": C: STARTTLS") == 1  # one session for both messages
    # Dovecot would take AUTH in clear from 127.0.0.1 (fixtures/submission.py).
    assert r.err.index(": C: STARTTLS") < r.err.index(": C: AUTH PLAIN ********")
    assert r.err.count(": C: BDAT ") == 2 and ": C: DATA" not in r.err, r.err
    # The envelope and the chunk went out before the first reply came.
    trace = [line.split(": ", 3)[3] for line in r.err.splitlines()
             if ": C: " in line or ": S: " in line]
    i = trace.index("C: MAIL FROM:<%s> SIZE=%d" % (ALICE, len(rewritten)))
    assert [t[:7] for t in trace[i:i + 5]] == ["C: MAIL", "C: RCPT", "C: BDAT", "C: <mes",
                                               "S: 250 "], r.err
    assert "AUTH PLAIN ********" in r.err and ALICE_PW not in r.err


def test_per_recipient_outcomes(bin, tmp_path, sub, backend):
    """The backend refuses GONE; Dovecot passes its reply on (prefixing the
    address once more), and our client settles each recipient by its own."""
    cfg = conf(tmp_path, sub, extra='ca_file = "%s";' % sub.ca_file)
    res, r = send(bin, tmp_path, cfg, ["ok@remote.example", GONE])
    assert res["ok@remote.example"][0][0] == 250, r
    code, via, _, reply = res[GONE][0]
    assert (code, via) == (550, "127.0.0.1"), r
    assert reply.startswith("550 5.1.1 <%s>" % GONE) and "no such user" in reply, reply
    (msg,) = backend.wait_messages(1)
    assert msg.rcpt_to == ["ok@remote.example"]
    assert r.err.count(": C: BDAT ") == 1 and ": C: DATA" not in r.err, r.err


def test_wrong_password_waits(bin, tmp_path, sub, backend):
    wrong_password_waits(bin, tmp_path, sub, backend)
