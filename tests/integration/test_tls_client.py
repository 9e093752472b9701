"""lib/'s TLS client (via tests/tools/hm-tlsprobe) against a real Dovecot:
verification by chain + host name, or by a SHA-256 pin; nothing else passes
(DESIGN.md invariant 6)."""
import re

import pytest

from fixtures.tls import openssl_fingerprint

# (mode, which Dovecot port, first line the server greets with)
TRANSPORTS = [
    ("tls", "pop3s", "+OK"),
    ("tls", "imaps", "* OK"),
    ("starttls-pop3", "pop3", "+OK"),
    ("starttls-imap", "imap", "* OK"),
]
IDS = ["pop3s", "imaps", "pop3-stls", "imap-starttls"]

PIN_RE = re.compile(r"sha256:((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})")


@pytest.fixture(params=TRANSPORTS, ids=IDS)
def target(request, dovecot):
    mode, port_name, greeting = request.param
    return dict(mode=mode, port=dovecot.ports[port_name], greeting=greeting)


def probe(tlsprobe, t, *extra, host="127.0.0.1"):
    return tlsprobe("--host", host, "--port", t["port"], "--mode", t["mode"], "--timeout", 5000, *extra)


def assert_ok(r, t, verified):
    assert r.rc == 0, r
    assert r.err.strip() == "", r
    tls = [ln for ln in r.out.splitlines() if ln.startswith("tls: ")]
    assert len(tls) == 1, r
    assert re.match(r"tls: TLSv1\.[23] \S+ verified=%s$" % verified, tls[0]), r
    assert any(ln.startswith("S: " + t["greeting"]) for ln in r.out.splitlines()), r


def assert_fail(r, *needles):
    assert r.rc == 1, r
    err = r.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hm-tlsprobe: "), r
    for n in needles:
        assert n.lower() in err[0].lower(), r
    assert not any(ln.startswith("tls: ") for ln in r.out.splitlines()), r
    return err[0]


def test_fingerprint_matches_openssl(dovecot):
    """Sanity check of the independent pin computation."""
    fp = openssl_fingerprint(dovecot.cafile)
    assert PIN_RE.fullmatch(fp), fp
    assert fp == dovecot.fingerprint


def test_self_signed_refused_then_printed_pin_works(tlsprobe, target, dovecot):
    r = probe(tlsprobe, target)
    line = assert_fail(r, "self-signed", "not trusted")
    m = PIN_RE.search(line)
    assert m, r
    printed = "sha256:" + m.group(1)
    assert printed.upper() == dovecot.fingerprint.upper()
    r2 = probe(tlsprobe, target, "--fingerprint", printed)
    assert_ok(r2, target, "pin")


def test_correct_pin_accepted(tlsprobe, target, dovecot):
    r = probe(tlsprobe, target, "--fingerprint", dovecot.fingerprint)
    assert_ok(r, target, "pin")


def test_pin_lowercase_accepted(tlsprobe, target, dovecot):
    r = probe(tlsprobe, target, "--fingerprint", "sha256:" + dovecot.fingerprint[7:].lower())
    assert_ok(r, target, "pin")


def test_pin_ignores_host_name(tlsprobe, target, dovecot):
    """A pin trusts the key, not the name: --servername does not matter."""
    r = probe(tlsprobe, target, "--fingerprint", dovecot.fingerprint, "--servername", "other.example")
    assert_ok(r, target, "pin")


def test_wrong_pin_refused(tlsprobe, target, dovecot):
    hexes = dovecot.fingerprint[7:].split(":")
    hexes[-1] = "%02X" % (int(hexes[-1], 16) ^ 0x01)
    wrong = "sha256:" + ":".join(hexes)
    r = probe(tlsprobe, target, "--fingerprint", wrong)
    assert_fail(r, "does not match")


def test_wrong_pin_refused_even_with_ca(tlsprobe, target, dovecot):
    """With --fingerprint, only the pin counts: a valid chain does not rescue a wrong pin."""
    wrong = "sha256:" + ":".join(["00"] * 32)
    r = probe(tlsprobe, target, "--fingerprint", wrong, "--ca-file", dovecot.cafile)
    assert_fail(r, "does not match")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_ca_file_accepted(tlsprobe, target, dovecot, host):
    r = probe(tlsprobe, target, "--ca-file", dovecot.cafile, host=host)
    assert_ok(r, target, "chain")


def test_ca_file_wrong_servername_refused(tlsprobe, target, dovecot):
    r = probe(tlsprobe, target, "--ca-file", dovecot.cafile, "--servername", "mail.example.org")
    assert_fail(r, "does not match host name", "mail.example.org")


def test_send_after_handshake(tlsprobe, dovecot):
    """--send goes over TLS and its reply is read back."""
    t = dict(mode="starttls-pop3", port=dovecot.pop3_port, greeting="+OK")
    r = probe(tlsprobe, t, "--ca-file", dovecot.cafile, "--send", "CAPA")
    assert_ok(r, t, "chain")
    lines = r.out.splitlines()
    tls_at = next(i for i, ln in enumerate(lines) if ln.startswith("tls: "))
    assert lines[tls_at + 1:tls_at + 3] == ["C: CAPA", "S: +OK"], r
