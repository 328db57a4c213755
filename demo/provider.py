#!/usr/bin/env python3
"""A local stand-in for a model provider: Anthropic's Messages API (not
streamed) on 127.0.0.1.  It keeps every request body it receives, byte for
byte, as RECORD_DIR/N.json -- what a provider would retain -- and plays a
model that first asks to read .env, then answers.  Prints its port on
stdout, then serves.  Usage: provider.py RECORD_DIR"""
import http.server
import json
import os
import sys
import threading

RECORD_DIR = sys.argv[1]
_lock = threading.Lock()
_count = [0]


def has_tool_result(req):
    return any(isinstance(m.get("content"), list) and
               any(b.get("type") == "tool_result" for b in m["content"])
               for m in req.get("messages", []))


class Provider(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _lock:
            _count[0] += 1
            path = os.path.join(RECORD_DIR, "%d.json" % _count[0])
        with open(path, "wb") as f:
            f.write(body)
        req = json.loads(body)
        if has_tool_result(req):
            content = [{"type": "text", "text": "The deploy reads its "
                        "token from .env; run it with `airlock run -e "
                        "TOKEN=deploy-token` instead."}]
            stop = "end_turn"
        else:
            content = [{"type": "tool_use", "id": "toolu_01", "name":
                        "read_file", "input": {"path": ".env"}}]
            stop = "tool_use"
        out = json.dumps({"id": "msg_%d" % _count[0], "type": "message",
                          "role": "assistant", "model": req.get("model"),
                          "content": content, "stop_reason": stop,
                          "usage": {"input_tokens": 1,
                                    "output_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Provider)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
