#!/bin/bash
# airlock run --proxy and WebSockets: the handshake follows the rules of
# every request (bound host, the value only in credential headers), then
# frames go both ways; a placeholder in a client frame (whole, cut across
# fragments, base64, binary) closes the connection (1008) and is audited,
# never substituted; the value in server frames comes back masked.
# A real client and server (python3-websockets) over loopback TLS.
. "$(dirname "$0")/lib.sh"
PY=""
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import websockets' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "skip: python3-websockets"; exit 0; }
. "$(dirname "$0")/proxylib.sh"

start_server 127.0.0.1 bound "$HELPERS/wss_echo.py"
start_server 127.0.0.2 unbound "$HELPERS/wss_echo.py"
WB="wss://127.0.0.1:$(cat "$T_ROOT/bound.port")/chat"
WU="wss://127.0.0.2:$(cat "$T_ROOT/unbound.port")/chat"
LOG="$T_ROOT/bound.log"
C="$HELPERS/ws_client.py"
S="$T_ROOT/scratch"
mkdir -p "$S"

init_vault
V=$(canary)
add_secret tok "$V" --host 127.0.0.1

# --- a WebSocket through the proxy: the value in the handshake only -------
run "$AL" run --proxy -e TOK=tok -- sh -c '
	printf %s "$TOK" >"'"$S/ph"'"
	"'"$PY"'" "'"$C"'" "'"$WB"'" ok "Authorization=Bearer $TOK"'
expect_rc 0 "a WebSocket session through the proxy"
expect_out "extensions none" "no extension negotiated (frames stay searchable)"
expect_out "greeting auth=Bearer [REDACTED:tok]" "the value in a server frame is masked"
expect_out "echo hello" "frames relayed both ways"
expect_out "big 300" "a 300 kB message relayed"
expect_out "big 300021 1 Bearer [REDACTED:tok]xxx" \
    "the value in a message spanning many reads masked"
expect_out "bin b'\\x00\\x01Bearer [REDACTED:tok]\\xff'" \
    "the value in a binary message masked"
expect_out "split aaaaaaaaaaBearer [REDACTED:tok]bbbbbbbbbb" \
    "the value cut across two frames of a message masked"
expect_out "ping pong-ok" "ping and pong relayed"
expect_out "closed 1000" "the session closed normally"
if grep -qF "\"Authorization\": \"Bearer $V\"" "$LOG"; then pass
else fail "the server did not get the value in the handshake"; fi
if grep -qi 'sec-websocket-extensions' "$LOG"; then
	fail "the client's extension offer reached the server"; else pass; fi
PH=$(cat "$S/ph")
[ ${#PH} -eq 32 ] && pass || fail "no placeholder recorded"

# --- a placeholder in a client frame: closed, never forwarded --------------
for m in leak leak-split leak-b64 leak-bin; do
	: >"$LOG"
	run "$AL" run --proxy -e TOK=tok -- \
	    "$PY" "$C" "$WB" "$m" "Authorization=Bearer \$TOK"
	# (the header holds the literal $TOK: no placeholder in the handshake)
	expect_out "closed 1008 airlock: placeholder in a WebSocket frame" \
	    "$m: the connection is closed"
	if grep -qF "$PH" "$LOG" || grep -qF "$V" "$LOG" ||
	    grep -qF '"message": "my token' "$LOG" ||
	    grep -qF 'rest"' "$LOG" || grep -qF '"message": "b64' "$LOG" ||
	    grep -qF '"message": "\u0000' "$LOG"; then
		fail "$m: the message reached the server: $(tail -c 300 "$LOG")"
	else pass; fi
done
run "$AL" audit --json --event egress_blocked
expect_eq "$(grep -c "in a WebSocket frame" "$OUT")" "4" \
    "each refused frame audited as egress_blocked"

# --- the run ends (its lease revoked): the WebSocket with it ---------------
# The shell waits through the run's SIGTERM too: were it to end, the task
# would end with it before the client saw the proxy close the connection.
run "$AL" run --proxy --grace 10s --task ws-revoke -e TOK=tok -- sh -c '
	trap "" TERM
	( sleep 1; "'"$AL"'" lease revoke --task ws-revoke >/dev/null ) &
	"'"$PY"'" "'"$C"'" "'"$WB"'" hold "Authorization=Bearer $TOK"
	wait'
expect_out "open" "a WebSocket held open"
expect_out "closed 1006" "a revoked lease closes its run's WebSocket"

# --- the handshake follows the rules of any request -----------------------
run "$AL" run --proxy -e TOK=tok -- sh -c '
	"'"$PY"'" "'"$C"'" "'"$WB"'" ok "X-Debug=$TOK"
	"'"$PY"'" "'"$C"'" "'"$WU"'" ok "Authorization=Bearer $TOK"'
expect_eq "$(grep -c '^handshake 403$' "$OUT")" "2" \
    "a placeholder in a non-credential header, or to an unbound host: 403 (exit $RC: $(tail -c 600 "$OUT" "$ERR" | tr '\n' ' '))"
if grep -qF "$V" "$T_ROOT/unbound.log"; then fail "the value reached the unbound host"
else pass; fi

"$AL" serve --stop >/dev/null 2>&1 || true
check_no_leak "$V"
done_testing
