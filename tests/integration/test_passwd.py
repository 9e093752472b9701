"""`homemail passwd USER`: the hash it writes verifies with crypt(3), the rest
of the config file is left byte for byte, mode and owner are kept, a user
without a password gets one, and the terminal prompt neither echoes nor
accepts a mismatch."""
import io
import os
import re
import subprocess
import tempfile
import time
import warnings

import pexpect
import pytest

import fixtures

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated, still in 3.11; the libc crypt(3) is what we check against

OLD_HASH = ("$6$homemaildemo$iaVNcGWmaspu0teRJ/nOCmlWWwRgzDp7A1XukgDxXLVDSLuXd"
            "g0XGWAKdVG1Zmjmbc4FLB/gpecq9r8okMamD/")

CONFIG = """\
// A config with comments and odd layout, which must survive the edit.
hostname = "h.example";   # trailing comment
state_dir = "state";
mail_dir = "mail";
local_domains = [ "h.example" ];

/* users: alice has a hash; bob's group starts a line before his name;
   carol has everything on one line; the name "password" below is a decoy */
users = (
  { name = "alice";
    password = "%s"; # old one
    addresses = [ "alice@h.example" ]; },
  {
    addresses = [ "bob@h.example" ];  // password = "not this"
    name = "bob"
  },
  { name = "carol", addresses = [ "password@h.example" ] }
);
aliases = { postmaster = "alice"; };
""" % OLD_HASH


@pytest.fixture
def conf(hm_tmp):
    d = tempfile.mkdtemp(prefix="passwd-", dir=hm_tmp)
    path = os.path.join(d, "homemail.conf")
    with open(path, "w") as f:
        f.write(CONFIG)
    os.chmod(path, 0o640)
    return path


def passwd(conf, user, password_input, *extra):
    argv = [fixtures.program("admin/homemail"), "passwd", "-c", conf, "--stdin", *extra, user]
    # A new session: no controlling terminal to fall back on.
    p = subprocess.run(argv, input=password_input.encode(), capture_output=True, timeout=60,
                       start_new_session=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def hashes(path):
    return dict(re.findall(r'name = "(\w+)"[^}]*?password = "([^"]+)"', open(path).read(),
                           re.S))


def password_of(path, user):
    lines = open(path).read()
    m = re.search(r'name = "%s"[;,]? password = "([^"]+)"' % user, lines)
    if m:
        return m.group(1)
    return hashes(path)[user]


def check_runs(conf):
    r = fixtures.run([fixtures.program("admin/homemail"), "check", "-c", conf])
    assert r.rc == 0, r
    return r


def diff_lines(before, after):
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


def test_stdin_sets_verifiable_hash(conf):
    rc, out, err = passwd(conf, "alice", "n3w pass\n")
    assert rc == 0, err
    h = password_of(conf, "alice")
    assert h.startswith("$y$") and h != OLD_HASH
    assert crypt.crypt("n3w pass", h) == h
    assert crypt.crypt("n3w pass\n", h) != h
    assert crypt.crypt("old", h) != h
    # Only the literal on alice's password line changed; its comment stayed.
    changed = diff_lines(CONFIG, open(conf).read())
    assert changed == [('    password = "%s"; # old one' % OLD_HASH,
                        '    password = "%s"; # old one' % h)]
    assert "n3w pass" not in out + err
    check_runs(conf)


def test_only_one_newline_stripped(conf):
    rc, _, err = passwd(conf, "alice", "pw\n\n")
    assert rc == 1
    assert "line break" in err
    rc, _, err = passwd(conf, "alice", "pw")
    assert rc == 0, err
    h = password_of(conf, "alice")
    assert crypt.crypt("pw", h) == h


def test_user_without_password_gets_one(conf):
    rc, _, err = passwd(conf, "bob", "bobpw\n")
    assert rc == 0, err
    text = open(conf).read()
    changed = diff_lines(CONFIG, text)
    assert len(changed) == 1
    assert changed[0][0] == '    name = "bob"'
    m = re.fullmatch(r'    name = "bob"; password = "([^"]+)";', changed[0][1])
    assert m, changed
    assert crypt.crypt("bobpw", m.group(1)) == m.group(1)
    check_runs(conf)

    rc, _, err = passwd(conf, "carol", "carolpw\n")
    assert rc == 0, err
    line = [ln for ln in open(conf).read().splitlines() if '"carol"' in ln][0]
    m = re.fullmatch(r'  \{ name = "carol", password = "([^"]+)"; '
                     r'addresses = \[ "password@h.example" \] \}', line)
    assert m, line
    assert crypt.crypt("carolpw", m.group(1)) == m.group(1)
    # A second run replaces the inserted setting rather than adding another.
    rc, _, err = passwd(conf, "carol", "again\n")
    assert rc == 0, err
    line = [ln for ln in open(conf).read().splitlines() if '"carol"' in ln][0]
    assert line.count("password =") == 1
    h = re.search(r'password = "([^"]+)"', line).group(1)
    assert crypt.crypt("again", h) == h
    check_runs(conf)


def test_unknown_user(conf):
    before = open(conf).read()
    rc, _, err = passwd(conf, "mallory", "x\n")
    assert rc == 1
    assert err.strip() == 'homemail: passwd: no user "mallory" in %s' % conf
    assert open(conf).read() == before


def test_empty_password_refused(conf):
    before = open(conf).read()
    for data in ("", "\n"):
        rc, _, err = passwd(conf, "alice", data)
        assert rc == 1
        assert "empty password" in err
    assert open(conf).read() == before


def test_password_length_limit(conf):
    """255 octets (HM_PASSWORD_MAX), what a POP3 login to homemail-popd can
    carry, is the longest password set; a longer one is refused naming the
    limit, and the file is left as it was."""
    before = open(conf).read()
    for data in ("x" * 256 + "\n", "x" * 256, "x" * 5000):
        rc, _, err = passwd(conf, "alice", data)
        assert rc == 1
        assert err.strip() == ("homemail: passwd: password longer than 255 octets "
                               "(the most a POP3 login carries)"), err
    assert open(conf).read() == before
    rc, _, err = passwd(conf, "alice", "y" * 255 + "\n")
    assert rc == 0, err
    h = password_of(conf, "alice")
    assert crypt.crypt("y" * 255, h) == h
    rc, _, err = passwd(conf, "alice", "z" * 255)
    assert rc == 0, err


def test_warnings_printed_once(conf):
    """The reload that checks the edit does not repeat what the first load
    warned about (here an inline secret in a file others can read)."""
    with open(conf, "a") as f:
        f.write('relay = { smarthosts = ( { host = "smtp.example"; user = "u"; '
                'password = "Sm4rt-S3cret"; } ); };\n')
    os.chmod(conf, 0o644)
    rc, _, err = passwd(conf, "alice", "pw\n")
    assert rc == 0, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("homemail: warning: ")]
    assert len(warnings) == 1 and "holding this secret inline" in warnings[0], err
    assert "Sm4rt-S3cret" not in err


def test_mode_kept(conf):
    for mode in (0o600, 0o640, 0o644):
        os.chmod(conf, mode)
        st0 = os.stat(conf)
        rc, _, err = passwd(conf, "alice", "m%o\n" % mode)
        assert rc == 0, err
        st = os.stat(conf)
        assert st.st_mode & 0o7777 == mode
        assert (st.st_uid, st.st_gid) == (st0.st_uid, st0.st_gid)
        assert st.st_ino != st0.st_ino  # replaced, not written in place


def test_owner_kept_as_root(conf):
    assert os.geteuid() == 0, "the tests run as root (as CI does) to give the file another owner"
    os.chown(conf, 65534, 65534)
    rc, _, err = passwd(conf, "alice", "owned\n")
    assert rc == 0, err
    st = os.stat(conf)
    assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_symlink_kept(conf):
    link = conf + ".link"
    os.symlink(os.path.basename(conf), link)
    rc, _, err = passwd(link, "alice", "vialink\n")
    assert rc == 0, err
    assert os.path.islink(link)
    h = password_of(conf, "alice")
    assert crypt.crypt("vialink", h) == h


def test_no_terminal_without_stdin_flag(conf):
    r = subprocess.run([fixtures.program("admin/homemail"), "passwd", "-c", conf, "alice"],
                       input=b"x\n", capture_output=True, timeout=30, start_new_session=True)
    assert r.returncode == 1
    assert b"--stdin" in r.stderr


def spawn_passwd(conf, user):
    child = pexpect.spawn(fixtures.program("admin/homemail"), ["passwd", "-c", conf, user],
                          timeout=30, echo=True)
    # Everything the terminal showed, to look for the password in.
    child.logfile_read = io.BytesIO()
    return child


def test_prompt_no_echo(conf):
    child = spawn_passwd(conf, "alice")
    child.expect("New password: ")
    child.sendline("typed-secret")
    child.expect("Retype new password: ")
    child.sendline("typed-secret")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    seen = child.logfile_read.getvalue().decode()
    assert "typed-secret" not in seen
    assert "updated" in seen
    h = password_of(conf, "alice")
    assert crypt.crypt("typed-secret", h) == h


def test_prompt_mismatch_refused(conf):
    before = open(conf).read()
    child = spawn_passwd(conf, "alice")
    child.expect("New password: ")
    child.sendline("one-secret")
    child.expect("Retype new password: ")
    child.sendline("other-secret")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    out = child.logfile_read.getvalue().decode()
    assert "do not match" in out
    assert "one-secret" not in out and "other-secret" not in out
    assert open(conf).read() == before


def test_echo_restored_after_prompt(conf):
    """The terminal's echo comes back after the password is read: a shell
    reading from the same terminal must see what is typed."""
    child = pexpect.spawn("/bin/sh", ["-c", '"$0" passwd -c "$1" alice; '
                          'read line; echo "got:$line"', fixtures.program("admin/homemail"),
                          conf], timeout=30, echo=True)
    child.logfile_read = io.BytesIO()
    child.expect("New password: ")
    child.sendline("s3cret-x")
    child.expect("Retype new password: ")
    child.sendline("s3cret-x")
    child.expect("updated")
    time.sleep(0.2)
    child.sendline("visible-text")
    # With echo back on, the terminal shows the typed line before the
    # shell prints it; pexpect reports the earliest match.
    assert child.expect(["got:visible-text", "visible-text"]) == 1
    child.expect("got:visible-text")
    child.expect(pexpect.EOF)
    assert b"s3cret-x" not in child.logfile_read.getvalue()


def test_user_in_included_file_left_alone(hm_tmp):
    """libconfig gives only a line number, which belongs to the included
    file; the edit of the main file must not stick."""
    d = tempfile.mkdtemp(prefix="passwd-inc-", dir=hm_tmp)
    main = os.path.join(d, "homemail.conf")
    inc = os.path.join(d, "users.inc")
    with open(inc, "w") as f:
        f.write('users = ( { name = "dan"; password = "%s"; } );\n' % OLD_HASH)
    # Line 1 of the main file has a password setting of its own, so the
    # wrong line is found and edited, and only the reload can tell.
    text = ('relay = { smarthosts = ( { name = "isp"; host = "smtp.example"; user = "u"; '
            'password = "not-a-hash"; } ); };\n'
            'hostname = "h.example";\nstate_dir = "s";\nmail_dir = "m";\n'
            'local_domains = [ "h.example" ];\n@include "users.inc"\n')
    with open(main, "w") as f:
        f.write(text)
    os.chmod(main, 0o600)
    check_runs(main)
    rc, _, err = passwd(main, "dan", "x\n")
    assert rc == 1
    assert "left unchanged" in err, err
    assert open(main).read() == text
    assert open(inc).read().count(OLD_HASH) == 1
    assert os.stat(main).st_mode & 0o7777 == 0o600
