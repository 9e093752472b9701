"""The faults measured in ddclient 3.10 and inadyn 2.10 (issue 11, "What the
peers get wrong"; ../shared/peers/dyndns/RESULTS.md), each as a test of
homemail-dyndns against the same kind of dyndns2 fixture (fixtures/dynhttp.py).

Already covered in test_dyndns.py, not repeated here: -v never shows the
Authorization header (test_updates_only_on_change), A and AAAA of one name
updated independently (test_ipv4_and_ipv6_independent), a private check-IP
answer sends nothing (test_implausible_address_sends_nothing), badauth holds
until the secret changes (test_badauth_holds_until_secret_changes)."""
import os
import re
import socket
import time

import pytest

import fixtures
from fixtures.dynhttp import PASSWORD as PW

IP = "81.2.69.160"



def record(dyn, ca, secret, host="box.dyn.test", v4=True, v6=False):
    return ('{ provider = "dyndns2"; server = "%s"; hostname = "%s"; user = "dynuser"; '
            'password_file = "%s"; ca_file = "%s"; ipv4 = %s; ipv6 = %s; }'
            % (dyn.url, host, secret, ca, "true" if v4 else "false", "true" if v6 else "false"))


def write_conf(d, dyn, ca, records=None, url4=None, extra=""):
    """A config whose records (a list of record() texts; default: one IPv4
    record for box.dyn.test) all use the fixture; url4 the check-IP page."""
    os.makedirs(d, exist_ok=True)
    secret = fixtures.write_secret(os.path.join(d, "dyn.secret"), PW)
    records = records or [record(dyn, ca, secret)]
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write("""hostname = "box.lan";
state_dir = "%(d)s/state";
dyndns = {
  detect = [ "web" ];
  detect_url4 = "%(url4)s"; detect_url6 = "%(url6)s/ip6"; ca_file = "%(ca)s";
  %(extra)s
  records = ( %(records)s );
};
""" % {"d": d, "url4": url4 or dyn.url + "/ip4", "url6": dyn.url6, "ca": ca, "extra": extra,
       "records": ",\n    ".join(r.replace("SECRET", secret) for r in records)})
    return conf


def once(bin, conf, *args, **kw):
    return fixtures.run([bin("dyndns/homemail-dyndns"), "-c", conf, "--once", *args], **kw)


# ddclient retries these every 10 minutes, inadyn --once at every run: ours
# holds the record until its config changes, even when the address changes.
@pytest.mark.parametrize("code", ["nohost", "notfqdn", "numhost", "abuse", "!donator",
                                  "badagent"])
def test_refusal_holds(bin, hm_tmp, dyn, dyn_cert, code):
    conf = write_conf(os.path.join(hm_tmp, "dynpeer-hold-" + code.strip("!")), dyn, dyn_cert.cert)
    dyn.answer = code
    r = once(bin, conf)
    assert r.rc == 1 and "not updated again until its config or secret changes" in r.err, r
    assert len(dyn.updates()) == 1
    for i in range(3):
        if i == 2:
            dyn.ip4 = "81.2.69.161"
        r = once(bin, conf)
        assert r.rc == 1 and "not updated until its config changes" in r.err, r
    assert len(dyn.updates()) == 1, dyn.updates()


# ddclient scans the whole HTTP response, headers included, and sends the
# header's address.
def test_address_only_in_a_header_sends_nothing(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dynpeer-hdr"), dyn, dyn_cert.cert,
                      url4=dyn.url + "/ip4hdr")
    dyn.ip4hdr = "81.2.69.177"
    for _ in range(2):
        r = once(bin, conf)
        assert r.rc == 1 and "not updated" in r.err, r
    assert [q["path"] for q in dyn.requests] == ["/ip4hdr", "/ip4hdr"]


# ddclient sends "myip=" empty at every poll when the page has no address
# (and the provider then publishes the connection's source address).
def test_html_page_never_sends_an_empty_myip(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dynpeer-html"), dyn, dyn_cert.cert)
    assert once(bin, conf).rc == 0
    dyn.ip4 = ("<html><head><title>503 Service Unavailable</title></head>"
               "<body><h1>Service unavailable</h1></body></html>")
    for _ in range(4):
        r = once(bin, conf)
        assert r.rc == 1 and "no IPv4 address detected" in r.err, r
    dyn.ip4 = IP
    assert once(bin, conf).rc == 0
    assert [u["query"].get("myip") for u in dyn.updates()] == [IP]


def _connects(trace):
    """(address, port) of every inet connect() in an strace -f log; anything
    but AF_UNIX that does not parse comes back as ("unparsed", line)."""
    out = []
    for line in open(trace):
        if "connect(" not in line:
            continue
        m = (re.search(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)', line) or
             re.search(r'sin6_port=htons\((\d+)\).*inet_pton\(AF_INET6, "([^"]+)"', line))
        if m:
            out.append((m.group(2), int(m.group(1))))
        elif "AF_UNIX" not in line and "AF_UNSPEC" not in line:
            out.append(("unparsed", line.strip()))
    return out


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# inadyn falls back to api.ipify.org, a service the user never configured,
# whenever its check-IP page fails.
def test_no_third_party_fallback(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "dynpeer-nofallback")
    port = _closed_port()
    conf = write_conf(d, dyn, dyn_cert.cert, url4="https://127.0.0.1:%d/ip4" % port)
    trace = os.path.join(d, "strace")
    argv = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", trace,
            bin("dyndns/homemail-dyndns"), "-c", conf, "--once"]
    r = fixtures.run(argv, env=fixtures.wrapped_env())
    assert r.rc == 1 and "no IPv4 address detected" in r.err, r
    assert dyn.requests == []
    conns = _connects(trace)
    assert conns, "strace saw no connect(): %s" % open(trace).read()
    assert set(conns) <= {("127.0.0.1", port)}, conns


# inadyn --once with two sections for one host name shares one cache file
# and sends an update at every poll.
def test_several_records_update_once_each(bin, hm_tmp, dyn, dyn_cert):
    ca = dyn_cert.cert
    recs = [record(dyn, ca, "SECRET", "box.dyn.test", True, False),
            record(dyn, ca, "SECRET", "box.dyn.test", False, True),
            record(dyn, ca, "SECRET", "other.dyn.test", True, True)]
    conf = write_conf(os.path.join(hm_tmp, "dynpeer-multi"), dyn, ca, records=recs)
    assert once(bin, conf).rc == 0

    def sent():
        return sorted((h, u["query"]["myip"]) for u in dyn.updates()
                      for h in u["query"]["hostname"].split(","))
    want = sorted([("box.dyn.test", IP), ("box.dyn.test", dyn.ip6),
                   ("other.dyn.test", IP), ("other.dyn.test", dyn.ip6)])
    assert sent() == want
    n = len(dyn.updates())
    for _ in range(5):
        assert once(bin, conf).rc == 0
    assert len(dyn.updates()) == n and sent() == want


# inadyn's --once never exits on 911 with its built-in dyndns2 plugins (it
# sleeps out its error period in the same process).
def test_once_exits_on_911(bin, hm_tmp, dyn, dyn_cert):
    conf = write_conf(os.path.join(hm_tmp, "dynpeer-911"), dyn, dyn_cert.cert)
    dyn.answer = "911"
    r = once(bin, conf, timeout=20)
    assert r.rc == 1 and "backing off" in r.err, r
    assert r.elapsed < 10


def _wait(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


# inadyn's daemon exits for good on any error answer and never updates again,
# even after the address changes.
def test_daemon_survives_errors_and_updates_later(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "dynpeer-daemon")
    ca = dyn_cert.cert
    recs = [record(dyn, ca, "SECRET", h) for h in ("held.dyn.test", "busy.dyn.test", "ok.dyn.test")]
    conf = write_conf(d, dyn, ca, records=recs, extra="interval = 10;")
    dyn.host_answers = {"held.dyn.test": "badauth", "busy.dyn.test": "911"}

    def hosts(ip):
        return sorted(h for u in dyn.updates() if u["query"]["myip"] == ip
                      for h in u["query"]["hostname"].split(","))
    proc, log = fixtures.spawn_session([bin("dyndns/homemail-dyndns"), "-c", conf],
                                       os.path.join(d, "daemon.log"))
    try:
        assert _wait(lambda: len(hosts(IP)) == 3, 10), fixtures.log_tail([log.name])
        time.sleep(0.5)
        assert proc.poll() is None, fixtures.log_tail([log.name])
        dyn.ip4 = "81.2.69.162"
        # the next run is interval (10 s) after the first; a loaded machine gets slack
        assert _wait(lambda: hosts("81.2.69.162"), 25), fixtures.log_tail([log.name])
        assert hosts("81.2.69.162") == ["ok.dyn.test"]
        assert proc.poll() is None, fixtures.log_tail([log.name])
    finally:
        fixtures.stop_process_group(proc)
        log.close()
    text = open(os.path.join(d, "daemon.log")).read()
    assert "held.dyn.test A:" in text and "not updated again until its config" in text
    assert "busy.dyn.test A:" in text and "backing off" in text
    # held and backing off: neither was asked again
    assert hosts(IP) == ["busy.dyn.test", "held.dyn.test", "ok.dyn.test"]
