"""bench/dyndns: the three clients, each configured the same way: the check-IP
page and the dyndns2 server are the fixture's, over verified HTTPS, one host
name, IPv4, user dynuser. Each client's state lives in its own directory and
is kept between runs, as a timer (or cron) would keep it."""
import os

HOST = "box.dyn.test"
USER = "dynuser"


def wfile(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Ours:
    name = "homemail-dyndns"

    def __init__(self, binary):
        self.binary = binary

    def setup(self, d, url, ca, password):
        os.makedirs(os.path.join(d, "state"), exist_ok=True)
        self.set_password(d, password)
        wfile(os.path.join(d, "homemail.conf"), """hostname = "box.lan";
state_dir = "%(d)s/state";
dyndns = {
  detect = [ "web" ];
  detect_url4 = "%(url)s/ip4";
  ca_file = "%(ca)s";
  records = (
    { provider = "dyndns2"; server = "%(url)s"; hostname = "%(host)s"; user = "%(user)s";
      password_file = "%(d)s/dyn.secret"; ca_file = "%(ca)s"; ipv4 = true; ipv6 = false; }
  );
};
""" % {"d": d, "url": url, "ca": ca, "host": HOST, "user": USER})

    def set_password(self, d, password):
        wfile(os.path.join(d, "dyn.secret"), password + "\n")

    def cmd(self, d):
        return [self.binary, "-c", os.path.join(d, "homemail.conf"), "--once"]

    def version(self):
        return "homemail-dyndns %s" % self.binary


class DDclient:
    name = "ddclient"

    def setup(self, d, url, ca, password):
        os.makedirs(d, exist_ok=True)
        self.url, self.ca = url, ca
        self.set_password(d, password)

    def set_password(self, d, password):
        # ddclient re-reads its config at every run (and its daemon at every
        # loop): changing the password here is the user's fix
        hostport = self.url.split("//", 1)[1]
        wfile(os.path.join(d, "ddclient.conf"),
              "daemon=300\nsyslog=no\nssl=yes\nssl_ca_file=%s\n"
              "use=web, web=%s/ip4\nprotocol=dyndns2\nserver=%s\nlogin=%s\npassword='%s'\n%s\n"
              % (self.ca, self.url, hostport, USER, password, HOST))

    def cmd(self, d):
        return ["ddclient", "-daemon=0", "-file", os.path.join(d, "ddclient.conf"),
                "-cache", os.path.join(d, "ddclient.cache")]


class Inadyn:
    name = "inadyn"

    def setup(self, d, url, ca, password):
        os.makedirs(os.path.join(d, "cache"), exist_ok=True)
        self.url, self.ca = url, ca
        self.set_password(d, password)

    def set_password(self, d, password):
        # a `custom` section: the built-in dyndns2 plugins cannot be pointed
        # at another server or port
        hostport = self.url.split("//", 1)[1]
        wfile(os.path.join(d, "inadyn.conf"), """period = 300
ca-trust-file = %(ca)s
custom fixture {
    username = %(user)s
    password = %(pw)s
    hostname = %(host)s
    ddns-server = %(hp)s
    ddns-path = "/nic/update?hostname=%%h&myip=%%i"
    checkip-server = %(hp)s
    checkip-path = /ip4
    checkip-ssl = true
}
""" % {"ca": self.ca, "user": USER, "pw": password, "host": HOST, "hp": hostport})

    def cmd(self, d):
        return ["inadyn", "-1", "-n", "--no-pidfile", "-f", os.path.join(d, "inadyn.conf"),
                "--cache-dir", os.path.join(d, "cache")]


def make(name, builddir):
    if name == "ours":
        return Ours(os.path.join(builddir, "dyndns", "homemail-dyndns"))
    if name == "ddclient":
        return DDclient()
    if name == "inadyn":
        return Inadyn()
    raise SystemExit("unknown client %r (ours, ddclient, inadyn)" % name)
