"""SIGTERM stops homemail-relay cleanly: a session waiting for a command is
told 421 at once; a message under way is read to its end, made durable and
answered 250 before the 421, and is then delivered (also after a restart)."""
import os
import signal
import socket
import time


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
