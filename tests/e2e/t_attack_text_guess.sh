#!/bin/bash
# The broker refuses free text that holds a secret's value, which answers
# whether a guess was right.  A caller on the broker's socket must not be
# able to try a dictionary against a plain password through that answer:
# a text that passes says every window of it was wrong, and costs nothing
# in refusals, and one text holds dozens of guesses.  So each user may have
# only so much new text checked a minute; texts it repeats stay free.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "skip: python3"; exit 0; }
init_vault
PW="Pw$(head -c 256 /dev/urandom | tr -dc 'a-z0-9' | head -c 10)"
add_secret prod-db "$PW"
"$AL" lease ls >>"$ALL_OUTPUT" 2>&1	# starts the broker

# 3,000 candidate passwords of the same shape, the real one 2,500th.
python3 - "$PW" >"$T_ROOT/dict" <<'PY'
import random, string, sys
r = random.SystemRandom()
w = ["Pw" + "".join(r.choice(string.ascii_lowercase + string.digits)
                    for _ in range(10)) for _ in range(3000)]
w[2500] = sys.argv[1]
print("\n".join(w))
PY

# Raw requests on one kept-alive connection: a lease of a name that cannot
# be a secret, the candidates in its task, 18 at a time (246 bytes); a refusal for the
# task's text is the hit, narrowed down by halves.
cat >"$T_ROOT/guess.py" <<'PY'
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["AIRLOCK_SOCKET"])
def req(task):
    b = json.dumps({"secret": "!", "task": task}).encode()
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
words = open(sys.argv[1]).read().split()
codes = {}
def hit(ws):
    st, body = req(" ".join(ws))
    codes[st] = codes.get(st, 0) + 1
    return st == 400 and b"holds the value" in body
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
PY
run python3 "$T_ROOT/guess.py" "$T_ROOT/dict"
expect_rc 0 "the guessing client"
FOUND=$(head -1 "$OUT")
[ "$FOUND" != "$PW" ] && pass ||
    fail "a dictionary of 3,000 guesses on the broker's socket found the password ($(tail -1 "$OUT"))"
case "$(tail -1 "$OUT")" in
*429:*) pass ;;
*) fail "no guess was refused unchecked: $(tail -1 "$OUT")" ;;
esac
rm -f "$OUT"

# A user who sent too much new text this minute is told so (what is left
# of the minute's bytes is less than one batch of guesses).
LONG=$(for i in $(seq 25); do printf 'step %03d, ' "$i"; done)
run "$AL" run --task "$LONG" -e T=prod-db -- true
expect_rc 125 "a run with new text past the user's limit"
expect_err "more new free text this minute than is checked"

# Texts a caller repeats are checked again at no cost: a fresh broker, one
# task and intent sent by 200 leases.
"$AL" stop >>"$ALL_OUTPUT" 2>&1
"$AL" lease ls >>"$ALL_OUTPUT" 2>&1
cat >"$T_ROOT/repeat.py" <<'PY'
import json, os, socket
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["AIRLOCK_SOCKET"])
codes = {}
for i in range(200):
    b = json.dumps({"secret": "prod-db", "ttl": 5,
                    "task": "fix the login form's validation (issue 4211)",
                    "intent": "run the integration tests against staging "
                              "before the release of the new login form"
                    }).encode()
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
    st = int(head.split()[1])
    codes[st] = codes.get(st, 0) + 1
print(" ".join("%d:%d" % kv for kv in sorted(codes.items())))
PY
run python3 "$T_ROOT/repeat.py"
expect_eq "$(cat "$OUT")" "201:200" "200 leases repeating one task and intent"
run "$AL" run --task "another task" -e T=prod-db -- true
expect_rc 0 "a run with a new task after 200 repeated ones"

"$AL" stop >>"$ALL_OUTPUT" 2>&1
check_no_leak "$PW"
done_testing
