"""homemail-dyndns's rfc2136 provider against a real BIND 9 (fixtures/bind.py):
a zone that takes updates signed with a TSIG key (hmac-sha256). What named
serves is read with dig, never with our code: the first run creates the A
record, the same address sends nothing (the SOA serial stays), a change
replaces the whole RRset, AAAA lives apart from A, a wrong secret or key
name is refused by BIND and reported in words with the record held, -v and
--dry-run never show the secret, and a server that is down means a retry
with the cached address untouched."""
import base64
import os
import tempfile

import pytest

import fixtures
from fixtures.bind import Bind, BindError, Tsig

ZONE = "dyn.test"
HOST = "box.dyn.test"
KEY = "ddns-key"
SECRET = base64.b64encode(b"homemail-rfc2136-test-secret-32b").decode()


@pytest.fixture(scope="module")
def ns(hm_tmp):
    base = tempfile.mkdtemp(prefix="bind-rfc2136-", dir=hm_tmp)
    try:
        s = Bind(base, zones={ZONE: "", "other.test": ""},
                 tsig=Tsig(KEY, zones=[ZONE], secret=SECRET)).start()
    except BindError as e:
        pytest.fail("named did not start: %s" % e)
    yield s
    s.stop()


def write_conf(d, server, host=HOST, detect='"static:81.2.69.160"', ipv4=True, ipv6=False,
               secret=SECRET, key=KEY, extra=""):
    os.makedirs(d, exist_ok=True)
    path = fixtures.write_secret(os.path.join(d, "tsig.secret"), secret)
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write("""hostname = "box.lan";
state_dir = "%(d)s/state";
dyndns = {
  detect = %(detect)s;
  records = (
    { provider = "rfc2136"; server = "%(server)s"; hostname = "%(host)s";
      tsig_name = "%(key)s"; tsig_secret_file = "%(path)s"; ttl = 120;
      ipv4 = %(v4)s; ipv6 = %(v6)s; %(extra)s }
  );
};
""" % {"d": d, "server": server, "host": host, "detect": detect, "key": key, "path": path,
           "v4": "true" if ipv4 else "false", "v6": "true" if ipv6 else "false",
           "extra": extra})
    return conf


def dyndns(bin, conf, *args, **kw):
    return fixtures.run([bin("dyndns/homemail-dyndns"), "-c", conf, "--once", *args], **kw)


def cache(d, rr="A", host=HOST):
    path = os.path.join(d, "state", "dyndns", "%s-rfc2136-%s" % (host, rr))
    with open(path) as f:
        return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)


def test_creates_then_sends_nothing_then_replaces(bin, hm_tmp, ns):
    d = os.path.join(hm_tmp, "rfc-change")
    conf = write_conf(d, ns.resolver)
    assert ns.dig(HOST) == []
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0, r
    assert ns.dig(HOST) == ["81.2.69.160"]
    assert SECRET not in r.out + r.err
    assert "NOERROR" in r.err
    serial = ns.serial(ZONE)
    # the same address: nothing sent, the zone unchanged
    for _ in range(2):
        assert dyndns(bin, conf).rc == 0
    assert ns.serial(ZONE) == serial
    # someone added a second address: the update replaces the whole RRset
    ns.nsupdate("update add %s. 60 IN A 81.2.69.199" % HOST)
    assert sorted(ns.dig(HOST)) == ["81.2.69.160", "81.2.69.199"]
    conf = write_conf(d, ns.resolver, detect='"static:81.2.69.161"')
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert ns.dig(HOST) == ["81.2.69.161"]
    r2 = fixtures.run(["dig", "+noall", "+answer", "@" + ns.host, "-p", str(ns.port), HOST, "A"])
    assert r2.out.split()[1] == "120", r2.out   # the record's ttl
    assert cache(d)["address"] == "81.2.69.161"


def test_a_and_aaaa_independent(bin, hm_tmp, ns):
    d = os.path.join(hm_tmp, "rfc-dual")
    host = "dual.dyn.test"
    conf = write_conf(d, ns.resolver6, host=host, ipv6=True,
                      detect='[ "static:81.2.69.160", "static:2a01:4f8:1:2::3" ]')
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert ns.dig(host) == ["81.2.69.160"]
    assert ns.dig(host, "AAAA") == ["2a01:4f8:1:2::3"]
    serial = ns.serial(ZONE)
    conf = write_conf(d, ns.resolver6, host=host, ipv6=True,
                      detect='[ "static:81.2.69.160", "static:2a01:4f8:1:2::4" ]')
    assert dyndns(bin, conf).rc == 0
    assert ns.dig(host, "AAAA") == ["2a01:4f8:1:2::4"]
    assert ns.dig(host) == ["81.2.69.160"]
    assert ns.serial(ZONE) == serial + 1   # one update: the AAAA alone


@pytest.mark.parametrize("what", ["secret", "key"])
def test_wrong_key_refused_and_held(bin, hm_tmp, ns, what):
    d = os.path.join(hm_tmp, "rfc-wrong-" + what)
    host = "held-%s.dyn.test" % what
    wrong = base64.b64encode(b"not-the-secret-of-the-key-at-all").decode()
    bad = {"secret": wrong} if what == "secret" else {"key": "other-key"}
    conf = write_conf(d, ns.resolver, host=host, **bad)
    serial = ns.serial(ZONE)
    r = dyndns(bin, conf, "-v")
    assert r.rc == 1, r
    if what == "secret":
        assert "BADSIG" in r.err and "wrong secret" in r.err, r
    else:
        assert "the server refused the TSIG key 'other-key': BADKEY" in r.err, r
    assert "not updated again until its config or secret changes" in r.err
    assert wrong not in r.out + r.err and SECRET not in r.out + r.err
    assert ns.dig(host) == [] and ns.serial(ZONE) == serial
    # held: no more requests until the config changes
    r = dyndns(bin, conf)
    assert r.rc == 1 and "not updated until its config changes" in r.err, r
    assert cache(d, host=host)["outcome"] == "hold"
    conf = write_conf(d, ns.resolver, host=host)
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert ns.dig(host) == ["81.2.69.160"]


def test_dry_run_shows_the_update_not_the_secret(bin, hm_tmp, ns):
    d = os.path.join(hm_tmp, "rfc-dry")
    host = "dry.dyn.test"
    conf = write_conf(d, ns.resolver, host=host)
    r = dyndns(bin, conf, "--dry-run", "-v")
    assert r.rc == 0, r
    assert ("would send: DNS UPDATE of zone dyn.test to server %s over TCP: delete %s A, "
            "add %s 120 IN A 81.2.69.160; TSIG key 'ddns-key' (hmac-sha256, secret ********)"
            % (ns.resolver, host, host)) in r.out, r
    assert SECRET not in r.out + r.err
    assert ns.dig(host) == []


def test_server_down_retries(bin, hm_tmp, ns):
    d = os.path.join(hm_tmp, "rfc-down")
    host = "down.dyn.test"
    conf = write_conf(d, ns.resolver, host=host)
    assert dyndns(bin, conf).rc == 0
    before = cache(d, host=host)
    # nothing listens on that port (UDP or TCP)
    conf = write_conf(d, "127.0.0.1:%d" % fixtures.free_port(), host=host,
                      detect='"static:81.2.69.162"')
    r = dyndns(bin, conf)
    assert r.rc == 1 and "retrying at the next run" in r.err, r
    after = cache(d, host=host)
    assert after["address"] == before["address"] == "81.2.69.160"
    assert after["outcome"] == "retry" and "backoff_until" not in after
    assert ns.dig(host) == ["81.2.69.160"]


def test_zone_not_allowed_is_held(bin, hm_tmp, ns):
    # other.test is served but takes no updates: BIND answers REFUSED
    d = os.path.join(hm_tmp, "rfc-refused")
    conf = write_conf(d, ns.resolver, host="box.other.test")
    r = dyndns(bin, conf)
    assert r.rc == 1 and "REFUSED" in r.err, r
    assert ns.dig("box.other.test") == []


def test_badtime_in_words(bin, hm_tmp, ns):
    # this box's clock 2 hours ahead of the server's
    d = os.path.join(hm_tmp, "rfc-badtime")
    host = "time.dyn.test"
    conf = write_conf(d, ns.resolver, host=host)
    r = fixtures.run(["faketime", "-f", "+2h", bin("dyndns/homemail-dyndns"), "-c", conf,
                      "--once"], env=fixtures.wrapped_env())
    assert r.rc == 1, r
    assert "BADTIME: the clocks of this box and the server differ by more than 5 minutes" in r.err
    # not held: the clock comes right without a config change
    assert "backing off" in r.err, r
    assert cache(d, host=host)["outcome"] == "backoff"
    assert ns.dig(host) == []


def test_update_policy_name_grant(bin, hm_tmp):
    # the grant homemail-dyndns(8) shows: this key may change A and AAAA of
    # this one name, nothing else; the update fits it
    base = tempfile.mkdtemp(prefix="bind-rfc2136-policy-", dir=hm_tmp)
    tsig = Tsig(KEY, zones=["pol.test"], secret=SECRET,
                policy='grant "%(key)s" name box.pol.test A AAAA;')
    with Bind(base, zones={"pol.test": ""}, tsig=tsig) as ns:
        d = os.path.join(hm_tmp, "rfc-policy")
        r = dyndns(bin, write_conf(d, ns.resolver, host="box.pol.test", ipv6=True,
                                   detect='[ "static:81.2.69.160", "static:2a01:4f8:1:2::3" ]'))
        assert r.rc == 0, r
        assert ns.dig("box.pol.test") == ["81.2.69.160"]
        assert ns.dig("box.pol.test", "AAAA") == ["2a01:4f8:1:2::3"]
        d = os.path.join(hm_tmp, "rfc-policy-other")
        r = dyndns(bin, write_conf(d, ns.resolver, host="other.pol.test"))
        assert r.rc == 1 and "REFUSED" in r.err, r
        assert ns.dig("other.pol.test") == []
