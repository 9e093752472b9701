"""`homemail status` reads what the programs left in state_dir: each dyndns
record's accepted address and last outcome in words (also while held or
backing off), and the relay queue's size; it never shows a secret."""
import os
import re
import time

from test_dyndns import PW, dyndns, write_conf

import fixtures


def status(bin, conf):
    return fixtures.run([bin("admin/homemail"), "status", "-c", conf])


def test_status_shows_records(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "status-dyn")
    conf = write_conf(d, dyn, dyn_cert.cert, ipv6=True)
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "box.dyn.test A (dyndns2)" in r.out and "box.dyn.test AAAA (dyndns2)" in r.out
    assert r.out.count("never updated") == 2
    assert "relay queue: not created yet" in r.out

    dyn.ip6 = "2a01:4f8::7"
    assert dyndns(bin, conf).rc == 0
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "address: 81.2.69.160, accepted" in r.out
    assert "address: 2a01:4f8::7, accepted" in r.out
    assert "for 81.2.69.160: accepted (good)" in r.out

    # A refusal: the old address stays what the name points at, the
    # outcome says what happens next and the provider's words are shown.
    with open(os.path.join(d, "dyn.secret"), "w") as f:
        f.write("wrong-secret\n")
    dyn.ip4 = "81.2.69.170"
    assert dyndns(bin, conf).rc == 1
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "address: 81.2.69.160, accepted" in r.out
    assert "for 81.2.69.170: refused as configured" in r.out and "(badauth)" in r.out
    assert "wrong-secret" not in r.out and PW not in r.out

    # Provider trouble: the back-off's end is shown.
    with open(os.path.join(d, "dyn.secret"), "w") as f:
        f.write(PW + "\n")
    dyn.answer = "911"
    assert dyndns(bin, conf).rc == 1
    r = status(bin, conf)
    assert "provider trouble, backing off (911)" in r.out, r.out
    assert "next request not before" in r.out


def test_status_unreadable_cache(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "status-fifo")
    conf = write_conf(d, dyn, dyn_cert.cert)
    os.makedirs(os.path.join(d, "state", "dyndns"), exist_ok=True)
    os.mkfifo(os.path.join(d, "state", "dyndns", "box.dyn.test-dyndns2-A"))
    r = status(bin, conf)
    assert r.rc == 1, r
    assert "cache:" in r.out


def test_status_queue_count(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "status-queue")
    conf = write_conf(d, dyn, dyn_cert.cert)
    os.makedirs(os.path.join(d, "state", "queue"), exist_ok=True)
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "relay queue: 0 messages" in r.out


def test_status_last_fetch_and_listeners(bin, hm_tmp):
    """The fetcher's record of its last pass, after a failure and after a
    damaged record; a configured listener nobody serves makes status 1."""
    d = os.path.join(hm_tmp, "status-fetch")
    os.makedirs(d)
    closed = fixtures.free_port()
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write('hostname = "box.lan";\nstate_dir = "%s/state";\nmail_dir = "%s/mail";\n'
                'users = ( { name = "alice"; } );\n'
                'popd = { listen = [ "127.0.0.1:%d" ]; };\n'
                'fetcher = { deliver = "local"; accounts = ( { name = "isp"; protocol = "pop3"; '
                'host = "127.0.0.1"; port = %d; tls = "none"; user = "u"; password = "p"; '
                'to = "alice"; } ); };\n' % (d, d, closed, closed))
    os.chmod(conf, 0o600)
    r = status(bin, conf)
    assert r.rc == 1, r
    assert "isp (u@127.0.0.1): never fetched" in r.out
    assert re.search(r"127\.0\.0\.1:%d: nothing accepts \(.*refused" % closed, r.out), r.out
    f = fixtures.run([bin("fetcher/homemail-fetcher"), "-c", conf, "--once"])
    assert f.rc == 1, f
    r = status(bin, conf)
    assert re.search(r"isp \(u@127\.0\.0\.1\): last fetch .* \(\d+ s ago\): failed: .*refused",
                     r.out), r.out
    last = os.path.join(d, "state", "fetch", "isp.last")
    with open(last) as fh:
        text = fh.read()
    assert text.startswith("homemail-fetch-last 1\n") and "result failed\n" in text, text
    assert "p\n" not in text.split("error", 1)[1]
    with open(last, "w") as fh:
        fh.write("homemail-fetch-last 1\ntime x\n")
    r = status(bin, conf)
    assert r.rc == 1 and "not a fetch record" in r.out, r


def test_status_shows_no_terminal_controls(bin, hm_tmp, dyn, dyn_cert):
    """What status prints from state files (the service user's) and from
    providers and servers (their answers, their errors) reaches the
    admin's terminal with escape sequences and C1 controls as '?', UTF-8
    text readable."""
    d = os.path.join(hm_tmp, "status-esc")
    conf = write_conf(d, dyn, dyn_cert.cert)
    with open(conf, "a") as f:
        f.write('fetcher = { deliver = "local"; accounts = ( { name = "isp"; '
                'protocol = "pop3"; host = "127.0.0.1"; port = 1; tls = "none"; user = "u"; '
                'password = "p"; to = "alice"; } ); };\nusers = ( { name = "alice"; } );\n')
    os.chmod(conf, 0o600)
    state = os.path.join(d, "state")
    os.makedirs(os.path.join(state, "dyndns"))
    os.makedirs(os.path.join(state, "fetch"))
    now = int(time.time())
    with open(os.path.join(state, "dyndns", "box.dyn.test-dyndns2-A"), "wb") as f:
        f.write(("address=81.2.69.160\x1b[2J\nupdated=%d\nsent=81.2.69.161\u009b1;1H\n"
                 "attempted=%d\noutcome=hold\ncode=badauth\x1b]0;x\x07\n"
                 "text=Falsches Passwort \u00e4\x1b[31m\u0085\n" % (now, now)).encode())
    with open(os.path.join(state, "fetch", "isp.last"), "wb") as f:
        f.write(("homemail-fetch-last 1\ntime %d\nresult failed\nfetched 0\n"
                 "error -ERR \x1b[41mno\u009b \u00fcber\n" % now).encode())
    r = status(bin, conf)
    for c in ("\x1b", "\x07", "\u009b", "\u0085"):
        assert c not in r.out, (c, r.out)
    assert "address: 81.2.69.160?[2J, accepted" in r.out, r.out
    assert "for 81.2.69.161?1;1H: refused as configured" in r.out, r.out
    assert "(badauth?]0;x?)" in r.out, r.out
    assert "Falsches Passwort \u00e4?[31m?" in r.out, r.out
    assert "failed: -ERR ?[41mno? \u00fcber" in r.out, r.out


def test_state_dir_root_only(bin, hm_tmp):
    """Run as a user who may not look into a root-owned 0700 state_dir,
    status, queue flush, mailq's -q and network-up say so and fail: a
    queue or relay they cannot see is not one that is not there."""
    d = os.path.join(hm_tmp, "status-denied")
    state = os.path.join(d, "state")
    os.makedirs(os.path.join(state, "queue"))
    os.chmod(state, 0o700)
    os.mkfifo(os.path.join(state, "queue", "pickup"), 0o622)
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write('hostname = "box.lan";\nstate_dir = "%s";\n' % state)
    os.chmod(conf, 0o644)

    def as_nobody(*argv):
        return fixtures.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup",
                             "--clear-groups", "--"] + list(argv))
    denied = "Permission denied"
    r = as_nobody(bin("admin/homemail"), "status", "-c", conf)
    assert r.rc == 1, r
    assert "relay queue: %s/queue: %s" % (state, denied) in r.out, r
    assert "not created yet" not in r.out, r
    r = as_nobody(bin("admin/homemail"), "-c", conf, "queue", "flush")
    assert r.rc == 1 and "%s/queue/pickup: %s" % (state, denied) in r.err, r
    assert "not running" not in r.err, r
    r = as_nobody(bin("relay/homemail-sendmail"), "-C", conf, "-q")
    assert r.rc == 77 and "%s/queue/pickup: %s" % (state, denied) in r.err, r
    # state_dir may be entered (no up.pid there), its queue not.
    os.chmod(state, 0o711)
    os.chmod(os.path.join(state, "queue"), 0o700)
    r = as_nobody(bin("admin/homemail"), "-c", conf, "network-up")
    assert r.rc == 1 and "relay: open %s/queue/pickup: %s" % (state, denied) in r.err, r
    assert "not running" not in r.out, r


def test_status_times_ahead(bin, hm_tmp, relay, dyn, dyn_cert):
    """A next retry and the end of a back-off are meant to lie ahead: they
    are shown as "(in ...)", and only a past event found ahead of now
    (the clock set back) gets the remark about the clock."""
    r = relay(retry={"first": 3600, "max_interval": 3600})
    res = r.sendmail(["-f", "alice@box.test", "friend@remote.example"], b"Subject: q\n\nx\n")
    assert res.rc == 0, res
    deadline = time.monotonic() + 10
    while "next retry: " not in status(bin, r.conf).out and time.monotonic() < deadline:
        time.sleep(0.1)
    s = status(bin, r.conf)
    assert re.search(r"next retry: [^\n]* \(in \d+ min\)\n", s.out), s.out
    assert "check the clock" not in s.out, s.out

    d = os.path.join(hm_tmp, "status-ahead")
    conf = write_conf(d, dyn, dyn_cert.cert)
    os.makedirs(os.path.join(d, "state", "dyndns"))
    now = int(time.time())
    with open(os.path.join(d, "state", "dyndns", "box.dyn.test-dyndns2-A"), "w") as f:
        f.write("address=81.2.69.160\nupdated=%d\nsent=81.2.69.161\nattempted=%d\n"
                "outcome=backoff\ncode=911\nbackoff_until=%d\nbackoff_s=7200\n"
                % (now + 600, now - 30, now + 7200))
    s = status(bin, conf)
    assert re.search(r"next request not before [^\n]* \(in (119 min|2 h)\)\n", s.out), s.out
    assert re.search(r"last request: [^\n]* \(3\d s ago\)", s.out), s.out
    # updated lies ahead: that one is a past event, and the clock is off.
    assert re.search(r"address: 81\.2\.69\.160, accepted [^\n]* "
                     r"\(in the future: check the clock\)\n", s.out), s.out
