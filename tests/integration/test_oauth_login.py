"""OAuth2 sign-in and tokens (issue 12) against the local OAuth2 server
fixture (fixtures/oauth2.py, HTTPS with its own CA): `homemail oauth login`
through the device grant (pending, slow_down, denied, expired) and the code
grant with PKCE (the browser's return to the loopback listener, or the URL
pasted), `homemail oauth status`, and the token store's refresh through
tests/tools/hm-oauth-token (rotation, invalid_grant, two processes at once)."""
import hashlib
import os
import queue
import re
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import fixtures

USER = "alice@work.example"


@pytest.fixture(autouse=True)
def _reset(oauth2_server):
    oauth2_server.reset()
    oauth2_server.user = USER
    oauth2_server.interval = 1
    yield


def write_conf(d, s, cert, device=True, name="work"):
    os.makedirs(d, exist_ok=True)
    urls = 'token_url = "%s";\n    ' % s.token_url
    urls += ('device_url = "%s";' % s.device_url) if device else (
        'authorize_url = "%s";' % s.authorize_url)
    path = os.path.join(d, "homemail.conf")
    with open(path, "w") as f:
        f.write("""hostname = "box.example";
state_dir = "%(d)s/state";
mail_dir = "%(d)s/mail";
users = ( { name = "u"; } );
fetcher = { accounts = ( { name = "%(name)s"; protocol = "imap"; host = "127.0.0.1";
  user = "%(user)s"; auth = "oauth2"; to = "u";
  oauth2 = { provider = "custom"; client_id = "%(cid)s"; scope = "mail";
    %(urls)s
    ca_file = "%(ca)s"; }; } ); };
""" % {"d": d, "name": name, "user": USER, "cid": s.client_id, "urls": urls, "ca": cert.cert})
    return path


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def stored(d):
    """The one token file in d/state/oauth and its parsed content."""
    import json
    folder = os.path.join(d, "state", "oauth")
    names = [n for n in os.listdir(folder) if n.endswith(".json")]
    assert len(names) == 1, names
    path = os.path.join(folder, names[0])
    with open(path) as f:
        return path, json.load(f)


class Login:
    """`homemail oauth login` running in the background, its output read
    line by line by a thread (it waits for a browser or for us)."""

    def __init__(self, bin, conf, name="work", extra=()):
        self.p = subprocess.Popen([bin("admin/homemail"), "-c", conf, "oauth"] + list(extra)
                                  + ["login", name], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = []
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read_until(self, predicate, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.out.append(line)
            if predicate(line):
                return line
        pytest.fail("no such line from homemail oauth login; got %r" % self.out)

    def finish(self, timeout=30):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            pytest.fail("homemail oauth login did not end; out=%r" % self.out)
        while True:
            line = self.lines.get(timeout=5)
            if line is None:
                break
            self.out.append(line)
        return self.p.returncode, "".join(self.out), self.p.stderr.read()


def test_device_login_and_status(bin, hm_tmp, tls_cert, oauth2_server):
    s = oauth2_server
    s.device_pending = 2  # approved by itself after two "not yet"
    d = os.path.join(hm_tmp, "oauth-device")
    conf = write_conf(d, s, tls_cert)
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "login", "work"], timeout=60)
    assert r.rc == 0, r
    dev = s.by_path("/device")
    assert len(dev) == 1 and dev[0].form["client_id"] == s.client_id
    assert dev[0].form["scope"] == "mail"
    code = dev[0].json["user_code"]
    assert code in r.out and dev[0].json["verification_uri"] in r.out
    polls = s.by_path("/token")
    assert [p.status for p in polls] == [400, 400, 200], polls
    path, tok = stored(d)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    info = s.token_info(tok["access_token"])
    assert info and info["kind"] == "access" and info["user"] == USER
    assert tok["refresh_token"] and s.token_info(tok["refresh_token"])["kind"] == "refresh"
    # Neither command shows a token.
    st = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "status"])
    assert st.rc == 0, st
    assert "account work: %s at custom" % USER in st.out
    assert re.search(r"access token valid for (59|60) more minutes", st.out), st.out
    assert "refresh token: yes" in st.out and "scope: mail" in st.out
    for text in (r.out, r.err, st.out, st.err):
        assert tok["access_token"] not in text and tok["refresh_token"] not in text


def test_device_slow_down(bin, hm_tmp, tls_cert, oauth2_server):
    s = oauth2_server
    s.device_pending = 1
    s.force_slow_down = 1
    d = os.path.join(hm_tmp, "oauth-slow")
    conf = write_conf(d, s, tls_cert)
    t0 = time.monotonic()
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "login", "work"], timeout=60)
    assert r.rc == 0, r
    answers = [p.json.get("error", "ok") for p in s.by_path("/token")]
    assert answers == ["slow_down", "authorization_pending", "ok"], answers
    # After slow_down the interval is 1 + 5 s (RFC 8628 3.5).
    assert time.monotonic() - t0 >= 1 + 6 + 6 - 0.5


@pytest.mark.parametrize("how,words", [("deny", "access_denied"), ("expire", "expired_token")])
def test_device_refused(bin, hm_tmp, tls_cert, oauth2_server, how, words):
    s = oauth2_server
    d = os.path.join(hm_tmp, "oauth-" + how)
    conf = write_conf(d, s, tls_cert)
    login = Login(bin, conf)
    login.read_until(lambda line: "enter the code" in line)
    code = s.by_path("/device")[0].json["device_code"]
    getattr(s, how)(code)
    rc, out, err = login.finish()
    assert rc == 1, (out, err)
    assert words in err, err
    assert not os.path.exists(os.path.join(d, "state", "oauth")) or not [
        n for n in os.listdir(os.path.join(d, "state", "oauth")) if n.endswith(".json")]


def _authorize_url(login):
    line = login.read_until(lambda l: l.strip().startswith("https://"))
    return line.strip()


def _browser(url):
    """What a browser does with the authorize URL: the fixture's 302, not
    followed; returns the Location (our redirect URI with code and state)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None

    ctx = __import__("ssl").create_default_context(cafile=os.environ["HM_TEST_CA"])
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
    try:
        opener.open(url, timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 302, e
        return e.headers["Location"]
    pytest.fail("no redirect from %s" % url)


def test_code_login_browser_returns(bin, hm_tmp, tls_cert, oauth2_server, monkeypatch):
    s = oauth2_server
    monkeypatch.setenv("HM_TEST_CA", tls_cert.cert)
    d = os.path.join(hm_tmp, "oauth-code")
    conf = write_conf(d, s, tls_cert, device=False)
    login = Login(bin, conf)
    url = _authorize_url(login)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert q["redirect_uri"][0].startswith("http://127.0.0.1:")
    location = _browser(url)
    assert location.startswith(q["redirect_uri"][0])
    with urllib.request.urlopen(location, timeout=10) as resp:  # the loopback listener
        assert b"see the terminal" in resp.read()
    rc, out, err = login.finish()
    assert rc == 0, (out, err)
    exchange = s.by_path("/token")[-1]
    assert exchange.form["grant_type"] == "authorization_code" and exchange.status == 200
    assert exchange.form["redirect_uri"] == q["redirect_uri"][0]
    _, tok = stored(d)
    assert s.token_info(tok["access_token"])["user"] == USER


def _paste(bin, hm_tmp, tls_cert, s, name, change=lambda url: url):
    """A code-flow login whose answer is pasted (after an empty line),
    changed by CHANGE first; returns (rc, out, err, folder)."""
    d = os.path.join(hm_tmp, name)
    conf = write_conf(d, s, tls_cert, device=False)
    login = Login(bin, conf)
    location = _browser(_authorize_url(login))
    login.p.stdin.write("\n" + change(location) + "\n")
    login.p.stdin.flush()
    return login.finish() + (d,)


def test_code_login_pasted(bin, hm_tmp, tls_cert, oauth2_server, monkeypatch):
    monkeypatch.setenv("HM_TEST_CA", tls_cert.cert)
    rc, out, err, d = _paste(bin, hm_tmp, tls_cert, oauth2_server, "oauth-paste")
    assert rc == 0, (out, err)
    _, tok = stored(d)
    assert oauth2_server.token_info(tok["access_token"])["user"] == USER


def test_code_login_other_state_ignored(bin, hm_tmp, tls_cert, oauth2_server, monkeypatch):
    """A pasted answer with another state (a stale tab) is not this
    sign-in's: said so, and the right one pasted after it still works."""
    monkeypatch.setenv("HM_TEST_CA", tls_cert.cert)
    rc, out, err, _ = _paste(bin, hm_tmp, tls_cert, oauth2_server, "oauth-state",
                             lambda url: url.replace("state=", "state=x") + "\n" + url)
    assert rc == 0 and "state differs" in err, (out, err)
    assert len(oauth2_server.by_path("/token")) == 1  # the stale code never spent


def test_code_listener_ignores_strangers_and_slow_clients(bin, hm_tmp, tls_cert, oauth2_server,
                                                         monkeypatch):
    """Anything on the machine can reach the listener: an error without
    this sign-in's state, or a wrong state, is answered 400 and ignored,
    and a client dripping a byte every 2 s holds it up 10 s at most."""
    s = oauth2_server
    monkeypatch.setenv("HM_TEST_CA", tls_cert.cert)
    d = os.path.join(hm_tmp, "oauth-strangers")
    conf = write_conf(d, s, tls_cert, device=False)
    login = Login(bin, conf)
    url = _authorize_url(login)
    redirect = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["redirect_uri"][0]
    for query in ("?error=access_denied", "?error=access_denied&state=x", "?code=c&state=x"):
        try:
            urllib.request.urlopen(redirect + query, timeout=15)
            pytest.fail("not refused: " + query)
        except urllib.error.HTTPError as e:
            assert e.code == 400, e
    port = int(urllib.parse.urlparse(redirect).port)
    stop = threading.Event()

    def drip():
        with socket.create_connection(("127.0.0.1", port)) as c:
            for b in b"GET /?code=slow&state=x HTTP/1.1\r\n":
                if stop.wait(2):
                    return
                try:
                    c.send(bytes([b]))
                except OSError:
                    return

    t = threading.Thread(target=drip, daemon=True)
    t.start()
    time.sleep(0.5)
    location = _browser(url)
    start = time.monotonic()
    with urllib.request.urlopen(location, timeout=30) as resp:
        assert b"see the terminal" in resp.read()
    assert time.monotonic() - start < 15
    stop.set()
    t.join()
    rc, out, err = login.finish()
    assert rc == 0, (out, err)
    assert len(s.by_path("/token")) == 1


# ---- the store: refresh, rotation, revocation, two takers ------------------

def token_cmd(bin, conf, *args):
    return fixtures.run([bin("tests/tools/hm-oauth-token"), "-c", conf] + list(args) + ["work"])


def signed_in(bin, hm_tmp, tls_cert, s, name):
    s.device_pending = 0
    d = os.path.join(hm_tmp, name)
    conf = write_conf(d, s, tls_cert)
    r = fixtures.run([bin("admin/homemail"), "-c", conf, "oauth", "login", "work"], timeout=60)
    assert r.rc == 0, r
    return d, conf


def test_refresh_when_expiring(bin, hm_tmp, tls_cert, oauth2_server):
    s = oauth2_server
    d, conf = signed_in(bin, hm_tmp, tls_cert, s, "oauth-refresh")
    _, tok = stored(d)
    r = token_cmd(bin, conf)
    assert r.rc == 0 and r.out.strip() == "sha256=" + sha(tok["access_token"]), r
    n = len(s.by_path("/token"))
    # An hour on (the fake clock of this process: --now), the token is due.
    r = token_cmd(bin, conf, "--now", str(int(time.time()) + 3600 - 60))
    assert r.rc == 0, r
    refresh = s.by_path("/token")[n:]
    assert [x.form["grant_type"] for x in refresh] == ["refresh_token"]
    _, tok2 = stored(d)
    assert tok2["access_token"] != tok["access_token"]
    assert r.out.strip() == "sha256=" + sha(tok2["access_token"])
    assert tok2["refresh_token"] == tok["refresh_token"]  # no rotation: kept


def test_rotation_and_revocation(bin, hm_tmp, tls_cert, oauth2_server):
    s = oauth2_server
    s.rotate_refresh = True
    d, conf = signed_in(bin, hm_tmp, tls_cert, s, "oauth-rotate")
    _, tok = stored(d)
    r = token_cmd(bin, conf, "--force")
    assert r.rc == 0, r
    _, tok2 = stored(d)
    assert tok2["refresh_token"] != tok["refresh_token"]
    assert s.token_info(tok2["refresh_token"])["kind"] == "refresh"
    s.revoke(tok2["refresh_token"])
    r = token_cmd(bin, conf, "--force")
    assert r.rc == 1 and r.out.startswith("error=1 "), r  # HM_OAUTH2_ERROR_INVALID_GRANT
    assert "invalid_grant" in r.out
    # A refused refresh token is dropped; the store says why and when.
    _, tok3 = stored(d)
    assert set(tok3) == {"signed_out", "signed_out_at"}, tok3
    assert "invalid_grant" in tok3["signed_out"]
    asked = len(s.by_path("/token"))
    r = token_cmd(bin, conf, "--force")
    assert r.rc == 1 and r.out.startswith("error=0 "), r  # NOT_SIGNED_IN, provider not asked
    assert "signed out by the provider on" in r.out and "invalid_grant" in r.out, r
    assert len(s.by_path("/token")) == asked


def test_two_processes_keep_the_rotated_token(bin, hm_tmp, tls_cert, oauth2_server):
    """The fetcher and the relay refreshing at once: with rotation, the
    second must use what the first saved, not spend the dead token."""
    s = oauth2_server
    s.rotate_refresh = True
    d, conf = signed_in(bin, hm_tmp, tls_cert, s, "oauth-race")
    later = str(int(time.time()) + 7200)
    results = []

    def take():
        results.append(token_cmd(bin, conf, "--now", later))

    for _ in range(3):
        ts = [threading.Thread(target=take) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert all(r.rc == 0 for r in results), results
    refreshes = [x for x in s.by_path("/token") if x.form.get("grant_type") == "refresh_token"]
    assert all(x.status == 200 for x in refreshes), refreshes
    _, tok = stored(d)
    assert s.token_info(tok["refresh_token"]) and not s.token_info(tok["refresh_token"])["revoked"]
    r = token_cmd(bin, conf, "--force")
    assert r.rc == 0, r


def test_temporary_failure_keeps_token(bin, hm_tmp, tls_cert, oauth2_server):
    s = oauth2_server
    d, conf = signed_in(bin, hm_tmp, tls_cert, s, "oauth-5xx")
    _, tok = stored(d)
    s.token_failures = [(503, {"error": "temporarily_unavailable"})]
    r = token_cmd(bin, conf, "--force")
    assert r.rc == 1 and r.out.startswith("error=3 "), r  # HM_OAUTH2_ERROR_TEMPORARY
    _, again = stored(d)
    assert again == tok
