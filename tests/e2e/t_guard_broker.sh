#!/bin/bash
# The guard the broker runs: `agent setup --guard` lists it in
# $AIRLOCK_HOME/guards; the broker starts it as soon as it serves (an
# autostarted one too), so the agent's base URL works with only the broker
# running; when the broker stops -- cleanly, or killed with SIGKILL -- the
# guard's port closes: nothing is forwarded, unmasked or otherwise.  Setup
# with a broker running, and SIGHUP, change the guards live; the others
# run on undisturbed.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
init_vault
V=$(canary)
add_secret deploy-token "$V"
export HOME="$T_ROOT/h"
mkdir -p "$HOME" "$T_ROOT/proj"
REC="$T_ROOT/rec"
mkdir -p "$REC"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; t_cleanup' EXIT

start_fake_provider "$REC"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(free_port)
P2=$(free_port)
P3=$(free_port)
G="http://127.0.0.1:$P"
GUARDS="$AIRLOCK_HOME/guards"

# ask: one Messages request with the canary through the guard; status in $CODE.
ask() {
	CODE=$(printf '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"token %s"}]}' "$V" |
	    curl -s -o "$OUT" -w '%{http_code}' -H 'x-api-key: sk-provider-key' \
	    -H 'content-type: application/json' --data-binary @- "$G/v1/messages")
	RC=$?
}
# wait_port open|closed [PORT]
wait_port() {
	_p=${2:-$P}
	for _ in $(seq 600); do
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$_p" 2>/dev/null; then
			[ "$1" = open ] && { pass; return; }
		else
			[ "$1" = closed ] && { pass; return; }
		fi
		sleep 0.05
	done
	fail "port $_p is not $1; broker log: $(tail -5 "$AIRLOCK_HOME/airlockd.log" 2>/dev/null)"
}
guard_pids() { pgrep -f -- "guard --listen 127.0.0.1:$P " || true; }

# Setup lists the guard, and points Claude Code at it.
cd "$T_ROOT/proj"
run "$AL" agent setup claude --guard "127.0.0.1:$P" --upstream "http://127.0.0.1:$FP"
expect_rc 0 "setup claude --guard"
expect_out "that the broker runs" "setup says who runs the guard"
expect_out "it starts with the broker" "no broker runs yet"
expect_out "--no-guard" "setup says how to undo it"
expect_eq "$(cat "$GUARDS")" "--listen 127.0.0.1:$P --upstream http://127.0.0.1:$FP # claude" "the guards file"
expect_eq "$(stat -c %a "$GUARDS")" 600 "its mode"
grep -q "\"ANTHROPIC_BASE_URL\": \"$G\"" .claude/settings.json && pass ||
    fail "settings.json does not point at the guard"
run "$AL" agent setup claude --guard "127.0.0.1:$P" --upstream "http://127.0.0.1:$FP"
expect_eq "$(wc -l <"$GUARDS")" 1 "setup twice: one line"
run "$AL" agent setup codex --guard "127.0.0.1:$P" --upstream "http://127.0.0.1:1"
expect_rc 2 "another guard on the same address"
expect_err "already has a guard listening on 127.0.0.1:$P"
expect_eq "$(wc -l <"$GUARDS")" 1 "nothing added"

# Only the broker runs: an autostarted one starts the guard.
run "$AL" lease ls
expect_rc 0 "autostart"
wait_port open
ask
expect_eq "$CODE" 200 "a request through the guard the broker runs"
grep -qF "REDACTED:deploy-token" "$REC"/*.body && pass || fail "the provider got no mask"
check_no_leak "$V" "$REC"
BPID=$(cat "$AIRLOCK_HOME/airlockd.pid")
GPID=$(guard_pids)
[ -n "$GPID" ] && pass || fail "no guard process"
[ "$(ps -o ppid= -p "$GPID" | tr -d ' ')" = "$BPID" ] && pass || fail "the guard is not the broker's child"

# The broker stops: the guard stops with it, its port is closed.
N=$(ls "$REC"/*.body | wc -l)
run "$AL" stop
expect_rc 0 "stop"
wait_port closed
ask
[ "$RC" -ne 0 ] && pass || fail "a request was answered ($CODE) with no broker"
expect_eq "$(ls "$REC"/*.body | wc -l)" "$N" "nothing reached the provider"
expect_eq "$(guard_pids)" "" "no guard process left"

# Killed with SIGKILL: no cleanup runs, the kernel ends the guard.
run "$AL" lease ls
wait_port open
BPID=$(cat "$AIRLOCK_HOME/airlockd.pid")
kill -KILL "$BPID"
wait_port closed
for _ in $(seq 100); do [ -z "$(guard_pids)" ] && break; sleep 0.05; done
expect_eq "$(guard_pids)" "" "the guard died with the killed broker"
ask
[ "$RC" -ne 0 ] && pass || fail "a request was answered ($CODE) after the broker was killed"

# A guards file others may write is not run.
rm -f "$AIRLOCK_SOCKET" "$AIRLOCK_HOME/airlockd.pid"
chmod 620 "$GUARDS"
run "$AL" lease ls
for _ in $(seq 200); do
	grep -q "no one else may write" "$AIRLOCK_HOME/airlockd.log" && break
	sleep 0.05
done
grep -q "no one else may write" "$AIRLOCK_HOME/airlockd.log" && pass ||
    fail "a group-writable guards file was not refused: $(tail -3 "$AIRLOCK_HOME/airlockd.log")"
expect_eq "$(guard_pids)" "" "no guard from a group-writable file"
chmod 600 "$GUARDS"
run "$AL" stop

# A port already taken: the broker serves, the guard says why in its log.
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$P" &
HOLD=$!
PIDS+=($HOLD)
sleep 0.3
run "$AL" lease ls
expect_rc 0 "the broker starts although its guard cannot"
for _ in $(seq 600); do grep -q "cannot listen on 127.0.0.1:$P" "$AIRLOCK_HOME/airlockd.log" && break; sleep 0.05; done
grep -q "cannot listen on 127.0.0.1:$P" "$AIRLOCK_HOME/airlockd.log" && pass ||
    fail "the guard's failure is not in the broker's log: $(tail -5 "$AIRLOCK_HOME/airlockd.log")"
# Once the port is free, SIGHUP starts it again.
kill "$HOLD"
wait "$HOLD" 2>/dev/null
kill -HUP "$(cat "$AIRLOCK_HOME/airlockd.pid")"
wait_port open
GPID=$(guard_pids)

# Setup with the broker running: the new guard starts now, and goes with
# --no-guard; the other guard runs on undisturbed.
run "$AL" agent setup codex --guard "127.0.0.1:$P3" --upstream "http://127.0.0.1:$FP"
expect_rc 0 "setup codex --guard, broker running"
expect_out "the running broker started it"
wait_port open "$P3"
run "$AL" agent setup codex --no-guard
expect_rc 0 "setup codex --no-guard, broker running"
expect_out "the running broker stopped its guard"
wait_port closed "$P3"
expect_eq "$(guard_pids)" "$GPID" "the claude guard was not restarted"
run "$AL" stop

# --no-guard removes the line and the settings entry; another line stays.
printf '# mine\n--listen 127.0.0.1:%s --upstream http://127.0.0.1:%s\n' "$P2" "$FP" >>"$GUARDS"
run "$AL" agent setup claude --no-guard
expect_rc 0 "--no-guard"
expect_eq "$(cat "$GUARDS")" "$(printf '# mine\n--listen 127.0.0.1:%s --upstream http://127.0.0.1:%s' "$P2" "$FP")" "only the setup's line removed"
grep -q ANTHROPIC_BASE_URL .claude/settings.json && fail "the base URL is still set" || pass
check_no_leak "$V" "$REC" "$AIRLOCK_HOME/airlockd.log"
done_testing
