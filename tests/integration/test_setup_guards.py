"""`homemail setup` and `homemail passwd` never damage what is there: the
terminal's echo comes back when a password prompt is interrupted, and a
too long password is asked again."""
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
                        workdir)

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
    child = pexpect.spawn(homemail(), ["passwd", "-c", conf, "alice"], timeout=30)
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
    for prompt, reply in steps:
        child.expect(prompt)
        if reply is not None:
            child.sendline(reply)
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
