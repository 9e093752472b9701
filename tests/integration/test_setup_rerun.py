"""`homemail setup` answers checked as the loader checks them: an account
may deliver to an alias, as the loader allows; tls = "none" is refused at
its question, with the loader's reason, for a server that is not on
loopback."""
import os

import fixtures
from test_setup import (  # noqa: F401 (empty_dns: the module's BIND, for discovery)
    check_ok, empty_dns, finish, full_answers, homemail, offline_env, spawn, workdir)


def answer(conf, answers_text, d):
    """setup --answers of answers_text, unattended and offline."""
    path = os.path.join(d, "answers-%d" % len(os.listdir(d)))
    with open(path, "w") as f:
        f.write(answers_text)
    return fixtures.run([homemail(), "setup", "-c", conf, "--no-start", "--no-check",
                         "--answers", path], env=offline_env())


def first_run(hm_tmp):
    """A config setup writes: a LAN, two users, a mailbox, a smart host."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    r = answer(conf, "\n".join([
        "mail_type = smarthost", "hostname = box.example.test",
        "lan_address = 192.168.77.2", "lan_network = 192.168.77.0/24",
        "relay.listen = 127.0.0.1:%d" % fixtures.free_port(),
        "state_dir = %s/state" % d, "run_as =", "users = alice bob",
        "user.alice.password = Al1ce-pw-typed", "user.bob.password = B0b-pw-typed",
        "accounts = isp", "account.isp.address = alice@isp.example",
        "account.isp.host = imap.isp.example", "account.isp.password = Upstr3am-secret",
        "smarthost.host = smtp.isp.example", "smarthost.password = Sm4rt-secret",
        "popd.listen = 127.0.0.1:%d" % fixtures.free_port(), ""]), d)
    assert r.rc == 0, r
    return d, conf


def edit(conf, pairs):
    text = open(conf).read()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    with open(conf, "w") as f:
        f.write(text)
    return text


def test_an_account_may_deliver_to_an_alias(hm_tmp):
    """`homemail check` takes `to = "family"` when family is an alias: so
    does setup, on a re-run and as an answer; a name that is neither a user
    nor an alias is refused by both."""
    d, conf = first_run(hm_tmp)
    text = edit(conf, [('  root = "alice";', '  root = "alice";\n  family = "alice";'),
                       ('to = "alice";', 'to = "family";')])
    check_ok(conf)
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert open(conf).read() == text
    r = answer(conf, "account.isp.to = root\n", d)
    assert r.rc == 0, r
    assert 'to = "root";' in open(conf).read()
    r = answer(conf, "account.isp.to = nobody\n", d)
    assert r.rc == 1, r
    assert ('account.isp.to: "nobody" is not one of the local users or aliases '
            '(or an address).') in r.err, r


def test_tls_none_is_refused_where_the_loader_refuses_it(hm_tmp):
    d, conf = first_run(hm_tmp)
    first = open(conf).read()
    for item, host in (("account.isp", "imap.isp.example"), ("smarthost", "smtp.isp.example")):
        r = answer(conf, "%s.tls = none\n%s.port = 143\n" % (item, item), d)
        assert r.rc == 1, r
        assert ('homemail: setup: %s.tls: "none" would send the password in clear to %s; '
                'use "tls" or "starttls", or set allow_plaintext = true.' % (item, host)
                in r.err), r
        assert open(conf).read() == first
    # On loopback, or where the config allows plain text, it is taken.
    r = answer(conf, "account.isp.host = 127.0.0.1\naccount.isp.tls = none\n"
              "account.isp.port = 110\n", d)
    assert r.rc == 0, r
    edit(conf, [('host = "smtp.isp.example";',
                 'host = "smtp.isp.example";\n      allow_plaintext = true;')])
    r = answer(conf, "smarthost.tls = none\nsmarthost.port = 25\n", d)
    assert r.rc == 0, r
    check_ok(conf)


def test_tls_none_is_asked_again_in_the_dialogue(hm_tmp):
    """Before, the dialogue took it and the whole run was thrown away when
    the config did not load at the end."""
    d = workdir(hm_tmp)
    conf = os.path.join(d, "homemail.conf")
    child = spawn(conf)
    steps = full_answers(d, fixtures.free_port())
    i = [p for p, _ in steps].index(r"Encryption \[starttls\]: ")
    steps[i:i + 1] = [
        (r"Encryption \[starttls\]: ", "none"),
        (r'"none" would send the password in clear to smtp.isp.example; use "tls" or '
         r'"starttls", or set allow_plaintext = true.', None),
        (r"Encryption \[starttls\]: ", "3"),
        (r'"none" would send the password', None),
        (r"Encryption \[starttls\]: ", ""),
    ]
    for prompt, reply in steps:
        child.expect(prompt)
        if reply is not None:
            child.sendline(reply)
    rc, out = finish(child)
    assert rc == 0, out
    assert 'tls = "starttls";' in open(conf).read()
    check_ok(conf)
