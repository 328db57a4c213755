#!/bin/bash
# The broker under load and faults: 1,000 idle connections while another
# client is served promptly, a client trickling bytes that blocks no one,
# and kill -9 under load then restart: the audit log verifies, no lease is
# live past its expiry, no value was released without its audit line.
. "$(dirname "$0")/lib.sh"

PROBE="$AIRLOCK_BUILD/tests/e2e/helpers/al-probe"
S="$AIRLOCK_SOCKET"
ulimit -n 4096 2>/dev/null || true
ms() { date +%s%3N; }

init_vault
V1=$(canary)
add_secret deploy-token "$V1"
run "$AL" lease ls
expect_rc 0 "autostart"
BP=$(cat "$AIRLOCK_HOME/airlockd.pid")

# --- 1,000 idle connections -------------------------------------------------
python3 - "$S" 1000 60 >"$T_ROOT/idle" 2>&1 <<'PY' &
import socket, sys, time
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
expect_eq "$(cat "$T_ROOT/idle")" "open 1000" "1,000 idle connections"
t0=$(ms)
run "$PROBE" --fetch 1 --task idle deploy-token
t1=$(ms)
expect_rc 0 "served beside 1,000 idle connections"
[ $((t1 - t0)) -lt 2000 ] && pass || fail "lease cycle took $((t1 - t0)) ms beside idle connections"
N=$(ls /proc/"$BP"/fd | wc -l)
[ "$N" -gt 1000 ] && pass || fail "broker holds $N descriptors, expected over 1,000"
kill "$IDLE"; wait "$IDLE" 2>/dev/null

# --- a slow client trickling its request ------------------------------------
python3 - "$S" >"$T_ROOT/slow" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = b"GET /v1/health HTTP/1.1\r\nHost: airlock\r\n\r\n"
for c in req:
    s.send(bytes([c]))
    time.sleep(0.1)
print(s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
PY
SLOW=$!
sleep 0.5
t0=$(ms)
run "$PROBE" --fetch 1 --task slow deploy-token
t1=$(ms)
expect_rc 0 "served while a client trickles"
[ $((t1 - t0)) -lt 2000 ] && pass || fail "lease cycle took $((t1 - t0)) ms beside a slow client"
wait "$SLOW"
expect_eq "$(cat "$T_ROOT/slow")" "HTTP/1.1 200 OK" "the slow client is answered too"

# --- kill -9 under load, then restart ----------------------------------------
for i in 1 2 3 4; do
	( for _ in $(seq 200); do
		"$PROBE" --ttl 3 --uses 2 --fetch 1 --task "load$i" deploy-token 2>&1 || true
	done ) >"$T_ROOT/load$i" &
done
sleep 2
kill -9 "$BP"
wait 2>/dev/null
# Restart (autostart) and look at what survived.
run "$AL" audit verify
expect_rc 0 "audit verify after kill -9"
BEFORE=$(date +%s)
run "$AL" lease ls --json
expect_rc 0 "lease ls after restart"
python3 - "$OUT" "$BEFORE" <<'PY' && pass || fail "a lease is live past its expiry"
import json, sys, time
d = json.load(open(sys.argv[1]))
now = int(sys.argv[2])	# live at the broker's time t >= now: expires > now
bad = [(l["id"], l["expires_unix"], now) for l in d if l["expires_unix"] <= now]
print(bad)
sys.exit(1 if bad else 0)
PY
# Every value a client received has its grant and use in the audit log.
cat "$T_ROOT"/load? | python3 -c '
import json, sys
got, cur = [], None
for l in sys.stdin:
    if l.startswith("lease "): cur = l.split()[1]
    elif l.startswith("value ") and cur: got.append(cur)
ev = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("lease"): ev.setdefault(e["lease"], set()).add(e["event"])
bad = [g for g in got if not {"grant", "use"} <= ev.get(g, set())]
print(len(got), "values received,", len(bad), "without their audit lines")
sys.exit(1 if bad or not got else 0)' "$AIRLOCK_HOME/audit.log" >"$OUT" 2>&1
expect_eq "$?" 0 "values released only with their audit lines: $(cat "$OUT")"
sleep 3	# every --ttl 3 lease from before the crash is now past its expiry
run "$AL" lease ls --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(1 if any(l["task"].startswith("load") for l in d) else 0)' "$OUT" &&
    pass || fail "a lease from before the crash outlived its expiry"
check_no_leak "$V1" "$T_ROOT"/load? "$T_ROOT/idle" "$T_ROOT/slow"
done_testing
