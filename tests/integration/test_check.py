"""`homemail check`, and every program that loads the config: a FIFO or a
directory where the loader opens a file (the config, an @include, a
password_file) fails at once with one line saying so, where it used to
hang (homemail(8), homemail.conf(5))."""
import os
import shutil
import tempfile

import pytest

import fixtures

BASE = ('hostname = "box.example";\n'
        'state_dir = "state";\n'
        'mail_dir = "mail";\n'
        'local_domains = [ "box.example" ];\n')


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
