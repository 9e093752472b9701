"""The Dovecot fixture is a faithful upstream: Python's poplib/imaplib can log
in over every transport and get back exactly the corpus we loaded."""
import imaplib
import os
import poplib
import re
import socket
import ssl
import tempfile

import pytest

from fixtures import corpus as corpusmod
from fixtures.dovecot import Dovecot, DovecotError, _descendants, _same_process_alive
from fixtures.tls import Cert

# a few interesting messages: all traps (0), the ~1 MB ones, and some others
SAMPLE = 8


@pytest.fixture(scope="module")
def loaded(dovecot, corpus):
    dovecot.load(corpus)
    return dovecot


def ctx_for(dc):
    ctx = ssl.create_default_context(cafile=dc.cafile)
    return ctx


def pick(corpus):
    idx = [0] + [m.index for m in corpus.messages if "big" in m.traps]
    idx += [m.index for m in corpus.messages if "lastdot" in m.traps][:2]
    idx += [m.index for m in corpus.messages if "longline" in m.traps][:2]
    idx.append(len(corpus) - 1)
    return sorted(set(idx))


def test_corpus_has_every_trap_and_size_class(corpus):
    traps = set().union(*(m.traps for m in corpus.messages))
    assert {"dot", "dotdot", "lonedot", "from", ">from", "longline", "utf8hdr",
            "encword", "8bit", "lastdot", "big"} <= traps
    assert len(corpus) == 200
    assert len({m.msgid for m in corpus.messages}) == 200
    sizes = [m.size for m in corpus.messages]
    assert sum(2000 <= s <= 22000 for s in sizes) > 120
    assert any(20000 < s <= 110000 for s in sizes)
    assert sum(s > 900000 for s in sizes) >= 3
    lines = [ln for m in corpus.messages for ln in m.data.split(b"\n")]
    assert max(map(len, lines)) == 998
    assert b"." in lines and any(ln.startswith(b"..") for ln in lines)
    assert any(ln.startswith(b"From ") for ln in lines) and any(ln.startswith(b">From ") for ln in lines)
    assert all(b"\r" not in m.data for m in corpus.messages)
    # deterministic
    again = corpusmod.generate(count=200, seed=1)
    assert [m.data for m in again.messages] == [m.data for m in corpus.messages]
    assert corpusmod.generate(count=5, seed=2).messages[1].data != corpus.messages[1].data


def test_maildir_written_with_ownership(loaded, corpus):
    files = [os.path.join(loaded.maildir, sub, n) for sub in ("new", "cur")
             for n in os.listdir(os.path.join(loaded.maildir, sub))]
    assert len(files) == len(corpus)
    for path in files + [loaded.maildir, loaded.home]:
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (65534, 65534), path
    back = loaded.read_maildir()
    assert sorted(back.values()) == sorted(m.data for m in corpus.messages)


def pop3_check(p, dc, corpus):
    p.user(dc.user)
    p.pass_(dc.password)
    count, size = p.stat()
    assert count == len(corpus)
    assert size == sum(len(m.crlf) for m in corpus.messages)
    for i in pick(corpus):
        resp, lines, octets = p.retr(i + 1)
        assert resp.startswith(b"+OK")
        data = b"".join(ln + b"\r\n" for ln in lines)   # poplib has undone dot-stuffing
        m = corpus.by_msgid[corpusmod.msgid_of(data)]
        assert m.index == i
        assert data == m.crlf
    uidl = p.uidl()[1]
    p.quit()
    return uidl


def test_pop3_plain_loopback(loaded, corpus):
    p = poplib.POP3(loaded.host, loaded.pop3_port, timeout=20)
    assert p.getwelcome().startswith(b"+OK")
    pop3_check(p, loaded, corpus)


def test_pop3s(loaded, corpus):
    p = poplib.POP3_SSL(loaded.host, loaded.pop3s_port, context=ctx_for(loaded), timeout=20)
    assert p.sock.version() in ("TLSv1.2", "TLSv1.3")
    pop3_check(p, loaded, corpus)


def test_pop3_stls(loaded, corpus):
    p = poplib.POP3(loaded.host, loaded.pop3_port, timeout=20)
    assert "STLS" in p.capa()
    p.stls(context=ctx_for(loaded))
    assert isinstance(p.sock, ssl.SSLSocket)
    pop3_check(p, loaded, corpus)


def test_pop3s_rejects_wrong_ca(loaded):
    ctx = ssl.create_default_context()   # system CAs only: our cert must not verify
    with pytest.raises(ssl.SSLCertVerificationError):
        poplib.POP3_SSL(loaded.host, loaded.pop3s_port, context=ctx, timeout=10)


def test_pop3_bad_password(loaded):
    p = poplib.POP3(loaded.host, loaded.pop3_port, timeout=20)
    p.user(loaded.user)
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong-" + loaded.password)
    p.quit()


def test_pop3_uidl_stable(loaded, corpus):
    lists = []
    for _ in range(2):
        p = poplib.POP3(loaded.host, loaded.pop3_port, timeout=20)
        lists.append(pop3_check(p, loaded, corpus))
    assert lists[0] == lists[1]
    uids = [ln.split()[1] for ln in lists[0]]
    assert len(uids) == len(set(uids)) == len(corpus)
    # "%08Xu%08Xv": UID then UIDVALIDITY, 8 hex digits each (Dovecot prints lower case)
    assert all(re.fullmatch(rb"[0-9A-Fa-f]{16}", u) for u in uids), uids[:3]
    assert [int(u[:8], 16) for u in uids] == list(range(1, len(corpus) + 1))


def imap_check(im, dc, corpus):
    typ, _ = im.login(dc.user, dc.password)
    assert typ == "OK"
    typ, data = im.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) == len(corpus)
    for i in pick(corpus):
        typ, data = im.fetch(str(i + 1), "(BODY.PEEK[])")
        assert typ == "OK"
        body = data[0][1]
        m = corpus.by_msgid[corpusmod.msgid_of(body)]
        assert m.index == i
        assert body == m.crlf
    typ, data = im.uid("SEARCH", None, "ALL")
    assert typ == "OK"
    typ, vdata = im.status("INBOX", "(UIDVALIDITY)")
    im.logout()
    return data[0].split(), vdata


def test_imap_plain_loopback(loaded, corpus):
    im = imaplib.IMAP4(loaded.host, loaded.imap_port, timeout=20)
    imap_check(im, loaded, corpus)


def test_imaps(loaded, corpus):
    im = imaplib.IMAP4_SSL(loaded.host, loaded.imaps_port, ssl_context=ctx_for(loaded), timeout=20)
    imap_check(im, loaded, corpus)


def test_imap_starttls(loaded, corpus):
    im = imaplib.IMAP4(loaded.host, loaded.imap_port, timeout=20)
    assert "STARTTLS" in im.capabilities
    typ, _ = im.starttls(ssl_context=ctx_for(loaded))
    assert typ == "OK"
    imap_check(im, loaded, corpus)


def test_imap_uids_stable(loaded, corpus):
    a = imap_check(imaplib.IMAP4(loaded.host, loaded.imap_port, timeout=20), loaded, corpus)
    b = imap_check(imaplib.IMAP4(loaded.host, loaded.imap_port, timeout=20), loaded, corpus)
    assert a == b
    assert len(a[0]) == len(set(a[0])) == len(corpus)


def test_localhost_name_verifies(loaded):
    """The cert's SAN covers DNS:localhost as well as IP:127.0.0.1."""
    p = poplib.POP3_SSL("localhost", loaded.pop3s_port, context=ctx_for(loaded), timeout=20)
    assert p.getwelcome().startswith(b"+OK")
    p.quit()


def test_fixture_stops_every_process(hm_tmp, tls_cert):
    """stop() leaves neither the master nor any child (auth, login, log...) behind."""
    base = tempfile.mkdtemp(dir=hm_tmp)
    os.chmod(base, 0o755)
    dc = Dovecot(base, tls_cert).start()
    try:
        p = poplib.POP3(dc.host, dc.pop3_port, timeout=10)   # spawn a login process too
        master = dc.proc.pid
        kids = _descendants(master)
        assert len(kids) >= 3, kids
    finally:
        dc.stop()
    p.close()
    assert not os.path.exists("/proc/%d" % master)
    assert [pid for pid, st in kids.items() if _same_process_alive(pid, st)] == []
    for port in (dc.pop3_port, dc.imaps_port):
        with pytest.raises(OSError):
            socket.create_connection((dc.host, port), timeout=2).close()


def test_fixture_start_failure_shows_log(hm_tmp, tls_cert):
    base = tempfile.mkdtemp(dir=hm_tmp)
    os.chmod(base, 0o755)
    bad = Cert(tls_cert.cert, os.path.join(base, "missing-key.pem"), tls_cert.fingerprint)
    dc = Dovecot(base, bad)
    with pytest.raises(DovecotError) as ei:
        dc.start(timeout=5)
    assert "missing-key.pem" in str(ei.value)
    assert dc.proc is None
