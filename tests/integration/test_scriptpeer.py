"""Self-tests of the scripted peer: it must detect the deviations the
transcript tests rely on (otherwise those tests could not fail)."""
import socket
import ssl
import time

from fixtures.scriptpeer import (accept_next, cut, drip, expect, expect_eof, long_line, reply_to,
                                 send, send_lines, stall, starttls)


class Client:
    """A socket plus a line reader; close() really closes (makefile() would
    otherwise keep the descriptor open)."""

    def __init__(self, peer):
        self.sock = socket.create_connection(("127.0.0.1", peer.port), timeout=5)
        self.f = self.sock.makefile("rb")

    def sendall(self, data):
        self.sock.sendall(data)

    def readline(self):
        return self.f.readline()

    def close(self):
        self.f.close()
        self.sock.close()


def connect(peer):
    c = Client(peer)
    return c, c


def test_records_lines_and_mismatch(script_peer):
    peer = script_peer([send(b"+OK hi"), expect(b"CAPA"), send(b"+OK")])
    s, f = connect(peer)
    assert f.readline() == b"+OK hi\r\n"
    s.sendall(b"USER bob\r\n")
    s.close()
    errors = peer.wait()
    assert peer.received == [b"USER bob"]
    assert len(errors) == 1 and "expected b'CAPA'" in errors[0]


def test_linger_records_extra_commands(script_peer):
    peer = script_peer([reply_to(b"A", [b"+OK"])])
    s, f = connect(peer)
    s.sendall(b"A\r\nB\nC\r\n")
    assert f.readline() == b"+OK\r\n"
    time.sleep(0.2)
    s.close()
    assert peer.wait() == []
    assert peer.received == [b"A", b"B", b"C"]


def test_expect_eof_flags_a_command(script_peer):
    peer = script_peer([send(b"+OK"), expect_eof(timeout=2)])
    s, f = connect(peer)
    f.readline()
    s.sendall(b"STLS\r\n")
    errors = peer.wait()
    s.close()
    assert errors and "expected the client to close" in errors[0]


def test_wire_forms(script_peer):
    peer = script_peer([send(b"lf", eol=b"\n"), drip(b"dr\r\n", delay=0.01),
                        long_line(20), send_lines([b"a", b"b"]), cut(b"par", rst=True)])
    s = socket.create_connection(("127.0.0.1", peer.port), timeout=5)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    s.close()
    assert peer.wait() == []
    assert data.startswith(b"lf\ndr\r\n+OK xxxxxxxxxxxxxxxx\r\na\r\nb\r\n")


def test_starttls_expect_fail_flags_a_client_that_handshakes(script_peer, tls_cert):
    """A client that ignores injected plaintext and handshakes anyway is caught."""
    peer = script_peer([send_lines([b"+OK Begin TLS", b"+OK injected"]),
                        starttls(tls_cert.cert, tls_cert.key, expect_fail=True)])
    s = socket.create_connection(("127.0.0.1", peer.port), timeout=5)
    time.sleep(0.2)
    s.recv(100)   # swallows both lines: a careless client
    ctx = ssl.create_default_context(cafile=tls_cert.cert)
    t = ctx.wrap_socket(s, server_hostname="localhost")
    errors = peer.wait()
    t.close()
    assert errors and "should have refused" in errors[0]


def test_stall_ends_when_client_closes(script_peer):
    peer = script_peer([stall(20)])
    s, _ = connect(peer)
    time.sleep(0.2)
    s.close()
    t0 = time.monotonic()
    assert peer.wait(10) == []
    assert time.monotonic() - t0 < 2


def test_no_client_is_an_error(script_peer):
    peer = script_peer([send(b"+OK")], accept_timeout=0.3)
    errors = peer.wait()
    assert errors and "no client connected" in errors[0]


def test_accept_next_plays_on_to_a_second_connection(script_peer):
    peer = script_peer([reply_to(b"A", [b"+OK"]), accept_next(timeout=2),
                        send(b"+OK again"), expect(b"B")])
    s, f = connect(peer)
    s.sendall(b"A\r\n")
    assert f.readline() == b"+OK\r\n"
    s.close()
    s, f = connect(peer)
    assert f.readline() == b"+OK again\r\n"
    s.sendall(b"B\r\n")
    s.close()
    assert peer.wait() == []
    assert peer.received == [b"A", b"B"]


def test_accept_next_flags_a_command_before_the_close(script_peer):
    peer = script_peer([reply_to(b"A", [b"+OK"]), accept_next(timeout=2)])
    s, f = connect(peer)
    s.sendall(b"A\r\n")
    assert f.readline() == b"+OK\r\n"
    s.sendall(b"QUIT\r\n")
    errors = peer.wait()
    s.close()
    assert len(errors) == 1 and "expected the client to close" in errors[0], errors
