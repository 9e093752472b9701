"""homemail-dyndns against a local HTTPS dyndns2 server (fixtures/dynhttp.py):
updates exactly when the address changes, never publishes a private or
unparsable address, holds a record after badauth until its secret changes,
backs off after 911, keeps A and AAAA apart, and never logs the password."""
import os

import pytest

import fixtures
from fixtures.dynhttp import PASSWORD as PW




def write_conf(d, dyn, ca, ipv6=False, detect='"web"', extra=""):
    os.makedirs(d, exist_ok=True)
    secret = os.path.join(d, "dyn.secret")
    if not os.path.exists(secret):
        fixtures.write_secret(secret, PW)
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write("""hostname = "box.lan";
state_dir = "%(d)s/state";
dyndns = {
  detect = %(detect)s;
  detect_url4 = "%(url)s/ip4"; detect_url6 = "%(url6)s/ip6"; ca_file = "%(ca)s";
  %(extra)s
  records = (
    { provider = "dyndns2"; server = "%(url)s"; hostname = "box.dyn.test"; user = "dynuser";
      password_file = "%(secret)s"; ca_file = "%(ca)s"; ipv4 = true; ipv6 = %(v6)s; }
  );
};
""" % {"d": d, "url": dyn.url, "url6": dyn.url6, "ca": ca, "secret": secret, "detect": detect, "extra": extra,
       "v6": "true" if ipv6 else "false"})
    return conf


def dyndns(bin, conf, *args):
    return fixtures.run([bin("dyndns/homemail-dyndns"), "-c", conf, "--once", *args])


def test_updates_only_on_change(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dyn-change"), dyn, dyn_cert.cert)
    r = dyndns(bin, conf, "-v")
    assert r.rc == 0, r
    ups = dyn.updates()
    assert len(ups) == 1
    assert ups[0]["query"] == {"hostname": "box.dyn.test", "myip": "81.2.69.160"}
    assert ups[0]["user"] == "dynuser" and ups[0]["password"] == PW
    assert ups[0]["agent"].startswith("homemail/")
    # -v shows the request, never the password or its Basic header
    assert PW not in r.err and "Authorization" not in r.err
    assert "ZHludXNlcj" not in r.err  # base64("dynuser:...")
    for _ in range(3):
        assert dyndns(bin, conf).rc == 0
    assert len(dyn.updates()) == 1
    dyn.ip4 = "Current IP Address: 81.2.69.161"
    assert dyndns(bin, conf).rc == 0
    assert dyndns(bin, conf).rc == 0
    assert [u["query"]["myip"] for u in dyn.updates()] == ["81.2.69.160", "81.2.69.161"]
    assert dyndns(bin, conf, "--force").rc == 0
    assert len(dyn.updates()) == 3


@pytest.mark.parametrize("page", ["192.168.1.5", "100.64.1.2", "", "<html>no address</html>",
                                  "81.2.69.160 81.2.69.161", "127.0.0.1"])
def test_implausible_address_sends_nothing(bin, hm_tmp, dyn, dyn_cert, page):
    conf = write_conf(os.path.join(hm_tmp, "dyn-bad-%d" % abs(hash(page))), dyn, dyn_cert.cert)
    dyn.ip4 = page
    r = dyndns(bin, conf)
    assert r.rc == 1, r
    assert dyn.updates() == []
    assert "not updated" in r.err


def test_badauth_holds_until_secret_changes(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "dyn-badauth")
    conf = write_conf(d, dyn, dyn_cert.cert)
    with open(os.path.join(d, "dyn.secret"), "w") as f:
        f.write("wrong\n")
    r = dyndns(bin, conf)
    assert r.rc == 1 and "badauth" in r.err, r
    for _ in range(5):
        r = dyndns(bin, conf)
        assert r.rc == 1
    assert len(dyn.updates()) == 1
    dyn.ip4 = "81.2.69.170"   # not even a new address wakes a held record
    assert dyndns(bin, conf).rc == 1
    assert len(dyn.updates()) == 1
    with open(os.path.join(d, "dyn.secret"), "w") as f:
        f.write(PW + "\n")
    r = dyndns(bin, conf)
    assert r.rc == 0, r
    assert len(dyn.updates()) == 2 and "wrong" not in r.err


def test_911_backs_off(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dyn-911"), dyn, dyn_cert.cert)
    dyn.answer = "911"
    assert dyndns(bin, conf).rc == 1
    for _ in range(3):
        r = dyndns(bin, conf)
        assert r.rc == 1 and "backing off" in r.err, r
    assert len(dyn.updates()) == 1
    state = open(os.path.join(hm_tmp, "dyn-911", "state", "dyndns",
                              "box.dyn.test-dyndns2-A")).read()
    assert "backoff_s=1800" in state


@pytest.mark.parametrize("kind", ["link", "dangling", "fifo"])
def test_cache_only_regular(bin, hm_tmp, dyn, dyn_cert, kind):
    """The update cache is read only from a regular file in state_dir: a
    link there (to the good cache, or dangling: not "no cache yet") or a
    FIFO (at once, not a hang) is a clear error and nothing is sent, here
    and in `homemail status`."""
    d = os.path.join(hm_tmp, "dyn-cache-" + kind)
    conf = write_conf(d, dyn, dyn_cert.cert)
    assert dyndns(bin, conf).rc == 0
    assert len(dyn.updates()) == 1
    cache = os.path.join(d, "state", "dyndns", "box.dyn.test-dyndns2-A")
    elsewhere = os.path.join(d, "elsewhere")
    os.rename(cache, elsewhere)
    if kind == "fifo":
        os.mkfifo(cache, 0o600)
    else:
        os.symlink(elsewhere if kind == "link" else "/nonexistent/cache", cache)
    want = "%s is not a regular file (a %s)" % (
        cache, "FIFO" if kind == "fifo" else "symbolic link, not followed")
    dyn.ip4 = "81.2.69.161"
    r = fixtures.run([bin("dyndns/homemail-dyndns"), "-c", conf, "--once"], timeout=30)
    assert r.rc == 1 and want in r.err, r
    assert len(dyn.updates()) == 1
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "status"], timeout=30)
    assert want in r.out, r
    os.unlink(cache)
    os.rename(elsewhere, cache)
    assert dyndns(bin, conf).rc == 0
    assert [u["query"]["myip"] for u in dyn.updates()] == ["81.2.69.160", "81.2.69.161"]


def test_full_disk_sends_nothing(bin, hm_tmp, dyn, dyn_cert):
    """An answer that could not be recorded would be asked for again at
    every run: three refused requests for three runs after badauth, and
    providers block accounts for that. So nothing is sent while the cache
    cannot be written, and the run fails."""
    d = os.path.join(hm_tmp, "dyn-full")
    conf = write_conf(d, dyn, dyn_cert.cert)
    state = os.path.join(d, "state")
    os.makedirs(state, exist_ok=True)
    dyn.answer = "badauth"
    with fixtures.tmpfs(state, "64k"):
        fd = os.open(os.path.join(state, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"x" * 4096) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        for _ in range(3):
            r = dyndns(bin, conf)
            assert r.rc == 1 and "could not be recorded" in r.err, r
        assert dyn.updates() == []
        os.unlink(os.path.join(state, "filler"))
        r = dyndns(bin, conf)
        assert r.rc == 1 and "badauth" in r.err, r
        for _ in range(2):
            assert dyndns(bin, conf).rc == 1
        assert len(dyn.updates()) == 1


def test_ipv4_and_ipv6_independent(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dyn-dual"), dyn, dyn_cert.cert, ipv6=True)
    assert dyndns(bin, conf).rc == 0
    assert sorted(u["query"]["myip"] for u in dyn.updates()) == ["2a01:4f8:1:2::3",
                                                                 "81.2.69.160"]
    dyn.ip6 = "2a01:4f8:1:2::4"
    assert dyndns(bin, conf).rc == 0
    assert [u["query"]["myip"] for u in dyn.updates()][2:] == ["2a01:4f8:1:2::4"]
    dyn.ip6 = "fe80::1"       # a broken IPv6 page leaves IPv4 alone
    dyn.ip4 = "81.2.69.171"
    assert dyndns(bin, conf).rc == 1
    assert [u["query"]["myip"] for u in dyn.updates()][3:] == ["81.2.69.171"]


def test_dry_run_masks_and_sends_nothing(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dyn-dry"), dyn, dyn_cert.cert)
    r = dyndns(bin, conf, "--dry-run", "-v")
    assert r.rc == 0, r
    assert "would send: GET %s/nic/update?hostname=box.dyn.test&myip=81.2.69.160" % dyn.url in r.out
    assert PW not in r.out + r.err
    assert dyn.updates() == []


def test_static_and_untrusted_certificate(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dyn-static"), dyn, "/etc/ssl/certs/ca-certificates.crt",
                      detect='[ "static:81.2.69.180" ]')
    r = dyndns(bin, conf)
    # the update server's certificate is not trusted: nothing sent, retried later
    assert r.rc == 1 and dyn.updates() == [], r
