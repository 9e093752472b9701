"""bench/fetch: the clients and their configuration files.

    argv, maildir, files = setup(client, run_dir, up, tools)

client   one of CLIENTS ("ours-pop3", "fetchmail-imap", ...)
run_dir  an empty directory for this run (config, state, home, Maildir);
         the caller chowns it to the uid the client runs as
up       dict: host, pop3_port, imap_port, user, password (the upstream,
         direct or through the delay proxy)
tools    dict: fetcher (homemail-fetcher path), mda (maildir-deliver path)

Returns the client's argv (without the setpriv prefix), the Maildir it
delivers into (created empty, cur/new/tmp) and {path: text} of the files
written. Every client deletes what it fetched, plaintext on loopback:
  ours       homemail-fetcher --once, deliver = "local", keep = false, tls = "none"
  fetchmail  fetchall nokeep, sslproto "" (no opportunistic STLS), mda maildir-deliver
  getmail6   SimplePOP3/SimpleIMAP retriever, Maildir destination, delete + read_all
  mpop       delivery maildir, keep off, tls off, auth user
"""
import os

CLIENTS = ["ours-pop3", "fetchmail-pop3", "getmail-pop3", "mpop-pop3",
           "ours-imap", "fetchmail-imap", "getmail-imap"]


def _maildir(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    return path


def _ours(proto, port, d, up, tools):
    conf = os.path.join(d, "homemail.conf")
    text = """hostname = "bench.example";
state_dir = "{d}/state";
mail_dir = "{d}/mail";
local_domains = [ "bench.example" ];
log = "stderr";
users = ( {{ name = "bench"; }} );
fetcher = {{
  deliver = "local";
  accounts = ( {{ name = "isp"; protocol = "{proto}"; host = "{host}"; port = {port};
                 tls = "none"; user = "{user}"; password = "{pw}"; keep = false; to = "bench"; }} );
}};
""".format(d=d, proto=proto, host=up["host"], port=port, user=up["user"], pw=up["password"])
    os.makedirs(os.path.join(d, "state"))
    md = _maildir(os.path.join(d, "mail", "bench"))
    return [tools["fetcher"], "-c", conf, "--once"], md, {conf: text}


def _fetchmail(proto, port, d, up, tools):
    rc = os.path.join(d, "fetchmailrc")
    md = _maildir(os.path.join(d, "Maildir"))
    # sslproto "": plaintext. Otherwise fetchmail upgrades with STLS/STARTTLS
    # on its own, and certificate checking (on by default) fails the poll.
    text = """set no syslog
poll {host} port {port} proto {proto} timeout 120
  user "{user}" password "{pw}" is nobody here
  fetchall nokeep sslproto ""
  mda "{mda} {md}"
""".format(host=up["host"], port=port, proto=proto, user=up["user"], pw=up["password"],
           mda=tools["mda"], md=md)
    return (["fetchmail", "-f", rc, "-i", os.path.join(d, "fetchids"),
             "--pidfile", os.path.join(d, "fetchmail.pid"), "--nosyslog"], md, {rc: text})


def _getmail(proto, port, d, up, tools):
    rc = os.path.join(d, "getmailrc")
    md = _maildir(os.path.join(d, "Maildir"))
    state = os.path.join(d, "getmail")
    os.makedirs(state)
    typ, extra = ("SimplePOP3Retriever", "") if proto == "pop3" else \
        ("SimpleIMAPRetriever", 'mailboxes = ("INBOX",)\n')
    text = """[retriever]
type = {typ}
server = {host}
port = {port}
username = {user}
password = {pw}
{extra}
[destination]
type = Maildir
path = {md}/

[options]
delete = true
read_all = true
verbose = 0
message_log_syslog = false
""".format(typ=typ, host=up["host"], port=port, user=up["user"], pw=up["password"],
           extra=extra, md=md)
    return ["getmail", "-g", state, "-r", rc], md, {rc: text}


def _mpop(proto, port, d, up, tools):
    rc = os.path.join(d, "mpoprc")
    md = _maildir(os.path.join(d, "Maildir"))
    text = """account bench
host {host}
port {port}
user {user}
password {pw}
tls off
auth user
delivery maildir {md}
uidls_file {d}/mpop.uidls
keep off
""".format(host=up["host"], port=port, user=up["user"], pw=up["password"], md=md, d=d)
    return ["mpop", "-C", rc, "-q", "bench"], md, {rc: text}


_SETUP = {"ours": _ours, "fetchmail": _fetchmail, "getmail": _getmail, "mpop": _mpop}


def setup(client, run_dir, up, tools):
    prog, proto = client.split("-")
    port = up["pop3_port"] if proto == "pop3" else up["imap_port"]
    argv, md, files = _SETUP[prog](proto, port, run_dir, up, tools)
    for path, text in files.items():
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)   # fetchmail and mpop refuse readable secrets
    return argv, md, files
