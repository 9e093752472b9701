"""homemail-dyndns's "router" detection against a scripted router on loopback
(fixtures/igd.py: UPnP IGD over HTTP and NAT-PMP over UDP), publishing
through the local dyndns2 server (fixtures/dynhttp.py): the router's WAN
address is sent, a carrier-NAT or private one never is, a router that does
not answer costs a bounded time and the next method in `detect` is used."""
import json
import os
import sys
import time

import pytest

import fixtures
from fixtures.dynhttp import PASSWORD as PW
from fixtures.igd import Igd

CARRIER_NAT = "behind carrier NAT: a DNS name cannot reach this box"



@pytest.fixture
def igd():
    r = Igd().start()
    yield r
    r.stop()


def write_conf(d, dyn, ca, router_url, detect='[ "router" ]', ipv4=True, ipv6=False):
    os.makedirs(d, exist_ok=True)
    secret = fixtures.write_secret(os.path.join(d, "dyn.secret"), PW)
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write("""hostname = "box.lan";
state_dir = "%(d)s/state";
dyndns = {
  detect = %(detect)s;
  router_url = "%(router)s";
  records = (
    { provider = "dyndns2"; server = "%(url)s"; hostname = "box.dyn.test"; user = "dynuser";
      password_file = "%(secret)s"; ca_file = "%(ca)s"; ipv4 = %(v4)s; ipv6 = %(v6)s; }
  );
};
""" % {"d": d, "url": dyn.url, "ca": ca, "secret": secret, "detect": detect,
       "router": router_url, "v4": "true" if ipv4 else "false",
       "v6": "true" if ipv6 else "false"})
    return conf


def dyndns(bin, conf, *args):
    t = time.monotonic()
    r = fixtures.run([bin("dyndns/homemail-dyndns"), "-c", conf, "--once", *args], timeout=40)
    r.elapsed = time.monotonic() - t
    return r


def sent(dyn):
    return [u["query"]["myip"] for u in dyn.updates()]


def test_upnp_address_published(bin, hm_tmp, dyn, dyn_cert, igd):
    conf = write_conf(os.path.join(hm_tmp, "dynr-upnp"), dyn, dyn_cert.cert, igd.desc_url)
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0, r
    assert sent(dyn) == ["81.2.69.160"]
    soap = igd.soap_requests()
    assert len(soap) == 1 and soap[0]["path"] == "/ctl/WANIPConnection"
    assert soap[0]["soapaction"] == \
        '"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress"'
    assert "GetExternalIPAddress" in soap[0]["body"]
    assert dyndns(bin, conf).rc == 0          # same address: nothing sent
    assert sent(dyn) == ["81.2.69.160"]
    igd.address = "81.2.69.161"
    assert dyndns(bin, conf).rc == 0
    assert sent(dyn) == ["81.2.69.160", "81.2.69.161"]


def test_upnp_second_wan_service(bin, hm_tmp, dyn, dyn_cert, igd):
    """WANIPConnection faults (not connected), WANPPPConnection answers."""
    igd.scenario = "ppp"
    conf = write_conf(os.path.join(hm_tmp, "dynr-ppp"), dyn, dyn_cert.cert, igd.desc_url)
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert sent(dyn) == ["81.2.69.160"]
    assert [q["path"] for q in igd.soap_requests()] == ["/ctl/WANIPConnection",
                                                          "/ctl/WANPPPConnection"]


@pytest.mark.parametrize("address", ["100.64.1.2", "192.168.0.2"])
@pytest.mark.parametrize("proto", ["upnp", "natpmp"])
def test_carrier_nat_not_published(bin, hm_tmp, dyn, dyn_cert, igd, address, proto):
    igd.address = address
    url = igd.desc_url if proto == "upnp" else igd.natpmp_url
    conf = write_conf(os.path.join(hm_tmp, "dynr-cgnat-%s-%s" % (proto, address)), dyn,
                      dyn_cert.cert, url)
    r = dyndns(bin, conf)
    assert r.rc == 1, r
    assert dyn.updates() == []
    assert CARRIER_NAT in r.err and address in r.err, r.err
    assert "not updated" in r.err


def test_silent_router_falls_through_to_next_method(bin, hm_tmp, dyn, dyn_cert, igd):
    igd.scenario = "slow"
    conf = write_conf(os.path.join(hm_tmp, "dynr-slow"), dyn, dyn_cert.cert, igd.desc_url,
                      detect='[ "router", "static:81.2.69.199" ]')
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert r.elapsed < 12, r.elapsed
    assert sent(dyn) == ["81.2.69.199"]
    assert "detect IPv4 (router): UPnP IGD " + igd.desc_url in r.err, r.err
    assert "timed out" in r.err.lower() or "timeout" in r.err.lower(), r.err


@pytest.mark.parametrize("scenario,words", [
    ("nowan", "not an Internet gateway"),
    ("garbage", "not an Internet gateway"),
    ("fault", "UPnP error 501 (Action Failed)"),
])
def test_broken_router_reported(bin, hm_tmp, dyn, dyn_cert, igd, scenario, words):
    igd.scenario = scenario
    conf = write_conf(os.path.join(hm_tmp, "dynr-" + scenario), dyn, dyn_cert.cert,
                      igd.desc_url, detect='[ "router", "static:81.2.69.198" ]')
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert words in r.err, r.err
    assert sent(dyn) == ["81.2.69.198"]


def test_router_gone_sends_nothing(bin, hm_tmp, dyn, dyn_cert):
    port = fixtures.free_port("127.0.0.1")
    conf = write_conf(os.path.join(hm_tmp, "dynr-gone"), dyn, dyn_cert.cert,
                      "http://127.0.0.1:%d/rootDesc.xml" % port)
    r = dyndns(bin, conf)
    assert r.rc == 1, r
    assert r.elapsed < 5, r.elapsed
    assert dyn.updates() == [] and "not updated" in r.err
    assert "UPnP IGD http://127.0.0.1:%d/rootDesc.xml" % port in r.err, r.err


def test_natpmp_address_published(bin, hm_tmp, dyn, dyn_cert, igd):
    conf = write_conf(os.path.join(hm_tmp, "dynr-natpmp"), dyn, dyn_cert.cert, igd.natpmp_url)
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert sent(dyn) == ["81.2.69.160"]
    assert igd.natpmp_requests == 1
    assert igd.requests == []                 # natpmp:// asks no UPnP


def test_natpmp_silent_falls_through(bin, hm_tmp, dyn, dyn_cert, igd):
    igd.natpmp = "silent"
    conf = write_conf(os.path.join(hm_tmp, "dynr-natpmp-silent"), dyn, dyn_cert.cert,
                      igd.natpmp_url, detect='[ "router", "static:81.2.69.197" ]')
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert r.elapsed < 8, r.elapsed
    assert 3 <= igd.natpmp_requests <= 5      # 250 ms, doubling (RFC 6886 3.1)
    assert "NAT-PMP 127.0.0.1:" in r.err and "no answer in" in r.err, r.err
    assert sent(dyn) == ["81.2.69.197"]


def test_natpmp_error_and_refused(bin, hm_tmp, dyn, dyn_cert, igd):
    igd.natpmp = "error"
    conf = write_conf(os.path.join(hm_tmp, "dynr-natpmp-err"), dyn, dyn_cert.cert,
                      igd.natpmp_url)
    r = dyndns(bin, conf)
    assert r.rc == 1 and "NAT-PMP result 3" in r.err, r
    # nothing listens: ICMP port unreachable ends it at once
    port = igd.natpmp_url.rsplit(":", 1)[1]
    igd.stop()
    conf = write_conf(os.path.join(hm_tmp, "dynr-natpmp-closed"), dyn, dyn_cert.cert,
                      "natpmp://127.0.0.1:" + port)
    r = dyndns(bin, conf)
    assert r.rc == 1 and "refused" in r.err, r
    assert r.elapsed < 3, r.elapsed
    assert dyn.updates() == []


def test_router_is_ipv4_only(bin, hm_tmp, dyn, dyn_cert, igd):
    conf = write_conf(os.path.join(hm_tmp, "dynr-v6"), dyn, dyn_cert.cert, igd.desc_url,
                      ipv4=False, ipv6=True)
    r = dyndns(bin, conf)
    assert r.rc == 1, r
    assert "the router method gives IPv4 only" in r.err, r.err
    assert igd.requests == [] and dyn.updates() == []


def discover(dyn_cert, case):
    """router_url unset, in a network namespace of its own (router_netns.py)."""
    assert os.geteuid() == 0, "discovery runs in a network namespace: root, as CI runs"
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                          "router_netns.py")
    r = fixtures.run(["unshare", "-n", sys.executable, helper, case, dyn_cert.cert,
                      dyn_cert.key], timeout=60)
    assert r.rc == 0, r
    return json.loads(r.out.strip().splitlines()[-1])


def test_discovery_upnp(dyn_cert):
    r = discover(dyn_cert, "upnp")
    assert r["rc"] == 0, r["err"]
    assert r["updates"] == ["81.2.69.160"]
    assert "urn:schemas-upnp-org:device:InternetGatewayDevice:1" in r["searches"]
    assert r["soap"] == ["/ctl/WANIPConnection"] and r["natpmp_requests"] == 0
    assert r["elapsed"] < 5


def test_discovery_falls_back_to_natpmp(dyn_cert):
    r = discover(dyn_cert, "natpmp")
    assert r["rc"] == 0, r["err"]
    assert r["updates"] == ["81.2.69.160"] and r["natpmp_requests"] == 1
    assert "router: NAT-PMP to 127.0.0.1:5351" in r["err"]
    assert 2 <= r["elapsed"] < 6


def test_discovery_nothing_answers(dyn_cert):
    r = discover(dyn_cert, "silent")
    assert r["rc"] == 0, r["err"]
    assert r["updates"] == ["81.2.69.196"]    # the next method, static
    assert r["elapsed"] < 8                   # SSDP 2 s + NAT-PMP 4 s
    assert "UPnP: no Internet gateway answered SSDP" in r["err"], r["err"]
    assert "NAT-PMP: NAT-PMP 127.0.0.1:5351: no answer" in r["err"], r["err"]
