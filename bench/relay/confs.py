"""bench/relay: homemail.conf texts and peer configuration files.

Every text leaves "{port}" for OurRelay to fill in with the relay's port.
"""

RELAY_USER = "user"                     # the local user both relays know
LOCAL_SENDER = "user@myhost.localdomain"
SEND_AS = "user@isp.example"            # what the smart host must see
RCPT = "rcpt@remote.example"
LAN_HELO = "laptop.home.lan"        # the LAN client's name (smtp-source -M): private


def _q(s):
    """A libconfig string literal."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def relay_conf(d, sh):
    """Our relay as the box's relay: trusted loopback, one smart host
    (STARTTLS required, AUTH, certificate checked against the smart
    host's CA), user -> user@isp.example for envelope and From:."""
    return """hostname = "myhost.localdomain";
state_dir = %(d)s;
mail_dir = %(m)s;
local_domains = [ "myhost.localdomain" ];
log = "stderr";
users = ( { name = "%(u)s"; send_as = "%(sa)s"; } );
relay = {
  listen = [ "127.0.0.1:{port}" ];
  trusted_networks = [ "127.0.0.0/8" ];
  rewrite_header_from = true;
  smarthosts = (
    { name = "isp"; host = "127.0.0.1"; port = %(port)d; tls = "starttls";
      user = %(login)s; password = %(pw)s; ca_file = %(ca)s;
      senders = [ "*@isp.example" ]; }
  );
};
""" % {"d": _q(d + "/state"), "m": _q(d + "/mail"), "u": RELAY_USER, "sa": SEND_AS,
       "port": sh.port, "login": _q(sh.login), "pw": _q(sh.password), "ca": _q(sh.ca_file)}


def receive_conf(d, up, via_relay):
    """The fetcher pulling the upstream account UP (dict host, port,
    protocol, user, password) for local user "bench"; via_relay: into our
    relay over SMTP (which delivers locally), else deliver = "local"."""
    relay = """relay = {
  listen = [ "127.0.0.1:{port}" ];
  trusted_networks = [ "127.0.0.0/8" ];
};
""" if via_relay else ""
    deliver = "smtp:127.0.0.1:{port}" if via_relay else "local"
    return """hostname = "box.bench.example";
state_dir = %(s)s;
mail_dir = %(m)s;
local_domains = [ "bench.example", "box.bench.example" ];
log = "stderr";
users = ( { name = "bench"; } );
%(relay)sfetcher = {
  deliver = "%(deliver)s";
  accounts = ( { name = "isp"; protocol = "%(proto)s"; host = "%(host)s"; port = %(port)d;
                 tls = "none"; user = %(user)s; password = %(pw)s; keep = false; to = "bench"; } );
};
""" % {"s": _q(d + "/state"), "m": _q(d + "/mail"), "relay": relay, "deliver": deliver,
       "proto": up["protocol"], "host": up["host"], "port": up["port"], "user": _q(up["user"]),
       "pw": _q(up["password"])}


def fetchmailrc(up, smtp_port, rcpt):
    """fetchmail handing every message to the MTA on 127.0.0.1:SMTP_PORT,
    for RCPT; plaintext upstream (sslproto ""), deleting what it fetched."""
    return """set no syslog
poll %(host)s port %(port)d proto %(proto)s timeout 120
  user "%(user)s" password "%(pw)s" is "bench" here
  fetchall nokeep sslproto ""
  smtphost 127.0.0.1/%(smtp)d
  smtpname "%(rcpt)s"
""" % {"host": up["host"], "port": up["port"], "proto": up["protocol"], "user": up["user"],
       "pw": up["password"], "smtp": smtp_port, "rcpt": rcpt}


def msmtprc(sh, log):
    """msmtp straight to the smart host: STARTTLS, AUTH PLAIN, envelope
    sender forced to SEND_AS (allow_from_override off, set on the account
    itself: msmtp 1.8.23 does not inherit it, shared/peers/serve notes)."""
    return """defaults
tls on
tls_starttls on
tls_trust_file %(ca)s
logfile %(log)s
account default
host 127.0.0.1
port %(port)d
auth plain
user %(login)s
password %(pw)s
from %(sa)s
allow_from_override off
set_from_header auto
""" % {"ca": sh.ca_file, "log": log, "port": sh.port, "login": sh.login, "pw": sh.password,
       "sa": SEND_AS}
