#!/bin/bash
# The broker keeps serving through floods: connectors in a planted deep
# directory (a .git file at every level) and 4,100 idle connections of the
# same user; another client's `lease ls` and GET /v1/health are answered
# within a bound meanwhile.  The repository lookup is bounded and cached.
. "$(dirname "$0")/lib.sh"

S="$AIRLOCK_SOCKET"
ulimit -n 8192 2>/dev/null || true
ms() { date +%s%3N; }
# served WHAT: `airlock lease ls` and GET /v1/health answer within 3 s
# (2 cores shared with the flood).
served() {
	t0=$(ms)
	run timeout 10 "$AL" lease ls
	t1=$(ms)
	expect_rc 0 "lease ls during $1"
	[ $((t1 - t0)) -lt 3000 ] && pass || fail "lease ls took $((t1 - t0)) ms during $1"
	# A client that waits for the listen queue (a blocking connect, as
	# most do) rather than giving up when it is full at that instant.
	t0=$(ms)
	CODE=$(timeout 10 python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["AIRLOCK_SOCKET"])
s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
print(s.recv(4096).split(b" ")[1].decode())')
	t1=$(ms)
	expect_eq "$CODE" 200 "health during $1"
	[ $((t1 - t0)) -lt 3000 ] && pass || fail "health took $((t1 - t0)) ms during $1"
}

init_vault
V1=$(canary)
add_secret deploy-token "$V1"
add_secret gated "$(canary)"
# A rule naming repositories: the broker looks the caller's one up.
cat >"$AIRLOCK_HOME/policy.yaml" <<YAML
version: 1
rules:
  - id: acme-only
    effect: deny
    secrets: [deploy-token]
    repos: ["github.com/other/*"]
    reason: not for other repositories
  - id: gated
    effect: approval
    secrets: [gated]
    approvers: ["unix:uid:$(id -u)"]
  - id: owner
    effect: allow
    callers: ["unix:uid:$(id -u)"]
YAML
run "$AL" lease ls
expect_rc 0 "broker up"
BP=$(cat "$AIRLOCK_HOME/airlockd.pid")

# --- a planted deep directory ---------------------------------------------
python3 - "$T_ROOT" <<'PY'
import os, sys
t = sys.argv[1]
os.makedirs(t + "/deepgit", exist_ok=True)
pad = b" " * (64 * 1024 - 200)
open(t + "/deepgit/config", "wb").write(b"[core]\n" + pad)
open(t + "/deepgit/commondir", "wb").write(b"." + pad)
d = t + "/deep"
for i in range(63):
    d += "/d"
    os.makedirs(d, exist_ok=True)
    open(d + "/.git", "wb").write(("gitdir: %s/deepgit" % t).encode() + pad)
open(t + "/deepest", "w").write(d)
PY
DEEP=$(cat "$T_ROOT/deepest")
# lease_rate DIR N: milliseconds per new connection asking for a lease from DIR.
cat >"$T_ROOT/rate.py" <<'PY'
import json, os, socket, sys, time
n = int(sys.argv[1])
body = json.dumps({"secret": "deploy-token", "ttl": 5}).encode()
req = (b"POST /v1/leases HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
       b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
# With a second argument, each request from another level of the tree
# (another working directory: nothing cached).
dirs = []
if len(sys.argv) > 2:
    d = sys.argv[2]
    while os.path.basename(d) == "d":
        dirs.append(d); d = os.path.dirname(d)
t0 = time.time()
for i in range(n):
    if dirs: os.chdir(dirs[i % len(dirs)])
    s = socket.socket(socket.AF_UNIX); s.connect(os.environ["AIRLOCK_SOCKET"])
    s.sendall(req)
    buf = b""
    while True:
        c = s.recv(65536)
        if not c: break
        buf += c
    assert b" 201 " in buf.split(b"\r\n")[0], buf[:200]
    s.close()
print("%.2f" % ((time.time() - t0) * 1000 / n))
PY
SHALLOW_MS=$(python3 "$T_ROOT/rate.py" 63)
DEEP_MS=$(python3 "$T_ROOT/rate.py" 63 "$DEEP")
echo "$T_NAME: lease request from a shallow cwd ${SHALLOW_MS} ms, from the planted deep cwd ${DEEP_MS} ms"
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if b < 3 * a + 3 else 1)" \
    "$SHALLOW_MS" "$DEEP_MS" && pass || fail "deep cwd costs ${DEEP_MS} ms per request, shallow ${SHALLOW_MS} ms"

# Two connectors looping from the deep directory for 5 s: connect, then
# close (the broker identifies each one), every tenth asks for a lease.
cat >"$T_ROOT/flood.py" <<'PY'
import json, os, socket, sys, time
end = time.time() + float(sys.argv[1])
body = json.dumps({"secret": "deploy-token", "ttl": 5}).encode()
req = (b"POST /v1/leases HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
       b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
n = 0
while time.time() < end:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(os.environ["AIRLOCK_SOCKET"])
        if n % 10 == 0: s.sendall(req)
        s.close(); n += 1
    except OSError:
        time.sleep(0.001)
print(n)
PY
FL=""
for i in 1 2; do
	(cd "$DEEP" && exec python3 "$T_ROOT/flood.py" 5 >"$T_ROOT/flood.$i") &
	FL="$FL $!"
done
sleep 1
served "a deep-cwd connector flood"
wait $FL

# --- 4,100 idle connections of the same user ---------------------------------
python3 - "$S" 4100 20 >"$T_ROOT/idle" 2>&1 <<'PY' &
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
socks = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
print("open", len(socks), flush=True)
time.sleep(int(sys.argv[3]))
PY
IDLE=$!
for _ in $(seq 300); do grep -q '^open' "$T_ROOT/idle" && break; sleep 0.1; done
expect_eq "$(cat "$T_ROOT/idle")" "open 4100" "4,100 connections opened"
sleep 0.5
served "4,100 idle connections"
N=$(ls /proc/"$BP"/fd | wc -l)
[ "$N" -le 4100 ] && pass || fail "broker holds $N descriptors"
grep -q "idle connections closed to make room" "$AIRLOCK_HOME/airlockd.log" && pass ||
    fail "no line about closed idle connections: $(tail -3 "$AIRLOCK_HOME/airlockd.log")"
kill "$IDLE"; wait "$IDLE" 2>/dev/null
served "after the floods"

# --- connections another user cannot take: the reserve ----------------------
# Root's connections all wait on an approval (nothing to close for room);
# a second user still gets in.
if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then
	echo "$T_NAME: skip: second OS user (needs root to create one)"
else
	getent group alfcb-g >/dev/null || acct groupadd alfcb-g
	id alfcb-u1 >/dev/null 2>&1 || acct useradd -M -N -g alfcb-g alfcb-u1
	kill "$BP"
	for _ in $(seq 100); do kill -0 "$BP" 2>/dev/null || break; sleep 0.1; done
	PUB="$T_ROOT/pub"
	mkdir -p "$PUB"
	chmod 711 "$T_ROOT"
	chgrp alfcb-g "$PUB" && chmod 750 "$PUB"
	"$AL" serve --foreground --socket "$PUB/airlockd.sock" --group alfcb-g \
	    >"$T_ROOT/serve.log" 2>&1 &
	SP=$!
	for _ in $(seq 50); do [ -S "$PUB/airlockd.sock" ] && break; sleep 0.1; done
	AP=$(curl -s --unix-socket "$PUB/airlockd.sock" -X POST -H 'Content-Type: application/json' \
	    --data-binary '{"secret":"gated"}' http://airlock/v1/leases |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["approval"]["id"])')
	python3 - "$PUB/airlockd.sock" 4100 20 "$AP" >"$T_ROOT/parked" 2>&1 <<'PY' &
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
req = ("GET /v1/approvals/%s?wait=60 HTTP/1.1\r\nHost: a\r\n\r\n" % sys.argv[4]).encode()
socks = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(req)
    socks.append(s)
print("open", len(socks), flush=True)
time.sleep(int(sys.argv[3]))
PY
	PK=$!
	for _ in $(seq 300); do grep -q '^open' "$T_ROOT/parked" && break; sleep 0.1; done
	sleep 1
	N=$(ls /proc/"$SP"/fd | grep -c .)
	[ "$N" -lt 3900 ] && pass || fail "root holds $N descriptors of the broker's"
	t0=$(ms)
	CODE=$(runuser -u alfcb-u1 -- curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    --unix-socket "$PUB/airlockd.sock" http://airlock/v1/health)
	t1=$(ms)
	expect_eq "$CODE" 200 "second user's health beside root's 4,100 waiting connections"
	[ $((t1 - t0)) -lt 3000 ] && pass || fail "second user's health took $((t1 - t0)) ms"
	kill "$PK" "$SP" 2>/dev/null
	wait "$PK" "$SP" 2>/dev/null
	acct userdel alfcb-u1 2>/dev/null || true
	acct groupdel alfcb-g 2>/dev/null || true
fi
check_no_leak "$V1"

done_testing
