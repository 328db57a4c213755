#!/usr/bin/env python3
"""A stand-in for a model provider, on loopback only, for the agent
end-to-end tests: Anthropic's Messages API (/v1/messages, Claude Code) and
OpenAI's Responses API (/v1/responses, Codex), both streaming.  The "model"
asks for one scripted tool call, then ends its turn once the tool's result
comes back.  Every request body is appended to a log (one JSON line each),
so a test can check what the provider would have received.

Usage: fake_provider.py LOG TOOL_JSON   (prints the port it listens on)
  TOOL_JSON: {"name": "Bash", "input": {"command": "..."}}; for Codex the
  command goes to its shell tool (exec_command, or shell).
"""
import http.server
import json
import socketserver
import sys

LOG, TOOL = sys.argv[1], json.loads(sys.argv[2])


def has_tool_result(body):
    for m in body.get("messages", []):
        c = m.get("content")
        if isinstance(c, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in c):
            return True
    return False


def events(body):
    model = body.get("model", "fake")
    usage = {"input_tokens": 10, "output_tokens": 5}
    yield "message_start", {"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}}
    if has_tool_result(body) or not body.get("tools"):
        yield "content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": "done."}}
        stop = "end_turn"
    else:
        yield "content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "tool_use", "id": "toolu_fake1",
                                                        "name": TOOL["name"], "input": {}}}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": json.dumps(TOOL["input"])}}
        stop = "tool_use"
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": 5}}
    yield "message_stop", {"type": "message_stop"}


def responses_events(body):
    """The Responses API stream: one function call, or a final message."""
    tools = [t.get("name") for t in body.get("tools", []) if isinstance(t, dict)]
    done = any(isinstance(i, dict) and i.get("type") == "function_call_output"
               for i in body.get("input", []))
    cmd = TOOL["input"]["command"]
    if not done and "exec_command" in tools:
        item = {"type": "function_call", "id": "fc_fake", "call_id": "call_fake",
                "name": "exec_command", "arguments": json.dumps({"cmd": cmd})}
    elif not done and "shell" in tools:
        item = {"type": "function_call", "id": "fc_fake", "call_id": "call_fake",
                "name": "shell",
                "arguments": json.dumps({"command": ["bash", "-lc", cmd]})}
    else:
        item = {"type": "message", "id": "msg_fake", "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "done.",
                             "annotations": []}]}
    usage = {"input_tokens": 10, "input_tokens_details": None,
             "output_tokens": 5, "output_tokens_details": None,
             "total_tokens": 15}
    return [("response.created", {"type": "response.created",
                                  "response": {"id": "resp_fake"}}),
            ("response.output_item.done", {"type": "response.output_item.done",
                                           "output_index": 0, "item": item}),
            ("response.completed", {"type": "response.completed",
                                    "response": {"id": "resp_fake",
                                                 "usage": usage}})]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        d = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(d)))
        self.end_headers()
        self.wfile.write(d)

    def do_GET(self):
        self.reply(404, {"type": "error", "error": {"type": "not_found_error",
                                                    "message": "fake provider"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(LOG, "ab") as f:
            f.write(json.dumps({"path": self.path}).encode() + b"\n")
            f.write(raw.replace(b"\n", b" ") + b"\n")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if self.path.startswith("/v1/responses"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for name, e in responses_events(body):
                self.wfile.write(("event: %s\ndata: %s\n\n" %
                                  (name, json.dumps(e))).encode())
                self.wfile.flush()
            self.close_connection = True
            return
        if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
            self.reply(200, {"input_tokens": 10})
            return
        evs = list(events(body))
        if not body.get("stream"):
            msg = evs[0][1]["message"]
            blocks, text = [], ""
            for name, e in evs:
                if name == "content_block_start":
                    blocks.append(dict(e["content_block"]))
                elif name == "content_block_delta":
                    d = e["delta"]
                    if d["type"] == "text_delta":
                        blocks[-1]["text"] += d["text"]
                    else:
                        blocks[-1]["input"] = json.loads(d["partial_json"])
                elif name == "message_delta":
                    msg["stop_reason"] = e["delta"]["stop_reason"]
            msg["content"] = blocks
            self.reply(200, msg)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, e in evs:
            self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(e))).encode())
            self.wfile.flush()
        self.close_connection = True


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
