"""The OAuth2 fixtures (issue 12) proven with stock clients before homemail
relies on them: the local OAuth2 server (fixtures/oauth2.py) through
urllib, a real Dovecot 2.3 with its oauth2 passdb through imaplib and
poplib, and the real Postfix smart host (SASL by that Dovecot) through
smtplib. What Dovecot sends when it refuses a token is captured, decoded
and printed (run with -s to see it) and must equal
fixtures.dovecot.OAUTH2_FAILURES, where it is written down for the client.
"""
import base64
import hashlib
import imaplib
import json
import os
import poplib
import secrets
import smtplib
import socket
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import pytest

from fixtures.dovecot import OAUTH2_FAILURES, Dovecot
from fixtures.oauth2 import DEVICE_GRANT
from fixtures.tls import make_cert

ALICE = "alice@isp.example"
REDIRECT = "http://127.0.0.1:8765/callback"


@pytest.fixture(autouse=True)
def _fresh_server(oauth2_server):
    oauth2_server.reset()
    yield


# -- HTTP helpers -------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


def _opener(srv):
    ctx = ssl.create_default_context(cafile=srv.cert.cert)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), _NoRedirect)


def post(srv, path, fields, headers=None):
    """(status, JSON answer or None) of a form POST to SRV's PATH."""
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(srv.url + path, data=data, headers=headers or {}, method="POST")
    return _answer(srv, req)


def get(srv, path, query=None, headers=None):
    url = srv.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    return _answer(srv, urllib.request.Request(url, headers=headers or {}))


def _answer(srv, req):
    try:
        with _opener(srv).open(req, timeout=10) as r:
            status, body, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, body, hdrs = e.code, e.read(), e.headers
    if status == 302:
        return status, hdrs["Location"]
    return status, (json.loads(body) if body else None)


def token(srv, grant, **fields):
    fields.setdefault("client_id", srv.client_id)
    return post(srv, "/token", dict(fields, grant_type=grant))


def introspect(srv, tok):
    status, body = post(srv, "/introspect", {"token": tok})
    assert status == 200
    return body


def error_of(answer):
    status, body = answer
    return status, body["error"]


# -- device authorization grant (RFC 8628) ------------------------------------
def start_device(srv, scope="mail"):
    status, d = post(srv, "/device", {"client_id": srv.client_id, "scope": scope})
    assert status == 200, d
    return d


def poll(srv, d):
    return token(srv, DEVICE_GRANT, device_code=d["device_code"])


def test_device_flow_pending_then_approved(oauth2_server):
    srv = oauth2_server
    srv.interval = 0
    d = start_device(srv)
    assert set(d) == {"device_code", "user_code", "verification_uri",
                      "verification_uri_complete", "expires_in", "interval"}
    assert (d["expires_in"], d["interval"]) == (600, 0)
    assert d["verification_uri"] == srv.url + "/activate"
    for _ in range(3):
        assert error_of(poll(srv, d)) == (400, "authorization_pending")
    srv.approve(d["user_code"], user=ALICE)
    status, tok = poll(srv, d)
    assert status == 200, tok
    assert tok["token_type"] == "Bearer" and tok["scope"] == "mail"
    assert tok["expires_in"] == 3600 and tok["refresh_token"].startswith("rt-")
    assert introspect(srv, tok["access_token"])["username"] == ALICE
    # The device code is used up.
    assert error_of(poll(srv, d)) == (400, "invalid_grant")
    assert [r.form["grant_type"] for r in srv.by_path("/token")] == [DEVICE_GRANT] * 5


def test_device_flow_approves_itself_after_n_pending(oauth2_server):
    srv = oauth2_server
    srv.interval, srv.device_pending = 0, 2
    d = start_device(srv)
    assert [error_of(poll(srv, d))[1] for _ in range(2)] == ["authorization_pending"] * 2
    status, tok = poll(srv, d)
    assert status == 200 and srv.token_info(tok["access_token"])["user"] == srv.user


def test_device_flow_slow_down(oauth2_server):
    srv = oauth2_server
    srv.interval, srv.slow_down_step = 1, 2
    d = start_device(srv)
    assert error_of(poll(srv, d)) == (400, "authorization_pending")
    # Polled again at once, inside the 1 s interval.
    status, body = poll(srv, d)
    assert (status, body["error"]) == (400, "slow_down")
    assert body["error_description"] == "poll at most every 3 s"
    # Forced, with no interval at all.
    srv.interval, srv.slow_down_step, srv.force_slow_down = 0, 0, 1
    d = start_device(srv)
    assert [error_of(poll(srv, d))[1] for _ in range(2)] == ["slow_down", "authorization_pending"]


def test_device_flow_expired(oauth2_server):
    srv = oauth2_server
    srv.interval = 0
    d = start_device(srv)
    srv.expire(d["device_code"])
    assert error_of(poll(srv, d)) == (400, "expired_token")
    # By the clock: device_expires_in, then advance().
    srv.device_expires_in = 30
    d = start_device(srv)
    assert error_of(poll(srv, d)) == (400, "authorization_pending")
    srv.advance(31)
    srv.approve(d["user_code"])
    assert error_of(poll(srv, d)) == (400, "expired_token")


def test_device_flow_denied(oauth2_server):
    srv = oauth2_server
    srv.interval = 0
    d = start_device(srv)
    srv.deny(d["user_code"])
    assert error_of(poll(srv, d)) == (400, "access_denied")


# -- authorization code with PKCE (RFC 7636) ----------------------------------
def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize(srv, challenge, **over):
    q = {"response_type": "code", "client_id": srv.client_id, "redirect_uri": REDIRECT,
         "scope": "mail offline_access", "state": "st-42", "code_challenge": challenge,
         "code_challenge_method": "S256"}
    q.update(over)
    status, location = get(srv, "/authorize", {k: v for k, v in q.items() if v is not None})
    assert status == 302, location
    base, _, query = location.partition("?")
    assert base == REDIRECT
    return dict(urllib.parse.parse_qsl(query))


def test_code_flow_with_pkce(oauth2_server):
    srv = oauth2_server
    verifier, challenge = pkce_pair()
    back = authorize(srv, challenge)
    assert back["state"] == "st-42" and back["code"].startswith("ac-")
    status, tok = token(srv, "authorization_code", code=back["code"], redirect_uri=REDIRECT,
                        code_verifier=verifier)
    assert status == 200, tok
    assert tok["scope"] == "mail offline_access"
    assert introspect(srv, tok["access_token"])["active"] is True
    # A code is good once.
    again = token(srv, "authorization_code", code=back["code"], redirect_uri=REDIRECT,
                  code_verifier=verifier)
    assert again == (400, {"error": "invalid_grant",
                           "error_description": "authorization code already used"})


@pytest.mark.parametrize("field,value", [("code_verifier", "not-the-verifier"),
                                         ("code_verifier", None),
                                         ("redirect_uri", "http://127.0.0.1:8766/callback")])
def test_code_flow_refuses_wrong_verifier_or_redirect(oauth2_server, field, value):
    srv = oauth2_server
    verifier, challenge = pkce_pair()
    fields = {"code": authorize(srv, challenge)["code"], "redirect_uri": REDIRECT,
              "code_verifier": verifier, field: value}
    assert error_of(token(srv, "authorization_code",
                          **{k: v for k, v in fields.items() if v is not None})) \
        == (400, "invalid_grant")


def test_authorize_errors(oauth2_server):
    srv = oauth2_server
    _, challenge = pkce_pair()
    srv.authorize_deny = True
    assert authorize(srv, challenge) == {"error": "access_denied",
                                         "error_description": "the user said no",
                                         "state": "st-42"}
    srv.authorize_deny = False
    assert authorize(srv, None)["error"] == "invalid_request"
    assert authorize(srv, challenge, code_challenge_method="plain")["error"] == "invalid_request"
    assert authorize(srv, challenge, client_id="other")["error"] == "invalid_request"
    assert get(srv, "/authorize", {"response_type": "code", "client_id": srv.client_id}) \
        == (400, {"error": "invalid_request", "error_description": "redirect_uri missing"})


# -- refresh, rotation, revocation --------------------------------------------
def refresh(srv, rt):
    return token(srv, "refresh_token", refresh_token=rt)


def test_refresh_without_rotation(oauth2_server):
    srv = oauth2_server
    at, rt = srv.issue_tokens(ALICE)
    for _ in range(2):
        status, tok = refresh(srv, rt)
        assert status == 200, tok
        assert "refresh_token" not in tok
        assert tok["access_token"] != at
        assert introspect(srv, tok["access_token"])["username"] == ALICE


def test_refresh_with_rotation(oauth2_server):
    srv = oauth2_server
    srv.rotate_refresh = True
    _, rt1 = srv.issue_tokens(ALICE)
    status, tok = refresh(srv, rt1)
    assert status == 200
    rt2 = tok["refresh_token"]
    assert rt2 != rt1
    # The old refresh token is dead: a client that lost rt2 finds out here.
    assert error_of(refresh(srv, rt1)) == (400, "invalid_grant")
    status, tok = refresh(srv, rt2)
    assert status == 200 and tok["refresh_token"] not in (rt1, rt2)


def test_revoke(oauth2_server):
    srv = oauth2_server
    at, rt = srv.issue_tokens(ALICE)
    srv.revoke(rt)
    assert error_of(refresh(srv, rt)) == (400, "invalid_grant")
    assert introspect(srv, at)["active"] is True
    srv.revoke(at)
    assert introspect(srv, at) == {"active": False}
    # RFC 7009 endpoint.
    at, rt = srv.issue_tokens(ALICE)
    assert post(srv, "/revoke", {"client_id": srv.client_id, "token": rt}) == (200, None)
    assert error_of(refresh(srv, rt)) == (400, "invalid_grant")


def test_client_authentication(oauth2_server):
    srv = oauth2_server
    _, rt = srv.issue_tokens(ALICE)
    assert refresh(srv, rt)[0] == 200
    assert error_of(token(srv, "refresh_token", refresh_token=rt, client_id="other")) \
        == (401, "invalid_client")
    srv.client_secret = "s3cret-Client"
    assert error_of(refresh(srv, rt)) == (401, "invalid_client")
    assert error_of(token(srv, "refresh_token", refresh_token=rt, client_secret="wrong")) \
        == (401, "invalid_client")
    assert token(srv, "refresh_token", refresh_token=rt, client_secret="s3cret-Client")[0] == 200
    basic = base64.b64encode(b"hm-client:s3cret-Client").decode()
    status, _ = post(srv, "/token", {"grant_type": "refresh_token", "refresh_token": rt},
                     headers={"Authorization": "Basic " + basic})
    assert status == 200
    assert srv.by_path("/token")[-1].headers["authorization"] == "Basic " + basic


def test_lifetime_clock_and_introspection_forms(oauth2_server):
    srv = oauth2_server
    srv.expires_in = 60
    _, rt = srv.issue_tokens(ALICE)
    status, tok = refresh(srv, rt)
    assert tok["expires_in"] == 60
    at = tok["access_token"]
    info = introspect(srv, at)
    assert info["active"] is True and info["exp"] == srv.token_info(at)["exp"]
    assert set(info) == {"active", "username", "sub", "scope", "exp", "iat", "client_id",
                         "token_type"}
    # Dovecot's introspection_mode = auth and get.
    assert get(srv, "/introspect", headers={"Authorization": "Bearer " + at}) == (200, info)
    assert get(srv, "/introspect", {"token": at}) == (200, info)
    srv.advance(61)
    assert introspect(srv, at) == {"active": False}
    assert introspect(srv, "unknown") == {"active": False}
    assert introspect(srv, rt) == {"active": False}
    # introspect_auth: the endpoint wants HTTP Basic.
    srv.offset = 0
    srv.introspect_auth = ("rs", "rs-pw")
    assert error_of(post(srv, "/introspect", {"token": at})) == (401, "invalid_client")
    ok = {"Authorization": "Basic " + base64.b64encode(b"rs:rs-pw").decode()}
    assert post(srv, "/introspect", {"token": at}, headers=ok)[1]["active"] is True


def test_token_failures_and_secret_masking(oauth2_server):
    srv = oauth2_server
    _, rt = srv.issue_tokens(ALICE)
    srv.token_failures = [(500, {"error": "server_error"}), (503, {"error": "temporarily_unavailable"})]
    assert [refresh(srv, rt)[0] for _ in range(3)] == [500, 503, 200]
    last = srv.by_path("/token")[-1]
    assert last.form["refresh_token"] == rt
    assert rt not in repr(last) and last.json["access_token"] not in repr(last)
    assert "'refresh_token': '***'" in repr(last)
    assert get(srv, "/nothing") == (404, {"error": "not_found"})


# -- Dovecot: IMAP and POP3 ----------------------------------------------------
def xoauth2(user, tok):
    return ("user=%s\x01auth=Bearer %s\x01\x01" % (user, tok)).encode()


def oauthbearer(user, tok, port=143):
    return ("n,a=%s,\x01host=127.0.0.1\x01port=%d\x01auth=Bearer %s\x01\x01"
            % (user, port, tok)).encode()


SASL = {"XOAUTH2": xoauth2, "OAUTHBEARER": oauthbearer}
# What the client answers to the error challenge: RFC 7628 says 0x01 for
# OAUTHBEARER; XOAUTH2 clients send an empty response.
DONE = {"XOAUTH2": b"", "OAUTHBEARER": b"\x01"}


def bad_token(srv, kind, dc_user):
    """A token Dovecot must refuse for DC_USER, and the user to send."""
    if kind == "unknown":
        return dc_user, "at-never-issued"
    at, _ = srv.issue_tokens(dc_user, expires_in=30)
    if kind == "expired":
        srv.advance(31)
    elif kind == "revoked":
        srv.revoke(at)
    elif kind == "other_user":
        at, _ = srv.issue_tokens("mallory")
    return dc_user, at


def imap_auth(dc, mech, user, tok):
    """imaplib AUTHENTICATE; returns (result or the error, [challenges])."""
    im = imaplib.IMAP4(dc.host, dc.imap_port, timeout=20)
    challenges = []

    def step(challenge):
        challenges.append(challenge)
        return SASL[mech](user, tok) if len(challenges) == 1 else DONE[mech]
    try:
        return im, im.authenticate(mech, step), challenges
    except imaplib.IMAP4.error as e:
        im.logout()
        return None, str(e), challenges


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_imap_live_token(oauth2_dovecot, oauth2_server, mech):
    dc, srv = oauth2_dovecot, oauth2_server
    assert "AUTH=%s" % mech in imaplib.IMAP4(dc.host, dc.imap_port, timeout=20).capabilities
    at, _ = srv.issue_tokens(dc.user)
    im, res, _ = imap_auth(dc, mech, dc.user, at)
    assert res == ("OK", [b"Logged in"]), res
    assert im.select("INBOX")[0] == "OK"
    im.logout()
    (req,) = srv.by_path("/introspect")
    assert (req.method, req.form["token"]) == ("POST", at)
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.headers["user-agent"].startswith("dovecot-oauth2-passdb/2.3")


@pytest.mark.parametrize("kind", ["expired", "revoked", "unknown", "other_user"])
@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_imap_refused_token(oauth2_dovecot, oauth2_server, mech, kind):
    dc, srv = oauth2_dovecot, oauth2_server
    user, tok = bad_token(srv, kind, dc.user)
    im, res, challenges = imap_auth(dc, mech, user, tok)
    assert im is None
    assert res == "[AUTHENTICATIONFAILED] Authentication failed."
    assert challenges[0] == b""
    print("IMAP %s %s: challenge %s" % (mech, kind, challenges[1].decode()))
    assert json.loads(challenges[1]) == OAUTH2_FAILURES[mech]
    assert len(challenges) == 2


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_imap_sasl_ir_and_empty_answer(oauth2_dovecot, oauth2_server, mech):
    """With SASL-IR (what a client sends when the server lists it) the
    challenge is the same; an empty answer ends OAUTHBEARER too."""
    dc, srv = oauth2_dovecot, oauth2_server
    at, _ = srv.issue_tokens(dc.user)
    with socket.create_connection((dc.host, dc.imap_port), timeout=20) as s:
        f = s.makefile("rwb")
        assert b"SASL-IR" in f.readline()
        ir = base64.b64encode(SASL[mech](dc.user, "at-bad")).decode()
        f.write(b"a1 AUTHENTICATE %s %s\r\n" % (mech.encode(), ir.encode()))
        f.flush()
        line = f.readline()
        assert line.startswith(b"+ "), line
        print("IMAP SASL-IR %s: %s" % (mech, line.decode().strip()))
        assert json.loads(base64.b64decode(line[2:])) == OAUTH2_FAILURES[mech]
        f.write(b"\r\n")
        f.flush()
        assert f.readline() == b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
        ir = base64.b64encode(SASL[mech](dc.user, at)).decode()
        f.write(b"a2 AUTHENTICATE %s %s\r\n" % (mech.encode(), ir.encode()))
        f.flush()
        line = f.readline()
        while line.startswith(b"* "):
            line = f.readline()
        assert line.startswith(b"a2 OK ") and b"Logged in" in line, line


def test_imap_password_logins_unchanged(oauth2_dovecot, oauth2_server):
    """PLAIN/LOGIN keep the passwd-file passdb; a token is no password."""
    dc, srv = oauth2_dovecot, oauth2_server
    im = imaplib.IMAP4(dc.host, dc.imap_port, timeout=20)
    assert im.login(dc.user, dc.password)[0] == "OK"
    im.logout()
    at, _ = srv.issue_tokens(dc.user)
    im = imaplib.IMAP4(dc.host, dc.imap_port, timeout=20)
    with pytest.raises(imaplib.IMAP4.error):
        im.login(dc.user, at)
    im.logout()
    assert srv.by_path("/introspect") == []


def pop3_auth(dc, mech, user, tok):
    """AUTH MECH with an initial response by hand; returns (poplib.POP3 or
    None, last reply, [decoded challenges])."""
    p = poplib.POP3(dc.host, dc.pop3_port, timeout=20)
    assert mech in p.capa()["SASL"]
    challenges = []
    try:
        resp = p._shortcmd("AUTH %s %s" % (mech, base64.b64encode(SASL[mech](user, tok)).decode()))
        while resp.startswith(b"+ "):
            challenges.append(base64.b64decode(resp[2:]))
            resp = p._shortcmd(base64.b64encode(DONE[mech]).decode())
        return p, resp, challenges
    except poplib.error_proto as e:
        p.close()
        return None, e.args[0], challenges


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_pop3_live_token(oauth2_dovecot, oauth2_server, mech):
    dc, srv = oauth2_dovecot, oauth2_server
    at, _ = srv.issue_tokens(dc.user)
    p, resp, challenges = pop3_auth(dc, mech, dc.user, at)
    assert (resp, challenges) == (b"+OK Logged in.", [])
    assert p.stat()[0] >= 0
    p.quit()


@pytest.mark.parametrize("kind", ["expired", "revoked"])
@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_pop3_refused_token(oauth2_dovecot, oauth2_server, mech, kind):
    dc, srv = oauth2_dovecot, oauth2_server
    user, tok = bad_token(srv, kind, dc.user)
    p, resp, challenges = pop3_auth(dc, mech, user, tok)
    assert p is None
    assert resp == b"-ERR [AUTH] Authentication failed."
    print("POP3 %s %s: challenge %s" % (mech, kind, challenges[0].decode()))
    assert [json.loads(c) for c in challenges] == [OAUTH2_FAILURES[mech]]


def test_dovecot_verifies_the_introspection_certificate(hm_tmp, tls_cert, oauth2_server):
    """Given another CA, Dovecot refuses the endpoint's certificate: no
    request reaches it and the login fails as temporary, without a
    challenge."""
    srv = oauth2_server
    base = tempfile.mkdtemp(dir=hm_tmp)
    os.chmod(base, 0o755)
    other = make_cert(os.path.join(base, "other-ca"))
    dc = Dovecot(base, tls_cert, oauth2_url=srv.introspect_url, oauth2_ca=other.cert,
                 auth_penalty=False).start()
    try:
        at, _ = srv.issue_tokens(dc.user)
        im, res, challenges = imap_auth(dc, "XOAUTH2", dc.user, at)
        assert im is None and res.startswith("[UNAVAILABLE] Temporary authentication failure."), res
        assert challenges == [b""]
        p, resp, challenges = pop3_auth(dc, "OAUTHBEARER", dc.user, at)
        print("untrusted endpoint: IMAP %r, POP3 %r" % (res, resp))
        assert p is None and resp.startswith(b"-ERR [SYS/TEMP] Temporary authentication failure."), resp
        assert challenges == []
        assert srv.requests == []
        assert "Received invalid SSL certificate" in dc.log_tail(50)
    finally:
        dc.stop()


def test_dovecot_scope_and_openid_configuration(hm_tmp, tls_cert, oauth2_server):
    """oauth2_settings: with scope = mail Dovecot refuses a token whose
    introspected scope lacks "mail" with the same challenge as any bad
    token (no insufficient_scope); openid_configuration_url adds an
    "openid-configuration" member to it (RFC 7628 section 3.2.2)."""
    srv = oauth2_server
    base = tempfile.mkdtemp(dir=hm_tmp)
    os.chmod(base, 0o755)
    oidc = srv.url + "/.well-known/openid-configuration"
    dc = Dovecot(base, tls_cert, oauth2_url=srv.introspect_url, oauth2_ca=tls_cert.cert,
                 auth_penalty=False,
                 oauth2_settings={"scope": "mail", "openid_configuration_url": oidc}).start()
    try:
        for scope, ok in (("mail", True), ("imap mail", True), ("calendar", False)):
            at, _ = srv.issue_tokens(dc.user, scope=scope)
            for mech in SASL:
                im, res, challenges = imap_auth(dc, mech, dc.user, at)
                if ok:
                    assert res[0] == "OK", (scope, mech, res)
                    im.logout()
                    continue
                print("IMAP %s scope %r: challenge %s" % (mech, scope, challenges[1].decode()))
                assert json.loads(challenges[1]) == dict(OAUTH2_FAILURES[mech],
                                                         **{"openid-configuration": oidc})
    finally:
        dc.stop()


# -- Postfix smart host (SASL through Dovecot's auth socket) ------------------
@pytest.fixture(scope="module")
def oauth_sh(postfix_smarthost, oauth2_server, tls_cert):
    return postfix_smarthost(users={ALICE: "alice-Pw.1"}, oauth2_url=oauth2_server.introspect_url,
                             oauth2_ca=tls_cert.cert)


def smtp(sh):
    s = smtplib.SMTP(sh.host, sh.port, local_hostname="box.home.example", timeout=20)
    s.starttls(context=ssl.create_default_context(cafile=sh.ca_file))
    s.ehlo("box.home.example")
    return s


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_smtp_live_token(oauth_sh, oauth2_server, mech):
    sh, srv = oauth_sh, oauth2_server
    sh.clear()
    at, _ = srv.issue_tokens(ALICE)
    s = smtp(sh)
    assert mech in s.esmtp_features["auth"].split()
    code, text = s.auth(mech, lambda challenge=None: SASL[mech](ALICE, at).decode())
    assert (code, text) == (235, b"2.7.0 Authentication successful")
    s.sendmail(ALICE, ["x@remote.example"], b"Subject: via %s\r\n\r\nhi\r\n" % mech.encode())
    s.quit()
    (msg,) = sh.wait_messages(1)
    assert msg.mail_from == ALICE and b"with ESMTPSA" in msg.raw


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_smtp_refused_token(oauth_sh, oauth2_server, mech):
    sh, srv = oauth_sh, oauth2_server
    _, tok = bad_token(srv, "revoked", ALICE)
    s = smtp(sh)
    code, text = s.docmd("AUTH", "%s %s" % (mech, base64.b64encode(SASL[mech](ALICE, tok)).decode()))
    print("SMTP %s: %d %s" % (mech, code, text.decode()))
    assert code == 334
    assert json.loads(base64.b64decode(text)) == OAUTH2_FAILURES[mech]
    code, text = s.docmd(base64.b64encode(DONE[mech]).decode())
    assert (code, text) == (535, b"5.7.8 Error: authentication failed: (reason unavailable)")
    s.quit()


def test_smtp_password_still_works(oauth_sh):
    s = smtp(oauth_sh)
    assert s.login(ALICE, "alice-Pw.1")[0] == 235
    s.quit()


def test_smtp_untrusted_endpoint(postfix_smarthost, oauth2_server, hm_tmp):
    """Dovecot cannot ask the endpoint (certificate from another CA): it
    fails the login as temporary, but Postfix 3.7 answers the permanent 535
    at once, without a challenge, so a client cannot tell this from a bad
    token but by the missing 334."""
    base = tempfile.mkdtemp(dir=hm_tmp)
    os.chmod(base, 0o755)  # the auth process (user dovecot) reads the CA file
    other = make_cert(os.path.join(base, "other-ca"))
    sh = postfix_smarthost(users={ALICE: "alice-Pw.1"}, oauth2_url=oauth2_server.introspect_url,
                           oauth2_ca=other.cert)
    at, _ = oauth2_server.issue_tokens(ALICE)
    s = smtp(sh)
    code, text = s.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(ALICE, at)).decode())
    print("SMTP untrusted endpoint: %d %s" % (code, text.decode()))
    assert (code, text) == (535, b"5.7.8 Error: authentication failed: (reason unavailable)")
    s.quit()
    assert oauth2_server.requests == []
    assert "Received invalid SSL certificate" in sh.auth.log_tail(50)
