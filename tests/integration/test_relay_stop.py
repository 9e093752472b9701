"""SIGTERM stops homemail-relay cleanly: a session waiting for a command is
told 421 at once; a message under way is read to its end, made durable and
answered 250 before the 421, and is then delivered (also after a restart).
The queue runner ends after the message it is sending and the relay waits
for it; no two runners ever deliver from one queue."""
import os
import signal
import socket
import time

import fixtures
from fixtures.stallhost import SmtpSink, backlog, message_ids

SEND_AS = {"alice": {"send_as": "alice@isp.example"}, "bob": {}}


def lines_until_close(sock, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").splitlines()


def reply(f):
    line = f.readline()
    while line[3:4] == b"-":
        line = f.readline()
    return line


def session(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    assert reply(f).startswith(b"220")
    s.sendall(b"EHLO laptop.lan\r\n")
    assert reply(f).startswith(b"250")
    return s, f


def test_idle_session_gets_421(relay):
    r = relay()
    s, f = session(r.port)
    t0 = time.monotonic()
    os.kill(r.proc.pid, signal.SIGTERM)
    got = f.readline()
    assert got.startswith(b"421 4.3.2"), got
    assert time.monotonic() - t0 < 3
    assert f.readline() == b""   # and the connection is closed
    s.close()
    assert r.proc.wait(10) == 0
    r.proc = None


def test_message_under_way_is_finished(relay):
    r = relay()
    s, f = session(r.port)
    s.sendall(b"MAIL FROM:<alice@box.test>\r\n")
    assert reply(f).startswith(b"250")
    s.sendall(b"RCPT TO:<bob@box.test>\r\n")
    assert reply(f).startswith(b"250")
    s.sendall(b"DATA\r\n")
    assert reply(f).startswith(b"354")
    s.sendall(b"Subject: finished at stop\r\nMessage-ID: <stop-1@lan>\r\n\r\nfirst half\r\n")
    os.kill(r.proc.pid, signal.SIGTERM)
    time.sleep(1.0)
    # The relay waits for this message; the rest comes after the stop.
    s.sendall(b"second half\r\n.\r\n")
    got = reply(f)
    assert got.startswith(b"250 "), got
    rest = f.readline()
    assert rest.startswith(b"421 4.3.2"), rest
    s.close()
    assert r.proc.wait(10) == 0
    r.proc = None
    # Queued durably, or delivered already: either way bob gets it once.
    r.start()
    msgs = r.wait_mail("bob", 1)
    assert len(msgs) == 1
    body = list(msgs.values())[0]
    assert b"first half" in body and b"second half" in body


def wait_accepted(sink, n, r, timeout=20.0):
    deadline = time.monotonic() + timeout
    while len(sink.accepted()) < n:
        assert time.monotonic() < deadline, r.log()
        time.sleep(0.05)


def alive(procs):
    return [p for p, start in procs.items() if fixtures.same_process_alive(p, start)]


def assert_each_once(sink, ids, r):
    got = message_ids(sink.accepted())
    assert sorted(got) == sorted(ids), (got, r.log())
    twice = sorted(k for k, n in got.items() if n > 1)
    assert not twice, "sent twice: %d %r\n%s" % (len(twice), twice, r.log())


def test_runner_stops_after_its_message(relay):
    """SIGTERM while the runner sends a backlog to a slow smart host: the
    runner takes no further message, records what went, says QUIT, and
    the relay exits only after it, leaving no process behind; the next
    relay sends the rest, nothing twice."""
    sink = SmtpSink(delay=0.3, port=fixtures.free_port())
    r = relay(users=SEND_AS, smarthosts=[sink.conf()])
    try:
        ids = backlog(r, sink, 40)
        wait_accepted(sink, 3, r)
        procs = fixtures.descendants(r.proc.pid)
        t0 = time.monotonic()
        os.kill(r.proc.pid, signal.SIGTERM)
        assert r.proc.wait(15) == 0
        took = time.monotonic() - t0
        r.proc = None
        assert not alive(procs), "left running after the relay: %r" % alive(procs)
        assert took < 3, took
        assert len(sink.accepted()) < len(ids)
        r.start()
        r.wait_queue_empty(timeout=30)
        assert_each_once(sink, ids, r)
    finally:
        r.stop()
        sink.stop()


def test_no_second_runner_on_the_queue(relay):
    """The relay process alone killed (-9) while its runner sends a backlog
    to a slow smart host, and a new relay started at once: the orphaned
    runner is told to stop when its parent dies, and the new relay's runner
    waits for the queue until it has; no message goes out twice."""
    sink = SmtpSink(delay=0.3, port=fixtures.free_port())
    r = relay(users=SEND_AS, smarthosts=[sink.conf()])
    procs = {}
    try:
        ids = backlog(r, sink, 40)
        wait_accepted(sink, 3, r)
        procs = fixtures.descendants(r.proc.pid)
        os.kill(r.proc.pid, signal.SIGKILL)
        r.proc.wait(5)
        r.proc = None
        t0 = time.monotonic()
        r.start()
        r.wait_queue_empty(timeout=30)
        assert_each_once(sink, ids, r)
        while alive(procs) and time.monotonic() < t0 + 5:
            time.sleep(0.05)
        assert not alive(procs), "the old runner goes on: %r" % alive(procs)
    finally:
        r.stop()
        sink.stop()
        for pid in alive(procs):
            os.kill(pid, signal.SIGKILL)
