"""bench/relay: the programs under test and the peers around them.

    sh = BenchSmarthost(base, login, password).start()   # the ISP (Postfix)
    pf = PostfixRelay(base, sh, reuse=False).start()      # Postfix as the home relay
    ours = OurRelay(base, relay_bin, conf_text).start()  # homemail-relay
    lo = PostfixLocal(base, user)                         # fetchmail's Postfix (receive path)

Every daemon runs as our child in a session of its own and is stopped by
PID (fixtures.stop_process_group): nothing outlives the bench.

BenchSmarthost is tests/integration/fixtures/postfix.py's PostfixSmarthost
(a real Postfix submission server: STARTTLS, SASL AUTH through a Dovecot
auth service, MAIL FROM must be the login's address) with one change: it
delivers with virtual(8), 20 at a time, into one Maildir (the sink), each
file fsynced, instead of the fixture's one-at-a-time pipe(8) into a Python
script (~30 ms per message, which would make the smart host the bottleneck
of both relays). virtual(8) adds Return-Path (the envelope sender) and
X-Original-To, which the bench verifies.

PostfixRelay is Postfix configured as the same kind of relay as ours:
mynetworks = loopback, relayhost = the smart host with SASL and STARTTLS
required (smtp_tls_security_level = encrypt), smtp_generic_maps mapping
user@myhost.localdomain and user@localhost to user@isp.example (envelope
and headers), the TLS session cache Debian's default main.cf sets;
reuse=True adds smtp_tls_connection_reuse (tlsproxy), Postfix's best case.
"""
import os
import shutil
import socket
import time

from fixtures import (free_port, log_tail, spawn_session, start_retrying, stop_process_group,
                      wait_port)
from fixtures.postfix import (MAIL_GID, MAIL_UID, Postfix, PostfixError, PostfixInstance,
                              PostfixSmarthost)

HOSTNAME = "myhost.localdomain"     # the box's name, for both relays
SEND_AS_DOMAIN = "isp.example"


def _override(text, values):
    """main.cf TEXT with every parameter named in VALUES set to its value
    (lines replaced where they stand, the rest appended; None drops it)."""
    out, done = [], set()
    for line in text.splitlines():
        name = line.split("=", 1)[0].strip() if "=" in line and not line[:1].isspace() else None
        if name in values:
            done.add(name)
            if values[name] is not None:
                out.append("%s = %s" % (name, values[name]))
            continue
        out.append(line)
    out += ["%s = %s" % (k, v) for k, v in values.items() if k not in done and v is not None]
    return "\n".join(out) + "\n"


class BenchSmarthost(PostfixSmarthost):
    """The ISP's submission server delivering into one Maildir (sink())."""

    def __init__(self, base_dir, login, password):
        super().__init__(base_dir, {login: password}, require_tls=True, implicit_tls=False,
                         enforce_sender=True)
        self.login, self.password = login, password
        self.vmail = os.path.join(self.base, "vmail")

    def _prepare(self):
        super()._prepare()
        os.makedirs(self.vmail, exist_ok=True)
        os.chown(self.vmail, MAIL_UID, MAIL_GID)
        with open(os.path.join(self.etc, "vmailbox.regexp"), "w") as f:
            f.write("/^/ inbox/\n")
        with open(os.path.join(self.etc, "vdomains.regexp"), "w") as f:
            f.write("/./ OK\n")

    def _listeners(self):
        # the fixture's max_use=1 (a fresh smtpd per connection, so a
        # rewritten map holds at once) would make every connection of a
        # relay without connection reuse pay an exec; Postfix's default here
        return "127.0.0.1:%d inet n - n - - smtpd" % self.port

    def _services(self):
        return super()._services() + "virtual   unix  -       n       n       -       -       virtual\n"

    def _main_cf(self):
        e = self.etc
        return _override(super()._main_cf(), {
            "default_transport": None, "relay_transport": None,
            "hmsink_destination_concurrency_limit": None,
            "hmsink_destination_recipient_limit": None,
            # every domain is "virtual" here, so reject_unauth_destination
            # would let anyone in: AUTH stays the only way.
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
            "smtpd_sasl_authenticated_header": "yes",
            "virtual_mailbox_domains": "regexp:%s/vdomains.regexp" % e,
            "virtual_mailbox_maps": "regexp:%s/vmailbox.regexp" % e,
            "virtual_mailbox_base": self.vmail,
            "virtual_uid_maps": "static:%d" % MAIL_UID,
            "virtual_gid_maps": "static:%d" % MAIL_GID,
            "virtual_destination_concurrency_limit": "20",
            "virtual_mailbox_limit": "0",
            "default_process_limit": "100",
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_recipient_rate_limit": "0",
            "smtpd_client_new_tls_session_rate_limit": "0",
            "smtpd_client_auth_rate_limit": "0",
        })

    def sink_dir(self):
        """The Maildir every accepted message lands in."""
        return os.path.join(self.vmail, "inbox")

    def count(self):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.sink_dir(), sub)))
            except FileNotFoundError:
                pass
        return n

    def clear(self, timeout=120.0):
        """Empties the sink once the queue is empty."""
        deadline = time.monotonic() + timeout
        while not self.queue_empty():
            if time.monotonic() > deadline:
                raise PostfixError("smart host queue not empty after %.0f s" % timeout)
            time.sleep(0.2)
        shutil.rmtree(self.sink_dir(), ignore_errors=True)


RELAY_SERVICES = """smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
tlsproxy  unix  -       -       n       -       0       tlsproxy
"""


class PostfixRelay(PostfixInstance):
    """Postfix as the box's relay (see the module's docstring)."""

    def __init__(self, base_dir, smarthost, reuse=False):
        super().__init__(base_dir, HOSTNAME, HOSTNAME.split(".", 1)[1], 52428800)
        self.sh = smarthost
        self.reuse = reuse

    def _prepare(self):
        with open(os.path.join(self.etc, "generic.regexp"), "w") as f:
            f.write("/^([^@]+)@myhost\\.localdomain$/ ${1}@%s\n" % SEND_AS_DOMAIN)
            f.write("/^([^@]+)@localhost$/ ${1}@%s\n" % SEND_AS_DOMAIN)
        os.makedirs(os.path.join(self.base, "tmp"), exist_ok=True)

    def _services(self):
        return RELAY_SERVICES

    def _main_cf(self):
        e = self.etc
        lines = {
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject",
            "relayhost": "[%s]:%d" % (self.sh.host, self.sh.port),
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": "static:%s:%s" % (self.sh.login, self.sh.password),
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous",
            "smtp_tls_security_level": "encrypt",
            "smtp_tls_CAfile": self.sh.ca_file,
            "smtp_tls_session_cache_database": "btree:${data_directory}/smtp_scache",
            "smtp_generic_maps": "regexp:%s/generic.regexp" % e,
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_recipient_rate_limit": "0",
            "default_process_limit": "100",
            "smtp_tls_connection_reuse": "yes" if self.reuse else None,
        }
        return _override("", lines)

    def sendmail_argv(self, sender, rcpt):
        """Postfix's sendmail(1) into this instance."""
        return ["/usr/sbin/sendmail", "-C", self.etc, "-f", sender, rcpt]


class PostfixLocal(Postfix):
    """fetchmail's MTA on the receive path: mail for USER@box.test into a
    Maildir by virtual(8) (the fixture), message rate limits off."""

    def _main_cf(self):
        return _override(super()._main_cf(), {
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_recipient_rate_limit": "0",
            "default_process_limit": "100",
            "virtual_destination_concurrency_limit": "20",
        })


class RelayError(RuntimeError):
    pass


class OurRelay:
    """homemail-relay with CONF_TEXT (written to BASE/ours/homemail.conf,
    the placeholder {port} filled in with a free port) in a session of
    its own; ENV: variables added to its environment (a diagnostic, e.g.
    LD_BIND_NOW=1)."""
    host = "127.0.0.1"

    def __init__(self, base_dir, relay_bin, conf_text, name="ours", env=None):
        self.base = os.path.join(base_dir, name)
        self.env = env
        self.bin = relay_bin
        self.conf_text = conf_text
        self.conf = os.path.join(self.base, "homemail.conf")
        self.log = os.path.join(self.base, "relay.log")
        self.proc = None
        self._stderr = None
        self.port = None

    def start(self, timeout=20.0, attempts=3):
        return start_retrying(self, self._launch, timeout, attempts, RelayError)

    def _launch(self):
        self.port = free_port()
        os.makedirs(self.base, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(self.conf_text.replace("{port}", str(self.port)))
        os.chmod(self.conf, 0o600)
        env = dict(os.environ, **self.env) if self.env else None
        self.proc, self._stderr = spawn_session([self.bin, "-c", self.conf], self.log, env=env)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while not wait_port(self.host, self.port, timeout=0.2):
            if self.proc.poll() is not None:
                raise RelayError("homemail-relay exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise RelayError("homemail-relay not listening after %.0f s:\n%s" % (timeout, self.log_tail()))
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            g = s.recv(512)
            s.sendall(b"QUIT\r\n")
        if not g.startswith(b"220"):
            raise RelayError("unexpected greeting %r" % g)

    def log_tail(self, n=30):
        return log_tail((self.log,), n)

    def stop(self, timeout=15.0):
        if self.proc is None:
            return
        stop_process_group(self.proc, timeout)
        self.proc = None
        self._stderr.close()
