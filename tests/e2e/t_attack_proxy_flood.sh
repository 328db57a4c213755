#!/bin/bash
# The proxy listens on 127.0.0.1, where any local process can connect,
# credential or not.  Connections that never authenticate (a flood held
# open, sending nothing or a CONNECT a byte at a time) must not keep a run
# from using its proxy: a connection still waiting for its CONNECT gives
# its place to a new one when the proxy is full.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxylib.sh"

serve_bound_tok

# A first run starts the proxy; its port is in the proxy variables.
run "$AL" run --proxy --no-isolation -e TOK=tok -- sh -c '
	curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $TOK" "'"$B"'/first"
	printf "%s\n" "$HTTPS_PROXY" | sed "s/.*:\([0-9]*\)$/\1/"'
expect_rc 0 "a proxied run"
expect_eq "$(head -1 "$OUT")" 200 "a request through the proxy"
PORT=$(tail -1 "$OUT")
case "$PORT" in [0-9]*) pass ;; *) fail "no proxy port: $PORT"; done_testing ;; esac

# Another local process, without the credential, holds 600 connections:
# half silent, half sending a CONNECT one byte at a time.
cat >"$T_ROOT/flood.py" <<'PY'
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        continue
    socks.append(s)
open(ready, "w").write("%d\n" % len(socks))
line = b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n"
for k in range(600):
    for i, s in enumerate(socks):
        if i % 2 and k < len(line):
            try:
                s.send(line[k:k + 1])
            except OSError:
                pass
    time.sleep(0.5)
PY
python3 "$T_ROOT/flood.py" "$PORT" 600 "$T_ROOT/ready" >"$T_ROOT/flood.out" 2>&1 &
FLOOD=$!
SRV_PIDS="$SRV_PIDS $FLOOD"
n=0; while [ ! -s "$T_ROOT/ready" ] && [ $n -lt 400 ]; do sleep 0.05; n=$((n + 1)); done
[ -s "$T_ROOT/ready" ] && pass || fail "the flood did not start: $(cat "$T_ROOT/flood.out")"

# The run's own requests still go through, isolated or not.
run "$AL" run --proxy --no-isolation -e TOK=tok -- sh -c '
	for i in 1 2 3; do
		curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $TOK" "'"$B"'/during/$i"
	done'
expect_eq "$(sort -u "$OUT" | tr '\n' ' ')" "200 " \
    "requests of a run while others flood the proxy (--no-isolation)"
run "$AL" run --proxy -e TOK=tok -- sh -c '
	curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $TOK" "'"$B"'/during/isolated"'
case "$(cat "$ERR")" in
*"no network isolation"*) expect_eq "$(cat "$OUT")" 200 "a request during the flood" ;;
*) expect_eq "$(cat "$OUT")" 200 "a request of an isolated run during the flood" ;;
esac
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
grep -q '"/during/1"' "$LOG" && pass || fail "the server did not get the run's request"
check_no_leak "$V"

"$AL" serve --stop >/dev/null 2>&1 || true
echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]
