"""bench/bundle: the two bundles doing the same job, and what they talk to.

    up = Upstream(ctx).start()     # two upstream Dovecots (IMAP for alice,
                                   #   POP3 for bob), the dyndns2 fixture and
                                   #   the smart host (ctx.smarthost()): not counted
    b = Ours(ctx, up, rnd) | Peers(ctx, up, rnd)
    b.start()                      # every daemon, each ctx.start()ed (stopped by PID)
    b.first_work_done()            # both upstream messages in the local Maildirs
                                   #   and the dyndns record updated
    b.roots                        # {program: [pid, ...]}: the trees that count
    b.stop()

The job, for both: relay for the LAN with a smart host (STARTTLS, AUTH,
sender rewritten to the ISP address), two local users with Maildirs, a
POP3 server for the LAN (plain and implicit TLS, the box's certificate),
alice's ISP mailbox over IMAPS with IDLE, bob's over POP3S polled every
300 s, both delivered through the local relay, and one dyndns2 record over
verified HTTPS, checked every 300 s.

Ours: homemail-relay, -popd, -fetcher (daemon), -dyndns (daemon) from one
homemail.conf, each started as its systemd unit would start it. Peers:
Postfix (bench/relay's PostfixRelay with a virtual(8) transport into the
Maildirs), Dovecot POP3 reading those Maildirs, two fetchmail daemons
(`-d 300`; fetchmail IDLEs on one account at a time and polls nothing else
while it does, fetchmail(1) --idle, so IDLE on one mailbox and polling
another take two daemons) handing mail to Postfix over SMTP, and ddclient
(`-daemon=300`, bench/dyndns's configuration).
"""
import os
import shutil
import subprocess
import time

import clients as dynclients
from fixture import Fixture
from fixtures import (SessionDaemon, corpus as corpusmod, free_port, log_tail, spawn_session,
                      wait_port)
from fixtures.dovecot import Dovecot, write_passwd_file
from fixtures.popd import crypt_hash
from fixtures.relay import conf_group, conf_value
from fixtures.tls import make_cert
from peers import HOSTNAME, OurRelay, PostfixRelay, RELAY_SERVICES

USERS = ("alice", "bob")
LAN_PASSWORD = "Lan-Pass.13"          # both users' POP3 password on the box
UPSTREAM = {"alice": "alice@isp.example", "bob": "bob@isp.example"}
UP_PASSWORD = "Up-Pass.13"
DYN_PASSWORD = "Dyn-Pass.13"
PUBLIC_IP = "81.2.69.10"
MAIL_UID = 65534


class BenchError(RuntimeError):
    pass


def _count(maildir):
    return sum(len(os.listdir(os.path.join(maildir, s)))
               for s in ("new", "cur") if os.path.isdir(os.path.join(maildir, s)))


class Program(SessionDaemon):
    """One daemon (ARGV) in a session of its own, output to LOG; ready
    once PORT (if any) accepts connections."""

    def __init__(self, name, argv, log, port=None, env=None):
        self.name, self.argv, self.log, self.port, self.env = name, argv, log, port, env

    def start(self, timeout=20.0):
        self.proc, self._stderr = spawn_session(self.argv, self.log, env=self.env)
        deadline = time.monotonic() + timeout
        while self.port and not wait_port("127.0.0.1", self.port, timeout=0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("%s not listening on %d:\n%s" % (self.name, self.port, self.log_tail()))
        time.sleep(0.2)
        if self.proc.poll() is not None:
            raise BenchError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
        return self

    def log_tail(self, n=30):
        return log_tail((self.log,), n)


class Upstream:
    """The ISP side: alice's IMAP server, bob's POP3 server (one private
    Dovecot each, both accounts on one would race each other), the dyndns2
    provider with its check-IP page, and the smart host."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.cert = make_cert(ctx.dir("cert"))
        self.imap = Dovecot(ctx.dir("up-imap"), self.cert, user=UPSTREAM["alice"], password=UP_PASSWORD)
        self.pop3 = Dovecot(ctx.dir("up-pop3"), self.cert, user=UPSTREAM["bob"], password=UP_PASSWORD)
        self.dyn = Fixture(self.cert.cert, self.cert.key, DYN_PASSWORD)
        self.sh = None
        self._mark = 0

    def start(self):
        self.ctx.start(self.imap)
        self.ctx.start(self.pop3)
        self.dyn.start()
        self.dyn.ip4 = PUBLIC_IP
        self.sh = self.ctx.smarthost()
        return self

    def stop(self):
        self.dyn.stop()

    def reset(self, seed):
        """A fresh message in each mailbox, the provider forgets the address:
        between two bundles, while no client is logged in."""
        self.imap.load(corpusmod.generate(count=1, seed=seed, n_big=0))
        self.pop3.load(corpusmod.generate(count=1, seed=seed + 1, n_big=0))
        with self.dyn.lock:
            self.dyn.published = None
            self._mark = len(self.dyn.requests)

    def updated(self):
        """True once the record was updated to PUBLIC_IP since reset()."""
        with self.dyn.lock:
            return any(r["kind"] == "update" and r["served"] == "good " + PUBLIC_IP
                       for r in self.dyn.requests[self._mark:])


class Bundle:
    def __init__(self, ctx, up, rnd, name):
        self.ctx, self.up = ctx, up
        self.d = ctx.dir("%s-%d" % (name, rnd))
        self.daemons = []
        self.roots = {}

    def _start(self, program, daemon, pid=None):
        self.daemons.append(self.ctx.start(daemon))
        self.roots.setdefault(program, []).append(pid or daemon.proc.pid)

    def _program(self, program, argv, port=None, env=None, tag=None):
        log = os.path.join(self.d, "%s.log" % (tag or program))
        self._start(program, Program(program, argv, log, port, env))

    def first_work_done(self):
        return all(_count(self.maildir(u)) >= 1 for u in USERS) and self.up.updated()

    def stop(self):
        for dmn in reversed(self.daemons):
            self.ctx.stop(dmn)
        self.daemons = []

    def log_tails(self):
        return "\n".join(d.log_tail(15) for d in self.daemons)


# ------------------------------------------------------------------ ours
def our_conf(d, up, popd_ports):
    """The one homemail.conf ({port}: the relay's, OurRelay fills it in)."""
    sh, cert = up.sh, up.cert
    users = ", ".join(conf_group({"name": u, "password": crypt_hash(LAN_PASSWORD),
                                  "send_as": sh.login}) for u in USERS)
    acct = {"protocol": "imap", "host": "127.0.0.1", "port": up.imap.imaps_port, "tls": "tls",
            "ca_file": cert.cert, "user": UPSTREAM["alice"], "password": UP_PASSWORD,
            "keep": False, "idle": True, "to": "alice"}
    pop = dict(acct, protocol="pop3", port=up.pop3.pop3s_port, user=UPSTREAM["bob"], idle=False,
               to="bob")
    record = {"provider": "dyndns2", "server": up.dyn.url, "hostname": dynclients.HOST,
              "user": dynclients.USER, "password": DYN_PASSWORD, "ca_file": cert.cert,
              "ipv4": True, "ipv6": False}
    smarthost = {"name": "isp", "host": "127.0.0.1", "port": sh.port, "tls": "starttls",
                 "user": sh.login, "password": sh.password, "ca_file": sh.ca_file,
                 "senders": ["*@isp.example"]}
    return "\n".join([
        "hostname = %s;" % conf_value(HOSTNAME),
        "state_dir = %s;" % conf_value(d + "/state"),
        "mail_dir = %s;" % conf_value(d + "/mail"),
        "local_domains = [ %s ];" % conf_value(HOSTNAME),
        "log = \"stderr\";",
        "tls = %s;" % conf_group({"cert": cert.cert, "key": cert.key}),
        "users = ( %s );" % users,
        "relay = { listen = [ \"127.0.0.1:{port}\" ]; trusted_networks = [ \"127.0.0.0/8\" ];",
        "  rewrite_header_from = true; smarthosts = ( %s ); };" % conf_group(smarthost),
        "fetcher = { interval = 300; deliver = \"smtp:127.0.0.1:{port}\";",
        "  accounts = ( %s, %s ); };" % (conf_group(dict(name="isp-imap", **acct)),
                                         conf_group(dict(name="isp-pop3", **pop))),
        "popd = { listen = [ \"127.0.0.1:%d\", \"127.0.0.1:%d/tls\" ]; };" % popd_ports,
        "dyndns = { interval = 300; detect = [ \"web\" ]; detect_url4 = %s; ca_file = %s;"
        % (conf_value(up.dyn.url + "/ip4"), conf_value(cert.cert)),
        "  records = ( %s ); };" % conf_group(record),
        ""])


class Ours(Bundle):
    def __init__(self, ctx, up, rnd):
        super().__init__(ctx, up, rnd, "ours")
        self.base = os.path.join(self.d, "ours")      # OurRelay's directory

    def maildir(self, user):
        return os.path.join(self.base, "mail", user)

    def start(self):
        b, popd_ports = self.ctx.bin, (free_port(), free_port())
        relay = OurRelay(self.d, b["relay"], our_conf(self.base, self.up, popd_ports))
        self._start("homemail-relay", relay)
        conf = relay.conf
        self._program("homemail-popd", [b["popd"], "-c", conf], port=popd_ports[0])
        self._program("homemail-fetcher", [b["fetcher"], "-c", conf])
        self._program("homemail-dyndns", [b["dyndns"], "-c", conf])


# ------------------------------------------------------------------ peers
class BoxPostfix(PostfixRelay):
    """bench/relay's Postfix relay (smart host with STARTTLS and AUTH,
    smtp_generic_maps to the ISP address) that also delivers mail for the
    box's users with virtual(8) into VMAIL/USER/, and offers STARTTLS with
    the box's certificate to the LAN."""

    def __init__(self, base_dir, smarthost, vmail, cert):
        super().__init__(base_dir, smarthost)
        self.vmail, self.cert = vmail, cert

    def _prepare(self):
        super()._prepare()
        os.makedirs(self.vmail, exist_ok=True)
        os.chown(self.vmail, MAIL_UID, MAIL_UID)

    def _services(self):
        return RELAY_SERVICES + "virtual   unix  -       n       n       -       -       virtual\n"

    def _main_cf(self):
        maps = ", ".join("%s@%s=%s/" % (u, HOSTNAME, u) for u in USERS)
        return super()._main_cf() + "".join("%s = %s\n" % kv for kv in (
            ("virtual_mailbox_domains", HOSTNAME),
            ("virtual_mailbox_base", self.vmail),
            ("virtual_mailbox_maps", "inline:{ %s }" % maps),
            ("virtual_uid_maps", "static:%d" % MAIL_UID),
            ("virtual_gid_maps", "static:%d" % MAIL_UID),
            ("virtual_mailbox_limit", "0"),
            ("smtpd_tls_cert_file", self.cert.cert),
            ("smtpd_tls_key_file", self.cert.key),
            ("smtpd_tls_security_level", "may")))


class LanDovecot(Dovecot):
    """Dovecot as the box's POP3 server: POP3 and POP3S on loopback for
    the box's users, their Maildirs at VMAIL/USER (Postfix's virtual(8)
    writes them as uid 65534), the box's certificate; defaults otherwise."""

    def __init__(self, base_dir, cert, vmail):
        super().__init__(base_dir, cert)
        self.vmail = vmail

    @property
    def ports(self):
        return {"pop3": self.pop3_port, "pop3s": self.pop3s_port}

    def _launch(self):
        self.pop3_port, self.pop3s_port = free_port(), free_port()
        self._write_config()
        self.proc, self._stderr = spawn_session(["dovecot", "-F", "-c", self.conf],
                                                os.path.join(self.base, "stderr.log"))

    def _write_config(self):
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        os.chmod(self.base, 0o755)
        users = os.path.join(self.base, "users")
        write_passwd_file(users, {u: LAN_PASSWORD for u in USERS})
        with open(self.conf, "w") as f:
            f.write(LAN_DOVECOT_CONF.format(
                b=self.base, pid=os.getpid(), log=self.log, cert=self.cert.cert, key=self.cert.key,
                vmail=self.vmail, users=users, pop3=self.pop3_port, pop3s=self.pop3s_port))


LAN_DOVECOT_CONF = """# generated by bench/bundle/systems.py
base_dir = {b}/run
state_dir = {b}/state
instance_name = hm-bench-lan-{pid}-{pop3}
protocols = pop3
listen = 127.0.0.1
log_path = {log}
default_login_user = dovenull
default_internal_user = dovecot
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
mail_home = {vmail}/%n
mail_location = maildir:~
first_valid_uid = 100
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


def fetchmailrc(up, user, smtp_port):
    """One upstream account (alice: IMAPS with IDLE, bob: POP3S) handed to
    Postfix on SMTP_PORT for USER@HOSTNAME, the certificate verified."""
    imap = user == "alice"
    return """set no syslog
poll 127.0.0.1 proto %(proto)s port %(port)d timeout 120
  user "%(login)s" password "%(pw)s" is %(user)s here
  ssl sslcertck sslcertfile "%(ca)s" sslcommonname localhost
  fetchall nokeep%(idle)s
  smtphost 127.0.0.1/%(smtp)d
  smtpname "%(user)s@%(host)s"
""" % {"proto": "imap" if imap else "pop3",
       "port": up.imap.imaps_port if imap else up.pop3.pop3s_port,
       "login": UPSTREAM[user], "pw": UP_PASSWORD, "user": user, "ca": up.cert.cert,
       "idle": " idle" if imap else "", "smtp": smtp_port, "host": HOSTNAME}


class Peers(Bundle):
    def __init__(self, ctx, up, rnd):
        super().__init__(ctx, up, rnd, "peers")
        self.vmail = os.path.join(self.d, "vmail")

    def maildir(self, user):
        return os.path.join(self.vmail, user)

    def start(self):
        pf = BoxPostfix(self.d, self.up.sh, self.vmail, self.up.cert)
        self._start("postfix", pf)
        self._start("dovecot", LanDovecot(self.d, self.up.cert, self.vmail))
        for user in USERS:
            home = os.path.join(self.d, "fetchmail-" + user)
            os.makedirs(home, exist_ok=True)
            rc = os.path.join(home, "fetchmailrc")
            with open(rc, "w") as f:
                f.write(fetchmailrc(self.up, user, pf.port))
            os.chmod(rc, 0o600)
            self._program("fetchmail", ["fetchmail", "-f", rc, "-d", "300", "--nodetach",
                                        "--pidfile", os.path.join(home, "pid"),
                                        "--idfile", os.path.join(home, "ids")],
                          env=dict(os.environ, HOME=home), tag="fetchmail-" + user)
        dd = dynclients.DDclient()
        dd_dir = os.path.join(self.d, "ddclient")
        dd.setup(dd_dir, self.up.dyn.url, self.up.cert.cert, DYN_PASSWORD)
        self._program("ddclient", ["ddclient", "-foreground", "-daemon=300",
                                   "-file", os.path.join(dd_dir, "ddclient.conf"),
                                   "-cache", os.path.join(dd_dir, "ddclient.cache")])


def versions():
    """The peers' versions, for the report."""
    def first(argv, word=""):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        line = next((l.strip() for l in (r.stdout + r.stderr).splitlines() if word in l), "?")
        return line.replace("This is fetchmail release", "fetchmail")
    return {"postfix": first(["postconf", "-d", "-h", "mail_version"]),
            "dovecot": first(["dovecot", "--version"]),
            "fetchmail": first(["fetchmail", "--version"], "release"),
            "ddclient": first(["dpkg-query", "-W", "-f", "${Version}", "ddclient"]),
            "perl": first(["perl", "-e", "print $^V"]),
            "openssl": first(["openssl", "version"])}


def needs():
    """A reason the bench cannot run here, or None."""
    for prog in ("postfix", "dovecot", "fetchmail", "ddclient", "openssl"):
        if not shutil.which(prog):
            return "%s not found (apt-get install postfix dovecot-imapd dovecot-pop3d fetchmail ddclient)" % prog
    return None
