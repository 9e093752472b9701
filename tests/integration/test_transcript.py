"""Transcript tests of lib/'s client side (via tests/tools/hm-tlsprobe) against
the scripted peer: exact commands sent, and refusal of every misbehaviour
(STARTTLS stripping and injection, bounded lines, timeouts, cut connections)."""
import pytest

from fixtures.scriptpeer import (cut, drip, expect, expect_eof, long_line, reply_to, send,
                                 send_lines, send_raw, stall, starttls)

POP3_CAPA_STLS = [b"+OK Capability list follows", b"TOP", b"USER", b"STLS", b"UIDL", b"."]
POP3_CAPA_NO_STLS = [b"+OK Capability list follows", b"TOP", b"USER", b"SASL PLAIN", b"UIDL", b"."]


def run_probe(tlsprobe, peer, *args, timeout_ms=5000):
    return tlsprobe("--host", "127.0.0.1", "--port", peer.port, "--timeout", timeout_ms, *args)


def assert_fail(r, *needles):
    assert r.rc == 1, r
    err = r.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hm-tlsprobe: "), r
    low = err[0].lower()
    assert any(n.lower() in low for n in needles), (needles, r)
    assert "tls: " not in r.out, r


def assert_peer_ok(peer):
    assert peer.wait() == [], peer.transcript()


# -- STARTTLS: what is sent, and what is refused ---------------------------

def test_pop3_stls_exact_commands(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"+OK POP3 ready"),
        reply_to(b"CAPA", POP3_CAPA_STLS),
        expect(b"STLS"),
        send(b"+OK Begin TLS negotiation"),
        starttls(tls_cert.cert, tls_cert.key),
        reply_to(b"NOOP", [b"+OK over tls"]),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-pop3", "--ca-file", tls_cert.cert, "--send", "NOOP")
    assert r.rc == 0, r
    assert_peer_ok(peer)
    assert peer.received == [b"CAPA", b"STLS", b"NOOP"], peer.transcript()
    assert peer.tls_version in ("TLSv1.2", "TLSv1.3")
    out = r.out.splitlines()
    assert out[:3] == ["S: +OK POP3 ready", "C: CAPA", "S: +OK Capability list follows"], r
    assert "C: STLS" in out and "S: +OK over tls" in out, r
    assert any(ln.startswith("tls: ") and ln.endswith("verified=chain") for ln in out), r


def test_pop3_stls_missing_aborts_without_sending(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"+OK POP3 ready"),
        reply_to(b"CAPA", POP3_CAPA_NO_STLS),
        expect_eof(timeout=5),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-pop3", "--ca-file", tls_cert.cert, "--send", "USER x")
    assert_fail(r, "does not offer STLS")
    assert_peer_ok(peer)
    assert peer.received == [b"CAPA"], peer.transcript()


def test_pop3_stls_err_aborts(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"+OK POP3 ready"),
        reply_to(b"CAPA", POP3_CAPA_STLS),
        expect(b"STLS"),
        send(b"-ERR TLS not available right now"),
        expect_eof(timeout=5),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-pop3", "--ca-file", tls_cert.cert, "--send", "USER x")
    assert_fail(r, "-ERR", "STLS", "refused", "unexpected")
    assert_peer_ok(peer)
    assert peer.received == [b"CAPA", b"STLS"], peer.transcript()


def test_pop3_stls_injected_plaintext_refused(tlsprobe, script_peer, tls_cert):
    """A MITM appends plaintext after the STLS reply (CVE-2011-0411 class):
    the client must not carry it into the TLS session."""
    peer = script_peer([
        send(b"+OK POP3 ready"),
        reply_to(b"CAPA", POP3_CAPA_STLS),
        expect(b"STLS"),
        send_lines([b"+OK Begin TLS", b"+OK injected"]),   # one write
        starttls(tls_cert.cert, tls_cert.key, expect_fail=True),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-pop3", "--fingerprint", tls_cert.fingerprint,
                  "--send", "NOOP")
    assert_fail(r, "plaintext received after STARTTLS reply")
    assert_peer_ok(peer)
    assert peer.received == [b"CAPA", b"STLS"], peer.transcript()


def test_imap_starttls_exact_commands(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"* OK IMAP4rev1 ready"),
        reply_to(b"a1 CAPABILITY", [b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED",
                                    b"a1 OK done"]),
        expect(b"a2 STARTTLS"),
        send(b"a2 OK Begin TLS"),
        starttls(tls_cert.cert, tls_cert.key),
        reply_to(b"a3 NOOP", [b"a3 OK noop"]),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-imap", "--fingerprint", tls_cert.fingerprint,
                  "--send", "a3 NOOP")
    assert r.rc == 0, r
    assert_peer_ok(peer)
    assert peer.received == [b"a1 CAPABILITY", b"a2 STARTTLS", b"a3 NOOP"], peer.transcript()
    assert any(ln.startswith("tls: ") and ln.endswith("verified=pin") for ln in r.out.splitlines()), r


def test_imap_starttls_missing_aborts(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"* OK IMAP4rev1 ready"),
        reply_to(b"a1 CAPABILITY", [b"* CAPABILITY IMAP4rev1 AUTH=PLAIN", b"a1 OK done"]),
        expect_eof(timeout=5),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-imap", "--ca-file", tls_cert.cert,
                  "--send", "a3 LOGIN u p")
    assert_fail(r, "does not offer STARTTLS")
    assert_peer_ok(peer)
    assert peer.received == [b"a1 CAPABILITY"], peer.transcript()


def test_smtp_starttls_exact_commands(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"220 mx.test ESMTP"),
        reply_to(b"EHLO hm-tlsprobe.localhost",
                 [b"250-mx.test", b"250-PIPELINING", b"250-STARTTLS", b"250 8BITMIME"]),
        expect(b"STARTTLS"),
        send(b"220 2.0.0 Ready to start TLS"),
        starttls(tls_cert.cert, tls_cert.key),
        reply_to(b"NOOP", [b"250 2.0.0 OK"]),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-smtp", "--ca-file", tls_cert.cert, "--send", "NOOP")
    assert r.rc == 0, r
    assert_peer_ok(peer)
    assert peer.received == [b"EHLO hm-tlsprobe.localhost", b"STARTTLS", b"NOOP"], peer.transcript()


def test_smtp_starttls_missing_aborts(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"220 mx.test ESMTP"),
        reply_to(b"EHLO hm-tlsprobe.localhost", [b"250-mx.test", b"250 8BITMIME"]),
        expect_eof(timeout=5),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-smtp", "--ca-file", tls_cert.cert,
                  "--send", "MAIL FROM:<a@b>")
    assert_fail(r, "does not offer STARTTLS")
    assert_peer_ok(peer)
    assert peer.received == [b"EHLO hm-tlsprobe.localhost"], peer.transcript()


# -- line framing ----------------------------------------------------------

def test_lf_only_lines_accepted(tlsprobe, script_peer):
    peer = script_peer([
        send(b"+OK hello with LF only", eol=b"\n"),
        expect(b"NOOP"),
        send(b"+OK noop", eol=b"\n"),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "plain", "--send", "NOOP")
    assert r.rc == 0, r
    assert_peer_ok(peer)
    assert r.out.splitlines() == ["S: +OK hello with LF only", "C: NOOP", "S: +OK noop"], r
    assert peer.received == [b"NOOP"]


def test_lf_only_capa_then_stls(tlsprobe, script_peer, tls_cert):
    peer = script_peer([
        send(b"+OK POP3 ready", eol=b"\n"),
        reply_to(b"CAPA", POP3_CAPA_STLS, eol=b"\n"),
        expect(b"STLS"),
        send(b"+OK go", eol=b"\n"),
        starttls(tls_cert.cert, tls_cert.key),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-pop3", "--fingerprint", tls_cert.fingerprint)
    assert r.rc == 0, r
    assert_peer_ok(peer)
    assert peer.received == [b"CAPA", b"STLS"]


def test_dripped_greeting_accepted(tlsprobe, script_peer):
    peer = script_peer([
        drip(b"+OK dripped one byte at a time\r\n", delay=0.02),
        reply_to(b"NOOP", [b"+OK"]),
    ])
    r = run_probe(tlsprobe, peer, "--mode", "plain", "--send", "NOOP")
    assert r.rc == 0, r
    assert_peer_ok(peer)
    assert r.out.splitlines() == ["S: +OK dripped one byte at a time", "C: NOOP", "S: +OK"], r


def test_max_length_line_accepted(tlsprobe, script_peer):
    """998 octets + CRLF = 1000, the RFC 5321/5322 limit, fits the default --max-line."""
    peer = script_peer([long_line(998), reply_to(b"NOOP", [b"+OK"])])
    r = run_probe(tlsprobe, peer, "--mode", "plain", "--send", "NOOP")
    assert r.rc == 0, r
    assert_peer_ok(peer)
    first = r.out.splitlines()[0]
    assert first.startswith("S: +OK xxx") and len(first) == 3 + 998, first[:40]


@pytest.mark.parametrize("n,max_line", [(5000, None), (300, 100)])
def test_line_too_long(tlsprobe, script_peer, n, max_line):
    peer = script_peer([long_line(n), expect_eof(timeout=5)])
    extra = ["--max-line", max_line] if max_line else []
    r = run_probe(tlsprobe, peer, "--mode", "plain", "--send", "NOOP", *extra)
    assert_fail(r, "line too long")
    assert_peer_ok(peer)
    assert peer.received == []


def test_nul_in_greeting(tlsprobe, script_peer):
    peer = script_peer([send_raw(b"+OK hel\x00lo\r\n"), expect_eof(timeout=5)])
    r = run_probe(tlsprobe, peer, "--mode", "plain", "--send", "NOOP")
    assert_fail(r, "NUL byte")
    assert_peer_ok(peer)
    assert peer.received == []


# -- timeouts and cut connections -----------------------------------------

def test_stalled_peer_times_out(tlsprobe, script_peer):
    peer = script_peer([stall(8)])
    r = run_probe(tlsprobe, peer, "--mode", "plain", timeout_ms=1000)
    assert_fail(r, "timed out")
    assert 0.8 <= r.elapsed < 10, r
    peer.wait()


def test_stall_after_partial_line_times_out(tlsprobe, script_peer):
    peer = script_peer([send_raw(b"+OK half a gree"), stall(8)])
    r = run_probe(tlsprobe, peer, "--mode", "plain", timeout_ms=1000)
    assert_fail(r, "timed out")
    assert 0.8 <= r.elapsed < 10, r
    peer.wait()


def test_stall_during_starttls_reply_times_out(tlsprobe, script_peer, tls_cert):
    peer = script_peer([send(b"+OK ready"), reply_to(b"CAPA", POP3_CAPA_STLS), expect(b"STLS"), stall(8)])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-pop3", "--ca-file", tls_cert.cert, timeout_ms=1000)
    assert_fail(r, "timed out")
    assert r.elapsed < 10, r
    peer.wait()
    assert peer.received == [b"CAPA", b"STLS"]


@pytest.mark.parametrize("rst", [False, True], ids=["fin", "rst"])
def test_cut_mid_greeting(tlsprobe, script_peer, rst):
    peer = script_peer([cut(b"+OK hel", rst=rst)])
    r = run_probe(tlsprobe, peer, "--mode", "plain", "--send", "NOOP")
    assert_fail(r, "connection closed", "connection reset")
    assert_peer_ok(peer)
    assert "S: +OK hel" not in r.out, r


def test_cut_mid_capa(tlsprobe, script_peer, tls_cert):
    peer = script_peer([send(b"+OK ready"), expect(b"CAPA"),
                        send_lines([b"+OK", b"USER"]), cut(b"ST")])
    r = run_probe(tlsprobe, peer, "--mode", "starttls-pop3", "--ca-file", tls_cert.cert)
    assert_fail(r, "connection closed", "connection reset")
    assert_peer_ok(peer)
    assert peer.received == [b"CAPA"]


def test_tls_mode_against_plaintext_peer(tlsprobe, script_peer, tls_cert):
    """A server that answers the ClientHello with plaintext must fail the handshake."""
    peer = script_peer([send(b"+OK I do not speak TLS"), stall(2)])
    r = run_probe(tlsprobe, peer, "--mode", "tls", "--ca-file", tls_cert.cert, timeout_ms=3000)
    assert r.rc == 1, r
    assert r.err.startswith("hm-tlsprobe: "), r
    assert "tls: " not in r.out and "S: +OK" not in r.out, r
    peer.wait()


@pytest.mark.parametrize("host,bind", [("127.0.0.1", "127.0.0.2"), ("::1", "::1")])
def test_bind_address(tlsprobe, script_peer, host, bind):
    peer = script_peer([send(b"+OK hi"), reply_to(b"NOOP", [b"+OK"])], host=host)
    r = tlsprobe("--host", host, "--port", peer.port, "--bind", bind, "--mode", "plain",
                 "--send", "NOOP", "--timeout", 5000)
    assert r.rc == 0, r
    assert_peer_ok(peer)
    assert peer.client_addr[0] == bind
    assert peer.received == [b"NOOP"]


def test_usage_error_exit_2(tlsprobe):
    r = tlsprobe("--port", "110")
    assert r.rc == 2, r
    r = tlsprobe("--host", "127.0.0.1", "--port", "110", "--mode", "carrier-pigeon")
    assert r.rc == 2, r
