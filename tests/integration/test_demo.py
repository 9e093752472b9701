"""examples/run-demo, the README's quick start, works: it starts `homemail
up` on examples/demo.conf, sends the welcome message, has the fetcher copy
it, prints how to read it, and the mail is there over POP3 (curl, as the
demo says); Ctrl-C (SIGINT) stops every process it started. Run on a copy
of examples/ with free ports, so it never touches the source tree."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import fixtures


def test_run_demo(hm_tmp):
    d = os.path.join(hm_tmp, "demo", "examples")
    os.makedirs(d)
    ports = {}
    for p in ("2525", "2587", "1110", "1995"):
        new = fixtures.free_port()
        while str(new) in ports.values():
            new = fixtures.free_port()
        ports[p] = str(new)
    for name in ("run-demo", "demo.conf"):
        with open(os.path.join(fixtures.srcdir(), "examples", name)) as f:
            text = f.read()
        for old, new in ports.items():
            text = re.sub(r"\b%s\b" % old, new, text)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    os.chmod(os.path.join(d, "run-demo"), 0o755)
    log = os.path.join(hm_tmp, "demo", "out.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen([os.path.join(d, "run-demo")], stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=dict(os.environ, HM_BUILDDIR=fixtures.builddir()))

    def output():
        with open(log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops them all" not in output():
            assert proc.poll() is None, output()
            assert time.monotonic() < deadline, output()
            time.sleep(0.2)
        tree = fixtures.descendants(proc.pid)
        assert any(b"homemail-fetcher" in open("/proc/%d/cmdline" % p, "rb").read()
                   for p in tree if os.path.exists("/proc/%d" % p)), tree
        for user in ("demo", "copy"):
            r = fixtures.run(["curl", "-s", "-u", user + ":demo",
                              "pop3://127.0.0.1:%s/1" % ports["1110"]])
            assert r.rc == 0 and "Subject: Welcome to homemail" in r.out, (user, r)
        assert "curl -u demo:demo pop3://127.0.0.1:%s/" % ports["1110"] in output()
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(20) == 0, output()
        deadline = time.monotonic() + 10
        while any(fixtures.same_process_alive(p, s) for p, s in tree.items()):
            if time.monotonic() > deadline:
                pytest.fail("demo processes left after Ctrl-C: %r\n%s" % (tree, output()))
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        shutil.rmtree(os.path.dirname(d), ignore_errors=True)
