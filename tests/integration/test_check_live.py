"""`homemail check --live` (admin/live.c, admin/live-advise.c) against real
peers: Dovecot for fetch accounts (a login, a wrong password, a self-signed
certificate and the pin it prints), the Postfix smart host (EHLO, STARTTLS,
AUTH and QUIT; a wrong password, an unknown CA, a port nobody listens on),
the dyndns fixture (detection and a dry run), BIND serving a test DNSBL
zone and the UPnP router fixture for the advice. Nothing may be sent: the
smart host receives no message, the dyndns fixture no update request, and
the upstream mailbox keeps its mail unread."""
import os
import re
import subprocess
import tempfile

import pytest

import fixtures
from fixtures.bind import Bind, BindError
from fixtures.dynhttp import PASSWORD as DYN_PW
from fixtures.igd import Igd

ALICE, ALICE_PW = "alice@isp.example", "alice-Pw.5e1"

# 81.2.69.160 listed with a reason, .161 answered "query refused", .162 clean.
BL_ZONE = """
160.69.2.81   IN A   127.0.0.2
160.69.2.81   IN TXT "Listed by bl.test: dynamic range"
161.69.2.81   IN A   127.255.255.254
"""

EXIT = {"ok": 0, "network": 3, "tls": 4, "auth": 5}


@pytest.fixture(scope="module")
def bind(hm_tmp):
    base = tempfile.mkdtemp(prefix="bind-live-", dir=hm_tmp)
    try:
        ns = Bind(base, zones={"bl.test": BL_ZONE}).start()
    except BindError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield ns
    finally:
        ns.stop()


@pytest.fixture(scope="module")
def sh(postfix_smarthost):
    return postfix_smarthost(users={ALICE: ALICE_PW}, implicit_tls=False)


@pytest.fixture
def d(hm_tmp):
    return tempfile.mkdtemp(prefix="live-", dir=hm_tmp)


def write_conf(d, accounts="", smarthosts="", dyndns="", relay_extra=""):
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write('hostname = "box.home.example";\n'
                'state_dir = "%s/state";\nmail_dir = "%s/mail";\n'
                'local_domains = [ "box.lan" ];\n'
                'users = ( { name = "alice"; } );\n'
                'relay = { %s smarthosts = ( %s ); };\n'
                'fetcher = { accounts = ( %s ); };\n'
                '%s\n' % (d, d, relay_extra, smarthosts, accounts, dyndns))
    os.chmod(conf, 0o600)  # may hold passwords inline
    return conf


def account(dovecot, proto="imap", tls="tls", password=None, extra=""):
    port = {("imap", "tls"): dovecot.imaps_port, ("imap", "starttls"): dovecot.imap_port,
            ("pop3", "tls"): dovecot.pop3s_port, ("pop3", "starttls"): dovecot.pop3_port}
    return ('{ name = "%s"; protocol = "%s"; host = "127.0.0.1"; port = %d; tls = "%s";\n'
            '  user = "%s"; password = "%s"; to = "alice"; %s }'
            % (proto, proto, port[proto, tls], tls, dovecot.user,
               password or dovecot.password, extra))


def smarthost(sh, port=None, password=ALICE_PW, extra=None):
    extra = 'ca_file = "%s";' % sh.ca_file if extra is None else extra
    return ('{ name = "isp"; host = "127.0.0.1"; port = %d; tls = "starttls";\n'
            '  user = "%s"; password = "%s"; %s }' % (port or sh.port, ALICE, password, extra))


def dyndns_section(d, dyn, dyn_cert, detect='"web"', extra=""):
    secret = fixtures.write_secret(os.path.join(d, "dyn.secret"), DYN_PW)
    return ('dyndns = { detect = [ %s ]; detect_url4 = "%s/ip4"; ca_file = "%s"; %s\n'
            '  records = ( { provider = "dyndns2"; server = "%s"; hostname = "box.dyn.test";\n'
            '    user = "dynuser"; password_file = "%s"; ca_file = "%s"; } ); };\n'
            % (detect, dyn.url, dyn_cert.cert, extra, dyn.url, secret, dyn_cert.cert))


def live(conf, timeout=90, prefix=()):
    return fixtures.run(list(prefix) + [fixtures.program("admin/homemail"), "check", "--live",
                                        "-c", conf], timeout=timeout)


def section(out, head):
    """The lines of the report that starts with head, up to the next one."""
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(head))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")),
               len(lines))
    return "\n".join(lines[start:end])


def pin_line(out):
    m = re.search(r'^    fingerprint = "(sha256:[0-9A-F:]+)";$', out, re.M)
    return m and m.group(1)


def test_accounts_log_in_and_count_without_fetching(d, dovecot, corpus):
    dovecot.load(corpus.messages[:3])
    before = dovecot.read_maildir()
    conf = write_conf(d, accounts=",\n".join([
        account(dovecot, "imap", "tls", extra='ca_file = "%s";' % dovecot.cafile),
        account(dovecot, "pop3", "starttls", extra='fingerprint = "%s";' % dovecot.fingerprint)]))
    r = live(conf)
    assert r.rc == EXIT["ok"], r
    imap = section(r.out, "fetch account imap ")
    assert imap.startswith("fetch account imap (imap, 127.0.0.1 port %d, tls): ok"
                           % dovecot.imaps_port), r
    assert "logged in as %s; INBOX holds 3 messages; nothing fetched or deleted" % dovecot.user \
        in imap, r
    assert "INBOX holds 3 messages" in section(r.out, "fetch account pop3 "), r
    assert dovecot.password not in r.out + r.err
    after = dovecot.read_maildir()
    assert sorted(before.values()) == sorted(after.values())
    # Nothing marked read either (IMAP \Seen is the S in a Maildir name).
    assert not [n for n in after if re.search(r":2,[A-Z]*S", n)], after


def test_wrong_password_is_said_so(d, dovecot):
    conf = write_conf(d, accounts=account(dovecot, "imap", "tls", password="not-it",
                                          extra='fingerprint = "%s";' % dovecot.fingerprint))
    r = live(conf)
    assert r.rc == EXIT["auth"], r
    rep = section(r.out, "fetch account imap ")
    assert rep.splitlines()[:2] == [
        "fetch account imap (imap, 127.0.0.1 port %d, tls): FAILED" % dovecot.imaps_port,
        "  the server refused user %s's password" % dovecot.user], r
    assert "Check user and password of fetcher.accounts [imap]." in rep, r
    assert "not-it" not in r.out + r.err


@pytest.mark.parametrize("proto", ["imap", "pop3"])
def test_self_signed_certificate_explained_with_pin(d, dovecot, proto):
    conf = write_conf(d, accounts=account(dovecot, proto, "tls"))
    r = live(conf)
    assert r.rc == EXIT["tls"], r
    rep = section(r.out, "fetch account %s " % proto)
    assert "  no trusted TLS connection to 127.0.0.1" in rep, r
    assert "The server's certificate is self-signed" in rep, r
    assert "add this line to fetcher.accounts [%s]:" % proto in rep, r
    assert pin_line(rep) == dovecot.fingerprint, r
    # The line works as printed.
    conf = write_conf(d, accounts=account(dovecot, proto, "tls",
                                          extra='fingerprint = "%s";' % pin_line(rep)))
    r = live(conf)
    assert r.rc == EXIT["ok"], r


def test_smarthost_ehlo_starttls_auth_sends_nothing(d, sh):
    sh.clear()
    conf = write_conf(d, smarthosts=smarthost(sh))
    r = live(conf)
    assert r.rc == EXIT["ok"], r
    rep = section(r.out, "smart host isp ")
    assert rep.startswith("smart host isp (127.0.0.1 port %d, starttls): ok" % sh.port), r
    assert re.search(r"EHLO as box.home.example, TLSv1\.[23] \S+, logged in as %s; "
                     r"QUIT without sending" % re.escape(ALICE), rep), r
    assert "smart host isp: 127.0.0.1 port %d is reachable" % sh.port in r.out, r
    assert sh.messages() == []
    assert ALICE_PW not in r.out + r.err


def test_smarthost_wrong_password(d, sh):
    sh.clear()
    conf = write_conf(d, smarthosts=smarthost(sh, password="not-it"))
    r = live(conf)
    assert r.rc == EXIT["auth"], r
    rep = section(r.out, "smart host isp ")
    assert rep.splitlines()[1] == "  the server refused user %s's password" % ALICE, r
    assert "535 5.7.8" in rep, r
    assert "waits in the queue" not in rep, r
    assert "check user and password of relay.smarthosts [isp]" in rep, r
    assert sh.messages() == []


def test_smarthost_unknown_ca(d, sh):
    conf = write_conf(d, smarthosts=smarthost(sh, extra=""))
    r = live(conf)
    assert r.rc == EXIT["tls"], r
    rep = section(r.out, "smart host isp ")
    assert "issued by an unknown certificate authority" in rep, r
    assert "Give that CA's certificate as ca_file" in rep, r
    assert pin_line(rep).replace(":", "").lower() == "sha256" + sh.fingerprint, r
    assert sh.messages() == []


def test_smarthost_port_nobody_listens_on(d, sh):
    port = fixtures.free_port()
    conf = write_conf(d, smarthosts=smarthost(sh, port=port))
    r = live(conf)
    assert r.rc == EXIT["network"], r
    rep = section(r.out, "smart host isp ")
    assert rep.splitlines()[1] == "  cannot reach 127.0.0.1 port %d" % port, r
    assert re.search(r"^  smart host isp: 127\.0\.0\.1 port %d is not reachable \(.*\)\. "
                     r"A firewall may block it" % port, r.out, re.M), r


def test_port_25_blocked_is_explained(d, sh):
    """In a network namespace of its own nothing listens on 25: the advice
    names the ISPs' habit."""
    conf = write_conf(d, smarthosts=smarthost(sh, port=25))
    r = live(conf, prefix=["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"',
                           "sh"])
    assert r.rc == EXIT["network"], r
    assert "Many ISPs block outgoing port 25 from home lines" in r.out, r


def test_dyndns_dry_run_sends_no_update(d, dyn, dyn_cert):
    conf = write_conf(d, dyndns=dyndns_section(d, dyn, dyn_cert))
    r = live(conf)
    assert r.rc == EXIT["ok"], r
    rep = section(r.out, "dyndns record box.dyn.test ")
    assert rep.startswith("dyndns record box.dyn.test (dyndns2): ok"), r
    assert "  IPv4 address 81.2.69.160 (web)" in rep, r
    assert re.search(r"^  an update would send: .*81\.2\.69\.160", rep, re.M), r
    assert DYN_PW not in r.out + r.err
    assert dyn.updates() == []
    assert [q["path"] for q in dyn.requests] == ["/ip4", "/ip4"]  # the record, the advice


def test_dyndns_detection_failure(d, dyn, dyn_cert):
    dyn.ip4 = "192.168.1.5"
    conf = write_conf(d, dyndns=dyndns_section(d, dyn, dyn_cert))
    r = live(conf)
    assert r.rc == 6, r
    assert "  no IPv4 address detected" in section(r.out, "dyndns record "), r
    assert "NAT: not checked" in r.out, r
    assert dyn.updates() == []


@pytest.mark.parametrize("ip,want", [
    ("81.2.69.160", "81.2.69.160 is listed on bl.test (Listed by bl.test: dynamic range). "
                    "Usual for a home line"),
    ("81.2.69.161", "bl.test refused to answer (answer 127.255.255.254"),
    ("81.2.69.162", "81.2.69.162 is on none of bl.test."),
])
def test_blocklist_and_nat_advice(d, dyn, dyn_cert, bind, ip, want):
    dyn.ip4 = ip
    conf = write_conf(d, dyndns=dyndns_section(d, dyn, dyn_cert),
                      relay_extra='dnsbl = [ "bl.test" ]; dns_resolver = "%s";' % bind.resolver)
    r = live(conf)
    assert r.rc == EXIT["ok"], r
    assert "\n  blocklist: " + want in r.out, r
    if "refused" in want:
        assert "does not say the address is listed" in r.out, r
    assert "NAT: behind NAT: the internet sees %s" % ip in r.out, r
    assert dyn.updates() == []


def test_carrier_grade_nat_from_the_router(d, dyn, dyn_cert, bind):
    igd = Igd().start()
    try:
        igd.address = "100.64.7.8"
        conf = write_conf(d, dyndns=dyndns_section(
            d, dyn, dyn_cert, detect='"router", "web"', extra='router_url = "%s";' % igd.desc_url),
            relay_extra='dnsbl = [ "bl.test" ]; dns_resolver = "%s";' % bind.resolver)
        r = live(conf)
    finally:
        igd.stop()
    assert r.rc == EXIT["ok"], r
    assert "NAT: the WAN side has 100.64.7.8, a carrier-grade NAT address" in r.out, r
    assert dyn.updates() == []


@pytest.mark.parametrize("name,want", [
    ("localhost", r"localhost resolves to (127\.0\.0\.1|::1), a loopback address"),
    ("hm-nowhere.invalid", "hm-nowhere.invalid does not resolve"),
])
def test_host_name_advice(d, name, want):
    """A UTS namespace of its own gives the check a host name of our choosing."""
    conf = write_conf(d)
    r = live(conf, prefix=["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name])
    assert r.rc == EXIT["ok"], r
    assert "no fetch account, smart host or dyndns record to test" in r.out, r
    assert re.search(r"^  host name: " + want, r.out, re.M), r
    assert "never needs it to" in r.out, r
