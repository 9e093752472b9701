"""homemail-fetcher injecting into real local MTAs: Postfix over SMTP and
Dovecot over LMTP (TCP and a UNIX socket). Upstream is the module's
Dovecot; the LMTP target is a second Dovecot, so fetched mail cannot land
back in the mailbox it came from."""
import os
import re
import tempfile
import time

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


def set_refusal_time(env, when):
    """Rewrites the time of every "UID R TIME" record of the fetch state
    (fetcher/state-private.h) to WHEN, as if the refusal were that old."""
    d = os.path.join(env.state, "fetch", "isp")
    for name in os.listdir(d):
        path = os.path.join(d, name)
        with open(path, "rb") as f:
            text = f.read()
        new = re.sub(rb"^(\S+) R \d+$", rb"\1 R %d" % when, text, flags=re.M)
        if new != text:
            with open(path, "wb") as f:
                f.write(new)


@pytest.mark.parametrize("proto", ["pop3", "imap"])
def test_refused_mail_is_tried_again_later(env, dovecot, corpus, postfix, proto):
    """A message the local side refused for good is not fetched on every
    run (which would download it and log the error every few minutes), but
    tried again once the configuration changed, and after a day."""
    msgs = corpus.messages[:2]
    dovecot.load(msgs)
    port = dovecot.pop3_port if proto == "pop3" else dovecot.imap_port
    deliver = "smtp:127.0.0.1:%d" % postfix.port

    def configure(to):
        env.write_config([env.account("isp", proto, port, keep=True, to=to)], deliver=deliver)

    before = set(postfix.read_maildir())
    configure("nobody@box.test")
    r = env.fetch("--once")
    assert r.rc == 1 and r.err.count("refused by the local side, left on the server") == 2, r
    r = env.fetch("--once")
    assert r.rc == 0 and "refused" not in r.err, r          # not on every run
    # A day later: tried again (and refused again), then left alone again.
    set_refusal_time(env, int(time.time()) - 86400 - 60)
    r = env.fetch("--once")
    assert r.rc == 1 and r.err.count("left undelivered before (refused, or empty): trying again") == 2, r
    assert r.err.count("refused by the local side, left on the server") == 2, r
    r = env.fetch("--once")
    assert r.rc == 0 and "refused" not in r.err, r
    # Mended in the configuration: tried again on the next run. The
    # refusal and the change must not fall in the same second.
    time.sleep(1.1)
    configure("user@box.test")
    r = env.fetch("--once")
    assert r.rc == 0 and r.err.count("left undelivered before (refused, or empty): trying again") == 2, r
    after = postfix.wait_for_mail(len(before) + 2)
    assert len([n for n in after if n not in before]) == 2
    r = env.fetch("--once")
    assert r.rc == 0 and "refused" not in r.err, r
    assert len(postfix.read_maildir()) == len(after)


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
