#!/usr/bin/env python3
"""A fake model provider on loopback for the guard's tests.

Listens on 127.0.0.1 (port 0 unless given), prints its port on the first
line of stdout, and records every request it receives under RECORD_DIR as
N.body (the body, byte for byte), N.path and N.headers.  It speaks enough of
the Anthropic Messages API: POST /v1/messages with "stream": true answers
with server-sent events, the first one at once and the rest after
FAKE_PROVIDER_PAUSE seconds (to show that they stream through); any other
request gets a small JSON answer.

With FAKE_PROVIDER_TLS_CERT and FAKE_PROVIDER_TLS_KEY it serves HTTPS.

With FAKE_PROVIDER_SCRIPT=agent it plays a model driving a real coding
agent: a request that offers tools and carries no tool result yet is
answered with a tool call -- Bash running FAKE_PROVIDER_COMMAND (on
/v1/messages, Anthropic's Messages API; on /v1/responses, OpenAI's Responses
API, Codex's exec_command) -- and every other request with a short text turn, so the agent runs the command, sends
its output back as a tool result, and ends.
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
SCRIPT = os.environ.get("FAKE_PROVIDER_SCRIPT", "")
COMMAND = os.environ.get("FAKE_PROVIDER_COMMAND", "cat config.yml")
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


def has_tool_result(req):
    for m in req.get("messages", []):
        c = m.get("content")
        if isinstance(c, list) and any(isinstance(b, dict) and
                                       b.get("type") == "tool_result"
                                       for b in c):
            return True
    return False


def turn(req):
    """The scripted model's content blocks and stop reason."""
    if req.get("tools") and not has_tool_result(req):
        return ([{"type": "tool_use", "id": "toolu_01fake",
                  "name": "Bash", "input": {"command": COMMAND,
                                            "description": "read it"}}],
                "tool_use")
    return [{"type": "text", "text": "done"}], "end_turn"


def message_events(req):
    blocks, stop = turn(req)
    usage = {"input_tokens": 10, "output_tokens": 1,
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    ev = [("message_start", {"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant",
        "model": req.get("model", "fake"), "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": usage}})]
    for i, b in enumerate(blocks):
        if b["type"] == "tool_use":
            ev.append(("content_block_start", {
                "type": "content_block_start", "index": i,
                "content_block": {"type": "tool_use", "id": b["id"],
                                  "name": b["name"], "input": {}}}))
            ev.append(("content_block_delta", {
                "type": "content_block_delta", "index": i,
                "delta": {"type": "input_json_delta",
                          "partial_json": json.dumps(b["input"])}}))
        else:
            ev.append(("content_block_start", {
                "type": "content_block_start", "index": i,
                "content_block": {"type": "text", "text": ""}}))
            ev.append(("content_block_delta", {
                "type": "content_block_delta", "index": i,
                "delta": {"type": "text_delta", "text": b["text"]}}))
        ev.append(("content_block_stop", {"type": "content_block_stop",
                                          "index": i}))
    ev.append(("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": stop,
                                           "stop_sequence": None},
                                 "usage": {"output_tokens": 5}}))
    ev.append(("message_stop", {"type": "message_stop"}))
    return ev, {"id": "msg_fake", "type": "message", "role": "assistant",
                "model": req.get("model", "fake"), "content": blocks,
                "stop_reason": stop, "stop_sequence": None, "usage": usage}


def responses_events(req):
    """The OpenAI Responses API's stream for the scripted model."""
    tools = [t.get("name") for t in req.get("tools", [])
             if isinstance(t, dict)]
    done = any(isinstance(i, dict) and i.get("type") ==
               "function_call_output" for i in req.get("input", []))
    if "exec_command" in tools and not done:
        item = {"type": "function_call", "id": "fc_fake", "call_id":
                "call_fake", "name": "exec_command",
                "arguments": json.dumps({"cmd": COMMAND})}
    elif "shell" in tools and not done:
        item = {"type": "function_call", "id": "fc_fake", "call_id":
                "call_fake", "name": "shell",
                "arguments": json.dumps({"command": ["bash", "-lc",
                                                     COMMAND]})}
    else:
        item = {"type": "message", "id": "msg_fake", "role": "assistant",
                "status": "completed", "content": [
                    {"type": "output_text", "text": "done",
                     "annotations": []}]}
    usage = {"input_tokens": 10, "input_tokens_details": None,
             "output_tokens": 5, "output_tokens_details": None,
             "total_tokens": 15}
    return [("response.created", {"type": "response.created",
                                  "response": {"id": "resp_fake"}}),
            ("response.output_item.done", {
                "type": "response.output_item.done", "output_index": 0,
                "item": item}),
            ("response.completed", {"type": "response.completed",
                                    "response": {"id": "resp_fake",
                                                 "usage": usage}})]


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
        if (SCRIPT == "agent" and isinstance(req, dict) and
                self.path.startswith("/v1/responses")):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for name, data in responses_events(req):
                self.chunk(sse(name, data))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if (SCRIPT == "agent" and isinstance(req, dict) and
                self.path.startswith("/v1/messages") and
                "count_tokens" not in self.path):
            events, whole = message_events(req)
            if req.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for name, data in events:
                    self.chunk(sse(name, data))
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            out = json.dumps(whole).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
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
        if "count_tokens" in self.path:
            out = json.dumps({"input_tokens": 10}).encode()
        else:
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
if os.environ.get("FAKE_PROVIDER_TLS_CERT"):
    # HTTPS with the given certificate and key (PEM).
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["FAKE_PROVIDER_TLS_CERT"],
                        os.environ["FAKE_PROVIDER_TLS_KEY"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
