#!/usr/bin/env python3
"""The coding agent of the guard step: a minimal agent loop on Anthropic's
Messages API at $ANTHROPIC_BASE_URL, with one tool, read_file, run in the
current directory.  It has no hooks: whatever a file holds enters its
context and goes to the provider with the next request.  It writes its
context (the messages it sent) to CONTEXT_FILE.
Usage: coder.py CONTEXT_FILE PROMPT"""
import json
import os
import sys
import urllib.error
import urllib.request

context_file, prompt = sys.argv[1], sys.argv[2]
url = os.environ["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages"
tools = [{"name": "read_file", "description": "Read a file of the project",
          "input_schema": {"type": "object", "required": ["path"],
                           "properties": {"path": {"type": "string"}}}}]
messages = [{"role": "user", "content": prompt}]
print("agent -> provider: %s" % json.dumps(prompt))
for _ in range(4):
    body = json.dumps({"model": "demo-model", "max_tokens": 1024,
                       "tools": tools, "messages": messages},
                      indent=1).encode()
    with open(context_file, "w") as f:
        json.dump(messages, f)
    req = urllib.request.Request(url, data=body, headers={
        "content-type": "application/json", "anthropic-version": "2023-06-01",
        "x-api-key": os.environ.get("ANTHROPIC_API_KEY", "")})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            resp = json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit("agent: the provider answered %d: %s" %
                 (e.code, e.read().decode(errors="replace")))
    messages.append({"role": "assistant", "content": resp["content"]})
    results = []
    for block in resp["content"]:
        if block["type"] == "text":
            print("model: %s" % block["text"])
        elif block["type"] == "tool_use":
            path = block["input"]["path"]
            print("model -> tool %s %s" % (block["name"],
                                           json.dumps(block["input"])))
            with open(path) as f:
                text = f.read()
            print("agent: read %s (%d lines) into its context" %
                  (path, text.count("\n")))
            results.append({"type": "tool_result",
                            "tool_use_id": block["id"], "content": text})
    if resp.get("stop_reason") != "tool_use":
        break
    messages.append({"role": "user", "content": results})
    print("agent -> provider: the tool result")
