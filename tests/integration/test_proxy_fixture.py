"""Self-tests of fixtures.proxy: the delay is a delay line (round trip
2*delay, pipelined or overlapping requests not serialised), a cut happens
after exactly N server->client bytes, 8 MB pass intact, and stop() leaves
no thread or socket behind. Timing bounds are generous upwards (a loaded
machine is slow) and strict downwards (data can never arrive early)."""
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from fixtures.proxy import Proxy, ProxyError

HERE = os.path.dirname(os.path.abspath(__file__))


class EchoServer:
    """Echoes every connection back until EOF; counts connections that
    ended in a reset rather than a clean EOF."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.resets = 0
        self.eofs = 0
        self.conns = []
        self.threads = []
        self.lock = threading.Lock()
        self.stopping = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=self._echo, args=(c,), daemon=True)
            with self.lock:
                self.conns.append(c)
                self.threads.append(t)
            t.start()

    def _echo(self, c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    with self.lock:
                        self.eofs += 1
                    break
                c.sendall(d)
        except OSError:
            with self.lock:
                if not self.stopping:
                    self.resets += 1
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        # shutdown() wakes a thread blocked in accept(); close() alone does not.
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        self.acceptor.join(5)
        with self.lock:
            conns, threads = list(self.conns), list(self.threads)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(5)
        assert not self.acceptor.is_alive() and not any(t.is_alive() for t in threads)


@pytest.fixture
def echo():
    e = EchoServer()
    try:
        yield e
    finally:
        e.stop()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(min(n - len(buf), 1 << 20))
        assert d, "EOF after %d of %d bytes" % (len(buf), n)
        buf += d
    return bytes(buf)


def recv_all(s):
    """Everything until EOF or a reset; returns (data, how it ended)."""
    buf = bytearray()
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not d:
            return bytes(buf), "eof"
        buf += d


def ping(s, msg):
    t = time.monotonic()
    s.sendall(msg)
    assert recv_exact(s, len(msg)) == msg
    return time.monotonic() - t


def test_round_trip_is_twice_the_delay(echo):
    with Proxy(echo.port, delay_ms=50) as p:
        s = connect(p.port)
        rtts = sorted(ping(s, b"ping %d\n" % i) for i in range(10))
        s.close()
    assert rtts[0] >= 0.099, rtts
    assert rtts[len(rtts) // 2] < 0.25, rtts


def test_asymmetric_delay(echo):
    with Proxy(echo.port, delay_ms=(0, 80)) as p:
        s = connect(p.port)
        rtts = sorted(ping(s, b"x" * 10) for _ in range(5))
        s.close()
    assert 0.079 <= rtts[0] and rtts[len(rtts) // 2] < 0.2, rtts


def test_pipelined_pings_are_not_serialised(echo):
    with Proxy(echo.port, delay_ms=50) as p:
        s = connect(p.port)
        msgs = [b"p%02d\n" % i for i in range(50)]
        t = time.monotonic()
        s.sendall(b"".join(msgs))
        got = recv_exact(s, sum(len(m) for m in msgs))
        elapsed = time.monotonic() - t
        s.close()
    assert got == b"".join(msgs)
    # One round trip (100 ms) for all 50; a queue would need 5 s.
    assert 0.099 <= elapsed < 0.3, elapsed


def test_overlapping_requests_each_take_one_round_trip(echo):
    """Requests sent every 10 ms while earlier ones are in flight: each
    answer comes ~100 ms after its request; a serialising proxy would let
    the lag grow with every request."""
    with Proxy(echo.port, delay_ms=50) as p:
        s = connect(p.port)
        sent = {}
        got = {}

        def reader():
            f = s.makefile("rb")
            for _ in range(20):
                line = f.readline()
                got[line] = time.monotonic()
            f.close()

        r = threading.Thread(target=reader)
        r.start()
        for i in range(20):
            m = b"req %02d\n" % i
            sent[m] = time.monotonic()
            s.sendall(m)
            time.sleep(0.01)
        r.join(10)
        s.close()
    lags = [got[m] - sent[m] for m in sent]
    assert min(lags) >= 0.099, lags
    assert max(lags) < 0.25, lags


def test_cut_after_exactly_n_bytes(echo):
    data = os.urandom(100000)
    with Proxy(echo.port, cut_after=12345) as p:
        for _ in range(2):  # each connection counts afresh
            s = connect(p.port)
            s.sendall(data)
            got, how = recv_all(s)
            s.close()
            assert got == data[:12345]
            assert how == "reset"
        assert p.cuts == 2 and p.bytes_down == 2 * 12345 and p.connections == 2
    deadline = time.monotonic() + 5
    while echo.resets < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert echo.resets == 2  # the server saw its connection reset, too


def test_cut_waits_for_a_slow_reader(echo):
    """At the cut, bytes may still sit in the proxy's buffers and its
    kernel's send queue (the client reads slowly): the RST must wait for
    them, or the client would see fewer than N bytes."""
    data = os.urandom(600000)
    with Proxy(echo.port, cut_after=400000) as p:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", p.port))

        def send():
            try:
                s.sendall(data)
            except OSError:
                pass  # the cut resets the connection under us

        w = threading.Thread(target=send)
        w.start()
        time.sleep(0.3)
        got, how = recv_all(s)
        w.join(10)
        s.close()
    assert len(got) == 400000 and got == data[:400000] and how == "reset"


def test_cut_with_fin_and_delay(echo):
    data = os.urandom(50000)
    with Proxy(echo.port, delay_ms=20, cut_after=777, cut_rst=False) as p:
        s = connect(p.port)
        s.sendall(data)
        got, how = recv_all(s)
        s.close()
    assert got == data[:777] and how == "eof"


def test_cut_once_and_rearm(echo):
    data = os.urandom(30000)
    with Proxy(echo.port, cut_after=1000, cut_once=True) as p:
        for want in (1000, 30000, 30000):
            s = connect(p.port)
            s.sendall(data)
            if want == len(data):
                assert recv_exact(s, want) == data
            else:
                got, how = recv_all(s)
                assert got == data[:want] and how == "reset"
            s.close()
        assert p.cuts == 1
        p.arm_cut(0)
        s = connect(p.port)
        s.sendall(b"hello")
        assert recv_all(s) == (b"", "reset")
        s.close()
        assert p.cuts == 2


def test_8mb_intact_and_counted(echo):
    blob = os.urandom(8 << 20)
    with Proxy(echo.port, delay_ms=5) as p:
        s = connect(p.port)
        w = threading.Thread(target=s.sendall, args=(blob,))
        w.start()
        got = recv_exact(s, len(blob))
        w.join(30)
        s.shutdown(socket.SHUT_WR)
        rest, how = recv_all(s)
        s.close()
        assert hashlib.sha256(got).digest() == hashlib.sha256(blob).digest()
        assert rest == b"" and how == "eof"
        # The final close is processed after recv_all saw EOF: let it land.
        deadline = time.monotonic() + 5
        while (p.bytes_up, p.bytes_down) != (len(blob), len(blob)) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        assert p.stats() == {"bytes_up": len(blob), "bytes_down": len(blob), "connections": 1,
                             "cuts": 0, "connect_failures": 0}


def test_half_close_passes_through(echo):
    with Proxy(echo.port, delay_ms=10) as p:
        s = connect(p.port)
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == (b"last words", "eof")
        s.close()
    assert echo.eofs == 1


def test_reset_follows_the_data():
    """A server that sends and resets at once: the client must get the
    data first; the reset travels down the delay line behind it."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def blurt():
        c, _ = lsock.accept()
        c.sendall(b"y" * 1000)
        # Linux drops received data a reset overtakes in the receive
        # queue, so let the proxy read it first (well inside the 50 ms
        # delay, so the reset still chases the data down the line).
        time.sleep(0.01)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()

    t = threading.Thread(target=blurt)
    t.start()
    try:
        with Proxy(lsock.getsockname()[1], delay_ms=50) as p:
            s = connect(p.port)
            got, how = recv_all(s)
            s.close()
    finally:
        t.join(5)
        lsock.close()
    assert got == b"y" * 1000 and how == "reset"


def test_target_down():
    with socket.socket() as tmp:
        tmp.bind(("127.0.0.1", 0))
        dead_port = tmp.getsockname()[1]
    with Proxy(dead_port) as p:
        try:
            s = connect(p.port)
        except ConnectionResetError:
            # The proxy's reset can beat our setsockopt() on a loaded box.
            got = b""
        else:
            got, _ = recv_all(s)
            s.close()
        deadline = time.monotonic() + 5
        while p.connect_failures == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got == b"" and p.connect_failures == 1


def test_loopback_only():
    with pytest.raises(ProxyError):
        Proxy(25, target_host="192.0.2.1")


def _fds():
    return len(os.listdir("/proc/self/fd"))


def test_stop_leaves_nothing_behind(echo):
    threads, fds = threading.active_count(), _fds()
    p = Proxy(echo.port, delay_ms=30).start()
    port = p.port
    clients = [connect(port) for _ in range(5)]
    for c in clients:
        c.sendall(b"x" * 100000)   # in flight in the delay line at stop()
    time.sleep(0.05)
    p.stop()
    p.stop()  # idempotent
    for c in clients:
        recv_all(c)                # the proxy reset them
        c.close()
    # The echo server's own connections end once they see the reset.
    for t in list(echo.threads):
        t.join(5)
    assert threading.active_count() == threads
    assert _fds() == fds
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_as_subprocess(echo):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fixtures", "proxy.py"),
                             "--target-port", str(echo.port), "--delay-ms", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("proxy 127.0.0.1:"), line
        s = connect(int(line.rsplit(":", 1)[1]))
        assert ping(s, b"hi\n") >= 0.019
        s.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "'connections': 1" in err and "'bytes_up': 3" in err
