#!/usr/bin/env python3
"""Latency of requests through `airlock guard` against the same requests
sent to the provider directly (bench/guard.sh starts both).

usage: guard_client.py DIRECT_URL GUARD_URL N
The body (~200 KB of JSON conversation) is read from stdin, already holding
whatever values the run wants masked.  Prints p50/p99 of each path and of
their difference, for a whole request and for the first streamed byte.
"""
import http.client
import sys
import time
import urllib.parse


def conn(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def one(c, body, stream):
    t0 = time.perf_counter()
    c.request("POST", "/v1/messages", body=body,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    first = r.read1(1) if stream else b""
    t1 = time.perf_counter()
    rest = r.read()
    t2 = time.perf_counter()
    if r.status != 200 or not (first + rest):
        sys.exit("bench: status %d" % r.status)
    return (t1 - t0) * 1e3, (t2 - t0) * 1e3


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def measure(url, body, n, stream):
    c = conn(url)
    for _ in range(5):
        one(c, body, stream)
    first, whole = [], []
    for _ in range(n):
        a, b = one(c, body, stream)
        first.append(a)
        whole.append(b)
    c.close()
    return first, whole


direct, guard, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = sys.stdin.buffer.read()
# Interleave the two paths in rounds so drift hits both alike.
dw, gw = [], []
for _ in range(4):
    dw += measure(direct, body, n // 4, False)[1]
    gw += measure(guard, body, n // 4, False)[1]
print("body %d bytes, %d requests each path" % (len(body), len(dw)))
print("direct: p50 %.2f ms  p99 %.2f ms" % (pct(dw, 50), pct(dw, 99)))
print("guard:  p50 %.2f ms  p99 %.2f ms" % (pct(gw, 50), pct(gw, 99)))
print("added:  p50 %.2f ms  p99 %.2f ms" % (pct(gw, 50) - pct(dw, 50),
                                           pct(gw, 99) - pct(dw, 99)))
sbody = b'{"stream":true,"messages":[{"role":"user","content":"hi"}]}'
df, gf = [], []
for _ in range(4):
    df += measure(direct, sbody, n // 4, True)[0]
    gf += measure(guard, sbody, n // 4, True)[0]
print("first streamed byte: direct p50 %.2f ms, guard p50 %.2f ms, "
      "added %.2f ms" % (pct(df, 50), pct(gf, 50), pct(gf, 50) - pct(df, 50)))
