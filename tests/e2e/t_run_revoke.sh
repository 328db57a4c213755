#!/bin/bash
# A lease that ends while `airlock run` runs its command ends the command:
# revoked by id, revoked by task, expired, or its secret marked exposed by
# an agent hook.  The whole task goes (a child that ignores SIGTERM too,
# after --grace), airlock says which secret's lease ended and why, the
# output printed so far comes out redacted, and the status is the
# command's (never 0).  A run whose lease lives on is untouched, and a
# lease used up by the run's own use does not end it.
. "$(dirname "$0")/lib.sh"

PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	t_cleanup
}
trap cleanup EXIT

init_vault
V=$(canary); add_secret rev-token "$V"
X=$(canary); add_secret exp-token "$X"
K=$(canary); add_secret keep-token "$K"
E=$(canary); add_secret ttl-token "$E"
U=$(canary); add_secret once-token "$U"
ME=$(id -u)
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF
version: 1
rules:
  - id: once
    effect: allow
    callers: ["unix:uid:$ME"]
    secrets: ["once-token"]
    max_uses: 1
  - id: owner
    effect: allow
    callers: ["unix:uid:$ME"]
    secrets: ["*"]
EOF
chmod 600 "$AIRLOCK_HOME/policy.yaml"


# start NAME ARGS...: `airlock run ARGS` in the background; its output in
# NAME.out/.err, its status in NAME.rc once it ends, its pid in PID_NAME.
start() {
	_n=$1
	shift
	( "$AL" run "$@" >"$T_ROOT/$_n.out" 2>"$T_ROOT/$_n.err"
	  echo $? >"$T_ROOT/$_n.rc" ) </dev/null &
	eval "PID_$_n=$!"
	PIDS="$PIDS $!"
}

# ended NAME: wait (up to 30 s) for run NAME to end; its status in RC,
# the seconds it took in SECS.
ended() {
	_t0=$(date +%s.%N)
	for _ in $(seq 600); do [ -s "$T_ROOT/$1.rc" ] && break; sleep 0.05; done
	RC=$(cat "$T_ROOT/$1.rc" 2>/dev/null || echo none)
	SECS=$(echo "$(date +%s.%N) - $_t0" | bc)
}

wait_live() {	# wait_live SECRET: until it has a live lease
	for _ in $(seq 200); do [ -n "$(live_of "$1")" ] && return; sleep 0.05; done
	fail "no live lease of $1"
}

alive() { [ ! -s "$T_ROOT/$1.rc" ]; }

# Unique durations name the task's processes from outside its namespace.
MA="97$RANDOM.5"
MK="96$RANDOM.5"

# Run A: a shell that ignores SIGTERM, with a child that ignores it too.
start A --grace 1s -e T=rev-token -- sh -c "trap '' TERM; printf 'A %s\n' \"\$T\"; sleep $MA & wait"
# Run K: its lease is never revoked; ended at the very end by its task.
start K --task keep-task -e T=keep-token -- sh -c "printf 'K %s\n' \"\$T\"; sleep $MK"
# Run C: its secret is marked exposed by a hook.
start C -e T=exp-token -- sh -c 'printf "C %s\n" "$T"; sleep 30'
wait_live rev-token; wait_live keep-token; wait_live exp-token
for _ in $(seq 200); do grep -q "^A " "$T_ROOT/A.out" && pgrep -f "sleep $MA" >/dev/null && break; sleep 0.05; done
pgrep -f "sleep $MA" >/dev/null && pass || fail "run A's child did not start"

# (1) `airlock lease revoke ID` ends run A.
LA=$(live_of rev-token)
run "$AL" lease revoke "$LA"
expect_rc 0 "lease revoke"
ended A
echo "$T_NAME: revoke -> run A ended after ${SECS}s (grace 1s)"
expect_eq "$RC" 137 "run A's status: its shell ignored SIGTERM, killed after the grace"
[ "$(echo "$SECS < 15" | bc)" = 1 ] && pass || fail "run A took ${SECS}s to end"
grep -qF "airlock: run: the lease on secret 'rev-token' ended (revoked by request); the task was ended" "$T_ROOT/A.err" &&
    pass || fail "run A's message: $(cat "$T_ROOT/A.err")"
grep -qxF "A [REDACTED:rev-token]" "$T_ROOT/A.out" && pass ||
    fail "run A's output, redacted, was not flushed: $(cat "$T_ROOT/A.out")"
# (4) Its process group, the child that ignored SIGTERM included, is gone.
for _ in $(seq 40); do pgrep -f "sleep $MA" >/dev/null || break; sleep 0.05; done
pgrep -f "sleep $MA" >/dev/null && fail "run A's child outlived the revocation" || pass

# (3) Run K went on.
alive K && pass || fail "run K ended with run A's lease: $(cat "$T_ROOT/K.err")"

# (2) An exposure seen by the Claude Code hook ends run C at once.
B64=$(printf %s "$X" | base64 -w0)
printf '{"session_id":"s","transcript_path":"/dev/null","cwd":"/","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"env | base64"},"tool_response":{"stdout":"T=%s\\n","stderr":""},"tool_use_id":"t1"}\n' "$B64" >"$T_ROOT/hook.json"
run_in "$T_ROOT/hook.json" "$AL" hook claude
expect_rc 0 "hook answers"
ended C
echo "$T_NAME: exposure -> run C ended after ${SECS}s"
expect_eq "$RC" 143 "run C's status: SIGTERM ended its shell"
grep -qF "airlock: run: the lease on secret 'exp-token' ended (the secret is exposed); the task was ended" "$T_ROOT/C.err" &&
    pass || fail "run C's message: $(cat "$T_ROOT/C.err")"
grep -qxF "C [REDACTED:exp-token]" "$T_ROOT/C.out" && pass ||
    fail "run C's output: $(cat "$T_ROOT/C.out")"
alive K && pass || fail "run K ended with another secret's exposure: $(cat "$T_ROOT/K.err")"

# The lease's TTL ends a run too.
start T --ttl 2 -e T=ttl-token -- sleep 30
wait_live ttl-token
ended T
expect_eq "$RC" 143 "run T's status"
grep -qF "airlock: run: the lease on secret 'ttl-token' ended (" "$T_ROOT/T.err" &&
    pass || fail "run T's message: $(cat "$T_ROOT/T.err")"

# A lease whose one use the run took is the run's to use: it goes on.
run "$AL" run -e T=once-token -- sh -c 'sleep 1; echo "once $T"'
expect_rc 0 "a used-up lease does not end the run"
expect_out "once [REDACTED:once-token]"
expect_empty "$ERR" "nothing said of a used-up lease"

# ... unless its secret is exposed.
start O -e T=once-token -- sh -c 'printf "O %s\n" "$T"; sleep 30'
for _ in $(seq 200); do grep -q "^O " "$T_ROOT/O.out" && break; sleep 0.05; done
alive O && pass || fail "run O ended early: $(cat "$T_ROOT/O.err")"
B64=$(printf %s "$U" | base64 -w0)
sed "s|T=[A-Za-z0-9+/=]*|T=$B64|" "$T_ROOT/hook.json" >"$T_ROOT/hook2.json"
run_in "$T_ROOT/hook2.json" "$AL" hook claude
ended O
expect_eq "$RC" 143 "run O's status"
grep -qF "airlock: run: the lease on secret 'once-token' ended (the secret is exposed); the task was ended" "$T_ROOT/O.err" &&
    pass || fail "run O's message: $(cat "$T_ROOT/O.err")"

# The route itself: malformed requests, an unknown lease, an ended one is
# answered at once with its reason even when asked to wait.
api_get -s "/v1/leases?ids=xyz" >"$OUT"
expect_out "400 " "ids that are not lease ids"
api_get -s "/v1/leases?wait=5" >"$OUT"
expect_out "'wait' needs 'ids'"
api_get -s "/v1/leases?ids=0123456789abcdef0123456789abcdef&wait=1" >"$OUT"
expect_out "404 " "an unknown lease"
t0=$(date +%s)
api_get -s "/v1/leases?ids=$LA&wait=30" >"$OUT"
expect_out '"reason":"revoked by request"' "the reason of an ended lease"
[ $(( $(date +%s) - t0 )) -lt 20 ] && pass || fail "an ended lease's watch waited"

# The MCP `run` tool: its task ends with its lease too.
M=$(canary); add_secret mcp-token "$M"
mkfifo "$T_ROOT/mcp.in"
"$AL" mcp <"$T_ROOT/mcp.in" >"$T_ROOT/mcp.out" 2>"$T_ROOT/mcp.err" &
PIDS="$PIDS $!"
exec 7>"$T_ROOT/mcp.in"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run","arguments":{"command":["sh","-c","printf \"M %s\\n\" \"$T\"; sleep 30"],"env":{"T":"mcp-token"}}}}' >&7
wait_live mcp-token
run "$AL" lease revoke "$(live_of mcp-token)"
for _ in $(seq 300); do grep -q '"id":2' "$T_ROOT/mcp.out" && break; sleep 0.05; done
exec 7>&-
got=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m.get("id") == 2:
        r = m["result"]
        s = r["structuredContent"]
        print(r["isError"], s["status"], s["stdout"].strip())
' "$T_ROOT/mcp.out")
expect_eq "$got" "True 143 M [REDACTED:mcp-token]" "the MCP run's result"
grep -qF "run: the lease on secret 'mcp-token' ended (revoked by request); the task was ended" "$T_ROOT/mcp.err" &&
    pass || fail "the MCP server's log: $(cat "$T_ROOT/mcp.err")"

# A run whose command ends by itself says nothing of its leases.
run "$AL" run -e T=keep-token -- true
expect_rc 0 "a plain run"
expect_empty "$ERR" "a plain run says nothing"

# Run K is ended by revoking its task.
alive K && pass || fail "run K ended early: $(cat "$T_ROOT/K.err")"
run "$AL" lease revoke --task keep-task
ended K
expect_eq "$RC" 143 "run K's status"
grep -qF "airlock: run: the lease on secret 'keep-token' ended (task revoked); the task was ended" "$T_ROOT/K.err" &&
    pass || fail "run K's message: $(cat "$T_ROOT/K.err")"
grep -qxF "K [REDACTED:keep-token]" "$T_ROOT/K.out" && pass ||
    fail "run K's output: $(cat "$T_ROOT/K.out")"
for _ in $(seq 40); do pgrep -f "sleep $MK" >/dev/null || break; sleep 0.05; done
pgrep -f "sleep $MK" >/dev/null && fail "run K's sleep outlived it" || pass

cat "$T_ROOT"/*.out "$T_ROOT"/*.err >>"$ALL_OUTPUT" 2>/dev/null
cat "$T_ROOT"/mcp.out "$T_ROOT"/mcp.err >>"$ALL_OUTPUT" 2>/dev/null
for v in "$V" "$X" "$K" "$E" "$U" "$M"; do check_no_leak "$v"; done
done_testing
