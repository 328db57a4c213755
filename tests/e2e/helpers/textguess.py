# The dictionary attack on the broker's free-text guard, shared by
# t_attack_text_guess and t_attack_text_guess_uids (import it with this
# folder on PYTHONPATH).
#
#   textguess.py dict PASSWORD   3,000 candidates of PASSWORD's shape, one a
#                                line, PASSWORD the 2,500th.
#   search(words, ask)           sends the words 18 at a time (246 bytes) as
#                                the task of a lease through ask(task) ->
#                                (status, reply); a refusal for the text is
#                                the hit, narrowed down by halves.  Prints
#                                the word found ("none") and the count of
#                                each status ("429:12 400:3").
#   post(sock, obj)              a POST /v1/leases of obj on a kept-alive
#                                connection: (status, body).
import json
import random
import string
import sys


def dictionary(pw):
    r = random.SystemRandom()
    w = ["Pw" + "".join(r.choice(string.ascii_lowercase + string.digits)
                        for _ in range(10)) for _ in range(3000)]
    w[2500] = pw
    return w


def post(s, obj):
    b = json.dumps(obj).encode()
    s.sendall(b"POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/json\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
    d = b""
    while b"\r\n\r\n" not in d:
        d += s.recv(65536)
    head, body = d.split(b"\r\n\r\n", 1)
    n = int([l.split(b":")[1] for l in head.split(b"\r\n")
             if l.lower().startswith(b"content-length")][0])
    while len(body) < n:
        body += s.recv(65536)
    return int(head.split()[1]), body[:n]


def search(words, ask):
    codes = {}

    def hit(ws):
        st, reply = ask(" ".join(ws))
        codes[st] = codes.get(st, 0) + 1
        return st == 400 and b"holds the value" in reply
    found = "none"
    for i in range(0, len(words), 18):
        batch = words[i:i + 18]
        if hit(batch):
            while len(batch) > 1:
                half = batch[:len(batch) // 2]
                batch = half if hit(half) else batch[len(batch) // 2:]
            found = batch[0]
            break
    print(found)
    print(" ".join("%d:%d" % kv for kv in sorted(codes.items())))


if __name__ == "__main__" and sys.argv[1:2] == ["dict"]:
    print("\n".join(dictionary(sys.argv[2])))
