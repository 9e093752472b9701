"""`homemail check`, and every program that loads the config: a file holding
a secret that others can read (the config with a password written inline,
the TLS key) is warned about, one line each with FILE:LINE and what to do,
never the secret; and a FIFO or a directory where the loader opens a file
(the config, an @include, a password_file) fails at once with one line
saying so, where it used to hang (homemail(8), homemail.conf(5))."""
import os
import shutil
import subprocess
import tempfile

import pytest

import fixtures
from fixtures.popd import Popd
from fixtures.tls import make_cert

BASE = ('hostname = "box.example";\n'
        'state_dir = "state";\n'
        'mail_dir = "mail";\n'
        'local_domains = [ "box.example" ];\n')

# Lines 6 and 9 hold the secrets.
SECRETS = BASE + (
    'relay = { smarthosts = (\n'
    '  { name = "isp"; host = "smtp.example"; user = "u"; password = "Sm4rt-S3cret"; } ); };\n'
    'fetcher = { accounts = (\n'
    '  { name = "pop"; protocol = "pop3"; host = "pop.example"; user = "u";\n'
    '    password = "P0p-S3cret"; to = "a@box.example"; } ); };\n')

INLINE = ("homemail: warning: {conf}:{line}: {key}: {conf}, holding this secret inline, is "
          "readable by group or others (chmod 600 it, or move the secret into password_file)")


@pytest.fixture
def d(hm_tmp):
    path = tempfile.mkdtemp(prefix="check-", dir=hm_tmp)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write(path, text, mode):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def check(conf):
    return fixtures.run([fixtures.program("admin/homemail"), "check", "-c", conf], timeout=20)


def test_inline_password_in_readable_config(d):
    conf = write(os.path.join(d, "homemail.conf"), SECRETS, 0o644)
    r = check(conf)
    assert r.rc == 0, r
    assert r.err.splitlines() == [
        INLINE.format(conf=conf, line=6, key="relay.smarthosts.[0].password"),
        INLINE.format(conf=conf, line=9, key="fetcher.accounts.[0].password"),
    ], r
    assert "S3cret" not in r.out + r.err
    os.chmod(conf, 0o600)
    r = check(conf)
    assert r.rc == 0 and r.err == "", r


def test_readable_tls_key(d):
    cert = make_cert(os.path.join(d, "tls"))
    conf = write(os.path.join(d, "homemail.conf"),
                 BASE + 'tls = { cert = "%s";\n  key = "%s"; };\n' % (cert.cert, cert.key), 0o644)
    r = check(conf)
    assert r.rc == 0 and r.err == "", r
    os.chmod(cert.key, 0o644)
    r = check(conf)
    assert r.rc == 0, r
    assert r.err.splitlines() == [
        "homemail: warning: %s:6: tls.key: %s is readable by group or others (chmod 600 it)"
        % (conf, cert.key)], r


def test_daemons_warn_once_at_start(d):
    """The loader warns, so a daemon's log says it once, at start-up."""
    cert = make_cert(os.path.join(d, "tls"))
    os.chmod(cert.key, 0o644)
    p = Popd(d, cert, users=("alice",))
    p.start()
    try:
        warning = "tls.key: %s is readable by group or others (chmod 600 it)" % cert.key
        assert p.log().count(warning) == 1, p.log()
        r = subprocess.run([fixtures.program("deliver/homemail-deliver"), "-c", p.conf,
                            "-d", "alice"], input=b"Subject: x\n\nbody\n", capture_output=True,
                           timeout=20)
    finally:
        assert p.stop() == 0
    assert r.returncode == 0, r
    assert r.stderr.decode().count(warning) == 1, r


def test_fifo_include_fails_fast(d):
    fifo = os.path.join(d, "extra.conf")
    os.mkfifo(fifo)
    conf = write(os.path.join(d, "homemail.conf"), BASE + '@include "extra.conf"\n', 0o600)
    r = check(conf)
    assert r.rc == 1, r
    assert r.err.splitlines() == [
        'homemail: %s:5: @include "extra.conf": %s is not a regular file (a FIFO)'
        % (conf, fifo)], r
    # The daemons load the config the same way.
    r = fixtures.run([fixtures.program("popd/homemail-popd"), "-c", conf], timeout=20)
    assert r.rc == 1, r
    assert "is not a regular file (a FIFO)" in r.err, r


def test_not_regular_config_or_password_file(d):
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    r = check(fifo)
    assert r.rc == 1, r
    assert r.err.splitlines() == ["homemail: %s is not a regular file (a FIFO)" % fifo], r
    # check may not be able to read the daemons' secrets, but one that is
    # a FIFO or a directory is wrong for everyone.
    for target, kind in ((fifo, "a FIFO"), (d, "a directory")):
        conf = write(os.path.join(d, "homemail.conf"), BASE + (
            'relay = { smarthosts = ( { host = "smtp.example"; user = "u";\n'
            '  password_file = "%s"; } ); };\n' % target), 0o600)
        r = check(conf)
        assert r.rc == 1, r
        assert r.err.splitlines() == [
            "homemail: %s:6: relay.smarthosts.[0].password_file: %s is not a regular file (%s)"
            % (conf, target, kind)], r
