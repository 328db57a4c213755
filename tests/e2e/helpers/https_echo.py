#!/usr/bin/env python3
"""A local HTTPS server for the proxy tests: it answers every request with
what it received (method, path, headers, body) as JSON, logs the same to a
file, and under /gzip answers gzip-compressed whatever the client asked
(under /gzip2 in two gzip members).
With a sixth argument DIR, GET /static/PATH serves DIR/PATH (a git
repository over git's "dumb" HTTP protocol)."""
import gzip
import http.server
import json
import ssl
import sys


def main():
    cert, key, bind, portfile, log = sys.argv[1:6]
    static = sys.argv[6] if len(sys.argv) > 6 else None

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            rec = {"method": self.command, "path": self.path,
                   "headers": dict(self.headers.items()),
                   "body": body.decode("latin-1")}
            with open(log, "a") as f:
                f.write(json.dumps(rec) + "\n")
            out = json.dumps(rec).encode()
            if static and self.path.startswith("/static/"):
                import os.path
                rel = os.path.normpath(self.path[8:].split("?")[0])
                full = os.path.join(static, rel)
                if rel.startswith("..") or not os.path.isfile(full):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                out = open(full, "rb").read()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if "Origin" in self.headers:
                # As a CORS server does: the origin shown back.
                self.send_header("Access-Control-Allow-Origin",
                                 self.headers["Origin"])
            if self.path.startswith("/gzip2"):
                # Two gzip members, as concatenated .gz files are.
                half = len(out) // 2
                out = gzip.compress(out[:half]) + gzip.compress(out[half:])
                self.send_header("Content-Encoding", "gzip")
            elif self.path.startswith("/gzip"):
                out = gzip.compress(out)
                self.send_header("Content-Encoding", "gzip")
            if self.path.startswith("/hidden-gzip"):
                # A compressed body behind a first "identity".
                out = gzip.compress(out)
                self.send_header("Content-Encoding", "identity")
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any

    srv = http.server.ThreadingHTTPServer((bind, 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


main()
