"""homemail-fetcher injecting into real local MTAs: Postfix over SMTP and
Dovecot over LMTP (TCP and a UNIX socket). Upstream is the module's
Dovecot; the LMTP target is a second Dovecot, so fetched mail cannot land
back in the mailbox it came from."""
import os
import tempfile

import pytest

from fixtures.corpus import lf
from fixtures.fetchenv import FetchEnv, received_count, strip_trace


@pytest.fixture
def env(hm_tmp, dovecot, request):
    base = tempfile.mkdtemp(prefix="fetch-inject-", dir=hm_tmp)
    return FetchEnv(base, dovecot)


def drop_return_path(data):
    head, body = data.split(b"\n\n", 1)
    return b"\n".join(l for l in head.split(b"\n") if not l.startswith(b"Return-Path:")) + b"\n\n" + body


def check_arrived(stored, msgs, keeps_return_path=True):
    """Every message arrived once, byte-identical below the trace fields.
    Postfix drops every Return-Path: field a message brings (its
    message_drop_headers default) and writes its own on top, so for it
    those lines are left out of the comparison."""
    assert len(stored) == len(msgs)
    for data in stored:
        assert received_count(data) == 1
    got = [strip_trace(d) for d in stored]
    want = [lf(m.crlf) for m in msgs]
    if not keeps_return_path:
        want = [drop_return_path(w) for w in want]
    assert sorted(got) == sorted(want)


@pytest.mark.parametrize("proto", ["pop3", "imap"])
def test_inject_into_postfix_smtp(env, dovecot, corpus, postfix, proto):
    msgs = corpus.messages[:40]
    dovecot.load(msgs)
    before = set(postfix.read_maildir())
    port = dovecot.pop3_port if proto == "pop3" else dovecot.imap_port
    env.write_config([env.account("isp", proto, port, to="user@box.test")],
                     deliver="smtp:127.0.0.1:%d" % postfix.port)
    r = env.fetch("--once")
    assert r.rc == 0, r
    after = postfix.wait_for_mail(len(before) + len(msgs))
    new = [d for n, d in after.items() if n not in before]
    check_arrived(new, msgs, keeps_return_path=False)
    # The envelope sender is the upstream Return-Path.
    for d in new:
        assert d.startswith(b"Return-Path: <sender")
    assert sum(len(os.listdir(os.path.join(dovecot.maildir, s))) for s in ("new", "cur")) == 0


def test_postfix_refusal_leaves_mail_upstream(env, dovecot, corpus, postfix):
    """550 for an unknown recipient: a permanent refusal. Nothing deleted,
    the run fails, and the message is not offered again next time."""
    dovecot.load(corpus.messages[:3])
    env.write_config([env.account("isp", "imap", dovecot.imap_port, to="nobody@box.test")],
                     deliver="smtp:127.0.0.1:%d" % postfix.port)
    r = env.fetch("--once")
    assert r.rc == 1
    assert "refused by the local side" in r.err and "550" in r.err
    assert sum(len(os.listdir(os.path.join(dovecot.maildir, s))) for s in ("new", "cur")) == 3
    r = env.fetch("--once")
    assert r.rc == 0, r


@pytest.mark.parametrize("where", ["tcp", "socket"])
def test_inject_into_dovecot_lmtp(env, dovecot, corpus, local_dovecot, where):
    msgs = corpus.messages[40:80]
    dovecot.load(msgs)
    local_dovecot.load([])
    target = ("lmtp:127.0.0.1:%d" % local_dovecot.lmtp_port if where == "tcp"
              else "lmtp:%s" % local_dovecot.lmtp_socket)
    env.write_config([env.account("isp", "pop3", dovecot.pop3_port,
                                  to="%s@box.test" % local_dovecot.user)], deliver=target)
    r = env.fetch("--once")
    assert r.rc == 0, r
    check_arrived(list(local_dovecot.read_maildir().values()), msgs)
