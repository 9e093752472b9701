"""admin/discover.c (what homemail setup learns about an address) through
tests/tools/hm-discover: the presets; Thunderbird autoconfig over HTTPS
from fixtures/autoconfig.py (both URLs in order, 404, bad XML, a timeout,
a certificate for another name, redirects) falling through to SRV
records served by a real BIND 9 (fixtures/bind.py): implicit TLS first,
priority and weight order, the "." target."""
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures  # noqa: E402
from fixtures.autoconfig import AutoconfigServer, autoconfig_xml  # noqa: E402
from fixtures.bind import Bind, BindError  # noqa: E402

DOMAINS = ("example.test", "fallback.test", "srv.test", "partial.test", "order.test",
           "none.test", "redirect.test")

# Every domain gets the same SRV records unless its own zone says more.
SRV_ZONE = """
_imaps._tcp        IN SRV 10 0 993 imaps.{d}.
_imap._tcp         IN SRV 0 0 143 imap.{d}.
_pop3s._tcp        IN SRV 0 0 0 .
_submissions._tcp  IN SRV 0 0 0 .
_submission._tcp   IN SRV 0 1 587 submission.{d}.
"""

ORDER_ZONE = """
_imaps._tcp        IN SRV 20 100 993 third.order.test.
_imaps._tcp        IN SRV 10 10 993 second.order.test.
_imaps._tcp        IN SRV 10 90 9993 first.order.test.
_imaps._tcp        IN SRV 5 0 0 .
_pop3s._tcp        IN SRV 0 0 0 .
_pop3._tcp         IN SRV 1 0 110 pop.order.test.
_submissions._tcp  IN SRV 7 0 465 smtp.order.test.
_submission._tcp   IN SRV 0 0 587 never-asked.order.test.
"""

ADDR = "alice@%s"
AC_URL = "https://autoconfig.%s/mail/config-v1.1.xml?emailaddress=alice%%40%s"
WK_URL = "https://%s/.well-known/autoconfig/mail/config-v1.1.xml"


def full_xml(domain):
    return autoconfig_xml([
        {"kind": "incomingServer", "type": "imap", "host": "imap.%EMAILDOMAIN%", "port": 993},
        {"kind": "incomingServer", "type": "pop3", "host": "pop." + domain, "port": 110,
         "socket": "STARTTLS", "user": "%EMAILLOCALPART%"},
        {"kind": "outgoingServer", "type": "smtp", "host": "smtp." + domain, "port": 465,
         "auth": ["OAuth2", "password-cleartext"]},
    ], domain=domain)


@pytest.fixture(scope="module")
def bind(hm_tmp):
    base = tempfile.mkdtemp(prefix="bind-discover-", dir=hm_tmp)
    zones = {d: SRV_ZONE.format(d=d) for d in DOMAINS if d not in ("order.test", "none.test")}
    zones["order.test"] = ORDER_ZONE
    zones["none.test"] = ""
    try:
        ns = Bind(base, zones=zones).start()
    except BindError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield ns
    finally:
        ns.stop()


@pytest.fixture(scope="module")
def web(hm_tmp):
    s = AutoconfigServer(tempfile.mkdtemp(prefix="autoconfig-", dir=hm_tmp), DOMAINS).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def discover(bin, bind, web):
    """discover(address, *extra) -> Result with .servers {proto: {field: value}
    or None}, .tried [lines], .fields {provider, note, error}."""
    exe = bin("tests/tools/hm-discover")
    web.reset()

    def run(address, *extra, timeout_s=3, ca=None):
        argv = [exe, "--resolver", bind.resolver, "--connect-to", web.connect_to,
                "--ca-file", ca or web.cert.cert, "--timeout", timeout_s, *extra, address]
        r = fixtures.run(argv, timeout=60)
        assert r.rc in (0, 1), r
        r.servers, r.tried, r.fields = {}, [], {}
        for line in r.out.splitlines():
            head, _, rest = line.partition(" ")
            if head in ("imap", "pop3", "smtp"):
                r.servers[head] = None if rest == "none" else dict(
                    kv.split("=", 1) for kv in rest.split(" source=")[0].split(" "))
                if rest != "none":
                    r.servers[head]["source"] = rest.split(" source=", 1)[1]
            elif line.startswith("tried="):
                r.tried.append(line[6:])
            else:
                k, _, v = line.partition("=")
                r.fields[k] = v
        return r

    return run


def test_fixtures_serve(bind, web):
    assert bind.dig("_imaps._tcp.srv.test", "SRV") == ["10 0 993 imaps.srv.test."]
    assert bind.dig("_submissions._tcp.srv.test", "SRV") == ["0 0 0 ."]


def test_preset_needs_no_network(discover, web):
    r = discover("Alice@GoogleMail.COM")
    assert r.rc == 0, r
    assert r.fields["provider"] == "Gmail", r
    assert r.servers["imap"] == {"host": "imap.gmail.com", "port": "993", "tls": "tls",
                                 "login": "address", "user": "Alice@googlemail.com",
                                 "auth": "oauth2", "oauth2": "google",
                                 "source": "preset Gmail"}, r
    assert r.servers["smtp"]["port"] == "465", r
    assert web.requests == [] and r.tried == [], r


def test_autoconfig_first_url(discover, web):
    d = "example.test"
    web.set("autoconfig." + d, body=full_xml(d))
    r = discover(ADDR % d)
    assert r.rc == 0, r
    src = "autoconfig from " + AC_URL % (d, d)
    assert r.servers["imap"] == {"host": "imap.example.test", "port": "993", "tls": "tls",
                                 "login": "address", "user": "alice@example.test",
                                 "auth": "password", "oauth2": "-", "source": src}, r
    assert r.servers["pop3"]["tls"] == "starttls" and r.servers["pop3"]["user"] == "alice", r
    assert r.servers["smtp"]["auth"] == "password", r
    assert r.fields["provider"] == "Example Mail", r
    # The second URL is not asked, nor are SRV records (nothing is missing).
    assert web.requests == [("autoconfig." + d, "/mail/config-v1.1.xml",
                             {"emailaddress": "alice@example.test"})], web.requests
    assert r.tried == [], r


def test_second_url_after_404(discover, web):
    d = "fallback.test"
    web.set(d, body=full_xml(d))
    r = discover(ADDR % d)
    assert r.rc == 0, r
    assert [h for h, _, _ in web.requests] == ["autoconfig." + d, d], web.requests
    assert r.servers["imap"]["source"] == "autoconfig from " + WK_URL % d, r
    assert r.tried == [AC_URL % (d, d) + ": HTTP 404"], r


def srv_result_ok(r, d):
    assert r.rc == 0, r
    assert r.servers["imap"] == {"host": "imaps." + d, "port": "993", "tls": "tls",
                                 "login": "unknown", "user": "-", "auth": "unknown",
                                 "oauth2": "-", "source": "SRV record _imaps._tcp." + d}, r
    assert r.servers["pop3"] is None, r
    # _submissions says "." (not offered): the STARTTLS service is used.
    assert r.servers["smtp"]["host"] == "submission." + d, r
    assert (r.servers["smtp"]["port"], r.servers["smtp"]["tls"]) == ("587", "starttls"), r
    assert "SRV _pop3s._tcp.%s: not offered (target \".\")" % d in r.tried, r
    assert "SRV _pop3._tcp.%s: rcode NXDOMAIN" % d not in r.tried, r
    assert "SRV _pop3._tcp.%s: no record" % d in r.tried, r
    assert "SRV _submissions._tcp.%s: not offered (target \".\")" % d in r.tried, r


def test_both_404_fall_through_to_srv(discover, web):
    d = "srv.test"
    r = discover(ADDR % d)
    srv_result_ok(r, d)
    assert r.tried[:2] == [AC_URL % (d, d) + ": HTTP 404", WK_URL % d + ": HTTP 404"], r


def test_bad_xml_falls_through(discover, web):
    d = "srv.test"
    web.set("autoconfig." + d, body="<clientConfig><emailProvider><incomingServer>")
    web.set(d, body="<html><body>It works!</body></html>")
    r = discover(ADDR % d)
    srv_result_ok(r, d)
    assert r.tried[0].startswith(AC_URL % (d, d) + ": not a valid autoconfig file: "), r
    assert r.tried[1] == WK_URL % d + ": the root element is <html>, not <clientConfig>", r


def test_timeout_falls_through(discover, web):
    d = "srv.test"
    web.set("autoconfig." + d, stall=8)
    web.set(d, stall=8)
    r = discover(ADDR % d, timeout_s=1)
    srv_result_ok(r, d)
    assert len(web.requests) == 2, web.requests
    assert "timed out" in r.tried[0].lower() and "timed out" in r.tried[1].lower(), r
    assert r.elapsed < 6, r


def test_certificate_is_verified(discover, web, tls_cert):
    # The fixture's certificate is right, but not signed by this CA.
    d = "srv.test"
    web.set("autoconfig." + d, body=full_xml(d))
    web.set(d, body=full_xml(d))
    r = discover(ADDR % d, ca=tls_cert.cert)
    srv_result_ok(r, d)
    assert "certificate" in r.tried[0].lower(), r


def test_redirects_https_only(discover, web):
    d = "redirect.test"
    web.set("autoconfig." + d, status=301, location="http://%s/plain.xml" % d)
    web.set(d, status=302, location="https://autoconfig.example.test/mail/config-v1.1.xml")
    web.set("autoconfig.example.test", body=full_xml("example.test"))
    r = discover(ADDR % d)
    assert r.rc == 0, r
    assert "http" in r.tried[0] and r.tried[0].startswith(AC_URL % (d, d)), r
    assert ("redirect.test", "/plain.xml", {}) not in web.requests, web.requests
    assert r.servers["imap"]["host"] == "imap.redirect.test", r
    assert r.servers["imap"]["source"] == \
        "autoconfig from https://autoconfig.example.test/mail/config-v1.1.xml", r


def test_partial_autoconfig_completed_by_srv(discover, web):
    d = "partial.test"
    web.set("autoconfig." + d, body=autoconfig_xml([
        {"kind": "incomingServer", "type": "pop3", "host": "pop." + d, "port": 995}], domain=d))
    r = discover(ADDR % d)
    assert r.rc == 0, r
    assert r.servers["pop3"]["source"].startswith("autoconfig from https://autoconfig."), r
    # What the file did not give comes from SRV, each naming its source.
    assert r.servers["imap"]["source"] == "SRV record _imaps._tcp." + d, r
    assert r.servers["smtp"]["source"] == "SRV record _submission._tcp." + d, r


def test_srv_priority_and_weight(discover):
    d = "order.test"
    r = discover(ADDR % d)
    assert r.rc == 0, r
    # Priority 5 is ".", ignored among others; of priority 10 the heavier wins.
    assert (r.servers["imap"]["host"], r.servers["imap"]["port"]) == ("first.order.test",
                                                                        "9993"), r
    assert r.servers["pop3"]["host"] == "pop.order.test", r
    assert r.servers["pop3"]["tls"] == "starttls", r
    assert r.servers["smtp"] == {"host": "smtp.order.test", "port": "465", "tls": "tls",
                                 "login": "unknown", "user": "-", "auth": "unknown",
                                 "oauth2": "-",
                                 "source": "SRV record _submissions._tcp.order.test"}, r


def test_nothing_published(discover):
    r = discover(ADDR % "none.test")
    assert r.rc == 1, r
    assert r.fields["error"] == "no settings published for none.test", r
    assert len(r.tried) == 2 + 6, r


def test_not_an_address(discover, web):
    r = discover("alice@exa mple.test")
    assert r.rc == 1 and "not a domain name" in r.fields["error"], r
    assert web.requests == [], web.requests


def test_silent_resolver_asked_once(bin, web):
    """A DNS server that never answers costs one timeout, not six."""
    import socket
    web.reset()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        r = fixtures.run([bin("tests/tools/hm-discover"), "--resolver",
                          "127.0.0.1:%d" % silent.getsockname()[1], "--connect-to",
                          web.connect_to, "--ca-file", web.cert.cert, "--timeout", 1,
                          ADDR % "srv.test"], timeout=60)
    assert r.rc == 1, r
    srv = [line for line in r.out.splitlines() if line.startswith("tried=SRV")]
    assert srv == ["tried=SRV _imaps._tcp.srv.test: no reply (timeout or network error): "
                   + srv[0].split("error): ", 1)[1]], r
    assert r.elapsed < 5, r
