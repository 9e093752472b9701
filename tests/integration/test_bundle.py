"""The whole bundle with real peers, all started here (issue 13): mail in
an upstream Dovecot mailbox is fetched by homemail-fetcher, goes through
homemail-relay to the local user and is read by fetchmail, as a desktop
client on the LAN would, from homemail-popd; a LAN client (swaks) sends
through the relay and the Postfix smart host receives it with the
sender rewritten to the ISP address. One config file for all of it."""
import os
import re
import subprocess
import tempfile

import pytest

import fixtures
from fixtures import corpus as corpusmod
from fixtures.relay import PASSWORD, smarthost_conf

ISP = "alice@isp.example"


@pytest.fixture(scope="module")
def sh(postfix_smarthost):
    return postfix_smarthost(users={ISP: "pw"})


def start_popd(conf, logfile, port):
    log = open(logfile, "ab")
    p = subprocess.Popen([fixtures.program("popd/homemail-popd"), "-c", conf, "-v"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    assert fixtures.wait_port("127.0.0.1", port), open(logfile).read()
    return p


def fetchmail_read(base, port, user, cafile):
    """fetchmail as the LAN client: POP3 with STLS and a verified
    certificate, every message to a file through an MDA script."""
    home = tempfile.mkdtemp(prefix="fetchmail-", dir=base)
    out = os.path.join(home, "out")
    os.mkdir(out)
    mda = os.path.join(home, "store.sh")
    with open(mda, "w") as f:
        f.write('#!/bin/sh\nexec cat > "$(mktemp "$1/m.XXXXXXXX")"\n')
    os.chmod(mda, 0o755)
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 protocol pop3 port %d\n'
                '  user "%s" there is root here password "%s"\n' % (port, user, PASSWORD))
    os.chmod(rc, 0o600)
    r = fixtures.run(["fetchmail", "-f", rc, "--idfile", os.path.join(home, "ids"),
                      "--pidfile", os.path.join(home, "pid"), "--fetchall", "--invisible",
                      "--nodetach", "-v", "--nokeep", "--sslproto", "tls1.2+", "--sslcertck",
                      "--sslcertfile", cafile, "--sslcommonname", "localhost",
                      "--mda", "%s %s" % (mda, out)],
                     timeout=120, env=dict(os.environ, HOME=home))
    assert r.rc == 0, r
    assert "POP3> STLS" in r.out + r.err, r
    got = []
    for name in sorted(os.listdir(out)):
        with open(os.path.join(out, name), "rb") as f:
            got.append(f.read())
    return got


def test_fetch_relay_popd_and_send(relay, dovecot, sh, tls_cert, hm_tmp):
    sh.clear()
    corpus = corpusmod.generate(count=8, seed=13, n_big=1)
    dovecot.load(corpus)
    popd_port = fixtures.free_port("127.0.0.1")
    r = relay(start=False, users={"alice": {"send_as": ISP}, "bob": {}},
              smarthosts=[smarthost_conf(sh)])
    r.extra = ('fetcher = { accounts = ( { name = "isp"; protocol = "imap"; '
               'host = "127.0.0.1"; port = %d; tls = "tls"; ca_file = "%s"; user = "%s"; '
               'password = "%s"; keep = false; to = "alice"; } ); };\n'
               'popd = { listen = [ "127.0.0.1:%d" ]; };\n'
               % (dovecot.imaps_port, dovecot.cafile, dovecot.user, dovecot.password, popd_port))
    r.write_conf()
    check = fixtures.run([fixtures.program("admin/homemail"), "check", "-c", r.conf])
    assert check.rc == 0, check
    r.start()
    popd = start_popd(r.conf, os.path.join(r.base, "popd.log"), popd_port)
    try:
        # 1. upstream -> fetcher -> relay -> alice's Maildir
        f = fixtures.run([fixtures.program("fetcher/homemail-fetcher"), "-c", r.conf, "--once"],
                         timeout=120)
        assert f.rc == 0, "%r\n%s" % (f, r.log())
        r.wait_mail("alice", len(corpus.messages), timeout=30)
        assert dovecot.read_maildir() == {}
        # 2. popd -> fetchmail on the LAN: every message, body intact
        got = fetchmail_read(r.base, popd_port, "alice", tls_cert.cert)
        assert {corpusmod.msgid_of(m) for m in got} == \
            {corpusmod.msgid_of(m.data) for m in corpus.messages}
        for m in corpus.messages:
            (mine,) = [g for g in got if corpusmod.msgid_of(g) == corpusmod.msgid_of(m.data)]
            body = m.data.split(b"\n\n", 1)[1].replace(b"\r\n", b"\n")
            assert mine.replace(b"\r\n", b"\n").endswith(body), corpusmod.msgid_of(m.data)
        assert r.maildir("alice") == {}  # fetchmail --nokeep: popd deleted them
        # 3. LAN client -> relay -> smart host, sender rewritten
        s = fixtures.run(["swaks", "--server", "127.0.0.1", "--port", str(r.port),
                          "--helo", "pc1.lan", "--from", "alice@box.test",
                          "--to", "friend@remote.example",
                          "--header", "Subject: bundle-e2e", "--body", "hello from the LAN"],
                         timeout=60)
        assert s.rc == 0, s
        (m,) = sh.wait_messages(1, timeout=30)
        assert m.mail_from == ISP
        assert m.rcpt_to == ["friend@remote.example"]
        assert b"Subject: bundle-e2e" in m.raw
        r.wait_queue_empty()
    finally:
        popd.terminate()
        popd.wait(15)
    assert re.search(r"relay \S+ to=<friend@remote.example> via=127.0.0.1", r.log()), r.log()
