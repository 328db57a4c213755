#!/usr/bin/env python3
"""A local WebSocket server over TLS for the proxy tests (python3-websockets).
On connect it sends "auth=<the Authorization header it got>"; then it
answers each message: "big" gets a 300 kB text message with that header in
its middle, "bin" a binary message holding it, "split" a text message of
two frames with the header cut between them, "ping" a ping, then "pong-ok" once
the pong came; anything else is echoed.  Every message received is logged, one JSON line each."""
import asyncio
import json
import ssl
import sys

import websockets


def main():
    cert, key, bind, portfile, log = sys.argv[1:6]

    async def handler(ws, path=None):
        auth = ws.request_headers.get("Authorization", "")
        with open(log, "a") as f:
            f.write(json.dumps({"headers": dict(ws.request_headers.raw_items())}) + "\n")
        await ws.send("auth=" + auth)
        try:
            async for m in ws:
                with open(log, "a") as f:
                    f.write(json.dumps({"message": m if isinstance(m, str)
                                        else m.decode("latin-1")}) + "\n")
                if m == "big":
                    pad = "x" * 150000
                    await ws.send(pad + auth + pad)
                elif m == "split":
                    k = len("Bearer ") + (len(auth) - len("Bearer ")) // 2
                    await ws.send(["a" * 10 + auth[:k], auth[k:] + "b" * 10])
                elif m == "bin":
                    await ws.send(b"\x00\x01" + auth.encode() + b"\xff")
                elif m == "ping":
                    w = await ws.ping(b"are you there")
                    await w
                    await ws.send("pong-ok")
                else:
                    await ws.send(m)
        except websockets.ConnectionClosed:
            pass

    async def serve():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        async with websockets.serve(handler, bind, 0, ssl=ctx) as srv:
            port = srv.sockets[0].getsockname()[1]
            with open(portfile + ".tmp", "w") as f:
                f.write(str(port))
            import os
            os.rename(portfile + ".tmp", portfile)
            await asyncio.Future()

    asyncio.run(serve())


main()
