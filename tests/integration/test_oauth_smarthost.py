"""The relay's smart-host client signing in with OAuth2 (issue 12): a real
Postfix smart host whose SASL is Dovecot's, with Dovecot's oauth2 passdb
asking the OAuth2 server fixture about each token; mail sent through
tests/tools/hm-smarthost-send. A refused token is refreshed once; a
sign-in only `homemail oauth login` can mend keeps the mail queued and
says so."""
import json
import os
import pathlib
import re
import smtplib
import time

import pytest

import fixtures
from fixtures.relay import smarthost_conf

ALICE = "alice@isp.example"
MSG = b"From: Alice <alice@box.lan>\r\nTo: x@remote.example\r\nSubject: t\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def osh(postfix_smarthost, oauth2_server, tls_cert):
    return postfix_smarthost(users={ALICE: "no-Password.1"}, enforce_sender=True,
                             oauth2_url=oauth2_server.introspect_url, oauth2_ca=tls_cert.cert)


@pytest.fixture(autouse=True)
def _reset(oauth2_server, osh):
    oauth2_server.reset()
    oauth2_server.user = ALICE
    oauth2_server.interval = 1
    oauth2_server.device_pending = 0
    osh.clear()
    yield


def signed_in(bin, tmp_path, s, sh, cert):
    conf = tmp_path / "homemail.conf"
    conf.write_text(
        'hostname = "box.home.example";\n'
        'state_dir = "%(d)s/state";\nmail_dir = "%(d)s/mail";\n'
        'local_domains = [ "box.lan" ];\n'
        'users = ( { name = "alice"; send_as = "%(alice)s"; } );\n'
        'relay = { smarthosts = ( { name = "isp"; host = "127.0.0.1"; port = %(port)d;\n'
        '  tls = "starttls"; ca_file = "%(shca)s"; user = "%(alice)s"; auth = "oauth2";\n'
        '  oauth2 = { provider = "custom"; client_id = "%(cid)s"; scope = "mail";\n'
        '    token_url = "%(token)s"; device_url = "%(device)s"; ca_file = "%(ca)s"; }; } ); };\n'
        % {"d": tmp_path, "alice": ALICE, "port": sh.port, "shca": sh.ca_file, "cid": s.client_id,
           "token": s.token_url, "device": s.device_url, "ca": cert.cert})
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "login", "isp"], timeout=60)
    assert r.rc == 0, r
    return conf


def stored(tmp_path):
    folder = tmp_path / "state" / "oauth"
    (name,) = [n for n in os.listdir(folder) if n.endswith(".json")]
    return json.loads((folder / name).read_text())


def send(bin, tmp_path, conf):
    msg = tmp_path / "message"
    msg.write_bytes(MSG)
    r = fixtures.run([bin("tests/tools/hm-smarthost-send"), "-v", "-c", conf, "--message", msg,
                      "--from", "alice@box.lan", "x@remote.example"], timeout=60)
    assert r.rc == 0, r
    m = re.match(r"x@remote.example code=(\d+) via=(\S+) dsn=[01] reply=(.*)$", r.out.strip())
    assert m, r
    return int(m.group(1)), m.group(3), r


def test_send_with_token(bin, tmp_path, tls_cert, oauth2_server, osh):
    conf = signed_in(bin, tmp_path, oauth2_server, osh, tls_cert)
    code, reply, r = send(bin, tmp_path, conf)
    assert code == 250, r
    (m,) = osh.wait_messages(1)
    assert m.mail_from == ALICE
    tok = stored(tmp_path)
    assert tok["access_token"] in [x.form.get("token") for x in oauth2_server.by_path("/introspect")]
    assert "AUTH OAUTHBEARER" in r.err and tok["access_token"] not in r.err


def test_refused_token_refreshed_once(bin, tmp_path, tls_cert, oauth2_server, osh):
    conf = signed_in(bin, tmp_path, oauth2_server, osh, tls_cert)
    old = stored(tmp_path)
    oauth2_server.revoke(old["access_token"])
    code, reply, r = send(bin, tmp_path, conf)
    assert code == 250, r
    assert "refreshing it once" in r.err
    assert stored(tmp_path)["access_token"] != old["access_token"]
    osh.wait_messages(1)


def test_revoked_sign_in_keeps_mail_queued(bin, tmp_path, tls_cert, oauth2_server, osh):
    conf = signed_in(bin, tmp_path, oauth2_server, osh, tls_cert)
    tok = stored(tmp_path)
    oauth2_server.revoke(tok["access_token"])
    oauth2_server.revoke(tok["refresh_token"])
    code, reply, r = send(bin, tmp_path, conf)
    assert code == 0, r  # not attempted: the message would stay queued
    assert "run homemail oauth login isp" in reply, reply
    assert tok["refresh_token"] not in r.out + r.err


# -- the relay itself: its queue, its runner and its retries -------------------

def oauth_relay(bin, relay, s, sh, cert):
    """A started homemail-relay whose smart host is osh with OAuth2,
    signed in with `homemail oauth login isp` on the relay's config."""
    o2 = {"provider": "custom", "client_id": s.client_id, "scope": "mail",
          "token_url": s.token_url, "device_url": s.device_url, "ca_file": cert.cert}
    r = relay(users={"alice": {"send_as": ALICE}},
              smarthosts=[smarthost_conf(sh, login=ALICE, password=None, senders=None,
                                         auth="oauth2", oauth2=o2)])
    out = fixtures.run([bin("admin/homemail"), "-c", r.conf, "oauth", "login", "isp"], timeout=60)
    assert out.rc == 0, out
    return r


def lan_send(r, tag):
    data = ("From: Alice <alice@box.test>\r\nTo: x@remote.example\r\nSubject: %s\r\n"
            "Message-ID: <%s@pc1.lan>\r\n\r\nhello\r\n" % (tag, tag))
    with smtplib.SMTP("127.0.0.1", r.port, local_hostname="pc1.lan", timeout=15) as c:
        assert c.sendmail("alice@box.test", ["x@remote.example"], data.encode()) == {}


def refreshes(s):
    return [x for x in s.by_path("/token") if x.form.get("grant_type") == "refresh_token"]


def test_relay_refreshes_an_expiring_token_before_auth(bin, relay, tls_cert, oauth2_server, osh):
    """Signed in with a token that lives 60 s (inside the 120 s margin):
    the runner refreshes it before AUTH, so the smart host never refuses."""
    oauth2_server.expires_in = 60
    r = oauth_relay(bin, relay, oauth2_server, osh, tls_cert)
    oauth2_server.expires_in = 3600  # what the refresh gives
    old = stored(pathlib.Path(r.base))
    lan_send(r, "oauth-expiring")
    (m,) = osh.wait_messages(1)
    assert m.mail_from == ALICE and b"oauth-expiring" in m.raw
    r.wait_queue_empty()
    log = r.log()
    assert "access token refreshed" in log, log
    assert "refreshing it once" not in log, log
    assert len(refreshes(oauth2_server)) == 1
    asked = [x.form.get("token") for x in oauth2_server.by_path("/introspect")]
    assert old["access_token"] not in asked


def test_relay_keeps_mail_while_signed_out_then_sends(bin, relay, tls_cert, oauth2_server, osh):
    """A revoked sign-in: the message stays queued through the retries
    (every 2-4 s here), the provider is asked once, `homemail queue` says
    what to run; after `homemail oauth login` the next retry sends it."""
    r = oauth_relay(bin, relay, oauth2_server, osh, tls_cert)
    tok = stored(pathlib.Path(r.base))
    oauth2_server.revoke(tok["access_token"])
    oauth2_server.revoke(tok["refresh_token"])
    lan_send(r, "oauth-revoked")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and r.log().count("signed out by the provider") < 2:
        time.sleep(0.2)
    log = r.log()
    assert log.count("signed out by the provider") >= 2, log
    assert len(refreshes(oauth2_server)) == 1
    assert len(r.queue_ids()) == 1
    q = r.homemail(["queue"])
    assert "run homemail oauth login isp" in q.out, q
    assert osh.messages() == []
    assert tok["refresh_token"] not in log and tok["access_token"] not in log
    out = fixtures.run([bin("admin/homemail"), "-c", r.conf, "oauth", "login", "isp"], timeout=60)
    assert out.rc == 0, out
    (m,) = osh.wait_messages(1, timeout=20)
    assert b"oauth-revoked" in m.raw
    r.wait_queue_empty()
