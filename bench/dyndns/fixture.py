"""bench/dyndns: a dyndns2 provider and check-IP page over HTTPS, in a thread
of the driver, loopback only. Every request is kept with the simulated time.

  f = Fixture(cert, key, password).start()    # f.url = "https://127.0.0.1:PORT"
  f.sim0, f.real0 = T, time.time()            # sim-now = sim0 + (real-now - real0)
  f.ip4 = "81.2.69.10"                         # the check-IP page's body (any text)
  f.answer = None                              # None: good/nochg/badauth per host; or literal
  f.password = "..."                           # what the provider accepts
  f.requests                                   # [{"sim", "kind", "path", "q", "user",
                                               #   "pw_ok", "served", "peer"}]

The driver runs one client at a time per fixture and sets the clock before
each run, so a request's simulated time is the poll's time plus the real time
the run took (libfaketime's "@T" runs the client's clock at x1 from T).
Unlike the integration tests' dynhttp.py it never logs a password, only
whether it matched.
"""
import base64
import http.server
import socket
import ssl
import threading
import time
import urllib.parse


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def _reply(self, body, ctype="text/plain"):
        data = (body + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's name
        f = self.server.owner
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        user, pw_ok = "", None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                up = base64.b64decode(auth[6:]).decode("utf-8", "replace")
            except ValueError:
                up = ""
            user, _, pw = up.partition(":")
            pw_ok = pw == f.password
        with f.lock:
            if u.path in ("/ip4", "/"):
                kind, served = "checkip", f.ip4
            elif u.path == "/nic/update":
                kind = "update"
                if f.answer is not None:
                    served = f.answer
                elif not pw_ok:
                    served = "badauth"
                else:
                    # as real dyndns2 servers do: no or empty myip means the
                    # connection's source address
                    ip = q.get("myip") or self.client_address[0]
                    word = "nochg" if f.published == ip else "good"
                    f.published = ip
                    served = "%s %s" % (word, ip)
            else:
                kind, served = "other", "404"
            f.requests.append({"sim": round(f.sim0 + time.time() - f.real0, 1), "kind": kind,
                               "path": u.path, "q": q, "user": user, "pw_ok": pw_ok,
                               "served": served, "peer": self.client_address[0]})
        self._reply(served, "text/html" if served.startswith("<") else "text/plain")


class Fixture:
    def __init__(self, cert, key, password):
        self.cert, self.key = cert, key
        self.password = password
        self.ip4 = ""
        self.answer = None
        self.published = None
        self.requests = []
        self.sim0, self.real0 = 0, time.time()
        self.lock = threading.Lock()
        self._httpd = None

    def start(self):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.owner = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        httpd.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        return self

    def set_clock(self, sim):
        with self.lock:
            self.sim0, self.real0 = sim, time.time()

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
