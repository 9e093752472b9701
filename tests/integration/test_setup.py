"""`homemail setup` driven through a real pseudo-terminal (pexpect): a full
run writes a config `homemail check` accepts, passwords are never echoed, a
mismatched retype and bad answers are explained and asked again, "<" goes
back, a re-run offers the old values and keeps a hand-written comment, and
`--answers` of the saved answers file writes the same config byte for
byte."""
import hashlib
import io
import os
import re
import signal
import ssl
import stat
import tempfile
import warnings

import pexpect
import pytest

import fixtures
from fixtures.bind import Bind, BindError
from fixtures.dynhttp import PASSWORD as DYN_PW

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated, still in 3.11; the libc crypt(3) is what we check against

ALICE_PW = "Al1ce-pw-typed"
UPSTREAM_PW = "Upstr3am-secret"
SMTP_PW = "Sm4rt-secret"


def homemail():
    return fixtures.program("admin/homemail")


def workdir(hm_tmp):
    return tempfile.mkdtemp(prefix="setup-", dir=hm_tmp)


DNS = {}


@pytest.fixture(scope="module", autouse=True)
def empty_dns(hm_tmp):
    """A real BIND 9 serving isp.example with no SRV records, for settings
    discovery (admin/discover.h's test hooks keep it on loopback)."""
    ns = Bind(tempfile.mkdtemp(prefix="bind-setup-", dir=hm_tmp), zones={"isp.example": ""})
    try:
        ns.start()
    except BindError as e:
        pytest.fail(str(e), pytrace=False)
    DNS["resolver"] = ns.resolver
    try:
        yield ns
    finally:
        ns.stop()


def offline_env():
    """Discovery finds nothing for isp.example, at once: no SRV records,
    and every autoconfig request goes to a port where nothing listens."""
    dead = "127.0.0.1:%d" % fixtures.free_port()
    return dict(os.environ, HM_DISCOVER_RESOLVER=DNS["resolver"], HM_DISCOVER_CONNECT_TO=dead)


def terminal_signals():
    """In a spawned child: the signals a terminal's user sends act as in a
    shell's foreground job, whatever the test runner ignores (a background
    job ignores SIGINT and SIGQUIT, nohup SIGHUP; ignoring is inherited)."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_DFL)


def spawn(conf, *extra, check=False, env=None):
    """setup on a pty; without check, --no-check (the servers of these
    runs are names only: testing them would leave loopback)."""
    args = ["setup", "-c", conf, "--no-start"] + ([] if check else ["--no-check"])
    child = pexpect.spawn(homemail(), args + list(extra), timeout=30, echo=True,
                          encoding="utf-8", env=env or offline_env(), preexec_fn=terminal_signals)
    # Everything the terminal showed, to look for a password in.
    child.logfile_read = io.StringIO()
    return child


def full_answers(d, popd_port):
    """(prompt regex, reply) in the order the dialogue asks."""
    return [
        (r"General type of mail configuration \[smarthost\]: ", ""),
        (r"System mail name \[.*\]: ", "box.example.test"),
        (r"DNS name on the internet \(empty: none\) \[\]: ", ""),
        (r"Other destinations .*\[box.example.test localhost\]: ", ""),
        (r"LAN address of this box \(empty: no LAN.*\) \[.*\]: ", "192.168.77.2"),
        (r"Machines to relay mail for \[.*\]: ", "192.168.77.0/24"),
        (r"listen on for incoming SMTP \[127.0.0.1:25 192.168.77.2:587\]: ",
         "127.0.0.1:%d" % fixtures.free_port()),
        (r"Directory for the queue and state \[/var/lib/homemail\]: ", d + "/state"),
        (r"Directory for the users' Maildirs \[%s/state/mail\]: " % re.escape(d), ""),
        (r"run as \(empty: as started\) \[\]: ", ""),
        (r"Local users \[.*\]: ", "alice"),
        (r"Password for alice \(not shown\): ", ALICE_PW),
        (r"Retype the password: ", ALICE_PW),
        (r"Upstream mailboxes \[isp\]: ", ""),
        (r"E-mail address \[\]: ", "alice@isp.example"),
        (r"Protocol \[imap\]: ", "pop3"),
        (r"Server \[\]: ", "pop.isp.example"),
        (r"Encryption \[tls\]: ", ""),
        (r"Port \[995\]: ", ""),
        (r"User name \[alice@isp.example\]: ", ""),
        (r"Log in with \[password\]: ", ""),
        (r"Password \(not shown\) \[\]: ", UPSTREAM_PW),
        (r"Deliver its mail to local user \[alice\]: ", ""),
        (r"Leave fetched mail on the server \[no\]: ", "yes"),
        (r"Server \[\]: ", "smtp.isp.example"),
        (r"Encryption \[starttls\]: ", ""),
        (r"Port \[587\]: ", ""),
        (r"User name \[alice@isp.example\]: ", ""),
        (r"Log in with \[password\]: ", ""),
        (r"Password \(not shown\) \[\]: ", SMTP_PW),
        (r"Sender address on the internet .*\[alice@isp.example\]: ", ""),
        (r"IP addresses and ports for the POP3 server \[.*\]: ",
         "127.0.0.1:%d 127.0.0.1:%d/tls" % (popd_port, fixtures.free_port())),
        (r"TLS certificate .*\[%s/cert.pem\]: " % re.escape(d), ""),
        (r"TLS key \(PEM\) \[%s/key.pem\]: " % re.escape(d), ""),
        (r"Dynamic DNS provider \[none\]: ", ""),
    ]


def drive(child, steps):
    """Answers each prompt of STEPS in turn; a reply of None only waits
    for the text (a message between prompts)."""
    for prompt, reply in steps:
        child.expect(prompt)
        if reply is not None:
            child.sendline(reply)


def finish(child):
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.logfile_read.getvalue()


def check_ok(conf):
    r = fixtures.run([homemail(), "check", "-c", conf])
    assert r.rc == 0, r
    return r


def interactive_run(hm_tmp):
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    child = spawn(conf)
    drive(child, full_answers(d, fixtures.free_port()))
    rc, out = finish(child)
    assert rc == 0, out
    return d, conf, out


def test_full_run_writes_a_config_check_accepts(hm_tmp):
    d, conf, out = interactive_run(hm_tmp)
    check_ok(conf)
    text = open(conf).read()
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o640
    h = re.search(r'password = "([^"]+)"', text).group(1)
    assert crypt.crypt(ALICE_PW, h) == h
    assert 'protocol = "pop3";' in text and "keep = true;" in text
    assert 'send_as = "alice@isp.example";' in text
    # Secrets are in files of their own, 0600, never in the config.
    for name, pw in (("account-isp", UPSTREAM_PW), ("smarthost", SMTP_PW)):
        path = os.path.join(d, "secret", name)
        assert open(path).read() == pw + "\n"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert 'password_file = "%s";' % path in text
    for pw in (ALICE_PW, UPSTREAM_PW, SMTP_PW):
        assert pw not in text
        assert pw not in out, "a password was echoed"
        assert pw not in open(conf + ".answers").read()
    # A self-signed certificate the key matches, and alice's Maildir.
    assert "BEGIN CERTIFICATE" in open(os.path.join(d, "cert.pem")).read()
    assert stat.S_IMODE(os.stat(os.path.join(d, "key.pem")).st_mode) == 0o600
    for sub in ("cur", "new", "tmp"):
        assert os.path.isdir(os.path.join(d, "state", "mail", "alice", sub))
    # The end: what to run, what a client needs, what is not needed.
    assert "homemail -c %s up" % conf in out
    assert "incoming: POP3, server 192.168.77.2" in out
    assert "no MX" not in out and "an MX record" in out


def test_answers_file_gives_the_same_config(hm_tmp):
    d, conf, _ = interactive_run(hm_tmp)
    other = os.path.join(workdir(hm_tmp), "homemail.conf")
    r = fixtures.run([homemail(), "setup", "-c", other, "--no-start", "--no-check",
                      "--answers", conf + ".answers"], env=offline_env())
    assert r.rc == 0, r
    assert open(other, "rb").read() == open(conf, "rb").read()
    check_ok(other)


def test_mismatched_password_is_asked_again(hm_tmp):
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    child = spawn(conf)
    steps = full_answers(d, fixtures.free_port())
    i = [p for p, _ in steps].index(r"Retype the password: ")
    steps[i:i + 1] = [
        (r"Retype the password: ", "something-else"),
        (r"the passwords do not match; try again", None),
        (r"Password for alice \(not shown\): ", "second-pw"),
        (r"Retype the password: ", "second-pw"),
    ]
    drive(child, steps)
    rc, out = finish(child)
    assert rc == 0, out
    h = re.search(r'password = "([^"]+)"', open(conf).read()).group(1)
    assert crypt.crypt("second-pw", h) == h
    assert "second-pw" not in out and "something-else" not in out


def test_back_goes_to_the_previous_question(hm_tmp):
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    child = spawn(conf)
    steps = full_answers(d, fixtures.free_port())
    i = [p for p, _ in steps].index(r"Port \[995\]: ")
    # At the port, go back to the encryption, make it STARTTLS: the port's
    # default follows (110), and the first answer given is shown again.
    steps[i:i + 1] = [
        (r"Port \[995\]: ", "<"),
        (r"Encryption \[tls\]: ", "starttls"),
        (r"Port \[110\]: ", ""),
    ]
    j = [p for p, _ in steps].index(r"Local users \[.*\]: ")
    steps[j + 1:j + 1] = [
        (r"Password for alice \(not shown\): ", "back"),
        (r"Local users \[alice\]: ", "alice"),
    ]
    drive(child, steps)
    rc, out = finish(child)
    assert rc == 0, out
    text = open(conf).read()
    assert re.search(r'host = "pop.isp.example";\n\s+port = 110;\n\s+tls = "starttls";', text)
    check_ok(conf)


def test_bad_answers_are_explained_and_asked_again(hm_tmp):
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    child = spawn(conf)
    steps = full_answers(d, fixtures.free_port())
    i = [p for p, _ in steps].index(r"Server \[\]: ")
    steps[i:i + 1] = [
        (r"Server \[\]: ", ""),
        (r"An answer is required here.", None),
        (r"Server \[\]: ", "pop.isp.example"),
    ]
    j = [p for p, _ in steps].index(r"Port \[995\]: ")
    steps[j:j + 1] = [
        (r"Port \[995\]: ", "70000"),
        (r'"70000" is not a port: give a number from 1 to 65535.', None),
        (r"Port \[995\]: ", "10995"),
    ]
    k = [p for p, _ in steps].index(r"Protocol \[imap\]: ")
    steps[k:k + 1] = [
        (r"Protocol \[imap\]: ", "smtp"),
        (r'"smtp" is not one of the choices: give imap, pop3, or its number.', None),
        (r"Protocol \[imap\]: ", "2"),
    ]
    drive(child, steps)
    rc, out = finish(child)
    assert rc == 0, out
    text = open(conf).read()
    assert "port = 10995;" in text and 'protocol = "pop3";' in text
    check_ok(conf)


def test_rerun_offers_old_values_and_keeps_comments(hm_tmp):
    d, conf, _ = interactive_run(hm_tmp)
    first = open(conf).read()
    edited = first.replace('hostname = "box.example.test";',
                           '# the box in the hall\nhostname = "box.example.test";  // mine')
    edited = edited.replace("relay = {\n", "relay = {\n  max_message_size = 1048576;\n")
    assert edited != first
    with open(conf, "w") as f:
        f.write(edited)
    child = spawn(conf)
    # Enter everywhere: each prompt must show the value given last time.
    for prompt in [r"General type of mail configuration \[smarthost\]: ",
                   r"System mail name \[box.example.test\]: ",
                   r"DNS name on the internet \(empty: none\) \[\]: ",
                   r"Other destinations .*\[box.example.test localhost\]: ",
                   r'LAN address of this box \(empty: no LAN; "-" empties it\) \[192.168.77.2\]: ',
                   r"Machines to relay mail for \[192.168.77.0/24\]: ",
                   r"listen on for incoming SMTP \[127.0.0.1:\d+\]: ",
                   r"Directory for the queue and state \[%s/state\]: " % re.escape(d),
                   r"Directory for the users' Maildirs \[%s/state/mail\]: " % re.escape(d),
                   r"run as \(empty: as started\) \[\]: ",
                   r"Local users \[alice\]: ",
                   r"Password for alice \(not shown; Enter keeps it\): ",
                   r"Upstream mailboxes \[isp\]: ",
                   r"E-mail address \[alice@isp.example\]: ",
                   r"Protocol \[pop3\]: ", r"Server \[pop.isp.example\]: ",
                   r"Encryption \[tls\]: ", r"Port \[995\]: ",
                   r"User name \[alice@isp.example\]: ", r"Log in with \[password\]: ",
                   r"Password \(not shown\) \[Enter keeps the current one\]: ",
                   r"Deliver its mail to local user \[alice\]: ",
                   r"Leave fetched mail on the server \[yes\]: ",
                   r"Server \[smtp.isp.example\]: ",
                   r"Encryption \[starttls\]: ", r"Port \[587\]: ",
                   r"User name \[alice@isp.example\]: ", r"Log in with \[password\]: ",
                   r"Password \(not shown\) \[Enter keeps the current one\]: ",
                   r"Sender address on the internet .*\[alice@isp.example\]: ",
                   r"POP3 server \[127.0.0.1:\d+ 127.0.0.1:\d+/tls\]: ",
                   r"TLS certificate .*\[%s/cert.pem\]: " % re.escape(d),
                   r"TLS key \(PEM\) \[%s/key.pem\]: " % re.escape(d),
                   r"Dynamic DNS provider \[none\]: "]:
        child.expect(prompt)
        child.sendline("")
    rc, out = finish(child)
    assert rc == 0, out
    text = open(conf).read()
    assert "# the box in the hall\n" in text
    assert 'hostname = "box.example.test";  // mine\n' in text
    assert "relay = {\n  max_message_size = 1048576;\n  listen" in text
    # Nothing else changed: the same answers, the same settings.
    assert text == edited
    check_ok(conf)


def test_missing_answer_is_named(hm_tmp):
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    answers = os.path.join(d, "answers")
    with open(answers, "w") as f:
        f.write("# unattended\nhostname = box.example.test\nusers = alice\n"
                "user.alice.password = pw\nstate_dir = %s/state\n"
                "accounts = isp\naccount.isp.address = alice@isp.example\n" % d)
    r = fixtures.run([homemail(), "setup", "-c", conf, "--no-start", "--no-check", "--answers",
                      answers],
                     env=offline_env())
    assert r.rc == 1
    assert "homemail: setup: missing answer: account.isp.host" in r.err
    assert not os.path.exists(conf)
    with open(answers, "a") as f:
        f.write("account.isp.host = imap.isp.example\naccount.isp.port = 70000\n")
    r = fixtures.run([homemail(), "setup", "-c", conf, "--no-start", "--no-check", "--answers",
                      answers],
                     env=offline_env())
    assert r.rc == 1
    assert "account.isp.port: \"70000\" is not a port" in r.err


def test_a_known_provider_fills_the_servers(hm_tmp):
    """An address at Gmail: the presets (admin/presets.c) give the IMAP
    server and the smart host as defaults, and setup says where they came
    from; no network is asked for them."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    child = spawn(conf)
    answers = full_answers(d, fixtures.free_port())
    i = next(k for k, (prompt, _) in enumerate(answers) if prompt.startswith(r"E-mail address"))
    drive(child, answers[:i] + [(answers[i][0], "alice@gmail.com")])
    child.expect(r"provider: Gmail")
    child.expect(r"imap: imap\.gmail\.com port 993 \(tls\), from preset")
    child.expect(r"smtp: smtp\.gmail\.com port \d+ \((tls|starttls)\), from preset")
    child.expect(r"Protocol \[imap\]: ")
    child.sendline("")
    child.expect(r"Server \[imap\.gmail\.com\]: ")
    child.terminate(force=True)


@pytest.fixture(scope="module")
def setup_sh(postfix_smarthost):
    return postfix_smarthost(users={"alice@isp.example": SMTP_PW})


def dyndns2_answers(dyn, password):
    """The dialogue's dyndns part for the dyndns2 fixture, found by the web
    detection."""
    return [
        (r"Dynamic DNS provider \[none\]: ", "dyndns2"),
        (r"Name to keep up to date \[\]: ", "box.dyn.test"),
        (r"Update server URL \[\]: ", dyn.url),
        (r"User name at the provider \[\]: ", "dynuser"),
        (r"Password or token \(not shown\) \[\]: ", password),
        (r"How to find the public address \[router\]: ", "web"),
        (r"Check-IP page\(s\) for IPv4 \[\]: ", dyn.url + "/ip4"),
    ]


def test_live_checks_against_real_servers(hm_tmp, dovecot, setup_sh, dyn, dyn_cert):
    """Setup tests each server as it is entered, against a real Dovecot
    (POP3 over TLS), a real Postfix smart host (STARTTLS + AUTH) and the
    dyndns2 fixture (a dry run): a wrong upstream password is reported, the
    person goes back and types the right one, the checks pass, and the
    config it writes passes `homemail check --live`. Nothing is sent and no
    record is updated. The test's CAs are trusted through SSL_CERT_FILE
    (setup asks no ca_file: a person's servers have public certificates),
    by the mail protocols and by HTTPS alike."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    bundle = os.path.join(d, "test-cas.pem")
    with open(bundle, "w") as out:
        for ca in (dovecot.cafile, setup_sh.ca_file, dyn_cert.cert):
            out.write(open(ca).read())
    env = dict(offline_env(), SSL_CERT_FILE=bundle)
    child = spawn(conf, check=True, env=env)
    steps = full_answers(d, fixtures.free_port())[:-1] + dyndns2_answers(dyn, DYN_PW)
    replace = {
        r"Server \[\]: ": iter(["127.0.0.1", "127.0.0.1"]),
        r"Port \[995\]: ": iter([str(dovecot.pop3s_port)]),
        r"Port \[587\]: ": iter([str(setup_sh.port)]),
        r"User name \[alice@isp.example\]: ": iter([dovecot.user, None]),
        r"Password \(not shown\) \[\]: ": iter(["wrong-" + dovecot.password, SMTP_PW]),
    }
    steps = [(p, next(replace[p]) if p in replace else r) for p, r in steps]
    # The smart host's login defaults to the mailbox's, which is now
    # Dovecot's user: it is typed.
    steps = [(r"User name \[%s\]: " % dovecot.user, "alice@isp.example") if r is None else (p, r)
             for p, r in steps]
    i = next(k for k, (p, _) in enumerate(steps) if p.startswith(r"Deliver its mail"))
    drive(child, steps[:i + 2])            # through "Leave fetched mail ..."
    try:
        child.expect(r"account\.isp: the check failed: .*refused.*\r\nChange the settings\? \[yes\]: ")
    except pexpect.TIMEOUT:
        pytest.fail(child.logfile_read.getvalue()[-3000:], pytrace=False)
    child.sendline("")
    # Back at the mailbox's settings, the earlier answers as defaults:
    # Enter until the password, then the right one.
    while True:
        k = child.expect([r"Password \(not shown\) \[.*\]: ", r"\]: "])
        if k == 0:
            child.sendline(dovecot.password)
            break
        child.sendline("")
    child.expect(r"Deliver its mail to local user \[alice\]: ")
    child.sendline("")
    child.expect(r"Leave fetched mail on the server \[yes\]: ")
    child.sendline("")
    child.expect(r"account\.isp: checked, it works")
    j = next(k for k, (p, _) in enumerate(steps) if p.startswith(r"Sender address"))
    drive(child, steps[i + 2:j])           # the smart host
    child.expect(r"smarthost: checked, it works")
    drive(child, steps[j:])
    try:
        child.expect(r"dyndns: checked, it works")
    except (pexpect.TIMEOUT, pexpect.EOF):
        pytest.fail(child.logfile_read.getvalue()[-3000:], pytrace=False)
    rc, out = finish(child)
    assert rc == 0, out
    assert dovecot.password not in out and SMTP_PW not in out and DYN_PW not in out
    # The blocklist lookup of the advice went to the test's BIND (no
    # recursion: it refuses), not to the system's resolver.
    assert "blocklist: could not be checked on zen.spamhaus.org (rcode REFUSED)" in out, out
    assert "box.dyn.test" in open(conf).read()
    assert [q["path"] for q in dyn.requests if q["path"] != "/ip4"] == []
    r = fixtures.run([homemail(), "check", "--live", "-c", conf], env=env, timeout=120)
    assert r.rc == 0, r
    assert "dyndns record box.dyn.test (dyndns2): ok" in r.out, r
    assert setup_sh.messages() == []       # tested, nothing sent
    assert dyn.updates() == []             # checked, nothing changed


def test_failed_dyndns_check_goes_back_to_the_provider(hm_tmp, dyn, dyn_cert):
    """The dyndns dry run fails (the check-IP page shows a private address):
    setup says why, "Change the settings?" goes back to the provider
    question with the answers as defaults, and once the page shows a public
    address the check passes. No update is sent either time."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    dyn.ip4 = "192.168.1.5"
    child = spawn(conf, check=True, env=dict(offline_env(), SSL_CERT_FILE=dyn_cert.cert))
    steps = full_answers(d, fixtures.free_port())
    steps[0] = (steps[0][0], "local")
    steps = [st for st in steps if st[0].startswith((r"General", r"System", r"Other", r"LAN",
                                                      r"Machines", r"IP addresses", r"TLS",
                                                      r"Local", r"Password for", r"Retype",
                                                      r"Directory", r"run as"))]
    replies = dict(steps)
    done = False
    try:
        while not done:
            k = child.expect([r"dyndns: the check failed: (.*)\r\nChange the settings\? \[yes\]: ",
                              r"Dynamic DNS provider \[none\]: ",
                              r"Dynamic DNS provider \[dyndns2\]: ",
                              r"dyndns: checked, it works", r"\]: "] + [p for p, _ in steps])
            if k == 0:
                assert "no publishable IPv4 address detected" in child.match.group(1)
                dyn.ip4 = "81.2.69.160"
                child.sendline("")
                child.expect(r"[^\n]*\]: ")     # the next question: the provider's
                assert child.after.strip() == "Dynamic DNS provider [dyndns2]:", child.after
                k = 2
            if k == 1:
                drive(child, [(r"", "dyndns2")] + dyndns2_answers(dyn, DYN_PW)[1:])
            elif k == 2:               # back: every earlier answer is the default
                child.sendline("")
                for prompt in (r"Name to keep up to date \[box\.dyn\.test\]: ",
                               r"Update server URL \[%s\]: " % re.escape(dyn.url),
                               r"User name at the provider \[dynuser\]: ",
                               r"Password or token \(not shown\).*: ",
                               r"How to find the public address \[web\]: ",
                               r"Check-IP page\(s\) for IPv4 \[%s/ip4\]: " % re.escape(dyn.url)):
                    child.expect(prompt)
                    child.sendline(DYN_PW if "not shown" in prompt else "")
            elif k == 3:
                done = True
            elif k == 4:
                child.sendline("")
            else:
                child.sendline(replies[steps[k - 5][0]])
    except (pexpect.TIMEOUT, pexpect.EOF):
        pytest.fail(child.logfile_read.getvalue()[-3000:], pytrace=False)
    rc, out = finish(child)
    assert rc == 0, out
    assert out.count("dyndns: the check failed") == 1, out
    assert DYN_PW not in out
    assert dyn.updates() == []
    assert "box.dyn.test" in open(conf).read()


def fetch_only_answers(d):
    """full_answers for a box that fetches and sends nothing out: no smart
    host questions."""
    steps = full_answers(d, fixtures.free_port())
    steps[0] = (steps[0][0], "fetch")
    i = next(k for k, (p, _) in enumerate(steps) if p.startswith(r"Leave fetched mail"))
    j = next(k for k, (p, _) in enumerate(steps) if p.startswith(r"IP addresses and ports"))
    return steps[:i + 1] + steps[j:]


def cert_pin(pem_file):
    """The pin of a PEM certificate as homemail writes it."""
    der = ssl.PEM_cert_to_DER_cert(open(pem_file).read())
    digest = hashlib.sha256(der).hexdigest().upper()
    return "sha256:" + ":".join(digest[k:k + 2] for k in range(0, len(digest), 2))


def rerun_with_enter(conf, env=None):
    """A re-run that takes every default; returns the terminal text."""
    child = spawn(conf, env=env)
    while child.expect([r"\]: ", r"Enter keeps it\): ", pexpect.EOF]) != 2:
        child.sendline("")
    child.close()
    assert child.exitstatus == 0, child.logfile_read.getvalue()
    return child.logfile_read.getvalue()


def test_untrusted_certificate_is_pinned(hm_tmp, dovecot):
    """A Dovecot whose CA the box does not trust (no SSL_CERT_FILE): the
    check fails, setup shows the fingerprint and offers to pin it, the
    person says yes, the check passes with the pin, the config carries it
    and passes `homemail check --live`, and a re-run keeps it."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    env = offline_env()
    env.pop("SSL_CERT_FILE", None)
    child = spawn(conf, check=True, env=env)
    replace = {r"Server \[\]: ": "127.0.0.1", r"Port \[995\]: ": str(dovecot.pop3s_port),
               r"User name \[alice@isp.example\]: ": dovecot.user,
               r"Password \(not shown\) \[\]: ": dovecot.password}
    steps = [(p, replace.get(p, r)) for p, r in fetch_only_answers(d)]
    i = next(k for k, (p, _) in enumerate(steps) if p.startswith(r"Leave fetched mail"))
    drive(child, steps[:i + 1])
    pin = cert_pin(dovecot.cafile)
    try:
        child.expect(r"account\.isp: the check failed: .*not trusted")
        child.expect(r"\s+%s\r\n" % re.escape(pin))
        child.expect(r"Trust this certificate anyway \(pin it\)\? \[no\]: ")
    except pexpect.TIMEOUT:
        pytest.fail(child.logfile_read.getvalue()[-3000:], pytrace=False)
    child.sendline("yes")
    child.expect(r"account\.isp: checked, it works")
    drive(child, steps[i + 1:])
    rc, out = finish(child)
    assert rc == 0, out
    assert dovecot.password not in out
    assert "\nadvice (explains, changes nothing):\r\n" in out, out
    assert '      fingerprint = "%s";\n' % pin in open(conf).read()
    assert "account.isp.fingerprint = %s\n" % pin in open(conf + ".answers").read()
    r = fixtures.run([homemail(), "check", "--live", "-c", conf], env=env, timeout=120)
    assert r.rc == 0, r
    # A re-run offers the pin as the default and keeps it; the config is
    # unchanged.
    first = open(conf).read()
    out = rerun_with_enter(conf)
    assert re.search(r"Certificate pin .*\[%s\]: " % re.escape(pin), out), out
    assert open(conf).read() == first


def test_advice_at_the_end_of_an_answers_run(hm_tmp):
    """An --answers run with checks ends with the advice of `check --live`;
    it explains and does not change the outcome (the servers here refuse
    connections: the run still succeeds). Everything stays on loopback:
    the servers are 127.0.0.1 ports where nothing listens, no dyndns record
    means no public address to look up on a blocklist, and a UTS namespace
    of its own names the host "localhost"."""
    d, conf, _ = interactive_run(hm_tmp)
    text = open(conf + ".answers").read()
    for key in ("account.isp", "smarthost"):
        text = re.sub(r"^%s\.host = .*$" % re.escape(key), "%s.host = 127.0.0.1" % key,
                      text, flags=re.M)
        text = re.sub(r"^%s\.port = .*$" % re.escape(key),
                      "%s.port = %d" % (key, fixtures.free_port()), text, flags=re.M)
    answers = os.path.join(d, "loopback.answers")
    with open(answers, "w") as f:
        f.write(text)
    other = os.path.join(workdir(hm_tmp), "homemail.conf")
    r = fixtures.run(["unshare", "--uts", "sh", "-c", 'hostname localhost && exec "$@"', "sh",
                      homemail(), "setup", "-c", other, "--no-start", "--answers", answers],
                     env=offline_env(), timeout=120)
    assert r.rc == 0, r
    assert "warning: account.isp: cannot reach 127.0.0.1" in r.err, r
    advice = r.out[r.out.index("A mail client on the LAN needs:"):]
    assert "\nadvice (explains, changes nothing):\n" in advice, r
    assert re.search(r"^  host name: localhost resolves to (127\.0\.0\.1|::1), a loopback",
                     advice, re.M), r
    assert "\n  blocklist: not checked: the public address is not known\n" in advice, r
    assert re.search(r"^  smart host smarthost.*: ", advice, re.M), r
    # --no-check: no advice either.
    r = fixtures.run([homemail(), "setup", "-c", other, "--no-start", "--no-check",
                      "--answers", answers], env=offline_env())
    assert r.rc == 0, r
    assert "advice (explains" not in r.out, r


def test_oauth2_sign_in_started_by_setup(hm_tmp, tls_cert, oauth2_server, oauth2_dovecot):
    """A mailbox that logs in with OAuth2 at a custom provider (the OAuth2
    server fixture, its URLs asked): after its questions setup runs the
    device flow of `homemail oauth login`, prints the code, the provider
    approves it, and the live check logs in to Dovecot with the token; the
    config written passes `homemail check --live`. Nothing leaves
    loopback."""
    s, dc = oauth2_server, oauth2_dovecot
    s.reset()
    s.user = dc.user
    s.interval = 1
    s.device_pending = None
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    env = dict(offline_env(), SSL_CERT_FILE=dc.cafile)   # Dovecot's CA
    child = spawn(conf, check=True, env=env)
    steps = fetch_only_answers(d)
    i = next(k for k, (p, _) in enumerate(steps) if p.startswith(r"Log in with"))
    steps = [(p, {r"Server \[\]: ": "127.0.0.1", r"Port \[995\]: ": str(dc.pop3s_port),
                  r"User name \[alice@isp.example\]: ": dc.user}.get(p, r))
             for p, r in steps[:i]] + [
        (r"Log in with \[password\]: ", "oauth2"),
        (r"OAuth2 provider \[microsoft\]: ", "custom"),
        (r"OAuth2 client ID .*\[\]: ", s.client_id),
        (r"OAuth2 token URL \[\]: ", s.token_url),
        (r"OAuth2 device authorization URL \(empty: sign in in a browser\) \[\]: ",
         s.device_url),
        (r"CA certificates of the identity provider .*\[\]: ", tls_cert.cert),
    ] + steps[i + 2:]                    # past the password
    k = next(n for n, (p, _) in enumerate(steps) if p.startswith(r"Leave fetched mail"))
    drive(child, steps[:k + 1])
    try:
        child.expect(r"Signing account\.isp in with OAuth2")
        child.expect(r"enter the code\s+(\S+)\s")
    except pexpect.TIMEOUT:
        pytest.fail(child.logfile_read.getvalue()[-3000:], pytrace=False)
    s.approve(child.match.group(1))
    child.expect(r"Signed in as %s" % re.escape(dc.user), timeout=30)
    child.expect(r"account\.isp: checked, it works")
    drive(child, steps[k + 1:])
    rc, out = finish(child)
    assert rc == 0, out
    text = open(conf).read()
    assert 'auth = "oauth2";' in text and 'provider = "custom";' in text, text
    assert 'device_url = "%s";' % s.device_url in text, text
    r = fixtures.run([homemail(), "check", "--live", "-c", conf], env=env, timeout=120)
    assert r.rc == 0, r
    assert any(req.path == "/device" for req in s.requests), s.requests


def test_maildirs_given_to_the_service_user_never_through_a_symlink(hm_tmp):
    """Run as root where a `homemail` user exists (here in a mount namespace
    whose /etc/passwd has one), setup gives state_dir, mail_dir and each
    Maildir to it. Those folders are the service user's, so a symlink one
    of its processes left there must not make root chown what it points
    to: setup refuses it and names it."""
    assert os.geteuid() == 0, "this test runs setup as root, as CI does"
    d, _, _ = interactive_run(hm_tmp)
    new = workdir(hm_tmp)
    with open(os.path.join(d, "homemail.conf.answers")) as f:
        text = f.read().replace(d, new)
    answers = os.path.join(new, "answers")
    with open(answers, "w") as f:
        f.write(text)
    uid = 64999
    passwd = os.path.join(new, "passwd")
    with open("/etc/passwd") as f, open(passwd, "w") as out:
        out.write(f.read() + "homemail:x:%d:%d::/nonexistent:/usr/sbin/nologin\n" % (uid, uid))
    conf = os.path.join(new, "homemail.conf")

    def setup():
        return fixtures.run(["unshare", "--mount", "sh", "-c",
                             'mount --bind "$0" /etc/passwd && exec "$@"', passwd,
                             homemail(), "setup", "-c", conf, "--no-start", "--no-check",
                             "--answers", answers], env=offline_env())

    r = setup()
    assert r.rc == 0, r
    mail = os.path.join(new, "state", "mail")
    alice = os.path.join(mail, "alice")
    for p in (os.path.join(new, "state"), mail, alice, os.path.join(alice, "cur"),
              os.path.join(alice, "new"), os.path.join(alice, "tmp")):
        assert os.lstat(p).st_uid == uid, p
    target = tempfile.mkdtemp(prefix="not-yours-", dir=hm_tmp)
    # A symlink for one of the Maildir's folders...
    os.rmdir(os.path.join(alice, "cur"))
    os.symlink(target, os.path.join(alice, "cur"))
    r = setup()
    assert r.rc == 1 and "alice/cur: is a symbolic link" in r.err, r
    assert os.lstat(target).st_uid == 0
    # ...or for the Maildir itself.
    os.rename(alice, alice + ".moved")
    os.symlink(target, alice)
    r = setup()
    assert r.rc == 1 and "alice: is a symbolic link; a Maildir must be a folder" in r.err, r
    assert os.lstat(target).st_uid == 0
    assert not os.path.exists(os.path.join(target, "cur"))
