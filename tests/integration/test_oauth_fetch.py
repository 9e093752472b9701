"""homemail-fetcher signing in with OAuth2 (issue 12) to a real Dovecot
whose oauth2 passdb asks the OAuth2 server fixture about each token
(fixtures/dovecot.py, fixtures/oauth2.py): IMAP and POP3, with and
without TLS on loopback; a token the server refuses is refreshed once; a
refresh token the provider refuses stops the account with one clear line
and leaves the mail upstream."""
import os
import re
import signal
import subprocess
import time

import pytest

import fixtures
from fixtures.corpus import read_maildir


@pytest.fixture(autouse=True)
def _reset(oauth2_server, oauth2_dovecot):
    oauth2_server.reset()
    oauth2_server.user = oauth2_dovecot.user  # the token's user is the login
    oauth2_server.interval = 1
    oauth2_server.device_pending = 0
    yield


def signed_in_account(bin, hm_tmp, name, s, dc, cert, protocol, port, tls, fetcher_extra=""):
    d = os.path.join(hm_tmp, name)
    os.makedirs(d)
    conf = os.path.join(d, "homemail.conf")
    with open(conf, "w") as f:
        f.write("""hostname = "box.test";
state_dir = "%(d)s/state";
mail_dir = "%(d)s/mail";
local_domains = [ "box.test" ];
users = ( { name = "alice"; } );
fetcher = { %(extra)s deliver = "local"; accounts = ( {
  name = "work"; protocol = "%(proto)s"; host = "127.0.0.1"; port = %(port)d; tls = "%(tls)s";
  ca_file = "%(dcca)s"; user = "%(user)s"; auth = "oauth2"; keep = false; to = "alice";
  oauth2 = { provider = "custom"; client_id = "%(cid)s"; scope = "mail";
    token_url = "%(token)s"; device_url = "%(device)s"; ca_file = "%(ca)s"; }; } ); };
""" % {"d": d, "proto": protocol, "port": port, "tls": tls, "dcca": dc.cafile, "user": dc.user,
       "cid": s.client_id, "token": s.token_url, "device": s.device_url, "ca": cert.cert,
       "extra": fetcher_extra})
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "login", "work"], timeout=60)
    assert r.rc == 0, r
    return d, conf


def fetch(bin, conf):
    return fixtures.run([bin("fetcher/homemail-fetcher"), "-c", conf, "--once", "-v"],
                        timeout=120)


def delivered(d):
    return read_maildir(os.path.join(d, "mail", "alice"))


def stored_token(d):
    import json
    folder = os.path.join(d, "state", "oauth")
    (name,) = [n for n in os.listdir(folder) if n.endswith(".json")]
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


@pytest.mark.parametrize("protocol,portname,tls", [
    ("imap", "imaps_port", "tls"), ("imap", "imap_port", "starttls"),
    ("pop3", "pop3s_port", "tls"), ("pop3", "pop3_port", "none")])
def test_fetch_with_token(bin, hm_tmp, tls_cert, oauth2_server, oauth2_dovecot, corpus,
                          protocol, portname, tls):
    s, dc = oauth2_server, oauth2_dovecot
    d, conf = signed_in_account(bin, hm_tmp, "oa-fetch-%s-%s" % (protocol, tls), s, dc, tls_cert, protocol,
                    getattr(dc, portname), tls)
    dc.load(corpus.messages[:5])
    r = fetch(bin, conf)
    assert r.rc == 0, r
    assert len(delivered(d)) == 5
    assert len(dc.read_maildir()) == 0
    tok = stored_token(d)
    # Dovecot asked the identity provider about our token, and nothing
    # showed it.
    asked = [x.form.get("token") for x in s.by_path("/introspect")]
    assert tok["access_token"] in asked
    assert tok["access_token"] not in r.out + r.err
    # OAUTHBEARER is preferred where offered (Dovecot offers both).
    assert "AUTHENTICATE OAUTHBEARER" in r.err or "AUTH OAUTHBEARER" in r.err, r.err


def test_refused_token_refreshed_once(bin, hm_tmp, tls_cert, oauth2_server, oauth2_dovecot,
                                      corpus):
    s, dc = oauth2_server, oauth2_dovecot
    d, conf = signed_in_account(bin, hm_tmp, "oa-refresh", s, dc, tls_cert, "imap", dc.imaps_port, "tls")
    old = stored_token(d)
    s.revoke(old["access_token"])  # still "valid" by its expiry: the server says no
    dc.load(corpus.messages[:3])
    r = fetch(bin, conf)
    assert r.rc == 0, r
    assert "refreshing the access token once" in r.err
    assert len(delivered(d)) == 3
    new = stored_token(d)
    assert new["access_token"] != old["access_token"]
    assert [x.form["grant_type"] for x in s.by_path("/token")][-1] == "refresh_token"


def test_revoked_sign_in_stops_account(bin, hm_tmp, tls_cert, oauth2_server, oauth2_dovecot,
                                       corpus):
    s, dc = oauth2_server, oauth2_dovecot
    d, conf = signed_in_account(bin, hm_tmp, "oa-revoked", s, dc, tls_cert, "pop3", dc.pop3s_port, "tls")
    tok = stored_token(d)
    s.revoke(tok["access_token"])
    s.revoke(tok["refresh_token"])
    dc.load(corpus.messages[:4])
    r = fetch(bin, conf)
    assert r.rc != 0, r
    assert "run homemail oauth login work" in r.err, r.err
    assert "invalid_grant" in r.err
    assert len(dc.read_maildir()) == 4  # the mail stays upstream
    assert delivered(d) == {}
    assert tok["refresh_token"] not in r.err and tok["access_token"] not in r.err
    # The store remembers the refusal: the next run says so without
    # asking the provider again with the dead refresh token...
    assert "refresh_token" not in stored_token(d)
    asked = len(s.by_path("/token"))
    r = fetch(bin, conf)
    assert r.rc != 0, r
    assert "signed out by the provider on" in r.err and "invalid_grant" in r.err, r.err
    assert "run homemail oauth login work" in r.err, r.err
    assert len(s.by_path("/token")) == asked
    st = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "status"])
    assert "signed out by the provider on" in st.out and "run homemail oauth login work" in st.out, st
    # ...until a new sign-in, after which the mail comes.
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "login", "work"], timeout=60)
    assert r.rc == 0, r
    r = fetch(bin, conf)
    assert r.rc == 0, r
    assert len(delivered(d)) == 4


def test_expired_token_refreshed_before_login(bin, hm_tmp, tls_cert, oauth2_server,
                                              oauth2_dovecot, corpus):
    """Two hours on (the fetcher under faketime, the provider's clock moved
    on as far) the stored access token has expired: the fetcher refreshes it
    before it logs in, so the server never sees the dead one."""
    s, dc = oauth2_server, oauth2_dovecot
    d, conf = signed_in_account(bin, hm_tmp, "oa-expired", s, dc, tls_cert, "imap",
                                dc.imaps_port, "tls")
    old = stored_token(d)
    s.advance(7200)
    dc.load(corpus.messages[:3])
    r = fixtures.run(["faketime", "-f", "+2h", bin("fetcher/homemail-fetcher"), "-c", conf,
                      "--once", "-v"], timeout=120, env=fixtures.wrapped_env())
    assert r.rc == 0, r
    assert len(delivered(d)) == 3
    assert "access token refreshed" in r.err, r.err
    assert "refreshing the access token once" not in r.err, r.err
    new = stored_token(d)
    assert new["access_token"] != old["access_token"]
    assert new["expires_at"] > old["expires_at"] + 7000  # by the fetcher's clock
    asked = [x.form.get("token") for x in s.by_path("/introspect")]
    assert new["access_token"] in asked and old["access_token"] not in asked


def test_daemon_says_a_revoked_sign_in_once(bin, hm_tmp, tls_cert, oauth2_server,
                                            oauth2_dovecot, corpus):
    """The polling daemon (interval 10 s, back-off 5 s) keeps failing on a
    revoked sign-in: the "run homemail oauth login" line is logged once and
    the provider is asked once; the retries only read the store."""
    s, dc = oauth2_server, oauth2_dovecot
    d, conf = signed_in_account(bin, hm_tmp, "oa-daemon", s, dc, tls_cert, "imap",
                                dc.imaps_port, "tls", fetcher_extra="interval = 10;")
    tok = stored_token(d)
    s.revoke(tok["access_token"])
    s.revoke(tok["refresh_token"])
    dc.load(corpus.messages[:2])
    log = os.path.join(d, "daemon.log")
    with open(log, "wb") as out:
        p = subprocess.Popen([bin("fetcher/homemail-fetcher"), "-c", conf, "-v"],
                             stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(log) as f:
                text = f.read()
            if "still: OAuth2" in text:
                break
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(15)
    assert rc == 0, text
    said = [ln for ln in text.splitlines() if "run homemail oauth login work" in ln]
    assert len([ln for ln in said if "still:" not in ln]) == 1, text
    assert len([ln for ln in said if "still:" in ln]) >= 1, text
    assert len([x for x in s.by_path("/token") if x.form.get("grant_type") == "refresh_token"]) == 1
    assert len(dc.read_maildir()) == 2
    assert tok["refresh_token"] not in text


@pytest.mark.parametrize("protocol,portname", [("imap", "imaps_port"), ("pop3", "pop3s_port")])
def test_xoauth2_and_its_refusal(bin, hm_tmp, tls_cert, oauth2_server, oauth2_dovecot_xoauth2,
                                 corpus, protocol, portname):
    """Where only XOAUTH2 is offered (Microsoft): it is used, and Google's
    style of refusal ({"status":"401",...}) leads to one refresh."""
    s, dc = oauth2_server, oauth2_dovecot_xoauth2
    s.user = dc.user
    d, conf = signed_in_account(bin, hm_tmp, "oa-x-" + protocol, s, dc, tls_cert, protocol,
                                getattr(dc, portname), "tls")
    s.revoke(stored_token(d)["access_token"])
    dc.load(corpus.messages[:2])
    r = fetch(bin, conf)
    assert r.rc == 0, r
    assert re.search(r"(AUTHENTICATE|AUTH) XOAUTH2", r.err), r.err
    assert not re.search(r"(AUTHENTICATE|AUTH) OAUTHBEARER", r.err), r.err
    assert "the access token is invalid or expired" in r.err, r.err
    assert "refreshing the access token once" in r.err
    assert len(delivered(d)) == 2
