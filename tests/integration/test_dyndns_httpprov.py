"""homemail-dyndns's DuckDNS and Cloudflare providers against local HTTPS
stand-ins (fixtures/dynhttp.py's /update route, fixtures/cfapi.py): they
update exactly when the address changes, hold a record the provider refuses
until its token changes, back off on server trouble, keep A and AAAA apart,
and never show the token (in the URL for DuckDNS, in an Authorization header
for Cloudflare) in -v output or --dry-run."""
import os

import pytest

import fixtures
from fixtures.cfapi import CfApi
from fixtures.dynhttp import DynHttp
from fixtures.tls import make_cert

DUCK = "duck-token-5f2c9e"
CF = "cf-token-9a8b7c6d"


@pytest.fixture(scope="module")
def cert(hm_tmp):
    return make_cert(os.path.join(hm_tmp, "httpprov-tls"),
                     san="DNS:localhost,IP:127.0.0.1,IP:::1", name="httpprov")


@pytest.fixture
def web(cert):
    s = DynHttp(cert).start()
    s.duck_token = DUCK
    yield s
    s.stop()


@pytest.fixture
def cf(cert):
    api = CfApi(cert, token=CF).start()
    api.add_zone("example.test")
    yield api
    api.stop()


def write_token(d, value):
    return fixtures.write_secret(os.path.join(d, "token"), value)


def write_conf(d, web, records):
    """records: the text of dyndns.records' entries (%(ca)s, %(token)s filled)."""
    os.makedirs(d, exist_ok=True)
    token = os.path.join(d, "token")
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write("""hostname = "box.lan";
state_dir = "%(d)s/state";
dyndns = {
  detect = "web";
  detect_url4 = "%(url)s/ip4"; detect_url6 = "%(url6)s/ip6"; ca_file = "%(ca)s";
  records = ( %(records)s );
};
""" % {"d": d, "url": web.url, "url6": web.url6, "ca": web.cert.cert,
       "records": records % {"ca": web.cert.cert, "token": token}})
    return conf


def dyndns(bin, conf, *args):
    return fixtures.run([bin("dyndns/homemail-dyndns"), "-c", conf, "--once", *args])


def duck_record(web, host="box.duckdns.org", v4="true", v6="false"):
    return ('{ provider = "duckdns"; server = "%s"; hostname = "%s"; token_file = "%%(token)s";'
            ' ca_file = "%%(ca)s"; ipv4 = %s; ipv6 = %s; }' % (web.url, host, v4, v6))


def duck_conf(hm_tmp, name, web, records, token=DUCK):
    d = os.path.join(hm_tmp, name)
    os.makedirs(d, exist_ok=True)
    write_token(d, token)
    return d, write_conf(d, web, records)


# --- DuckDNS --------------------------------------------------------------

def test_duckdns_updates_only_on_change(bin, hm_tmp, web):
    _, conf = duck_conf(hm_tmp, "duck-change", web, duck_record(web))
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0, r
    ups = web.duck_updates()
    assert [u["query"] for u in ups] == [{"domains": "box", "token": DUCK, "ip": "81.2.69.160"}]
    # -v shows the request with the token masked
    assert DUCK not in r.err and "token=********" in r.err, r.err
    for _ in range(3):
        assert dyndns(bin, conf).rc == 0
    assert len(web.duck_updates()) == 1
    web.ip4 = "81.2.69.161"
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0 and DUCK not in r.err, r
    assert dyndns(bin, conf).rc == 0
    assert [u["query"]["ip"] for u in web.duck_updates()] == ["81.2.69.160", "81.2.69.161"]


def test_duckdns_ko_holds_until_token_changes(bin, hm_tmp, web):
    d, conf = duck_conf(hm_tmp, "duck-ko", web, duck_record(web), token="wrong-token")
    r = dyndns(bin, conf)
    assert r.rc == 1 and "KO" in r.err and "token" in r.err, r
    for _ in range(3):
        r = dyndns(bin, conf, "-v")
        assert r.rc == 1 and "not updated until its config changes" in r.err, r
    web.ip4 = "81.2.69.170"      # a new address does not wake a held record
    assert dyndns(bin, conf).rc == 1
    assert len(web.duck_updates()) == 1
    write_token(d, DUCK)
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0, r
    assert [u["query"]["token"] for u in web.duck_updates()] == ["wrong-token", DUCK]
    assert DUCK not in r.err and "wrong-token" not in r.err


def test_duckdns_batch_and_one_bad_domain(bin, hm_tmp, web):
    web.duck_domains = {"box", "other"}
    recs = duck_record(web) + ", " + duck_record(web, host="other")
    _, conf = duck_conf(hm_tmp, "duck-batch", web, recs)
    assert dyndns(bin, conf).rc == 0
    assert [u["query"]["domains"] for u in web.duck_updates()] == ["box,other"]
    # a third name DuckDNS refuses: the batch's KO is asked name by name, and
    # only that name is held
    recs += ", " + duck_record(web, host="nothere")
    _, conf = duck_conf(hm_tmp, "duck-batch2", web, recs)
    r = dyndns(bin, conf)
    assert r.rc == 1 and "nothere A: KO" in r.err, r
    assert [u["query"]["domains"] for u in web.duck_updates()][1:] == [
        "box,other,nothere", "box", "other", "nothere"]
    web.ip4 = "81.2.69.165"
    assert dyndns(bin, conf).rc == 1
    assert [u["query"]["domains"] for u in web.duck_updates()][5:] == ["box,other"]


def test_duckdns_ipv6_and_dual_stack(bin, hm_tmp, web):
    _, conf = duck_conf(hm_tmp, "duck-v6", web, duck_record(web, v6="true"))
    assert dyndns(bin, conf).rc == 0
    qs = [u["query"] for u in web.duck_updates()]
    assert sorted(qs, key=len) == sorted([
        {"domains": "box", "token": DUCK, "ip": "81.2.69.160"},
        {"domains": "box", "token": DUCK, "ipv6": "2a01:4f8:1:2::3"}], key=len)
    web.ip6 = "2a01:4f8:1:2::4"
    assert dyndns(bin, conf).rc == 0
    assert [u["query"] for u in web.duck_updates()][2:] == [
        {"domains": "box", "token": DUCK, "ipv6": "2a01:4f8:1:2::4"}]


def test_duckdns_server_trouble_backs_off(bin, hm_tmp, web):
    d, conf = duck_conf(hm_tmp, "duck-503", web, duck_record(web))
    web.duck_status = 503
    web.duck_answer = "Service Unavailable"
    r = dyndns(bin, conf)
    assert r.rc == 1 and "HTTP 503" in r.err, r
    r = dyndns(bin, conf)
    assert r.rc == 1 and "backing off" in r.err, r
    assert len(web.duck_updates()) == 1
    state = open(os.path.join(d, "state", "dyndns", "box.duckdns.org-duckdns-A")).read()
    assert "backoff_s=1800" in state and DUCK not in state


def test_duckdns_dry_run_masks_and_sends_nothing(bin, hm_tmp, web):
    _, conf = duck_conf(hm_tmp, "duck-dry", web, duck_record(web))
    r = dyndns(bin, conf, "--dry-run", "-v")
    assert r.rc == 0, r
    assert ("would send: GET %s/update?domains=box&token=********&ip=81.2.69.160" % web.url
            in r.out), r.out
    assert DUCK not in r.out + r.err
    assert web.duck_updates() == []


# --- Cloudflare -----------------------------------------------------------

def cf_record(cf, host="box.example.test", v4="true", v6="false", extra=""):
    return ('{ provider = "cloudflare"; server = "%s"; hostname = "%s"; token_file = "%%(token)s";'
            ' ca_file = "%%(ca)s"; ipv4 = %s; ipv6 = %s; %s }' % (cf.url, host, v4, v6, extra))


def cf_conf(hm_tmp, name, web, records, token=CF):
    d = os.path.join(hm_tmp, name)
    os.makedirs(d, exist_ok=True)
    write_token(d, token)
    return d, write_conf(d, web, records)


def no_token_in(r):
    text = r.out + r.err
    return CF not in text and "Bearer" not in text.replace("Bearer ********", "")


def test_cloudflare_create_then_nothing_then_patch(bin, hm_tmp, web, cf):
    _, conf = cf_conf(hm_tmp, "cf-create", web, cf_record(cf))
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0, r
    assert no_token_in(r), r.err
    assert all(q["auth"] == "Bearer " + CF for q in cf.requests)
    # the zone is found among the host name's parents, longest first
    assert [(q["method"], q["path"].rsplit("/", 1)[-1], q["query"]) for q in cf.requests] == [
        ("GET", "zones", {"name": "box.example.test"}),
        ("GET", "zones", {"name": "example.test"}),
        ("GET", "dns_records", {"type": "A", "name": "box.example.test"}),
        ("POST", "dns_records", {})]
    assert cf.requests[-1]["body"] == {"type": "A", "name": "box.example.test",
                                       "content": "81.2.69.160", "ttl": 1, "proxied": False}
    assert cf.requests[-1]["ctype"] == "application/json"
    assert [r["content"] for r in cf.records("A", "box.example.test")] == ["81.2.69.160"]
    n = len(cf.requests)
    assert dyndns(bin, conf).rc == 0
    assert len(cf.requests) == n                   # same address: nothing asked
    r = dyndns(bin, conf, "--force", "-v")         # asked, but equal: nothing written
    assert r.rc == 0 and "already" in r.err, r
    assert len(cf.writes()) == 1
    web.ip4 = "81.2.69.161"
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0 and no_token_in(r), r
    assert [w["method"] for w in cf.writes()] == ["POST", "PATCH"]
    assert cf.writes()[-1]["body"] == {"content": "81.2.69.161"}
    assert [r["content"] for r in cf.records("A", "box.example.test")] == ["81.2.69.161"]


def test_cloudflare_existing_record_and_zone_setting(bin, hm_tmp, web, cf):
    rid = cf.add_record("example.test", "A", "box.example.test", "81.2.69.1")
    _, conf = cf_conf(hm_tmp, "cf-zone", web,
                      cf_record(cf, extra='zone = "example.test"; ttl = 300;'))
    assert dyndns(bin, conf).rc == 0
    assert [(q["method"], q["query"]) for q in cf.requests][:1] == [
        ("GET", {"name": "example.test"})]
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in cf.writes()] == [("PATCH", rid)]
    assert [r["content"] for r in cf.records("A")] == ["81.2.69.160"]


def test_cloudflare_a_and_aaaa_independent(bin, hm_tmp, web, cf):
    _, conf = cf_conf(hm_tmp, "cf-dual", web, cf_record(cf, v6="true"))
    assert dyndns(bin, conf).rc == 0
    assert [r["content"] for r in cf.records("A")] == ["81.2.69.160"]
    assert [r["content"] for r in cf.records("AAAA")] == ["2a01:4f8:1:2::3"]
    web.ip6 = "2a01:4f8:1:2::4"
    assert dyndns(bin, conf).rc == 0
    assert [w["method"] for w in cf.writes()] == ["POST", "POST", "PATCH"]
    assert cf.writes()[-1]["body"] == {"content": "2a01:4f8:1:2::4"}
    assert [r["content"] for r in cf.records("A")] == ["81.2.69.160"]
    assert [r["content"] for r in cf.records("AAAA")] == ["2a01:4f8:1:2::4"]


def test_cloudflare_bad_token_holds(bin, hm_tmp, web, cf):
    d, conf = cf_conf(hm_tmp, "cf-badtoken", web, cf_record(cf), token="not-the-token")
    r = dyndns(bin, conf, "-v")
    assert r.rc == 1, r
    assert "Invalid access token" in r.err and "9109" in r.err, r.err
    assert "not-the-token" not in r.out + r.err
    n = len(cf.requests)
    for _ in range(3):
        r = dyndns(bin, conf)
        assert r.rc == 1 and "not updated until its config changes" in r.err, r
    assert len(cf.requests) == n == 1
    write_token(d, CF)
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0 and no_token_in(r), r
    assert [r["content"] for r in cf.records("A")] == ["81.2.69.160"]


def test_cloudflare_two_records_hold(bin, hm_tmp, web, cf):
    cf.add_record("example.test", "A", "box.example.test", "81.2.69.1")
    cf.add_record("example.test", "A", "box.example.test", "81.2.69.2")
    _, conf = cf_conf(hm_tmp, "cf-two", web, cf_record(cf))
    r = dyndns(bin, conf)
    assert r.rc == 1, r
    assert "several A records for box.example.test: homemail will not choose" in r.err, r.err
    assert cf.writes() == []
    n = len(cf.requests)
    web.ip4 = "81.2.69.170"
    assert dyndns(bin, conf).rc == 1
    assert len(cf.requests) == n
    assert sorted(r["content"] for r in cf.records("A")) == ["81.2.69.1", "81.2.69.2"]


@pytest.mark.parametrize("scenario,words", [("5xx", "HTTP 503"), ("429", "HTTP 429"),
                                            ("garbage", "not Cloudflare API JSON")])
def test_cloudflare_trouble_backs_off(bin, hm_tmp, web, cf, scenario, words):
    d, conf = cf_conf(hm_tmp, "cf-" + scenario, web, cf_record(cf))
    cf.scenario = scenario
    r = dyndns(bin, conf, "-v")
    assert r.rc == 1 and words in r.err, r
    assert no_token_in(r)
    r = dyndns(bin, conf)
    assert r.rc == 1 and "backing off" in r.err, r
    assert len(cf.requests) == 1
    state = open(os.path.join(d, "state", "dyndns", "box.example.test-cloudflare-A")).read()
    assert "backoff_s=1800" in state and CF not in state


def test_cloudflare_no_zone_holds(bin, hm_tmp, web, cf):
    _, conf = cf_conf(hm_tmp, "cf-nozone", web, cf_record(cf, host="box.elsewhere.test"))
    r = dyndns(bin, conf)
    assert r.rc == 1 and "no Cloudflare zone for box.elsewhere.test" in r.err, r
    assert [q["query"]["name"] for q in cf.requests] == ["box.elsewhere.test", "elsewhere.test"]


def test_cloudflare_dry_run_masks_and_sends_nothing(bin, hm_tmp, web, cf):
    _, conf = cf_conf(hm_tmp, "cf-dry", web, cf_record(cf))
    r = dyndns(bin, conf, "--dry-run", "-v")
    assert r.rc == 0, r
    assert "would send: GET %s/zones?name=box.example.test" % cf.url in r.out, r.out
    assert "Bearer ********" in r.out and no_token_in(r)
    assert cf.requests == []


def run_without(soname, d, argv):
    """Runs ARGV with the shared library SONAME (x86-64) covered by an empty
    file, in a mount namespace of its own; (the library's path, the Result)."""
    lib = [l.split(" => ")[1] for l in fixtures.run(["ldconfig", "-p"]).out.splitlines()
           if l.strip().startswith(soname + " ") and "x86-64" in l][0]
    empty = os.path.join(d, "empty.so")
    open(empty, "w").close()
    return lib, fixtures.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                              'mount --bind "$1" "$(readlink -f "$2")"; shift 2; exec "$@"',
                              "sh", empty, lib] + list(argv))


def test_without_libcurl_a_clear_error_and_no_harm(bin, hm_tmp, web):
    """libcurl is opened at the first HTTP request (lib/curl-load.c): a box
    whose libcurl is missing or broken (here an empty file bound over it,
    in a mount namespace of the test's own) gets an error that names it,
    no update and no held record; once it loads again the record is
    published at the first run."""
    d, conf = duck_conf(hm_tmp, "duck-nocurl", web, duck_record(web))
    lib, r = run_without("libcurl.so.4", d, [bin("dyndns/homemail-dyndns"), "-c", conf, "--once"])
    assert r.rc == 1, r
    assert "HTTP is not available" in r.err and lib in r.err and "libcurl4" in r.err, r
    assert web.duck_updates() == []
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert [u["query"]["ip"] for u in web.duck_updates()] == ["81.2.69.160"]


def test_without_json_glib_a_clear_error_and_no_harm(bin, hm_tmp, web, cf):
    """json-glib is opened at the first use of JSON (lib/json-load.c): with
    it missing, a Cloudflare record gets an error that names it and is
    neither sent nor held; once it loads again the record is created."""
    d, conf = cf_conf(hm_tmp, "cf-nojson", web, cf_record(cf))
    lib, r = run_without("libjson-glib-1.0.so.0", d,
                         [bin("dyndns/homemail-dyndns"), "-c", conf, "--once"])
    assert r.rc == 1, r
    assert ("JSON is not available" in r.err and lib in r.err
            and "libjson-glib-1.0-0" in r.err), r
    assert cf.requests == []
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert [r["content"] for r in cf.records("A", "box.example.test")] == ["81.2.69.160"]
