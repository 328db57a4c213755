#!/bin/bash
# airlock redact as a broker service: output shows promptly when input
# pauses (as with `tail -f`), other clients' lease requests are answered
# promptly while a large stream is masked, a user runs at most 4 streams at
# once, and each stream is one `redact` audit line with counts, no text.
. "$(dirname "$0")/lib.sh"
init_vault
V=$(canary)
add_secret deploy-token "$V"
LOG="$AIRLOCK_HOME/audit.log"
run "$AL" lease ls
expect_rc 0 "broker"

# --- a paused writer: what a pause releases shows within a second -------
cat >"$T_ROOT/pause.py" <<'PY'
import os, select, subprocess, sys, time
v = os.environ["V"]
p = subprocess.Popen([os.environ["AL"], "redact"] + sys.argv[1:],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
fd = p.stdout.fileno()
def wait_for(want, limit=1.0):
    got, t0 = b"", time.monotonic()
    while time.monotonic() - t0 < limit and want not in got:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            b = os.read(fd, 65536)
            if not b:
                break
            got += b
    return got, time.monotonic() - t0
bad = 0
for line in ("build step 1 done\n", "token %s in use\n" % v, "prompt> "):
    want = line.replace(v, "[REDACTED:deploy-token]").encode()
    p.stdin.write(line.encode())
    got, dt = wait_for(want)
    if want not in got:
        print("not shown within 1 s: %r, got %r" % (want, got)); bad += 1
    elif v.encode() in got:
        print("value shown"); bad += 1
    else:
        print("shown after %d ms" % (dt * 1000))
p.stdin.close()
rest = p.stdout.read()
sys.exit(1 if bad or p.wait() != 0 or v.encode() in rest else 0)
PY
for opt in --no-rules ""; do
	AL="$AL" V="$V" python3 "$T_ROOT/pause.py" $opt >"$OUT" 2>"$ERR"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
	expect_rc 0 "paused input shows promptly (redact $opt): $(cat "$OUT")"
done
tail -1 "$LOG" | grep -qF '"event":"redact","outcome":"ok"' && pass ||
    fail "a stream is not one redact line: $(tail -1 "$LOG")"
tail -1 "$LOG" | grep -qF '"mode":"stream"' && pass || fail "mode stream"
tail -1 "$LOG" | grep -qF '"found":{"deploy-token":1}' && pass ||
    fail "the redact line does not count the value: $(tail -1 "$LOG")"
for ev in grant use; do
	if grep -qF "\"event\":\"$ev\"" "$LOG"; then fail "redact wrote $ev"; else pass; fi
done

# --- lease requests while 50 MB streams are masked --------------------------
python3 - "$T_ROOT/big" "$V" <<'PY'
import sys
line = b"2026-12-07T05:00:00Z INFO request completed in 12 ms user=42 path=/api/v1\n"
with open(sys.argv[1], "wb") as f:
    n = 0
    while n < 50 * 1024 * 1024:
        f.write(line * 1000); n += len(line) * 1000
    f.write(b"the value " + sys.argv[2].encode() + b" at the end\n")
PY
( while [ ! -e "$T_ROOT/stop" ]; do
	"$AL" redact --no-rules <"$T_ROOT/big" >"$T_ROOT/big.out" || break
	touch "$T_ROOT/one-done"
  done ) 2>>"$ALL_OUTPUT" &
LOOP=$!
sleep 0.2
cat >"$T_ROOT/lat.py" <<'PY'
import json, socket, sys, time
path = sys.argv[1]
def call(method, url, body):
    s = socket.socket(socket.AF_UNIX); s.connect(path)
    b = json.dumps(body).encode() if body is not None else b""
    s.sendall(("%s %s HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, url, len(b))).encode() + b)
    data = b""
    while True:
        c = s.recv(65536)
        if not c: break
        data += c
    s.close()
    return int(data.split(b" ", 2)[1])
lat = []
for i in range(20):
    t0 = time.monotonic()
    st = call("POST", "/v1/leases", {"secret": "deploy-token", "intent": "t"})
    lat.append((time.monotonic() - t0) * 1000)
    if st != 201:
        print("status", st); sys.exit(1)
    time.sleep(0.03)
lat.sort()
print("lease latency ms: median %.1f p95 %.1f max %.1f" % (lat[10], lat[18], lat[19]))
sys.exit(0 if lat[18] < 200 else 1)
PY
python3 "$T_ROOT/lat.py" "$AIRLOCK_SOCKET" >"$OUT" 2>"$ERR"
RC=$?
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
touch "$T_ROOT/stop"
wait "$LOOP"
expect_rc 0 "leases answered within 200 ms (p95) during 50 MB streams: $(cat "$OUT")"
echo "$(cat "$OUT")"
[ -e "$T_ROOT/one-done" ] && pass || fail "no 50 MB stream completed"
tail -1 "$T_ROOT/big.out" | grep -qxF "the value [REDACTED:deploy-token] at the end" &&
    pass || fail "the 50 MB stream's value is not masked"
cmp -s <(head -c 52428800 "$T_ROOT/big") <(head -c 52428800 "$T_ROOT/big.out") &&
    pass || fail "the 50 MB stream's text changed"
rm -f "$T_ROOT/big" "$T_ROOT/big.out"

# --- at most 4 streams of one user at once ---------------------------------
cat >"$T_ROOT/limit.py" <<'PY'
import socket, sys, time
path = sys.argv[1]
req = (b"POST /v1/redact/stream HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
       b"Upgrade: airlock-redact\r\nContent-Length: 0\r\n\r\n")
def open_one():
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.sendall(req)
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c: break
        head += c
    return s, int(head.split(b" ", 2)[1])
socks = [open_one() for _ in range(5)]
codes = [c for _, c in socks]
print("codes", codes)
ok = codes == [101, 101, 101, 101, 429]
socks[0][0].sendall(b"E\0\0\0\0")          # end one stream properly
end = socks[0][0].recv(13)
ok = ok and end[:1] == b"E"
socks[0][0].close()
for _ in range(30):                           # the broker reaps it at once
    s, c = open_one()
    if c != 429:
        break
    s.close(); time.sleep(0.1)
print("after one ended", c)
ok = ok and c == 101
for x, _ in socks[1:]:
    x.close()                                 # gone without an end
s.close()
sys.exit(0 if ok else 1)
PY
python3 "$T_ROOT/limit.py" "$AIRLOCK_SOCKET" >"$OUT" 2>"$ERR"
RC=$?
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_rc 0 "4 streams per user: $(cat "$OUT")"
for _ in $(seq 30); do
	grep -F '"event":"redact","outcome":"error"' "$LOG" |
	    grep -qF 'went away' && break
	sleep 0.1
done
grep -F '"event":"redact","outcome":"error"' "$LOG" | grep -qF 'went away' &&
    pass || fail "a stream cut short is not audited as an error"

# Six at once: four are taken, however the requests interleave (once the
# four streams left above are reaped).
for _ in $(seq 30); do
	[ "$(grep -c '"error":"the client went away' "$LOG")" -ge 4 ] && break
	sleep 0.1
done
python3 - "$AIRLOCK_SOCKET" >"$OUT" 2>"$ERR" <<'PY'
import socket, sys
req = (b"POST /v1/redact/stream HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
       b"Upgrade: airlock-redact\r\nContent-Length: 0\r\n\r\n")
socks = []
for _ in range(6):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
for s in socks:
    s.sendall(req)
codes = sorted(int(s.recv(4096).split(b" ", 2)[1]) for s in socks)
print("codes", codes)
sys.exit(0 if codes == [101] * 4 + [429] * 2 else 1)
PY
RC=$?
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_rc 0 "six stream requests at once: $(cat "$OUT")"

# A stream request without the upgrade is refused.
python3 - "$AIRLOCK_SOCKET" >"$OUT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"POST /v1/redact/stream HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
expect_out "HTTP/1.1 400" "a stream request without the upgrade"

# The broker stopping cuts a stream short: redact fails, the line says why.
(sleep 3; echo late) | "$AL" redact --no-rules >"$OUT" 2>"$ERR" &
RP=$!
sleep 1	# the stream is open long before its input comes
kill "$(cat "$AIRLOCK_HOME/airlockd.pid")"
wait "$RP"
RC=$?
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_rc 2 "redact when the broker stops"
expect_err "the broker closed the redaction stream" "redact when the broker stops"
for _ in $(seq 30); do
	grep -qF '"error":"the broker stopped"' "$LOG" && break
	sleep 0.1
done
grep -qF '"error":"the broker stopped"' "$LOG" && pass ||
    fail "a stream cut by the broker's stop is not audited"

check_no_leak "$V"
done_testing
