"""A re-run of `homemail setup` changes only what was answered: what the
dialogue does not ask about (a second smart host, the first one's name and
ca_file, an rfc2136 record, trusted networks beside the LAN, aliases) is
kept as it is, byte for byte, whether the answers come from a file or the
terminal; an account may deliver to an alias, as the loader allows; and
tls = "none" is refused at its question, with the loader's reason, for a
server that is not on loopback."""
import os
import re

import pexpect

import fixtures
from test_setup import (  # noqa: F401 (empty_dns: the module's BIND, for discovery)
    check_ok, drive, empty_dns, finish, full_answers, homemail, offline_env,
    rerun_with_enter, spawn, workdir)


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


def hand_edited(hm_tmp):
    """The person's additions to a config setup wrote, none of which the
    dialogue asks about."""
    d, conf = first_run(hm_tmp)
    tsig = os.path.join(d, "secret", "tsig")
    with open(tsig, "w") as f:
        f.write("c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n")
    os.chmod(tsig, 0o600)
    text = edit(conf, [
        ('"192.168.77.0/24" ];',
         '"192.168.77.0/24", "192.168.1.0/24", "10.8.0.0/24" ];'),
        ('  root = "alice";', '  root = "bob";\n  family = "alice";'),
        ('    { name = "smarthost";\n',
         '    { name = "work";\n      ca_file = "%s/cert.pem";\n'
         '      senders = [ "*@isp.example" ];\n' % d),
        ('secret/smarthost";\n    }\n',
         'secret/smarthost";\n    },\n'
         '    // the other way out\n'
         '    { name = "backup";\n'
         '      host = "smtp.backup.example";\n'
         '      port = 465;\n'
         '      user = "alice@backup.example";\n'
         '      password_file = "%s/secret/smarthost";\n'
         '      senders = [ "*@backup.example" ];\n'
         '    }\n' % d),
        ("dyndns = {\n};",
         'dyndns = {\n  detect = [ "interface:lo" ];\n  records = (\n'
         '    { provider = "rfc2136"; server = "127.0.0.1:53"; zone = "dyn.example";\n'
         '      hostname = "box.dyn.example"; tsig_name = "box-key";\n'
         '      tsig_secret_file = "%s"; ttl = 60; ipv4 = true; ipv6 = true; }\n'
         '  );\n};' % tsig),
    ])
    return d, conf, text


def loaded(conf):
    """What the loader sees, as `homemail check` shows it."""
    return check_ok(conf).out


def test_rerun_with_the_same_answers_changes_nothing(hm_tmp):
    """The reviewer's case: only the host name, its current value, is
    answered. Nothing is renamed, dropped or changed, and setup says
    which smart host and record it leaves as they are."""
    d, conf, text = hand_edited(hm_tmp)
    before = loaded(conf)
    assert "smart host backup:" in before and "rfc2136 box.dyn.example" in before
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert "dropped" not in r.out, r
    assert "smart host backup is kept as it is" in r.out, r
    assert "dyndns record box.dyn.example (rfc2136) is kept as it is" in r.out, r
    assert open(conf).read() == text
    assert loaded(conf) == before


def test_interactive_rerun_keeps_them_too(hm_tmp):
    d, conf, text = hand_edited(hm_tmp)
    out = rerun_with_enter(conf)
    assert "Machines to relay mail for [192.168.77.0/24]" in out, out
    assert open(conf).read() == text


def test_rerun_without_the_saved_answers(hm_tmp):
    """The answers file gone, the LAN address is what the listeners show:
    none here, so nothing is detected and added; the LAN's network stays
    with the other trusted networks."""
    d, conf, text = hand_edited(hm_tmp)
    os.unlink(conf + ".answers")
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert open(conf).read() == text


def test_oauth2_settings_setup_does_not_ask_are_kept(hm_tmp):
    """A scope added to a custom provider's oauth2 group stays, and the
    URLs setup writes there are not written twice."""
    d, conf = first_run(hm_tmp)
    r = answer(conf, "\n".join([
        "account.isp.auth = oauth2", "account.isp.oauth2_provider = custom",
        "account.isp.client_id = homemail-test", "account.isp.token_url = https://id.test/token",
        "account.isp.device_url = https://id.test/device", ""]), d)
    assert r.rc == 0, r
    text = edit(conf, [('device_url = "https://id.test/device";\n',
                        'device_url = "https://id.test/device";\n'
                        '        scope = "https://mail.test/all offline_access";\n')])
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert open(conf).read() == text


def test_an_answer_changes_its_setting_and_nothing_else(hm_tmp):
    """The smart host setup edits gets a new server: it keeps its name,
    ca_file and senders; the second one, the rfc2136 record and the
    networks stay. Then a dyndns2 record comes and goes again: the rfc2136
    record stays, the commas between the records follow."""
    d, conf, text = hand_edited(hm_tmp)
    r = answer(conf, "smarthost.host = smtp2.isp.example\n", d)
    assert r.rc == 0, r
    text = text.replace('host = "smtp.isp.example";', 'host = "smtp2.isp.example";')
    assert open(conf).read() == text
    r = answer(conf, "\n".join(["dyndns.provider = dyndns2", "dyndns.hostname = box.dyn.test",
                               "dyndns.server = https://members.dyn.test", "dyndns.user = me",
                               "dyndns.password = Dyn-secret", "dyndns.detect = interface:lo",
                               ""]), d)
    assert r.rc == 0, r
    new = open(conf).read()
    assert re.search(r'\{ provider = "dyndns2";\n(      .*\n)+    \},\n'
                     r'    \{ provider = "rfc2136";', new), new
    out = loaded(conf)
    assert "dyndns2 box.dyn.test" in out and "rfc2136 box.dyn.example" in out, out
    r = answer(conf, "dyndns.provider = none\n", d)
    assert r.rc == 0, r
    assert open(conf).read() == text


def test_the_rfc2136_record_first_keeps_its_comma(hm_tmp):
    """A record the dialogue does not edit before the one it does: turning
    dynamic DNS off leaves it last, without the comma after it."""
    d, conf, _ = hand_edited(hm_tmp)
    text = edit(conf, [
        ("ipv6 = true; }\n  );",
         "ipv6 = true; },\n"
         '    { provider = "dyndns2";\n      hostname = "box.dyn.test";\n'
         '      server = "https://members.dyn.test";\n      user = "me";\n'
         '      password_file = "%s/secret/smarthost";\n      ipv6 = true;\n    }\n  );' % d)])
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert open(conf).read() == text
    r = answer(conf, "dyndns.provider = none\n", d)
    assert r.rc == 0, r
    out = loaded(conf)
    assert "dyndns2" not in out and "rfc2136 box.dyn.example" in out, out
    assert "ipv6 = true; }\n  );" in open(conf).read()


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
    drive(child, steps)
    rc, out = finish(child)
    assert rc == 0, out
    assert 'tls = "starttls";' in open(conf).read()
    check_ok(conf)


def test_a_symlinked_config_is_edited_where_it_points(hm_tmp):
    """As `homemail passwd` does: the link stays a link, the file it points
    to gets the change."""
    d, conf = first_run(hm_tmp)
    real = os.path.join(d, "real.conf")
    os.rename(conf, real)
    os.rename(conf + ".answers", real + ".answers")
    os.symlink("real.conf", conf)
    r = answer(conf, "hostname = other.example.test\n", d)
    assert r.rc == 0, r
    assert os.readlink(conf) == "real.conf"
    assert 'hostname = "other.example.test";' in open(real).read()
    assert "wrote %s " % real in r.out, r
    os.symlink("nowhere.conf", os.path.join(d, "dangling.conf"))
    r = answer(os.path.join(d, "dangling.conf"), "hostname = other.example.test\n", d)
    assert r.rc == 1 and "a symbolic link to nothing that can be edited" in r.err, r
    assert not os.path.exists(os.path.join(d, "nowhere.conf"))


def test_users_in_an_included_file_are_refused_before_any_question(hm_tmp):
    """Setup rewrites `users` in the main file: with them @included too,
    the config it wrote would define them twice. It says so at the start
    (an interactive run before its first question), names the setting,
    and changes nothing."""
    d, conf = first_run(hm_tmp)
    text = open(conf).read()
    m = re.search(r"^users = \(\n.*?^\);\n", text, re.M | re.S)
    assert m, text
    with open(os.path.join(d, "users.conf"), "w") as f:
        f.write(m.group(0))
    text = text.replace(m.group(0), '@include "users.conf"\n')
    with open(conf, "w") as f:
        f.write(text)
    check_ok(conf)
    r = answer(conf, "hostname = other.example.test\n", d)
    assert r.rc == 1, r
    assert "cannot be edited by setup" in r.err and "users" in r.err, r
    assert open(conf).read() == text
    child = spawn(conf)
    child.expect(pexpect.EOF)
    child.close()
    shown = child.logfile_read.getvalue()
    assert child.exitstatus == 1 and "cannot be edited by setup" in shown, shown
    assert "]: " not in shown, shown
    assert not [n for n in os.listdir(d) if n.startswith(".homemail-setup-check")]


def test_several_check_ip_pages_are_asked_and_kept(hm_tmp):
    """detect_url4 may list pages to try in order: setup writes the list it
    is given, and a re-run keeps every page (it once kept the first)."""
    d, conf = first_run(hm_tmp)
    r = answer(conf, "\n".join([
        "dyndns.provider = dyndns2", "dyndns.hostname = box.dyn.example",
        "dyndns.server = https://dyn.example/", "dyndns.user = u",
        "dyndns.password = Dyn-secret-1", "dyndns.detect = web",
        "dyndns.detect_url4 = https://ip1.example/ https://ip2.example/", ""]), d)
    assert r.rc == 0, r
    text = open(conf).read()
    assert 'detect_url4 = [ "https://ip1.example/", "https://ip2.example/" ];' in text, text
    check_ok(conf)
    text = edit(conf, [('"https://ip2.example/" ]', '"https://ip2.example/", "http://ip3.example/" ]')])
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert open(conf).read() == text
    r = answer(conf, "dyndns.detect_url4 = https://ip9.example/\n", d)
    assert r.rc == 0, r
    assert 'detect_url4 = "https://ip9.example/";' in open(conf).read()


def test_a_smart_host_opened_on_the_line_of_the_one_before_is_kept(hm_tmp):
    """`}, { name = "backup";` on one line: the backup smart host stays,
    moved to a line of its own; nothing is dropped."""
    d, conf, _ = hand_edited(hm_tmp)
    text = edit(conf, [('secret/smarthost";\n    },\n    // the other way out\n    { name = "backup";',
                        'secret/smarthost";\n    }, { name = "backup"; // the other way out')])
    before = loaded(conf)
    assert "smart host backup:" in before, before
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert "dropped" not in r.out, r
    assert loaded(conf) == before
    assert open(conf).read() == text.replace(
        '    }, { name = "backup";', '    },\n    { name = "backup";')


def test_a_symlinked_config_keeps_its_relative_paths(hm_tmp):
    """The daemons read a linked config through the link, and take its
    relative paths from the link's folder: setup reads it the same way
    (it once took them from the folder of the file the link points to)."""
    d, conf = first_run(hm_tmp)
    edit(conf, [('password_file = "%s/secret/smarthost";' % d,
                 'password_file = "secret/smarthost";')])
    before = loaded(conf)
    os.mkdir(os.path.join(d, "real"))
    real = os.path.join(d, "real", "homemail.conf")
    os.rename(conf, real)
    os.rename(conf + ".answers", real + ".answers")
    os.symlink("real/homemail.conf", conf)
    r = answer(conf, "hostname = box.example.test\n", d)
    assert r.rc == 0, r
    assert loaded(conf) == before
    text = open(real).read()
    assert "/real/secret" not in text, text
    assert re.search(r'password_file = "(%s/)?secret/smarthost";' % re.escape(d), text), text
