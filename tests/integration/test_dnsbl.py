"""relay/dnsbl.c against a real BIND 9 (fixtures/bind.py), through
tests/tools/hm-dnsbl-check: listings with and without TXT, the
127.255.255.0/24 "refused" answers, IPv6 (RFC 5782 2.4), a wildcarding
resolver, SERVFAIL, a resolver that never answers, several zones, and a
hostile TXT record."""
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures  # noqa: E402
from fixtures.bind import Bind, BindError, Tsig  # noqa: E402

# 2001:db8::1 as RFC 5782 2.4 names it.
V6_NAME = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
# \013 \010 are CR LF in zone-file syntax (decimal escapes), \000 a NUL.
HOSTILE = ('"evil\\013\\010250 2.0.0 Ok\\013\\010.\\013\\010" "\\000\\027[31m" '
           '"100% %s%n" "' + "A" * 250 + '"')

BL_ZONE = """
2.0.0.127          IN A   127.0.0.2
2.0.0.127          IN TXT "Listed by bl.test, see https://bl.test/q?127.0.0.2"
4.0.0.127          IN A   127.0.0.4
254.255.255.127    IN A   127.255.255.254
10.0.0.127         IN A   192.0.2.80
66.0.0.127         IN A   127.0.0.2
66.0.0.127         IN TXT {hostile}
{v6}               IN A   127.0.0.3
{v6}               IN TXT "IPv6 listed"
""".format(hostile=HOSTILE, v6=V6_NAME)

SECOND_ZONE = """
3.0.0.127          IN A   127.0.0.2
3.0.0.127          IN TXT "second list has it"
254.255.255.127    IN A   127.0.0.2
"""

EXIT = {"clean": 0, "listed": 1, "refused": 2, "error": 3}


@pytest.fixture(scope="module")
def bind(hm_tmp):
    base = tempfile.mkdtemp(prefix="bind-dnsbl-", dir=hm_tmp)
    try:
        ns = Bind(base, zones={"bl.test": BL_ZONE, "two.test": SECOND_ZONE,
                               "broken.test": None}).start()
    except BindError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield ns
    finally:
        ns.stop()


@pytest.fixture
def check(bin):
    exe = bin("tests/tools/hm-dnsbl-check")

    def run(ip, *zones, resolver, timeout_ms=3000):
        argv = [exe, "--resolver", resolver, "--timeout", timeout_ms]
        for z in zones:
            argv += ["--zone", z]
        r = fixtures.run(argv + [ip], timeout=30)
        fields = dict(line.split("=", 1) for line in r.out.splitlines() if "=" in line)
        assert set(fields) == {"verdict", "zone", "reason"}, r
        assert r.rc == EXIT[fields["verdict"]], r
        r.verdict, r.zone, r.reason = fields["verdict"], fields["zone"], fields["reason"]
        return r

    return run


def test_fixture_serves_the_zone(bind):
    assert bind.dig("2.0.0.127.bl.test") == ["127.0.0.2"]
    assert bind.dig("2.0.0.127.bl.test", v6=True) == ["127.0.0.2"]
    assert bind.dig("%s.bl.test" % V6_NAME, "TXT") == ['"IPv6 listed"']


def test_listed_with_txt(bind, check):
    r = check("127.0.0.2", "bl.test", resolver=bind.resolver)
    assert (r.verdict, r.zone) == ("listed", "bl.test"), r
    assert r.reason == "Listed by bl.test, see https://bl.test/q?127.0.0.2", r


def test_listed_without_txt(bind, check):
    r = check("127.0.0.4", "bl.test", resolver=bind.resolver)
    assert (r.verdict, r.zone, r.reason) == ("listed", "bl.test", "listed in bl.test"), r


def test_clean(bind, check):
    r = check("127.0.0.9", "bl.test", "two.test", resolver=bind.resolver)
    assert (r.verdict, r.zone, r.reason) == ("clean", "", ""), r
    r = check("2001:db8::2", "bl.test", resolver=bind.resolver)
    assert r.verdict == "clean", r


def test_refused_is_never_listed(bind, check):
    r = check("127.255.255.254", "bl.test", resolver=bind.resolver)
    assert (r.verdict, r.zone) == ("refused", "bl.test"), r
    assert "127.255.255.254" in r.reason, r


def test_ipv6_listing_over_ipv6(bind, check):
    r = check("2001:db8::1", "bl.test", resolver=bind.resolver6)
    assert (r.verdict, r.zone, r.reason) == ("listed", "bl.test", "IPv6 listed"), r
    # Written another way, the same address.
    r = check("2001:0DB8:0:0:0:0:0:1", "bl.test", resolver=bind.resolver)
    assert r.verdict == "listed", r


def test_answer_outside_127_is_an_error(bind, check):
    """A resolver that answers every name (an ISP's NXDOMAIN advertising)
    must not list everybody."""
    r = check("127.0.0.10", "bl.test", resolver=bind.resolver)
    assert (r.verdict, r.zone) == ("error", "bl.test"), r
    assert "192.0.2.80" in r.reason and "outside 127/8" in r.reason, r


def test_servfail_is_an_error(bind, check):
    r = check("127.0.0.2", "broken.test", resolver=bind.resolver)
    assert (r.verdict, r.zone, r.reason) == ("error", "broken.test", "rcode SERVFAIL"), r


def test_second_zone_lists(bind, check):
    r = check("127.0.0.3", "bl.test", "two.test", resolver=bind.resolver)
    assert (r.verdict, r.zone, r.reason) == ("listed", "two.test", "second list has it"), r


def test_listing_beats_an_earlier_failure(bind, check):
    r = check("127.0.0.3", "broken.test", "bl.test", "two.test", resolver=bind.resolver)
    assert (r.verdict, r.zone) == ("listed", "two.test"), r
    # The first list to refuse is reported when no list lists.
    r = check("127.255.255.254", "bl.test", "broken.test", resolver=bind.resolver)
    assert (r.verdict, r.zone) == ("refused", "bl.test"), r
    # The first zone lists: the second is not asked (it would refuse).
    r = check("127.255.255.254", "two.test", "bl.test", resolver=bind.resolver)
    assert (r.verdict, r.zone) == ("listed", "two.test"), r


def test_hostile_txt_is_sanitised(bind, check):
    r = check("127.0.0.66", "bl.test", resolver=bind.resolver)
    assert r.verdict == "listed", r
    raw = r.out.split("reason=", 1)[1]
    assert raw.endswith("\n") and raw.count("\n") == 1, r
    reason = raw[:-1]
    assert reason.startswith("evil 250 2.0.0 Ok . [31m100% %s%nAAAA"), r
    assert reason.endswith("..."), r
    assert len(reason) <= 200, r
    assert all(0x20 <= ord(c) < 0x7f for c in reason), r
    assert "\r" not in r.out and "\x00" not in r.out and "\x1b" not in r.out


def test_silent_resolver_times_out(check):
    """A resolver that takes the query and never answers: ERROR (the relay
    accepts and logs) after the timeout, the query sent once."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        t0 = time.monotonic()
        r = check("127.0.0.2", "bl.test", resolver="127.0.0.1:%d" % s.getsockname()[1],
                  timeout_ms=1000)
        elapsed = time.monotonic() - t0
        s.setblocking(False)
        queries = []
        try:
            while True:
                queries.append(s.recv(4096))
        except BlockingIOError:
            pass
    assert (r.verdict, r.zone) == ("error", "bl.test"), r
    assert 0.9 <= elapsed < 3.0, r
    assert len(queries) == 1, queries
    # The question is 2.0.0.127.bl.test A IN, with RD set.
    assert b"\x012\x010\x010\x03127\x02bl\x04test\x00\x00\x01\x00\x01" in queries[0]
    assert queries[0][2] & 0x01


def test_truncated_answer_is_not_chased_over_tcp(check):
    """A resolver that answers every datagram with TC=1 and then drips its
    TCP answer a byte a second: ldns's TCP retry bounded each read, not
    the query, and held an SMTP session for minutes. The truncated answer
    is an ERROR at once; no TCP connection is made."""
    import threading
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(4)
    tcp.settimeout(0.2)
    connects = []
    stop = threading.Event()

    def serve_udp():
        udp.settimeout(0.2)
        while not stop.is_set():
            try:
                q, peer = udp.recvfrom(4096)
            except socket.timeout:
                continue
            # The query's ID and question back, QR and TC set, no answers.
            end = 12 + q[12:].index(b"\x00") + 5
            udp.sendto(q[:2] + b"\x83\x80\x00\x01\x00\x00\x00\x00\x00\x00" + q[12:end], peer)

    def serve_tcp():
        while not stop.is_set():
            try:
                c, _ = tcp.accept()
            except socket.timeout:
                continue
            connects.append(c)
            for b in b"\x00\x40" + b"\x00" * 64:
                if stop.is_set():
                    break
                try:
                    c.send(bytes([b]))
                except OSError:
                    break
                time.sleep(1)

    threads = [threading.Thread(target=f, daemon=True) for f in (serve_udp, serve_tcp)]
    for t in threads:
        t.start()
    try:
        t0 = time.monotonic()
        r = check("127.0.0.2", "bl.test", resolver="127.0.0.1:%d" % port, timeout_ms=2000)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        for t in threads:
            t.join()
        for c in connects:
            c.close()
        udp.close()
        tcp.close()
    assert (r.verdict, r.zone) == ("error", "bl.test"), r
    assert elapsed < 4.0, (elapsed, r)
    assert connects == [], "the truncated answer was asked again over TCP"


def test_bind_fixture_takes_tsig_updates(hm_tmp):
    """The fixture's TSIG side, which homemail-dyndns's rfc2136 tests use."""
    key = Tsig("hm-key", zones=["dyn.test"])
    base = tempfile.mkdtemp(prefix="bind-tsig-", dir=hm_tmp)
    with Bind(base, zones={"dyn.test": "box IN A 192.0.2.1\n"}, tsig=key) as ns:
        script = ("server 127.0.0.1 %d\nzone dyn.test\nupdate delete box.dyn.test A\n"
                  "update add box.dyn.test 60 A 192.0.2.7\nsend\n" % ns.port)
        r = subprocess.run(["nsupdate", "-k", key.key_file], input=script, text=True,
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r
        assert ns.dig("box.dyn.test") == ["192.0.2.7"]
        unsigned = subprocess.run(["nsupdate"], input=script.replace("192.0.2.7", "192.0.2.8"),
                                  text=True, capture_output=True, timeout=20)
        assert unsigned.returncode != 0, unsigned
        assert ns.dig("box.dyn.test") == ["192.0.2.7"]
