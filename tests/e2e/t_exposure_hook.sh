#!/bin/bash
# An exposure seen by an agent hook ends access at once, through the broker:
# the live lease a waiting `airlock run` holds is revoked and a pending
# approval denied when `airlock hook claude` sees the value, with no sweep;
# each step audited; another secret's lease untouched; /metrics carries the
# time to revoke, then the time to rotate, by name and never by value.  The
# same for a value the guard finds in a request to the model.
T_OWN_SESSION=1
. "$(dirname "$0")/lib.sh"

PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	t_cleanup
}
trap cleanup EXIT

init_vault
V=$(canary)
add_secret deploy-token "$V"
G=$(canary)
add_secret gated-token "$G" --label approval=required
O=$(canary)
add_secret other-token "$O"
ME=$(id -u)
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF
version: 1
rules:
  - id: gated
    effect: approval
    labels: {approval: required}
    callers: ["unix:uid:$ME"]
    approvers: ["unix:uid:$ME"]
  - id: owner
    effect: allow
    callers: ["unix:uid:$ME"]
    secrets: ["*"]
EOF
chmod 600 "$AIRLOCK_HOME/policy.yaml"



metric() {	# metric NAME: the line of NAME in /metrics
	api_get /metrics | awk -v p="$1" 'index($0, p) == 1'
}

# Two runs hold live leases (a command that waits), a third waits for an
# approver.
"$AL" run -e T=deploy-token -- sleep 41 >"$T_ROOT/run1.out" 2>&1 &
RUN1=$!
"$AL" run -e T=other-token -- sleep 41 >"$T_ROOT/run2.out" 2>&1 &
RUN2=$!
"$AL" run --approval-wait 30s -e T=gated-token -- true >"$T_ROOT/gated.out" 2>&1 &
GPID=$!
PIDS="$RUN1 $RUN2 $GPID"
for _ in $(seq 100); do
	[ -n "$(live_of deploy-token)" ] && [ -n "$(live_of other-token)" ] &&
	    "$AL" approvals 2>/dev/null | grep -q gated-token && break
	sleep 0.1
done
LEASE=$(live_of deploy-token)
[ -n "$LEASE" ] && pass || fail "no live lease of deploy-token"
[ -n "$(live_of other-token)" ] && pass || fail "no live lease of other-token"
run "$AL" approvals
expect_out "gated-token" "an approval pending"

# Claude Code's PostToolUse hook sees deploy-token's value in base64 in a
# tool's output, and gated-token's in a prompt.
B64=$(printf %s "$V" | base64 -w0)
printf '{"session_id":"s","transcript_path":"/dev/null","cwd":"/","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"env | base64"},"tool_response":{"stdout":"T=%s\\n","stderr":""},"tool_use_id":"t1"}\n' "$B64" >"$T_ROOT/hook.json"
run_in "$T_ROOT/hook.json" "$AL" hook claude
expect_rc 0 "hook answers"
expect_out "[REDACTED:deploy-token]" "the output is masked"
expect_empty "$ERR" "the hook says nothing went wrong"

# At once, with no sweep: the lease is revoked, the other one lives.
api_get "/v1/leases/$LEASE" >"$OUT"
expect_out '"state":"revoked"' "deploy-token's lease revoked by the hook"
expect_eq "$(live_of deploy-token)" "" "no live lease of deploy-token"
[ -n "$(live_of other-token)" ] && pass || fail "other-token's lease was ended"
run "$AL" run -e T=deploy-token -- true
expect_rc 125 "a new lease is refused"
expect_err "secret 'deploy-token' is exposed since 20"

printf '{"session_id":"s","transcript_path":"/dev/null","cwd":"/","hook_event_name":"UserPromptSubmit","prompt":"use %s"}\n' "$G" >"$T_ROOT/prompt.json"
run_in "$T_ROOT/prompt.json" "$AL" hook claude
wait "$GPID"
grc=$?
[ "$grc" -ne 0 ] && pass || fail "the pending run went on after the exposure"
run "$AL" approvals
if grep -q gated-token "$OUT"; then fail "still pending: $(cat "$OUT")"; else pass; fi

# Each step is in the audit log, by the broker, with the hook as source.
run "$AL" audit --json
got=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def one(name, secret, **kw):
	r = [e for e in ev if e.get("event") == name and e.get("secret") == secret]
	return r
x = one("secret_exposed", "deploy-token")
r = one("revoke", "deploy-token")
t = one("exposure_revoke", "deploy-token")
d = one("deny_approval", "gated-token")
g = one("exposure_revoke", "gated-token")
print(len(x), x[0]["detail"]["source"], x[0]["detail"]["where"],
      len(r), r[0]["lease"] == sys.argv[2], r[0]["reason"],
      t[0]["detail"]["leases_revoked"], t[0]["detail"]["time_to_revoke_ms"] >= 0,
      len(d), g[0]["detail"]["approvals_denied"],
      len(one("revoke", "other-token")))
' "$OUT" "$LEASE")
expect_eq "$got" "1 hook claude hook PostToolUse 1 True the secret is exposed 1 True 1 1 0" "audited steps"

run "$AL" audit --event exposure_revoke,exposure_rotate
expect_rc 0 "audit --event exposure_revoke"
expect_out "deploy-token"
expect_empty "$ERR" "the exposure events are known to audit --event"

# /metrics: the time to revoke of each, the count of exposed secrets.
m=$(metric 'airlock_exposure_revoke_seconds{secret="deploy-token"}')
[[ "$m" =~ ^airlock_exposure_revoke_seconds\{secret=\"deploy-token\"\}\ [0-9.]+$ ]] &&
    pass || fail "time to revoke on /metrics: '$m'"
expect_eq "$(metric 'airlock_secrets_exposed ')" "airlock_secrets_exposed 2" "exposed gauge"
expect_eq "$(metric 'airlock_exposure_rotate_seconds{secret="deploy-token"}')" "" "not rotated yet"

# Rotation ends the exposure: time to rotate on /metrics.
printf '%s\n' "$(canary)" | "$AL" secret rotate deploy-token >>"$ALL_OUTPUT" 2>&1 ||
    fail "rotate failed"
m=$(metric 'airlock_exposure_rotate_seconds{secret="deploy-token"}')
[[ "$m" =~ ^airlock_exposure_rotate_seconds\{secret=\"deploy-token\"\}\ [0-9.]+$ ]] &&
    pass || fail "time to rotate on /metrics: '$m'"
expect_eq "$(metric 'airlock_secrets_exposed ')" "airlock_secrets_exposed 1" "exposed gauge after rotation"
run "$AL" run -e T=deploy-token -- true
expect_rc 0 "leased again after rotation"

kill "$RUN1" "$RUN2" 2>/dev/null
wait "$RUN1" "$RUN2" 2>/dev/null

# ---- the guard: a value in a request to the model ends access at once -----
W=$(canary)
add_secret guard-token "$W"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
mkdir -p "$T_ROOT/rec"
python3 "$HELP/fake_provider.py" "$T_ROOT/rec" >"$T_ROOT/fp.out" 2>"$T_ROOT/fp.err" &
PIDS="$PIDS $!"
for _ in $(seq 100); do [ -s "$T_ROOT/fp.out" ] && break; sleep 0.05; done
FP=$(head -1 "$T_ROOT/fp.out")
"$AL" guard --upstream "http://127.0.0.1:$FP" >"$T_ROOT/guard.out" 2>"$T_ROOT/guard.err" &
PIDS="$PIDS $!"
for _ in $(seq 200); do [ -s "$T_ROOT/guard.out" ] && break; sleep 0.05; done
GURL=$(head -1 "$T_ROOT/guard.out")
"$AL" run -e T=guard-token -- sleep 41 >"$T_ROOT/run3.out" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do [ -n "$(live_of guard-token)" ] && break; sleep 0.1; done
GLEASE=$(live_of guard-token)
[ -n "$GLEASE" ] && pass || fail "no live lease of guard-token"
got=$(GUARD_CANARY="$W" python3 - "$GURL" <<'EOF'
import http.client, json, os, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
body = json.dumps({"model": "m", "max_tokens": 1, "messages": [
    {"role": "user", "content": "the key is " + os.environ["GUARD_CANARY"]}]})
c.request("POST", "/v1/messages", body, {"content-type": "application/json"})
r = c.getresponse()
r.read()
print(r.status)
EOF
)
expect_eq "$got" 200 "the guard forwards the masked request"
if grep -rqF -- "$W" "$T_ROOT/rec"; then fail "the provider got the value"; else pass; fi
for l in $GLEASE; do
	api_get "/v1/leases/$l" >"$OUT"
	expect_out '"state":"revoked"' "guard-token's lease revoked by the guard"
done
run "$AL" secret show guard-token --json
expect_out '"exposed-where": "guard /v1/messages"'
for p in $PIDS; do kill "$p" 2>/dev/null; done
cat "$T_ROOT/guard.err" "$T_ROOT/run3.out" >>"$ALL_OUTPUT"
check_no_leak "$W" "$T_ROOT/rec"
for f in "$T_ROOT"/*.out; do cat "$f" >>"$ALL_OUTPUT"; done
check_no_leak "$V"
check_no_leak "$G"
check_no_leak "$O"
done_testing
