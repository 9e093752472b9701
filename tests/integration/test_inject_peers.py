"""Smoke tests of the peers the fetcher injects into: a real Postfix (SMTP,
fixtures.postfix) and Dovecot's LMTP (fixtures.dovecot: lmtp_port,
lmtp_socket), driven by Python's smtplib, so that the fetcher's end-to-end
tests stand on fixtures known to deliver byte-identical bodies."""
import os
import smtplib


from fixtures.corpus import lf

# Dots at line starts (dot-stuffing), an 8-bit line, a long line.
MSG = (b"From: Sender <sender@x.test>\r\nTo: user@box.test\r\nSubject: smoke\r\n"
       b"Message-ID: <smoke-1@x.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
       b"line one\r\n.leading dot\r\n..two dots\r\n.\r\n\xc3\xa4 eight bit\r\n"
       + b"x" * 900 + b"\r\nlast line\r\n")


def new_messages(before, after):
    return [data for name, data in after.items() if name not in before]


def assert_delivered_intact(stored, msg=MSG):
    """The stored file (LF line ends) is MSG with trace fields on top."""
    head, body = lf(msg).split(b"\n\n", 1)
    assert stored.endswith(b"\n\n" + body)
    stored_head = stored[:len(stored) - len(body) - 2]
    assert stored_head.endswith(head), stored_head


def test_postfix_smtp_delivers_to_maildir(postfix):
    before = postfix.read_maildir()
    with smtplib.SMTP(postfix.host, postfix.port, local_hostname="client.test", timeout=30) as s:
        code, ext = s.ehlo()
        assert code == 250 and b"PIPELINING" in ext
        assert s.sendmail("sender@x.test", ["user@box.test"], MSG) == {}
    new = new_messages(before, postfix.wait_for_mail(len(before) + 1))
    assert len(new) == 1
    assert new[0].startswith(b"Return-Path: <sender@x.test>\n")
    assert b"\nDelivered-To: user@box.test\n" in new[0]
    assert_delivered_intact(new[0])


def test_postfix_refuses_unknown_user_and_relaying(postfix):
    with smtplib.SMTP(postfix.host, postfix.port, local_hostname="client.test", timeout=30) as s:
        s.ehlo()
        assert s.mail("sender@x.test")[0] == 250
        code, text = s.rcpt("nobody@box.test")
        assert code == 550 and b"5.1.1" in text
        code, text = s.rcpt("someone@elsewhere.test")
        assert code == 554 and b"Relay access denied" in text
        assert s.rset()[0] == 250


def test_postfix_queue_drains(postfix):
    before = postfix.read_maildir()
    with smtplib.SMTP(postfix.host, postfix.port, local_hostname="client.test", timeout=30) as s:
        for i in range(3):
            s.sendmail("", ["user@box.test"], MSG.replace(b"smoke-1", b"smoke-q%d" % i))
    new = new_messages(before, postfix.wait_for_mail(len(before) + 3))
    assert len(new) == 3
    assert all(m.startswith(b"Return-Path: <>\n") for m in new)
    assert postfix.queue_empty()


def lmtp_send(dovecot, host, port, rcpts):
    before = dovecot.read_maildir()
    with smtplib.LMTP(host, port, local_hostname="client.test", timeout=30) as s:
        try:
            s.sendmail("sender@x.test", rcpts, MSG)
            refused = {}
        except smtplib.SMTPRecipientsRefused as e:
            refused = e.recipients
    # LMTP answers 250 only once the message is saved: no waiting needed.
    return new_messages(before, dovecot.read_maildir()), refused


def test_dovecot_lmtp_tcp(dovecot):
    new, refused = lmtp_send(dovecot, dovecot.host, dovecot.lmtp_port,
                             ["%s@any.domain.test" % dovecot.user])
    assert refused == {}
    assert len(new) == 1
    assert new[0].startswith(b"Return-Path: <sender@x.test>\n")
    assert_delivered_intact(new[0])


def test_dovecot_lmtp_unix_socket(dovecot):
    assert os.path.exists(dovecot.lmtp_socket)
    new, refused = lmtp_send(dovecot, dovecot.lmtp_socket, 0, ["%s@box.test" % dovecot.user])
    assert refused == {}
    assert len(new) == 1
    assert_delivered_intact(new[0])


def test_dovecot_lmtp_unknown_user(dovecot):
    new, refused = lmtp_send(dovecot, dovecot.host, dovecot.lmtp_port, ["nosuchuser@box.test"])
    assert new == []
    code, text = refused["nosuchuser@box.test"]
    assert code == 550, text
