"""Fixtures for homemail's integration tests (see fixtures/__init__.py for helpers).

Session scope:
  builddir            $HM_BUILDDIR (or run.sh's defaults)
  bin                 bin("tests/tools/hm-tlsprobe") -> absolute path; fails if not built
  hm_tmp              a 0755 scratch dir (outside pytest's 0700 tmp tree), removed at the end
  tls_cert            fixtures.tls.Cert: self-signed CN=localhost, SAN DNS:localhost,
                      IP:127.0.0.1; .cert (also the CA), .key, .fingerprint "sha256:AB:.."
  corpus              fixtures.corpus.generate(200, seed=1): ~200 messages, 3 of ~1 MB,
                      every trap (see fixtures/corpus.py)
Module scope:
  dovecot             a running fixtures.dovecot.Dovecot (POP3/POP3S/IMAP/IMAPS on
                      127.0.0.1), empty Maildir; dovecot.load(corpus) fills it
  local_dovecot       a second Dovecot, user "localuser" (an LMTP target)
  imap4d              a running fixtures.imap4d.Imap4d (GNU Mailutils: IMAP/IMAPS on
                      127.0.0.1), a second IMAP server implementation; imap4d.load(msgs)
  postfix             a running fixtures.postfix.Postfix (SMTP on 127.0.0.1, mail for
                      user@box.test into a Maildir)
  postfix_smarthost   postfix_smarthost(users={"alice@isp.example": "pw"}, **kw) -> a
                      started fixtures.postfix.PostfixSmarthost (the ISP's submission
                      server: STARTTLS/implicit TLS + AUTH); all stopped at module end
                      (oauth2_url=oauth2_server.introspect_url, oauth2_ca=tls_cert.cert
                      adds XOAUTH2/OAUTHBEARER)
  dovecot_submission  dovecot_submission(relay=sh, users={...}, relay_user=..,
                      relay_password=..) -> a started fixtures.submission.DovecotSubmission
                      (Dovecot's submission service: STARTTLS + AUTH, tls_cert, relaying
                      to the PostfixSmarthost sh); all stopped at module end
  oauth2_server       a running fixtures.oauth2.OAuth2Server (HTTPS, tls_cert): device
                      flow, code + PKCE, refresh, introspection; call .reset() between
                      tests that change its knobs
  oauth2_dovecot      a Dovecot like `dovecot` that also takes XOAUTH2 and OAUTHBEARER,
                      tokens checked at oauth2_server's introspection endpoint;
                      refused logins answered at once (auth_penalty=False)
Function scope:
  relay               relay(users=..., smarthosts=..., extra=..., start=True) -> a
                      fixtures.relay.Relay (homemail-relay with its own config and
                      state; started unless start=False); all stopped at test end
  script_peer         script_peer([steps...]) -> a started fixtures.scriptpeer.ScriptPeer;
                      every peer is joined and closed at teardown
  tlsprobe            tlsprobe("--host", h, "--port", p, ...) -> fixtures.Result
                      (rc, out, err, elapsed) of tests/tools/hm-tlsprobe
"""
import os
import shutil
import tempfile
import sys

import pytest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fixtures  # noqa: E402
from fixtures import corpus as corpusmod  # noqa: E402
from fixtures.dovecot import Dovecot, DovecotError  # noqa: E402
from fixtures.dynhttp import PASSWORD as DYN_PASSWORD, DynHttp  # noqa: E402
from fixtures.imap4d import Imap4d, Imap4dError  # noqa: E402
from fixtures.oauth2 import OAuth2Server  # noqa: E402
from fixtures.postfix import Postfix, PostfixError, PostfixSmarthost  # noqa: E402
from fixtures.relay import Relay  # noqa: E402
from fixtures.scriptpeer import ScriptPeer  # noqa: E402
from fixtures.submission import DovecotSubmission  # noqa: E402
from fixtures.tls import make_cert  # noqa: E402


@pytest.fixture(scope="session")
def builddir():
    return fixtures.builddir()


@pytest.fixture(scope="session")
def bin():  # noqa: A001 - the name reads well in tests: bin("admin/homemail")
    return fixtures.program


@pytest.fixture(scope="session")
def hm_tmp():
    d = fixtures.make_base_dir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def tls_cert(hm_tmp):
    return make_cert(os.path.join(hm_tmp, "tls"))


@pytest.fixture(scope="session")
def dyn_cert(hm_tmp):
    """A certificate for the dyndns fixtures, valid for 127.0.0.1 and ::1."""
    return make_cert(os.path.join(hm_tmp, "dyn-tls"), san="DNS:localhost,IP:127.0.0.1,IP:::1",
                     name="dyn")


@pytest.fixture
def dyn(dyn_cert):
    """A fresh dyndns2 + check-IP server (fixtures/dynhttp.py)."""
    s = DynHttp(dyn_cert, password=DYN_PASSWORD).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def corpus():
    return corpusmod.generate(count=200, seed=1)


def peer_base(hm_tmp, prefix):
    """A 0755 scratch directory for one peer (its processes run as other users)."""
    base = tempfile.mkdtemp(prefix=prefix, dir=hm_tmp)
    os.chmod(base, 0o755)
    return base


@pytest.fixture(scope="module")
def postfix(hm_tmp, request):
    base = peer_base(hm_tmp, "pf-%s-" % request.module.__name__.rsplit(".", 1)[-1])
    try:
        pf = Postfix(base).start()
    except PostfixError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield pf
    finally:
        pf.stop()


@pytest.fixture(scope="module")
def postfix_smarthost(hm_tmp):
    """A factory: each call starts one more PostfixSmarthost(base, **kw)
    (see fixtures/postfix.py for the keywords), failing the test when it
    cannot start; every one is stopped when the module is done."""
    started = []

    def make(**kw):
        base = peer_base(hm_tmp, "pfsh-")
        try:
            sh = PostfixSmarthost(base, **kw).start()
        except (PostfixError, DovecotError) as e:
            pytest.fail(str(e), pytrace=False)
        started.append(sh)
        return sh

    try:
        yield make
    finally:
        for sh in started:
            sh.stop()


@pytest.fixture(scope="module")
def dovecot_submission(hm_tmp, tls_cert):
    """A factory: each call starts one more DovecotSubmission(base,
    tls_cert, **kw) (see fixtures/submission.py), failing the test when it
    cannot start; every one is stopped when the module is done."""
    started = []

    def make(**kw):
        try:
            sub = DovecotSubmission(peer_base(hm_tmp, "sub-"), tls_cert, **kw).start()
        except DovecotError as e:
            pytest.fail(str(e), pytrace=False)
        started.append(sub)
        return sub

    try:
        yield make
    finally:
        for sub in started:
            sub.stop()


@pytest.fixture(scope="module")
def dovecot(hm_tmp, tls_cert, request):
    yield from _running_dovecot(hm_tmp, tls_cert, request, "dc-")


@pytest.fixture(scope="module")
def local_dovecot(hm_tmp, tls_cert, request):
    """A second Dovecot (user "localuser"): a local delivery target (LMTP)
    that fetched mail cannot reach the upstream mailbox through."""
    yield from _running_dovecot(hm_tmp, tls_cert, request, "dc-local-", user="localuser")


@pytest.fixture(scope="module")
def oauth2_server(tls_cert):
    s = OAuth2Server(tls_cert).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def oauth2_dovecot(hm_tmp, tls_cert, oauth2_server, request):
    yield from _running_dovecot(hm_tmp, tls_cert, request, "dc-oauth2-",
                                oauth2_url=oauth2_server.introspect_url,
                                oauth2_ca=tls_cert.cert, auth_penalty=False)


@pytest.fixture(scope="module")
def oauth2_dovecot_xoauth2(hm_tmp, tls_cert, oauth2_server, request):
    """As oauth2_dovecot, offering XOAUTH2 but not OAUTHBEARER."""
    yield from _running_dovecot(hm_tmp, tls_cert, request, "dc-xoauth2-",
                                oauth2_url=oauth2_server.introspect_url,
                                oauth2_ca=tls_cert.cert, auth_penalty=False,
                                oauth2_mechs="xoauth2")


@pytest.fixture(scope="module")
def imap4d(hm_tmp, tls_cert, request):
    yield from _running_peer(hm_tmp, request, "mu-", lambda base: Imap4d(base, tls_cert).start(),
                             Imap4dError)


def _running_dovecot(hm_tmp, tls_cert, request, prefix, **kw):
    yield from _running_peer(hm_tmp, request, prefix,
                             lambda base: Dovecot(base, tls_cert, **kw).start(), DovecotError)


def _running_peer(hm_tmp, request, prefix, start, error):
    """Yields start(base) for a fresh peer_base(), failing the test (not
    skipping it) on error; stops the peer afterwards."""
    base = peer_base(hm_tmp, prefix + request.module.__name__.rsplit(".", 1)[-1] + "-")
    try:
        peer = start(base)
    except error as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def relay(hm_tmp, tls_cert):
    """A factory: relay(**kw) -> a Relay(base, tls_cert, **kw) in a fresh
    0755 base (homemail-sendmail may run as nobody), started unless
    start=False; every one is stopped (SIGTERM, then SIGKILL) at the end."""
    made = []

    def make(start=True, **kw):
        r = Relay(peer_base(hm_tmp, "relay-"), tls_cert, **kw)
        made.append(r)
        return r.start() if start else r

    try:
        yield make
    finally:
        for r in made:
            r.stop()


@pytest.fixture
def script_peer():
    peers = []

    def make(script, **kw):
        p = ScriptPeer(script, **kw).start()
        peers.append(p)
        return p

    yield make
    for p in peers:
        p.wait(5)


@pytest.fixture
def tlsprobe(bin):
    exe = bin("tests/tools/hm-tlsprobe")

    def run(*args, timeout=30.0):
        return fixtures.run([exe] + [str(a) for a in args], timeout=timeout)

    return run
