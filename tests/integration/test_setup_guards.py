"""`homemail setup` and `homemail passwd` never damage what is there: an
answer cannot smuggle settings into the config, a failed run leaves the old
config (its owner, group and mode too) and the old secrets, two secrets
never share a file, an existing certificate or key is never replaced, the
terminal's echo comes back when a password prompt is interrupted, a too
long password is asked again, and an optional answer can be cleared."""
import os
import re
import signal
import stat
import termios

import pexpect
import pytest

import fixtures
# The BIND 9 that settings discovery asks (a module fixture), and the
# dialogue's driver.
from test_setup import (ALICE_PW, UPSTREAM_PW, check_ok, drive, empty_dns,  # noqa: F401
                        finish, full_answers, homemail, interactive_run, offline_env, spawn,
                        terminal_signals, workdir)

PIN = "sha256:" + ":".join(["AB"] * 32)


def base_answers(d):
    """A smart-host set-up, two users and one mailbox: server names only,
    never contacted (--no-check)."""
    return {
        "mail_type": "smarthost", "hostname": "box.example.test", "lan_address": "",
        "state_dir": d + "/state", "run_as": "", "users": "alice bob",
        "user.alice.password": "alice pw", "user.bob.password": "bob pw",
        "accounts": "isp", "account.isp.address": "alice@isp.example",
        "account.isp.host": "imap.isp.example", "account.isp.password": "old isp secret",
        "smarthost.host": "smtp.isp.example", "smarthost.password": "smtp secret",
        "relay.listen": "127.0.0.1:%d" % fixtures.free_port(),
        "popd.listen": "127.0.0.1:%d" % fixtures.free_port(),
    }


def run_setup(conf, answers):
    """`setup --answers` of the dict answers (beside the config, but not
    the FILE.answers a run saves)."""
    path = os.path.join(os.path.dirname(conf), "given.answers")
    with open(path, "w") as f:
        f.write("".join("%s = %s\n" % kv for kv in answers.items()))
    return fixtures.run([homemail(), "setup", "-c", conf, "--no-start", "--no-check",
                         "--answers", path], env=offline_env())


def saved(conf):
    """The answers the last run saved, as a dict."""
    with open(conf + ".answers") as f:
        return dict(re.findall(r"^([^#\s]\S*) =[ ]?(.*)$", f.read(), re.M))


def new_setup(hm_tmp, d=None, answers=None):
    """A first run in the folder d (a new one by default)."""
    d = d or workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    r = run_setup(conf, answers or base_answers(d))
    assert r.rc == 0, r
    return d, conf


def read(path):
    with open(path) as f:
        return f.read()


# --- 1. answers become quoted strings: nothing may end the string ---------

@pytest.mark.parametrize("key, value, plain, why", [
    ("user.bob.password_hash", '$y$x"; send_as = "ceo@bank.example', "user.bob.password",
     "Quotes, backslashes and control characters cannot be used here"),
    ("account.isp.password_file", '/tmp/x"; fingerprint = "%s' % PIN, "account.isp.password",
     "Quotes, backslashes and control characters cannot be used here"),
    ("user.bob.password_hash", "$y$j9T$salt$ha\\sh", "user.bob.password",
     "Quotes, backslashes and control characters cannot be used here"),
    ("user.bob.password_hash", "battery staple", "user.bob.password", "not a crypt(3) hash"),
    ("user.bob.password_hash", "$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc.", "user.bob.password",
     "not a crypt(3) hash"),
])
def test_a_hash_or_file_answer_cannot_add_settings(hm_tmp, key, value, plain, why):
    """A password hash or a secret file's path given in an answers file is
    checked as every other answer: one that would end its quoted string
    (and go on with settings of its own: a sender for bob, a pin for the
    account) is refused naming the answer, and nothing is written; a hash
    must also be a crypt(3) hash homemail can check."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    answers = base_answers(d)
    del answers[plain]
    answers[key] = value
    r = run_setup(conf, answers)
    assert r.rc == 1, r
    assert r.err.startswith("homemail: setup: %s: " % key) and why in r.err, r
    assert not os.path.exists(conf)
    assert not os.path.exists(os.path.join(d, "secret"))
    # The same on a re-run: the config stays as it was.
    d, conf = new_setup(hm_tmp)
    before = read(conf)
    answers = base_answers(d)
    del answers[plain]
    answers[key] = value
    r = run_setup(conf, answers)
    assert r.rc == 1 and r.err.startswith("homemail: setup: %s: " % key), r
    assert read(conf) == before
    check_ok(conf)


# --- 2, 3. a run that fails leaves everything as it was -------------------

def failed_rerun(d, conf):
    """A re-run with a new mailbox password, whose config then does not
    load: the smart host's password file is a folder."""
    folder = os.path.join(d, "a-folder")
    os.mkdir(folder)
    r = run_setup(conf, {"account.isp.password": "new isp secret",
                         "smarthost.password_file": folder})
    assert r.rc == 1, r
    assert "the new config does not load" in r.err and "put back" in r.err, r


def test_a_failed_run_puts_back_the_old_secrets(hm_tmp):
    """The mailbox's secret file holds the old password again, as it was,
    and no temporary file is left."""
    d, conf = new_setup(hm_tmp)
    secret = saved(conf)["account.isp.password_file"]
    smarthost_secret = saved(conf)["smarthost.password_file"]
    assert read(secret) == "old isp secret\n"
    before = read(conf)
    secret_dir = sorted(os.listdir(os.path.dirname(secret)))
    failed_rerun(d, conf)
    assert read(conf) == before
    assert read(secret) == "old isp secret\n"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert read(smarthost_secret) == "smtp secret\n"
    assert sorted(os.listdir(os.path.dirname(secret))) == secret_dir
    assert sorted(os.listdir(d)) == sorted(["a-folder", "cert.pem", "given.answers",
                                            "homemail.conf", "homemail.conf.answers",
                                            "key.pem", "secret", "state"])


def test_a_failed_run_puts_back_the_config_with_its_owner_group_and_mode(hm_tmp):
    """The config put back belongs to whom it belonged to (root:homemail
    0640 on a real box), not to the user running setup."""
    assert os.geteuid() == 0, "this test gives the config away, as root can"
    d, conf = new_setup(hm_tmp)
    os.chown(conf, 1234, 4321)
    os.chmod(conf, 0o604)
    before = read(conf)
    failed_rerun(d, conf)
    assert read(conf) == before
    st = os.stat(conf)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 4321, 0o604)


def test_a_failed_first_run_leaves_no_file(hm_tmp):
    """Without an old config, a run whose config does not load removes
    what it wrote: the config, the secrets, the certificate it made."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    folder = os.path.join(d, "a-folder")
    os.mkdir(folder)
    answers = base_answers(d)
    del answers["smarthost.password"]
    answers["smarthost.password_file"] = folder
    r = run_setup(conf, answers)
    assert r.rc == 1 and "the new config does not load" in r.err, r
    assert sorted(os.listdir(d)) == ["a-folder", "given.answers"]


# --- 4. one file per secret -----------------------------------------------

def account(name, password):
    return {"account.%s.address" % name: "alice@isp.example",
            "account.%s.host" % name: "imap.isp.example",
            "account.%s.password" % name: password}


def test_secrets_of_different_kinds_never_share_a_file(hm_tmp):
    """Mailboxes named like the smart host, like dyndns, and like another
    mailbox's OAuth2 client secret: every secret gets a file of its own
    and holds what was given for it."""
    d = workdir(hm_tmp)
    answers = base_answers(d)
    answers["accounts"] = "isp smarthost dyndns work work-client-secret"
    for name in ("smarthost", "dyndns", "work-client-secret"):
        answers.update(account(name, "secret of " + name))
    answers.update({
        "account.work.address": "alice@work.example", "account.work.host": "imap.work.example",
        "account.work.auth": "oauth2", "account.work.oauth2_provider": "google",
        "account.work.client_id": "the-client-id", "account.work.client_secret": "client secret",
        "dyndns.provider": "dyndns2", "dyndns.hostname": "box.dyn.example",
        "dyndns.server": "https://dyn.example/", "dyndns.user": "u",
        "dyndns.password": "dyndns secret",
    })
    conf = os.path.join(d, "homemail.conf")
    r = run_setup(conf, answers)
    assert r.rc == 0, r
    want = {
        "account.isp.password_file": "old isp secret",
        "account.smarthost.password_file": "secret of smarthost",
        "account.dyndns.password_file": "secret of dyndns",
        "account.work-client-secret.password_file": "secret of work-client-secret",
        "account.work.client_secret_file": "client secret",
        "smarthost.password_file": "smtp secret",
        "dyndns.password_file": "dyndns secret",
    }
    files = {k: v for k, v in saved(conf).items() if k in want}
    assert len(files) == len(want) and len(set(files.values())) == len(files), files
    for k, path in files.items():
        assert read(path) == want[k] + "\n", k
    check_ok(conf)


def test_a_rerun_keeps_each_secrets_file_and_splits_a_shared_one(hm_tmp):
    """A config an older setup wrote: the secrets in secret/NAME, and the
    mailbox named "smarthost" sharing the smart host's file. A re-run keeps
    each secret where the config has it; a new password for one of the two
    sharing a file goes to a file of its own."""
    d = workdir(hm_tmp)
    answers = base_answers(d)
    answers["accounts"] = "isp smarthost"
    answers.update(account("smarthost", "lost"))
    d, conf = new_setup(hm_tmp, d, answers)
    old_isp = os.path.join(d, "secret", "isp")
    old_shared = os.path.join(d, "secret", "smarthost")
    text = read(conf)
    for key, path in (("account.isp", old_isp), ("account.smarthost", old_shared),
                      ("smarthost", old_shared)):
        text = text.replace('"%s"' % saved(conf)[key + ".password_file"], '"%s"' % path)
    os.remove(conf + ".answers")
    with open(conf, "w") as f:
        f.write(text)
    fixtures.write_secret(old_isp, "old isp secret")
    fixtures.write_secret(old_shared, "smtp secret")
    r = run_setup(conf, {"account.isp.password": "newer isp secret"})
    assert r.rc == 0, r
    assert saved(conf)["account.isp.password_file"] == old_isp
    assert read(old_isp) == "newer isp secret\n"
    r = run_setup(conf, {"account.smarthost.password": "mailbox secret"})
    assert r.rc == 0, r
    now = saved(conf)
    assert now["smarthost.password_file"] == old_shared
    assert read(old_shared) == "smtp secret\n"
    assert now["account.smarthost.password_file"] not in (old_shared, old_isp)
    assert read(now["account.smarthost.password_file"]) == "mailbox secret\n"
    check_ok(conf)


# --- 5. a certificate or key that is there stays --------------------------

@pytest.mark.parametrize("there", ["cert", "key"])
def test_an_existing_certificate_or_key_is_never_replaced(hm_tmp, there):
    """tls.cert names a certificate that is there and tls.key a file that
    is not (or the other way round): setup makes no self-signed pair over
    it, and says which file is missing."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    real = os.path.join(d, "fullchain.pem" if there == "cert" else "privkey.pem")
    missing = os.path.join(d, "privkey.pem" if there == "cert" else "fullchain.pem")
    with open(real, "w") as f:
        f.write("the real one\n")
    answers = base_answers(d)
    answers["tls.cert"], answers["tls.key"] = (real, missing) if there == "cert" else (missing,
                                                                                       real)
    r = run_setup(conf, answers)
    assert r.rc == 1, r
    assert "homemail: setup: tls.key: " in r.err and missing + " does not exist" in r.err, r
    assert read(real) == "the real one\n"
    assert not os.path.exists(missing) and not os.path.exists(conf)


# --- 6. an interrupted password prompt gives the echo back ----------------

def at_alice_password(hm_tmp):
    """A dialogue waiting, echo off, at alice's password."""
    d = workdir(hm_tmp)
    child = spawn(os.path.join(d, "homemail.conf"))
    steps = full_answers(d, fixtures.free_port())
    i = [p for p, _ in steps].index(r"Password for alice \(not shown\): ")
    drive(child, steps[:i])
    child.expect(steps[i][0])
    return d, child


def echo_on(child):
    return bool(termios.tcgetattr(child.child_fd)[3] & termios.ECHO)


def interrupted(child, how):
    """Interrupts the child (how: a signal, or "^C" typed) at its password
    prompt, once echo is off; returns the terminal's echo flag after the
    child ended, and the signal that ended it."""
    assert child.waitnoecho(timeout=10)
    if how == "^C":
        child.sendintr()
    else:
        child.kill(how)
    child.expect(pexpect.EOF)
    echo = echo_on(child)
    child.close()
    return echo, child.signalstatus


@pytest.mark.parametrize("how", ["^C", signal.SIGTERM, signal.SIGHUP])
def test_interrupted_setup_password_prompt_gives_the_echo_back(hm_tmp, how):
    d, child = at_alice_password(hm_tmp)
    echo, sig = interrupted(child, how)
    assert echo, "the terminal was left without echo"
    assert sig == (signal.SIGINT if how == "^C" else how)
    assert not os.path.exists(os.path.join(d, "homemail.conf"))


def test_interrupted_passwd_prompt_gives_the_echo_back(hm_tmp):
    d, conf = new_setup(hm_tmp)
    before = read(conf)
    child = pexpect.spawn(homemail(), ["passwd", "-c", conf, "alice"], timeout=30,
                          preexec_fn=terminal_signals)
    child.expect("New password: ")
    echo, sig = interrupted(child, "^C")
    assert echo, "the terminal was left without echo"
    assert sig == signal.SIGINT
    assert read(conf) == before


# --- 7. a password too long is asked again; end of input ends the run ----

def test_a_too_long_password_is_asked_again(hm_tmp):
    """Longer than 255 octets, at a local user's password and at a
    mailbox's: the limit is explained and the password asked again; the
    answers given so far stay."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    child = spawn(conf)
    steps = full_answers(d, fixtures.free_port())
    i = [p for p, _ in steps].index(r"Password for alice \(not shown\): ")
    steps[i:i + 1] = [(steps[i][0], "a" * 300),
                      (r"password longer than 255 octets", None),
                      (steps[i][0], ALICE_PW)]
    j = [p for p, _ in steps].index(r"Password \(not shown\) \[\]: ")
    steps[j:j + 1] = [(steps[j][0], "u" * 2000),
                      (r"password longer than 255 octets", None),
                      (steps[j][0], UPSTREAM_PW)]
    drive(child, steps)
    rc, out = finish(child)
    assert rc == 0, out
    assert read(saved(conf)["account.isp.password_file"]) == UPSTREAM_PW + "\n"
    assert "a" * 30 not in out and "u" * 30 not in out


def test_end_of_input_at_a_password_prompt_ends_the_run(hm_tmp):
    d, child = at_alice_password(hm_tmp)
    child.sendeof()
    child.expect("the input ended; nothing was written")
    rc, out = finish(child)
    assert rc == 1, out
    assert not os.path.exists(os.path.join(d, "homemail.conf"))


# --- 8. an optional answer can be cleared ---------------------------------

def test_dash_clears_an_optional_answer_in_the_dialogue(hm_tmp):
    """A re-run shows the LAN address, alice's sender and the pin as
    defaults; Enter would keep them, "-" clears them, and the config then
    has none of them (nor does the next re-run bring them back)."""
    d, conf, _ = interactive_run(hm_tmp)
    r = run_setup(conf, {"account.isp.fingerprint": PIN})
    assert r.rc == 0, r
    assert 'fingerprint = "%s";' % PIN in read(conf)
    clear = {"LAN address of this box": "-", "Sender address on the internet": "-",
             "Certificate pin": "-"}
    child = spawn(conf)
    seen = set()
    while child.expect([r"\n([^\n]*)\]: ", r"Enter keeps it\): ", pexpect.EOF]) != 2:
        line = child.match.group(1) if child.match.re.groups else ""
        reply = next((v for k, v in clear.items() if line.startswith(k)), "")
        if reply:
            assert '"-" empties it) [' in line, line
            seen.add(line.split(" (")[0])
        child.sendline(reply)
    child.close()
    assert child.exitstatus == 0, child.logfile_read.getvalue()
    assert seen == {"LAN address of this box", "Sender address on the internet",
                    "Certificate pin"}
    text = read(conf)
    assert "192.168.77.2" not in text and "send_as" not in text and "fingerprint" not in text
    answers = saved(conf)
    assert answers["lan_address"] == "" and answers["user.alice.send_as"] == ""
    check_ok(conf)
    r = run_setup(conf, {})
    assert r.rc == 0, r
    assert read(conf) == text


def test_an_empty_value_clears_an_optional_answer_in_an_answers_file(hm_tmp):
    d = workdir(hm_tmp)
    answers = base_answers(d)
    answers.update({"dns_name": "box.dyn.example", "lan_address": "192.168.77.2",
                    "lan_network": "192.168.77.0/24", "user.alice.send_as": "al@isp.example",
                    "account.isp.fingerprint": PIN})
    d, conf = new_setup(hm_tmp, d, answers)
    text = read(conf)
    for v in ("192.168.77.", "al@isp.example", PIN):
        assert v in text, v
    r = run_setup(conf, {"dns_name": "", "lan_address": "", "user.alice.send_as": "",
                         "account.isp.fingerprint": ""})
    assert r.rc == 0, r
    text = read(conf)
    for v in ("192.168.77.", "send_as", "fingerprint"):
        assert v not in text, v
    now = saved(conf)
    for k in ("dns_name", "lan_address", "user.alice.send_as"):
        assert now[k] == "", k
    check_ok(conf)
