#!/usr/bin/env python3
"""A fake model provider on loopback for the guard's tests.

Listens on 127.0.0.1 (port 0 unless given), prints its port on the first
line of stdout, and records every request it receives under RECORD_DIR as
N.body (the body, byte for byte), N.path and N.headers.  It speaks enough of
the Anthropic Messages API: POST /v1/messages with "stream": true answers
with server-sent events, the first one at once and the rest after
FAKE_PROVIDER_PAUSE seconds (to show that they stream through); any other
request gets a small JSON answer.
"""
import http.server
import json
import os
import socketserver
import sys
import threading
import time

RECORD_DIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
PAUSE = float(os.environ.get("FAKE_PROVIDER_PAUSE", "1.0"))
_lock = threading.Lock()
_count = [0]


def record(path, headers, body):
    with _lock:
        _count[0] += 1
        n = _count[0]
    base = os.path.join(RECORD_DIR, str(n))
    with open(base + ".headers", "w") as f:
        for k, v in headers.items():
            f.write("%s: %s\n" % (k, v))
    with open(base + ".path", "w") as f:
        f.write(path)
    # The body last: a reader waits for it.
    with open(base + ".body.tmp", "wb") as f:
        f.write(body)
    os.rename(base + ".body.tmp", base + ".body")


def sse(event, data):
    return ("event: %s\ndata: %s\n\n" % (event, json.dumps(data))).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def chunk(self, b):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        record(self.path, self.headers, body)
        try:
            req = json.loads(body)
        except ValueError:
            req = None
        if (self.path.startswith("/v1/messages") and
                isinstance(req, dict) and req.get("stream")):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Fake-Provider", "yes")
            self.end_headers()
            self.chunk(sse("message_start", {"type": "message_start",
                "message": {"id": "msg_1", "type": "message",
                            "role": "assistant", "content": [],
                            "model": "fake"}}))
            time.sleep(PAUSE)
            self.chunk(sse("content_block_start", {
                "type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}))
            self.chunk(sse("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": "done"}}))
            self.chunk(sse("content_block_stop", {
                "type": "content_block_stop", "index": 0}))
            self.chunk(sse("message_stop", {"type": "message_stop"}))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        out = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Fake-Provider", "yes")
        self.end_headers()
        self.wfile.write(out)

    do_PUT = do_POST

    def do_GET(self):
        record(self.path, self.headers, b"")
        out = b'{"data":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", PORT), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
