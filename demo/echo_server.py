#!/usr/bin/env python3
"""A local stand-in for an API: it answers every request with the bearer
token it was sent, plainly, in base64 and in hex, as a careless service or
a verbose client might.  Prints its port on stdout, then serves.
With CERT KEY [ADDRESS]: HTTPS on ADDRESS (default 127.0.0.1)."""
import base64
import http.server
import ssl
import sys


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = (
            f"authenticated with token {token}\n"
            f"debug: base64 {base64.b64encode(token.encode()).decode()}\n"
            f"debug: hex {token.encode().hex()}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


addr = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
server = http.server.HTTPServer((addr, 0), Echo)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
