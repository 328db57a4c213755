# One HTTP/1.1 request at a time on a kept-alive connection to the broker's
# socket, for the tests that send exactly the requests they mean (lib.sh
# puts this folder on PYTHONPATH).
import json


def request(s, method, path, body=None):
    """Send METHOD PATH on the connected socket s with body (bytes, str, or
    an object sent as JSON; None: no body).  Returns (status, body bytes);
    status 0 when the connection closed before a reply."""
    if body is None:
        data = b""
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    head = "%s %s HTTP/1.1\r\nHost: airlock\r\nContent-Length: %d\r\n" % (
        method, path, len(data))
    if body is not None:
        head += "Content-Type: application/json\r\n"
    s.sendall(head.encode() + b"\r\n" + data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            return 0, b""
        buf += c
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        c = s.recv(65536)
        if not c:
            break
        rest += c
    return int(head.split()[1]), rest[:n]
