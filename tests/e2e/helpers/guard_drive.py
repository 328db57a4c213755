#!/usr/bin/env python3
"""Drive requests through `airlock guard` and check what the provider got.

usage: guard_drive.py CASE GUARD_URL RECORD_DIR [ARGS...]

Each case prints "ok: ..." lines for what it checked and exits 1 on the
first failure (with "FAIL: ..." on stderr).  The secret values come from the
environment (GUARD_CANARY, GUARD_CANARY2), never from the command line.
"""
import base64
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse

CASE, URL, REC = sys.argv[1], sys.argv[2], sys.argv[3]
ARGS = sys.argv[4:]
V = os.environ.get("GUARD_CANARY", "").encode()
V2 = os.environ.get("GUARD_CANARY2", "").encode()
MASK = b"[REDACTED:deploy-token]"
u = urllib.parse.urlsplit(URL)
HOST, PORT = u.hostname, u.port


def fail(msg):
    print("FAIL: %s: %s" % (CASE, msg), file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("ok: %s: %s" % (CASE, msg))


def needles(v):
    """Every form of v a leak check looks for."""
    out = [v, base64.b64encode(v), base64.urlsafe_b64encode(v).rstrip(b"="),
           v.hex().encode(), v.hex().upper().encode(),
           "".join("\\u%04x" % c for c in v).encode(),
           urllib.parse.quote(v.decode(), safe="").encode()]
    return [n for n in out if n]


def leaks(body, v):
    return [n for n in needles(v) if n in body]


def recorded():
    names = sorted((int(f.split(".")[0]) for f in os.listdir(REC)
                    if f.endswith(".body")))
    return [open(os.path.join(REC, "%d.body" % n), "rb").read()
            for n in names]


def wait_recorded(n, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        r = recorded()
        if len(r) >= n:
            return r
        time.sleep(0.02)
    fail("the provider recorded %d bodies, expected %d" % (len(recorded()),
                                                          n))


def post(path, body, headers=None, timeout=20):
    c = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    h = {"Content-Type": "application/json", "x-api-key": "sk-provider-key",
         "anthropic-version": "2023-06-01"}
    h.update(headers or {})
    c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def esc_u(v):
    return "".join("\\u%04x" % c for c in v).encode()


def template():
    """(sent, expected) bodies: the canary in several places and forms."""
    b64 = base64.b64encode(V)
    # A hand-written body: odd spacing, escapes, non-ASCII, numbers in
    # several forms -- everything outside the masks must come back as is.
    t = (b'{ "model":"claude-test", "max_tokens" : 1.0e+3,\n'
         b'  "system": [{"type":"text","text":"caf\\u00e9 \xc3\xa9 \\ud83d\\ude00 \\/ ok"}],\n'
         b'  "messages": [\n'
         b'   {"role":"user","content":"my token is @PLAIN@, keep it"},\n'
         b'   {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cat .env"}}]},\n'
         b'   {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"TOKEN=@PLAIN@\\nOTHER=1\\n"}]},\n'
         b'   {"role":"user","content":"escaped: @ESC@ \\"quoted\\" \xe2\x82\xac"},\n'
         b'   {"role":"user","content":[{"type":"text","text":"b64 @B64@ end","cache_control":{"type":"ephemeral"}}]}\n'
         b'  ], "metadata": {"n": -0.5, "t": true, "f": false, "z": null}, "stream": false }')
    sent = (t.replace(b"@PLAIN@", V).replace(b"@ESC@", esc_u(V))
            .replace(b"@B64@", b64))
    want = (t.replace(b"@PLAIN@", MASK).replace(b"@ESC@", MASK)
            .replace(b"@B64@", MASK))
    return sent, want


def case_mask():
    sent, want = template()
    json.loads(sent)
    before = len(recorded())
    st, hdr, data = post("/v1/messages", sent)
    if st != 200:
        fail("status %d: %r" % (st, data[:300]))
    got = wait_recorded(before + 1)[before]
    if leaks(got, V):
        fail("the canary reached the provider: %r" % leaks(got, V))
    ok("no form of the canary reached the provider")
    if got != want:
        fail("the recorded body differs from the sent one with masks "
             "spliced in:\n got %r\nwant %r" % (got, want))
    ok("the body is byte-identical outside the masks (%d bytes)" % len(got))
    json.loads(got)
    if hdr.get("X-Fake-Provider") != "yes":
        fail("the provider's response headers did not come back")
    ok("the response came back with its headers")
    hfile = open(os.path.join(REC, "%d.headers" % (before + 1))).read()
    if "x-api-key: sk-provider-key" not in hfile.lower():
        fail("the provider key header was not forwarded: %r" % hfile)
    ok("the request headers were forwarded")
    # The same input gives the same output.
    st, _, _ = post("/v1/messages", sent)
    got2 = wait_recorded(before + 2)[before + 1]
    if st != 200 or got2 != got:
        fail("a second identical request was masked differently")
    ok("masking is deterministic")


def case_direct():
    """The same request straight to the provider leaks: the check works."""
    sent, _ = template()
    before = len(recorded())
    st, _, _ = post("/v1/messages", sent)
    got = wait_recorded(before + 1)[before]
    if st != 200 or not leaks(got, V):
        fail("without the guard the canary should reach the provider")
    if len(leaks(got, V)) < 3:
        fail("the leak check found only %r" % leaks(got, V))
    ok("without the guard the provider received the canary (%d forms)" %
       len(leaks(got, V)))
    # Kept apart, so that the final leak check covers every other body.
    n = max(int(f.split(".")[0]) for f in os.listdir(REC)
            if f.endswith(".body"))
    os.rename(os.path.join(REC, "%d.body" % n),
              os.path.join(REC, "%d.direct" % n))


def case_block():
    sent, _ = template()
    before = len(recorded())
    st, _, data = post("/v1/messages", sent)
    j = json.loads(data)
    if st != 400 or j.get("type") != "error" or \
            j["error"].get("type") != "invalid_request_error" or \
            "deploy-token" not in j["error"]["message"]:
        fail("--block on /v1/messages: %d %r" % (st, data))
    ok("Anthropic-shaped refusal: %s" % j["error"]["message"])
    st, _, data = post("/v1/chat/completions", sent)
    j = json.loads(data)
    if st != 400 or "error" not in j or j["error"].get("type") != \
            "invalid_request_error" or "param" not in j["error"]:
        fail("--block on /v1/chat/completions: %d %r" % (st, data))
    ok("OpenAI-shaped refusal")
    clean = b'{"messages":[{"role":"user","content":"hello"}]}'
    st, _, _ = post("/v1/messages", clean)
    if st != 200:
        fail("--block refused a clean request")
    time.sleep(0.2)
    got = recorded()[before:]
    if len(got) != 1 or got[0] != clean:
        fail("the provider got %d bodies, expected only the clean one" %
             len(got))
    ok("nothing refused reached the provider; a clean request passed")


def case_thinking():
    body = (b'{"messages":[{"role":"assistant","content":[{"type":'
            b'"thinking","thinking":"the token is ' + V +
            b'","signature":"c2lnbmF0dXJl"},{"type":"text","text":"hi"}]},'
            b'{"role":"user","content":"go on"}]}')
    before = len(recorded())
    st, _, data = post("/v1/messages", body)
    j = json.loads(data)
    if st != 400 or j.get("type") != "error" or \
            "thinking" not in j["error"]["message"]:
        fail("a secret in a thinking block: %d %r" % (st, data))
    ok("refused: %s" % j["error"]["message"])
    # "type" after the text, nested deeper: still a thinking block.
    body = (b'{"messages":[{"content":[{"thinking":"x ' + V +
            b'","signature":"s","type":"thinking"}]}]}')
    st, _, data = post("/v1/messages", body)
    if st != 400:
        fail("thinking block with type last: %d" % st)
    time.sleep(0.2)
    if len(recorded()) != before:
        fail("a refused request reached the provider")
    ok("nothing reached the provider")


def case_text():
    body = b"not json: " + V + b" {"
    before = len(recorded())
    st, _, data = post("/v1/messages", body, {"Content-Type": "text/plain"})
    got = wait_recorded(before + 1)[before]
    if st != 200 or got != b"not json: " + MASK + b" {":
        fail("a text body: %d %r" % (st, got))
    ok("a body that is not JSON is masked as text")


def case_residue():
    """A value outside any string (here a number) cannot be masked."""
    digits = os.environ["GUARD_DIGITS"].encode()
    before = len(recorded())
    st, _, data = post("/v1/responses", b'{"n": ' + digits + b'}')
    j = json.loads(data)
    if st != 400 or "outside any string" not in j["error"]["message"]:
        fail("a value in a number: %d %r" % (st, data))
    time.sleep(0.2)
    if len(recorded()) != before:
        fail("a refused request reached the provider")
    ok("a value in a number is refused: %s" % j["error"]["message"])


def case_too_big():
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (33 * 1024 * 1024))
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    if not data.startswith(b"HTTP/1.1 413"):
        fail("a 33 MiB body: %r" % data[:200])
    ok("a body over 32 MiB is refused with 413 before it is read")
    # Without a Content-Length: chunked, counted as it comes.
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    chunk = b"x" * (1024 * 1024)

    def gen():
        for _ in range(33):
            yield chunk
    try:
        c.request("POST", "/v1/chat/completions", body=gen(),
                  headers={"Content-Type": "application/json"},
                  encode_chunked=True)
        r = c.getresponse()
        st, data = r.status, r.read()
    except (BrokenPipeError, ConnectionResetError):
        fail("the chunked upload was cut without an answer")
    if st != 413 or b"request_too_large" not in data:
        fail("a chunked 33 MiB body: %d %r" % (st, data[:200]))
    ok("a chunked body over 32 MiB is refused with 413 (OpenAI shape)")


def case_target():
    """Only a path is appended to the upstream."""
    before = len(recorded())
    for target in (b"@127.0.0.2:1/v1/messages", b"http://127.0.0.2:1/x"):
        s = socket.create_connection((HOST, PORT), timeout=10)
        s.sendall(b"POST " + target + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 2\r\n\r\n{}")
        data = s.recv(65536)
        s.close()
        if not data.startswith(b"HTTP/1.1 400"):
            fail("target %r: %r" % (target, data[:200]))
    time.sleep(0.2)
    if len(recorded()) != before:
        fail("a request with a bad target was forwarded")
    ok("a request target that is not a path is refused (400)")


def case_compressed():
    """A compressed body cannot be searched: refused, not forwarded."""
    import gzip
    before = len(recorded())
    body = gzip.compress(b'{"messages":[{"role":"user","content":"' + V +
                         b'"}]}')
    for path, shape in (("/v1/messages", "type"), ("/v1/responses",
                                                   "error")):
        st, _, data = post(path, body, {"Content-Encoding": "gzip"})
        j = json.loads(data)
        if st != 415 or shape not in j or \
                "compressed" not in json.dumps(j):
            fail("a gzip body to %s: %d %r" % (path, st, data))
    # A second Content-Encoding behind a first "identity": the provider
    # reads both ("identity, gzip") and would inflate what was searched.
    for ces in ((b"identity", b"gzip"), (b"", b"gzip")):
        s = socket.create_connection((HOST, PORT), timeout=20)
        s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n" +
                  b"".join(b"Content-Encoding: " + ce + b"\r\n"
                           for ce in ces) +
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" %
                  len(body) + body)
        data = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
        s.close()
        if not data.startswith(b"HTTP/1.1 415"):
            fail("Content-Encoding %r: %r" % (ces, data[:200]))
    time.sleep(0.2)
    if len(recorded()) != before:
        fail("a compressed body was forwarded")
    ok("a compressed body is refused (415), not forwarded, whatever "
       "Content-Encoding comes first")


def case_openai():
    """An OpenAI Responses body: the same walk, the same byte identity."""
    t = (b'{"model":"gpt-test","input":[{"role":"user","content":[{"type":'
         b'"input_text","text":"key @@ here"}]},{"type":"function_call_output",'
         b'"call_id":"c1","output":"{\\"token\\": \\"@@\\"}"}],'
         b'"stream":false}')
    sent = t.replace(b"@@", V)
    json.loads(sent)
    want = t.replace(b"@@", MASK)
    before = len(recorded())
    st, _, data = post("/v1/responses", sent,
                       {"Authorization": "Bearer sk-openai-key"})
    got = wait_recorded(before + 1)[before]
    if st != 200 or got != want:
        fail("responses body: %d\n got %r\nwant %r" % (st, got, want))
    ok("an OpenAI Responses body is masked in place")


def case_tls_unverified():
    st, _, data = post("/v1/messages", b'{"messages":[]}')
    j = json.loads(data)
    if st != 502 or "certificate" not in j["error"]["message"].lower():
        fail("an upstream with an unknown CA: %d %r" % (st, data))
    ok("an upstream whose certificate is not trusted: 502: %s" %
       j["error"]["message"])


def case_tls():
    before = len(recorded())
    st, _, data = post("/v1/messages", b'{"messages":[{"role":"user",'
                       b'"content":"' + V + b'"}]}')
    got = wait_recorded(before + 1)[before]
    if st != 200 or leaks(got, V) or MASK not in got:
        fail("over TLS with AIRLOCK_UPSTREAM_CA_FILE: %d %r" % (st, got))
    ok("over verified TLS with a private CA, masked")


def case_down():
    t0 = time.time()
    st, _, data = post("/v1/messages", b'{"messages":[]}')
    dt = time.time() - t0
    j = json.loads(data)
    if st != 502 or j.get("type") != "error" or \
            j["error"]["type"] != "api_error":
        fail("upstream down: %d %r" % (st, data))
    if dt > 5:
        fail("upstream down took %.1f s" % dt)
    ok("upstream down: 502 in the provider's shape in %.2f s: %s" %
       (dt, j["error"]["message"]))


def case_stream():
    pause = float(ARGS[0])
    c = http.client.HTTPConnection(HOST, PORT, timeout=20)
    t0 = time.time()
    c.request("POST", "/v1/messages",
              body=b'{"stream":true,"messages":[{"role":"user","content":'
                   b'"say ' + V + b'"}]}',
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200 or \
            r.getheader("Content-Type") != "text/event-stream":
        fail("stream: %d %s" % (r.status, r.getheader("Content-Type")))
    first = r.read1(65536)
    t1 = time.time() - t0
    rest = r.read()
    t2 = time.time() - t0
    if not first.startswith(b"event: message_start"):
        fail("first bytes: %r" % first[:100])
    if t1 >= pause * 0.8 or t2 < pause:
        fail("not streamed: first event after %.2f s, end after %.2f s "
             "(the provider paused %.1f s)" % (t1, t2, pause))
    if b"message_stop" not in rest:
        fail("the stream was cut: %r" % rest[-200:])
    ok("the first event arrived after %.3f s, the rest after %.2f s" %
       (t1, t2))


def case_rotated():
    """After a rotation both the new value and the old are masked."""
    body = (b'{"messages":[{"role":"user","content":"new ' + V2 +
            b' old ' + V + b'"}]}')
    before = len(recorded())
    st, _, _ = post("/v1/messages", body)
    got = wait_recorded(before + 1)[before]
    if st != 200 or leaks(got, V2) or leaks(got, V):
        fail("after rotation: %d %r" % (st, got))
    if got != b'{"messages":[{"role":"user","content":"new ' + MASK + \
            b' old ' + MASK + b'"}]}':
        fail("after rotation: %r" % got)
    ok("the rotated value is masked without a restart, and the old one")


def case_granted():
    """A secret first refused by policy, then granted, is masked."""
    body = b'{"messages":[{"role":"user","content":"late ' + V2 + b'"}]}'
    before = len(recorded())
    st, _, _ = post("/v1/messages", body)
    got = wait_recorded(before + 1)[before]
    if st != 200 or leaks(got, V2):
        fail("a secret granted later: %d %r" % (st, got))
    if got != (b'{"messages":[{"role":"user","content":"late '
               b'[REDACTED:late-token]"}]}'):
        fail("a secret granted later: %r" % got)
    ok("a secret the policy grants later is masked without a restart")


def case_exposed():
    """A guard started after the secret was marked exposed still masks it."""
    body = b'{"messages":[{"role":"user","content":"again ' + V2 + b'"}]}'
    before = len(recorded())
    st, _, _ = post("/v1/messages", body)
    got = wait_recorded(before + 1)[before]
    if st != 200 or got != (b'{"messages":[{"role":"user","content":'
                            b'"again [REDACTED:deploy-token]"}]}'):
        fail("an exposed secret, new guard: %d %r" % (st, got))
    ok("a guard started after the secret was marked exposed masks it")


def case_unaudited():
    """A request that cannot be audited is not sent."""
    before = len(recorded())
    st, _, data = post("/v1/messages", b'{"messages":[{"role":"user",'
                       b'"content":"' + V + b'"}]}')
    j = json.loads(data)
    if st != 503 or "audit log" not in j["error"]["message"]:
        fail("audit log unwritable: %d %r" % (st, data))
    time.sleep(0.2)
    if len(recorded()) != before:
        fail("an unaudited request reached the provider")
    ok("503 when the audit log cannot be written: %s" %
       j["error"]["message"])


def case_unavailable():
    st, _, data = post("/v1/messages", b'{"messages":[]}')
    j = json.loads(data)
    if st != 503 or j.get("type") != "error":
        fail("values unavailable: %d %r" % (st, data))
    ok("503 while the values cannot be loaded: %s" % j["error"]["message"])


globals()["case_" + CASE]()
