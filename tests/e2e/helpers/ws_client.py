#!/usr/bin/env python3
"""A WebSocket client (python3-websockets) for the proxy tests, through the
proxy named by $HTTPS_PROXY (CONNECT by hand: websockets 10 has no proxy
support) and trusting $SSL_CERT_FILE.  ws_client.py URL MODE [HEADER=V...]
prints one line per step; MODE: ok, hold, leak, leak-split, leak-b64, leak-bin."""
import asyncio
import base64
import os
import signal
import socket
import ssl
import sys
import urllib.parse

import websockets


def tunnel(host, port):
    p = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
    auth = base64.b64encode(f"{p.username}:{p.password}".encode()).decode()
    s = socket.create_connection((p.hostname, p.port))
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
              f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    got = b""
    while b"\r\n\r\n" not in got:
        c = s.recv(1)
        if not c:
            break
        got += c
    if not got.startswith(b"HTTP/1.1 200"):
        raise SystemExit("CONNECT: " + got.decode(errors="replace"))
    return s


async def main():
    url, mode = sys.argv[1], sys.argv[2]
    headers = [tuple(h.split("=", 1)) for h in sys.argv[3:]]
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    tok = os.environ.get("TOK", "")
    try:
        ws = await websockets.connect(url, sock=tunnel(u.hostname, u.port),
                                      ssl=ctx, server_hostname=u.hostname,
                                      extra_headers=headers,
                                      open_timeout=10)
    except websockets.InvalidStatusCode as e:
        print("handshake", e.status_code)
        return
    print("extensions", ws.response_headers.get("Sec-WebSocket-Extensions", "none"))
    print("greeting", await ws.recv())
    try:
        if mode == "ok":
            await ws.send("hello")
            print("echo", await ws.recv())
            await ws.send("big")
            m = await ws.recv()
            print("big", len(m), m.count("[REDACTED:"), m[150000:150040])
            await ws.send("bin")
            print("bin", (await ws.recv())[:40])
            await ws.send("split")
            print("split", await ws.recv())
            await ws.send("ping")
            print("ping", await ws.recv())
            await ws.close()
            print("closed", ws.close_code)
            return
        if mode == "hold":
            # Wait for the run to end under the open connection.  The run
            # also ends its command when a lease ends (SIGTERM, then a
            # grace period): this waits through that for the proxy to
            # close the connection, which is what the test looks at.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("open")
            sys.stdout.flush()
            await asyncio.wait_for(ws.recv(), 20)
            print("unexpected message")
            return
        if mode == "leak":
            await ws.send("my token is " + tok)
        elif mode == "leak-split":
            # One message in two fragments, the placeholder cut in two.
            await ws.send(["first half " + tok[:10], tok[10:] + " rest"])
        elif mode == "leak-b64":
            await ws.send("b64 " + base64.b64encode(tok.encode()).decode())
        elif mode == "leak-bin":
            await ws.send(b"\x00" + tok.encode())
        print("reply", await asyncio.wait_for(ws.recv(), 10))
    except websockets.ConnectionClosed as e:
        print("closed", e.code, e.reason)


asyncio.run(main())
