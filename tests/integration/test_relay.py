"""homemail-relay with real clients: swaks, msmtp, Python's smtplib, Postfix's
smtp-source, mail(1) and homemail-sendmail; open-relay probes from an
untrusted address (127.0.0.2); SIGHUP and SIGTERM.

The smart host, durability and fetcher cases are in test_relay_forward.py
and test_relay_durability.py.
"""
import base64
import email.message
import os
import re
import smtplib
import ssl
import stat
import subprocess
import time
import uuid


import fixtures
from fixtures.relay import LOCAL_DOMAINS, PASSWORD
from fixtures.smtpraw import RawSMTP


def token():
    return uuid.uuid4().hex[:16]


def message(subject, sender="alice@box.test", to="bob@box.test", body="hello\n"):
    m = email.message.EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m.set_content(body)
    return m


def with_token(msgs, tok):
    """The messages (bytes) that hold TOK."""
    return [m for m in msgs.values() if tok.encode() in m]


def one_with(r, user, tok, timeout=15.0):
    """The single message holding TOK in USER's Maildir, once it is there;
    fails if it never comes or comes twice."""
    deadline = time.monotonic() + timeout
    while True:
        found = with_token(r.maildir(user), tok)
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) == 1, "%d messages with %s for %s; log:\n%s" % (len(found), tok, user,
                                                                    r.log())
    return found[0]


def swaks(*args, timeout=30):
    return fixtures.run(["swaks", "--timeout", "15"] + list(args), timeout=timeout)


# -- clients -------------------------------------------------------------------

SWAKS_CASES = {
    "plain": lambda r: ["--server", "127.0.0.1", "--port", r.port],
    "ipv6": lambda r: ["-6", "--server", "::1", "--port", r.port6],
    "starttls": lambda r: ["--server", "127.0.0.1", "--port", r.port, "--tls"],
    "auth-plain-tls": lambda r: ["--server", "127.0.0.1", "--port", r.port, "--tls",
                                 "--auth", "PLAIN", "--auth-user", "alice",
                                 "--auth-password", PASSWORD],
    "auth-login-tls": lambda r: ["--server", "127.0.0.1", "--port", r.port, "--tls",
                                 "--auth", "LOGIN", "--auth-user", "alice",
                                 "--auth-password", PASSWORD],
    "implicit-tls": lambda r: ["--server", "127.0.0.1", "--port", r.tls_port, "--tlsc"],
    "pipelining": lambda r: ["--server", "127.0.0.1", "--port", r.port, "--pipeline"],
}


def test_swaks(relay):
    r = relay()
    for name, args in SWAKS_CASES.items():
        tok = token()
        res = swaks(*args(r), "--from", "alice@box.test", "--to", "bob@box.test",
                    "--header", "Subject: swaks %s %s" % (name, tok), "--body", "via swaks\n")
        assert res.rc == 0, "%s: %r\nlog:\n%s" % (name, res, r.log())
        if name.startswith("auth"):
            assert "235 " in res.out, name
        if "tls" in name:
            assert "TLS started" in res.out, name
        one_with(r, "bob", tok)


def test_swaks_pipelining_many_rcpts(relay):
    """One pipelined transaction to several local recipients (and an alias)."""
    r = relay(users=("alice", "bob", "carol"))
    tok = token()
    res = swaks("--server", "127.0.0.1", "--port", r.port, "--pipeline",
                "--from", "x@example.org", "--to", "bob@box.test,carol@box.test,postmaster@box.test",
                "--header", "Subject: pipe " + tok)
    assert res.rc == 0, res
    for u in ("alice", "bob", "carol"):
        one_with(r, u, tok)


def test_msmtp(relay, hm_tmp, tls_cert):
    r = relay()
    rc = os.path.join(r.base, "msmtprc")
    with open(rc, "w") as f:
        f.write("defaults\nlogfile %s/msmtp.log\n"
                "account relay\nhost 127.0.0.1\nport %d\ntls on\ntls_starttls on\n"
                "tls_trust_file %s\nauth on\nuser alice\npassword %s\nfrom alice@box.test\n"
                "account default : relay\n" % (r.base, r.port, tls_cert.cert, PASSWORD))
    os.chmod(rc, 0o600)
    tok = token()
    p = subprocess.run(["msmtp", "-C", rc, "bob@box.test"], capture_output=True, timeout=30,
                       input=b"From: alice@box.test\nTo: bob@box.test\nSubject: msmtp " +
                       tok.encode() + b"\n\nvia msmtp\n")
    assert p.returncode == 0, (p.stderr, r.log())
    msg = one_with(r, "bob", tok)
    assert b"Return-Path: <alice@box.test>" in msg


def test_smtplib_starttls_auth(relay, tls_cert):
    r = relay()
    tok = token()
    ctx = ssl.create_default_context(cafile=tls_cert.cert)
    with smtplib.SMTP("127.0.0.1", r.port, timeout=15) as s:
        s.starttls(context=ctx)
        s.login("alice", PASSWORD)
        refused = s.send_message(message("smtplib " + tok))
        assert refused == {}
    one_with(r, "bob", tok)


def test_smtplib_implicit_tls(relay, tls_cert):
    r = relay()
    tok = token()
    ctx = ssl.create_default_context(cafile=tls_cert.cert)
    with smtplib.SMTP_SSL("127.0.0.1", r.tls_port, timeout=15, context=ctx) as s:
        s.send_message(message("smtps " + tok))
    one_with(r, "bob", tok)


def test_smtplib_smtputf8(relay):
    r = relay()
    tok = token()
    sender = "jürgen@exämple.de"
    m = message("Grüße %s" % tok, sender=sender, body="Schöne Grüße, 日本語\n")
    with smtplib.SMTP("127.0.0.1", r.port, timeout=15) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        # smtplib adds SMTPUTF8 itself for a non-ASCII address
        s.send_message(m, from_addr=sender, to_addrs=["bob@box.test"])
    got = one_with(r, "bob", tok)
    assert sender.encode() in got
    assert "Return-Path: <%s>" % sender in got.decode("utf-8")


def test_bdat_raw(relay):
    """CHUNKING: smtplib has no BDAT, so the commands go over a raw socket:
    two chunks, the second LAST, the payload with a lone dot line."""
    r = relay()
    tok = token().encode()
    body = (b"From: alice@box.test\r\nTo: bob@box.test\r\nSubject: bdat " + tok +
            b"\r\n\r\nfirst\r\n.\r\nafter the dot\r\n")
    with RawSMTP("127.0.0.1", r.port) as c:
        code, ext = c.ehlo()
        assert "CHUNKING" in ext
        assert c.cmd("MAIL FROM:<alice@box.test>")[0] == 250
        assert c.cmd("RCPT TO:<bob@box.test>")[0] == 250
        half = len(body) // 2
        c.send(b"BDAT %d\r\n" % half + body[:half])
        assert c.reply()[0] == 250
        c.send(b"BDAT %d LAST\r\n" % (len(body) - half) + body[half:])
        code, text = c.reply()
        assert code == 250, text
    got = one_with(r, "bob", tok.decode())
    assert b"\r\n.\r\nafter the dot\r\n" in got or b"\n.\nafter the dot\n" in got


def test_smtp_source_parallel(relay):
    """100 messages in 10 parallel sessions from Postfix's smtp-source: all
    in the Maildir, each exactly once (100 different queue IDs)."""
    r = relay()
    res = fixtures.run(["/usr/sbin/smtp-source", "-s", "10", "-m", "100", "-l", "2000",
                        "-S", "smtp-source", "-M", "lan.example", "-f", "alice@box.test",
                        "-t", "bob@box.test", "127.0.0.1:%d" % r.port], timeout=60)
    assert res.rc == 0, res
    msgs = r.wait_mail("bob", 100, timeout=30)
    time.sleep(1.0)
    msgs = r.maildir("bob")
    assert len(msgs) == 100, "%d messages" % len(msgs)
    ids = set()
    for m in msgs.values():
        found = re.search(rb"homemail[^;]*? id ([0-9A-F]{16})", m, re.S) or \
            re.search(rb"\bid ([0-9A-F]{16})\b", m)
        assert found, m[:600]
        ids.add(found.group(1))
    assert len(ids) == 100
    r.wait_queue_empty()


def test_mail_command(relay):
    """mailutils mail(1) calling homemail-sendmail (a wrapper adds -C). The
    sendmail:// URL form makes mail(1) pass "-oi -f USER@HOST -t"; a bare
    path would run the program with no arguments at all."""
    r = relay()
    wrapper = os.path.join(r.base, "sendmail-wrapper")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s -C %s \"$@\"\n"
                % (fixtures.program("relay/homemail-sendmail"), r.conf))
    os.chmod(wrapper, 0o755)
    tok = token()
    p = subprocess.run(["mail", "-n", "-E", "set sendmail=sendmail://" + wrapper, "-s", "mail(1) " + tok,
                        "-a", "X-Test: mailutils", "bob@box.test"],
                       input=b"sent with mail(1)\n", capture_output=True, timeout=30,
                       env=dict(os.environ, HOME=r.base))
    assert p.returncode == 0, p
    got = one_with(r, "bob", tok)
    assert b"X-Test: mailutils" in got
    assert b"sent with mail(1)" in got


# -- homemail-sendmail ---------------------------------------------------------

def return_path(msg):
    m = re.search(rb"^Return-Path: <([^>]*)>", msg, re.M)
    return m.group(1).decode() if m else None


def test_sendmail_t_removes_bcc(relay):
    r = relay(users=("alice", "bob", "carol"))
    tok = token()
    res = r.sendmail(["-t", "-i"], ("From: alice@box.test\nTo: bob@box.test\n"
                                    "Bcc: carol@box.test\nSubject: bcc %s\n\nbody\n.\nmore\n"
                                    % tok).encode())
    assert res.rc == 0, res
    for u in ("bob", "carol"):
        got = one_with(r, u, tok)
        assert not re.search(rb"^Bcc:", got, re.M | re.I), got[:800]
        assert b"\n.\nmore" in got.replace(b"\r\n", b"\n")


def test_sendmail_f_root_and_nobody(relay):
    r = relay()
    tok1, tok2 = token(), token()
    res = r.sendmail(["-f", "alice@box.test", "bob@box.test"],
                     b"Subject: as root " + tok1.encode() + b"\n\nx\n")
    assert res.rc == 0, res
    assert return_path(one_with(r, "bob", tok1)) == "alice@box.test"
    res = r.sendmail(["-f", "alice@box.test", "bob@box.test"],
                     b"Subject: as nobody " + tok2.encode() + b"\n\nx\n", user="nobody")
    assert res.rc == 0, res
    got = one_with(r, "bob", tok2)
    assert return_path(got) == "nobody@box.test", got[:800]


def test_sendmail_with_a_config_it_may_not_read(relay):
    """setup writes the config root:homemail 0640 (it holds password hashes),
    yet cron, mail(1) or PHP of any local user must be able to send: the
    relay publishes what homemail-sendmail needs in the default state_dir
    (queue/sendmail.conf, 0644), which it falls back to. /var/lib is a
    tmpfs in a mount namespace of the test's own, so the default state_dir
    (/var/lib/homemail) is the test's."""
    r = relay(start=False)
    r.state_dir = None
    r.write_conf()
    os.chmod(r.conf, 0o600)
    r.wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
              'mount -t tmpfs -o mode=0755 hm-var-lib /var/lib && exec "$@"', "sh"]
    r.start()
    inside = ["nsenter", "-t", str(r.proc.pid), "-m", "--"]
    published = "/var/lib/homemail/queue/sendmail.conf"

    def send(tok):
        return r.sendmail(["bob@box.test"], b"Subject: cron " + tok.encode() + b"\n\nx\n",
                          user="nobody", wrap=inside)

    res = fixtures.run(inside + ["stat", "-c", "%a %U", published])
    assert res.rc == 0 and res.out.split() == ["644", "root"], res
    text = fixtures.run(inside + ["cat", published]).out
    assert 'hostname = "box.test"' in text and "127.0.0.1:%d" % r.port in text, text
    assert "$6$" not in text and "password" not in text, text
    tok = token()
    res = send(tok)
    assert res.rc == 0, res
    got = one_with(r, "bob", tok)
    assert return_path(got) == "nobody@box.test", got[:800]
    assert b"(homemail, from userid 65534)" in got, got[:800]

    # Without it (the relay never ran, or state_dir is elsewhere): a clear
    # error, EX_CONFIG; and one anyone could have changed is not used.
    assert fixtures.run(inside + ["rm", published]).rc == 0
    res = send(token())
    assert res.rc == 78, res
    assert "Permission denied" in res.err and published in res.err, res
    r.reload()  # SIGHUP publishes it again
    deadline = time.monotonic() + 10
    while fixtures.run(inside + ["test", "-f", published]).rc != 0:
        assert time.monotonic() < deadline, r.log()
        time.sleep(0.1)
    assert fixtures.run(inside + ["chmod", "0666", published]).rc == 0
    res = send(token())
    assert res.rc == 78 and "only the relay's user may change" in res.err, res
    assert fixtures.run(inside + ["chmod", "0644", published]).rc == 0
    tok = token()
    assert send(tok).rc == 0
    one_with(r, "bob", tok)


def test_sendmail_while_relay_down(relay):
    r = relay()
    r.stop()
    tok = token()
    res = r.sendmail(["bob@box.test"], b"Subject: offline " + tok.encode() + b"\n\nwaits\n")
    assert res.rc == 0, res
    assert r.drop_files(), "nothing in drop/"
    time.sleep(0.5)
    assert not with_token(r.maildir("bob"), tok)
    r.start()
    one_with(r, "bob", tok)
    r.wait_queue_empty()


def test_sendmail_bp_lists_queue(relay):
    """No smart host: a remote recipient waits; -bp and `homemail queue`
    list it with the reason."""
    r = relay()
    res = r.sendmail(["-f", "alice@box.test", "friend@remote.example"], b"Subject: q\n\nx\n")
    assert res.rc == 0, res
    deadline = time.monotonic() + 10
    while not r.queue_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    ids = r.queue_ids()
    assert len(ids) == 1, (ids, r.log())
    time.sleep(1.0)  # a first attempt records why it waits
    bp = r.sendmail(["-bp"], b"")
    assert bp.rc == 0, bp
    assert ids[0] in bp.out and "friend@remote.example" in bp.out, bp.out
    q = r.homemail(["queue"])
    assert q.rc == 0, q
    assert ids[0] in q.out and "smart host" in q.out, q.out


def test_sendmail_exit_codes(relay, hm_tmp):
    r = relay()
    assert r.sendmail([], b"Subject: x\n\nno rcpt\n").rc == 64
    assert r.sendmail(["not an address@@"], b"Subject: x\n\nx\n").rc == 65
    bad = os.path.join(r.base, "bad.conf")
    with open(bad, "w") as f:
        f.write("hostname = ;\n")
    res = fixtures.run([fixtures.program("relay/homemail-sendmail"), "-C", bad, "bob@box.test"])
    assert res.rc == 78, res
    r.stop()
    assert r.sendmail(["-q"], b"").rc == 69
    # A relay that never ran has no drop folder: temporary failure.
    fresh = relay(start=False)
    res = fresh.sendmail(["bob@box.test"], b"Subject: x\n\nx\n")
    assert res.rc == 75, res


# -- open relay probes (from 127.0.0.2: not trusted, not plaintext-allowed) ---

PROBES = [
    "bob@remote.example",
    "alice%remote.example@box.test",
    "alice@remote.example@box.test",
    "@box.test:alice@remote.example",
    '"alice@remote.example"@box.test',
    '"remote.example!alice"@box.test',
    "remote.example!alice@box.test",
    "alice%remote.example@[127.0.0.1]",
    "alice@[127.0.0.1]",
    "alice@remote.example.",
    "alice@box.test.",
    "alice@box.test@remote.example",
]


def is_local(addr):
    local, _, domain = addr.rpartition("@")
    return domain.lower() in LOCAL_DOMAINS and not any(c in local for c in "%!@:")


def test_open_relay_probes(relay, postfix_smarthost):
    sh = postfix_smarthost(users={"alice@isp.example": "pw"})
    from fixtures.relay import smarthost_conf
    r = relay(users={"alice": {"send_as": "alice@isp.example"}, "bob": {}},
              smarthosts=[smarthost_conf(sh)])
    replies = {}
    with RawSMTP("127.0.0.1", r.port, source="127.0.0.2") as c:
        code, ext = c.ehlo("probe.example")
        assert code == 250
        assert c.cmd("MAIL FROM:<>")[0] == 250
        for p in PROBES:
            replies[p] = c.cmd("RCPT TO:<%s>" % p)
        accepted = [p for p, (code, _) in replies.items() if code == 250]
        if accepted:
            assert c.cmd("DATA")[0] == 354
            c.send(b"Subject: probe\r\n\r\nrelay test\r\n.\r\n")
            assert c.reply()[0] == 250
    print("\n".join("%-40s %d %s" % (p, c, t) for p, (c, t) in replies.items()))
    assert replies["bob@remote.example"][0] == 554, replies
    assert replies["bob@remote.example"][1].startswith("5.7.1"), replies
    for p, (code, text) in replies.items():
        assert code == 250 or 500 <= code < 600, (p, code, text)
    time.sleep(3.0)  # the runner's attempt, and a retry at relay.retry.first
    for e in r.queue_entries():
        bad = [a for a in e.rcpts if not is_local(a)]
        assert not bad, "queued for non-local addresses: %r (replies %r)" % (e, replies)
    assert sh.messages() == [], "relayed: %r\nreplies: %r" % (sh.messages(), replies)


def test_unknown_local_user_and_auth_without_tls(relay, tls_cert):
    r = relay(users={"alice": {"send_as": "alice@isp.example"}, "bob": {}})
    with RawSMTP("127.0.0.1", r.port, source="127.0.0.2") as c:
        code, ext = c.ehlo("stranger.example")
        assert code == 250
        assert not any(e.upper().startswith("AUTH") for e in ext), ext
        assert any(e.upper() == "STARTTLS" for e in ext), ext
        code, text = c.cmd("AUTH PLAIN AGFsaWNlAENvcnIzY3QgaG9yc2U=")
        assert code == 538, (code, text)
        assert c.cmd("MAIL FROM:<someone@example.org>")[0] == 250
        code, text = c.cmd("RCPT TO:<nosuchuser@box.test>")
        assert code == 550 and text.startswith("5.1.1"), (code, text)
        code, text = c.cmd("RCPT TO:<BOB@Box.Test>")
        assert code == 250, (code, text)
    # After STARTTLS, AUTH is offered, works, and lets the stranger relay.
    with RawSMTP("127.0.0.1", r.port, source="127.0.0.2") as c:
        c.ehlo("stranger.example")
        assert c.starttls(tls_cert.cert)[0] == 220
        code, ext = c.ehlo("stranger.example")
        assert any(e.upper().startswith("AUTH") and "PLAIN" in e.upper() for e in ext), ext
        code, text = c.cmd("AUTH PLAIN AGFsaWNlAENvcnIzY3QgaG9yc2U=")
        assert code == 235, (code, text)
        assert c.cmd("MAIL FROM:<alice@box.test>")[0] == 250
        code, text = c.cmd("RCPT TO:<friend@remote.example>")
        assert code == 250, (code, text)
        c.cmd("RSET")


def test_stranger_cannot_send_as_a_local_user_through_an_alias(relay):
    """An alias that forwards off the box sends through the smart host,
    where alice@box.test would become alice's send_as: a stranger may not
    give a local user's address as the sender of such mail; a foreign
    sender, or the LAN, may."""
    r = relay(users={"alice": {"send_as": "alice@isp.example"}, "bob": {}},
              aliases={"postmaster": "alice", "fwd": "someone@far.example"})
    with RawSMTP("127.0.0.1", r.port, source="127.0.0.2") as c:
        c.ehlo("stranger.example")
        for sender in ("alice@box.test", "Alice@BOX.test", "alice+x@box.test", "root@box.test",
                       "nosuch@box.test", "bob@box.test"):
            assert c.cmd("MAIL FROM:<%s>" % sender)[0] == 250
            code, text = c.cmd("RCPT TO:<fwd@box.test>")
            assert code == 553 and text.startswith("5.7.1") and "AUTH" in text, (sender, code, text)
            code, text = c.cmd("RCPT TO:<bob@box.test>")
            assert code == 250, (sender, code, text)
            assert c.cmd("RSET")[0] == 250
        assert c.cmd("MAIL FROM:<friend@elsewhere.example>")[0] == 250
        assert c.cmd("RCPT TO:<fwd@box.test>")[0] == 250
    with RawSMTP("127.0.0.1", r.port) as c:
        c.ehlo("laptop.lan")
        assert c.cmd("MAIL FROM:<alice@box.test>")[0] == 250
        assert c.cmd("RCPT TO:<fwd@box.test>")[0] == 250


def _log_since(r, mark):
    with open(r.logfile, "rb") as f:
        f.seek(mark)
        return f.read()


def test_v_log_shows_no_secret_and_no_control_character(relay):
    """With -v the relay logs each command. No form of AUTH shows its
    initial response, the lines a client pipelines after a refused AUTH
    (the password) are not shown, and a client's control characters
    come out as '?'."""
    r = relay()
    mark = os.path.getsize(r.logfile)
    user_b64, pass_b64 = "YWxpY2U=", "TEVBS1BXNHh5eg=="          # alice, LEAKPW4xyz
    plain = "AGFsaWNlAExFQUtQVzF4eXo="                            # \0alice\0LEAKPW1xyz
    with RawSMTP("127.0.0.1", r.port, source="127.0.0.2") as c:
        c.ehlo("stranger.example")
        c.send(("AUTH LOGIN\r\n%s\r\n%s\r\n" % (user_b64, pass_b64)).encode())
        assert c.reply()[0] == 538
        c.reply(), c.reply()
        for line in ("AUTH " + plain, "AUTH\tPLAIN " + plain, "AUTH=PLAIN " + plain,
                     "AUTH PLAIN " + plain, "LEAKPW2abcdef"):
            assert 500 <= c.cmd(line)[0] < 600, line
        assert c.cmd("NOOP \x1b]0;pwned\x07 \x1b[2J")[0] == 250
    time.sleep(0.3)
    log = _log_since(r, mark)
    for secret in (user_b64, pass_b64, plain[:12], "LEAKPW", "AGFsaWNl"):
        assert secret.encode() not in log, (secret, log)
    assert b"C: AUTH PLAIN ********" in log, log
    assert b"C: NOOP ?]0;pwned? ?[2J" in log, log
    assert not any(ch in log for ch in (b"\x1b", b"\x07")), log


def test_auth_is_forgotten_at_starttls(relay, tls_cert):
    """RFC 3207 4.2: after STARTTLS the client starts over; a login made
    in plain text (allowed from 127.0.0.1) does not carry into TLS."""
    r = relay(users={"alice": {"send_as": "alice@isp.example"}, "bob": {}})
    bob = base64.b64encode(b"\0bob\0" + PASSWORD.encode()).decode()
    alice = base64.b64encode(b"\0alice\0" + PASSWORD.encode()).decode()
    with RawSMTP("127.0.0.1", r.port) as c:
        c.ehlo("laptop.lan")
        assert c.cmd("AUTH PLAIN " + bob)[0] == 235
        assert c.starttls(tls_cert.cert)[0] == 220
        code, ext = c.ehlo("laptop.lan")
        assert any(e.upper().startswith("AUTH") for e in ext), ext
        assert c.cmd("AUTH PLAIN " + alice)[0] == 235


def test_sessions_have_their_own_ids_and_421_before_hanging_up(relay):
    """Concurrent sessions (each a forked process) log under different IDs;
    after too many bad commands the relay says 421 before it closes."""
    r = relay()
    mark = os.path.getsize(r.logfile)
    conns = [RawSMTP("127.0.0.1", r.port) for _ in range(8)]
    try:
        for c in conns:
            assert c.greeting[0] == 220
        c = conns[0]
        replies = [c.cmd("BOGUS%d" % i)[0] for i in range(20)]
        assert replies == [502] * 20, replies
        code, text = c.reply()
        assert code == 421 and "too many errors" in text, (code, text)
        assert c.reply() == (0, "")
    finally:
        for c in conns:
            c.sock.close()
    time.sleep(0.3)
    ids = re.findall(rb"relay\[([0-9a-f]{8})\] connect", _log_since(r, mark))
    assert len(ids) >= 8 and len(set(ids)) == len(ids), ids


# -- signals -------------------------------------------------------------------

def rcpt_code(r, addr):
    with RawSMTP("127.0.0.1", r.port) as c:
        c.ehlo()
        c.cmd("MAIL FROM:<x@example.org>")
        return c.cmd("RCPT TO:<%s>" % addr)


def test_sighup_adds_user(relay):
    r = relay()
    assert rcpt_code(r, "newbie@box.test")[0] == 550
    r.add_user("newbie")
    r.reload()
    deadline = time.monotonic() + 5
    while rcpt_code(r, "newbie@box.test")[0] != 250:
        assert time.monotonic() < deadline, "newbie still refused after SIGHUP:\n" + r.log()
        time.sleep(0.1)
    assert r.alive()
    tok = token()
    res = swaks("--server", "127.0.0.1", "--port", r.port, "--to", "newbie@box.test",
                "--header", "Subject: hi " + tok)
    assert res.rc == 0, res
    one_with(r, "newbie", tok)


def test_sigterm_exits_cleanly_queue_intact(relay):
    r = relay()
    res = r.sendmail(["-f", "alice@box.test", "friend@remote.example"], b"Subject: t\n\nx\n")
    assert res.rc == 0
    deadline = time.monotonic() + 10
    while not r.queue_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    before = r.queue_ids()
    assert len(before) == 1
    idle = RawSMTP("127.0.0.1", r.port)  # a session that does nothing
    try:
        t0 = time.monotonic()
        rc = r.stop(timeout=8.0)
        took = time.monotonic() - t0
    finally:
        idle.sock.close()
    assert rc == 0, "exit status %r after SIGTERM; log:\n%s" % (rc, r.log())
    assert took < 5.0, took
    assert r.queue_ids() == before
    q = r.homemail(["queue", "show", before[0]])
    assert q.rc == 0 and "friend@remote.example" in q.out, q


def test_queue_shows_no_terminal_controls(relay):
    """`homemail queue` and mailq print what senders and smart hosts
    wrote: a Subject with escape sequences, an SMTPUTF8 address with a C1
    control (U+009B, CSI) and a reply with both reach the admin's terminal
    as '?', while UTF-8 text stays readable."""
    r = relay()
    rcpt = "j\u00f6rg\u009b2J@remote.example"
    res = r.sendmail(["-f", "alice@box.test", rcpt],
                     "Subject: \x1b[31mred\x1b]0;title\x07 Gr\u00fc\u00dfe\n"
                     "X-Folded: one\n\ttwo\n\nx\n".encode())
    assert res.rc == 0, res
    deadline = time.monotonic() + 10
    state = None
    while time.monotonic() < deadline:
        ids = r.queue_ids()
        state = os.path.join(r.queue_dir, ids[0] + ".s") if ids else None
        if state and os.path.exists(state) and b" pending 1 " in open(state, "rb").read():
            break
        time.sleep(0.05)
    assert state, r.log()
    r.stop()  # so that it does not write the state file again
    with open(state, "rb") as f:
        text = f.read()
    fields = text.split(b"\n")[1].split(b" ", 6)
    fields[6] = "451 \x1b[2J\u009b1;1H gone \u00e9t\u00e9".encode()
    with open(state, "wb") as f:
        f.write(text.split(b"\n")[0] + b"\n" + b" ".join(fields) + b"\n")
    show = r.homemail(["queue", "show", ids[0]])
    listed = r.homemail(["queue", "list"])
    mailq = r.sendmail(["-bp"], b"")
    for q in (show, listed, mailq):
        assert q.rc == 0, q
        for c in ("\x1b", "\x07", "\u009b", "\r"):
            assert c not in q.out, (c, q.out)
        assert "j\u00f6rg?2J@remote.example" in q.out, q.out
        assert "451 ?[2J?1;1H gone \u00e9t\u00e9" in q.out, q.out
    assert "Subject: ?[31mred?]0;title? Gr\u00fc\u00dfe\n" in show.out, show.out
    assert "X-Folded: one\n two\n" in show.out, show.out


def test_queue_dates_as_mailq(relay):
    """Arrival and next-try times read as mailq's, "Wed Dec  4 17:55:28",
    in ASCII whatever the locale: a day below 10 padded with a space (not
    GLib's U+2007 FIGURE SPACE) and English names."""
    r = relay()
    res = r.sendmail(["-f", "alice@box.test", "friend@remote.example"], b"Subject: d\n\nx\n")
    assert res.rc == 0, res
    deadline = time.monotonic() + 10
    while not r.queue_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    qid = r.queue_ids()[0]
    r.stop()
    arrival, next_try = 1733334928, 1733594400  # 2024-12-04 17:55:28, 12-07 18:00:00 UTC
    path = os.path.join(r.queue_dir, qid)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(re.sub(rb"\narrival \d+\n", b"\narrival %d\n" % arrival, data, count=1))
    with open(path + ".s", "wb") as f:
        f.write(b"HMS1\n0 pending 1 %d %d 0 451 try later\n" % (next_try, arrival))
    for lc in ("C", "C.UTF-8"):
        env = dict(os.environ, LC_ALL=lc, TZ="UTC")
        listed = fixtures.run([fixtures.program("admin/homemail"), "-c", r.conf, "queue"],
                              env=env)
        shown = fixtures.run([fixtures.program("admin/homemail"), "-c", r.conf, "queue", "show",
                              qid], env=env)
        for q in (listed, shown):
            assert q.rc == 0 and q.out.isascii(), (lc, q)
        assert re.search(r"^%s +\d+ Wed Dec  4 17:55:28  alice@box\.test$" % qid, listed.out,
                         re.M), listed.out
        assert "arrival: Wed Dec  4 17:55:28\n" in shown.out, shown.out
        assert "1 attempt, next Sat Dec  7 18:00:00\n" in shown.out, shown.out


def test_queue_does_not_follow_links(relay, hm_tmp):
    """`homemail queue` runs as root in a directory the relay's user
    writes: a link put there under a queue ID is named as a link, never
    followed, and nothing of what it points to is shown."""
    r = relay()
    secret = os.path.join(hm_tmp, "secret")
    with open(secret, "w") as f:
        f.write("TOPSECRET root:x:0:0\nmore\n")
    os.chmod(secret, 0o600)
    qid = "06B1720000000003"
    os.symlink(secret, os.path.join(r.queue_dir, qid))
    q = r.homemail(["queue", "list"])
    assert q.rc == 0, q
    assert qid in q.out and "symbolic link" in q.out, q
    assert "TOPSECRET" not in q.out + q.err, q
    q = r.homemail(["queue", "show", qid])
    assert q.rc == 1 and "symbolic link" in q.err, q
    assert "TOPSECRET" not in q.out + q.err, q


def test_queue_delete_and_show_what_is_no_file(relay, hm_tmp):
    """A dangling link, a link to a file and a FIFO under queue IDs: `queue
    delete` and `queue show` say the entry is not a regular file (without
    waiting on the FIFO), delete neither the name nor a link's target, and
    keep "no such queue entry" for what is not there."""
    r = relay()
    target = os.path.join(hm_tmp, "precious")
    with open(target, "w") as f:
        f.write("keep me\n")
    cases = {"06B1720000000011": "symbolic link", "06B1720000000012": "symbolic link",
             "06B1720000000013": "FIFO"}
    os.symlink(os.path.join(hm_tmp, "gone"), os.path.join(r.queue_dir, "06B1720000000011"))
    os.symlink(target, os.path.join(r.queue_dir, "06B1720000000012"))
    os.mkfifo(os.path.join(r.queue_dir, "06B1720000000013"), 0o600)
    for qid, kind in cases.items():
        path = os.path.join(r.queue_dir, qid)
        for cmd in ("delete", "show"):
            q = r.homemail(["queue", cmd, qid], timeout=10)
            assert q.rc == 1, (cmd, q)
            assert "%s is not a regular file (a %s" % (path, kind) in q.err, (cmd, q)
            assert "no such queue entry" not in q.err and "keep me" not in q.out, (cmd, q)
        assert "not deleted" in r.homemail(["queue", "delete", qid]).err
        assert os.path.lexists(path), qid
    with open(target) as f:
        assert f.read() == "keep me\n"
    for cmd in ("delete", "show"):
        q = r.homemail(["queue", cmd, "06B1720000000019"])
        assert q.rc == 1 and q.err == "homemail: 06B1720000000019: no such queue entry\n", q


def test_queue_dir_modes(relay):
    r = relay()
    assert stat.S_IMODE(os.stat(r.queue_dir).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(os.path.join(r.queue_dir, "drop")).st_mode) == 0o1733


def test_local_mail_at_once_unless_large(relay):
    """Mail for local users only is delivered by the session (in the
    Maildir before its 250, which says "delivered as"); one over the 1 MB
    the session holds in memory (relay/limits.h RELAY_INLINE_MAX) goes
    through the queue instead, and arrives once all the same, whole."""
    r = relay()
    small, large = token(), token()
    with smtplib.SMTP("127.0.0.1", r.port, timeout=30) as s:
        s.ehlo()
        s.mail("alice@box.test")
        s.rcpt("bob@box.test")
        code, text = s.data(message("at once " + small).as_bytes())
        assert code == 250 and text.startswith(b"2.0.0 Ok: delivered as "), text
        assert len(with_token(r.maildir("bob"), small)) == 1
        body = ("%s\n" % ("x" * 77)) * 16000  # 1.25 MB
        s.mail("alice@box.test")
        s.rcpt("bob@box.test")
        code, text = s.data(message("queued " + large, body=body).as_bytes())
        assert code == 250 and text.startswith(b"2.0.0 Ok: queued as "), text
    got = one_with(r, "bob", large)
    assert got.count(b"x" * 77) == 16000
    assert "queued id=" in r.log() and "delivered id=" in r.log()
    r.wait_queue_empty()



def _maps_tls_library(pid):
    with open("/proc/%d/maps" % pid) as f:
        return any("/libssl.so" in line or "/libcrypto.so" in line for line in f)


def _serving(relay_pid, client):
    """The relay's process that holds the other end of CLIENT's socket."""
    port = client.getsockname()[1]
    with open("/proc/net/tcp") as f:
        sockets = {"socket:[%s]" % l.split()[9] for l in f.readlines()[1:]
                   if int(l.split()[2].split(":")[1], 16) == port}
    for pid in fixtures.descendants(relay_pid):
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in sockets:
                    return pid
            except FileNotFoundError:
                pass
    raise AssertionError("no relay process holds the session's socket")


def test_openssl_loaded_only_where_tls_is_spoken(relay, tls_cert):
    """OpenSSL is opened at first use, not linked (lib/ssl-load.c): the
    listening relay and the process of a session without TLS never load
    it; the process of a session that starts TLS does."""
    r = relay()
    with smtplib.SMTP("127.0.0.1", r.port, timeout=15) as s:
        s.send_message(message("plain " + token()))
        assert not _maps_tls_library(_serving(r.proc.pid, s.sock))
    ctx = ssl.create_default_context(cafile=tls_cert.cert)
    with smtplib.SMTP("127.0.0.1", r.port, timeout=15) as s:
        s.starttls(context=ctx)
        s.noop()
        assert _maps_tls_library(_serving(r.proc.pid, s.sock))
    assert not _maps_tls_library(r.proc.pid)
