#!/bin/bash
# Approving needs the approver PIN: typed on a terminal (a pty here), checked
# by the broker, rate-limited and audited; an approval from the requester's
# own process tree or session is refused whatever the PIN.
T_OWN_SESSION=1
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { fail "python3 is needed"; done_testing; }
init_vault
V=$(canary)
PIN="pin-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
add_secret pay-key "$V" --label approval=required

# api.py METHOD PATH BODY [--child-approve PIN]: one request on the broker
# socket from this process; prints the status and the body.  With
# --child-approve, a pending approval is then approved (with PIN, on a pty)
# by a child of this process: the requester's own process tree.
cat >"$T_ROOT/api.py" <<'PY'
import json, os, socket, subprocess, sys, brokerhttp
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ['AIRLOCK_SOCKET'])
def call(method, path, body):
    st, reply = brokerhttp.request(s, method, path, body)
    return st, reply.decode()
st, body = call(sys.argv[1], sys.argv[2], sys.argv[3])
print(st, body, flush=True)
if len(sys.argv) > 5 and sys.argv[4] == '--child-approve':
    aid = json.loads(body)['approval']['id']
    r = subprocess.run([sys.executable, os.environ['TYPER'], sys.argv[5],
                        os.environ['AIRLOCK_BIN'], 'approve', aid],
                       capture_output=True, text=True)
    print('child rc', r.returncode, r.stdout.strip(), flush=True)
PY
export TYPER AIRLOCK_BIN
# From a session of its own unless said otherwise.
api() { run setsid -w python3 "$T_ROOT/api.py" "$@"; }

# The requester: `airlock run` waiting for an approver, in this session.
"$AL" run --approval-wait 60s -e P=pay-key -- sh -c 'printf "%s" "$P" | wc -c' \
    >"$T_ROOT/req.out" 2>"$T_ROOT/req.err" &
REQ=$!
ID=
for _ in $(seq 100); do
	ID=$("$AL" approvals --json 2>/dev/null | python3 -c 'import json,sys
a=[x["id"] for x in json.load(sys.stdin) if x["state"]=="pending"]
print(a[0] if a else "")')
	[ -n "$ID" ] && break
	sleep 0.1
done
[ -n "$ID" ] || { fail "no pending approval"; done_testing; }

# No terminal: the command refuses to take the PIN from anywhere else.
run setsid -w "$AL" approve "$ID" </dev/null
expect_rc 2 "approve without a terminal"
expect_err "from a terminal (/dev/tty) only" "no tty"
# Straight to the API without a PIN: refused and audited.
api POST "/v1/approvals/$ID/approve" '{}'
expect_out "403" "no PIN"
expect_out "approving needs the approver PIN" "no PIN message"
# No PIN set yet: refused, says how to set one.
run with_tty "$PIN" "$AL" approve "$ID"
expect_rc 2 "approve before a PIN is set"
expect_out "airlock approver set-pin" "no PIN set"

# The default policy and `agent setup` point to the PIN while none is set.
grep -qF "it asks for the approver" "$AIRLOCK_HOME/policy.yaml" && pass ||
    fail "the default policy does not mention the approver PIN"
mkdir -p "$T_ROOT/proj"
run env -C "$T_ROOT/proj" HOME="$T_ROOT" "$AL" agent setup claude
expect_rc 0 "agent setup"
expect_out "no approver PIN is set" "agent setup hint"

# Set the PIN on a terminal; set-pin reads nothing from stdin.
run setsid -w "$AL" approver set-pin </dev/null
expect_rc 2 "set-pin without a terminal"
run with_tty "$PIN,$PIN" "$AL" approver set-pin
expect_rc 0 "set-pin"
expect_out "approver PIN set" "set-pin"
run "$AL" approver status
expect_out "approver PIN: set"
if grep -qF -- "$PIN" "$AIRLOCK_HOME/approver.pin"; then
	fail "the PIN is stored in the clear"
else
	pass
fi
expect_eq "$(head -c 10 "$AIRLOCK_HOME/approver.pin")" '$argon2id$' "hash"
run env -C "$T_ROOT/proj" HOME="$T_ROOT" "$AL" agent setup claude
if grep -qF "no approver PIN" "$OUT"; then fail "hint with a PIN set"; else pass; fi
# Changing it needs the current one.
run with_tty "not-the-pin,x,y" "$AL" approver set-pin
expect_rc 2 "set-pin with a wrong current PIN"
expect_out "wrong approver PIN" "set-pin wrong current"

# The requester's own session, with the right PIN: refused outright.
run python3 "$T_ROOT/api.py" POST "/v1/approvals/$ID/approve" "{\"pin\":\"$PIN\"}"
expect_out "403" "same session"
expect_out "requester's own session" "same session message"

# Wrong PIN: refused, audited.  (The back-off, per session, is in
# t_approval_pin_sessions.sh.)
run with_tty "wrong-pin-1" "$AL" approve "$ID"
expect_rc 2 "wrong PIN"
expect_out "wrong approver PIN (1 in a row" "wrong PIN message"
sleep 1.2

# A child of a requester approving its parent's request: refused, even
# with the right PIN on its own terminal.
api POST /v1/leases '{"secret":"pay-key","bind":true}' --child-approve "$PIN"
expect_out "202" "second request pending"
expect_out "child rc 2" "descendant approver"
expect_out "requester's own process tree" "descendant message"

# The right PIN from another terminal: approved; the command runs.
run with_tty "$PIN" "$AL" approve "$ID"
expect_rc 0 "approve with the PIN"
expect_out "approved request $ID" "approved"
wait $REQ
expect_eq "$?" 0 "requester exit"
expect_eq "$(tr -d ' ' <"$T_ROOT/req.out")" "${#V}" "the command got the value"

# `init` on a terminal asks for the PIN (twice); in a script it does not.
H2="$T_ROOT/home2"
run env AIRLOCK_HOME="$H2" python3 "$TYPER" "$PIN,$PIN" "$AL" init
expect_rc 0 "init on a terminal"
expect_out "approver PIN set" "init asked"
run env AIRLOCK_HOME="$H2" "$AL" approver status
expect_out "approver PIN: set" "init set it"
run env AIRLOCK_HOME="$T_ROOT/home3" "$AL" init </dev/null
expect_rc 0 "init in a script"
expect_err "no approver PIN yet" "init says how"
run env AIRLOCK_HOME="$T_ROOT/home3" "$AL" approver status
expect_out "not set" "no PIN from a script"

# The audit log: every refusal, the approval, no PIN and no value.
LOG="$AIRLOCK_HOME/audit.log"
for r in "approving needs the approver PIN" "no approver PIN is set" \
    "wrong approver PIN (1 in a row" \
    "requester's own session" "requester's own process tree"; do
	if grep -F '"event":"approve"' "$LOG" | grep -F '"outcome":"refused"' |
	    grep -qF -- "$r"; then pass; else fail "not audited: $r"; fi
done
if grep -F '"event":"approve"' "$LOG" | grep -qF '"outcome":"ok"'; then
	pass
else
	fail "the approval is not audited"
fi
grep -qF '"event":"approver_pin"' "$LOG" && pass || fail "set-pin not audited"
"$AL" audit verify >/dev/null 2>&1 || fail "audit verify"
for f in "$LOG" "$AIRLOCK_HOME/airlockd.log" "$ALL_OUTPUT" "$H2/approver.pin"; do
	if grep -qaF -- "$PIN" "$f"; then fail "the PIN is in $f"; else pass; fi
done
check_no_leak "$V" "$T_ROOT/req.out" "$T_ROOT/req.err"
done_testing
